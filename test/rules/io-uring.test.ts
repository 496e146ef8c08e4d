// SPDX-License-Identifier: Apache-2.0
/**
 * The io_uring rules (rules/files/44-io-uring.yaml) against events shaped as the probe and the agent
 * make them (native-bridge/probe/io-uring.h, agent/state/event-state.ts): an open submitted through a
 * ring carries the path asked for and fd.name made absolute; a connect carries the socket with the
 * remote end it names. Every pack is loaded, in load order, as the agent loads them.
 */
import { describe, expect, it } from "vitest";
import type { ArgValue, FdInfo, ThreadInfo } from "../../rules/event.js";
import { eventByName, FLAG_TABLES } from "../../rules/event-table.js";
import { loadRuleFiles } from "../../rules/index.js";
import { packFiles } from "../helpers/packs.js";
import { container, ev, fileFd, O, proc, sockFd } from "./event-builder.js";

const rs = (() => {
  const r = loadRuleFiles(packFiles(), {});
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r.ruleset;
})();

const OP = Object.fromEntries(FLAG_TABLES.ioUringOp) as Record<string, number>;
const AT_FDCWD = -100;

function fired(type: string, args: Record<string, ArgValue>, p: ThreadInfo, fd?: FdInfo, res = 0): string[] {
  const out: string[] = [];
  rs.evaluate(ev({ type, args, res, proc: p, fd }), (r) => out.push(r.name));
  return out;
}
const inCtr = (comm: string, exepath = `/usr/bin/${comm}`): ThreadInfo => proc({ comm, exe: comm, exepath, cwd: "/", container: container() });
const onHost = (comm: string): ThreadInfo => proc({ comm, exe: comm, exepath: `/usr/bin/${comm}`, cwd: "/" });
/** An open submitted through io_uring, as the agent names it (fd.name absolute, no fd number yet). */
function uringOpen(path: string, flags: number, p: ThreadInfo, op = "IORING_OP_OPENAT"): string[] {
  const fd = fileFd(path, { num: -1, ino: undefined, dev: undefined, openFlags: flags });
  return fired("io_uring_op", { op: OP[op], dirfd: AT_FDCWD, name: path, flags, mode: 0, sq_thread: 0, fixed: 0 }, p, fd);
}
function uringConnect(dip: string, dport: number, p: ThreadInfo): string[] {
  const addr = { family: 2, sip: "", sport: 0, dip, dport };
  return fired("io_uring_op", { op: OP["IORING_OP_CONNECT"], fd: 3, addr, sq_thread: 0, fixed: 0 }, p, sockFd("0.0.0.0", 0, dip, dport));
}

describe("event table: io_uring_op", () => {
  it("is appended with its params, hooked on the io_uring tracepoint, the opcode names from the kernel ABI", () => {
    const e = eventByName("io_uring_op")!;
    expect(e.params.map((q) => q.name)).toEqual(["res", "op", "fd", "dirfd", "name", "flags", "mode", "addr", "user_data", "sq_thread", "fixed"]);
    expect(e.hook).toEqual({ prog: "io_uring_submit", tracepoint: null });
    expect(OP["IORING_OP_OPENAT"]).toBe(18);
    expect(OP["IORING_OP_OPENAT2"]).toBe(28);
    expect(OP["IORING_OP_CONNECT"]).toBe(16);
    expect(OP["IORING_OP_PIPE"]).toBe(62);
  });
});

describe("io_uring Set Up By Unexpected Program In Container", () => {
  const R = "io_uring Set Up By Unexpected Program In Container";
  it.each([["vigil-attack"], ["sh"], ["python3"], ["curl"]])("fires for %s in a container", (comm) => {
    expect(fired("io_uring_setup", { entries: 8 }, inCtr(comm), undefined, 3)).toContain(R);
  });
  it("fires for a refused setup too (seccomp: EPERM)", () => {
    expect(fired("io_uring_setup", { entries: 8 }, inCtr("sh"), undefined, -1)).toContain(R);
  });
  it.each([["postgres"], ["node"], ["envoy"], ["redis-server"]])("silent for the io_uring runtime %s", (comm) => {
    expect(fired("io_uring_setup", { entries: 256 }, inCtr(comm), undefined, 3)).not.toContain(R);
  });
  it("silent on the host", () => {
    expect(fired("io_uring_setup", { entries: 8 }, onHost("vigil-attack"), undefined, 3)).not.toContain(R);
  });
});

