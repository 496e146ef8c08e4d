// SPDX-License-Identifier: Apache-2.0
/**
 * `GET /api/v1/alerts` as the console pages it: `order=desc` (newest first, by alert time then store
 * order), `before=<alert id>` / `after=<alert id>` cursors walking every match exactly once in pages,
 * the `source` filter (store and live tail alike), the limits and the 400s; the same pages from
 * PostgreSQL (a real server) as from SQLite; a store written before the `source` column gets it
 * filled (SQLite on open, PostgreSQL by migration 4).
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeFilter } from "../../collector/filter.js";
import { PgAlertStore } from "../../collector/pg-store.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import type { AlertReader, PageCursor } from "../../collector/store-api.js";
import { AlertStore } from "../../collector/store.js";
import { TailClient } from "../../collector/tail-client.js";
import { type Alert, type AlertFilter, DEFAULT_COLLECTOR_LIMITS, isoFromMs, PRIORITY_NAMES } from "../../proto/index.js";
import { startPostgres, type PgServer } from "../helpers/postgres.js";
import { makeAlert, ndjson, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { send } from "./server-helpers.js";

const TOKEN = "alerts-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const HOUR = 3_600_000;
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;

/**
 * 240 alerts over an hour, stored in an order unlike their time order, several sharing one time
 * exactly (ties go by store order), three sources, all priorities.
 */
function fixture(): Alert[] {
  const out: Alert[] = [];
  for (let i = 0; i < 240; i++) {
    // times out of store order; every fourth alert shares its time with the one before
    const slot = (i * 97) % 240;
    const t = i % 4 === 3 ? out[i - 1]!.time : `${isoFromMs(BASE + slot * 15_000).slice(0, 23)}${String(slot).padStart(6, "0")}Z`;
    out.push(
      makeAlert({
        time: t,
        rule: `Rule ${i % 5}`,
        priority: PRIORITY_NAMES[i % 8]!,
        source: i % 3 === 0 ? "k8s_audit" : i % 3 === 1 ? "syscall" : "aws_cloudtrail",
        hostname: `node-${i % 2}`,
      }),
    );
  }
  return out;
}

/** The fixture in the order a query answers: time, then store (insertion) order; reversed for desc. */
function ordered(alerts: Alert[], desc: boolean, keep: (a: Alert) => boolean = () => true): string[] {
  const idx = alerts.map((a, i) => ({ a, i })).filter((x) => keep(x.a));
  idx.sort((x, y) => (x.a.time < y.a.time ? -1 : x.a.time > y.a.time ? 1 : x.i - y.i));
  const ids = idx.map((x) => x.a.id);
  return desc ? ids.reverse() : ids;
}

