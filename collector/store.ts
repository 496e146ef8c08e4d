// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's embedded store: SQLite through Node's own `node:sqlite` (one file, WAL, real
 * transactions, synchronous calls that keep the ingest path simple; no native addon to build per
 * architecture). Alerts are stored
 * idempotently by ID (`INSERT OR IGNORE` on a UNIQUE column), so a resend never duplicates;
 * every stored alert gets a monotonically increasing `seq`, the order the live tail follows and
 * resumes from. Captures are stored by alert ID the same way. Retention deletes by alert time.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { alertKeys, filterToSql } from "./filter.js";
import { CollectorError } from "./errors.js";
import type { DeadLetter, ForwarderStore, Lease } from "./forward/state.js";
import { MAX_DEAD_LETTERS } from "./forward/state.js";
import type { AlertPage, AlertReader, InsertResult, PageCursor, PageOptions, PageRow, RetentionResult, StoredAlert, StoredCapture } from "./store-api.js";
import { SUMMARY_TOP, type SummaryCounts, type SummaryPlan, type TopEntry } from "./summary.js";

export type { AlertPage, InsertResult, PageCursor, PageOptions, PageRow, RetentionResult, StoredAlert, StoredCapture } from "./store-api.js";
import { alertToJson, isoFromMs, priorityNumber, type Alert, type AlertFilter } from "../proto/index.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  time TEXT NOT NULL,
  rule TEXT NOT NULL,
  prio INTEGER NOT NULL,
  hostname TEXT NOT NULL,
  namespace TEXT,
  pod TEXT,
  container_id TEXT,
  container_name TEXT,
  image TEXT,
  image_repo TEXT,
  received_ms INTEGER NOT NULL,
  -- the event source (syscall, k8s_audit, …): filtered on
  source TEXT NOT NULL DEFAULT '',
  -- tags joined and wrapped with U+001F (\x1fa\x1fb\x1f): matched with instr(), no per-tag rows to write
  tags TEXT NOT NULL,
  -- the alert as alertToJson shapes it (what queries and the tail send, as is)
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE INDEX IF NOT EXISTS alerts_ns_pod ON alerts(namespace, pod, time);
CREATE TABLE IF NOT EXISTS forwarder_cursors (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS forwarder_dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  forwarder TEXT NOT NULL,
  seq INTEGER NOT NULL,
  alert_id TEXT NOT NULL,
  error TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS forwarder_dead_letters_by ON forwarder_dead_letters(forwarder, id);
-- alerts retention deleted before the forwarder reached them
CREATE TABLE IF NOT EXISTS forwarder_expired (
  name TEXT PRIMARY KEY,
  alerts INTEGER NOT NULL,
  last_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS captures (
  alert_id TEXT PRIMARY KEY,
  data BLOB NOT NULL,
  event_count INTEGER NOT NULL,
  container_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL
);
`;

/**
 * What `GET /api/v1/summary` reads instead of the alerts over long ranges (kept by insert and
 * retention, in their transactions): alerts per minute, event source and priority (the timeline),
 * and per hour, source and priority the alerts of each rule, namespace, image and node (the top
 * lists; `kind` 0..3 in that order).
 */
const ROLLUP_SCHEMA = `
CREATE TABLE summary_minutes (
  minute INTEGER NOT NULL,
  source TEXT NOT NULL,
  prio INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (minute, source, prio)
) WITHOUT ROWID;
CREATE TABLE summary_hours (
  kind INTEGER NOT NULL,
  hour INTEGER NOT NULL,
  key TEXT NOT NULL,
  source TEXT NOT NULL,
  prio INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (kind, hour, key, source, prio)
) WITHOUT ROWID;
`;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** The columns of the top lists, by `summary_hours.kind`. */
const TOP_COLUMNS = ["rule", "namespace", "image", "hostname"] as const;
/** A stored time's epoch seconds in SQL (the rollups' minute and hour of existing rows). */
const SQL_SECONDS = "CAST(strftime('%s', substr(time, 1, 19)) AS INTEGER)";
/**
 * Shortest range the rollups answer: below it, reading the alerts themselves costs about what the
 * rollups' edges (partial minutes and hours read from the alerts) would.
 */
export const ROLLUP_MIN_RANGE_MS = 3 * HOUR_MS;

/** Epoch milliseconds of a normalized time (its sub-millisecond digits dropped). */
function msOfTime(t: string): number {
  return Date.parse(`${t.slice(0, 23)}Z`);
}

/** The filter keys the rollups can answer: the range, priority and event source. */
function rollupFilter(f: AlertFilter): boolean {
  for (const [k, v] of Object.entries(f)) if (v !== undefined && k !== "since" && k !== "until" && k !== "priority" && k !== "source") return false;
  return true;
}

interface AlertRow {
  seq: number;
  json: string;
  namespace: string | null;
  pod: string | null;
  container_id: string | null;
  container_name: string | null;
  image: string | null;
  image_repo: string | null;
}

/**
 * The Alert of a row. Rows hold the alert as query results and the tail show it (alertToJson:
 * Falco's shape plus `id`), so both send the text as stored; rows written before that hold the
 * Alert record itself (no `uuid`).
 */
function alertOfJson(json: string): Alert {
  const o = JSON.parse(json) as Alert & { uuid?: string };
  if (o.uuid === undefined) return o;
  const a: Alert = {
    id: o.id,
    time: o.time,
    rule: o.rule,
    priority: o.priority,
    source: o.source,
    hostname: o.hostname,
    output: o.output,
    output_fields: o.output_fields,
    tags: o.tags,
  };
  if (o.blocked === true) a.blocked = true;
  return a;
}

function rowToStored(r: AlertRow): StoredAlert {
  return {
    seq: r.seq,
    alert: alertOfJson(r.json),
    keys: {
      namespace: r.namespace,
      pod: r.pod,
      containerId: r.container_id,
      containerName: r.container_name,
      image: r.image,
      imageRepo: r.image_repo,
    },
  };
}

/**
 * Runs `fn` in one transaction: committed when it returns, rolled back when it throws (the
 * error goes on to the caller).
 */
function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN");
  try {
    const r = fn();
    db.exec("COMMIT");
    return r;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

/** A statement whose rows come back as arrays (`[col0, ...]`): for single values and keys. */
function arrays(st: StatementSync): StatementSync {
  st.setReturnArrays(true);
  return st;
}

/** The first column of a statement's first row (undefined when there is none). */
function first(st: StatementSync, ...params: (string | number)[]): unknown {
  return (st.get(...params) as unknown[] | undefined)?.[0];
}

/** Prepared page statements kept (one per distinct filter shape). */
const PAGE_STATEMENTS = 64;

/** Options of the store. */
export interface AlertStoreOptions {
  /** Directory holding `vigil.db`; `:memory:` for a throwaway store. */
  dataDir: string;
}

/** The SQLite alert store. */
export class AlertStore implements AlertReader, ForwarderStore {
  readonly db: DatabaseSync;
  private readonly stInsert: StatementSync;
  private readonly stCapture: StatementSync;
  private readonly stSeqOf: StatementSync;
  private readonly stCursorOf: StatementSync;
  private readonly stMaxSeq: StatementSync;
  private readonly stAfter: StatementSync;
  private readonly stJson: StatementSync;
  private readonly stSize: StatementSync;
  private readonly stCount: StatementSync;
  private readonly stMinute: StatementSync;
  private readonly stHour: StatementSync;
  private readonly pageStatements = new Map<string, StatementSync>();

  constructor(opts: AlertStoreOptions) {
    let file = ":memory:";
    if (opts.dataDir !== ":memory:") {
      mkdirSync(opts.dataDir, { recursive: true });
      file = join(opts.dataDir, "vigil.db");
    }
    try {
      this.db = new DatabaseSync(file);
      this.db.exec("PRAGMA journal_mode = WAL");
      // WAL + NORMAL: a committed batch survives a process crash; a power loss may lose the
      // last transactions, which agents then resend (they only delete what was acknowledged
      // after the commit returned).
      this.db.exec("PRAGMA synchronous = NORMAL");
      // fewer, larger checkpoints and a bigger page cache: ingest is write-heavy
      this.db.exec("PRAGMA wal_autocheckpoint = 8192");
      this.db.exec("PRAGMA cache_size = -65536");
      this.db.exec("PRAGMA temp_store = MEMORY");
      this.db.exec(SCHEMA);
      this.migrate();
    } catch (err) {
      throw new CollectorError("store_failed", `cannot open the store ${file}`, { cause: err });
    }
    this.stInsert = this.db.prepare(
      `INSERT OR IGNORE INTO alerts (id, time, rule, prio, hostname, namespace, pod, container_id, container_name, image, image_repo, received_ms, source, tags, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.stCapture = this.db.prepare("INSERT OR IGNORE INTO captures (alert_id, data, event_count, container_id, received_ms) VALUES (?, ?, ?, ?, ?)");
    this.stSeqOf = arrays(this.db.prepare("SELECT seq FROM alerts WHERE id = ?"));
    this.stCursorOf = arrays(this.db.prepare("SELECT seq, time FROM alerts WHERE id = ?"));
    this.stMaxSeq = arrays(this.db.prepare("SELECT COALESCE(MAX(seq), 0) FROM alerts"));
    this.stAfter = this.db.prepare(
      "SELECT seq, json, namespace, pod, container_id, container_name, image, image_repo FROM alerts WHERE seq > ? ORDER BY seq LIMIT ?",
    );
    this.stJson = arrays(this.db.prepare("SELECT id, json FROM alerts WHERE seq = ?"));
    this.stSize = arrays(this.db.prepare("SELECT octet_length(json) FROM alerts WHERE seq = ?"));
    this.stCount = arrays(this.db.prepare("SELECT COUNT(*) FROM alerts"));
    this.stMinute = this.db.prepare("INSERT INTO summary_minutes VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n");
    this.stHour = this.db.prepare("INSERT INTO summary_hours VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n");
  }

  /**
   * Brings a store written by an older collector up to this schema: the `source` column (filled
   * from the stored JSON, once) and its index. Tables and indexes that are simply new come from
   * SCHEMA's `IF NOT EXISTS`.
   */
  private migrate(): void {
    const cols = this.db.prepare("SELECT name FROM pragma_table_info('alerts')").all() as { name: string }[];
    if (!cols.some((c) => c.name === "source"))
      inTransaction(this.db, () => {
        this.db.exec("ALTER TABLE alerts ADD COLUMN source TEXT NOT NULL DEFAULT ''");
        this.db.exec("UPDATE alerts SET source = COALESCE(json_extract(json, '$.source'), '')");
      });
    this.db.exec("CREATE INDEX IF NOT EXISTS alerts_source ON alerts(source, time)");
    // The summary's columns in the indexes it reads, so a summary counted from the alerts (a
    // filter the rollups cannot answer, a short range) reads no alert row: by rule (replacing
    // (rule, time); seq kept after time, so a rule's pages still come in index order) and by time.
    this.db.exec("DROP INDEX IF EXISTS alerts_rule");
    this.db.exec("CREATE INDEX IF NOT EXISTS alerts_rule_summary ON alerts(rule, time, seq, prio, hostname, namespace, image)");
    this.db.exec("CREATE INDEX IF NOT EXISTS alerts_time_summary ON alerts(time, prio, rule, hostname, namespace, image)");
    if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'summary_minutes'").get() === undefined)
      inTransaction(this.db, () => {
        this.db.exec(ROLLUP_SCHEMA);
        // a store from before the rollups: counted once from its alerts
        this.db.exec(`INSERT INTO summary_minutes SELECT ${SQL_SECONDS} / 60, source, prio, COUNT(*) FROM alerts GROUP BY 1, 2, 3`);
        for (const [kind, col] of TOP_COLUMNS.entries())
          this.db.exec(
            `INSERT INTO summary_hours SELECT ${kind}, ${SQL_SECONDS} / 3600, ${col}, source, prio, COUNT(*) FROM alerts WHERE ${col} IS NOT NULL GROUP BY 2, 3, 4, 5`,
          );
      });
  }

  /** Adds the newly stored alerts to the rollups (in the insert's transaction). */
  private rollUp(alerts: readonly StoredAlert[]): void {
    const minutes = new Map<string, number>();
    const hours = new Map<string, number>();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    // a batch's alerts mostly share their minute: parsed once per run of them
    let lastPrefix = "";
    let minute = 0;
    for (const { alert: a, keys } of alerts) {
      const prefix = a.time.slice(0, 16);
      if (prefix !== lastPrefix) {
        lastPrefix = prefix;
        minute = msOfTime(`${prefix}:00.000`) / MINUTE_MS;
      }
      const tail = `\x1f${a.source}\x1f${priorityNumber(a.priority) ?? 7}`;
      bump(minutes, `${minute}${tail}`);
      const hour = `\x1f${Math.floor(minute / 60)}\x1f`;
      bump(hours, `0${hour}${a.rule}${tail}`);
      if (keys.namespace !== null) bump(hours, `1${hour}${keys.namespace}${tail}`);
      if (keys.image !== null) bump(hours, `2${hour}${keys.image}${tail}`);
      bump(hours, `3${hour}${a.hostname}${tail}`);
    }
    for (const [k, n] of minutes) {
      const [minute, source, prio] = k.split("\x1f") as [string, string, string];
      this.stMinute.run(Number(minute), source, Number(prio), n);
    }
    for (const [k, n] of hours) {
      // a key may hold U+001F itself: kind and hour first, source and priority last
      const parts = k.split("\x1f");
      const prio = parts.pop()!;
      const source = parts.pop()!;
      const [kind, hour] = parts.splice(0, 2) as [string, string];
      this.stHour.run(Number(kind), Number(hour), parts.join("\x1f"), source, Number(prio), n);
    }
  }

  /**
   * Counts again from the alerts the rollup rows of the minute and the hour holding `cutoff`
   * (retention deleted part of them; the rows of earlier minutes and hours go whole).
   */
  private rollDown(cutoffMs: number): void {
    const minute = Math.floor(cutoffMs / MINUTE_MS);
    const hour = Math.floor(cutoffMs / HOUR_MS);
    this.db.prepare("DELETE FROM summary_minutes WHERE minute <= ?").run(minute);
    this.db.prepare("DELETE FROM summary_hours WHERE hour <= ?").run(hour);
    this.db
      .prepare("INSERT INTO summary_minutes SELECT ?, source, prio, COUNT(*) FROM alerts WHERE time >= ? AND time < ? GROUP BY source, prio")
      .run(minute, isoFromMs(minute * MINUTE_MS), isoFromMs((minute + 1) * MINUTE_MS));
    for (const [kind, col] of TOP_COLUMNS.entries())
      this.db
        .prepare(
          `INSERT INTO summary_hours SELECT ${kind}, ?, ${col}, source, prio, COUNT(*) FROM alerts WHERE time >= ? AND time < ? AND ${col} IS NOT NULL GROUP BY ${col}, source, prio`,
        )
        .run(hour, isoFromMs(hour * HOUR_MS), isoFromMs((hour + 1) * HOUR_MS));
  }

  /** Stores validated alerts in one transaction; already-stored IDs are skipped. */
  insert(alerts: readonly Alert[]): InsertResult {
    return inTransaction(this.db, (): InsertResult => {
      const inserted: StoredAlert[] = [];
      let duplicates = 0;
      const now = Date.now();
      for (const a of alerts) {
        const k = alertKeys(a);
        const r = this.stInsert.run(
          a.id,
          a.time,
          a.rule,
          priorityNumber(a.priority) ?? 7,
          a.hostname,
          k.namespace,
          k.pod,
          k.containerId,
          k.containerName,
          k.image,
          k.imageRepo,
          now,
          a.source,
          a.tags.length > 0 ? `\x1f${a.tags.join("\x1f")}\x1f` : "",
          JSON.stringify(alertToJson(a)),
        );
        if (r.changes === 0) {
          duplicates++;
          continue;
        }
        inserted.push({ seq: Number(r.lastInsertRowid), alert: a, keys: k });
      }
      this.rollUp(inserted);
      return { inserted, duplicates };
    });
  }

  /** Stores a capture; false when one was already stored for that alert. */
  insertCapture(c: StoredCapture): boolean {
    return this.stCapture.run(c.alertId, c.data, c.eventCount, c.containerId, Date.now()).changes > 0;
  }

  /** A stored capture by alert ID. */
  getCapture(alertId: string): StoredCapture | undefined {
    const r = this.db.prepare("SELECT alert_id, data, event_count, container_id FROM captures WHERE alert_id = ?").get(alertId) as
      | { alert_id: string; data: Uint8Array; event_count: number; container_id: string }
      | undefined;
    if (r === undefined) return undefined;
    // node:sqlite returns a BLOB as a Uint8Array: the same bytes seen as a Buffer, not copied
    const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    return { alertId: r.alert_id, data, eventCount: r.event_count, containerId: r.container_id };
  }

  /** Whether an alert with this ID is stored (a capture is kept only for a known alert). */
  hasAlert(id: string): boolean {
    return this.stSeqOf.get(id) !== undefined;
  }

  /** A stored alert's JSON (as queries send it) by ID. */
  getAlert(id: string): string | undefined {
    const r = this.db.prepare("SELECT json FROM alerts WHERE id = ?").get(id) as { json: string } | undefined;
    if (r === undefined) return undefined;
    return r.json.startsWith(`{"id":${JSON.stringify(id)},"uuid":`) ? r.json : JSON.stringify(alertToJson(alertOfJson(r.json)));
  }

  /** The seq of a stored alert ID (the tail resumes after it). */
  seqOf(id: string): number | undefined {
    return first(this.stSeqOf, id) as number | undefined;
  }

  /** Where a page continuing past a stored alert starts (its seq and time); undefined for an unknown ID. */
  cursorOf(id: string): PageCursor | undefined {
    const r = this.stCursorOf.get(id) as [number, string] | undefined;
    return r === undefined ? undefined : { seq: r[0], time: r[1] };
  }

  /** The highest seq stored (0 when empty). */
  maxSeq(): number {
    return first(this.stMaxSeq) as number;
  }

  /** Alerts with after < seq <= upTo, in seq order, at most `limit` (forwarders). */
  range(after: number, upTo: number, limit: number): StoredAlert[] {
    return (
      this.db
        .prepare(
          "SELECT seq, json, namespace, pod, container_id, container_name, image, image_repo FROM alerts WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        )
        .all(after, upTo, limit) as unknown as AlertRow[]
    ).map(rowToStored);
  }

  /** How many alerts have after < seq <= upTo. */
  countRange(after: number, upTo: number): number {
    return first(arrays(this.db.prepare("SELECT COUNT(*) FROM alerts WHERE seq > ? AND seq <= ?")), after, upTo) as number;
  }

  getCursor(name: string): number | undefined {
    return first(arrays(this.db.prepare("SELECT seq FROM forwarder_cursors WHERE name = ?")), name) as number | undefined;
  }

  setCursor(name: string, seq: number): void {
    this.db
      .prepare(
        "INSERT INTO forwarder_cursors (name, seq, updated_ms) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated_ms = excluded.updated_ms",
      )
      .run(name, seq, Date.now());
  }

  addDeadLetter(d: DeadLetter): void {
    inTransaction(this.db, () => {
      this.db
        .prepare("INSERT INTO forwarder_dead_letters (forwarder, seq, alert_id, error, at_ms) VALUES (?, ?, ?, ?, ?)")
        .run(d.forwarder, d.seq, d.alertId, d.error.slice(0, 2000), d.atMs);
      // bounded: the oldest beyond the cap go
      this.db
        .prepare(
          "DELETE FROM forwarder_dead_letters WHERE forwarder = ? AND id <= (SELECT id FROM forwarder_dead_letters WHERE forwarder = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        )
        .run(d.forwarder, d.forwarder, MAX_DEAD_LETTERS);
    });
  }

  deadLetters(name: string, limit: number): DeadLetter[] {
    const rows = this.db
      .prepare("SELECT forwarder, seq, alert_id, error, at_ms FROM forwarder_dead_letters WHERE forwarder = ? ORDER BY id DESC LIMIT ?")
      .all(name, limit) as { forwarder: string; seq: number; alert_id: string; error: string; at_ms: number }[];
    return rows.map((r) => ({ forwarder: r.forwarder, seq: r.seq, alertId: r.alert_id, error: r.error, atMs: r.at_ms }));
  }

  deadLetterCount(name: string): number {
    return first(arrays(this.db.prepare("SELECT COUNT(*) FROM forwarder_dead_letters WHERE forwarder = ?")), name) as number;
  }

  expiredCount(name: string): number {
    return (first(arrays(this.db.prepare("SELECT alerts FROM forwarder_expired WHERE name = ?")), name) as number | undefined) ?? 0;
  }

  /** One collector owns its SQLite store: the lease is always granted. */
  tryLease(_name: string): Lease {
    return { lost: false, release: () => undefined };
  }

  /** Up to `limit` alerts with seq > `after`, in seq order. */
  after(after: number, limit: number): StoredAlert[] {
    return (this.stAfter.all(after, limit) as unknown as AlertRow[]).map(rowToStored);
  }

  /**
   * One page of the alerts matching a normalized filter, bounded by both count and bytes, so what
   * is held at once does not grow with the store or with the size of its alerts. Pages chain by a
   * keyset cursor ((time, seq) or seq, both indexed), so each page costs the same however deep.
   */
  /**
   * The counts of `GET /api/v1/summary` (summary.ts): per bucket and priority, and the top keys,
   * over the alerts matching the plan's filter (whose time bounds are the range). The bucket of
   * an alert: its time in epoch milliseconds (seconds from the normalized string's date and time,
   * then its milliseconds), less `from`, divided by the bucket width. Ranges of
   * {@link ROLLUP_MIN_RANGE_MS} or more filtered on priority and source alone (the console's first
   * view) come from the rollups, the rest from the alerts: the same counts either way.
   */
  summary(plan: SummaryPlan): SummaryCounts {
    return rollupFilter(plan.filter) && plan.toMs - plan.fromMs >= ROLLUP_MIN_RANGE_MS ? this.summaryByRollup(plan) : this.summaryByRows(plan);
  }

  /**
   * {@link summary} from the rollups (filters on range, priority and source only): the cost grows
   * with the minutes and hours of the range and the keys seen in them, not with the alerts. The
   * minutes and hours the range or a bucket boundary cuts are completed from the alerts: for an
   * instant t, P(t) = the alerts from the start of t's minute (hour) to t; the alerts in [a, b) =
   * the rollup over the minutes from a's to b's (b's excluded) - P(a) + P(b).
   */
  summaryByRollup(plan: SummaryPlan): SummaryCounts {
    const { where, params } = filterToSql({ priority: plan.filter.priority, source: plan.filter.source });
    const and = where === "" ? "" : ` AND ${where.slice("WHERE ".length)}`;
    const n = plan.buckets;
    const bounds: number[] = [];
    for (let i = 0; i <= n; i++) bounds.push(Math.min(plan.toMs, plan.fromMs + i * plan.bucketMs));
    const minuteOf = bounds.map((t) => Math.floor(t / MINUTE_MS));
    const cells = new Map<number, number>();
    const add = (b: number, prio: number, k: number) => cells.set(b * 8 + prio, (cells.get(b * 8 + prio) ?? 0) + k);
    const rows = arrays(
      this.db.prepare(`SELECT minute, prio, SUM(n) FROM summary_minutes WHERE minute >= ? AND minute < ?${and} GROUP BY minute, prio ORDER BY minute`),
    ).all(minuteOf[0]!, minuteOf[n]!, ...params) as unknown as [number, number, number][];
    let b = 0;
    for (const [minute, prio, k] of rows) {
      while (b + 1 < n && minuteOf[b + 1]! <= minute) b++;
      add(b, prio, k);
    }
    const partial = arrays(this.db.prepare(`SELECT prio, COUNT(*) FROM alerts WHERE time >= ? AND time < ?${and} GROUP BY prio`));
    for (let i = 0; i <= n; i++) {
      const start = minuteOf[i]! * MINUTE_MS;
      if (start === bounds[i]) continue;
      for (const [prio, k] of partial.all(isoFromMs(start), isoFromMs(bounds[i]!), ...params) as unknown as [number, number][]) {
        if (i < n) add(i, prio, -k);
        if (i > 0) add(i - 1, prio, k);
      }
    }
    const hFrom = Math.floor(plan.fromMs / HOUR_MS);
    const hTo = Math.floor(plan.toMs / HOUR_MS);
    const top = (kind: number): TopEntry[] => {
      const col = TOP_COLUMNS[kind]!;
      const raw = (sign: number) => `SELECT ${col} AS key, ${sign} AS n FROM alerts WHERE time >= ? AND time < ? AND ${col} IS NOT NULL${and}`;
      return this.db
        .prepare(
          `SELECT key, SUM(n) AS count FROM (SELECT key, n FROM summary_hours WHERE kind = ? AND hour >= ? AND hour < ?${and}` +
            ` UNION ALL ${raw(-1)} UNION ALL ${raw(1)}) GROUP BY key HAVING count > 0 ORDER BY count DESC, key LIMIT ?`,
        )
        .all(
          kind,
          hFrom,
          hTo,
          ...params,
          isoFromMs(hFrom * HOUR_MS),
          isoFromMs(plan.fromMs),
          ...params,
          isoFromMs(hTo * HOUR_MS),
          isoFromMs(plan.toMs),
          ...params,
          SUMMARY_TOP,
        ) as unknown as TopEntry[];
    };
    return {
      cells: [...cells].filter(([, k]) => k !== 0).map(([key, k]) => ({ b: Math.floor(key / 8), prio: key % 8, n: k })),
      top: { rules: top(0), namespaces: top(1), images: top(2), nodes: top(3) },
    };
  }

  /** {@link summary} from the alerts themselves (any filter). */
  summaryByRows(plan: SummaryPlan): SummaryCounts {
    const { where, params } = filterToSql(plan.filter);
    const ms = "(CAST(strftime('%s', substr(time, 1, 19)) AS INTEGER) * 1000 + CAST(substr(time, 21, 3) AS INTEGER))";
    const cells = this.db
      .prepare(`SELECT (${ms} - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS b, prio, COUNT(*) AS n FROM alerts ${where} GROUP BY b, prio`)
      .all(plan.fromMs, plan.bucketMs, ...params) as unknown as { b: number; prio: number; n: number }[];
    const top = (col: string): TopEntry[] =>
      this.db
        .prepare(
          `SELECT ${col} AS key, COUNT(*) AS count FROM alerts ${where}${where === "" ? " WHERE" : " AND"} ${col} IS NOT NULL GROUP BY ${col} ORDER BY count DESC, key LIMIT ?`,
        )
        .all(...params, SUMMARY_TOP) as unknown as TopEntry[];
    return {
      cells: cells.map((c) => ({ b: Number(c.b), prio: Number(c.prio), n: Number(c.n) })),
      top: { rules: top("rule"), namespaces: top("namespace"), images: top("image"), nodes: top("hostname") },
    };
  }

  queryPage(f: AlertFilter, o: PageOptions): AlertPage {
    const { where, params } = filterToSql(f);
    const w: string[] = where === "" ? [] : [where.slice("WHERE ".length)];
    if (o.upTo !== undefined) {
      w.push("seq <= ?");
      params.push(o.upTo);
    }
    if (o.after !== undefined) {
      if (o.order === "seq") {
        w.push("seq > ?");
        params.push(o.after.seq);
      } else {
        // a row value, so SQLite seeks the (time, rowid) index instead of scanning it from the start
        w.push(o.desc === true ? "(time, seq) < (?, ?)" : "(time, seq) > (?, ?)");
        params.push(o.after.time, o.after.seq);
      }
    }
    const order = o.order === "seq" ? "seq" : o.desc === true ? "time DESC, seq DESC" : "time, seq";
    // Keys first, rows after: when the plan needs a sort (a glob or a namespace alone picks an
    // index in another order), SQLite's sorter then holds small keys, not up to `limit` alert
    // bodies of up to a MiB each.
    const sql = `SELECT seq, time FROM alerts${w.length > 0 ? ` WHERE ${w.join(" AND ")}` : ""}` + ` ORDER BY ${order} LIMIT ?`;
    let st = this.pageStatements.get(sql);
    if (st === undefined) {
      if (this.pageStatements.size >= PAGE_STATEMENTS) this.pageStatements.clear();
      st = arrays(this.db.prepare(sql));
      this.pageStatements.set(sql, st);
    }
    const keys = st.all(...params, o.limit) as unknown as [number, string][];
    const rows: PageRow[] = [];
    let bytes = 0;
    let next: PageCursor | undefined;
    let cut = false;
    for (let i = 0; i < keys.length; i++) {
      const [seq, time] = keys[i]!;
      // the size from the record header (octet_length does not read the text), so a row that
      // would pass the bound ends the page without being read
      const size = first(this.stSize, seq) as number | undefined;
      if (size === undefined) continue;
      if (rows.length > 0 && bytes + size > o.maxBytes) {
        cut = true;
        break;
      }
      const r = this.stJson.get(seq) as [id: string, json: string] | undefined;
      if (r === undefined) continue;
      const [id, stored] = r;
      // rows stored before the JSON became alertToJson's are converted on the way out
      const current = stored.startsWith(`{"id":${JSON.stringify(id)},"uuid":`);
      const json = current ? stored : JSON.stringify(alertToJson(alertOfJson(stored)));
      rows.push({ seq, time, json });
      bytes += current ? size : Buffer.byteLength(json);
      next = { seq, time };
    }
    return { rows, bytes, next, more: cut || keys.length >= o.limit };
  }

  /**
   * Alerts matching a normalized filter, in alert time order (oldest first), at most `limit`;
   * with `afterSeq`, only those stored after it, in store order. Holds the whole result: for
   * small results and tests; the query API and the tail use {@link queryPage}.
   */
  query(f: AlertFilter, limit: number, afterSeq?: number): StoredAlert[] {
    const { where, params } = filterToSql(f);
    let w = where;
    if (afterSeq !== undefined) {
      w = w === "" ? "WHERE seq > ?" : `${w} AND seq > ?`;
      params.push(afterSeq);
    }
    const order = afterSeq !== undefined ? "seq" : "time, seq";
    const sql = `SELECT seq, json, namespace, pod, container_id, container_name, image, image_repo FROM alerts ${w} ORDER BY ${order} LIMIT ?`;
    return (this.db.prepare(sql).all(...params, limit) as unknown as AlertRow[]).map(rowToStored);
  }

  /** Number of stored alerts. */
  count(): number {
    return first(this.stCount) as number;
  }

  /**
   * Deletes alerts (and their captures) older than `maxAgeMs` by alert time; returns how many,
   * and per forwarder those still after its cursor (added to its expired count, same transaction).
   */
  applyRetention(maxAgeMs: number, now: number = Date.now()): RetentionResult {
    const cutoff = isoFromMs(now - maxAgeMs);
    return inTransaction(this.db, () => {
      const unsent = (
        this.db
          .prepare(
            "SELECT c.name AS forwarder, (SELECT COUNT(*) FROM alerts a WHERE a.time < ? AND a.seq > c.seq) AS alerts FROM forwarder_cursors c ORDER BY c.name",
          )
          .all(cutoff) as { forwarder: string; alerts: number }[]
      ).filter((u) => u.alerts > 0);
      const record = this.db.prepare(
        "INSERT INTO forwarder_expired (name, alerts, last_ms) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET alerts = alerts + excluded.alerts, last_ms = excluded.last_ms",
      );
      for (const u of unsent) record.run(u.forwarder, u.alerts, now);
      this.db.prepare("DELETE FROM captures WHERE alert_id IN (SELECT id FROM alerts WHERE time < ?)").run(cutoff);
      this.db.prepare("DELETE FROM captures WHERE received_ms < ?").run(now - maxAgeMs);
      const removed = Number(this.db.prepare("DELETE FROM alerts WHERE time < ?").run(cutoff).changes);
      if (removed > 0) this.rollDown(now - maxAgeMs);
      return { removed, unsent: unsent.map((u) => ({ forwarder: u.forwarder, alerts: Number(u.alerts) })) };
    });
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
