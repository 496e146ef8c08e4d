// SPDX-License-Identifier: Apache-2.0
/**
 * The stable Falco rules file, read in place from ../shared: it loads with zero errors, and each
 * rule fires on an event built to exercise its condition and stays quiet on a near miss.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRuleFiles, type LoadResult } from "../../rules/index.js";
import type { SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { eventByCode } from "../../rules/event-table.js";
import { STABLE_RULES } from "./stable-path.js";
import { container, ev, execve, fileFd, O, openat, proc, sockFd, type ProcSpec } from "./event-builder.js";

const CAP_DAC_OVERRIDE = 1n << 1n;
const CAP_SYS_MODULE = 1n << 16n;
const CAP_SYS_ADMIN = 1n << 21n;

const ctr = container({ imageRepository: "docker.io/library/alpine", image: "docker.io/library/alpine:3.19" });
const priv = container({ privileged: true });
const inCtr = (s: ProcSpec = {}): ThreadInfo => proc({ container: ctr, ...s });

type Case = [rule: string, fires: SyscallEvent, quiet: SyscallEvent];

const CASES: Case[] = [
  [
    "Directory traversal monitored file read",
    ev({
      type: "openat",
      res: 3,
      args: { dirfd: -100, name: "/var/www/../../etc/shadow", flags: O.RDONLY },
      proc: proc({ comm: "php-fpm", parents: [{ comm: "nginx" }] }),
      fd: fileFd("/etc/shadow"),
    }),
    ev({
      type: "openat",
      res: 3,
      args: { dirfd: -100, name: "/etc/shadow", flags: O.RDONLY },
      proc: proc({ comm: "php-fpm", parents: [{ comm: "nginx" }] }),
      fd: fileFd("/etc/shadow"),
    }),
  ],
  [
    "Read sensitive file trusted after startup",
    openat("/etc/shadow", O.RDONLY, proc({ comm: "nginx", startTs: 1_000_000_000 })),
    openat("/etc/shadow", O.RDONLY, proc({ comm: "nginx", startTs: 8_000_000_000 })),
  ],
  [
    "Read sensitive file untrusted",
    openat("/etc/shadow", O.RDONLY, proc({ comm: "python3", parents: [{ comm: "node" }, { comm: "containerd-shim" }] })),
    openat("/etc/shadow", O.RDONLY, proc({ comm: "bash", parents: [{ comm: "node" }, { comm: "containerd-shim" }] })),
  ],
  [
    "Run shell untrusted",
    execve(proc({ comm: "bash", exe: "bash", args: ["-c", "id"], parents: [{ comm: "nginx" }, { comm: "systemd" }] })),
    execve(proc({ comm: "bash", exe: "bash", args: ["-c", "id"], parents: [{ comm: "sshd" }, { comm: "systemd" }] })),
  ],
  [
    "System user interactive",
    execve(proc({ comm: "bash", user: { name: "www-data", uid: 33 }, uid: 33, parents: [{ comm: "sshd" }] })),
    execve(proc({ comm: "bash", parents: [{ comm: "sshd" }] })),
  ],
  [
    "Terminal shell in container",
    execve(inCtr({ comm: "sh", tty: 34816, parents: [{ comm: "runc:[1:CHILD]" }] })),
    execve(inCtr({ comm: "sh", tty: 0, parents: [{ comm: "runc:[1:CHILD]" }] })),
  ],
  [
    "Netcat Remote Code Execution in Container",
    execve(inCtr({ comm: "nc", args: ["-e", "/bin/sh", "10.0.0.9", "4444"] })),
    execve(inCtr({ comm: "nc", args: ["10.0.0.9", "80"] })),
  ],
  [
    "Search Private Keys or Passwords",
    execve(proc({ comm: "find", args: ["/", "-name", "id_rsa"] })),
    execve(proc({ comm: "find", args: ["/", "-name", "notes.txt"] })),
  ],
  [
    "Clear Log Activities",
    openat("/var/log/syslog", O.WRONLY | O.TRUNC, proc({ comm: "bash" })),
    openat("/var/log/syslog", O.WRONLY | O.APPEND, proc({ comm: "rsyslogd" })),
  ],
  ["Remove Bulk Data from Disk", execve(proc({ comm: "shred", args: ["-u", "/data/db"] })), execve(proc({ comm: "rm", args: ["-rf", "/data/db"] }))],
  [
    "Create Symlink Over Sensitive Files",
    ev({ type: "symlinkat", args: { target: "/etc/shadow", linkdirfd: -100, linkpath: "/tmp/s" } }),
    ev({ type: "symlinkat", args: { target: "/tmp/notes", linkdirfd: -100, linkpath: "/tmp/s" } }),
  ],
  [
    "Create Hardlink Over Sensitive Files",
    ev({ type: "linkat", args: { olddir: -100, oldpath: "/etc/shadow", newdir: -100, newpath: "/tmp/h" } }),
    ev({ type: "linkat", args: { olddir: -100, oldpath: "/tmp/notes", newdir: -100, newpath: "/tmp/h" } }),
  ],
  [
    "Packet socket created in container",
    ev({ type: "socket", res: 3, args: { domain: 17, type: 3, proto: 768 }, proc: inCtr({ comm: "tcpdump" }) }),
    ev({ type: "socket", res: 3, args: { domain: 2, type: 1, proto: 0 }, proc: inCtr({ comm: "curl" }) }),
  ],
  [
    "Redirect STDOUT/STDIN to Network Connection in Container",
    ev({ type: "dup2", res: 1, args: { oldfd: 3, newfd: 1 }, proc: inCtr({ comm: "bash" }), fd: sockFd("172.17.0.2", 40000, "203.0.113.7", 4444) }),
    ev({ type: "dup2", res: 5, args: { oldfd: 3, newfd: 5 }, proc: inCtr({ comm: "bash" }), fd: sockFd("172.17.0.2", 40000, "203.0.113.7", 4444) }),
  ],
  [
    "Linux Kernel Module Injection Detected",
    ev({ type: "finit_module", args: { fd: 3, uargs: "", flags: 0 }, proc: inCtr({ comm: "insmod", capEffective: CAP_SYS_MODULE | CAP_SYS_ADMIN }) }),
    ev({ type: "finit_module", args: { fd: 3, uargs: "", flags: 0 }, proc: inCtr({ comm: "insmod", capEffective: CAP_SYS_ADMIN }) }),
  ],
  [
    "Debugfs Launched in Privileged Container",
    execve(proc({ comm: "debugfs", container: priv, args: ["/dev/sda1"] })),
    execve(proc({ comm: "debugfs", container: ctr, args: ["/dev/sda1"] })),
  ],
  [
    "Detect release_agent File Container Escapes",
    openat("/sys/fs/cgroup/rdma/release_agent", O.WRONLY, inCtr({ comm: "sh", capEffective: CAP_SYS_ADMIN | CAP_DAC_OVERRIDE })),
    openat("/sys/fs/cgroup/rdma/release_agent", O.WRONLY, inCtr({ comm: "sh", capEffective: CAP_DAC_OVERRIDE })),
  ],
  [
    "PTRACE attached to process",
    ev({ type: "ptrace", args: { request: 16, pid: 4242 }, proc: proc({ comm: "gdb" }) }),
    ev({ type: "ptrace", args: { request: 2, pid: 4242 }, proc: proc({ comm: "gdb" }) }),
  ],
  [
    "PTRACE anti-debug attempt",
    ev({ type: "ptrace", args: { request: 0, pid: 0 }, proc: proc({ comm: "malware" }) }),
    ev({ type: "ptrace", args: { request: 7, pid: 0 }, proc: proc({ comm: "malware" }) }),
  ],
  [
    "Find AWS Credentials",
    execve(proc({ comm: "grep", args: ["-r", "aws_secret_access_key", "/home"] })),
    execve(proc({ comm: "grep", args: ["-r", "TODO", "/home"] })),
  ],
  [
    "Execution from /dev/shm",
    execve(proc({ comm: "x", exe: "/dev/shm/x", exepath: "/dev/shm/x" })),
    execve(proc({ comm: "x", exe: "/usr/local/bin/x", exepath: "/usr/local/bin/x" })),
  ],
  [
    "Drop and execute new binary in container",
    execve(inCtr({ comm: "miner", exepath: "/tmp/miner", exeUpperLayer: true, exeLowerLayer: false })),
    execve(inCtr({ comm: "ls", exepath: "/bin/ls", exeUpperLayer: false })),
  ],
  [
    "Disallowed SSH Connection Non Standard Port",
    ev({ type: "connect", res: 0, proc: proc({ comm: "ssh", exe: "/usr/bin/ssh" }), fd: sockFd("192.168.1.10", 50000, "198.51.100.20", 443) }),
    ev({ type: "connect", res: 0, proc: proc({ comm: "ssh", exe: "/usr/bin/ssh" }), fd: sockFd("192.168.1.10", 50000, "198.51.100.20", 22) }),
  ],
  [
    "Fileless execution via memfd_create",
    execve(proc({ comm: "3", exe: "memfd:payload", exepath: "memfd:payload", exeFromMemfd: true })),
    execve(proc({ comm: "3", exe: "memfd:runc_cloned:/proc/self/exe", exepath: "memfd:runc_cloned:/proc/self/exe", exeFromMemfd: true })),
  ],
];

function fired(r: LoadResult, e: SyscallEvent): string[] {
  const out: string[] = [];
  r.ruleset.evaluate(e, (rule) => out.push(rule.name));
  return out;
}

describe("Falco stable rules", () => {
  let all: LoadResult;
  beforeAll(() => {
    all = loadRuleFiles([{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }], { ruleMatching: "all" });
  });

  it("load with zero errors: 25 rules, 87 macros, 49 lists, 19 event types", () => {
    expect(all.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(all.ok).toBe(true);
    expect(all.files[0]).toMatchObject({ rules: 25, macros: 87, lists: 49, errors: 0 });
    expect(all.ruleset.rules).toHaveLength(25);
    const et = all.ruleset.eventTypes();
    expect(et.all).toBe(false);
    expect([...et.names].sort()).toEqual([
      "connect",
      "dup",
      "dup2",
      "dup3",
      "execve",
      "execveat",
      "finit_module",
      "init_module",
      "link",
      "linkat",
      "open",
      "openat",
      "openat2",
      "ptrace",
      "sendmsg",
      "sendto",
      "socket",
      "symlink",
      "symlinkat",
    ]);
    expect(all.requiredPlugins).toEqual([{ name: "container", version: "0.4.0", alternatives: [] }]);
  });

  it("every enabled rule has a case (the DNS-based one has its own test)", () => {
    const covered = new Set(CASES.map((c) => c[0]));
    const missing = all.ruleset.rules.map((r) => r.name).filter((n) => !covered.has(n));
    expect(missing).toEqual(["Contact K8S API Server From Container"]); // covered by its own test below
  });

  it.each(CASES)("%s fires on its event and not on the near miss", (name, fires, quiet) => {
    expect(fired(all, fires)).toContain(name);
    expect(fired(all, quiet)).not.toContain(name);
    const rule = all.ruleset.rules.find((r) => r.name === name);
    const out = rule?.format(fires);
    expect(out?.message).not.toMatch(/%[a-z]/);
    expect(out?.fields["evt.type"]).toBe(eventByCode(fires.type)?.name);
    expect(typeof out?.fields["evt.time"]).toBe("number");
  });

  it("Contact K8S API Server From Container fires when fd.sip.name resolves to the API server", () => {
    const e = ev({ type: "connect", res: 0, proc: inCtr({ comm: "curl" }), fd: sockFd("172.17.0.2", 40000, "10.96.0.1", 443) });
    const other = ev({ type: "connect", res: 0, proc: inCtr({ comm: "curl" }), fd: sockFd("172.17.0.2", 40000, "10.96.0.2", 443) });
    const onHost = ev({ type: "connect", res: 0, proc: proc({ comm: "curl" }), fd: sockFd("172.17.0.2", 40000, "10.96.0.1", 443) });
    // without a name for the IP (no resolver entry) the field is missing and the rule is quiet
    expect(fired(all, e)).not.toContain("Contact K8S API Server From Container");
    const names = loadRuleFiles([{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }], {
      ruleMatching: "all",
      fields: { hostname: "", ipNames: (ip) => (ip === "10.96.0.1" ? "kubernetes.default.svc.cluster.local" : undefined) },
    });
    expect(fired(names, e)).toContain("Contact K8S API Server From Container");
    expect(fired(names, other)).not.toContain("Contact K8S API Server From Container");
    expect(fired(names, onHost)).not.toContain("Contact K8S API Server From Container");
  });

  it("ordinary activity matches nothing", () => {
    const quiet: SyscallEvent[] = [
      openat("/usr/lib/x86_64-linux-gnu/libc.so.6", O.RDONLY | O.CLOEXEC, proc({ comm: "ls" })),
      openat("/tmp/build.log", O.WRONLY | O.CREAT | O.APPEND, proc({ comm: "make" })),
      execve(proc({ comm: "ls", args: ["-la"], parents: [{ comm: "bash" }, { comm: "sshd" }] })),
      execve(inCtr({ comm: "nginx", args: ["-g", "daemon off;"], parents: [{ comm: "containerd-shim" }] })),
      ev({ type: "connect", res: 0, proc: proc({ comm: "curl" }), fd: sockFd("192.168.1.10", 50000, "198.51.100.20", 443) }),
    ];
    for (const e of quiet) expect(fired(all, e)).toEqual([]);
  });

  it("first-match mode reports one rule per event", () => {
    const first = loadRuleFiles([{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }]);
    const e = openat("/etc/shadow", O.RDONLY, proc({ comm: "nginx", startTs: 1_000_000_000 }));
    expect(fired(all, e).length).toBeGreaterThan(1);
    expect(fired(first, e)).toEqual([fired(all, e)[0]]);
  });

  it("output of a fired rule: Falco's message and typed output_fields", () => {
    const rule = all.ruleset.rules.find((r) => r.name === "Terminal shell in container");
    const e = execve(inCtr({ comm: "sh", tty: 34816, parents: [{ comm: "runc:[1:CHILD]" }] }));
    const out = rule?.format(e);
    expect(out?.message).toMatch(
      /^A shell was spawned in a container with an attached terminal \| evt_type=execve user=root user_uid=0 user_loginuid=-1 process=sh proc_exepath=\/usr\/bin\/sh parent=runc:\[1:CHILD\] command=sh terminal=34816/,
    );
    expect(out?.fields).toMatchObject({ "evt.type": "execve", "user.uid": 0, "user.loginuid": -1, "proc.tty": 34816, "proc.name": "sh" });
  });
});
