// SPDX-License-Identifier: Apache-2.0
/** The blocked flag of exec frames and the prevention control frame, through decoder and state. */
import { describe, expect, it } from "vitest";
import { FrameDecoder, type PreventInfo, type RawEvent } from "../../agent/decode/index.js";
import { CtlPrevent, CtlType, HdrFlag, HDR_SIZE } from "../../agent/decode/layout.js";
import { EventState } from "../../agent/state/index.js";
import { frame, type Param } from "../decode/frame-builder.js";

/** An execve exit frame with a full process block (FORMAT.md). */
function execFrame(flags: number): Buffer {
  const block: Param[] = [
    { str: "/tmp/x" },
    { bytes: Buffer.from("sh\0-c\0echo ran\0") },
    { str: "/" },
    { none: true },
    { str: "/tmp/x" },
    { str: "/default/c1" },
    { u32: 1 },
    { u32: 1 },
    { u32: 1 },
    { u32: 7 },
    { u32: 7 },
    { u32: 0 },
    { u32: 0 },
    { u64: 0 },
    { u64: 0 },
    { u64: 0 },
    { u32: 2 /* upper layer */ },
    { u64: 99 },
    { u64: 0 },
    { u64: 0 },
    { u64: 0 },
  ];
  return frame({ type: 1, flags, pid: 4242, comm: "x", cgroupId: 777, params: block });
}

function preventFrame(blocked: number, failed: number, entries: number, full: number): Buffer {
  const f = Buffer.alloc(CtlPrevent.size);
  f.writeUInt32LE(CtlPrevent.size, 0);
  f.writeUInt16LE(CtlType.Prevent, 4);
  f.writeUInt8(1, 6);
  f.writeBigUInt64LE(BigInt(blocked), CtlPrevent.blocked);
  f.writeBigUInt64LE(BigInt(failed), CtlPrevent.signalFailed);
  f.writeUInt32LE(entries, CtlPrevent.entries);
  f.writeUInt32LE(full, CtlPrevent.mapFull);
  return f;
}

describe("blocked exec frames", () => {
  it.each([
    ["flag set", HdrFlag.Blocked, true],
    ["flag clear", 0, false],
    ["other flags only", HdrFlag.Truncated, false],
  ])("%s", (_n, flags, blocked) => {
    const state = new EventState({});
    const seen: (boolean | undefined)[] = [];
    const dec = new FrameDecoder({ onEvent: (r: RawEvent) => seen.push(state.build(r).blocked) });
    dec.push(execFrame(flags));
    expect(seen).toEqual([blocked]);
  });

  it("a blocked frame followed by an unblocked one: the reused event object is reset", () => {
    const state = new EventState({});
    const seen: (boolean | undefined)[] = [];
    const dec = new FrameDecoder({ onEvent: (r: RawEvent) => seen.push(state.build(r).blocked) });
    dec.push(Buffer.concat([execFrame(HdrFlag.Blocked), execFrame(0)]));
    expect(seen).toEqual([true, false]);
  });
});

describe("prevention control frame", () => {
  it("decodes the counters, fed one byte at a time", () => {
    const got: PreventInfo[] = [];
    const dec = new FrameDecoder({ onEvent: () => undefined, onPrevent: (p) => got.push(p) });
    const b = preventFrame(3, 1, 12, 2);
    for (let i = 0; i < b.length; i++) dec.push(b.subarray(i, i + 1));
    expect(got).toEqual([{ blocked: 3, signalFailed: 1, entries: 12, mapFull: 2 }]);
    expect(dec.stats()["unknown_type"]).toBe(0);
  });
  it("a short one is counted as truncated, not thrown", () => {
    const got: PreventInfo[] = [];
    const dec = new FrameDecoder({ onEvent: () => undefined, onPrevent: (p) => got.push(p) });
    const b = preventFrame(1, 0, 0, 0).subarray(0, HDR_SIZE + 8);
    b.writeUInt32LE(b.length, 0);
    dec.push(b);
    expect(got).toEqual([]);
    expect(dec.stats()["truncated"]).toBe(1);
  });
});