describe("GET /api/v1/alerts: newest first, cursors, source (SQLite)", () => {
  let col: RunningCollector;
  let base: string;
  let alerts: Alert[];
  const ids = async (q: string): Promise<string[]> => {
    const r = await send(base, `/api/v1/alerts?${q}`, { headers: auth });
    expect(r.status, r.body).toBe(200);
    return (ndjson(r.body) as { id: string }[]).map((a) => a.id);
  };
  /** Every page of a query by its cursor, `size` alerts a page. */
  const walk = async (q: string, desc: boolean, size: number): Promise<string[]> => {
    const out: string[] = [];
    let last: string | undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const cursor = last === undefined ? "" : `&${desc ? "before" : "after"}=${last}`;
      const page = await ids(`${q}&limit=${size}${desc ? "&order=desc" : ""}${cursor}`);
      out.push(...page);
      if (page.length < size) return out;
      last = page[page.length - 1];
    }
    throw new Error("no end");
  };
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, readToken: "alerts-read", logger: quiet(), retentionMs: 0 });
    base = `http://${col.address}`;
    alerts = fixture();
    expect(col.ingest(alerts)).toMatchObject({ stored: alerts.length, invalid: 0 });
  });
  afterAll(() => col.close());

  it("order=desc answers newest first (ties by store order, reversed); asc stays the default", async () => {
    expect(await ids("since=24h&limit=1000&order=desc")).toEqual(ordered(alerts, true));
    expect(await ids("since=24h&limit=1000")).toEqual(ordered(alerts, false));
    expect(await ids("since=24h&limit=1000&order=asc")).toEqual(ordered(alerts, false));
    // the limit takes the newest
    expect(await ids("since=24h&limit=10&order=desc")).toEqual(ordered(alerts, true).slice(0, 10));
  });

  it.each([1, 7, 50, 239, 240])("before=<last id> pages through every alert once, newest first (pages of %i)", async (size) => {
    expect(await walk("since=24h", true, size)).toEqual(ordered(alerts, true));
  });

  it.each([7, 64])("after=<last id> pages oldest first the same way (pages of %i)", async (size) => {
    expect(await walk("since=24h", false, size)).toEqual(ordered(alerts, false));
  });

  it("cursors combine with filters: the pages hold the filter's matches only", async () => {
    const keep = (a: Alert) => a.rule === "Rule 2" && PRIORITY_NAMES.indexOf(a.priority) <= 4;
    expect(await walk("since=24h&rule=Rule%202&priority=warning", true, 5)).toEqual(ordered(alerts, true, keep));
  });

  it("a cursor alert outside the filter still marks the place", async () => {
    // a k8s_audit alert in the middle, as the cursor of a syscall-only query
    const pivot = ordered(alerts, true)
      .slice(100)
      .find((id) => alerts.find((a) => a.id === id)!.source === "k8s_audit")!;
    const pa = alerts.find((a) => a.id === pivot)!;
    const keep = (a: Alert) => a.source === "syscall" && (a.time < pa.time || (a.time === pa.time && alerts.indexOf(a) < alerts.indexOf(pa)));
    expect(await ids(`since=24h&limit=1000&order=desc&source=syscall&before=${pivot}`)).toEqual(ordered(alerts, true, keep));
  });

  it("source filters on the server: exact, * patterns, with other filters", async () => {
    expect(await ids("since=24h&limit=1000&source=k8s_audit")).toEqual(ordered(alerts, false, (a) => a.source === "k8s_audit"));
    expect(await ids("since=24h&limit=1000&order=desc&source=*s*")).toEqual(ordered(alerts, true));
    expect(await ids("since=24h&limit=1000&source=aws_*&node=node-1")).toEqual(
      ordered(alerts, false, (a) => a.source === "aws_cloudtrail" && a.hostname === "node-1"),
    );
    expect(await ids("since=24h&limit=1000&source=nothing")).toEqual([]);
    expect(await ids("since=24h&limit=1000&source=sys*")).toEqual(ordered(alerts, false, (a) => a.source === "syscall"));
  });

  it("the summary takes the source filter too", async () => {
    const r = await send(base, "/api/v1/summary?since=24h&source=k8s_audit", { headers: auth });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { total: number }).total).toBe(alerts.filter((a) => a.source === "k8s_audit").length);
  });

  it("the live tail filters by source on the server", async () => {
    const got: Alert[] = [];
    let live = false;
    const c = new TailClient({
      address: col.address,
      token: TOKEN,
      filter: { source: "k8s_*" },
      onAlert: (a) => got.push(a),
      onState: (s) => {
        if (s === "live") live = true;
      },
    });
    c.start();
    try {
      await waitFor(() => live, 5000, "live");
      const fresh = [
        makeAlert({ source: "syscall" }),
        makeAlert({ source: "k8s_audit" }),
        makeAlert({ source: "syscall" }),
        makeAlert({ source: "k8s_audit" }),
      ];
      col.ingest(fresh);
      await waitFor(() => got.length >= 2, 5000, "two alerts");
      await new Promise((r) => setTimeout(r, 50));
      expect(got.map((a) => a.id)).toEqual([fresh[1]!.id, fresh[3]!.id]);
    } finally {
      c.stop();
    }
  });

  it.each([
    ["order=newest", /bad order/],
    ["order=", /bad order/],
    ["before=0190f0f0-0000-7000-8000-000000000000", /before goes with order=desc/],
    ["order=desc&after=0190f0f0-0000-7000-8000-000000000000", /after goes with order=asc/],
    ["order=desc&before=not%20an%20id", /bad before/],
    ["after=-x", /bad after/],
    ["order=desc&before=", /bad before/],
    ["order=desc&before=0190f0f0-0000-7000-8000-000000000000", /no stored alert/],
    ["source=", null],
    [`source=${"s".repeat(2000)}`, /bad source/],
    ["limit=0&order=desc", /bad limit/],
    [`limit=${DEFAULT_COLLECTOR_LIMITS.max_query_limit + 1}&order=desc`, /bad limit/],
  ])("%s is a 400 saying why", async (q, why) => {
    const r = await send(base, `/api/v1/alerts?${q}`, { headers: auth });
    if (why === null) {
      // an empty parameter is no filter
      expect(r.status).toBe(200);
      return;
    }
    expect(r.status).toBe(400);
    expect((JSON.parse(r.body) as { error: string }).error).toMatch(why);
  });

  it("the read-only token may page; no token may not", async () => {
    expect((await send(base, "/api/v1/alerts?order=desc&limit=1")).status).toBe(401);
    const r = await send(base, `/api/v1/alerts?order=desc&limit=3&before=${ordered(alerts, true)[0]}`, { headers: { authorization: "Bearer alerts-read" } });
    expect(r.status).toBe(200);
    expect((ndjson(r.body) as { id: string }[]).map((a) => a.id)).toEqual(ordered(alerts, true).slice(1, 4));
  });
});

/** Every page of `f` through a store's queryPage, by cursor. */
async function pages(store: AlertReader, f: AlertFilter, desc: boolean, size: number, maxBytes = 1 << 20): Promise<string[]> {
  const out: string[] = [];
  let after: PageCursor | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const p = await store.queryPage(f, { order: "time", desc, after, limit: size, maxBytes });
    out.push(...p.rows.map((r) => (JSON.parse(r.json) as { id: string }).id));
    if (!p.more) return out;
    after = p.next;
  }
  throw new Error("no end");
}

