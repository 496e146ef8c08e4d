// SPDX-License-Identifier: Apache-2.0
/**
 * End-to-end latency from a syscall to a line in `vigil tail`
 * (`npx vitest bench --run test/bench/collector-latency.bench.ts`, root, probe built):
 * kernel probe → agent pipeline (rules) → collector sink (spool with fdatasync, gRPC push) →
 * collector (SQLite) → WebSocket → a real `vigil tail --output json` child process. Latency =
 * the moment the tail's line is read minus the event's kernel timestamp (the alert's `time`).
 * Prints `collector latency: {...}` with p50/p99 over 200 `cat /etc/shadow` runs.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pino } from "pino";
import { bench, describe } from "vitest";
import { Pipeline } from "../../agent/pipeline.js";
import { createCollectorSink } from "../../agent/sinks/collector-sink.js";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { startCollector } from "../../collector/server.js";
import { TailClient } from "../../collector/tail-client.js";
import { v7 as uuidv7 } from "uuid";
import { spawnTs } from "../sinks/helpers/run-ts.js";

const dir = () => mkdtempSync(join(tmpdir(), "vigil-lat-"));
const logger = pino({ level: "silent" });
const rules = join(dir(), "rules.yaml");
writeFileSync(
  rules,
  `- rule: Latency probe
  desc: shadow read by cat
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow and proc.name = cat
  output: shadow read by %proc.name (pid=%proc.pid)
  priority: WARNING
`,
);

const col = await startCollector({ listen: "127.0.0.1:0", dataDir: dir(), logger, retentionMs: 0 });
// VIGIL_BENCH_FSYNC=none measures the same path without the spool's fdatasync
const fsync = process.env["VIGIL_BENCH_FSYNC"] === "none" ? "none" : "batch";
const sink = createCollectorSink({ address: col.address, spoolDir: dir(), logger, fsync });
const pipeline = new Pipeline({
  rulesFiles: [rules],
  logger,
  sinks: [sink],
  statsIntervalSec: 0,
  source: (ctx) => {
    const s = new KernelEventStream({ syscalls: ctx.syscalls, logger: ctx.logger, onEvent: ctx.onEvent });
    return { name: "ebpf", start: () => s.start(), stop: () => s.stop(), stats: () => s.stats() };
  },
});
await pipeline.start();

const tail = spawnTs("agent/cli/main.ts", ["tail", "--collector", col.address, "--output", "json"]);
const waiters = new Map<string, (ms: number) => void>();
createInterface({ input: tail.stdout! }).on("line", (l) => {
  const now = Date.now();
  const a = JSON.parse(l) as { time: string; output_fields: Record<string, unknown> };
  const t = Date.parse(a.time.slice(0, 23) + "Z") + Number(a.time.slice(23, 29)) / 1e6;
  waiters.get(String(a.output_fields["proc.pid"]))?.(now - t);
});

/** Runs `cat /etc/shadow` and resolves with the syscall → tail-line latency (ms). */
function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = spawnSync("cat", ["/etc/shadow"], { stdio: "ignore" });
    const key = String(r.pid);
    const timer = setTimeout(() => {
      waiters.delete(key);
      reject(new Error("no tail line within 5 s"));
    }, 5000);
    waiters.set(key, (ms) => {
      clearTimeout(timer);
      waiters.delete(key);
      resolve(ms);
    });
  });
}

// the tail connects asynchronously: retry until its first line arrives
for (let i = 0; ; i++) {
  try {
    await once();
    break;
  } catch (err) {
    if (i > 5) throw err;
  }
}
const samples: number[] = [];
for (let i = 0; i < 200; i++) {
  samples.push(await once());
  await new Promise((r) => setTimeout(r, 20));
}
samples.sort((a, b) => a - b);
const pct = (p: number) => +samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!.toFixed(2);
console.log(
  `collector latency: ${JSON.stringify({ samples: samples.length, p50Ms: pct(50), p90Ms: pct(90), p99Ms: pct(99), maxMs: +samples.at(-1)!.toFixed(2), fsync, load1: +loadavg()[0]!.toFixed(2) })}`,
);

// the delivery part alone: sink.export() → spool → gRPC → SQLite → WebSocket → tail client
{
  const got = new Map<string, (t: number) => void>();
  let live = false;
  const tc = new TailClient({
    address: col.address,
    filter: { rule: "delivery-only" },
    onAlert: (a) => got.get(a.id)?.(performance.now()),
    onState: (st) => (live ||= st === "live"),
  });
  tc.start();
  while (!live) await new Promise((r) => setTimeout(r, 10));
  const d: number[] = [];
  for (let i = 0; i < 200; i++) {
    const id = uuidv7();
    const t0 = performance.now();
    const arrived = new Promise<number>((r) => got.set(id, r));
    await sink.export([
      {
        id,
        time: new Date().toISOString().replace("Z", "000000Z"),
        rule: "delivery-only",
        priority: "Notice",
        source: "syscall",
        hostname: "h",
        output: "x",
        output_fields: {},
        tags: [],
      },
    ]);
    d.push((await arrived) - t0);
    got.delete(id);
    await new Promise((r) => setTimeout(r, 20));
  }
  tc.stop();
  d.sort((a, b) => a - b);
  const q = (p: number) => +d[Math.min(d.length - 1, Math.floor((p / 100) * d.length))]!.toFixed(2);
  console.log(
    `collector delivery latency: ${JSON.stringify({ samples: d.length, p50Ms: q(50), p90Ms: q(90), p99Ms: q(99), maxMs: +d.at(-1)!.toFixed(2), fsync, load1: +loadavg()[0]!.toFixed(2) })}`,
  );
}

describe("syscall to vigil tail line", () => {
  bench(
    "cat /etc/shadow → alert → spool → collector → WebSocket → vigil tail line (includes spawning cat)",
    async () => {
      await once();
    },
    { time: 3000, iterations: 20 },
  );
});
