// SPDX-License-Identifier: Apache-2.0
/**
 * `GET /api/v1/summary` (collector/summary.ts): counts per bucket and priority, the top lists and
 * the total, checked against counts made here from the alerts themselves; the same answers from
 * the SQLite store and from PostgreSQL (a real server); bounds (buckets, range clamp, top 10);
 * bad parameters a 400, never a 500.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { AlertStore } from "../../collector/store.js";
import { PgAlertStore } from "../../collector/pg-store.js";
import { assembleSummary, MAX_SUMMARY_BUCKETS, planSummary, type Summary } from "../../collector/summary.js";
import { type Alert, isoFromMs, PRIORITY_NAMES, type PriorityName } from "../../proto/index.js";
import { startPostgres, type PgServer } from "../helpers/postgres.js";
import { makeAlert, quiet } from "../collector/helpers.js";
import { send } from "./server-helpers.js";

const TOKEN = "summary-token";
const HOUR = 3_600_000;
// a whole hour, two hours back: every alert below falls in [FROM, TO)
const TO = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const FROM = TO - HOUR;

const RULES = Array.from({ length: 12 }, (_, i) => `Rule ${String.fromCharCode(65 + i)}`);

/** 300 alerts spread over the hour: rules with distinct frequencies, priorities, namespaces, images, nodes; some on the edges. */
function fixture(): Alert[] {
  const out: Alert[] = [];
  for (let i = 0; i < 300; i++) {
    const ms = FROM + Math.floor((i * HOUR) / 300);
    const ns = String((i * 7919) % 1_000_000).padStart(6, "0");
    const rule = RULES[i % 12 < 6 ? i % 12 : (i * 5) % 12]!;
    const fields: Record<string, string | null> = {
      "k8s.ns.name": i % 5 === 0 ? null : `ns-${i % 4}`,
      "container.image.repository": i % 7 === 0 ? null : `registry.example/app-${i % 3}`,
      "container.image.tag": i % 7 === 0 ? null : "1.0",
    };
    out.push(
      makeAlert({
        time: `${isoFromMs(ms).slice(0, 23)}${ns}Z`,
        rule,
        priority: PRIORITY_NAMES[i % 8]!,
        hostname: `node-${i % 3}`,
        fields,
      }),
    );
  }
  // edges: exactly at from (in), one nanosecond before (out), exactly at to (out), the last nanosecond before to (in)
  out.push(makeAlert({ time: `${isoFromMs(FROM).slice(0, 23)}000000Z`, rule: "Edge in", priority: "Critical" }));
  out.push(makeAlert({ time: `${isoFromMs(FROM - 1).slice(0, 23)}999999Z`, rule: "Edge out", priority: "Critical" }));
  out.push(makeAlert({ time: `${isoFromMs(TO).slice(0, 23)}000000Z`, rule: "Edge out", priority: "Critical" }));
  out.push(makeAlert({ time: `${isoFromMs(TO - 1).slice(0, 23)}999999Z`, rule: "Edge in", priority: "Critical" }));
  return out;
}

