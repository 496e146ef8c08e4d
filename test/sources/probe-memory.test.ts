// SPDX-License-Identifier: Apache-2.0
/**
 * vigil-probe's own memory once loaded (real kernel, root): opening and loading the probe parses
 * the kernel's BTF twice and the object's ELF, about 10 MiB that malloc keeps after libbpf frees
 * them; the loader gives them back (malloc_trim after load, native-bridge/loader-probe.c), so its
 * anonymous memory stays a few MiB for the agent's lifetime (BENCHMARKS.md "Agent memory (issue
 * 22, Dec 5)": 11.8 MiB before, 1.9 MiB after). Its events ring is mapped once, not twice as
 * libbpf maps it (native-bridge/loader-output.c), so the ring's pages count once in its resident
 * set, and the records that wrap past the ring's end still arrive whole.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { DecodeErrorCode } from "../../agent/decode/errors.js";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";

const silent = pino({ level: "silent" });

function statusKiB(pid: number, key: string): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
  if (m === null) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(m[1]);
}

describe("vigil-probe after load", () => {
  it("keeps under 6 MiB of anonymous memory (the load-time BTF and ELF are given back)", async () => {
    const s = new KernelEventStream({ syscalls: ["execve", "openat", "connect"], logger: silent, onEvent: () => undefined, seedFromProc: false });
    await s.start();
    try {
      const pid = s.probePid!;
      expect(pid).toBeGreaterThan(0);
      expect(statusKiB(pid, "RssAnon")).toBeLessThan(6 * 1024);
    } finally {
      await s.stop();
    }
  }, 60_000);
});

/** The bpf-map mappings of a process (the events ring is the largest): size and resident KiB. */
function bpfMaps(pid: number): { sizeKiB: number; rssKiB: number }[] {
  const out: { sizeKiB: number; rssKiB: number }[] = [];
  let cur: { sizeKiB: number; rssKiB: number } | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      cur = line.includes("anon_inode:bpf-map") ? { sizeKiB: 0, rssKiB: 0 } : undefined;
      if (cur) out.push(cur);
    } else if (cur) {
      const m = /^(Size|Rss):\s+(\d+) kB/.exec(line);
      if (m?.[1] === "Size") cur.sizeKiB = Number(m[2]);
      if (m?.[1] === "Rss") cur.rssKiB = Number(m[2]);
    }
  }
  return out.sort((a, b) => b.sizeKiB - a.sizeKiB);
}

describe("the events ring, mapped once", () => {
  it("a burst of many times the ring leaves it resident once, and every record that wrapped decodes whole", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-ring-"));
    // names of 1..97 extra bytes: records of many sizes, so the wrap point moves from lap to lap
    // and each record differs from the ones before it (a stale copy would show)
    const name = (i: number): string => join(dir, `${i}-${"w".repeat(1 + (i % 97))}`);
    const n = 60_000;
    let child = -1;
    let seen = 0;
    let last = -1;
    const bad: string[] = [];
    const s = new KernelEventStream({
      syscalls: ["openat"],
      logger: silent,
      seedFromProc: false,
      probeArgs: ["--ringbuf-mb", "1"],
      onEvent: (e) => {
        if (e.proc.pid !== child) return;
        const got = String(e.args[2]);
        if (!got.startsWith(dir)) return; // node's own opens
        const i = Number.parseInt(got.slice(dir.length + 1), 10);
        if (got !== name(i) || i <= last) bad.push(got);
        last = i;
        seen++;
      },
    });
    await s.start();
    try {
      const pid = s.probePid!;
      const page = 4;
      // the producer page and 1 MiB of data, once (libbpf: 2 MiB + a page)
      expect(bpfMaps(pid)[0]!.sizeKiB).toBe(1024 + page);
      const script = `const fs = require("node:fs"); for (let i = 0; i < ${n}; i++) { try { fs.closeSync(fs.openSync(${JSON.stringify(dir)} + "/" + i + "-" + "w".repeat(1 + (i % 97)))); } catch {} }`;
      const c = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
      child = c.pid!;
      await new Promise<void>((res) => c.on("exit", () => res()));
      const until = Date.now() + 10_000;
      while (last < n - 1 && seen + s.stats()["kernel_drops"]! < n && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
      const ring = bpfMaps(pid)[0]!;
      // a dozen laps went through: all of the ring was written, and it is resident once
      expect(ring.rssKiB).toBeGreaterThanOrEqual(1024);
      expect(ring.rssKiB).toBeLessThanOrEqual(1024 + page);
      expect(seen).toBeGreaterThan(n / 2);
      expect(bad).toEqual([]);
      const st = s.stats();
      for (const code of Object.values(DecodeErrorCode)) expect(st[`decode_${code}`] ?? 0, code).toBe(0);
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