describe("opens through io_uring", () => {
  it("Shadow File Opened Through io_uring: OPENAT and OPENAT2, in a container or on the host", () => {
    expect(uringOpen("/etc/shadow", O.RDONLY, inCtr("vigil-attack"))).toContain("Shadow File Opened Through io_uring");
    expect(uringOpen("/etc/gshadow", O.RDONLY, onHost("x"), "IORING_OP_OPENAT2")).toContain("Shadow File Opened Through io_uring");
  });
  it("the login stack reading shadow through a ring stays silent; so does another file", () => {
    expect(uringOpen("/etc/shadow", O.RDONLY, inCtr("sshd", "/usr/sbin/sshd"))).not.toContain("Shadow File Opened Through io_uring");
    expect(uringOpen("/etc/hostname", O.RDONLY, inCtr("vigil-attack"))).toEqual([]);
  });
  it("Credential File Opened Through io_uring: SSH private keys and cloud credentials, not public keys or ssh itself", () => {
    const R = "Credential File Opened Through io_uring";
    expect(uringOpen("/root/.ssh/id_rsa", O.RDONLY, inCtr("vigil-attack"))).toContain(R);
    expect(uringOpen("/home/app/.aws/credentials", O.RDONLY, inCtr("node2"))).toContain(R);
    expect(uringOpen("/root/.ssh/id_rsa.pub", O.RDONLY, inCtr("vigil-attack"))).not.toContain(R);
    expect(uringOpen("/root/.ssh/id_rsa", O.RDONLY, inCtr("ssh"))).not.toContain(R);
  });
  it("Account Database Opened For Writing Through io_uring: write opens only, not account tools", () => {
    const R = "Account Database Opened For Writing Through io_uring";
    expect(uringOpen("/etc/passwd", O.WRONLY | O.APPEND | O.CREAT, inCtr("vigil-attack"))).toContain(R);
    expect(uringOpen("/etc/shadow", O.RDWR, inCtr("vigil-attack"))).toContain(R);
    expect(uringOpen("/etc/passwd", O.RDONLY, inCtr("vigil-attack"))).not.toContain(R);
    expect(uringOpen("/etc/passwd", O.WRONLY, inCtr("useradd"))).not.toContain(R);
  });
  it("a syscall openat of the same files does not fire the io_uring rules", () => {
    const out: string[] = [];
    rs.evaluate(ev({ type: "openat", args: { dirfd: AT_FDCWD, name: "/etc/shadow", flags: 0 }, res: 3, proc: inCtr("cat"), fd: fileFd("/etc/shadow") }), (r) =>
      out.push(r.name),
    );
    expect(out.filter((n) => n.includes("io_uring"))).toEqual([]);
  });
});

describe("Outbound Connection Through io_uring", () => {
  const R = "Outbound Connection Through io_uring";
  it("fires for a connect to a routable address from a container", () => {
    expect(uringConnect("203.0.113.9", 4444, inCtr("vigil-attack"))).toContain(R);
  });
  it.each([
    ["loopback", () => uringConnect("127.0.0.1", 8080, inCtr("vigil-attack"))],
    ["an io_uring runtime (node)", () => uringConnect("203.0.113.9", 443, inCtr("node"))],
    ["the host", () => uringConnect("203.0.113.9", 4444, onHost("vigil-attack"))],
  ])("silent: %s", (_n, f) => {
    expect(f()).not.toContain(R);
  });
  it("a data-path op (no target) fires nothing", () => {
    expect(fired("io_uring_op", { op: OP["IORING_OP_CLOSE"], sq_thread: 0, fixed: 0 }, inCtr("vigil-attack"))).toEqual([]);
  });
});
