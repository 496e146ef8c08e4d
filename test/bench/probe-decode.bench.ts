// SPDX-License-Identifier: Apache-2.0
/**
 * Userspace cost of the kernel event path without rules: framing + decoding + process/fd state,
 * on a realistic openat stream (one process, kernel-resolved paths, fd info). Reports events/s.
 */
import { bench, describe } from "vitest";
import { FrameDecoder } from "../../agent/decode/index.js";
import { EventState } from "../../agent/state/index.js";
import { frame, openatFrame } from "../decode/frame-builder.js";

const N = 10_000;
const frames: Buffer[] = [];
for (let i = 0; i < N; i++) frames.push(openatFrame(`/usr/lib/x86_64-linux-gnu/lib${i % 50}.so.6`, 3 + (i % 10), 4242));
const stream = Buffer.concat(frames);
// as the loader writes it: 64 KiB pipe chunks
const chunks: Buffer[] = [];
for (let o = 0; o < stream.length; o += 65536) chunks.push(stream.subarray(o, o + 65536));
const close = Buffer.concat(Array.from({ length: N }, (_, i) => frame({ type: 7, pid: 4242, res: 0, params: [{ i64: 3 + (i % 10) }] })));

let sink = 0;
const decodeOnly = new FrameDecoder({ onEvent: (e) => (sink += e.res) });
const state = new EventState({ readUnknownFromProc: false });
const withState = new FrameDecoder({ onEvent: (e) => (sink += state.build(e).num) });

describe(`kernel event path, ${N} openat frames per iteration`, () => {
  bench("decode", () => {
    for (const c of chunks) decodeOnly.push(c);
  });
  bench("decode + state", () => {
    for (const c of chunks) withState.push(c);
  });
  bench("decode + state, close frames", () => {
    withState.push(close);
  });
});
