// SPDX-License-Identifier: Apache-2.0
/**
 * Simulated agents for the fleet tests: N agents in one process, each with its own disk spool and
 * node name, delivering through the agent's real collector sink (spool → NATS JetStream). Each
 * agent raises alerts `<prefix>-<agent>-<k>` for k from `--from` on, at `--rate` alerts/s per
 * agent, until `--count` are raised; after each export returns (the alert is in the spool) it
 * prints `RAISED <agent> <k>`, so a test knows exactly what was raised even when it kills this
 * process. `DRAINED` once every spool is empty after the last alert; stays alive until killed.
 *
 * Usage: sim-agents.ts --servers nats://... --spool DIR --agents N --count M [--from K] [--rate R]
 *        [--prefix P] [--cluster C] [--batch B]
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { createCollectorSink, type CollectorSink } from "../../agent/sinks/collector-sink.js";
import type { Alert } from "../../proto/index.js";
import { natsConnectionSchema } from "../../proto/fleet-schema.js";

const { values: v } = parseArgs({
  options: {
    servers: { type: "string" },
    spool: { type: "string" },
    agents: { type: "string", default: "1" },
    count: { type: "string", default: "100" },
    from: { type: "string", default: "0" },
    rate: { type: "string", default: "100" },
    prefix: { type: "string", default: "sim" },
    cluster: { type: "string", default: "test" },
    batch: { type: "string", default: "10" },
  },
});
const agents = Number(v.agents);
const count = Number(v.count);
const from = Number(v.from);
const rate = Number(v.rate);
const batch = Number(v.batch);
const logger = pino({ level: process.env["SIM_LOG"] ?? "silent" });
const nats = natsConnectionSchema.parse({ cluster: v.cluster });

function alertOf(agent: number, k: number): Alert {
  const id = `${v.prefix}-${agent}-${k}`;
  return {
    id,
    time: new Date().toISOString(),
    rule: k % 3 === 0 ? "Read Shadow File" : "Terminal Shell in Container",
    priority: k % 3 === 0 ? "Warning" : "Notice",
    source: "syscall",
    hostname: `node-${agent}`,
    output: `simulated alert ${id}`,
    output_fields: { "proc.name": "cat", "k8s.ns.name": "default", "k8s.pod.name": `pod-${agent}`, "evt.num": k },
    tags: ["sim", v.prefix!],
  };
}

const sinks: CollectorSink[] = [];
for (let i = 0; i < agents; i++) {
  const dir = join(v.spool!, `agent-${i}`);
  mkdirSync(dir, { recursive: true });
  sinks.push(
    createCollectorSink({
      address: v.servers!,
      nats,
      spoolDir: dir,
      hostname: `node-${i}`,
      backoffMinMs: 100,
      backoffMaxMs: 1000,
      logger,
    }),
  );
}

const out: string[] = [];
const flushOut = () => {
  if (out.length > 0) process.stdout.write(`${out.splice(0).join("\n")}\n`);
};

async function agentLoop(i: number): Promise<void> {
  const sink = sinks[i]!;
  const started = Date.now();
  let k = from;
  while (k < count) {
    const n = Math.min(batch, count - k);
    const list: Alert[] = [];
    for (let j = 0; j < n; j++) list.push(alertOf(i, k + j));
    const r = await sink.export(list);
    if (!r.ok) throw new Error(`agent ${i}: export failed: ${r.error.message}`);
    for (let j = 0; j < n; j++) out.push(`RAISED ${i} ${k + j}`);
    flushOut();
    k += n;
    // pace: k alerts should take (k - from) / rate seconds
    const due = started + ((k - from) / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r2) => setTimeout(r2, wait));
  }
}

await Promise.all(sinks.map((_, i) => agentLoop(i)));
// wait until every spool is acknowledged (the sink's backlog stat)
for (;;) {
  if (sinks.every((s) => s.stats()["backlog"] === 0)) break;
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write("DRAINED\n");
setInterval(() => undefined, 60_000);
