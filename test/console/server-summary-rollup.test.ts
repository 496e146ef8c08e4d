// SPDX-License-Identifier: Apache-2.0
/**
 * The SQLite store's summary rollups (alerts per minute, and per hour per rule/namespace/image/node,
 * kept at insert and retention): over any range, bucket count, priority and source, the summary
 * from the rollups equals the one counted from the alerts, with alerts on minute and hour
 * boundaries, sub-millisecond times, keys holding U+001F, resends, after retention cuts a minute
 * and an hour in two, and in a store written before the rollups existed (counted when opened).
 */
import { rmSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AlertStore } from "../../collector/store.js";
import { assembleSummary, planSummary, type SummaryPlan } from "../../collector/summary.js";
import { type Alert, isoFromMs, PRIORITY_NAMES } from "../../proto/index.js";
import { makeAlert, tempDir } from "../collector/helpers.js";

const MIN = 60_000;
const HOUR = 3_600_000;
const END = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const START = END - 30 * HOUR;
const SOURCES = ["syscall", "k8s_audit", "aws_cloudtrail"];

/** Alerts over 30 hours: many on exact minute and hour starts, the rest anywhere, with nanoseconds. */
function fixture(n: number, seed: number): Alert[] {
  let x = seed;
  const rnd = (k: number) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % k;
  };
  const out: Alert[] = [];
  for (let i = 0; i < n; i++) {
    const kind = rnd(4);
    const ms = kind === 0 ? START + rnd(30) * HOUR : kind === 1 ? START + rnd(30 * 60) * MIN : START + rnd(30 * HOUR);
    const ns = kind < 2 && rnd(2) === 0 ? "000000" : String(rnd(1_000_000)).padStart(6, "0");
    out.push(
      makeAlert({
        time: `${isoFromMs(ms).slice(0, 23)}${ns}Z`,
        rule: rnd(10) === 0 ? "Rule\x1fwith a separator" : `Rule ${rnd(13)}`,
        priority: PRIORITY_NAMES[rnd(8)]!,
        source: SOURCES[rnd(3)]!,
        hostname: `node-${rnd(5)}`,
        fields: {
          "k8s.ns.name": rnd(4) === 0 ? null : `ns-${rnd(6)}`,
          "container.image.repository": rnd(5) === 0 ? null : `registry.example/app-${rnd(7)}`,
        },
      }),
    );
  }
  return out;
}

const plan = (q: string) => planSummary(new URLSearchParams(q), { maxSinceMs: 400 * 86_400_000 });
const both = (s: AlertStore, p: SummaryPlan) => ({ rollup: assembleSummary(p, s.summaryByRollup(p)), rows: assembleSummary(p, s.summaryByRows(p)) });

/** Arbitrary summary requests over the fixture's hours (and a little beyond). */
const requests = fc
  .record({
    from: fc.integer({ min: START - HOUR, max: END }),
    len: fc.oneof(fc.integer({ min: 1, max: 3 * MIN }), fc.integer({ min: 1, max: 31 * HOUR })),
    buckets: fc.integer({ min: 1, max: 200 }),
    priority: fc.option(fc.constantFrom("critical", "warning", "debug", "emergency"), { nil: undefined }),
    source: fc.option(fc.constantFrom("syscall", "k8s_*", "*", "none"), { nil: undefined }),
  })
  .map((r) => {
    const q = new URLSearchParams({ since: isoFromMs(r.from), until: isoFromMs(r.from + r.len), buckets: String(r.buckets) });
    if (r.priority !== undefined) q.set("priority", r.priority);
    if (r.source !== undefined) q.set("source", r.source);
    return q.toString();
  });

