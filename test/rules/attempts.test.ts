// SPDX-License-Identifier: Apache-2.0
/**
 * The attempts pack (rules/files/40-attempts.yaml) against events shaped as the probe sends them:
 * each rule fires on the refused call (with the error in its output) and stays silent on the
 * same call when it succeeded, on errors that are not refusals (a shell's PATH search, a missing
 * file) and on the host; the packs' result filters keep the failures these rules need.
 */
import { describe, expect, it } from "vitest";
import type { ArgValue, FdInfo, ThreadInfo } from "../../rules/event.js";
import { PUSHDOWN_EVENTS } from "../../rules/compile/pushdown.js";
import { deriveResultFilters } from "../../rules/compile/result-filter.js";
import { loadRuleFiles } from "../../rules/index.js";
import { packFile } from "../helpers/packs.js";
import { container, ev, fileFd, proc } from "./event-builder.js";

const EPERM = -1;
const ENOENT = -2;
const EACCES = -13;
const ENOEXEC = -8;
const EROFS = -30;
const ENOSYS = -38;
const O_WRONLY_CREAT_TRUNC = 0o1101;

const rs = (() => {
  const r = loadRuleFiles(["00-vigil-base.yaml", "40-attempts.yaml"].map(packFile), {});
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r.ruleset;
})();

const inCtr = (comm = "sh"): ThreadInfo => proc({ comm, exe: comm, exepath: "/bin/busybox", cwd: "/", container: container() });
const onHost = (comm = "sh"): ThreadInfo => proc({ comm, exe: comm, exepath: "/bin/busybox", cwd: "/" });

function fired(type: string, args: Record<string, ArgValue>, res: number, p: ThreadInfo = inCtr(), fd?: FdInfo): string[] {
  const out: string[] = [];
  rs.evaluate(ev({ type, args, res, proc: p, fd }), (r) => out.push(r.name));
  return out;
}

describe("Exec Refused In Container", () => {
  const R = "Exec Refused In Container";
  it("fires on EACCES/EPERM, and on ENOEXEC from a temporary directory", () => {
    expect(fired("execve", { filename: "/dev/shm/kworker" }, EACCES)).toContain(R);
    expect(fired("execve", { filename: "/app/tool" }, EPERM)).toContain(R);
    expect(fired("execve", { filename: "/tmp/xmr" }, ENOEXEC)).toContain(R);
    expect(fired("execveat", { dirfd: 3, pathname: "/dev/shm/x" }, ENOEXEC)).toContain(R);
  });
  it("stays silent on success, a PATH search (ENOENT), a shebang-less script outside temporary directories, the host", () => {
    expect(fired("execve", { filename: "/dev/shm/kworker" }, 0)).not.toContain(R);
    expect(fired("execve", { filename: "/usr/local/bin/ls" }, ENOENT)).not.toContain(R);
    expect(fired("execve", { filename: "/app/run.sh" }, ENOEXEC)).not.toContain(R);
    expect(fired("execve", { filename: "/dev/shm/kworker" }, EACCES, onHost())).not.toContain(R);
  });
});

describe("Write Refused To Kernel Tunable Or Protected File", () => {
  const R = "Write Refused To Kernel Tunable Or Protected File";
  const open = (name: string, res: number, flags = O_WRONLY_CREAT_TRUNC, p = inCtr()) =>
    fired("openat", { dirfd: -100, name, flags, mode: 0o644 }, res, p, fileFd(name, { num: -1 }));
  it("fires on a write open of a tunable or protected file refused with EROFS, EACCES, EPERM", () => {
    expect(open("/proc/sys/kernel/core_pattern", EROFS)).toContain(R);
    expect(open("/proc/sys/vm/drop_caches", EACCES)).toContain(R);
    expect(open("/sys/kernel/uevent_helper", EROFS)).toContain(R);
    expect(open("/etc/passwd", EACCES)).toContain(R);
    expect(open("/etc/sudoers.d/nobody", EACCES)).toContain(R);
    expect(open("/sys/fs/cgroup/release_agent", EPERM)).toContain(R);
  });
  it("stays silent on reads, successes, other files and errors, the host", () => {
    expect(open("/etc/shadow", EACCES, 0)).not.toContain(R);
    expect(open("/proc/sys/kernel/core_pattern", 3)).not.toContain(R);
    expect(open("/tmp/x", EACCES)).not.toContain(R);
    expect(open("/etc/passwd", ENOENT)).not.toContain(R);
    expect(open("/etc/passwd", EACCES, O_WRONLY_CREAT_TRUNC, onHost())).not.toContain(R);
  });
});

describe("privileged calls refused", () => {
  it("escape calls refused with EPERM/EACCES", () => {
    const R = "Container Escape Attempt Refused";
    expect(fired("mount", { dev: "proc", dir: "/tmp/p", type: "proc", flags: 0 }, EPERM)).toContain(R);
    expect(fired("setns", { fd: 3, nstype: 0 }, EPERM)).toContain(R);
    expect(fired("unshare", { flags: 0x20000 }, EPERM)).toContain(R);
    expect(fired("bpf", { cmd: 5 }, EPERM)).toContain(R);
    expect(fired("mount", { dev: "proc", dir: "/tmp/p", type: "proc", flags: 0 }, 0)).not.toContain(R);
    expect(fired("mount", { dev: "/dev/x", dir: "/tmp/p", type: "ext4", flags: 0 }, ENOENT)).not.toContain(R);
    expect(fired("mount", { dev: "proc", dir: "/tmp/p", type: "proc", flags: 0 }, EPERM, onHost())).not.toContain(R);
  });
  it("module calls refused with EPERM, EACCES or ENOSYS", () => {
    const R = "Kernel Module Load Refused";
    expect(fired("finit_module", { fd: 3, uargs: "", flags: 0 }, EPERM)).toContain(R);
    expect(fired("delete_module", { name: "apparmor", flags: 0 }, ENOSYS)).toContain(R);
    expect(fired("init_module", { length: 4, uargs: "" }, 0)).not.toContain(R);
  });
  it("ptrace attach or seize refused", () => {
    const R = "Ptrace Attach Refused";
    expect(fired("ptrace", { request: "PTRACE_ATTACH", pid: 1 }, EPERM)).toContain(R);
    expect(fired("ptrace", { request: "PTRACE_SEIZE", pid: 1 }, EPERM)).toContain(R);
    expect(fired("ptrace", { request: "PTRACE_ATTACH", pid: 1 }, 0)).not.toContain(R);
    expect(fired("ptrace", { request: "PTRACE_PEEKDATA", pid: 1 }, EPERM)).not.toContain(R);
  });
});

describe("result filters of the pack", () => {
  it("the privileged calls only this pack names are asked ':fail' of the probe", () => {
    const f = deriveResultFilters(rs.rules, new Map([["execve", "ok"]]), new Set(PUSHDOWN_EVENTS));
    for (const n of ["mount", "umount2", "unshare", "setns", "bpf", "ptrace", "delete_module", "pivot_root"]) expect(f.get(n), n).toBe("fail");
    // exec: the process table needs the successes, this pack the failures
    expect(f.has("execve")).toBe(false);
  });
});
