// SPDX-License-Identifier: Apache-2.0
/**
 * A child process running the real collector sink, for the crash tests:
 * `sink-child.ts ADDRESS SPOOL_DIR COUNT START [INTERVAL_MS]` exports COUNT alerts with IDs
 * derived from START (one per export), printing `spooled <id>` once export resolved, then
 * `done` once the spool is drained. With COUNT 0 it only drains.
 */
import { pino } from "pino";
import { createCollectorSink } from "../../../agent/sinks/collector-sink.js";
import type { Alert } from "../../../proto/index.js";

const [address, spoolDir, countS, startS, intervalS] = process.argv.slice(2);
const count = Number(countS);
const start = Number(startS);
const interval = Number(intervalS ?? "0");
const sink = createCollectorSink({
  address: address!,
  spoolDir: spoolDir!,
  logger: pino({ level: "warn" }, pino.destination(2)),
  backoffMinMs: 50,
  backoffMaxMs: 500,
});

const idFor = (i: number) => `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`;
for (let i = start; i < start + count; i++) {
  const a: Alert = {
    id: idFor(i),
    time: new Date().toISOString().replace("Z", "000000Z"),
    rule: "crash test",
    priority: "Notice",
    source: "syscall",
    hostname: "child",
    output: `alert ${i}`,
    output_fields: { "evt.num": i },
    tags: [],
  };
  const r = await sink.export([a]);
  if (r.ok) process.stdout.write(`spooled ${a.id}\n`);
  if (interval > 0) await new Promise((res) => setTimeout(res, interval));
}
for (;;) {
  await sink.forceFlush();
  if (sink.stats()["backlog"] === 0) break;
  await new Promise((res) => setTimeout(res, 50));
}
process.stdout.write("done\n");
await sink.shutdown();
