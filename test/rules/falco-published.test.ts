// SPDX-License-Identifier: Apache-2.0
/**
 * What Falco's published syscall rules files ask of the rule language: `vigil rules check` on the
 * stable file (read in place) and on rules of our own that use the event types and fields the
 * incubating, sandbox and deprecated files use (recvfrom, recvmsg, userfaultfd, the container meta
 * event, setns, setuid, mkdir, chmod modes by name, `evt.buffer bcontains`, the DNS-name fields,
 * container mounts, capabilities...) prints no unknown-event or unknown-field warning. Every field
 * of the reference's field classes (falco-compat.md §1.10) is either implemented or rejected with
 * "not supported by Vigil", at the rule's file:line:col.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRulesCheck } from "../../agent/cli/rules-cmd.js";
import { hasField, isUnsupportedField, resolveField } from "../../rules/compile/fields.js";
import { ev, proc } from "./event-builder.js";
import { STABLE_RULES } from "./stable-path.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-falco-published-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(text: string): { code: number; out: string; file: string } {
  const file = join(dir, `r${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  let out = "";
  const code = runRulesCheck([file], { output: "text" }, (s) => (out += s));
  return { code, out, file };
}

/** Our rules, written for this test, using what Falco's incubating/sandbox/deprecated files use. */
const OURS = `- list: private_nets
  items: ['"10.0.0.0/8"', '"192.168.0.0/16"']
- list: empty_list
  items: []
- macro: is_container
  condition: (container.id != host)
- macro: first_in_container
  condition: ((evt.type = container or (evt.type in (execve, execveat) and evt.dir=< and proc.vpid=1)) and container.image.repository != incomplete)
- macro: udp_in
  condition: >
    (evt.type in (recvfrom, recvmsg) and evt.dir=< and fd.l4proto != tcp and fd.connected=false and fd.name_changed=true
     and (fd.typechar = 4 or fd.typechar = 6) and fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8"
     and (evt.rawres >= 0 or evt.res = EINPROGRESS))
- rule: Inbound datagram from outside
  desc: ours
  condition: udp_in and not (fd.cip in ("127.0.0.1") or fd.cnet in (private_nets) or fd.cip.name in (example.org))
  output: in (conn=%fd.name lport=%fd.lport rport=%fd.rport names=%fd.rip.name/%fd.lip.name/%fd.cip.name/%fd.sip.name %container.info)
  priority: NOTICE
- rule: Class file received by java
  desc: ours
  condition: evt.type = recvfrom and fd.type in (ipv4, ipv6) and proc.exe endswith java and evt.buffer bcontains cafebabe
  output: class (server=%fd.sip:%fd.sport)
  priority: CRITICAL
- rule: Unprivileged userfaultfd
  desc: ours
  condition: evt.type = userfaultfd and user.uid != 0 and (evt.rawres >= 0 or evt.res != -1) and not proc.name in (empty_list)
  output: uffd (flags=%evt.arg.flags)
  priority: CRITICAL
- rule: Privileged or capable container starts
  desc: ours
  condition: >
    first_in_container and is_container and (container.privileged=true or thread.cap_permitted contains CAP_SYS_ADMIN
    or container.mount.dest[/proc*] != "N/A" or container.mount.dest[/var/run/docker.sock] != "N/A")
  output: start (mounts=%container.mounts caps=%thread.cap_permitted ggp=%proc.aexe[2])
  priority: INFO
- rule: Namespace or uid changes
  desc: ours
  condition: (evt.type = setns and evt.dir=<) or (evt.type = setuid and evt.dir=> and evt.arg.uid != root)
  output: ns (args=%evt.args)
  priority: NOTICE
- rule: Setuid bit or binary dir changes
  desc: ours
  condition: >
    (evt.type in (chmod, fchmod, fchmodat) and (evt.arg.mode contains "S_ISUID" or evt.arg.mode contains "S_IXOTH"))
    or (evt.type in (mkdir, mkdirat) and evt.arg.path startswith /usr/bin/)
    or (evt.type in (rename, renameat, renameat2, rmdir, unlink, unlinkat)
        and (evt.arg.newpath pmatch (/etc/apt) or evt.arg.oldpath endswith ash_history or evt.arg.name contains fish_history))
    or (evt.type in (open, openat, openat2, creat) and evt.rawres >= 0 and evt.is_open_exec=true)
  output: change (mode=%evt.arg.mode fd=%evt.arg.fd filename=%evt.arg.filename path=%evt.arg.path)
  priority: ERROR
- rule: Outbound to listed servers
  desc: ours
  condition: >
    evt.type in (sendto, sendmsg, connect) and evt.dir=< and fd.sport in (443, 80) and fd.sip.name in (empty_list)
    and fd.rnet in (private_nets) and k8s.ns.name in (empty_list) and proc.args intersects ("-V", "-l")
  output: out (ip=%fd.rip c2=%fd.sip.name fd_proto=fd.l4proto)
  priority: WARNING
`;

