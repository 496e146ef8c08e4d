// SPDX-License-Identifier: Apache-2.0
/** The decoder's string cache: same text as a plain slice in every case, and the same string object on a repeat. */
import { describe, expect, it } from "vitest";
import { cstr, StringCache } from "../../agent/decode/strings.js";

const bytes = (s: string, pad = 0) => Buffer.concat([Buffer.from(s, "utf8"), Buffer.alloc(pad)]);

describe("StringCache", () => {
  it("returns the cached string for repeated bytes, stops at NUL, and counts hits and misses", () => {
    const c = new StringCache(8, 32);
    const a = c.get(bytes("/etc/hosts", 6), 0, 16);
    const b = c.get(bytes("xx/etc/hosts\0junk"), 2, 17);
    expect(a).toBe("/etc/hosts");
    expect(b).toBe(a);
    expect([c.hits, c.misses]).toEqual([1, 1]);
  });

  it("never confuses two strings sharing a slot, a length or a prefix", () => {
    const c = new StringCache(1, 32); // every string maps to the one slot
    const words = ["/etc/passwd", "/etc/shadow", "/etc/shadoW", "/etc/shado", "", "a"];
    for (let round = 0; round < 3; round++) for (const w of words) expect(c.get(bytes(w, 1), 0, w.length + 1)).toBe(w);
  });

  it("slices non-ASCII as UTF-8 and over-long strings whole, without caching them", () => {
    const c = new StringCache(16, 8);
    expect(c.get(bytes("/tmp/ünï"), 0, bytes("/tmp/ünï").length)).toBe("/tmp/ünï");
    const long = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs/bin/sh";
    expect(c.get(bytes(long), 0, long.length)).toBe(long);
    expect(c.get(bytes(long), 0, long.length)).toBe(long);
    expect(c.hits).toBe(0);
    expect(cstr(bytes("comm\0\0\0"), 0, 7)).toBe("comm");
  });

  it("agrees with a plain slice over many random paths in a small cache", () => {
    const c = new StringCache(64, 24);
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 20_000; i++) {
      const s = `/p/${(rnd() % 500).toString(36)}${"x".repeat(rnd() % 30)}`;
      const buf = bytes(s, rnd() % 3);
      expect(c.get(buf, 0, buf.length)).toBe(s);
    }
    expect(c.hits).toBeGreaterThan(0);
  });
});
