// SPDX-License-Identifier: Apache-2.0
/**
 * Syscalls of Falco's event table beyond the stable ruleset's, through the real probe and agent:
 * `recvfrom` and `recvmsg` on an unconnected UDP socket (fd, data for `evt.buffer bcontains`, the
 * peer as `fd.name`), `userfaultfd` (its flags and result, as Falco's sandbox rule reads them), a
 * call captured by the generic program (`kill`, signal by name) and a chmod whose mode Falco's
 * rules test by permission-bit name (`evt.arg.mode contains S_ISUID`).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChild, startAgent, type RunningAgent } from "../helpers/agent.js";

const RULES = `- rule: Python UDP recvfrom
  desc: a python process receives a datagram with recvfrom
  condition: evt.type = recvfrom and proc.name startswith python and fd.l4proto = udp and evt.buffer bcontains 7669676f
  output: recvfrom | pid=%proc.pid fd=%evt.arg.fd size=%evt.arg.size res=%evt.res rawres=%evt.rawres connection=%fd.name server=%fd.sip client_port=%fd.cport changed=%fd.name_changed
  priority: NOTICE
- rule: Python UDP recvmsg
  desc: a python process receives a datagram with recvmsg
  condition: evt.type = recvmsg and proc.name startswith python and fd.l4proto = udp and evt.buffer bcontains 7669676f
  output: recvmsg | pid=%proc.pid fd=%evt.arg.fd size=%evt.arg.size res=%evt.res rawres=%evt.rawres connection=%fd.name
  priority: NOTICE
- rule: Python userfaultfd
  desc: a python process creates a userfaultfd
  condition: evt.type = userfaultfd and proc.name startswith python and (evt.rawres >= 0 or evt.res != -1)
  output: userfaultfd | pid=%proc.pid flags=%evt.arg.flags res=%evt.rawres fd_type=%fd.type
  priority: CRITICAL
- rule: Python sends SIGUSR1
  desc: a python process signals with kill
  condition: evt.type = kill and evt.arg.sig = SIGUSR1 and proc.name startswith python
  output: kill | pid=%proc.pid target=%evt.arg.pid sig=%evt.arg.sig res=%evt.res
  priority: NOTICE
- rule: Python reads the marker file
  desc: a python process reads our file (generic program, a bytes param and fd info from an argument)
  condition: evt.type = read and proc.name startswith python and fd.name endswith /read-marker and evt.buffer contains "vigil-read"
  output: read | pid=%proc.pid fd=%evt.arg.fd size=%evt.arg.size res=%evt.res rawres=%evt.rawres file=%fd.name dir=%evt.io_dir
  priority: NOTICE
- rule: Python chroot attempt
  desc: a python process calls chroot (generic program, a string param)
  condition: evt.type = chroot and proc.name startswith python
  output: chroot | pid=%proc.pid path=%evt.arg.path res=%evt.res
  priority: NOTICE
- rule: Python fchmodat2
  desc: a python process calls fchmodat2 (Linux 6.6+, numbered past the build headers)
  condition: evt.type = fchmodat2 and proc.name startswith python
  output: fchmodat2 | pid=%proc.pid mode=%evt.arg.mode file=%evt.arg.filename res=%evt.res
  priority: NOTICE
- rule: Python sets setuid bit
  desc: a python process sets the setuid bit with chmod
  condition: evt.type in (chmod, fchmod, fchmodat) and evt.arg.mode contains "S_ISUID" and proc.name startswith python
  output: chmod | pid=%proc.pid mode=%evt.arg.mode file=%evt.arg.filename
  priority: NOTICE
`;

interface Alert {
  rule: string;
  output_fields: Record<string, unknown>;
}

describe("Falco's recvfrom, recvmsg, userfaultfd and generic events, on this kernel", () => {
  let agent: RunningAgent;
  const dir = mkdtempSync(join(tmpdir(), "vigil-falco-events-"));

  beforeAll(async () => {
    const rules = join(dir, "events.yaml");
    writeFileSync(rules, RULES);
    agent = await startAgent(["--no-containerd", "--stats-interval", "0", "--rules", rules]);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("recvfrom and recvmsg carry the fd, the data and the peer", async () => {
    const py = [
      "import socket",
      "a=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "a.bind(('127.0.0.1', 0))",
      "b=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "b.bind(('127.0.0.1', 0))",
      "b.sendto(b'vigo-one', a.getsockname())",
      "a.recvfrom(64)",
      "b.sendto(b'vigo-two', a.getsockname())",
      "a.recvmsg(64)",
      "print(a.fileno(), a.getsockname()[1], b.getsockname()[1])",
    ].join("\n");
    const { pid, code } = await runChild("python3", ["-c", py]);
    expect(code).toBe(0);
    const from = await agent.waitForAlert((a: Alert) => a.rule === "Python UDP recvfrom" && a.output_fields["proc.pid"] === pid, 5000);
    const msg = await agent.waitForAlert((a: Alert) => a.rule === "Python UDP recvmsg" && a.output_fields["proc.pid"] === pid, 5000);
    for (const a of [from, msg]) {
      // Falco: any result >= 0 is SUCCESS; the byte count is evt.rawres
      expect(a.output_fields["evt.res"]).toBe("SUCCESS");
      expect(a.output_fields["evt.rawres"]).toBe(8);
      expect(Number(a.output_fields["evt.arg.fd"])).toBeGreaterThanOrEqual(3);
      // the peer is the client, this socket the server: peer->local
      expect(String(a.output_fields["fd.name"])).toMatch(/^127\.0\.0\.1:\d+->127\.0\.0\.1:\d+$/);
    }
    expect(from.output_fields["evt.arg.size"]).toBe("64");
    expect(msg.output_fields["evt.arg.size"]).toBe("8");
    expect(from.output_fields["fd.name_changed"]).toBe(true);
    expect(from.output_fields["evt.arg.fd"]).toBe(msg.output_fields["evt.arg.fd"]);
  });

  it("userfaultfd: its flags by name and its fd", async () => {
    // the syscall number of this architecture; O_CLOEXEC | O_NONBLOCK
    const py = [
      "import ctypes, os, platform",
      "nr = 323 if platform.machine() == 'x86_64' else 282",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "fd = libc.syscall(nr, os.O_CLOEXEC | os.O_NONBLOCK)",
      "assert fd >= 0, ctypes.get_errno()",
    ].join("\n");
    const { pid, code } = await runChild("python3", ["-c", py]);
    expect(code).toBe(0);
    const a = await agent.waitForAlert((x: Alert) => x.rule === "Python userfaultfd" && x.output_fields["proc.pid"] === pid, 5000);
    expect(a.output_fields["evt.arg.flags"]).toBe("O_NONBLOCK|O_CLOEXEC");
    expect(a.output_fields["evt.rawres"] as number).toBeGreaterThanOrEqual(3);
  });

  it("generic program: a buffer and the fd's name (read), a string (chroot)", async () => {
    const marker = join(dir, "read-marker");
    writeFileSync(marker, "vigil-read 0123456789");
    const py = [
      "import os",
      `fd = os.open(${JSON.stringify(marker)}, os.O_RDONLY)`,
      "os.read(fd, 4096)",
      "try:",
      "    os.chroot('/nonexistent-vigil-root')",
      "except OSError:",
      "    pass",
    ].join("\n");
    const { pid, code } = await runChild("python3", ["-c", py]);
    expect(code).toBe(0);
    const r = await agent.waitForAlert((x: Alert) => x.rule === "Python reads the marker file" && x.output_fields["proc.pid"] === pid, 5000);
    expect(r.output_fields["fd.name"]).toBe(marker);
    expect(r.output_fields["evt.arg.size"]).toBe("4096");
    expect(r.output_fields["evt.res"]).toBe("SUCCESS");
    expect(r.output_fields["evt.rawres"]).toBe(21);
    expect(r.output_fields["evt.io_dir"]).toBe("r");
    const c = await agent.waitForAlert((x: Alert) => x.rule === "Python chroot attempt" && x.output_fields["proc.pid"] === pid, 5000);
    expect(c.output_fields["evt.arg.path"]).toBe("/nonexistent-vigil-root");
    expect(c.output_fields["evt.res"]).toBe("ENOENT");
  });

  it.skipIf(!existsSync("/sys/kernel/tracing/events/syscalls/sys_exit_fchmodat2"))("fchmodat2, where the kernel has it", async () => {
    const target = join(dir, "fchmodat2-target");
    writeFileSync(target, "");
    const py = [
      "import ctypes",
      "libc = ctypes.CDLL(None, use_errno=True)",
      `r = libc.syscall(452, -100, ${JSON.stringify(target)}.encode(), 0o2750, 0)`,
      "assert r == 0, ctypes.get_errno()",
    ].join("\n");
    const { pid, code } = await runChild("python3", ["-c", py]);
    expect(code).toBe(0);
    const a = await agent.waitForAlert((x: Alert) => x.rule === "Python fchmodat2" && x.output_fields["proc.pid"] === pid, 5000);
    expect(a.output_fields["evt.arg.filename"]).toBe(target);
    expect(a.output_fields["evt.arg.mode"]).toBe("02750(S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISGID)");
    expect(a.output_fields["evt.res"]).toBe("SUCCESS");
  });

  it("a call of the generic program (kill) and a chmod mode by bit name", async () => {
    const target = join(dir, "suid-target");
    writeFileSync(target, "");
    const py = [
      "import os, signal",
      "signal.signal(signal.SIGUSR1, lambda *a: None)",
      "os.kill(os.getpid(), signal.SIGUSR1)",
      `os.chmod(${JSON.stringify(target)}, 0o4755)`,
    ].join("\n");
    const { pid, code } = await runChild("python3", ["-c", py]);
    expect(code).toBe(0);
    const k = await agent.waitForAlert((x: Alert) => x.rule === "Python sends SIGUSR1" && x.output_fields["proc.pid"] === pid, 5000);
    expect(k.output_fields["evt.arg.pid"]).toBe(String(pid));
    expect(k.output_fields["evt.arg.sig"]).toBe("SIGUSR1");
    expect(k.output_fields["evt.res"]).toBe("SUCCESS");
    const c = await agent.waitForAlert((x: Alert) => x.rule === "Python sets setuid bit" && x.output_fields["proc.pid"] === pid, 5000);
    expect(c.output_fields["evt.arg.mode"]).toBe("04755(S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID)");
  });
});