describe("Falco's published syscall rules: no unknown event types or fields", () => {
  it("the stable file, in place", () => {
    const { out } = check("");
    let stable = "";
    runRulesCheck([STABLE_RULES], { output: "text" }, (s) => (stable += s));
    expect(stable).not.toMatch(/UNKNOWN_EVTTYPE|unknown field|not supported/);
    expect(stable).toMatch(/falco_rules\.yaml: 25 rules, 87 macros, 49 lists, 0 errors, 0 warnings/);
    expect(out).toBeDefined();
  });

  it("the events and fields of the incubating, sandbox and deprecated files", () => {
    const { code, out, file } = check(OURS);
    expect(out).not.toMatch(/LOAD_UNKNOWN_EVTTYPE|unknown field|not supported|LOAD_NO_EVTTYPE/);
    // Falco warns about %container.info too (deprecated, rendered empty)
    expect(out.trimEnd().split("\n")).toEqual([
      `${file}:17:11: warning LOAD_DEPRECATED_ITEM: %container.info is deprecated and rendered as an empty string (rule 'Inbound datagram from outside')`,
      `${file}: 7 rules, 3 macros, 2 lists, 0 errors, 1 warnings`,
    ]);
    expect(code).toBe(0);
  });
});

describe("fields Vigil does not implement", () => {
  it("a condition naming one is an error saying so, at its position", () => {
    const { code, out, file } = check(
      "- rule: Slow open\n  desc: d\n  condition: evt.type = openat and evt.latency > 1000\n  output: o\n  priority: WARNING\n",
    );
    expect(code).toBe(1);
    expect(out).toContain(`${file}:3:36: error LOAD_ERR_COMPILE_CONDITION: field 'evt.latency' is not supported by Vigil (rule 'Slow open')`);
  });

  it("so is an output naming one; a misspelt name stays an unknown field", () => {
    const { out, file } = check(
      "- rule: A\n  desc: d\n  condition: evt.type = openat\n  output: o %proc.vmrss\n  priority: WARNING\n" +
        "- rule: B\n  desc: d\n  condition: evt.type = openat and proc.nmae = x\n  output: o\n  priority: WARNING\n",
    );
    expect(out).toMatch(new RegExp(`${file}:4:\\d+: error LOAD_ERR_COMPILE_OUTPUT: .*field 'proc.vmrss' is not supported by Vigil`));
    expect(out).toContain("unknown field 'proc.nmae'");
    expect(out).not.toContain("field 'proc.nmae' is not supported");
  });

  it("skip-if-unknown-filter skips a rule naming one, as it does an unknown field", () => {
    const { code, out } = check(
      "- rule: A\n  desc: d\n  condition: evt.type = openat and thread.cgroup.cpuacct = x\n  output: o\n  priority: WARNING\n  skip-if-unknown-filter: true\n",
    );
    expect(code).toBe(0);
    expect(out).toMatch(/0 errors, 0 warnings/);
  });

  it("field families: per-subsystem cgroups, syslog, Falco's deprecated k8s objects", () => {
    for (const f of [
      "evt.type.is.openat",
      "evt.count",
      "thread.cgroup.cpuacct",
      "syslog.message",
      "k8s.rc.name",
      "k8s.deployment.label.app",
      "k8s.ns.label.team",
    ]) {
      expect([f, isUnsupportedField(f)]).toEqual([f, true]);
      expect(() => resolveField(f, undefined)).toThrow(`field '${f}' is not supported by Vigil`);
    }
    expect(isUnsupportedField("proc.name")).toBe(false);
    expect(isUnsupportedField("proc.nmae")).toBe(false);
  });
});

