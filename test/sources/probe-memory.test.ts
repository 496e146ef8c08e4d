// SPDX-License-Identifier: Apache-2.0
/**
 * vigil-probe's own memory once loaded (real kernel, root): opening and loading the probe parses
 * the kernel's BTF twice and the object's ELF, about 10 MiB that malloc keeps after libbpf frees
 * them; the loader gives them back (malloc_trim after load, native-bridge/loader-probe.c), so its
 * anonymous memory stays a few MiB for the agent's lifetime (BENCHMARKS.md "Agent memory (issue
 * 22, Dec 5)": 11.8 MiB before, 1.9 MiB after).
 */
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
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