describe("summary rollups (SQLite)", () => {
  let store: AlertStore;
  let alerts: Alert[];
  beforeAll(() => {
    store = new AlertStore({ dataDir: ":memory:" });
    alerts = fixture(6000, 7);
    for (let i = 0; i < alerts.length; i += 500) store.insert(alerts.slice(i, i + 500));
    // resent: stored once, counted once
    expect(store.insert(alerts.slice(0, 800)).duplicates).toBe(800);
  });
  afterAll(() => store.close());

  it("the 24 h view and whole-fixture views: rollups and rows agree, and match the alerts", () => {
    for (const q of [
      `since=${isoFromMs(START)}&until=${isoFromMs(END)}`,
      `since=${isoFromMs(START)}&until=${isoFromMs(END)}&buckets=200&priority=warning`,
      `since=${isoFromMs(START + 17_345)}&until=${isoFromMs(END - 123)}&buckets=7&source=k8s_audit`,
      `since=${isoFromMs(END - 24 * HOUR)}&until=${isoFromMs(END)}&buckets=60`,
    ]) {
      const p = plan(q);
      const { rollup, rows } = both(store, p);
      expect(rollup).toEqual(rows);
      expect(rows.total).toBe(
        alerts.filter(
          (a) =>
            a.time >= p.filter.since! &&
            a.time < p.filter.until! &&
            (p.filter.source === undefined || a.source === p.filter.source) &&
            (p.filter.priority === undefined || PRIORITY_NAMES.indexOf(a.priority) <= PRIORITY_NAMES.indexOf("Warning")),
        ).length,
      );
    }
  });

  it("any range, bucket count, priority and source: the same answer both ways", () => {
    fc.assert(
      fc.property(requests, (q) => {
        const { rollup, rows } = both(store, plan(q));
        expect(rollup).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it("summary() answers long ranges filtered on priority and source from the rollups, others from the alerts", () => {
    const long = plan(`since=${isoFromMs(START)}&until=${isoFromMs(END)}`);
    const short = plan(`since=${isoFromMs(END - HOUR)}&until=${isoFromMs(END)}`);
    const filtered = plan(`since=${isoFromMs(START)}&until=${isoFromMs(END)}&rule=Rule%201`);
    const before = [long, short, filtered].map((p) => assembleSummary(p, store.summary(p)).total);
    // a rollup made wrong on purpose shows which path answered
    store.db.exec("UPDATE summary_minutes SET n = n + 1000");
    try {
      const after = [long, short, filtered].map((p) => assembleSummary(p, store.summary(p)).total);
      expect(after[0]).toBeGreaterThan(before[0]!);
      expect(after.slice(1)).toEqual(before.slice(1));
    } finally {
      store.db.exec("UPDATE summary_minutes SET n = n - 1000");
    }
    expect(assembleSummary(long, store.summary(long)).total).toBe(before[0]);
  });

  it("retention cutting a minute and an hour in two keeps both ways equal", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    try {
      const a = fixture(3000, 11);
      s.insert(a);
      // the cutoff in the middle of a minute in the middle of an hour
      const cutoff = START + 9 * HOUR + 27 * MIN + 31_234;
      const r = s.applyRetention(Date.now() - cutoff);
      expect(r.removed).toBe(a.filter((x) => x.time < isoFromMs(cutoff)).length);
      expect(r.removed).toBeGreaterThan(0);
      fc.assert(
        fc.property(requests, (q) => {
          const { rollup, rows } = both(s, plan(q));
          expect(rollup).toEqual(rows);
        }),
        { numRuns: 150 },
      );
      // no rollup rows before the cutoff's minute and hour
      expect(s.db.prepare("SELECT COUNT(*) AS n FROM summary_minutes WHERE minute < ?").get(Math.floor(cutoff / MIN))).toEqual({ n: 0 });
      expect(s.db.prepare("SELECT COUNT(*) AS n FROM summary_hours WHERE hour < ?").get(Math.floor(cutoff / HOUR))).toEqual({ n: 0 });
    } finally {
      s.close();
    }
  });

  it("a store written before the rollups gets them counted from its alerts when opened", () => {
    const dir = tempDir("vigil-rollup-");
    try {
      const a = fixture(2000, 3);
      const s1 = new AlertStore({ dataDir: dir });
      s1.insert(a);
      s1.db.exec("DROP TABLE summary_minutes; DROP TABLE summary_hours");
      s1.close();
      const s2 = new AlertStore({ dataDir: dir });
      try {
        fc.assert(
          fc.property(requests, (q) => {
            const { rollup, rows } = both(s2, plan(q));
            expect(rollup).toEqual(rows);
          }),
          { numRuns: 100 },
        );
        // and kept from there on
        s2.insert(fixture(500, 5));
        const p = plan(`since=${isoFromMs(START)}&until=${isoFromMs(END)}`);
        const { rollup, rows } = both(s2, p);
        expect(rollup).toEqual(rows);
      } finally {
        s2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