/** Every field of the reference's syscall-source field classes (names only: falco-compat.md §1.10). */
const REFERENCE_FIELDS = `
evt.num evt.time evt.time.s evt.time.iso8601 evt.datetime evt.datetime.s evt.rawtime evt.rawtime.s evt.rawtime.ns evt.reltime
evt.reltime.s evt.reltime.ns evt.pluginname evt.plugininfo evt.source evt.is_async evt.asynctype evt.hostname evt.latency
evt.latency.s evt.latency.ns evt.latency.human evt.deltatime evt.deltatime.s evt.deltatime.ns evt.dir evt.type evt.type.is
syscall.type evt.category evt.cpu evt.args evt.arg evt.rawarg evt.info evt.buffer evt.buflen evt.res evt.rawres evt.failed
evt.is_io evt.is_io_read evt.is_io_write evt.io_dir evt.is_wait evt.wait_latency evt.is_syslog evt.count evt.count.error
evt.count.error.file evt.count.error.net evt.count.error.memory evt.count.error.other evt.count.exit evt.around evt.abspath
evt.is_open_read evt.is_open_write evt.is_open_exec evt.is_open_create
proc.exe proc.pexe proc.aexe proc.exepath proc.pexepath proc.aexepath proc.name proc.pname proc.aname proc.args proc.cmdline
proc.pcmdline proc.acmdline proc.cmdnargs proc.cmdlenargs proc.exeline proc.env proc.aenv proc.cwd proc.loginshellid proc.tty
proc.pid proc.ppid proc.apid proc.vpid proc.pvpid proc.sid proc.sname proc.sid.exe proc.sid.exepath proc.vpgid proc.vpgid.name
proc.vpgid.exe proc.vpgid.exepath proc.duration proc.ppid.duration proc.pid.ts proc.ppid.ts proc.is_exe_writable
proc.is_exe_upper_layer proc.is_exe_lower_layer proc.is_exe_from_memfd proc.is_sid_leader proc.is_vpgid_leader proc.exe_ino
proc.exe_ino.ctime proc.exe_ino.mtime proc.exe_ino.ctime_duration_proc_start proc.exe_ino.ctime_duration_pidns_start
proc.pidns_init_start_ts thread.cap_permitted thread.cap_inheritable thread.cap_effective proc.is_container_healthcheck
proc.is_container_liveness_probe proc.is_container_readiness_probe proc.fdopencount proc.fdlimit proc.fdusage proc.vmsize
proc.vmrss proc.vmswap thread.pfmajor thread.pfminor thread.tid thread.ismain thread.vtid thread.exectime thread.totexectime
thread.cgroups thread.cgroup proc.nthreads proc.nchilds thread.cpu thread.cpu.user thread.cpu.system thread.vmsize thread.vmrss
user.uid user.name user.homedir user.shell user.loginuid user.loginname group.gid group.name
container.id container.full_id container.name container.image container.image.id container.type container.privileged
container.mounts container.mount container.mount.source container.mount.dest container.mount.mode container.mount.rdwr
container.mount.propagation container.image.repository container.image.tag container.image.digest container.healthcheck
container.liveness_probe container.readiness_probe container.start_ts container.duration container.ip container.cni.json
container.label container.labels container.host_pid container.host_network container.host_ipc
fd.num fd.type fd.typechar fd.name fd.directory fd.filename fd.ip fd.cip fd.sip fd.lip fd.rip fd.port fd.cport fd.sport fd.lport
fd.rport fd.l4proto fd.sockfamily fd.is_server fd.uid fd.containername fd.containerdirectory fd.proto fd.cproto fd.sproto
fd.lproto fd.rproto fd.net fd.cnet fd.snet fd.lnet fd.rnet fd.connected fd.name_changed fd.cip.name fd.sip.name fd.lip.name
fd.rip.name fd.dev fd.dev.major fd.dev.minor fd.ino fd.nameraw fd.types fd.is_upper_layer
fs.path.name fs.path.nameraw fs.path.source fs.path.sourceraw fs.path.target fs.path.targetraw
fdlist.nums fdlist.names fdlist.cips fdlist.sips fdlist.cports fdlist.sports
syslog.facility.str syslog.facility syslog.severity.str syslog.severity syslog.message
k8s.ns.name k8s.pod.name k8s.pod.id k8s.pod.uid k8s.pod.sandbox_id k8s.pod.full_sandbox_id k8s.pod.label k8s.pod.labels
k8s.pod.ip k8s.pod.cni.json k8s.rc.name k8s.rc.id k8s.rc.label k8s.rc.labels k8s.svc.name k8s.svc.id k8s.svc.label
k8s.svc.labels k8s.rs.name k8s.rs.id k8s.rs.label k8s.rs.labels k8s.deployment.name k8s.deployment.id k8s.deployment.label
k8s.deployment.labels k8s.ns.id k8s.ns.label k8s.ns.labels
`
  .split(/\s+/)
  .filter((f) => f !== "");

