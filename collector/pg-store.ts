// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet's alert store: PostgreSQL through `pg`, shared by any number of stateless collectors.
 *
 * - Schema: versioned migrations (`vigil_schema_migrations`), each applied once in a transaction
 *   while holding a session advisory lock, so replicas starting together take turns.
 * - `alerts` is partitioned by RANGE on the alert time, one partition a day (`alerts_pYYYYMMDD`)
 *   plus a DEFAULT partition for whatever falls outside the premade days (an agent's clock may
 *   say 1970 or 9999). A day partition is created as a plain table and ATTACHed (a SHARE UPDATE
 *   EXCLUSIVE lock on `alerts`: queries and inserts into other days go on); rows of that day
 *   already in the default partition move into it in the same transaction.
 * - Idempotence across partitions: `alert_ids` (not partitioned, primary key on the ID) decides,
 *   with `INSERT … ON CONFLICT DO NOTHING RETURNING id`, which alerts of a batch are new; only
 *   those go into `alerts`, in the same statement.
 * - `seq` is the JetStream stream sequence of the alert's message, given by the caller.
 * - Time: the normalized time string (`…SS.nnnnnnnnnZ`) is kept as `time` (timestamptz, to the
 *   microsecond: the partition key) plus `time_ns` (the nanoseconds beyond), so ordering and time
 *   filters match the SQLite store exactly (see pg-filter.ts).
 * - The alert JSON is stored as sent (`JSON.stringify(alertToJson(alert))`) with its byte length,
 *   so a page is bounded by bytes before any text is read.
 */
import pg from "pg";
import type { Logger } from "pino";
import { CollectorError } from "./errors.js";
import { alertKeys } from "./filter.js";
import { addFilterConditions, PgConditions, pgTimeText, type PgTime, pgText, pgTextOrNull, splitTime } from "./pg-filter.js";
import { MAX_DEAD_LETTERS, type DeadLetter, type ForwarderStore, type Lease } from "./forward/state.js";
import type { AlertPage, AlertReader, InsertResult, PageCursor, PageOptions, PageRow, RetentionResult, StoredAlert, StoredCapture } from "./store-api.js";
import { SUMMARY_TOP, type SummaryCounts, type SummaryPlan } from "./summary.js";
import { type Alert, type AlertFilter, alertToJson, isAlertId, isoFromMs, MAX_CAPTURE_CHUNKS, priorityNumber } from "../proto/index.js";

/** Options of {@link PgAlertStore.open}. */
export interface PgStoreOptions {
  /** `postgres://USER@HOST:PORT/DB[?sslmode=…]`; a password here works but belongs in `password`. */
  url: string;
  /** The role's password (from a mounted Secret); when absent, pg's defaults (PGPASSWORD, ~/.pgpass). */
  password?: string | undefined;
  /** Connections in the pool. Default 4. */
  poolSize?: number;
  logger: Logger;
  /** Alert retention: the days from `now - retentionMs` to the day after tomorrow get partitions. Default 7 days. */
  retentionMs?: number;
  /** How long opening a connection may take. Default 10 s. */
  connectTimeoutMs?: number;
}

/** One chunk of a capture as it travelled on the stream (proto/fleet.ts). */
export interface CaptureChunk {
  alertId: string;
  /** 0-based. */
  index: number;
  /** Chunks of the whole capture. */
  count: number;
  data: Buffer;
  eventCount: number;
  containerId: string;
}

/** An alert delivered from the stream with its stream sequence. */
export interface SeqAlert {
  seq: number;
  alert: Alert;
}

/** What {@link PgAlertStore.storeBatch} did. */
export interface StoreBatchResult extends InsertResult {
  /** Capture chunks that were new. */
  chunksStored: number;
}

const DAY_MS = 86_400_000;
/** Advisory lock keys (two int4: "vigl" and the purpose). */
const LOCK_NS = 0x7669676c;
const LOCK_MIGRATE = 1;
const LOCK_PARTITIONS = 2;
const LOCK_RETENTION = 3;
/** How long partition DDL may wait for a table lock before giving up (retried on the next call). */
const DDL_LOCK_TIMEOUT = "10s";

