// SPDX-License-Identifier: Apache-2.0
/** Probe lifecycle: clear start failures, restart with backoff after a crash, gap counted. */
import { spawn } from "node:child_process";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { ProbeError } from "../../agent/sources/ebpf-errors.js";
import type { SyscallEvent } from "../../rules/event.js";

const silent = pino({ level: "silent" });

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: "ignore" });
    c.on("exit", () => resolve(c.pid!));
  });
}

describe("start failures reject with one clear message", () => {
  it.each([
    ["missing binary", { probePath: "/nonexistent/vigil-probe" }, "PROBE_NOT_FOUND", /vigil-probe.*make -C native-bridge/],
    ["probe refuses its arguments", { probeArgs: ["--ringbuf-mb", "3"] }, "PROBE_START_FAILED", /^vigil-probe: --ringbuf-mb must be a power of two/],
  ] as const)("%s", async (_n, extra, code, msg) => {
    const s = new KernelEventStream({ syscalls: ["execve"], logger: silent, onEvent: () => undefined, seedFromProc: false, ...extra });
    const err = await s.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as ProbeError).code).toBe(code);
    expect((err as ProbeError).message).toMatch(msg);
    await s.stop();
  });
});

describe("a probe that dies is restarted", () => {
  it("restarts with backoff, counts the gap, and events flow again", async () => {
    const seen: { pid: number; type: number }[] = [];
    const s = new KernelEventStream({
      syscalls: ["execve", "procexit"],
      logger: silent,
      onEvent: (e: SyscallEvent) => seen.push({ pid: e.proc.pid, type: e.type }),
      backoffMinMs: 100,
    });
    await s.start();
    const first = s.probePid!;
    process.kill(first, "SIGKILL");
    const deadline = Date.now() + 30_000;
    while ((s.stats()["restarts"] ?? 0) < 1 || !s.attached || s.probePid === first) {
      if (Date.now() > deadline) throw new Error("no restart");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s.stats()["gap_ms"]).toBeGreaterThan(0);
    const pid = await run("true", []);
    const until = Date.now() + 3000;
    while (!seen.some((e) => e.pid === pid && e.type === 1) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(seen.some((e) => e.pid === pid && e.type === 1)).toBe(true);
    await s.stop();
    expect(s.probePid).toBeUndefined();
  }, 60_000);
});

describe("kernel drops are visible", () => {
  it("a ring buffer too small for a burst reports drops through stats and onDrops", async () => {
    const bursts: { drops: number; total: number }[] = [];
    const s = new KernelEventStream({
      syscalls: ["openat"],
      logger: silent,
      onEvent: () => undefined,
      seedFromProc: false,
      // 1 MiB ring, never woken early, drained once a second: a burst must overflow it
      probeArgs: ["--ringbuf-mb", "1", "--wakeup-kb", "4096", "--poll-ms", "1000", "--stats-ms", "100"],
      onDrops: (d) => bursts.push(d),
    });
    await s.start();
    const { spawnSync } = await import("node:child_process");
    const { REPO_ROOT } = await import("../helpers/agent.js");
    const r = spawnSync("make", ["-s", "-C", `${REPO_ROOT}/native-bridge`, "bench"]);
    expect(r.status).toBe(0);
    spawnSync(`${REPO_ROOT}/native-bridge/build/bench-openclose`, ["100000"]);
    const until = Date.now() + 5000;
    while (bursts.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
    await s.stop();
    expect(bursts.length).toBeGreaterThan(0);
    expect(bursts[0]!.drops).toBeGreaterThan(0);
    expect(s.stats()["kernel_drops"]).toBeGreaterThanOrEqual(bursts[0]!.total);
  }, 60_000);
});
