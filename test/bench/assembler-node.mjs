// SPDX-License-Identifier: Apache-2.0
// The sources' frame path outside the vitest harness: 10,000 openat frames in 64 KiB chunks through
// an EventAssembler (decode → process/fd state → onEvent), as the kernel probe source and each
// tracer connection run it. node test/bench/assembler-node.mjs (after npx tsc).
import { EventAssembler } from "../../dist/agent/assembler.js";
import { chunks } from "./openat-frames.mjs";
let sink = 0;
const asm = new EventAssembler({ onEvent: (e) => (sink += e.num), state: { readUnknownFromProc: false } });
for (let w = 0; w < 20; w++) for (const c of chunks) asm.push(c);
const t = process.hrtime.bigint();
const R = 100;
for (let r = 0; r < R; r++) for (const c of chunks) asm.push(c);
const ns = Number(process.hrtime.bigint() - t);
console.log(
  "assembler",
  ((R * 10000) / (ns / 1e9)).toFixed(0),
  "events/s",
  (ns / R / 10000).toFixed(0),
  "ns/event",
  asm.counters.event_errors === 0 && sink > 0,
);
