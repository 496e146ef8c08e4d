// SPDX-License-Identifier: Apache-2.0
// Decode + state throughput outside the vitest harness: node test/bench/probe-decode-node.mjs (after npx tsc).
import { FrameDecoder } from "../../dist/agent/decode/index.js";
import { EventState } from "../../dist/agent/state/index.js";
import { chunks } from "./openat-frames.mjs";
const state = new EventState({ readUnknownFromProc: false });
let sink = 0;
const dec = new FrameDecoder({ onEvent: (e) => (sink += state.build(e).num) });
const dec2 = new FrameDecoder({ onEvent: (e) => (sink += e.res) });
for (const [name, d] of [
  ["decode", dec2],
  ["decode+state", dec],
]) {
  for (let w = 0; w < 20; w++) for (const c of chunks) d.push(c);
  const t = process.hrtime.bigint();
  const R = 100;
  for (let r = 0; r < R; r++) for (const c of chunks) d.push(c);
  const ns = Number(process.hrtime.bigint() - t);
  console.log(name, ((R * 10000) / (ns / 1e9)).toFixed(0), "events/s", (ns / R / 10000).toFixed(0), "ns/event");
}