describe("the reference's field classes", () => {
  it.each(REFERENCE_FIELDS)("%s is implemented or rejected as not supported", (f) => {
    expect(hasField(f) !== isUnsupportedField(f)).toBe(true);
  });

  it("fields implemented for the new events", () => {
    for (const f of ["evt.io_dir", "proc.cmdnargs", "proc.cmdlenargs", "evt.datetime.s"]) expect([f, hasField(f)]).toEqual([f, true]);
  });
});

describe("field values for the new events", () => {
  const get = (f: string, e: ReturnType<typeof ev>) => resolveField(f, undefined).get(e);
  it("receives are I/O reads, sends writes (evt.is_io*, evt.io_dir)", () => {
    expect(get("evt.is_io_read", ev({ type: "recvfrom", res: 5 }))).toBe(true);
    expect(get("evt.is_io_read", ev({ type: "recvmsg", res: 5 }))).toBe(true);
    expect(get("evt.is_io", ev({ type: "read", res: 5 }))).toBe(true);
    expect(get("evt.is_io_write", ev({ type: "recvfrom", res: 5 }))).toBe(false);
    expect(get("evt.io_dir", ev({ type: "recvfrom", res: 5 }))).toBe("r");
    expect(get("evt.io_dir", ev({ type: "sendto", res: 5 }))).toBe("w");
    expect(get("evt.io_dir", ev({ type: "openat", res: 3 }))).toBeUndefined();
  });
  it("proc.cmdnargs, proc.cmdlenargs, evt.datetime.s", () => {
    const e = ev({ type: "openat", proc: proc({ args: ["-c", "ls /"] }) });
    expect(get("proc.cmdnargs", e)).toBe(2);
    expect(get("proc.cmdlenargs", e)).toBe(6);
    expect(get("evt.datetime.s", e)).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });
  it("a chmod mode renders as Falco's PT_MODE: octal, then the bits by name", () => {
    const e = ev({ type: "fchmodat", args: { dirfd: -100, filename: "/tmp/x", mode: 0o6711 } });
    expect(resolveField("evt.arg.mode", undefined).get(e)).toBe("06711(S_IXOTH|S_IXGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISGID|S_ISUID)");
    // an open's mode stays plain octal (Falco's PT_UINT32 in octal)
    expect(resolveField("evt.arg.mode", undefined).get(ev({ type: "openat", args: { dirfd: -100, name: "/x", flags: 0o100, mode: 0o644 } }))).toBe("0644");
  });
  it("userfaultfd flags and kill signals by name", () => {
    expect(resolveField("evt.arg.flags", undefined).get(ev({ type: "userfaultfd", res: 3, args: { flags: 0o2004000 } }))).toBe("O_NONBLOCK|O_CLOEXEC");
    expect(resolveField("evt.arg.sig", undefined).get(ev({ type: "kill", args: { pid: 7, sig: 9 } }))).toBe("SIGKILL");
  });
});
