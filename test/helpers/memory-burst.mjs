// SPDX-License-Identifier: Apache-2.0
// Run by test/config/memory-saver.test.ts in its own process: what a burst of short-lived processes
// does to the agent's memory, without the agent. 300,000 retained records (like exited processes
// kept a few seconds) grow the heap, are dropped, then a trickle of garbage keeps V8 allocating (like
// the events of a quiet node) while MemorySaver (mode argv[3]) watches a low event count. Prints
// one JSON line: anonymous resident MiB before, at the peak and at the end, how long the memory
// took to come back (ms, or -1), and the saver's stats.
//   node test/helpers/memory-burst.mjs <dist/agent/memory-saver.js> <auto|off> <waitMs>
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const { MemorySaver } = await import(pathToFileURL(process.argv[2]).href);
const mode = process.argv[3];
const waitMs = Number(process.argv[4] ?? 15000);
const anon = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
let events = 0;
const saver = new MemorySaver({ mode, maxEventsPerSecond: 1000, quietSeconds: 1, tickMs: 250, events: () => events });
saver.start();
const base = anon();
let keep = [];
for (let i = 0; i < 300_000; i++) {
  keep.push({ pid: i, argv: ["/bin/true", `arg-${i}`], env: `PATH=/usr/bin:${i}`.repeat(4) });
  events += 5;
}
const peak = anon();
keep = undefined;
let sink = 0;
const trickle = setInterval(() => {
  for (let i = 0; i < 2000; i++) sink += { a: i, b: `x${i}` }.b.length;
  events += 3;
}, 10);
const t0 = performance.now();
let backMs = -1;
while (performance.now() - t0 < waitMs) {
  await new Promise((r) => setTimeout(r, 250));
  if (anon() < base + (peak - base) / 4) {
    backMs = Math.round(performance.now() - t0);
    break;
  }
}
clearInterval(trickle);
console.log(JSON.stringify({ mode, base, peak, end: anon(), backMs, stats: saver.stats(), sink: sink > 0 }));
saver.stop();