/** Versioned migrations, applied in order, each once. Append only: a released one never changes. */
const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "alerts partitioned by day, alert_ids, capture_chunks",
    sql: `
CREATE TABLE alert_ids (
  id text COLLATE "C" PRIMARY KEY,
  time timestamptz NOT NULL,
  seq bigint NOT NULL
);
CREATE TABLE alerts (
  seq bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  -- the alert time to the microsecond, and the nanoseconds beyond it (0..999)
  time timestamptz NOT NULL,
  time_ns smallint NOT NULL,
  rule text COLLATE "C" NOT NULL,
  prio smallint NOT NULL,
  hostname text COLLATE "C" NOT NULL,
  namespace text COLLATE "C",
  pod text COLLATE "C",
  container_id text COLLATE "C",
  container_name text COLLATE "C",
  image text COLLATE "C",
  image_repo text COLLATE "C",
  received timestamptz NOT NULL,
  tags text[] COLLATE "C" NOT NULL,
  -- octet_length(json), known before the text is read
  json_bytes integer NOT NULL,
  -- alertToJson of the alert, as query results and the tail send it
  json text NOT NULL
) PARTITION BY RANGE (time);
CREATE TABLE alerts_default PARTITION OF alerts DEFAULT;
CREATE INDEX alerts_time ON alerts (time, time_ns, seq);
CREATE INDEX alerts_seq ON alerts (seq);
CREATE INDEX alerts_rule ON alerts (rule, time);
CREATE INDEX alerts_ns_pod ON alerts (namespace, pod, time);
CREATE INDEX alerts_hostname ON alerts (hostname, time);
CREATE INDEX alerts_container_id ON alerts (container_id);
CREATE INDEX alerts_container_name ON alerts (container_name);
CREATE INDEX alerts_image ON alerts (image);
CREATE INDEX alerts_image_repo ON alerts (image_repo);
CREATE INDEX alerts_tags ON alerts USING gin (tags);
CREATE TABLE capture_chunks (
  alert_id text COLLATE "C" NOT NULL,
  idx integer NOT NULL,
  count integer NOT NULL,
  data bytea NOT NULL,
  event_count integer NOT NULL,
  container_id text NOT NULL,
  received timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (alert_id, idx)
);
CREATE INDEX capture_chunks_received ON capture_chunks (received);
`,
  },
  {
    version: 2,
    name: "forwarder cursors and dead letters",
    sql: `
CREATE TABLE forwarder_cursors (
  name text COLLATE "C" PRIMARY KEY,
  seq bigint NOT NULL,
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE forwarder_dead_letters (
  id bigserial PRIMARY KEY,
  forwarder text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  alert_id text COLLATE "C" NOT NULL,
  error text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX forwarder_dead_letters_by ON forwarder_dead_letters (forwarder, id);
`,
  },
  {
    version: 3,
    name: "alerts retention deleted before a forwarder reached them",
    sql: `
CREATE TABLE forwarder_expired (
  name text COLLATE "C" PRIMARY KEY,
  alerts bigint NOT NULL,
  last timestamptz NOT NULL
);
`,
  },
  {
    version: 4,
    name: "alerts.source (the event source, filtered on)",
    sql: `
ALTER TABLE alerts ADD COLUMN source text COLLATE "C" NOT NULL DEFAULT '';
-- an escaped U+0000 (which text cannot hold) read as U+FFFD first, as pgText maps it
UPDATE alerts SET source = coalesce(replace(json, '\\u0000', '\\ufffd')::json->>'source', '');
CREATE INDEX alerts_source ON alerts (source, time);
`,
  },
];

/** A forwarder and the alerts of one deletion it had not reached (count as text or number). */
type UnsentRow = { forwarder: string; alerts: number | string };

/**
 * Counts, per forwarder cursor, the rows of `doomed` (a CTE or table with a seq column, about to
 * be deleted) after the cursor, adds them to forwarder_expired, and answers them.
 */
function expireSql(doomed: string): string {
  return `u AS (SELECT c.name AS forwarder, count(*) AS alerts FROM forwarder_cursors c JOIN ${doomed} x ON x.seq > c.seq GROUP BY c.name),
  rec AS (INSERT INTO forwarder_expired (name, alerts, last) SELECT forwarder, alerts, now() FROM u
    ON CONFLICT (name) DO UPDATE SET alerts = forwarder_expired.alerts + excluded.alerts, last = excluded.last)`;
}

/** The batch insert: new IDs claimed in alert_ids, only those rows written to alerts. */
const INSERT_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::smallint[], $5::text[], $6::smallint[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int[], $15::int[], $16::int[], $17::text[],
    $19::text[])
    AS t(seq, id, time, time_ns, rule, prio, hostname, namespace, pod, container_id, container_name, image, image_repo,
      tag_lo, tag_hi, json_bytes, json, source)
), fresh AS (
  INSERT INTO alert_ids (id, time, seq) SELECT id, time, seq FROM input ON CONFLICT (id) DO NOTHING RETURNING id
)
INSERT INTO alerts (seq, id, time, time_ns, rule, prio, hostname, namespace, pod, container_id, container_name, image,
  image_repo, received, tags, json_bytes, json, source)
SELECT i.seq, i.id, i.time, i.time_ns, i.rule, i.prio, i.hostname, i.namespace, i.pod, i.container_id, i.container_name,
  i.image, i.image_repo, now(), ($18::text[])[i.tag_lo:i.tag_hi], i.json_bytes, i.json, i.source
FROM input i JOIN fresh f ON f.id = i.id
RETURNING id`;

const INSERT_CHUNKS_SQL = `
INSERT INTO capture_chunks (alert_id, idx, count, data, event_count, container_id)
SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::bytea[], $5::int[], $6::text[])
ON CONFLICT (alert_id, idx) DO NOTHING
RETURNING idx`;

/** int8 (counts, sums, seq) as a JS number: stream sequences and counts stay far below 2^53. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 && format !== "binary"
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** The URL without password or query: what messages and logs may show. */
function redactUrl(u: URL): string {
  let name = u.username;
  try {
    name = decodeURIComponent(name);
  } catch {
    // a malformed escape is shown as written
  }
  const user = name === "" ? "" : `${name}@`;
  return `${u.protocol}//${user}${u.host}${u.pathname}`;
}

/** A driver error's text: the message, or the code of a socket error (AggregateError has none). */
function errText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errText(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const msg = err.message !== "" ? err.message : typeof code === "string" ? code : err.name;
    return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? `${msg} (SQLSTATE ${code})` : msg;
  }
  return String(err);
}

