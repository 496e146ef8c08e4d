// SPDX-License-Identifier: Apache-2.0
// The sources' frame path outside the vitest harness: 10,000 openat frames in 64 KiB chunks through
// an EventAssembler (decode → process/fd state → onEvent), as the kernel probe source and each
// tracer connection run it. node test/bench/assembler-node.mjs (after npx tsc).
import { EventAssembler } from "../../dist/agent/assembler.js";
function frame(type, pid, res, params) {
  const parts = params.map((b) => {
    const l = Buffer.alloc(2);
    l.writeUInt16LE(b.length);
    return Buffer.concat([l, b]);
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(88);
  h.writeUInt32LE(88 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt8(1, 6);
  h.writeBigUInt64LE(10n ** 9n, 8);
  h.writeUInt32LE(pid, 16);
  h.writeUInt32LE(pid, 20);
  h.writeUInt32LE(1, 24);
  h.writeUInt32LE(0xffffffff, 40);
  h.writeUInt16LE(parts.length, 46);
  h.writeBigUInt64LE(1n, 48);
  h.writeBigUInt64LE(5n * 10n ** 8n, 56);
  h.write("cat", 64, "latin1");
  h.writeBigInt64LE(BigInt(res), 80);
  return Buffer.concat([h, body]);
}
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
};
const str = (s) => Buffer.from(s + "\0");
const frames = [];
for (let i = 0; i < 10000; i++) {
  const n = `/usr/lib/x86_64-linux-gnu/lib${i % 50}.so.6`;
  frames.push(frame(4, 4242, 3, [u64(-100), str(n), u32(0), u32(0), u32(1), u64(1234), Buffer.concat([Buffer.from([1, 0]), str(n)])]));
}
const stream = Buffer.concat(frames);
const chunks = [];
for (let o = 0; o < stream.length; o += 65536) chunks.push(stream.subarray(o, o + 65536));
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
