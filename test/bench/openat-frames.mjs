// SPDX-License-Identifier: Apache-2.0
// 10,000 openat frames in the probe's wire layout (FORMAT.md), cut in 64 KiB chunks: the input of
// the decode benchmarks (probe-decode-node.mjs, assembler-node.mjs).
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
export const chunks = [];
for (let o = 0; o < stream.length; o += 65536) chunks.push(stream.subarray(o, o + 65536));