describe("newest-first pages and source: PostgreSQL answers like SQLite", () => {
  let server: PgServer;
  let pgs: PgAlertStore;
  let lite: AlertStore;
  let alerts: Alert[];
  let url: string;
  beforeAll(async () => {
    server = await startPostgres({ password: "alerts-pw" });
    alerts = fixture();
    // one alert whose other strings hold U+0000 (PostgreSQL's jsonb refuses its escape)
    alerts.push(makeAlert({ time: alerts[5]!.time, source: "syscall", fields: { "fd.name": "/tmp/a\u0000b" } }));
    lite = new AlertStore({ dataDir: ":memory:" });
    lite.insert(alerts);
    url = await server.createDatabase("alerts");
    pgs = await PgAlertStore.open({ url, password: "alerts-pw", logger: quiet(), retentionMs: 30 * 86_400_000 });
    await pgs.insertBatch(alerts.map((alert, i) => ({ seq: i + 1, alert })));
  }, 120_000);
  afterAll(async () => {
    lite?.close();
    await pgs?.close();
    await server?.stop();
  });

  const norm = (q: string) => normalizeFilter(Object.fromEntries(new URLSearchParams(q)) as AlertFilter, { maxSinceMs: 400 * 86_400_000 });
  it.each([
    ["everything", "since=24h"],
    ["source", "since=24h&source=k8s_audit"],
    ["source pattern", "since=24h&source=*_*"],
    ["source and priority", "since=24h&source=syscall&priority=error"],
  ])("%s: the same pages newest first and oldest first", async (_n, q) => {
    const f = norm(q);
    for (const desc of [true, false]) {
      const want = await pages(lite, f, desc, 1000);
      expect(await pages(pgs, f, desc, 1000)).toEqual(want);
      expect(await pages(pgs, f, desc, 7)).toEqual(want);
      expect(await pages(lite, f, desc, 7)).toEqual(want);
      // one row per page by bytes
      expect(await pages(pgs, f, desc, 50, 10)).toEqual(want);
    }
    expect(await pages(lite, f, true, 1000)).toEqual([...(await pages(lite, f, false, 1000))].reverse());
  });

  it("cursorOf gives the same cursor; unknown IDs none", async () => {
    for (const a of [alerts[0]!, alerts[3]!, alerts[alerts.length - 1]!]) expect(await pgs.cursorOf(a.id)).toEqual(lite.cursorOf(a.id));
    expect(await pgs.cursorOf("0190f0f0-0000-7000-8000-000000000000")).toBeUndefined();
    expect(lite.cursorOf("0190f0f0-0000-7000-8000-000000000000")).toBeUndefined();
  });

  it("migration 4 fills the source column of alerts stored before it", async () => {
    await pgs.close();
    const admin = await server.adminClient("alerts");
    try {
      await admin.query("ALTER TABLE alerts DROP COLUMN source");
      await admin.query("DELETE FROM vigil_schema_migrations WHERE version = 4");
    } finally {
      await admin.end();
    }
    pgs = await PgAlertStore.open({ url, password: "alerts-pw", logger: quiet(), retentionMs: 30 * 86_400_000 });
    const f = norm("since=24h&source=aws_cloudtrail");
    expect(await pages(pgs, f, true, 1000)).toEqual(await pages(lite, f, true, 1000));
    expect((await pages(pgs, norm("since=24h&source=syscall"), false, 1000)).length).toBe(alerts.filter((a) => a.source === "syscall").length);
  });
});

describe("a SQLite store written before the source column", () => {
  it("gets the column filled from the stored alerts when opened", () => {
    const dir = tempDir("vigil-source-migrate-");
    try {
      const old = new DatabaseSync(join(dir, "vigil.db"));
      old.exec(`CREATE TABLE alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, time TEXT NOT NULL, rule TEXT NOT NULL,
        prio INTEGER NOT NULL, hostname TEXT NOT NULL, namespace TEXT, pod TEXT, container_id TEXT, container_name TEXT, image TEXT,
        image_repo TEXT, received_ms INTEGER NOT NULL, tags TEXT NOT NULL, json TEXT NOT NULL)`);
      const a = [makeAlert({ source: "k8s_audit" }), makeAlert({ source: "syscall" })];
      for (const x of a)
        old
          .prepare("INSERT INTO alerts (id, time, rule, prio, hostname, received_ms, tags, json) VALUES (?, ?, ?, 4, ?, 0, '', ?)")
          .run(x.id, x.time, x.rule, x.hostname, JSON.stringify(x));
      old.close();
      const s = new AlertStore({ dataDir: dir });
      try {
        const got = s.query(normalizeFilter({ source: "k8s_audit" }), 10);
        expect(got.map((x) => x.alert.id)).toEqual([a[0]!.id]);
        s.insert([makeAlert({ source: "k8s_audit" })]);
        expect(s.query(normalizeFilter({ source: "k8s_audit" }), 10)).toHaveLength(2);
      } finally {
        s.close();
      }
      // opened again: nothing to migrate, nothing lost
      const again = new AlertStore({ dataDir: dir });
      expect(again.query(normalizeFilter({ source: "syscall" }), 10).map((x) => x.alert.id)).toEqual([a[1]!.id]);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
