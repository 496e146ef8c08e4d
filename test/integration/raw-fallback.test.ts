// SPDX-License-Identifier: Apache-2.0
/**
 * Syscalls without an exit tracepoint (issue 19, class 2), against the real kernel: the probe's
 * raw_syscalls/sys_exit fallback (native-bridge/probe/raw-fallback.h) tail-calls the same
 * per-syscall program, so
 *  - with the fallback forced for openat, unshare and kill (`--raw-syscalls`), the same workload gives
 *    the same events (type, result, params, fd) as through their own tracepoints, and the probe's
 *    report says how each call was observed;
 *  - a call this kernel builds no tracepoint for (init_module/finit_module on 6.18) is observed
 *    anyway (on this test machine's kernel, built without module support, the calls fail with
 *    ENOSYS; still an attempt worth an alert): busybox insmod in a container reaches the engine (the built-in rule "Kernel Module
 *    Loaded" from the syscall, not only from the exec), and the agent prints one start line
 *    saying how the wanted syscalls are observed.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultProbePath, KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { eventByName } from "../../rules/event-table.js";
import type { SyscallEvent } from "../../rules/event.js";
import { REPO_ROOT, startAgent } from "../helpers/agent.js";
import { BUSYBOX_IMAGE, containersAvailable, prepareRuntime, removeContainer } from "../helpers/containers.js";

const root = process.getuid?.() === 0;
const probeBuilt = existsSync(defaultProbePath());
const UNSHARE = "/usr/bin/unshare";

/** What must agree between the two ways of observing a call. */
interface Seen {
  type: number;
  res: number;
  args: string;
  fd: string | undefined;
}

function seen(e: SyscallEvent): Seen {
  const args = JSON.stringify(e.args, (_k, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
    return v;
  });
  return { type: e.type, res: e.res, args, fd: e.fd?.name };
}

/**
 * Runs `kill -0 1; exec unshare -U cat <file>` (one process) under a probe stream; returns its
 * openat of the file, its unshare and its kill (a call of the generic program, exit_generic).
 */
async function observe(file: string, probeArgs: string[]): Promise<{ open: Seen[]; unshare: Seen[]; kill: Seen[]; stream: KernelEventStream }> {
  const openat = eventByName("openat")!.code;
  const unshareCode = eventByName("unshare")!.code;
  const killCode = eventByName("kill")!.code;
  let pid = -1;
  // events are reused by the source: what the test compares is taken at once
  const mine: Seen[] = [];
  const stream = new KernelEventStream({
    syscalls: ["openat", "unshare", "kill", "execve", "clone", "procexit"],
    logger: pino({ level: "silent" }),
    seedFromProc: false,
    probeArgs,
    onEvent: (e) => {
      if (e.proc.pid === pid && (e.type === openat || e.type === unshareCode || e.type === killCode)) mine.push(seen(e));
    },
  });
  await stream.start();
  try {
    // the report line comes on stderr beside the ready frame: wait for it
    for (let i = 0; i < 50 && stream.observed === undefined; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise<void>((resolve, reject) => {
      const c = spawn("/bin/sh", ["-c", `kill -0 1; exec ${UNSHARE} -U /bin/cat "$0"`, file], { stdio: "ignore" });
      pid = c.pid ?? -1;
      c.on("error", reject);
      c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`unshare exited with ${code}`))));
    });
    // the probe drains every poll tick (20 ms); give it a few
    await new Promise((r) => setTimeout(r, 500));
    return {
      open: mine.filter((e) => e.type === openat && e.fd === file),
      unshare: mine.filter((e) => e.type === unshareCode),
      kill: mine.filter((e) => e.type === killCode),
      stream,
    };
  } finally {
    await stream.stop();
  }
}

