// SPDX-License-Identifier: Apache-2.0
/**
 * The PostgreSQL store against a real PostgreSQL 15 (one server for the file, password
 * authentication on, a database per test that needs an empty one): migrations once under
 * concurrent starts, idempotent batches, page parity with the SQLite store for every filter,
 * byte-bounded keyset paging, captures complete only with every chunk, day partitions and the
 * default partition, retention by dropping partitions, a server restart and kill, and errors
 * that say what failed without the password.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectorError } from "../../collector/errors.js";
import { type CaptureChunk, PgAlertStore } from "../../collector/pg-store.js";
import { filterToPg, globToLike, splitTime } from "../../collector/pg-filter.js";
import { AlertStore } from "../../collector/store.js";
import type { AlertPage, PageOptions } from "../../collector/store-api.js";
import { type Alert, type AlertFieldValue, type AlertFilter, alertToJson } from "../../proto/index.js";
import { startPostgres, type PgServer } from "../helpers/postgres.js";
import { makeAlert, memoryLogger, quiet } from "./helpers.js";

const PASSWORD = "s3cr3t-Pa55'word";
const DAY = 86_400_000;

let server: PgServer;
let dbCount = 0;
const stores: PgAlertStore[] = [];

beforeAll(async () => {
  server = await startPostgres({ password: PASSWORD });
});

afterAll(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  await server?.stop();
});

/** A fresh, empty database of the test role. */
async function freshDb(): Promise<string> {
  return server.createDatabase(`t${++dbCount}`);
}

async function openStore(url: string, over: Partial<Parameters<typeof PgAlertStore.open>[0]> = {}): Promise<PgAlertStore> {
  const s = await PgAlertStore.open({ url, password: PASSWORD, logger: quiet(), ...over });
  stores.push(s);
  return s;
}

/** Runs SQL as the superuser in a database (inspection and fault injection). */
async function admin<T extends Record<string, unknown>>(db: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const c = await server.adminClient(db);
  try {
    return (await c.query<T>(sql, values)).rows;
  } finally {
    await c.end();
  }
}

const dbName = (url: string): string => new URL(url).pathname.slice(1);

/** Where each alert's row is (partition name by alert ID). */
async function partitionsOf(db: string): Promise<Map<string, string>> {
  const rows = await admin<{ id: string; p: string }>(db, "SELECT id, tableoid::regclass::text AS p FROM alerts");
  return new Map(rows.map((r) => [r.id, r.p]));
}

/** An alert at a given time (normalized). */
function alertAt(ms: number, over: Parameters<typeof makeAlert>[0] = {}): Alert {
  const iso = new Date(ms).toISOString();
  return makeAlert({ time: `${iso.slice(0, 23)}000000Z`, ...over });
}

describe("PgAlertStore: schema", () => {
  it("applies each migration once when two replicas open an empty database together, and again on reopen", async () => {
    const url = await freshDb();
    const [a, b] = await Promise.all([openStore(url), openStore(url)]);
    const rows = await admin<{ version: number; n: string }>(
      dbName(url),
      "SELECT version, count(*) AS n FROM vigil_schema_migrations GROUP BY version ORDER BY version",
    );
    expect(rows).toEqual([
      { version: 1, n: "1" },
      { version: 2, n: "1" },
      { version: 3, n: "1" },
      { version: 4, n: "1" },
    ]);
    await a.close();
    await b.close();
    const c = await openStore(url);
    expect(await admin(dbName(url), "SELECT version FROM vigil_schema_migrations ORDER BY version")).toEqual([
      { version: 1 },
      { version: 2 },
      { version: 3 },
      { version: 4 },
    ]);
    expect(await c.count()).toBe(0);
    // premade: 7 days back to the day after tomorrow, plus the default partition
    const parts = await admin<{ relname: string }>(
      dbName(url),
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'alerts'::regclass ORDER BY 1",
    );
    const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    expect(parts.map((r) => r.relname)).toContain(`alerts_p${today}`);
    expect(parts.map((r) => r.relname)).toContain("alerts_default");
    expect(parts.length).toBe(11);
    // an index for every query filter, on each partition through the partitioned ones
    const idx = await admin<{ indexdef: string }>(dbName(url), "SELECT indexdef FROM pg_indexes WHERE tablename = 'alerts_default'");
    const defs = idx.map((r) => r.indexdef).join("\n");
    for (const col of [
      "(rule",
      "(namespace, pod",
      "(hostname",
      "(container_id)",
      "(container_name)",
      "(image)",
      "(image_repo)",
      "gin (tags)",
      "(seq)",
      '("time", time_ns, seq)',
    ])
      expect(defs).toContain(col);
  });
});

