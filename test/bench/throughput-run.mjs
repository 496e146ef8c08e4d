// SPDX-License-Identifier: Apache-2.0
// One measurement of the agent's user-space event path (issue 22's CI guard, test/bench/throughput-guard.sh):
// frames in the probe's wire layout → EventAssembler (framing, decode, process/fd state) → the real
// Pipeline (behaviour stages, capture gate, rule evaluation, alert building for the matches) with
// Falco's stable rules, no probe and no kernel. Prints one line: `events_per_s <n> events <n>
// matches <n> ms <n>`.
//
//   node test/bench/throughput-run.mjs --tree DIR [--rules FILE] [--ms 2000] [--processes 4000]
//
// DIR is a built checkout (`npx tsc -p DIR`): its own dist/ is measured, so one runner compares two
// trees (the guard runs it on the tree under test and on a baseline commit built beside it). The
// workload is every event type the rules need (decode/synthetic.ts: clone from both sides, exec,
// one call of each type, exit, per synthetic process), generated once by the tree's own frame
// writer, so a change of the wire layout is measured consistently in either tree.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

const { values } = parseArgs({
  options: {
    tree: { type: "string", default: "." },
    rules: { type: "string", default: "../shared/corpus/falco/falco_rules.yaml" },
    ms: { type: "string", default: "2000" },
    processes: { type: "string", default: "4000" },
  },
});
const tree = resolve(values.tree);
const load = (p) => import(pathToFileURL(resolve(tree, "dist", p)).href);
const { Pipeline } = await load("agent/pipeline.js");
const { EventAssembler } = await load("agent/assembler.js");
const { syntheticFrames } = await load("agent/decode/synthetic.js");
const { default: pino } = await import(pathToFileURL(resolve(tree, "node_modules/pino/pino.js")).href);

let ctx;
let alerts = 0;
const sink = {
  name: "count",
  async export(batch) {
    alerts += batch.length;
    return { ok: true };
  },
  async forceFlush() {},
  async shutdown() {},
};
const pipeline = new Pipeline({
  rulesFiles: [resolve(values.rules)],
  logger: pino({ level: "silent" }),
  hostname: "bench-node",
  sinks: [sink],
  kernelFilter: false,
  warmupEvents: 0,
  statsIntervalSec: 0,
  source: (c) => {
    ctx = c;
    return { name: "bench", start: async () => {}, stop: async () => {}, stats: () => ({}) };
  },
});
await pipeline.start();

// the frames, copied out of the writer's reused buffer, in pipe-read-sized pieces
const pieces = [];
let bytes = 0;
for (const chunk of syntheticFrames(ctx.syscalls, Number(values.processes), 65536)) {
  const c = Buffer.from(chunk);
  bytes += c.length;
  for (let o = 0; o < c.length; o += 65536) pieces.push(c.subarray(o, Math.min(c.length, o + 65536)));
}
let events = 0;
const asm = new EventAssembler({
  state: { readUnknownFromProc: false, procRoot: "/nonexistent/vigil-bench", exitGraceMs: 0, max: 65536 },
  resolveContainer: ctx.resolveContainer,
  onEvent: (e) => {
    events++;
    ctx.onEvent(e);
  },
});
const pass = () => {
  for (const p of pieces) asm.push(p);
};
// warm up (the agent warms its event path at start the same way), then let the alert queue drain
for (let i = 0; i < 5; i++) pass();
await new Promise((r) => setTimeout(r, 50));
const budget = Number(values.ms);
events = 0;
const before = pipeline.stats().pipeline?.alerts ?? 0;
const t0 = performance.now();
let t = t0;
do {
  pass();
  // the pipeline's alert flush runs on the event loop, as in the agent between pipe reads
  await new Promise((r) => setImmediate(r));
  t = performance.now();
} while (t - t0 < budget);
const ms = t - t0;
const matches = (pipeline.stats().pipeline?.alerts ?? 0) - before;
console.log(
  `events_per_s ${Math.round((events * 1000) / ms)} events ${events} matches ${matches} ms ${Math.round(ms)} exported ${alerts} bytes_per_pass ${bytes}`,
);
await pipeline.stop?.();
process.exit(0);