describe.skipIf(!root || !probeBuilt || !existsSync(UNSHARE))("raw_syscalls fallback: forced for openat, unshare and kill (real kernel)", () => {
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-raw-"));
    file = join(dir, "marker.txt");
    writeFileSync(file, "x\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the same events as the tracepoints, and says how each call is observed", async () => {
    const viaTp = await observe(file, []);
    const viaRaw = await observe(file, ["--raw-syscalls", "openat,unshare,kill"]);
    expect(viaTp.open).toHaveLength(1);
    expect(viaTp.unshare).toHaveLength(1);
    expect(viaTp.open[0]!.res).toBeGreaterThanOrEqual(0);
    expect(viaTp.unshare[0]!.res).toBe(0);
    expect(viaRaw.open).toEqual(viaTp.open);
    expect(viaRaw.unshare).toEqual(viaTp.unshare);
    expect(viaTp.kill).toHaveLength(1);
    expect(viaRaw.kill).toEqual(viaTp.kill);

    expect(viaTp.stream.observed?.rawSyscalls).not.toContain("openat");
    expect(viaTp.stream.observed?.missing).toEqual([]);
    expect([...(viaRaw.stream.observed?.rawSyscalls ?? [])].sort()).toEqual(["kill", "openat", "unshare"]);
    expect(viaRaw.stream.observed?.missing).toEqual([]);
    // execve and clone kept their tracepoints
    expect(viaRaw.stream.observed?.tracepoint).toBe(viaTp.stream.observed!.tracepoint - 3);
    expect(viaRaw.stream.stats()["syscalls_raw"]).toBe(3);
  }, 120_000);

  it("attaches the fallback only while a wanted call needs it (set changes on the running probe)", async () => {
    const stream = new KernelEventStream({
      syscalls: ["execve"],
      logger: pino({ level: "silent" }),
      seedFromProc: false,
      probeArgs: ["--raw-syscalls", "unshare"],
      onEvent: () => undefined,
    });
    // the probe's raw_syscalls/sys_exit perf links (bpftool names the tracepoint "sys_exit")
    const rawLinks = (): number => {
      const r = spawnSync("bpftool", ["perf", "list"], { encoding: "utf8" });
      return r.stdout.split("\n").filter((l) => l.startsWith(`pid ${stream.probePid} `) && / tracepoint {2}sys_exit$/.test(l)).length;
    };
    const until = async (pred: () => boolean) => {
      for (let i = 0; i < 50 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
    };
    await stream.start();
    try {
      await until(() => stream.observed !== undefined);
      expect(stream.observed?.rawSyscalls).toEqual([]);
      const bpftool = spawnSync("bpftool", ["version"]).status === 0;
      if (bpftool) expect(rawLinks()).toBe(0);
      await stream.setSyscalls(["execve", "unshare"]);
      await until(() => stream.observed?.rawSyscalls.length === 1);
      expect(stream.observed?.rawSyscalls).toEqual(["unshare"]);
      if (bpftool) expect(rawLinks()).toBe(1);
      await stream.setSyscalls(["execve"]);
      await until(() => stream.observed?.rawSyscalls.length === 0);
      expect(stream.observed?.rawSyscalls).toEqual([]);
      if (bpftool) expect(rawLinks()).toBe(0);
    } finally {
      await stream.stop();
    }
  }, 120_000);

  it("refuses an unknown name in --raw-syscalls with a clear error", () => {
    const r = spawnSync(defaultProbePath(), ["--syscalls", "openat", "--raw-syscalls", "openat,no_such_call"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("--raw-syscalls: unknown syscall 'no_such_call'");
  }, 70_000);
});

const noTracepoint = (name: string) =>
  !existsSync(`/sys/kernel/tracing/events/syscalls/sys_exit_${name}`) && !existsSync(`/sys/kernel/debug/tracing/events/syscalls/sys_exit_${name}`);
/** True when this kernel implements `name` only as the weak ENOSYS stub (kallsyms type W) or not at all. */
const kernelStub = (name: string) => {
  const sym = `__${process.arch === "arm64" ? "arm64" : "x64"}_sys_${name}`;
  const line = readFileSync("/proc/kallsyms", "utf8")
    .split("\n")
    .find((l) => l.endsWith(` ${sym}`));
  return line === undefined || !/ [Tt] /.test(line);
};

describe.skipIf(!root || !probeBuilt || !containersAvailable())("raw_syscalls fallback: module loading from a container (real kernel)", () => {
  let sock: string;
  // shorter than 12 characters: container.id is the whole name
  const id = `vraw-${process.pid}`;

  beforeAll(() => {
    ({ sock } = prepareRuntime());
  }, 120_000);
  afterAll(() => removeContainer(sock, "default", id));

  const packs = ["00-vigil-base.yaml", "30-ttp.yaml"].flatMap((n) => ["--rules", join(REPO_ROOT, "rules", "files", n)]);
  const observedLine = (agent: Awaited<ReturnType<typeof startAgent>>) =>
    agent.waitForLog((l) => typeof l["msg"] === "string" && (l["msg"] as string).startsWith("syscalls observed:"), 10_000);

  it("by default leaves a call the kernel only has as an ENOSYS stub to its stub (no fallback on every syscall for it)", async () => {
    const agent = await startAgent([...packs, "--stats-interval", "0", "--no-containerd"], 120_000);
    try {
      const line = await observedLine(agent);
      for (const n of ["init_module", "finit_module"]) {
        // this test machine's kernel has no module support: no tracepoint and only the weak stub
        const stub = noTracepoint(n) && kernelStub(n);
        expect((line["not_in_kernel"] as string[]).includes(n)).toBe(stub);
        if (stub) expect(line["raw_syscalls"] as string[]).not.toContain(n);
      }
      if (noTracepoint("init_module") && kernelStub("init_module")) expect(String(line["msg"])).toContain("not in this kernel (");
    } finally {
      await agent.stop();
    }
  }, 180_000);

  it("busybox insmod in a container reaches the engine through the module syscalls", async () => {
    // named in sources.ebpf.raw_syscalls: observed through the fallback even where only the stub exists
    const agent = await startAgent([...packs, "--containerd-socket", sock, "--stats-interval", "0"], 120_000, {
      VIGIL_SOURCES_EBPF_RAW_SYSCALLS: "init_module,finit_module",
    });
    try {
      const line = await observedLine(agent);
      const raw = line["raw_syscalls"] as string[];
      for (const n of ["init_module", "finit_module"]) {
        // observed either way: by the fallback exactly where this kernel has no tracepoint
        expect(raw.includes(n)).toBe(noTracepoint(n));
      }
      expect(line["not_in_kernel"]).toEqual([]);
      expect(line["missing"]).toEqual([]);
      expect(agent.logs.filter((l) => typeof l["msg"] === "string" && (l["msg"] as string).startsWith("syscalls observed:"))).toHaveLength(1);

      // refused either way (no CAP_SYS_MODULE in the container: EPERM; a kernel without module
      // support, like this test machine's: ENOSYS), which is evidence too
      spawnSync("ctr", ["-a", sock, "-n", "default", "run", "--rm", BUSYBOX_IMAGE, id, "/bin/busybox", "insmod", "/bin/busybox"], { timeout: 60_000 });
      // the built-in rule, from the syscall event itself (its exec branch would say evt.type=execve, res=0)
      const a = await agent.waitForAlert((x) => x.rule === "Kernel Module Loaded" && /^f?init_module$/.test(String(x.output_fields["evt.type"])), 15_000);
      expect(a.output_fields["proc.name"]).toBe("busybox");
      expect(a.output_fields["proc.args"]).toBe("insmod /bin/busybox");
      expect(a.output_fields["container.id"]).toBe(id);
      expect(String(a.output_fields["evt.res"])).toMatch(/^E[A-Z]+$/);
    } finally {
      await agent.stop("SIGINT");
    }
  }, 240_000);
});
