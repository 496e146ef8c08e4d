// SPDX-License-Identifier: Apache-2.0
/**
 * Real kernel, real probe: operations submitted through io_uring (test/scenarios/attack-io-uring.c,
 * raw io_uring_setup + mmap + io_uring_enter, and an SQPOLL ring that submits with no syscall) reach
 * the agent as io_uring_op events named and typed as their syscall equivalents (fd.name of the file
 * an open asks for, made absolute; the connect's socket tuple with the remote end it names), while
 * the openat/connect tracepoints see nothing of them. The data path (read, write) stays in the kernel.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { EVENTS, FLAG_TABLES } from "../../rules/event-table.js";
import type { FdInfo, SyscallEvent } from "../../rules/event.js";

interface Snap {
  type: string;
  pid: number;
  comm: string;
  args: Record<string, unknown>;
  fd: FdInfo | undefined;
}

const events: Snap[] = [];
const OP = new Map(FLAG_TABLES.ioUringOp.map(([n, v]) => [v, n]));
let stream: KernelEventStream;
let dir: string;
let tool: string;
let server: Server;
let port = 0;

function snap(e: SyscallEvent): Snap {
  const spec = EVENTS[e.type]!;
  const args: Record<string, unknown> = {};
  spec.params.forEach((p, i) => {
    args[p.name] = e.args[i];
  });
  return { type: spec.name, pid: e.proc.pid, comm: e.proc.comm, args, fd: e.fd === undefined ? undefined : { ...e.fd } };
}

function run(args: string[], cwd?: string): Promise<{ pid: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(tool, args, { stdio: ["ignore", "ignore", "pipe"], cwd });
    let stderr = "";
    c.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    c.on("error", reject);
    c.on("close", (code) => resolve({ pid: c.pid!, code, stderr }));
  });
}

async function settle(pid: number, until: (s: Snap[]) => boolean, ms = 3000): Promise<Snap[]> {
  const end = Date.now() + ms;
  for (;;) {
    const mine = events.filter((s) => s.pid === pid);
    if (until(mine) || Date.now() > end) return mine;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const op = (s: Snap) => OP.get(s.args["op"] as number);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-iou-"));
  tool = join(dir, "vigil-attack");
  execFileSync("gcc", ["-static", "-O2", "-o", tool, join(import.meta.dirname, "../scenarios/attack.c")], { stdio: "pipe" });
  server = createServer((s) => s.on("error", () => undefined).resume());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
  stream = new KernelEventStream({
    syscalls: ["execve", "clone", "clone3", "fork", "vfork", "procexit", "openat", "connect", "io_uring_setup", "io_uring_op"],
    logger: pino({ level: "silent" }),
    onEvent: (e) => {
      if (e.proc.pid === process.pid) return;
      events.push(snap(e));
      if (events.length > 200_000) events.splice(0, 100_000);
    },
  });
  await stream.start();
}, 90_000);

afterAll(async () => {
  await stream?.stop();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("io_uring operations reach the agent", () => {
  it("openat + read through a ring: io_uring_op OPENAT with the path, flags and fd.name; no openat event; reads stay in the kernel", async () => {
    const secret = join(dir, "secret.key");
    writeFileSync(secret, "k".repeat(10_000));
    const { pid, code, stderr } = await run(["uring-read", secret]);
    expect(code, stderr).toBe(0);
    const mine = await settle(pid, (s) => s.filter((x) => x.type === "io_uring_op").length >= 2);
    const setup = mine.find((s) => s.type === "io_uring_setup");
    expect(setup?.args["entries"]).toBe(8);
    const ops = mine.filter((s) => s.type === "io_uring_op");
    expect(ops.map(op)).toEqual(["IORING_OP_OPENAT", "IORING_OP_OPENAT"]);
    expect(ops[0]!.args).toMatchObject({ name: secret, dirfd: -100, flags: 0, res: 0, sq_thread: 0, fixed: 0 });
    expect(ops[0]!.fd).toMatchObject({ name: secret, type: "file", openFlags: 0 });
    expect(ops[1]!.args).toMatchObject({ name: "/dev/null", flags: 1 });
    // the opens were not syscalls: the openat tracepoint saw none of them
    expect(mine.filter((s) => s.type === "openat" && s.fd?.name === secret)).toEqual([]);
  });

  it("a relative path is made absolute against the process's cwd", async () => {
    writeFileSync(join(dir, "rel.txt"), "x");
    const { pid, code } = await run(["uring-read", "rel.txt"], dir);
    expect(code).toBe(0);
    const mine = await settle(pid, (s) => s.some((x) => x.type === "io_uring_op"));
    const o = mine.find((s) => s.type === "io_uring_op")!;
    expect(o.args["name"]).toBe("rel.txt");
    expect(o.fd?.name).toBe(join(dir, "rel.txt"));
  });

  it("an SQPOLL ring: the kernel's submission thread submits (sq_thread 1), still reported under the process", async () => {
    const target = join(dir, "sqpoll.txt");
    writeFileSync(target, "y");
    const { pid, code, stderr } = await run(["uring-sqpoll", target]);
    expect(code, stderr).toBe(0);
    const mine = await settle(pid, (s) => s.some((x) => x.type === "io_uring_op" && x.args["name"] === target));
    const o = mine.find((s) => s.type === "io_uring_op" && s.args["name"] === target);
    expect(o?.args["sq_thread"]).toBe(1);
    // the submitting thread is the ring's iou-sqp thread, of the same thread group: the process's own
    expect(o?.comm).toBe("vigil-attack");
    expect(o?.fd?.name).toBe(target);
  });

  it("a write open through the ring carries O_WRONLY|O_CREAT|O_APPEND and its mode", async () => {
    const target = join(dir, "out.txt");
    const { pid, code } = await run(["uring-write", target, "hello"]);
    expect(code).toBe(0);
    const mine = await settle(pid, (s) => s.some((x) => x.type === "io_uring_op"));
    const o = mine.find((s) => s.type === "io_uring_op")!;
    expect(o.args).toMatchObject({ name: target, flags: 0o1 | 0o100 | 0o2000, mode: 0o644 });
    expect(o.fd?.openFlags).toBe(0o1 | 0o100 | 0o2000);
  });

  it("connect through the ring: IORING_OP_CONNECT with the address, fd.name the socket's tuple with that remote end; no connect event", async () => {
    const { pid, code, stderr } = await run(["uring-connect", "127.0.0.1", String(port), "hi"]);
    expect(code, stderr).toBe(0);
    const mine = await settle(pid, (s) => s.some((x) => x.type === "io_uring_op"));
    const ops = mine.filter((s) => s.type === "io_uring_op");
    // the send that follows is data path: not reported
    expect(ops.map(op)).toEqual(["IORING_OP_CONNECT"]);
    const c = ops[0]!;
    expect(c.args["addr"]).toMatchObject({ family: 2, dip: "127.0.0.1", dport: port });
    expect(typeof c.args["fd"]).toBe("number");
    expect(c.fd?.type).toBe("ipv4");
    expect(c.fd?.tuple).toMatchObject({ dip: "127.0.0.1", dport: port });
    expect(c.fd?.name).toMatch(new RegExp(`->127\\.0\\.0\\.1:${port}$`));
    expect(mine.filter((s) => s.type === "connect")).toEqual([]);
  });
});
