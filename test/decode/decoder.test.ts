// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { FrameDecoder, type RawEvent } from "../../agent/decode/index.js";
import { MAX_FRAME } from "../../agent/decode/layout.js";
import { frame, openatFrame } from "./frame-builder.js";

interface Seen {
  type: number;
  pid: number;
  comm: string;
  res: number;
  args: unknown[];
  fdName: string | undefined;
}

function collect(): { dec: FrameDecoder; seen: Seen[] } {
  const seen: Seen[] = [];
  const dec = new FrameDecoder({
    onEvent: (e: RawEvent) => seen.push({ type: e.type, pid: e.pid, comm: e.comm, res: e.res, args: [...e.args], fdName: e.fd?.name }),
  });
  return { dec, seen };
}

const three = Buffer.concat([openatFrame("/etc/shadow", 3, 10), openatFrame("/etc/hostname", 4, 11), openatFrame("/tmp/x", 5, 12)]);

describe("FrameDecoder framing", () => {
  it.each([
    ["whole buffer", [three.length]],
    ["one byte at a time", Array.from({ length: three.length }, () => 1)],
    ["7-byte chunks", Array.from({ length: Math.ceil(three.length / 7) }, () => 7)],
    ["split inside the header", [50, 200, three.length]],
  ])("decodes three frames fed as %s", (_name, sizes) => {
    const { dec, seen } = collect();
    let off = 0;
    for (const n of sizes) {
      if (off >= three.length) break;
      dec.push(three.subarray(off, Math.min(three.length, off + n)));
      off += n;
    }
    expect(seen.map((s) => [s.pid, s.args[2], s.res, s.fdName])).toEqual([
      [10, "/etc/shadow", 3, "/etc/shadow"],
      [11, "/etc/hostname", 4, "/etc/hostname"],
      [12, "/tmp/x", 5, "/tmp/x"],
    ]);
    expect(dec.stats()["events"]).toBe(3);
  });

  it("puts params in the event table's schema order", () => {
    const { dec, seen } = collect();
    dec.push(openatFrame("/etc/shadow", 7));
    // openat: fd, dirfd, name, flags, mode, dev, ino
    expect(seen[0]?.args).toEqual([7, -100, "/etc/shadow", 0, 0, 0xfe00000, 1234]);
  });
});

describe("FrameDecoder bad input is counted, skipped, never thrown", () => {
  const good = openatFrame("/ok", 3, 42);
  const cases: [string, Buffer, string, number][] = [
    ["unknown type", frame({ type: 999, params: [{ u32: 1 }] }), "unknown_type", 1],
    ["truncated param", frame({ type: 4, params: [{ i64: -100 }, { str: "/etc/x" }], nparamsField: 5 }), "truncated", 1],
    ["oversize frame", Buffer.concat([frame({ type: 4, sizeField: MAX_FRAME + 100 }), Buffer.alloc(MAX_FRAME + 100 - 88)]), "oversize", 1],
    ["undersize frame", frame({ type: 4, sizeField: 10 }), "undersize", 1],
    ["bad version", frame({ type: 4, version: 9 }), "bad_version", 1],
    ["too many params", frame({ type: 4, nparamsField: 5000 }), "truncated", 1],
    ["exec frame without its process block", frame({ type: 1, params: [{ str: "x" }] }), "truncated", 1],
  ];
  it.each(cases)("%s", (_name, bad, counter, count) => {
    for (const step of [bad.length, 1]) {
      const { dec, seen } = collect();
      const all = Buffer.concat([good, bad, good]);
      expect(() => {
        for (let o = 0; o < all.length; o += step) dec.push(all.subarray(o, o + step));
      }).not.toThrow();
      expect(dec.stats()[counter]).toBe(count);
      // the good frames around the bad one still decode (byte-wise resync may lose at most the bad frame)
      expect(seen.filter((s) => s.pid === 42).length).toBeGreaterThanOrEqual(counter === "undersize" || counter === "bad_version" ? 1 : 2);
    }
  });

  it("survives random garbage", () => {
    const { dec } = collect();
    let seed = 1;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
    const junk = Buffer.from(Array.from({ length: 200_000 }, rnd));
    expect(() => {
      for (let o = 0; o < junk.length; o += 997) dec.push(junk.subarray(o, o + 997));
    }).not.toThrow();
    const s = dec.stats();
    expect((s["resync_bytes"] ?? 0) + (s["oversize"] ?? 0)).toBeGreaterThan(0);
  });

  it("an empty chunk is a no-op", () => {
    const { dec, seen } = collect();
    dec.push(new Uint8Array(0));
    expect(seen).toHaveLength(0);
    expect(dec.stats()["frames"]).toBe(0);
  });

  it("a handler failure is counted", () => {
    const dec = new FrameDecoder({
      onEvent: () => {
        throw new Error("boom");
      },
    });
    expect(() => dec.push(openatFrame("/x"))).not.toThrow();
    expect(dec.stats()["handler_failed"]).toBe(1);
  });
});

describe("FrameDecoder control frames", () => {
  it("reads ready and stats frames", () => {
    const got: { type: string; drops: number; sec: number }[] = [];
    const dec = new FrameDecoder({ onEvent: () => undefined, onControl: (c) => got.push({ type: c.type, drops: c.drops, sec: c.wallOffsetSec }) });
    const ready = frame({ type: 0x8001, params: [] });
    const payload = Buffer.alloc(24);
    payload.writeBigUInt64LE(1_700_000_000_123_456_789n, 0);
    payload.writeBigUInt64LE(5_000_000_000n, 8);
    const r = Buffer.concat([ready, payload]);
    r.writeUInt32LE(r.length, 0);
    const st = Buffer.alloc(88 + 48 + 16);
    st.set(frame({ type: 0x8002 }).subarray(0, 88));
    st.writeUInt32LE(st.length, 0);
    st.writeBigUInt64LE(1_700_000_000_000_000_000n, 88);
    st.writeBigUInt64LE(1n, 96);
    st.writeBigUInt64LE(7n, 104);
    st.writeUInt32LE(2, 128);
    dec.push(Buffer.concat([r, st]));
    expect(got).toEqual([
      { type: "ready", drops: 0, sec: 1_699_999_995 },
      { type: "stats", drops: 7, sec: 1_699_999_999 },
    ]);
  });
});

describe("FrameDecoder chunk boundaries anywhere", () => {
  it("random chunkings of a long stream (bad frames included) give the events and counters of one push", () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      parts.push(openatFrame(i % 3 === 0 ? `/tmp/ünï-${i}/naïve` : `/etc/f${i}`, 3 + (i % 5), 1000 + i));
      if (i % 50 === 7) parts.push(frame({ type: 4, version: 9 }));
      if (i % 70 === 9) parts.push(Buffer.concat([frame({ type: 4, sizeField: MAX_FRAME + 100 }), Buffer.alloc(MAX_FRAME + 100 - 88)]));
    }
    const all = Buffer.concat(parts);
    const whole = collect();
    whole.dec.push(all);
    expect(whole.seen.some((s) => s.fdName === "/tmp/ünï-0/naïve")).toBe(true);
    let seed = 9;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (const maxChunk of [3, 90, 700, 70_000]) {
      const c = collect();
      for (let o = 0; o < all.length; ) {
        const n = 1 + rnd(maxChunk);
        c.dec.push(all.subarray(o, o + n));
        o += n;
      }
      expect(c.seen).toEqual(whole.seen);
      expect(c.dec.stats()).toEqual(whole.dec.stats());
    }
  });
});