/** The expected summary, counted here alert by alert. */
function expected(alerts: Alert[], buckets: number, keep: (a: Alert) => boolean = () => true): Summary {
  const bucketMs = Math.max(1000, Math.ceil(HOUR / buckets / 1000) * 1000);
  const n = Math.ceil(HOUR / bucketMs);
  const zero = () => Object.fromEntries(PRIORITY_NAMES.map((p) => [p, 0])) as Record<PriorityName, number>;
  const out: Summary = {
    from: new Date(FROM).toISOString(),
    to: new Date(TO).toISOString(),
    bucketMs,
    buckets: Array.from({ length: n }, (_, i) => ({ t: new Date(FROM + i * bucketMs).toISOString(), counts: zero() })),
    top: { rules: [], namespaces: [], images: [], nodes: [] },
    total: 0,
  };
  const tally = {
    rules: new Map<string, number>(),
    namespaces: new Map<string, number>(),
    images: new Map<string, number>(),
    nodes: new Map<string, number>(),
  };
  const bump = (m: Map<string, number>, k: unknown) => {
    if (typeof k === "string") m.set(k, (m.get(k) ?? 0) + 1);
  };
  for (const a of alerts) {
    const ms = Date.parse(a.time);
    if (ms < FROM || ms >= TO || !keep(a)) continue;
    out.buckets[Math.floor((ms - FROM) / bucketMs)]!.counts[a.priority]++;
    out.total++;
    bump(tally.rules, a.rule);
    bump(tally.namespaces, a.output_fields["k8s.ns.name"]);
    const repo = a.output_fields["container.image.repository"];
    bump(tally.images, typeof repo === "string" ? `${repo}:${a.output_fields["container.image.tag"]}` : undefined);
    bump(tally.nodes, a.hostname);
  }
  for (const k of ["rules", "namespaces", "images", "nodes"] as const)
    out.top[k] = [...tally[k]]
      .map(([key, count]) => ({ key, count }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      .slice(0, 10);
  return out;
}

const range = `since=${encodeURIComponent(new Date(FROM).toISOString())}&until=${encodeURIComponent(new Date(TO).toISOString())}`;

describe("GET /api/v1/summary (SQLite)", () => {
  let col: RunningCollector;
  let base: string;
  let alerts: Alert[];
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = async (q: string) => {
    const r = await send(base, `/api/v1/summary?${q}`, { headers: auth });
    return { status: r.status, body: JSON.parse(r.body) as Summary & { error?: string } };
  };
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, readToken: "summary-read", logger: quiet(), retentionMs: 0 });
    base = `http://${col.address}`;
    alerts = fixture();
    const r = col.ingest(alerts);
    expect(r).toMatchObject({ stored: alerts.length, invalid: 0 });
  });
  afterAll(() => col.close());

  it.each([60, 1, 7, 200])("counts per bucket and priority, top lists and total match the alerts (%i buckets)", async (n) => {
    const r = await get(`${range}&buckets=${n}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expected(alerts, n));
  });

  it("the filter params of /api/v1/alerts apply", async () => {
    expect((await get(`${range}&buckets=12&priority=warning`)).body).toEqual(expected(alerts, 12, (a) => PRIORITY_NAMES.indexOf(a.priority) <= 4));
    expect((await get(`${range}&buckets=12&rule=Rule%20B`)).body).toEqual(expected(alerts, 12, (a) => a.rule === "Rule B"));
    expect((await get(`${range}&buckets=12&namespace=ns-*&node=node-1`)).body).toEqual(
      expected(alerts, 12, (a) => a.hostname === "node-1" && typeof a.output_fields["k8s.ns.name"] === "string"),
    );
    const none = (await get(`${range}&rule=nothing`)).body;
    expect(none.total).toBe(0);
    expect(none.top).toEqual({ rules: [], namespaces: [], images: [], nodes: [] });
    expect(none.buckets).toHaveLength(60);
  });

  it("is bounded: top lists of at most 10, buckets at most 200, whole-second widths", async () => {
    const b = (await get(range)).body;
    expect(b.top.rules).toHaveLength(10);
    expect(b.buckets).toHaveLength(60);
    expect(b.bucketMs).toBe(60_000);
    // a 10-second range asked in 200 buckets: 10 buckets of a second
    const short = (await get(`since=${new Date(FROM).toISOString()}&until=${new Date(FROM + 10_000).toISOString()}&buckets=200`)).body;
    expect(short.bucketMs).toBe(1000);
    expect(short.buckets).toHaveLength(10);
  });

  it("defaults: until now, since 24 h before", async () => {
    const before = Date.now();
    const b = (await get("")).body;
    expect(Date.parse(b.to)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(b.to) - Date.parse(b.from)).toBe(24 * HOUR);
    // the fixture lies within the last 3 hours: every alert, the edges' outliers too
    expect(b.total).toBe(alerts.length);
  });

  it("a range longer than max_since_ms is clamped, and the answer says the range it covers", async () => {
    const c2 = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: TOKEN,
      logger: quiet(),
      retentionMs: 0,
      limits: { max_since_ms: HOUR / 2 },
    });
    try {
      c2.ingest(alerts);
      const r = await send(`http://${c2.address}`, `/api/v1/summary?${range}`, { headers: auth });
      const b = JSON.parse(r.body) as Summary;
      expect(r.status).toBe(200);
      expect(b.from).toBe(new Date(TO - HOUR / 2).toISOString());
      expect(b.total).toBe(alerts.filter((a) => Date.parse(a.time) >= TO - HOUR / 2 && Date.parse(a.time) < TO).length);
    } finally {
      await c2.close();
    }
  });

  it.each([
    ["buckets=0", /bad buckets/],
    [`buckets=${MAX_SUMMARY_BUCKETS + 1}`, /bad buckets/],
    ["buckets=-1", /bad buckets/],
    ["buckets=1.5", /bad buckets/],
    ["buckets=abc", /bad buckets/],
    ["buckets=", /bad buckets/],
    ["buckets=99999999999999999999", /bad buckets/],
    ["priority=severe", /unknown priority/],
    ["since=yesterday", /bad time/],
    ["since=99999d", /reaches back/],
    [`since=${new Date(TO).toISOString()}&until=${new Date(FROM).toISOString()}`, /empty range/],
    [`since=${new Date(TO).toISOString()}&until=${new Date(TO).toISOString()}`, /empty range/],
    [`rule=${"x".repeat(2000)}`, /bad rule/],
  ])("%s is a 400 saying why", async (q, why) => {
    const r = await get(q);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(why);
  });

  it("arbitrary parameters get a 200 or a 400, never a 500 or a crash", async () => {
    const keys = ["since", "until", "buckets", "priority", "rule", "tag", "node", "namespace", "pod", "container", "image", "limit", "x"];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...keys), fc.string({ maxLength: 30 })), { maxLength: 6 }), async (pairs) => {
        const q = new URLSearchParams(pairs).toString();
        const r = await send(base, `/api/v1/summary?${q}`, { headers: auth });
        expect([200, 400]).toContain(r.status);
        expect(() => JSON.parse(r.body)).not.toThrow();
      }),
      { numRuns: 300 },
    );
    expect(col.stats()["http_internal_errors"]).toBe(0);
    expect((await send(base, "/healthz")).status).toBe(200);
  });

  it("needs authentication like every API route; the read-only token may read it", async () => {
    expect((await send(base, `/api/v1/summary?${range}`)).status).toBe(401);
    const r = await send(base, `/api/v1/summary?${range}`, { headers: { authorization: "Bearer summary-read" } });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as Summary).total).toBe(expected(alerts, 60).total);
  });
});

