// SPDX-License-Identifier: Apache-2.0
/**
 * What the web console's first view costs the store: `GET /api/v1/summary` (the timeline and top
 * lists) over 100,000 alerts spread over the last 24 hours, and the newest page of the list.
 *
 * The store is filled with realistic alerts (test/bench/sample-alert.mjs: 15 output fields, 3
 * tags) spread evenly over the 24 h before now, across 20 rules, all 8 priorities, 40 namespaces,
 * 25 images and 12 nodes; SQLite in a file as the collector runs it (WAL, synchronous NORMAL), and
 * with `--pg` PostgreSQL 15 too (a fresh cluster, test/helpers/postgres.ts). For each store: the
 * insert rate (batches of 500), then each query `--runs` times (default 7), median and min in ms.
 * On SQLite a query runs on the event loop: its time is how long the collector answers nothing else.
 * SQLite's summaries are also timed counted from the alerts (`summaryByRows`, what every summary
 * cost before the rollups) for comparison.
 *
 * With `--browser`: a collector on the SQLite file, and the console's first view in Debian's Chromium
 * (a fresh context each run, logged in by `#token=`): the time the console itself shows from
 * start to its first rows, and from navigation until the list shows its first page.
 *
 * usage: node --import ./test/sinks/helpers/register-ts.mjs test/bench/console-summary.ts [--alerts N] [--runs N] [--pg] [--browser]
 * (the console built first for --browser: npm run build:console)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { normalizeFilter } from "../../collector/filter.js";
import { PgAlertStore } from "../../collector/pg-store.js";
import type { AlertReader } from "../../collector/store-api.js";
import { startCollector } from "../../collector/server.js";
import { AlertStore } from "../../collector/store.js";
import { planSummary } from "../../collector/summary.js";
import { type Alert, DEFAULT_COLLECTOR_LIMITS, filterFromParams, isoFromMs, PRIORITY_NAMES } from "../../proto/index.js";
import { launchChromium } from "../helpers/chromium.js";
import { startPostgres } from "../helpers/postgres.js";
import { sampleAlert } from "./sample-alert.mjs";

const { values: args } = parseArgs({
  options: {
    alerts: { type: "string", default: "100000" },
    runs: { type: "string", default: "7" },
    pg: { type: "boolean", default: false },
    browser: { type: "boolean", default: false },
  },
});
const N = Number(args.alerts);
const RUNS = Number(args.runs);
const DAY = 86_400_000;
const now = Date.now();

function alerts(): Alert[] {
  const out: Alert[] = [];
  for (let i = 0; i < N; i++) {
    const ms = now - DAY + Math.floor(((i + 0.5) * DAY) / N);
    const a = sampleAlert(i, {
      time: `${isoFromMs(ms).slice(0, 23)}${String(i % 1_000_000).padStart(6, "0")}Z`,
      // skewed so the top lists have a clear order
      rule: `Rule ${(i * i) % 20}`,
      priority: PRIORITY_NAMES[i % 8],
      hostname: `node-${i % 12}`,
      namespace: `ns-${(i * 7) % 40}`,
      pod: `pod-${i % 500}`,
      containerId: (i % 3000).toString(16).padStart(12, "0"),
    });
    a.output_fields["container.image.repository"] = `registry.example/app-${(i * 3) % 25}`;
    a.output_fields["container.image.tag"] = "1.0";
    if (i % 10 === 0) a.source = "k8s_audit";
    out.push(a);
  }
  return out;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, min ${s[0]!.toFixed(1)} ms`;
}

async function time(fn: () => unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** The queries of the console's first view, each RUNS times. */
async function measure(name: string, store: AlertReader): Promise<void> {
  const limits = { maxSinceMs: DEFAULT_COLLECTOR_LIMITS.max_since_ms, now };
  const cases: [string, string][] = [
    ["summary, 24 h, 60 buckets", "since=24h"],
    ["summary, 24 h, priority=warning", "since=24h&priority=warning"],
    ["summary, 24 h, rule=Rule 4", "since=24h&rule=Rule%204"],
    ["summary, 24 h, namespace=ns-3", "since=24h&namespace=ns-3"],
    ["summary, last hour", "since=1h"],
  ];
  for (const [label, q] of cases) {
    const plan = planSummary(new URLSearchParams(q), limits);
    const t: number[] = [];
    let total = 0;
    for (let r = 0; r < RUNS; r++)
      t.push(
        await time(async () => {
          const c = await store.summary(plan);
          total = c.cells.reduce((s, x) => s + x.n, 0);
        }),
      );
    console.log(`${name}: ${label} (${total} alerts): ${stats(t)}`);
    if (store instanceof AlertStore && q !== "since=1h") {
      // what the same request cost before the rollups: counted from the alerts
      const r: number[] = [];
      for (let i = 0; i < RUNS; i++) r.push(await time(() => store.summaryByRows(plan)));
      console.log(`${name}: ${label}, counted from the alerts: ${stats(r)}`);
    }
  }
  const f = normalizeFilter(filterFromParams(new URLSearchParams("since=24h")), limits);
  const page = async (desc: boolean) => {
    const t: number[] = [];
    for (let r = 0; r < RUNS; r++)
      t.push(
        await time(async () => {
          let after;
          let left = 5000;
          while (left > 0) {
            const p = await store.queryPage(f, { order: "time", desc, after, limit: Math.min(left, 500), maxBytes: DEFAULT_COLLECTOR_LIMITS.page_bytes });
            left -= p.rows.length;
            after = p.next;
            if (!p.more) break;
          }
        }),
      );
    return stats(t);
  };
  console.log(`${name}: 5,000 alerts in pages of 500, oldest first: ${await page(false)}`);
  console.log(`${name}: 5,000 alerts in pages of 500, newest first: ${await page(true)}`);
}