/** Day start (epoch ms, UTC) of an instant. */
function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** `alerts_pYYYYMMDD` of a day start. */
function partitionName(day: number): string {
  return `alerts_p${new Date(day).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

const PARTITION_RE = /^alerts_p(\d{4})(\d{2})(\d{2})$/;
/** The day start of a partition name (undefined when it is not one of ours). */
function partitionDay(name: string): number | undefined {
  const m = PARTITION_RE.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return partitionName(ms) === name ? ms : undefined;
}

/** Day bounds as timestamptz literals (built from numbers only: safe inside DDL). */
function dayBounds(day: number): { lo: string; hi: string } {
  return { lo: new Date(day).toISOString(), hi: new Date(day + DAY_MS).toISOString() };
}

/** The Alert of a stored JSON (alertToJson's shape: Falco's keys plus `id`). */
function alertOfJson(json: string): Alert {
  const o = JSON.parse(json) as Alert;
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

function storedOf(seq: number, json: string): StoredAlert {
  const alert = alertOfJson(json);
  return { seq, alert, keys: alertKeys(alert) };
}

/** The columns of a batch, one array each (unnest turns them back into rows). */
function batchColumns(items: readonly SeqAlert[]): unknown[] {
  const n = items.length;
  const seq: number[] = new Array(n);
  const id: string[] = new Array(n);
  const time: string[] = new Array(n);
  const timeNs: number[] = new Array(n);
  const rule: string[] = new Array(n);
  const prio: number[] = new Array(n);
  const host: string[] = new Array(n);
  const ns: (string | null)[] = new Array(n);
  const pod: (string | null)[] = new Array(n);
  const cid: (string | null)[] = new Array(n);
  const cname: (string | null)[] = new Array(n);
  const image: (string | null)[] = new Array(n);
  const repo: (string | null)[] = new Array(n);
  const tagLo: number[] = new Array(n);
  const tagHi: number[] = new Array(n);
  const bytes: number[] = new Array(n);
  const json: string[] = new Array(n);
  const source: string[] = new Array(n);
  // every row's tags in one flat array; a row takes the slice [lo:hi] (1-based, empty when lo > hi)
  const tags: string[] = [];
  for (let i = 0; i < n; i++) {
    const { seq: s, alert: a } = items[i]!;
    let t: PgTime;
    try {
      t = splitTime(a.time);
    } catch {
      throw new CollectorError("invalid_alert", `alert "${String(a.id).slice(0, 64)}": bad time (validateAlert first)`);
    }
    const k = alertKeys(a);
    const j = JSON.stringify(alertToJson(a));
    seq[i] = s;
    id[i] = a.id;
    time[i] = t.us;
    timeNs[i] = t.ns;
    rule[i] = pgText(a.rule);
    prio[i] = priorityNumber(a.priority) ?? 7;
    host[i] = pgText(a.hostname);
    ns[i] = pgTextOrNull(k.namespace);
    pod[i] = pgTextOrNull(k.pod);
    cid[i] = pgTextOrNull(k.containerId);
    cname[i] = pgTextOrNull(k.containerName);
    image[i] = pgTextOrNull(k.image);
    repo[i] = pgTextOrNull(k.imageRepo);
    tagLo[i] = tags.length + 1;
    for (const tag of a.tags) tags.push(pgText(tag));
    tagHi[i] = tags.length;
    bytes[i] = Buffer.byteLength(j);
    json[i] = j;
    source[i] = pgText(a.source);
  }
  return [seq, id, time, timeNs, rule, prio, host, ns, pod, cid, cname, image, repo, tagLo, tagHi, bytes, json, tags, source];
}

/** Checks chunks (a caller's bug otherwise); throws CollectorError("malformed"). */
function checkChunks(chunks: readonly CaptureChunk[]): void {
  for (const c of chunks) {
    const ok =
      typeof c.alertId === "string" &&
      isAlertId(c.alertId) &&
      Number.isInteger(c.count) &&
      c.count >= 1 &&
      c.count <= MAX_CAPTURE_CHUNKS &&
      Number.isInteger(c.index) &&
      c.index >= 0 &&
      c.index < c.count &&
      Buffer.isBuffer(c.data) &&
      Number.isInteger(c.eventCount) &&
      c.eventCount >= 0 &&
      c.eventCount <= 0x7fffffff &&
      typeof c.containerId === "string";
    if (!ok)
      throw new CollectorError(
        "malformed",
        `bad capture chunk ${String(c.index)}/${String(c.count)} of alert "${String(c.alertId).slice(0, 64)}" (index < count ≤ ${MAX_CAPTURE_CHUNKS})`,
      );
  }
}

/** The PostgreSQL alert store. */
export class PgAlertStore implements AlertReader, ForwarderStore {
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly retentionMs: number,
    /** The URL without its password: for messages. */
    readonly target: string,
  ) {}

  /**
   * Connects, runs the migrations not applied yet and premakes the day partitions (a failure
   * there is logged, not fatal: the default partition takes every day). Throws
   * CollectorError("store_failed") with the reason (the URL in it never carries the password).
   */
  static async open(opts: PgStoreOptions): Promise<PgAlertStore> {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      // not `{ cause }`: URL's error carries the input, which may hold a password
      throw new CollectorError("store_failed", "bad store URL: expected postgres://USER@HOST:PORT/DB");
    }
    if ((u.protocol !== "postgres:" && u.protocol !== "postgresql:") || (u.hostname === "" && !u.searchParams.has("host")))
      throw new CollectorError("store_failed", `bad store URL ${redactUrl(u)}: expected postgres://USER@HOST:PORT/DB`);
    const target = redactUrl(u);
    // pg lets a URL's (empty) password override a separate one: put the password into the URL
    const conn = new URL(u.href);
    if (opts.password !== undefined && opts.password !== "") conn.password = encodeURIComponent(opts.password);
    const poolSize = opts.poolSize ?? 4;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw new CollectorError("store_failed", `bad pool size ${poolSize}: 1 to 1000`);
    const log = opts.logger.child({ component: "pg-store" });
    const pool = new pg.Pool({
      connectionString: conn.href,
      max: poolSize,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 60_000,
      keepAlive: true,
      application_name: "vigil-collector",
      types: TYPES,
    });
    // an idle connection that breaks (server restart, network) is dropped by the pool; without
    // a listener the 'error' event would end the process
    pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL connection failed"));
    const store = new PgAlertStore(pool, log, opts.retentionMs ?? 7 * DAY_MS, target);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof CollectorError) throw err;
      throw new CollectorError("store_failed", `cannot open the PostgreSQL store at ${target}: ${errText(err)}`, { cause: err });
    }
    try {
      await store.ensurePartitions();
    } catch (err) {
      // not fatal: alerts of a missing day wait in the default partition until the next call
      log.warn({ err }, "premaking day partitions failed");
    }
    return store;
  }

  /** Wraps a driver error: CollectorError("store_failed") naming what failed. */
  private fail(what: string, err: unknown): CollectorError {
    if (err instanceof CollectorError) return err;
    return new CollectorError("store_failed", `PostgreSQL ${what} failed (${this.target}): ${errText(err)}`, { cause: err });
  }

  private async sql<R extends pg.QueryResultRow>(what: string, q: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new CollectorError("store_failed", "the PostgreSQL store is closed");
    try {
      return typeof q === "string" ? await this.pool.query<R>(q, values) : await this.pool.query<R>(q);
    } catch (err) {
      throw this.fail(what, err);
    }
  }

  /** Runs `fn` on one pooled connection; a connection left in doubt is discarded, not reused. */
  private async withClient<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new CollectorError("store_failed", "the PostgreSQL store is closed");
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw this.fail(`${what} (connect)`, err);
    }
    let broken = false;
    try {
      return await fn(c);
    } catch (err) {
      broken = true;
      throw this.fail(what, err);
    } finally {
      c.release(broken);
    }
  }

  /** Runs `fn` in a transaction on one connection (rolled back when it throws). */
  private inTransaction<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(what, async (c) => {
      await c.query("BEGIN");
      try {
        const r = await fn(c);
        await c.query("COMMIT");
        return r;
      } catch (err) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    });
  }

  /** Applies the migrations not applied yet, one transaction each, under the migration lock. */
  private async migrate(): Promise<void> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw new CollectorError("store_failed", `cannot connect to PostgreSQL at ${this.target}: ${errText(err)}`, { cause: err });
    }
    let broken = false;
    try {
      await c.query("SELECT pg_advisory_lock($1, $2)", [LOCK_NS, LOCK_MIGRATE]);
      try {
        await c.query(
          "CREATE TABLE IF NOT EXISTS vigil_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        );
        const done = new Set((await c.query<{ version: number }>("SELECT version FROM vigil_schema_migrations")).rows.map((r) => r.version));
        const known = Math.max(...MIGRATIONS.map((m) => m.version));
        const newer = [...done].filter((v) => v > known);
        // a newer collector migrated already (rolling upgrade): its migrations only add
        if (newer.length > 0) this.log.warn({ versions: newer, known }, "schema has migrations newer than this collector");
        for (const m of MIGRATIONS) {
          if (done.has(m.version)) continue;
          await c.query("BEGIN");
          try {
            await c.query(m.sql);
            await c.query("INSERT INTO vigil_schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
            await c.query("COMMIT");
          } catch (err) {
            await c.query("ROLLBACK").catch(() => undefined);
            throw new CollectorError("store_failed", `schema migration ${m.version} (${m.name}) failed on ${this.target}: ${errText(err)}`, { cause: err });
          }
          this.log.info({ version: m.version, migration: m.name }, "schema migration applied");
        }
      } finally {
        await c.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_NS, LOCK_MIGRATE]).catch(() => {
          broken = true;
        });
      }
    } catch (err) {
      broken = true;
      if (err instanceof CollectorError) throw err;
      throw new CollectorError("store_failed", `schema migration on ${this.target} failed: ${errText(err)}`, { cause: err });
    } finally {
      c.release(broken);
    }
  }

  /**
   * Makes sure a partition exists for every day from `now - retentionMs` to the day after
   * tomorrow (the collector calls this hourly). Rows of such a day waiting in the default
   * partition move into the new partition in the same transaction. Safe to run on several
   * replicas at once (advisory lock; a day made by another replica is skipped).
   */
  async ensurePartitions(now: number = Date.now()): Promise<void> {
    const first = dayStart(now - this.retentionMs);
    const last = dayStart(now) + 2 * DAY_MS;
    const want: number[] = [];
    for (let d = first; d <= last; d += DAY_MS) want.push(d);
    const attached = await this.attachedPartitions();
    for (const day of want) if (!attached.has(partitionName(day))) await this.createPartition(day);
  }

  /** Names of the attached day partitions. */
  private async attachedPartitions(c?: pg.PoolClient): Promise<Set<string>> {
    const sql = "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'alerts'::regclass";
    const rows = c !== undefined ? (await c.query<{ relname: string }>(sql)).rows : (await this.sql<{ relname: string }>("list partitions", sql)).rows;
    return new Set(rows.map((r) => r.relname));
  }

  private async createPartition(day: number): Promise<void> {
    const name = partitionName(day);
    const { lo, hi } = dayBounds(day);
    const moved = await this.inTransaction(`create partition ${name}`, async (c) => {
      await c.query(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
      await c.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NS, LOCK_PARTITIONS]);
      // another replica may have made it meanwhile
      const exists = await c.query<{ r: string | null }>("SELECT to_regclass($1)::text AS r", [name]);
      if (exists.rows[0]?.r !== null) {
        if (!(await this.attachedPartitions(c)).has(name)) this.log.warn({ partition: name }, "a detached table holds this day's name; retention drops it");
        return -1;
      }
      // no insert reaches the default partition until the new one is attached: a row of this day
      // committed in between would make ATTACH fail (the default's constraint is checked)
      await c.query("LOCK TABLE alerts_default IN SHARE ROW EXCLUSIVE MODE");
      await c.query(`CREATE TABLE ${name} (LIKE alerts)`);
      const r = await c.query(
        `WITH d AS (DELETE FROM alerts_default WHERE time >= '${lo}' AND time < '${hi}' RETURNING *) INSERT INTO ${name} SELECT * FROM d`,
      );
      await c.query(`ALTER TABLE alerts ATTACH PARTITION ${name} FOR VALUES FROM ('${lo}') TO ('${hi}')`);
      return r.rowCount ?? 0;
    });
    if (moved >= 0) this.log.info({ partition: name, moved }, "day partition created");
  }

  /**
   * Stores alerts delivered from the stream in one statement (one transaction). Idempotent by
   * alert ID: an ID already stored (in any partition, under any seq) or repeated in the batch is
   * skipped and counted as a duplicate. Returns the inserted ones in seq order.
   */
  async insertBatch(items: readonly SeqAlert[]): Promise<InsertResult> {
    const r = await this.storeBatch(items, []);
    return { inserted: r.inserted, duplicates: r.duplicates };
  }

  /** Stores capture chunks, idempotent by (alert ID, index); returns how many were new. */
  async insertCaptureChunks(chunks: readonly CaptureChunk[]): Promise<number> {
    return (await this.storeBatch([], chunks)).chunksStored;
  }

  /**
   * Alerts and capture chunks of one batch from the stream, in one transaction: all stored or
   * nothing (the caller acks the messages after this returns).
   */
  async storeBatch(items: readonly SeqAlert[], chunks: readonly CaptureChunk[]): Promise<StoreBatchResult> {
    checkChunks(chunks);
    // the first of repeated IDs counts (a resend inside one batch)
    const sorted = [...items].sort((a, b) => a.seq - b.seq);
    const seen = new Set<string>();
    const unique: SeqAlert[] = [];
    for (const it of sorted) {
      if (seen.has(it.alert.id)) continue;
      seen.add(it.alert.id);
      unique.push(it);
    }
    const alertParams = unique.length > 0 ? batchColumns(unique) : undefined;
    const chunkParams =
      chunks.length > 0
        ? [
            chunks.map((c) => c.alertId),
            chunks.map((c) => c.index),
            chunks.map((c) => c.count),
            chunks.map((c) => c.data),
            chunks.map((c) => c.eventCount),
            chunks.map((c) => pgText(c.containerId)),
          ]
        : undefined;
    const run = async (q: (cfg: pg.QueryConfig) => Promise<pg.QueryResult>) => {
      const fresh = alertParams !== undefined ? (await q({ name: "vigil_insert_alerts", text: INSERT_SQL, values: alertParams })).rows : [];
      const stored = chunkParams !== undefined ? ((await q({ name: "vigil_insert_chunks", text: INSERT_CHUNKS_SQL, values: chunkParams })).rowCount ?? 0) : 0;
      return { fresh, stored };
    };
    // one statement is a transaction of its own; two need BEGIN/COMMIT around them
    const { fresh, stored } =
      alertParams !== undefined && chunkParams !== undefined
        ? await this.inTransaction("store batch", (c) => run((cfg) => c.query(cfg)))
        : alertParams !== undefined || chunkParams !== undefined
          ? await run((cfg) => this.sql(alertParams !== undefined ? "insert alerts" : "insert capture chunks", cfg))
          : { fresh: [], stored: 0 };
    const ids = new Set(fresh.map((r) => (r as { id: string }).id));
    const inserted: StoredAlert[] = [];
    for (const it of unique) if (ids.has(it.alert.id)) inserted.push({ seq: it.seq, alert: it.alert, keys: alertKeys(it.alert) });
    return { inserted, duplicates: items.length - inserted.length, chunksStored: stored };
  }

  /** A capture once every chunk is stored: the chunks' data in index order; undefined before. */
  async getCapture(alertId: string): Promise<StoredCapture | undefined> {
    const r = await this.sql<{ idx: number; data: Buffer; event_count: number; container_id: string }>("read capture", {
      name: "vigil_get_capture",
      // the data only when complete: as many chunks as each says the capture has
      text: `WITH s AS (SELECT count(*) AS n, min(count) AS lo, max(count) AS hi FROM capture_chunks WHERE alert_id = $1)
               SELECT c.idx, c.data, c.event_count, c.container_id FROM capture_chunks c, s
               WHERE c.alert_id = $1 AND s.n = s.lo AND s.lo = s.hi ORDER BY c.idx`,
      values: [alertId],
    });
    const first = r.rows[0];
    if (first === undefined) return undefined;
    return { alertId, data: Buffer.concat(r.rows.map((x) => x.data)), eventCount: first.event_count, containerId: first.container_id };
  }

  /** The seq of a stored alert ID. */
  async seqOf(id: string): Promise<number | undefined> {
    const r = await this.sql<{ seq: number }>("seq of alert", { name: "vigil_seq_of", text: "SELECT seq FROM alert_ids WHERE id = $1", values: [id] });
    return r.rows[0]?.seq;
  }

  /** The cursor of a stored alert ID: its seq and normalized time (through alert_ids: one partition read). */
  async cursorOf(id: string): Promise<PageCursor | undefined> {
    const r = await this.sql<{ seq: number; t: string }>("cursor of alert", {
      name: "vigil_cursor_of",
      text: `SELECT a.seq, ${pgTimeText("a.")} AS t FROM alert_ids i JOIN alerts a ON a.seq = i.seq AND a.time = i.time WHERE i.id = $1`,
      values: [pgText(id)],
    });
    const x = r.rows[0];
    return x === undefined ? undefined : { seq: x.seq, time: x.t };
  }

  /** The highest seq stored (0 when empty). */
  async maxSeq(): Promise<number> {
    const r = await this.sql<{ m: number }>("max seq", { name: "vigil_max_seq", text: "SELECT COALESCE(max(seq), 0) AS m FROM alerts" });
    return r.rows[0]?.m ?? 0;
  }

  /** Stored alerts with `after < seq <= upTo`, in seq order, at most `limit` (the live tail's feed). */
  async range(after: number, upTo: number, limit: number): Promise<StoredAlert[]> {
    const r = await this.sql<{ seq: number; json: string }>("read range", {
      name: "vigil_range",
      text: "SELECT seq, json FROM alerts WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
      values: [after, upTo, limit],
    });
    return r.rows.map((x) => storedOf(x.seq, x.json));
  }

  /**
   * One page of the alerts matching a normalized filter, bounded by count and by bytes of JSON
   * (at most `maxBytes`, or the one first row when that alone is larger). One statement: the
   * matching keys (with their sizes) first, at most `limit`; the running sum of sizes picks the
   * rows that fit; only those rows' text is read.
   */
  async queryPage(f: AlertFilter, o: PageOptions): Promise<AlertPage> {
    const c = addFilterConditions(new PgConditions(), f);
    if (o.upTo !== undefined) c.add(`seq <= ${c.param(o.upTo)}`);
    const desc = o.order === "time" && o.desc === true;
    const order = o.order === "seq" ? "seq" : desc ? "time DESC, time_ns DESC, seq DESC" : "time, time_ns, seq";
    if (o.after !== undefined) {
      if (o.order === "seq") c.add(`seq > ${c.param(o.after.seq)}`);
      else {
        const t = splitTime(o.after.time);
        const us = c.param(t.us);
        // the plain bound skips the earlier partitions; the row value seeks the index. Newest first
        // has no plain bound: with the filter's since it would make a range the planner, before a
        // partition has statistics, guesses at 0.5 % of the rows, and it would sort them all
        if (!desc) c.add(`time >= ${us}::timestamptz`);
        c.add(`(time, time_ns, seq) ${desc ? "<" : ">"} (${us}::timestamptz, ${c.param(t.ns)}::smallint, ${c.param(o.after.seq)}::bigint)`);
      }
    }
    const limit = c.param(o.limit);
    const maxBytes = c.param(o.maxBytes);
    const sql = `
WITH k AS MATERIALIZED (
  SELECT seq, time, time_ns, json_bytes FROM alerts${c.where} ORDER BY ${order} LIMIT ${limit}
), w AS (
  SELECT seq, time, time_ns, json_bytes,
    sum(json_bytes) OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) AS run,
    row_number() OVER (ORDER BY ${order}) AS rn,
    count(*) OVER () AS n
  FROM k
)
SELECT w.seq, ${pgTimeText("w.")} AS t, w.json_bytes, w.n,
  (SELECT a.json FROM alerts a WHERE a.time = w.time AND a.seq = w.seq) AS json
FROM w WHERE w.rn = 1 OR w.run <= ${maxBytes} ORDER BY w.rn`;
    const r = await this.sql<{ seq: number; t: string; json_bytes: number; n: number; json: string | null }>("query page", sql, c.params);
    const rows: PageRow[] = [];
    let bytes = 0;
    for (const x of r.rows) {
      if (x.json === null) continue;
      rows.push({ seq: x.seq, time: x.t, json: x.json });
      bytes += x.json_bytes;
    }
    const keys = r.rows[0]?.n ?? 0;
    const last = rows[rows.length - 1];
    return { rows, bytes, next: last === undefined ? undefined : { seq: last.seq, time: last.time }, more: r.rows.length < keys || keys >= o.limit };
  }

  /**
   * Alerts matching a normalized filter, in time order (oldest first), at most `limit`; with
   * `afterSeq`, only those after it, in seq order. Holds the whole result: for small results.
   */
  async query(f: AlertFilter, limit: number, afterSeq?: number): Promise<StoredAlert[]> {
    const c = addFilterConditions(new PgConditions(), f);
    if (afterSeq !== undefined) c.add(`seq > ${c.param(afterSeq)}`);
    const order = afterSeq !== undefined ? "seq" : "time, time_ns, seq";
    const r = await this.sql<{ seq: number; json: string }>(
      "query",
      `SELECT seq, json FROM alerts${c.where} ORDER BY ${order} LIMIT ${c.param(limit)}`,
      c.params,
    );
    return r.rows.map((x) => storedOf(x.seq, x.json));
  }

  /**
   * The counts of `GET /api/v1/summary` (summary.ts) in one statement: the matching rows once
   * (a CTE, its time bounds pruning the day partitions), grouped per bucket and priority, and the
   * top keys of each column. The bucket of an alert: its time in epoch milliseconds (numeric,
   * exact) less `from`, divided by the bucket width.
   */
  async summary(plan: SummaryPlan): Promise<SummaryCounts> {
    const c = addFilterConditions(new PgConditions(), plan.filter);
    const from = c.param(plan.fromMs);
    const width = c.param(plan.bucketMs);
    const top = c.param(SUMMARY_TOP);
    const topOf = (kind: string, col: string) =>
      `(SELECT '${kind}' AS kind, ${col} AS key, NULL::int AS prio, count(*) AS n FROM m WHERE ${col} IS NOT NULL GROUP BY ${col} ORDER BY n DESC, ${col} LIMIT ${top})`;
    const sql = `
WITH m AS MATERIALIZED (
  SELECT floor((extract(epoch FROM time) * 1000 - ${from}::bigint) / ${width}::bigint)::int AS b, prio, rule, namespace, image, hostname
  FROM alerts${c.where}
)
SELECT 'cell' AS kind, b::text AS key, prio::int AS prio, count(*) AS n FROM m GROUP BY b, prio
UNION ALL ${topOf("rules", "rule")}
UNION ALL ${topOf("namespaces", "namespace")}
UNION ALL ${topOf("images", "image")}
UNION ALL ${topOf("nodes", "hostname")}`;
    const r = await this.sql<{ kind: string; key: string; prio: number | null; n: string | number }>("summary", sql, c.params);
    const out: SummaryCounts = { cells: [], top: { rules: [], namespaces: [], images: [], nodes: [] } };
    for (const x of r.rows) {
      if (x.kind === "cell") out.cells.push({ b: Number(x.key), prio: Number(x.prio), n: Number(x.n) });
      else out.top[x.kind as keyof SummaryCounts["top"]].push({ key: x.key, count: Number(x.n) });
    }
    // UNION ALL keeps each branch's rows together but not necessarily in their ORDER BY order
    const t = out.top;
    for (const l of [t.rules, t.namespaces, t.images, t.nodes]) l.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  /** Number of stored alerts. */
  async count(): Promise<number> {
    const r = await this.sql<{ n: number }>("count", "SELECT count(*) AS n FROM alerts");
    return r.rows[0]?.n ?? 0;
  }

  /**
   * Removes alerts older than `maxAgeMs` by alert time (and their IDs and capture chunks, and
   * chunks received before the cutoff): day partitions entirely older are detached and dropped
   * whole, older rows of the cutoff's day and of the default partition deleted. Returns how many
   * alerts were removed and, per forwarder, how many of them it had not reached (recorded in
   * forwarder_expired in the same transaction as each deletion). When another replica is running
   * retention, returns 0 at once.
   */
  async applyRetention(maxAgeMs: number, now: number = Date.now()): Promise<RetentionResult> {
    if (!(maxAgeMs >= 0)) throw new CollectorError("store_failed", `bad retention ${maxAgeMs}`);
    const cutoffMs = Math.max(now - maxAgeMs, 0);
    const cutoff = isoFromMs(cutoffMs);
    return this.withClient("retention", async (c) => {
      const got = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [LOCK_NS, LOCK_RETENTION]);
      if (got.rows[0]?.ok !== true) return { removed: 0, unsent: [] };
      const unsent = new Map<string, number>();
      const addUnsent = (rows: UnsentRow[]) => {
        for (const x of rows) unsent.set(x.forwarder, (unsent.get(x.forwarder) ?? 0) + Number(x.alerts));
      };
      try {
        let removed = 0;
        // 1. detach the old day partitions (a short lock on alerts each)
        for (const name of await this.attachedPartitions(c)) {
          const day = partitionDay(name);
          if (day === undefined || day + DAY_MS > cutoffMs) continue;
          await this.txOn(c, async () => {
            await c.query(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
            await c.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NS, LOCK_PARTITIONS]);
            await c.query(`ALTER TABLE alerts DETACH PARTITION ${name}`);
          });
        }
        // 2. drop detached ones (also any an earlier run left behind) with their IDs and chunks
        const detached = await c.query<{ relname: string }>(
          `SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition AND relname ~ '^alerts_p[0-9]{8}$'
             AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'alerts'::regclass)`,
        );
        for (const { relname } of detached.rows) {
          if (partitionDay(relname) === undefined) continue;
          removed += await this.txOn(c, async () => {
            const n = (await c.query<{ n: number }>(`SELECT count(*) AS n FROM ${relname}`)).rows[0]?.n ?? 0;
            addUnsent((await c.query<UnsentRow>(`WITH ${expireSql(relname)} SELECT forwarder, alerts FROM u`)).rows);
            await c.query(`DELETE FROM capture_chunks WHERE alert_id IN (SELECT id FROM ${relname})`);
            await c.query(`DELETE FROM alert_ids WHERE id IN (SELECT id FROM ${relname})`);
            await c.query(`DROP TABLE ${relname}`);
            this.log.info({ partition: relname, alerts: n }, "day partition dropped");
            return n;
          });
        }
        // 3. older rows left: the cutoff's own day, and the default partition
        removed += await this.txOn(c, async () => {
          await c.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NS, LOCK_PARTITIONS]);
          const r = await c.query<{ n: number; unsent: UnsentRow[] }>(
            `WITH d AS (DELETE FROM alerts WHERE time < $1::timestamptz RETURNING id, seq),
               ch AS (DELETE FROM capture_chunks WHERE alert_id IN (SELECT id FROM d)),
               i AS (DELETE FROM alert_ids WHERE id IN (SELECT id FROM d)),
               ${expireSql("d")}
             SELECT (SELECT count(*) FROM d)::int AS n,
               coalesce((SELECT json_agg(json_build_object('forwarder', forwarder, 'alerts', alerts)) FROM u), '[]'::json) AS unsent`,
            [cutoff],
          );
          await c.query("DELETE FROM capture_chunks WHERE received < $1::timestamptz", [cutoff]);
          addUnsent(r.rows[0]?.unsent ?? []);
          return r.rows[0]?.n ?? 0;
        });
        return { removed, unsent: [...unsent].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([forwarder, alerts]) => ({ forwarder, alerts })) };
      } finally {
        // a broken connection ends its session, and the lock with it
        await c.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_NS, LOCK_RETENTION]).catch(() => undefined);
      }
    });
  }

  /** A transaction on a connection already held. */
  private async txOn<T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
    await c.query("BEGIN");
    try {
      const r = await fn();
      await c.query("COMMIT");
      return r;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  /** A stored alert's JSON by ID (through alert_ids: one partition read). */
  async getAlert(id: string): Promise<string | undefined> {
    const r = await this.sql<{ json: string }>("read an alert", {
      name: "vigil_get_alert",
      text: "SELECT a.json FROM alert_ids i JOIN alerts a ON a.seq = i.seq AND a.time = i.time WHERE i.id = $1",
      values: [pgText(id)],
    });
    return r.rows[0]?.json;
  }

  /** How many alerts have after < seq <= upTo. */
  async countRange(after: number, upTo: number): Promise<number> {
    const r = await this.sql<{ n: string }>("count range", {
      name: "vigil_count_range",
      text: "SELECT count(*) AS n FROM alerts WHERE seq > $1 AND seq <= $2",
      values: [after, upTo],
    });
    return Number(r.rows[0]?.n ?? 0);
  }

  async getCursor(name: string): Promise<number | undefined> {
    const r = await this.sql<{ seq: string }>("read a forwarder cursor", {
      name: "vigil_cursor_get",
      text: "SELECT seq FROM forwarder_cursors WHERE name = $1",
      values: [name],
    });
    return r.rows[0] === undefined ? undefined : Number(r.rows[0].seq);
  }

  async setCursor(name: string, seq: number): Promise<void> {
    await this.sql("write a forwarder cursor", {
      name: "vigil_cursor_set",
      text: "INSERT INTO forwarder_cursors (name, seq, updated) VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated = now()",
      values: [name, seq],
    });
  }

  async addDeadLetter(d: DeadLetter): Promise<void> {
    await this.withClient("dead-letter an alert", async (c) => {
      await c.query("BEGIN");
      try {
        await c.query(
          "INSERT INTO forwarder_dead_letters (forwarder, seq, alert_id, error, at) VALUES ($1, $2, $3, $4, to_timestamp($5::double precision / 1000))",
          [d.forwarder, d.seq, pgText(d.alertId), pgText(d.error.slice(0, 2000)), d.atMs],
        );
        // bounded: the oldest beyond the cap go
        await c.query(
          "DELETE FROM forwarder_dead_letters WHERE forwarder = $1 AND id <= (SELECT id FROM forwarder_dead_letters WHERE forwarder = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
          [d.forwarder, MAX_DEAD_LETTERS],
        );
        await c.query("COMMIT");
      } catch (err) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    });
  }

  async deadLetters(name: string, limit: number): Promise<DeadLetter[]> {
    const r = await this.sql<{ forwarder: string; seq: string; alert_id: string; error: string; at_ms: string }>("read dead letters", {
      name: "vigil_dead_letters",
      text: "SELECT forwarder, seq, alert_id, error, (extract(epoch FROM at) * 1000)::bigint AS at_ms FROM forwarder_dead_letters WHERE forwarder = $1 ORDER BY id DESC LIMIT $2",
      values: [name, limit],
    });
    return r.rows.map((x) => ({ forwarder: x.forwarder, seq: Number(x.seq), alertId: x.alert_id, error: x.error, atMs: Number(x.at_ms) }));
  }

  async expiredCount(name: string): Promise<number> {
    const r = await this.sql<{ n: string }>("read a forwarder's expired count", {
      name: "vigil_expired_count",
      text: "SELECT alerts AS n FROM forwarder_expired WHERE name = $1",
      values: [name],
    });
    return Number(r.rows[0]?.n ?? 0);
  }

  async deadLetterCount(name: string): Promise<number> {
    const r = await this.sql<{ n: string }>("count dead letters", {
      name: "vigil_dead_letter_count",
      text: "SELECT count(*) AS n FROM forwarder_dead_letters WHERE forwarder = $1",
      values: [name],
    });
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * The forwarder's lease: a session-level advisory lock taken on a connection of its own (not
   * the pool's), so that PostgreSQL releases it when this collector dies or loses the
   * connection; the lease reports itself lost then, and another replica takes it over.
   */
  async tryLease(name: string): Promise<Lease | undefined> {
    if (this.closed) return undefined;
    const client = new pg.Client(this.pool.options);
    let lost = false;
    client.on("error", () => {
      lost = true;
    });
    try {
      await client.connect();
      const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [`vigil-forwarder:${name}`]);
      if (r.rows[0]?.ok !== true) {
        await client.end().catch(() => undefined);
        return undefined;
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw this.fail("take a forwarder lease", err);
    }
    client.on("end", () => {
      lost = true;
    });
    return {
      get lost() {
        return lost;
      },
      release: async () => {
        lost = true;
        await client.end().catch(() => undefined);
      },
    };
  }

  /** Ends the pool (waits for queries in flight). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