describe("GET /api/v1/summary: PostgreSQL answers like SQLite", () => {
  let server: PgServer;
  let pgs: PgAlertStore;
  let lite: AlertStore;
  let alerts: Alert[];
  beforeAll(async () => {
    server = await startPostgres({ password: "summary-pw" });
    alerts = fixture();
    lite = new AlertStore({ dataDir: ":memory:" });
    lite.insert(alerts);
    pgs = await PgAlertStore.open({ url: await server.createDatabase("summary"), password: "summary-pw", logger: quiet(), retentionMs: 30 * 86_400_000 });
    await pgs.insertBatch(alerts.map((alert, i) => ({ seq: i + 1, alert })));
  }, 120_000);
  afterAll(async () => {
    lite?.close();
    await pgs?.close();
    await server?.stop();
  });

  it.each([
    ["the whole hour, 60 buckets", `${range}&buckets=60`],
    ["one bucket", `${range}&buckets=1`],
    ["200 buckets", `${range}&buckets=200`],
    ["priority", `${range}&priority=error`],
    ["rule glob", `${range}&rule=Rule%20*`],
    ["namespace and image", `${range}&namespace=ns-2&image=registry.example/app-1`],
    ["tag", `${range}&tag=T1003.008`],
    ["nothing", `${range}&rule=none`],
    ["edges inside one second", `since=${new Date(FROM).toISOString()}&until=${new Date(FROM + 1000).toISOString()}`],
  ])("%s", async (_name, q) => {
    const plan = planSummary(new URLSearchParams(q), { maxSinceMs: 400 * 86_400_000 });
    const want = assembleSummary(plan, lite.summary(plan));
    const got = assembleSummary(plan, await pgs.summary(plan));
    expect(got).toEqual(want);
    if (q.startsWith(`${range}&buckets=60`)) expect(got).toEqual(expected(alerts, 60));
  });
});
