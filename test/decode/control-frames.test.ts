// SPDX-License-Identifier: Apache-2.0
/** Loader control frames: the stats frame's appended kernel-filter count and the sync answer. */
import { describe, expect, it } from "vitest";
import { FrameDecoder, type ControlInfo } from "../../agent/decode/index.js";
import { CtlStats, CtlType, HDR_SIZE } from "../../agent/decode/layout.js";
import { frame } from "./frame-builder.js";

function control(type: number, payload: Buffer): Buffer {
  const total = HDR_SIZE + payload.length;
  return Buffer.concat([frame({ type, sizeField: total }), payload]);
}

function statsPayload(ncpus: number, filtered: bigint | undefined): Buffer {
  const fixed = CtlStats.perCpu - HDR_SIZE;
  const b = Buffer.alloc(fixed + ncpus * 8 + (filtered === undefined ? 0 : 8));
  b.writeBigUInt64LE(7n, CtlStats.drops - HDR_SIZE);
  b.writeBigUInt64LE(1000n, CtlStats.events - HDR_SIZE);
  b.writeUInt32LE(ncpus, CtlStats.ncpus - HDR_SIZE);
  for (let i = 0; i < ncpus; i++) b.writeBigUInt64LE(BigInt(i + 1), fixed + i * 8);
  if (filtered !== undefined) b.writeBigUInt64LE(filtered, fixed + ncpus * 8);
  return b;
}

describe("control frames", () => {
  it("stats: the kernel-filter count appended after the per-CPU drops (0 from an older loader)", () => {
    const seen: ControlInfo[] = [];
    const dec = new FrameDecoder({ onEvent: () => undefined, onControl: (c) => seen.push(c) });
    dec.push(control(CtlType.Stats, statsPayload(2, 123456n)));
    dec.push(control(CtlType.Stats, statsPayload(2, undefined)));
    expect(seen.map((c) => [c.drops, c.events, c.perCpuDrops, c.filtered])).toEqual([
      [7, 1000, [1, 2], 123456],
      [7, 1000, [1, 2], 0],
    ]);
  });

  it("sync: the answer carries the sequence number; a short one is counted as truncated", () => {
    const seqs: number[] = [];
    const dec = new FrameDecoder({ onEvent: () => undefined, onSync: (n) => seqs.push(n) });
    const p = Buffer.alloc(8);
    p.writeBigUInt64LE(42n);
    dec.push(control(CtlType.Sync, p));
    dec.push(control(CtlType.Sync, Buffer.alloc(4)));
    expect(seqs).toEqual([42]);
    expect(dec.stats()["truncated"]).toBe(1);
  });
});
