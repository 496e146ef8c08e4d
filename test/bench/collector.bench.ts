// SPDX-License-Identifier: Apache-2.0
/**
 * Collector benchmarks (`npx vitest bench --run test/bench/collector.bench.ts`):
 * - ingest: batches of 500 alerts pushed over gRPC (through the public port's protocol switch)
 *   and stored in SQLite; alerts/s = ops/s × 500;
 * - tail fan-out: 100 alerts stored and delivered to 50 WebSocket clients, until every client
 *   has every alert; deliveries/s = ops/s × 100 × 50;
 * - end-to-end latency from a syscall to a `vigil tail` line: printed as p50/p99 by the
 *   `collector-latency` bench (see that file).
 */
import { bench, describe } from "vitest";
import { pino } from "pino";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { mkdtempSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { spawnTs } from "../sinks/helpers/run-ts.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alertToProto, vigilProto, type Alert } from "../../proto/index.js";
import { sampleAlert } from "./sample-alert.mjs";

function alert(i: number): Alert {
  return sampleAlert(i);
}

const logger = pino({ level: "silent" });
const dir = () => mkdtempSync(join(tmpdir(), "vigil-bench-"));

/**
 * CPU cost of ingest, robust to a busy machine: a `vigil collector` child process receives
 * pre-encoded PushRequests of 500 alerts; its CPU time (utime + stime from /proc) per alert gives
 * alerts per CPU-second, i.e. the rate one core sustains.
 */
async function ingestCpu(): Promise<Record<string, number>> {
  const data = dir();
  const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", data, "--retention", "0"], {
    env: { ...process.env, VIGIL_LOG_LEVEL: "info" },
  });
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (l) => {
      try {
        const o = JSON.parse(l) as { msg?: string; address?: string };
        if (o.msg === "vigil collector ready") resolve(o.address!);
      } catch {
        // not JSON
      }
    });
    child.on("exit", (c) => reject(new Error(`collector exited ${c}`)));
  });
  const ticks = () => {
    const f = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const { PushRequest } = vigilProto();
  const bufs = Array.from({ length: 120 }, () =>
    Buffer.from(PushRequest.encode({ alerts: Array.from({ length: 500 }, (_v, i) => alertToProto(alert(i))) }).finish()),
  );
  const c = new CollectorClient({ address });
  for (const b of bufs.slice(0, 20)) await c.pushRaw(b); // warm up
  const t0 = ticks();
  const w0 = performance.now();
  for (const b of bufs.slice(20)) await c.pushRaw(b);
  const wall = (performance.now() - w0) / 1000;
  const cpu = (ticks() - t0) / 100; // USER_HZ
  c.close();
  child.kill("SIGTERM");
  const alerts = 100 * 500;
  return {
    alerts,
    wallSeconds: +wall.toFixed(3),
    collectorCpuSeconds: cpu,
    alertsPerSecWall: Math.round(alerts / wall),
    alertsPerCpuSecond: Math.round(alerts / cpu),
  };
}
console.log(`collector ingest cpu: ${JSON.stringify({ node: process.version, ...(await ingestCpu()) })}`);

// set up at module load: bench mode runs no beforeAll hooks
const ingestCol: RunningCollector = await startCollector({ listen: "127.0.0.1:0", dataDir: dir(), logger, retentionMs: 0 });
const ingestClient = new CollectorClient({ address: ingestCol.address });
let n = 0;

const fanCol: RunningCollector = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", logger, retentionMs: 0, tailQueueBytes: 64 * 1024 * 1024 });
// the 50 clients live in another process, so this one measures the collector's side only
const fanClients = spawnTs("test/bench/collector-fanout-clients.ts", [fanCol.address, "50"], { stdio: ["pipe", "pipe", "inherit"] });
const fanLines = createInterface({ input: fanClients.stdout! });
let fanWaiter: ((l: string) => void) | undefined;
fanLines.on("line", (l) => fanWaiter?.(l));
await new Promise<void>((r) => (fanWaiter = (l) => l === "ready" && r()));
let target = 0;

describe("collector ingest", () => {
  bench(
    "push 500 alerts over gRPC and store them (SQLite, one transaction)",
    async () => {
      const batch = Array.from({ length: 500 }, () => alert(n++));
      await ingestClient.push(batch, []);
    },
    { time: 5000, warmupIterations: 5 },
  );
});

describe("tail fan-out", () => {
  bench(
    "store 100 alerts and deliver each to 50 WebSocket clients (clients in another process)",
    async () => {
      target += 100;
      const t = target;
      const done = new Promise<void>((r) => (fanWaiter = (l) => l === `ok ${t}` && r()));
      fanClients.stdin!.write(`${t}\n`);
      fanCol.ingest(Array.from({ length: 100 }, (_v, i) => alert(i)));
      await done;
    },
    { time: 5000, warmupIterations: 3 },
  );
});