/** The console's first view of the store in `dir`, in Chromium, RUNS times. */
async function firstView(dir: string): Promise<void> {
  const token = "console-bench-token";
  const col = await startCollector({ listen: "127.0.0.1:0", dataDir: dir, token, logger: pino({ level: "silent" }), retentionMs: 0 });
  const browser = await launchChromium();
  try {
    const shown: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      const t = performance.now();
      await page.goto(`http://${col.address}/#token=${token}`);
      const label = page.locator(".top-bar .count .muted");
      await label.waitFor({ timeout: 30_000 });
      wall.push(performance.now() - t);
      shown.push(Number(/\((\d+) ms\)/.exec((await label.textContent()) ?? "")?.[1]));
      await ctx.close();
    }
    console.log(`browser: first view of ${N} alerts, the console's own start-to-first-rows: ${stats(shown)}`);
    console.log(`browser: first view, navigation to the first rows: ${stats(wall)}`);
  } finally {
    await browser.close();
    await col.close();
  }
}

const data = alerts();
const dir = mkdtempSync(join(tmpdir(), "vigil-console-bench-"));
try {
  const lite = new AlertStore({ dataDir: dir });
  let t = performance.now();
  for (let i = 0; i < data.length; i += 500) lite.insert(data.slice(i, i + 500));
  console.log(`sqlite: inserted ${N} alerts at ${Math.round(N / ((performance.now() - t) / 1000))} alerts/s`);
  await measure("sqlite", lite);
  lite.close();
  if (args.browser) await firstView(dir);
  if (args.pg) {
    const server = await startPostgres({});
    try {
      const pgs = await PgAlertStore.open({ url: server.url, logger: pino({ level: "silent" }), retentionMs: 3 * DAY });
      t = performance.now();
      for (let i = 0; i < data.length; i += 500) await pgs.insertBatch(data.slice(i, i + 500).map((alert, j) => ({ seq: i + j + 1, alert })));
      console.log(`pg: inserted ${N} alerts at ${Math.round(N / ((performance.now() - t) / 1000))} alerts/s`);
      await measure("pg", pgs);
      await pgs.close();
    } finally {
      await server.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
