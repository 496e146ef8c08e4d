// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's embedded store: SQLite through better-sqlite3 (one file, WAL, real
 * transactions, synchronous calls that keep the ingest path simple). Alerts are stored
 * idempotently by ID (`INSERT OR IGNORE` on a UNIQUE column), so a resend never duplicates;
 * every stored alert gets a monotonically increasing `seq`, the order the live tail follows and
 * resumes from. Captures are stored by alert ID the same way. Retention deletes by alert time.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { alertKeys, filterToSql, type AlertKeys } from "./filter.js";
import { CollectorError } from "./errors.js";
import { alertToJson, isoFromMs, priorityNumber, type Alert, type AlertFilter } from "../proto/index.js";

/** One alert as stored, with its store sequence number and filter keys. */
export interface StoredAlert {
  seq: number;
  alert: Alert;
  keys: AlertKeys;
}

/** A stored audit capture. */
export interface StoredCapture {
  alertId: string;
  data: Buffer;
  eventCount: number;
  containerId: string;
}

/** Result of inserting a batch. */
export interface InsertResult {
  /** Newly stored alerts, in seq order (what the live tail broadcasts). */
  inserted: StoredAlert[];
  /** Alerts that were already stored. */
  duplicates: number;
}

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
  -- tags joined and wrapped with U+001F (\x1fa\x1fb\x1f): matched with instr(), no per-tag rows to write
  tags TEXT NOT NULL,
  -- the alert as alertToJson shapes it (what queries and the tail send, as is)
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule, time);
CREATE INDEX IF NOT EXISTS alerts_ns_pod ON alerts(namespace, pod, time);
CREATE TABLE IF NOT EXISTS captures (
  alert_id TEXT PRIMARY KEY,
  data BLOB NOT NULL,
  event_count INTEGER NOT NULL,
  container_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL
);
`;

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

/** Where a page of {@link AlertStore.queryPage} starts: after this alert (keyset cursor). */
export interface PageCursor {
  /** The last alert's store position. */
  seq: number;
  /** Its normalized time (needed for time order). */
  time: string;
}

/** Options of {@link AlertStore.queryPage}. */
export interface PageOptions {
  /** `time`: alert time, then store order (queries); `seq`: store order (the tail's history). */
  order: "time" | "seq";
  /** Start after this alert; the first page when absent. */
  after?: PageCursor | undefined;
  /** Most alerts in the page. */
  limit: number;
  /** The page holds at most this many bytes of alert JSON, or one alert when that one alone is larger. */
  maxBytes: number;
}

/** One alert of a page: its position and its JSON as query results and the tail carry it. */
export interface PageRow {
  seq: number;
  /** Normalized alert time. */
  time: string;
  /** `alertToJson` of the alert, as text (sent as is: no parse, no re-serialization). */
  json: string;
}

/** One page of matching alerts. */
export interface AlertPage {
  rows: PageRow[];
  /** Bytes of the rows' JSON. */
  bytes: number;
  /** The cursor after the last row (the next page's `after`); undefined when the page is empty. */
  next: PageCursor | undefined;
  /** False when the store holds no further match (the page ended before its limits). */
  more: boolean;
}

/** Prepared page statements kept (one per distinct filter shape). */
const PAGE_STATEMENTS = 64;

/** Options of the store. */
export interface AlertStoreOptions {
  /** Directory holding `vigil.db`; `:memory:` for a throwaway store. */
  dataDir: string;
}

/** The SQLite alert store. */
export class AlertStore {
  readonly db: Database.Database;
  private readonly stInsert: Database.Statement;
  private readonly stCapture: Database.Statement;
  private readonly stSeqOf: Database.Statement;
  private readonly stMaxSeq: Database.Statement;
  private readonly stAfter: Database.Statement;
  private readonly stJson: Database.Statement;
  private readonly stSize: Database.Statement;
  private readonly insertTx: (alerts: readonly Alert[]) => InsertResult;
  private readonly pageStatements = new Map<string, Database.Statement>();

  constructor(opts: AlertStoreOptions) {
    let file = ":memory:";
    if (opts.dataDir !== ":memory:") {
      mkdirSync(opts.dataDir, { recursive: true });
      file = join(opts.dataDir, "vigil.db");
    }
    try {
      this.db = new Database(file);
      this.db.pragma("journal_mode = WAL");
      // WAL + NORMAL: a committed batch survives a process crash; a power loss may lose the
      // last transactions, which agents then resend (they only delete what was acknowledged
      // after the commit returned).
      this.db.pragma("synchronous = NORMAL");
      // fewer, larger checkpoints and a bigger page cache: ingest is write-heavy
      this.db.pragma("wal_autocheckpoint = 8192");
      this.db.pragma("cache_size = -65536");
      this.db.pragma("temp_store = MEMORY");
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new CollectorError("store_failed", `cannot open the store ${file}`, { cause: err });
    }
    this.stInsert = this.db.prepare(
      `INSERT OR IGNORE INTO alerts (id, time, rule, prio, hostname, namespace, pod, container_id, container_name, image, image_repo, received_ms, tags, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.stCapture = this.db.prepare("INSERT OR IGNORE INTO captures (alert_id, data, event_count, container_id, received_ms) VALUES (?, ?, ?, ?, ?)");
    this.stSeqOf = this.db.prepare("SELECT seq FROM alerts WHERE id = ?").pluck();
    this.stMaxSeq = this.db.prepare("SELECT COALESCE(MAX(seq), 0) FROM alerts").pluck();
    this.stAfter = this.db.prepare(
      "SELECT seq, json, namespace, pod, container_id, container_name, image, image_repo FROM alerts WHERE seq > ? ORDER BY seq LIMIT ?",
    );
    this.stJson = this.db.prepare("SELECT id, json FROM alerts WHERE seq = ?");
    this.stSize = this.db.prepare("SELECT octet_length(json) FROM alerts WHERE seq = ?").pluck();
    this.insertTx = this.db.transaction((alerts: readonly Alert[]): InsertResult => {
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
          a.tags.length > 0 ? `\x1f${a.tags.join("\x1f")}\x1f` : "",
          JSON.stringify(alertToJson(a)),
        );
        if (r.changes === 0) {
          duplicates++;
          continue;
        }
        inserted.push({ seq: Number(r.lastInsertRowid), alert: a, keys: k });
      }
      return { inserted, duplicates };
    });
  }

  /** Stores validated alerts in one transaction; already-stored IDs are skipped. */
  insert(alerts: readonly Alert[]): InsertResult {
    return this.insertTx(alerts);
  }

  /** Stores a capture; false when one was already stored for that alert. */
  insertCapture(c: StoredCapture): boolean {
    return this.stCapture.run(c.alertId, c.data, c.eventCount, c.containerId, Date.now()).changes > 0;
  }

  /** A stored capture by alert ID. */
  getCapture(alertId: string): StoredCapture | undefined {
    const r = this.db.prepare("SELECT alert_id, data, event_count, container_id FROM captures WHERE alert_id = ?").get(alertId) as
      | { alert_id: string; data: Buffer; event_count: number; container_id: string }
      | undefined;
    return r ? { alertId: r.alert_id, data: r.data, eventCount: r.event_count, containerId: r.container_id } : undefined;
  }

  /** Whether an alert with this ID is stored (a capture is kept only for a known alert). */
  hasAlert(id: string): boolean {
    return this.stSeqOf.get(id) !== undefined;
  }

  /** The seq of a stored alert ID (the tail resumes after it). */
  seqOf(id: string): number | undefined {
    const s = this.stSeqOf.get(id) as number | undefined;
    return s;
  }

  /** The highest seq stored (0 when empty). */
  maxSeq(): number {
    return this.stMaxSeq.get() as number;
  }

  /** Up to `limit` alerts with seq > `after`, in seq order. */
  after(after: number, limit: number): StoredAlert[] {
    return (this.stAfter.all(after, limit) as AlertRow[]).map(rowToStored);
  }

  /**
   * One page of the alerts matching a normalized filter, bounded by both count and bytes, so what
   * is held at once does not grow with the store or with the size of its alerts. Pages chain by a
   * keyset cursor ((time, seq) or seq, both indexed), so each page costs the same however deep.
   */
  queryPage(f: AlertFilter, o: PageOptions): AlertPage {
    const { where, params } = filterToSql(f);
    const w: string[] = where === "" ? [] : [where.slice("WHERE ".length)];
    if (o.after !== undefined) {
      if (o.order === "seq") {
        w.push("seq > ?");
        params.push(o.after.seq);
      } else {
        // a row value, so SQLite seeks the (time, rowid) index instead of scanning it from the start
        w.push("(time, seq) > (?, ?)");
        params.push(o.after.time, o.after.seq);
      }
    }
    // Keys first, rows after: when the plan needs a sort (a glob or a namespace alone picks an
    // index in another order), SQLite's sorter then holds small keys, not up to `limit` alert
    // bodies of up to a MiB each.
    const sql =
      `SELECT seq, time FROM alerts${w.length > 0 ? ` WHERE ${w.join(" AND ")}` : ""}` + ` ORDER BY ${o.order === "seq" ? "seq" : "time, seq"} LIMIT ?`;
    let st = this.pageStatements.get(sql);
    if (st === undefined) {
      if (this.pageStatements.size >= PAGE_STATEMENTS) this.pageStatements.clear();
      st = this.db.prepare(sql).raw();
      this.pageStatements.set(sql, st);
    }
    const keys = st.all(...params, o.limit) as [number, string][];
    const rows: PageRow[] = [];
    let bytes = 0;
    let next: PageCursor | undefined;
    let cut = false;
    for (let i = 0; i < keys.length; i++) {
      const [seq, time] = keys[i]!;
      // the size from the record header (octet_length does not read the text), so a row that
      // would pass the bound ends the page without being read
      const size = this.stSize.get(seq) as number | undefined;
      if (size === undefined) continue;
      if (rows.length > 0 && bytes + size > o.maxBytes) {
        cut = true;
        break;
      }
      const r = this.stJson.get(seq) as { id: string; json: string } | undefined;
      if (r === undefined) continue;
      // rows stored before the JSON became alertToJson's are converted on the way out
      const current = r.json.startsWith(`{"id":${JSON.stringify(r.id)},"uuid":`);
      const json = current ? r.json : JSON.stringify(alertToJson(alertOfJson(r.json)));
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
    return (this.db.prepare(sql).all(...params, limit) as AlertRow[]).map(rowToStored);
  }

  /** Number of stored alerts. */
  count(): number {
    return this.db.prepare("SELECT COUNT(*) FROM alerts").pluck().get() as number;
  }

  /** Deletes alerts (and their captures) older than `maxAgeMs` by alert time; returns how many. */
  applyRetention(maxAgeMs: number, now: number = Date.now()): number {
    const cutoff = isoFromMs(now - maxAgeMs);
    const tx = this.db.transaction(() => {
      this.db.prepare("DELETE FROM captures WHERE alert_id IN (SELECT id FROM alerts WHERE time < ?)").run(cutoff);
      this.db.prepare("DELETE FROM captures WHERE received_ms < ?").run(now - maxAgeMs);
      return this.db.prepare("DELETE FROM alerts WHERE time < ?").run(cutoff).changes;
    });
    return tx();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
