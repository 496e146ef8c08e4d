// SPDX-License-Identifier: Apache-2.0
/**
 * vigil-trace against the real kernel: a workload runs under ptrace + seccomp and its frames
 * arrive on a unix socket; signals are forwarded, the exit code is the workload's, and an absent
 * agent neither blocks nor breaks the workload (the gap is reported on reconnection).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/agent.js";
import { F_CHILD, FrameListener, T, fdinfo, str, u32, u64, type Frame } from "./frames.js";

const TRACE = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");
const SYSCALLS = "execve,execveat,openat,open,clone,clone3,fork,vfork,procexit,connect,unlinkat";

const dir = mkdtempSync(join(tmpdir(), "vigil-trace-"));
let n = 0;
const sockPath = () => join(dir, `s${n++}.sock`);
writeFileSync(join(dir, "not-executable"), "plain text\n", { mode: 0o644 });

beforeAll(() => {
  const mk = spawnSync("make", ["-s", "-C", join(REPO_ROOT, "native-bridge", "trace")], { encoding: "utf8" });
  if (mk.status !== 0) throw new Error(`vigil-trace build failed: ${mk.stderr}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  pid: number;
}

function run(args: string[], opts: { onSpawn?: (pid: number) => void; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(TRACE, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => {
      c.kill("SIGKILL");
      reject(new Error(`vigil-trace timed out: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    c.on("spawn", () => opts.onSpawn?.(c.pid as number));
    c.on("exit", (code, signal) => {
      clearTimeout(timer);
      // let the listener read what is in flight
      setTimeout(() => resolve({ code, signal, stderr, stdout, pid: c.pid as number }), 100);
    });
  });
}

describe("frames of a workload", () => {
  const l = new FrameListener(sockPath());
  let r: Run;
  beforeAll(async () => {
    await l.listen();
    r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", "sh", "-c", "cat /etc/hostname >/dev/null; exit 3"]);
  });
  afterAll(() => l.close());

  it("returns the workload's exit code and sends well-formed frames", () => {
    expect(r.code).toBe(3);
    expect(l.errors).toEqual([]);
    expect(l.frames.length).toBeGreaterThan(4);
    for (const f of l.frames) expect(f.version).toBe(1);
  });

  it("starts every connection with READY then STATS", () => {
    const c0 = l.connections[0] ?? [];
    expect(c0[0]?.type).toBe(T.CTL_READY);
    expect(c0[1]?.type).toBe(T.CTL_STATS);
    const ready = c0[0] as Frame;
    // realtime and boottime taken together: their difference is the boot time, in the past
    const rt = ready.raw.readBigUInt64LE(88);
    const bt = ready.raw.readBigUInt64LE(96);
    expect(rt - bt).toBeLessThan(BigInt(Date.now()) * 1_000_000n);
    expect(ready.raw.readUInt32LE(108)).toBeGreaterThan(5); // syscalls traced
  });

  it("reports the execs with the process block", () => {
    const execs = l.frames.filter((f) => f.type === T.EXECVE && f.res === 0n);
    const sh = execs.find((f) => f.comm === "sh");
    const cat = execs.find((f) => f.comm === "cat");
    expect(sh).toBeDefined();
    expect(cat).toBeDefined();
    const c = cat as Frame;
    expect(str(c.params[0])).toBe("cat");
    expect(str(c.params[1])).toBe("/etc/hostname");
    expect(str(c.params[4])).toMatch(/\/bin\/cat$/);
    expect(str(c.params[2])).toBe(process.cwd());
    expect(str(c.params[5])?.startsWith("/")).toBe(true); // cgroup path
    expect(c.params).toHaveLength(21);
    expect(c.ppid).toBe((sh as Frame).pid);
    expect(c.uid).toBe(process.getuid?.());
    expect(c.startTs).toBeGreaterThan(0n);
    expect(c.cgroupId).toBeGreaterThan(0n);
    // sh's argv: "-c" and the script
    expect(str((sh as Frame).params[1])).toBe("-c");
  });

  it("reports the open of /etc/hostname with its fd info", () => {
    const o = l.frames.find((f) => f.type === T.OPENAT && str(f.params[1]) === "/etc/hostname");
    expect(o).toBeDefined();
    const f = o as Frame;
    expect(f.comm).toBe("cat");
    expect(f.res).toBeGreaterThanOrEqual(0n);
    expect(BigInt.asIntN(64, u64(f.params[0]) ?? 0n)).toBe(-100n); // AT_FDCWD
    expect(fdinfo(f.params[6])).toEqual({ kind: 1, path: "/etc/hostname" });
    expect(u64(f.params[5])).toBeGreaterThan(0n); // inode
  });

  it("follows the fork: parent and child clone events, then exits with status", () => {
    const child = l.frames.find((f) => [T.CLONE, T.CLONE3, T.FORK, T.VFORK].includes(f.type as 29) && (f.flags & F_CHILD) !== 0);
    const parent = l.frames.find((f) => [T.CLONE, T.CLONE3, T.FORK, T.VFORK].includes(f.type as 29) && (f.flags & F_CHILD) === 0);
    expect(child).toBeDefined();
    expect(parent).toBeDefined();
    expect(Number(parent?.res)).toBe(child?.pid);
    expect(child?.res).toBe(0n);
    const exits = l.frames.filter((f) => f.type === T.PROCEXIT);
    const shExit = exits.find((f) => f.pid === parent?.pid);
    expect(shExit).toBeDefined();
    expect(u64(shExit?.params[1])).toBe(3n); // exit code
    expect(exits.find((f) => f.pid === child?.pid)).toBeDefined();
  });
});

describe("fd facts are per event", () => {
  it("two opens reusing fd 3 in one process report each file's own inode and path", async () => {
    const l = new FrameListener(sockPath());
    await l.listen();
    const r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", "sh", "-c", "exec 3</etc/hostname; exec 3<&-; exec 3</etc/passwd; exit 0"]);
    expect(r.code).toBe(0);
    for (const path of ["/etc/hostname", "/etc/passwd"]) {
      const f = l.frames.find((x) => x.type === T.OPENAT && str(x.params[1]) === path);
      expect(f, path).toBeDefined();
      expect(f?.res).toBe(3n);
      expect(u64(f?.params[5])).toBe(BigInt(statSync(path).ino));
      expect(fdinfo(f?.params[6])?.path).toBe(realpathSync(path));
    }
    await l.close();
  });
});

describe("threads", () => {
  it("a worker thread's open carries the process's pid and the thread's tid", async () => {
    const l = new FrameListener(sockPath());
    await l.listen();
    const js = 'const { Worker } = require("worker_threads"); new Worker(\'require("fs").readFileSync("/etc/hostname")\', { eval: true });';
    const r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", process.execPath, "-e", js]);
    expect(r.code).toBe(0);
    const nodeExec = l.frames.find((f) => f.type === T.EXECVE && f.res === 0n && str(f.params[4]) === realpathSync(process.execPath));
    expect(nodeExec).toBeDefined();
    const open = l.frames.find((f) => f.type === T.OPENAT && str(f.params[1]) === "/etc/hostname" && f.res >= 0n);
    expect(open?.pid).toBe(nodeExec?.pid);
    expect(open?.tid).not.toBe(open?.pid);
    // thread creation: the child side of clone carries the process's pid and its own tid
    const births = l.frames.filter((f) => (f.type === T.CLONE || f.type === T.CLONE3) && (f.flags & F_CHILD) !== 0 && f.pid === nodeExec?.pid);
    expect(births.length).toBeGreaterThan(1);
    expect(births.some((b) => b.tid === open?.tid)).toBe(true);
    await l.close();
  });
});

describe("overlayfs layers (container drift)", () => {
  const o = join(dir, "ovl");
  const merged = join(o, "merged");
  let mounted = false;
  beforeAll(() => {
    for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(o, d), { recursive: true });
    copyFileSync("/bin/true", join(o, "lower", "from-image"));
    chmodSync(join(o, "lower", "from-image"), 0o755);
    const m = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${o}/lower,upperdir=${o}/upper,workdir=${o}/work`, merged]);
    mounted = m.status === 0;
  });
  afterAll(() => {
    if (mounted) spawnSync("umount", [merged]);
  });

  it("flags an exe written after the start as upper layer and an image file as lower", async () => {
    expect(mounted).toBe(true);
    const l = new FrameListener(sockPath());
    await l.listen();
    const script = `cp ${merged}/from-image ${merged}/dropped; ${merged}/from-image; ${merged}/dropped; exec 3<${merged}/dropped; exit 0`;
    const r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", "sh", "-c", script]);
    expect(r.code).toBe(0);
    const exeFlags = (name: string) => u32(l.frames.find((f) => f.type === T.EXECVE && f.res === 0n && str(f.params[4])?.endsWith(`/${name}`))?.params[16]);
    const LAYERS = 2 | 8; // EXE_UPPER_LAYER | EXE_LOWER_LAYER
    expect((exeFlags("from-image") ?? 0) & LAYERS).toBe(8);
    expect((exeFlags("dropped") ?? 0) & LAYERS).toBe(2);
    const open = l.frames.find((f) => f.type === T.OPENAT && str(f.params[1]) === `${merged}/dropped` && f.res >= 0n);
    expect(open?.params[6]?.[1]).toBe(1); // fd info aux: upper layer
    await l.close();
  });
});

describe("process control", () => {
  it.each([
    ["exit code", ["sh", "-c", "exit 7"], 7],
    ["killed by a signal", ["sh", "-c", "kill -KILL $$"], 137],
    ["command not found", ["/nonexistent/cmd"], 127],
    ["not executable", [join(dir, "not-executable")], 126],
  ])("%s", async (_n, cmd, code) => {
    const r = await run(["--socket", join(dir, "absent.sock"), "--", ...cmd]);
    expect(r.code).toBe(code);
  });

  it("forwards SIGTERM to the workload", async () => {
    let pid = 0;
    const p = run(["--socket", join(dir, "absent.sock"), "--", "sh", "-c", 'trap "exit 42" TERM; while :; do sleep 0.05; done'], {
      onSpawn: (x) => (pid = x),
    });
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, "SIGTERM");
    expect((await p).code).toBe(42);
  });

  it("passes the workload's own flags and stdout through", async () => {
    const r = await run(["--socket", join(dir, "absent.sock"), "--", "echo", "-n", "--socket", "x"]);
    expect(r.stdout).toBe("--socket x");
    expect(r.code).toBe(0);
  });

  it.each([
    [["--buffer-kb", "1", "--", "true"], 2],
    [["--bogus", "--", "true"], 2],
    [[], 2],
  ])("bad usage %j exits %i", async (args, code) => {
    expect((await run(args)).code).toBe(code);
  });

  it("survives hostile arguments (huge argv, long paths)", async () => {
    const l = new FrameListener(sockPath());
    await l.listen();
    const long = "A".repeat(100_000);
    const deep = "/tmp/" + "d".repeat(250) + "/" + "e".repeat(250);
    const r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", "sh", "-c", `cat ${deep} 2>/dev/null; /bin/true ${long}; exit 0`]);
    expect(r.code).toBe(0);
    expect(l.errors).toEqual([]);
    const t = l.frames.find((f) => f.type === T.EXECVE && f.comm === "true");
    expect(t).toBeDefined();
    expect((t?.params[1]?.length ?? 0) <= 4096).toBe(true);
    const failed = l.frames.find((f) => f.type === T.OPENAT && str(f.params[1]) === deep);
    expect(failed?.res).toBe(-2n); // ENOENT
    expect(failed?.params[6]).toBeUndefined(); // no fd: fd info missing
    await l.close();
  });
});

describe("hostile syscall arguments", () => {
  it("bad pointers, strings at a mapping's end and unterminated strings give well-formed frames", async () => {
    const bin = join(dir, "hostile");
    const cc = spawnSync("cc", ["-O1", "-o", bin, join(REPO_ROOT, "test", "trace", "fixtures", "hostile.c")], { encoding: "utf8" });
    expect(cc.status, cc.stderr).toBe(0);
    const l = new FrameListener(sockPath());
    await l.listen();
    const r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", bin]);
    expect(l.errors).toEqual([]);
    const opens = l.frames.filter((f) => f.type === T.OPENAT && f.comm === "hostile");
    // 1. EFAULT: the path is missing, not garbage
    const bad = opens.find((f) => f.res === -14n);
    expect(bad).toBeDefined();
    expect(bad?.params[1]).toBeUndefined();
    // 2. the path right before the hole reads whole
    const edge = opens.find((f) => str(f.params[1]) === "/etc/hostname");
    expect(edge?.res).toBeGreaterThanOrEqual(0n);
    // 3. the unterminated string is cut at 4096 bytes with its NUL
    const big = opens.find((f) => (f.params[1]?.length ?? 0) > 1000);
    expect(big?.params[1]?.length).toBe(4096);
    expect(big?.params[1]?.[4095]).toBe(0);
    // 4. the exec with an empty argv ran /bin/true (the kernel gives it an empty argv[0])
    const ex = l.frames.find((f) => f.type === T.EXECVE && f.pid === bad?.pid && f.res === 0n && str(f.params[4])?.endsWith("/true"));
    expect(ex).toBeDefined();
    expect(str(ex?.params[0]) ?? "").toBe("");
    expect(r.code).toBe(0);
    await l.close();
  });
});

describe.runIf(process.arch === "x64")("32-bit syscalls (int $0x80) are seen too", () => {
  it("open, openat, socketcall(connect) and execve made through the i386 ABI give the usual frames", async (ctx) => {
    const bin = join(dir, "compat32");
    const cc = spawnSync("cc", ["-O1", "-o", bin, join(REPO_ROOT, "test", "trace", "fixtures", "compat32.c")], { encoding: "utf8" });
    expect(cc.status, cc.stderr).toBe(0);
    // Kernels built without IA32 emulation (or booted with ia32_emulation=0) fault on int $0x80:
    // there is no 32-bit ABI to evade through, so there is nothing to trace.
    const bare = spawnSync(bin, ["9"], { encoding: "utf8" });
    if (bare.signal !== null) ctx.skip(`this kernel has no i386 syscall ABI (the program died of ${bare.signal})`);
    const srv = createNetServer((c) => c.end());
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    const l = new FrameListener(sockPath());
    await l.listen();
    const r = await run(["--socket", l.path, "--syscalls", SYSCALLS, "--", bin, String(port)]);
    srv.close();
    expect(r.code).toBe(0); // the 32-bit execve of /bin/true ran
    const mine = l.frames.filter((f) => f.comm === "compat32");
    const open = mine.find((f) => f.type === 3 && str(f.params[0]) === "/etc/hostname");
    expect(open?.res).toBeGreaterThanOrEqual(0n);
    expect(fdinfo(open?.params[5])?.path).toBe("/etc/hostname");
    const openat = mine.find((f) => f.type === T.OPENAT && str(f.params[1]) === "/etc/passwd");
    expect(openat?.res).toBeGreaterThanOrEqual(0n);
    const connect = mine.find((f) => f.type === 40);
    expect(connect?.res).toBe(0n);
    const tuple = connect?.params[0];
    expect(tuple?.[0]).toBe(2); // AF_INET
    expect(tuple?.readUInt16LE(11)).toBe(port); // remote port
    const exec = l.frames.find((f) => f.type === T.EXECVE && f.res === 0n && str(f.params[4])?.endsWith("/true") && f.pid === open?.pid);
    expect(exec).toBeDefined();
    await l.close();
  });
});

describe("agent absent", () => {
  it("runs the workload, then reports the gap when the agent appears", async () => {
    const path = sockPath();
    const l = new FrameListener(path);
    // phase 1 (no agent) overflows a 64 KiB buffer; phase 2 happens after the agent is back
    const script = "i=0; while [ $i -lt 300 ]; do cat /etc/hostname >/dev/null; i=$((i+1)); done; sleep 3; cat /etc/hostname >/dev/null; exit 5";
    const p = run(["--socket", path, "--buffer-kb", "64", "--syscalls", SYSCALLS, "--", "sh", "-c", script], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await l.listen();
    const r = await p;
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("not reachable");
    expect(l.errors).toEqual([]);
    const stats = l.frames.filter((f) => f.type === T.CTL_STATS);
    expect(stats.length).toBeGreaterThan(0);
    const last = stats[stats.length - 1] as Frame;
    const drops = last.raw.readBigUInt64LE(104);
    const events = last.raw.readBigUInt64LE(112);
    expect(drops).toBeGreaterThan(0n);
    expect(events).toBeGreaterThan(drops);
    // the buffered frames that fit and everything after the reconnection arrived
    const opens = l.frames.filter((f) => f.type === T.OPENAT && str(f.params[1]) === "/etc/hostname");
    expect(opens.length).toBeGreaterThan(0);
    expect(l.frames.some((f) => f.type === T.PROCEXIT && u64(f.params[1]) === 5n)).toBe(true);
    await l.close();
  }, 40_000);

  it("survives the agent going away mid-run", async () => {
    const path = sockPath();
    const l = new FrameListener(path);
    await l.listen();
    const p = run([
      "--socket",
      path,
      "--syscalls",
      SYSCALLS,
      "--",
      "sh",
      "-c",
      "i=0; while [ $i -lt 200 ]; do cat /etc/hostname >/dev/null; i=$((i+1)); done; exit 0",
    ]);
    await new Promise((r) => setTimeout(r, 150));
    await l.close();
    expect((await p).code).toBe(0);
  });
});