describe("PgAlertStore: batches", () => {
  let s: PgAlertStore;
  beforeAll(async () => {
    s = await openStore(await freshDb());
  });

  it("stores a batch in seq order and counts IDs stored before, under any seq, as duplicates", async () => {
    const batch = [makeAlert(), makeAlert(), makeAlert()];
    // given out of order: returned in seq order
    const r1 = await s.insertBatch([
      { seq: 12, alert: batch[2]! },
      { seq: 10, alert: batch[0]! },
      { seq: 11, alert: batch[1]! },
    ]);
    expect(r1.duplicates).toBe(0);
    expect(r1.inserted.map((x) => [x.seq, x.alert.id])).toEqual([
      [10, batch[0]!.id],
      [11, batch[1]!.id],
      [12, batch[2]!.id],
    ]);
    expect(r1.inserted[0]!.keys).toEqual({
      namespace: "default",
      pod: "web-1",
      containerId: "abcdef123456",
      containerName: "web",
      image: "docker.io/library/nginx:1.25",
      imageRepo: "docker.io/library/nginx",
    });
    // the same IDs again (a redelivery: other stream sequences), one new, one repeated in the batch
    const extra = makeAlert();
    const r2 = await s.insertBatch([
      { seq: 20, alert: batch[0]! },
      { seq: 21, alert: batch[1]! },
      { seq: 22, alert: extra },
      { seq: 23, alert: extra },
    ]);
    expect(r2.duplicates).toBe(3);
    expect(r2.inserted.map((x) => [x.seq, x.alert.id])).toEqual([[22, extra.id]]);
    expect(await s.count()).toBe(4);
    expect(await s.maxSeq()).toBe(22);
    expect(await s.seqOf(batch[0]!.id)).toBe(10);
    expect(await s.seqOf(extra.id)).toBe(22);
    expect(await s.seqOf("nope")).toBeUndefined();
    expect((await s.insertBatch([])).inserted).toEqual([]);
  });

  it("returns rows after < seq <= upTo in seq order with their keys (range)", async () => {
    const r = await s.range(10, 12, 10);
    expect(r.map((x) => x.seq)).toEqual([11, 12]);
    expect(await s.range(10, 100, 2).then((x) => x.map((y) => y.seq))).toEqual([11, 12]);
    expect(await s.range(22, 100, 10)).toEqual([]);
    const one = (await s.range(21, 22, 1))[0]!;
    expect(JSON.stringify(alertToJson(one.alert))).toBe(
      (await s.queryPage({}, { order: "seq", limit: 1, maxBytes: 1e6, after: { seq: 21, time: "" } })).rows[0]!.json,
    );
    expect(one.keys.containerName).toBe("web");
  });

  it("stores alerts and capture chunks in one transaction: a failing chunk insert stores neither", async () => {
    const url = await freshDb();
    const t = await openStore(url);
    // fault injection: the database refuses one chunk
    await admin(
      dbName(url),
      `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.alert_id = 'boom' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$;
       CREATE TRIGGER boom BEFORE INSERT ON capture_chunks FOR EACH ROW EXECUTE FUNCTION boom();`,
    );
    const a = makeAlert();
    const chunk = (alertId: string): CaptureChunk => ({ alertId, index: 0, count: 1, data: Buffer.from("x"), eventCount: 1, containerId: "c" });
    const err = await t.storeBatch([{ seq: 1, alert: a }], [chunk("boom")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CollectorError);
    expect((err as CollectorError).code).toBe("store_failed");
    expect((err as Error).message).toMatch(/refused by test/);
    expect(await t.count()).toBe(0);
    expect(await t.seqOf(a.id)).toBeUndefined();
    const ok = await t.storeBatch([{ seq: 1, alert: a }], [chunk(a.id)]);
    expect(ok).toMatchObject({ duplicates: 0, chunksStored: 1 });
    expect(ok.inserted.map((x) => x.alert.id)).toEqual([a.id]);
    expect(await t.getCapture(a.id)).toMatchObject({ alertId: a.id, eventCount: 1, containerId: "c" });
  });

  it("keeps a capture unreadable until every chunk is stored, then returns the chunks in index order", async () => {
    const id = makeAlert().id;
    const parts = [Buffer.from([0, 1, 2]), Buffer.from([0x1f, 0x8b, 0]), Buffer.from("tail\u0000")];
    const chunk = (i: number): CaptureChunk => ({ alertId: id, index: i, count: 3, data: parts[i]!, eventCount: 9, containerId: "abc" });
    expect(await s.insertCaptureChunks([chunk(2)])).toBe(1);
    expect(await s.getCapture(id)).toBeUndefined();
    expect(await s.insertCaptureChunks([chunk(0), chunk(2)])).toBe(1);
    expect(await s.getCapture(id)).toBeUndefined();
    expect(await s.insertCaptureChunks([chunk(1)])).toBe(1);
    const c = await s.getCapture(id);
    expect(c).toBeDefined();
    expect(Buffer.isBuffer(c!.data)).toBe(true);
    expect(c!.data.equals(Buffer.concat(parts))).toBe(true);
    expect(c).toMatchObject({ alertId: id, eventCount: 9, containerId: "abc" });
    expect(await s.insertCaptureChunks([chunk(0), chunk(1), chunk(2)])).toBe(0);
    expect(await s.getCapture("nope")).toBeUndefined();
  });

  it("refuses malformed chunks and alerts with a clear error", async () => {
    const bad: CaptureChunk = { alertId: "a1", index: 3, count: 3, data: Buffer.alloc(1), eventCount: 1, containerId: "" };
    await expect(s.insertCaptureChunks([bad])).rejects.toMatchObject({ code: "malformed", message: expect.stringMatching(/3\/3/) });
    await expect(s.insertCaptureChunks([{ ...bad, index: 0, alertId: "x\u0000y" }])).rejects.toMatchObject({ code: "malformed" });
    await expect(s.insertBatch([{ seq: 99, alert: { ...makeAlert(), time: "yesterday" } }])).rejects.toMatchObject({ code: "invalid_alert" });
  });

  it("keeps U+0000 in the JSON and still finds the alert by a key holding it", async () => {
    const a = makeAlert({ rule: "nul\u0000rule", fields: { "k8s.ns.name": "ns\u0000x" }, tags: ["t\u0000"] });
    await s.insertBatch([{ seq: 30, alert: a }]);
    const page = await s.queryPage({ namespace: "ns\u0000x", rule: "nul\u0000*", tags: ["t\u0000"] }, { order: "time", limit: 10, maxBytes: 1e6 });
    expect(page.rows.map((r) => r.json)).toEqual([JSON.stringify(alertToJson(a))]);
    expect((await s.range(29, 30, 1))[0]!.alert).toEqual(a);
  });
});

/**
 * A set of alerts whose keys and times exercise every filter: priorities, rules with LIKE's own
 * metacharacters, namespaces and pods, container IDs and names, image references (tag, digest,
 * registry port), tags, and times sharing a microsecond.
 */
function paritySet(): Alert[] {
  const base = Date.UTC(2026, 10, 20, 12);
  const rules = ["Read sensitive file", "Terminal shell in container", "100% CPU_spike", "100% CPUxspike", "Write below etc"];
  const prios = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"] as const;
  const images: Record<string, AlertFieldValue>[] = [
    { "container.image.repository": "docker.io/library/nginx", "container.image.tag": "1.25" },
    { "container.image": "registry.local:5000/team/app@sha256:abcd", "container.image.repository": null },
    { "container.image": "registry.local:5000/team/app:2", "container.image.repository": null },
    { "container.image.repository": "quay.io/prom/node-exporter", "container.image.tag": null },
  ];
  const out: Alert[] = [];
  for (let i = 0; i < 48; i++) {
    // groups of four alerts inside one microsecond, half an hour apart: the nanoseconds go down
    // as seq goes up (time order is not seq order), and the last two share the same time (seq decides)
    const ms = base + Math.floor(i / 4) * 1_800_000;
    const iso = new Date(ms).toISOString().slice(0, 19);
    const frac = `123456${999 - Math.min(i % 4, 2) * 100}`;
    out.push(
      makeAlert({
        time: `${iso}.${frac}Z`,
        rule: rules[i % rules.length]!,
        priority: prios[i % prios.length]!,
        hostname: i % 3 === 0 ? "node-a" : "node-b.ec2.internal",
        tags: i % 2 === 0 ? ["T1003.008", "filesystem"] : i % 5 === 0 ? [] : ["shell", "mitre_execution"],
        fields: {
          "k8s.ns.name": i % 7 === 0 ? null : ["default", "kube-system", "team_a"][i % 3]!,
          "k8s.pod.name": `web-${i % 4}`,
          "container.id": i % 11 === 0 ? null : `c0ffee${String(i % 5).padStart(6, "0")}`,
          "container.name": ["web", "sidecar", "db_1"][i % 3]!,
          "container.image.repository": null,
          "container.image.tag": null,
          ...images[i % images.length],
        },
      }),
    );
  }
  return out;
}

const PARITY_FILTERS: [string, AlertFilter][] = [
  ["no filter", {}],
  ["priority warning", { priority: "Warning" }],
  ["priority critical", { priority: "Critical" }],
  ["rule exact", { rule: "Read sensitive file" }],
  ["rule glob prefix", { rule: "Read*" }],
  ["rule glob with % and _ taken literally", { rule: "100% CPU_*" }],
  ["rule glob in the middle", { rule: "*shell*container" }],
  ["node", { node: "node-b.ec2.internal" }],
  ["node glob", { node: "*.internal" }],
  ["namespace", { namespace: "kube-system" }],
  ["namespace with _", { namespace: "team_a" }],
  ["namespace and pod", { namespace: "default", pod: "web-1" }],
  ["pod glob", { pod: "web-*" }],
  ["container by name", { container: "sidecar" }],
  ["container by name with _", { container: "db_1" }],
  ["container by id", { container: "c0ffee000003" }],
  ["container glob", { container: "c0ffee*3" }],
  ["image repository", { image: "docker.io/library/nginx" }],
  ["image reference", { image: "registry.local:5000/team/app:2" }],
  ["image repository from a digest reference", { image: "registry.local:5000/team/app" }],
  ["image glob", { image: "*node-exporter*" }],
  ["one tag", { tags: ["shell"] }],
  ["two tags", { tags: ["T1003.008", "filesystem"] }],
  ["tags nobody has together", { tags: ["shell", "filesystem"] }],
  ["since (inclusive, to the nanosecond)", { since: "2026-11-20T14:00:00.123456899Z" }],
  ["since between nanoseconds", { since: "2026-11-20T14:00:00.123456800Z" }],
  ["since on a whole microsecond", { since: "2026-11-20T14:00:00.123456000Z" }],
  ["until (exclusive, to the nanosecond)", { until: "2026-11-20T15:00:00.123456899Z" }],
  ["until between nanoseconds", { until: "2026-11-20T15:00:00.123456900Z" }],
  ["until on a whole microsecond", { until: "2026-11-20T15:00:00.123457000Z" }],
  ["since and until inside one microsecond", { since: "2026-11-20T13:30:00.123456800Z", until: "2026-11-20T13:30:00.123456999Z" }],
  ["combination", { priority: "Error", namespace: "default", tags: ["T1003.008"], since: "2026-11-20T12:00:00.000000000Z", container: "web" }],
  ["nothing matches", { rule: "nope*" }],
];

describe("PgAlertStore: queries like the SQLite store", () => {
  let pgs: PgAlertStore;
  let lite: AlertStore;
  let alerts: Alert[];

  beforeAll(async () => {
    alerts = paritySet();
    pgs = await openStore(await freshDb(), { retentionMs: 30 * DAY });
    lite = new AlertStore({ dataDir: ":memory:" });
    // same order: SQLite's own seq 1..n and the stream seq 1..n agree
    lite.insert(alerts);
    await pgs.insertBatch(alerts.map((alert, i) => ({ seq: i + 1, alert })));
  });
  afterAll(() => lite.close());

  it.each(PARITY_FILTERS)("returns what SQLite returns: %s", async (_name, f) => {
    for (const order of ["time", "seq"] as const) {
      const o: PageOptions = { order, limit: 1000, maxBytes: 1e9 };
      const want = lite.queryPage(f, o);
      const got = await pgs.queryPage(f, o);
      expect(got).toEqual(want);
    }
    const wantQ = lite.query(f, 1000).map((x) => [x.seq, x.alert, x.keys]);
    expect((await pgs.query(f, 1000)).map((x) => [x.seq, x.alert, x.keys])).toEqual(wantQ);
    expect((await pgs.query(f, 5, 10)).map((x) => x.seq)).toEqual(lite.query(f, 5, 10).map((x) => x.seq));
  });

  it("matches at least one alert with most filters (the set is not vacuous)", async () => {
    let nonEmpty = 0;
    for (const [, f] of PARITY_FILTERS) if (lite.query(f, 1000).length > 0) nonEmpty++;
    expect(nonEmpty).toBeGreaterThanOrEqual(PARITY_FILTERS.length - 2);
    // `_` is not LIKE's any-character: "100% CPU_*" must not find "100% CPUxspike"
    const r = await pgs.query({ rule: "100% CPU_*" }, 1000);
    expect(r.length).toBeGreaterThan(0);
    expect(new Set(r.map((x) => x.alert.rule))).toEqual(new Set(["100% CPU_spike"]));
  });

  /** Every page of a filter, following the cursors. */
  async function pages(read: (o: PageOptions) => AlertPage | Promise<AlertPage>, o: Omit<PageOptions, "after">): Promise<AlertPage[]> {
    const out: AlertPage[] = [];
    let after: PageOptions["after"];
    for (let i = 0; i < 1000; i++) {
      const p = await read({ ...o, after });
      out.push(p);
      if (!p.more || p.next === undefined) break;
      after = p.next;
    }
    return out;
  }

  it("pages with the same cursors, counts and byte bounds as SQLite", async () => {
    const one = Buffer.byteLength(JSON.stringify(alertToJson(alerts[0]!)));
    for (const f of [{}, { priority: "Warning" }, { pod: "web-*" }, { since: "2026-11-20T14:00:00.123456800Z" }] as AlertFilter[])
      for (const order of ["time", "seq"] as const)
        for (const [limit, maxBytes] of [
          [7, 1e9],
          [100, Math.floor(one * 2.5)],
          [3, one * 10],
          [5, 10],
        ] as const) {
          const want = await pages((o) => lite.queryPage(f, o), { order, limit, maxBytes });
          const got = await pages((o) => pgs.queryPage(f, o), { order, limit, maxBytes });
          expect(got).toEqual(want);
          for (const p of got) {
            expect(p.rows.length).toBeLessThanOrEqual(limit);
            if (p.rows.length > 1) expect(p.bytes).toBeLessThanOrEqual(maxBytes);
          }
        }
    // a page smaller than one row holds that one row
    const tiny = await pgs.queryPage({}, { order: "time", limit: 10, maxBytes: 1 });
    expect(tiny.rows).toHaveLength(1);
    expect(tiny.more).toBe(true);
    expect(tiny.bytes).toBe(Buffer.byteLength(tiny.rows[0]!.json));
    // walking every page in time order sees every alert once, in (time, seq) order
    const all = (await pages((o) => pgs.queryPage({}, o), { order: "time", limit: 5, maxBytes: one * 3 })).flatMap((p) => p.rows);
    expect(all.map((r) => r.seq).sort((a, b) => a - b)).toEqual(alerts.map((_a, i) => i + 1));
    const keys = all.map((r) => `${r.time}/${String(r.seq).padStart(4, "0")}`);
    expect(keys).toEqual([...keys].sort());
  });

  it("bounds pages by upTo", async () => {
    for (const order of ["time", "seq"] as const) {
      const o: PageOptions = { order, limit: 1000, maxBytes: 1e9, upTo: 20 };
      const got = await pgs.queryPage({ priority: "Debug" }, o);
      expect(got).toEqual(lite.queryPage({ priority: "Debug" }, o));
      expect(got.rows.length).toBeGreaterThan(0);
      expect(Math.max(...got.rows.map((r) => r.seq))).toBeLessThanOrEqual(20);
    }
    const p = await pgs.queryPage({}, { order: "seq", limit: 1000, maxBytes: 1e9, upTo: 0 });
    expect(p).toEqual({ rows: [], bytes: 0, next: undefined, more: false });
  });
});

describe("pg-filter", () => {
  it("escapes LIKE's metacharacters and turns * into %", () => {
    expect(globToLike("a*b%c_d\\e*")).toBe("a%b\\%c\\_d\\\\e%");
    expect(filterToPg({ rule: "x", container: "y*", tags: ["a", "b"], priority: "Error" })).toEqual({
      where: "WHERE prio <= $1 AND rule = $2 AND (container_id LIKE $3 OR container_name LIKE $4) AND tags @> $5::text[]",
      params: [3, "x", "y%", "y%", ["a", "b"]],
    });
  });

  it("splits a time into microseconds and the nanoseconds beyond, and refuses a bad one", () => {
    expect(splitTime("2026-01-02T03:04:05.123456789Z")).toEqual({ us: "2026-01-02T03:04:05.123456Z", ns: 789 });
    expect(splitTime("2026-01-02T05:04:05.1+02:00")).toEqual({ us: "2026-01-02T03:04:05.100000Z", ns: 0 });
    expect(() => splitTime("2026-02-30T00:00:00Z")).toThrow(CollectorError);
  });
});

describe("PgAlertStore: partitions and retention", () => {
  it("puts an alert dated outside the premade days in the default partition and moves it when its day gets a partition", async () => {
    const url = await freshDb();
    const db = dbName(url);
    const s = await openStore(url, { retentionMs: 2 * DAY });
    const old = alertAt(Date.UTC(2001, 2, 4, 10, 30));
    const oldNeighbour = alertAt(Date.UTC(2001, 2, 5, 1));
    const future = alertAt(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
    const epoch = alertAt(0);
    const now = makeAlert();
    await s.insertBatch([old, oldNeighbour, future, epoch, now].map((alert, i) => ({ seq: i + 1, alert })));
    let where = await partitionsOf(db);
    expect(where.get(old.id)).toBe("alerts_default");
    expect(where.get(oldNeighbour.id)).toBe("alerts_default");
    expect(where.get(future.id)).toBe("alerts_default");
    expect(where.get(epoch.id)).toBe("alerts_default");
    expect(where.get(now.id)).toBe(`alerts_p${now.time.slice(0, 10).replaceAll("-", "")}`);
    // two replicas make the partitions of March 2001 at once: both succeed, the rows move once
    await Promise.all([
      s.ensurePartitions(Date.UTC(2001, 2, 4, 12)),
      (await openStore(url, { retentionMs: 2 * DAY })).ensurePartitions(Date.UTC(2001, 2, 4, 12)),
    ]);
    where = await partitionsOf(db);
    expect(where.get(old.id)).toBe("alerts_p20010304");
    expect(where.get(oldNeighbour.id)).toBe("alerts_p20010305");
    expect(where.get(future.id)).toBe("alerts_default");
    expect(await s.count()).toBe(5);
    const page = await s.queryPage({ until: "2002-01-01T00:00:00.000000000Z" }, { order: "time", limit: 10, maxBytes: 1e6 });
    expect(page.rows.map((r) => r.json)).toEqual([epoch, old, oldNeighbour].map((a) => JSON.stringify(alertToJson(a))));
    expect(page.rows.map((r) => r.time)).toEqual([epoch.time, old.time, oldNeighbour.time]);
    // idempotence still spans partitions: the moved alert is a duplicate
    expect((await s.insertBatch([{ seq: 9, alert: old }])).duplicates).toBe(1);
  });

  it("drops day partitions older than the cutoff whole, deletes older rows elsewhere, and counts them", async () => {
    const url = await freshDb();
    const db = dbName(url);
    const now = Date.UTC(2026, 5, 15, 12);
    const s = await openStore(url, { retentionMs: 3 * DAY });
    await s.ensurePartitions(now - 6 * DAY);
    await s.ensurePartitions(now);
    const cutoff = now - 3 * DAY;
    const veryOld = [alertAt(now - 20 * DAY), alertAt(now - 20 * DAY + 1)]; // default partition
    const oldDay = [alertAt(now - 5 * DAY), alertAt(now - 5 * DAY + 5), alertAt(now - 4 * DAY)]; // whole old days
    const cutDayOld = alertAt(cutoff - 1); // the cutoff's day, before it
    const cutDayNew = alertAt(cutoff); // the cutoff's day, at it: kept
    const recent = [alertAt(now - DAY), alertAt(now)];
    const all = [...veryOld, ...oldDay, cutDayOld, cutDayNew, ...recent];
    await s.insertBatch(all.map((alert, i) => ({ seq: i + 1, alert })));
    const where = await partitionsOf(db);
    expect(where.get(veryOld[0]!.id)).toBe("alerts_default");
    expect(where.get(oldDay[0]!.id)).toBe("alerts_p20260610");
    expect(where.get(cutDayOld.id)).toBe("alerts_p20260612");
    // chunks of a removed alert, of a kept one, and an orphan chunk received long ago
    const chunk = (alertId: string): CaptureChunk => ({ alertId, index: 0, count: 1, data: Buffer.from(alertId), eventCount: 1, containerId: "c" });
    await s.insertCaptureChunks([chunk(oldDay[0]!.id), chunk(cutDayOld.id), chunk(recent[0]!.id), chunk("orphan-1")]);
    await admin(db, "UPDATE capture_chunks SET received = $1 WHERE alert_id = 'orphan-1'", [new Date(cutoff - DAY).toISOString()]);

    // forwarders: one behind everything, one mid-way (seq 4: seq 5 of a dropped day and 6 of the cutoff's day unsent), one caught up
    await s.setCursor("behind", 0);
    await s.setCursor("mid", 4);
    await s.setCursor("ahead", 9);
    const result = await s.applyRetention(3 * DAY, now);
    expect(result).toEqual({
      removed: veryOld.length + oldDay.length + 1,
      unsent: [
        { forwarder: "behind", alerts: 6 },
        { forwarder: "mid", alerts: 2 },
      ],
    });
    expect([await s.expiredCount("behind"), await s.expiredCount("mid"), await s.expiredCount("ahead"), await s.expiredCount("none")]).toEqual([6, 2, 0, 0]);
    expect(await s.count()).toBe(3);
    const tables = (await admin<{ relname: string }>(db, "SELECT relname FROM pg_class WHERE relname LIKE 'alerts_p2026%' ORDER BY 1")).map((r) => r.relname);
    expect(tables).not.toContain("alerts_p20260610");
    expect(tables).not.toContain("alerts_p20260611");
    expect(tables).toContain("alerts_p20260612");
    for (const a of [...veryOld, ...oldDay, cutDayOld]) expect(await s.seqOf(a.id)).toBeUndefined();
    expect(await s.seqOf(cutDayNew.id)).toBe(7);
    expect(await s.getCapture(oldDay[0]!.id)).toBeUndefined();
    expect(await s.getCapture(cutDayOld.id)).toBeUndefined();
    expect(await s.getCapture("orphan-1")).toBeUndefined();
    expect(await s.getCapture(recent[0]!.id)).toBeDefined();
    expect((await admin<{ n: string }>(db, "SELECT count(*) AS n FROM alert_ids"))[0]!.n).toBe("3");
    // a second run finds nothing; an alert removed by retention may be stored again (its ID is free)
    expect(await s.applyRetention(3 * DAY, now)).toEqual({ removed: 0, unsent: [] });
    expect(await s.expiredCount("behind")).toBe(6);
    expect((await s.insertBatch([{ seq: 50, alert: oldDay[0]! }])).inserted).toHaveLength(1);
  });
});

describe("PgAlertStore: connection faults", () => {
  it("recovers after a server restart and after a crash: a call may fail with a clear error, the next succeeds", async () => {
    const { logger, lines } = memoryLogger("warn");
    const s = await openStore(server.url, { logger, poolSize: 2 });
    await s.insertBatch([{ seq: 1, alert: makeAlert() }]);
    expect(await s.count()).toBe(1);

    await server.restart();
    const first = await s.count().catch((e: unknown) => e);
    if (first instanceof Error) {
      expect(first).toBeInstanceOf(CollectorError);
      expect((first as CollectorError).code).toBe("store_failed");
      expect(first.message).toMatch(/PostgreSQL count failed/);
    } else expect(first).toBe(1);
    expect(await s.count()).toBe(1);

    await server.kill();
    const down = await s.insertBatch([{ seq: 2, alert: makeAlert() }]).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(CollectorError);
    expect((down as CollectorError).code).toBe("store_failed");
    expect((down as Error).message).toMatch(/PostgreSQL insert alerts failed \(postgres:\/\/vigil@127\.0\.0\.1:\d+\/vigil\): .*ECONNREFUSED|terminat|closed/i);
    await server.start();
    let after: unknown;
    for (let i = 0; i < 3; i++) {
      after = await s.insertBatch([{ seq: 3, alert: makeAlert() }]).catch((e: unknown) => e);
      if (!(after instanceof Error)) break;
    }
    expect(after).toMatchObject({ duplicates: 0 });
    expect(await s.count()).toBe(2);
    for (const l of lines) expect(JSON.stringify(l)).not.toContain(PASSWORD);
  });

  it("fails to open with CollectorError store_failed naming the server, never the password", async () => {
    const refused = await PgAlertStore.open({ url: "postgres://vigil@127.0.0.1:1/vigil", password: PASSWORD, logger: quiet(), connectTimeoutMs: 3000 }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(CollectorError);
    expect((refused as CollectorError).code).toBe("store_failed");
    expect((refused as Error).message).toMatch(/cannot connect to PostgreSQL at postgres:\/\/vigil@127\.0\.0\.1:1\/vigil: .*ECONNREFUSED/);

    const wrong = await PgAlertStore.open({ url: server.url, password: "not-the-password", logger: quiet() }).catch((e: unknown) => e);
    expect((wrong as CollectorError).code).toBe("store_failed");
    expect((wrong as Error).message).toMatch(/password authentication failed for user "vigil"/);

    // a password inside the URL stays out of the message too
    const inUrl = await PgAlertStore.open({
      url: `postgres://vigil:${encodeURIComponent(PASSWORD)}@127.0.0.1:1/vigil`,
      logger: quiet(),
      connectTimeoutMs: 3000,
    }).catch((e: unknown) => e);
    expect((inUrl as CollectorError).code).toBe("store_failed");
    expect((inUrl as Error).message).toContain("postgres://vigil@127.0.0.1:1/vigil");

    for (const bad of ["not a url", "mysql://vigil@127.0.0.1/vigil", `http://u:${PASSWORD}@x/y`, `postgres://u:${PASSWORD}@/db`]) {
      const e = await PgAlertStore.open({ url: bad, logger: quiet() }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CollectorError);
      expect((e as CollectorError).code).toBe("store_failed");
      expect((e as Error).message).toMatch(/bad store URL/);
      expect((e as Error).message).not.toContain(PASSWORD);
    }
    for (const e of [refused, wrong, inUrl]) {
      expect((e as Error).message).not.toContain(PASSWORD);
      expect((e as Error).message).not.toContain(encodeURIComponent(PASSWORD));
    }
  });

  it("says the store is closed after close()", async () => {
    const s = await openStore(server.url);
    await s.close();
    await expect(s.count()).rejects.toMatchObject({ code: "store_failed", message: expect.stringMatching(/closed/) });
    await s.close();
  });
});
