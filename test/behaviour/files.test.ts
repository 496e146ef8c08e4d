// SPDX-License-Identifier: Apache-2.0
/**
 * File and exec behaviour over time (agent/behaviour/files.ts): the state on hand-built events,
 * its caps, and the rules of 43-file-behaviour.yaml evaluated on what it attaches; the pack's
 * credential lists equal the state's; the kernel filter the rules push down (creations only when
 * a rule reads the fetched fields, credential names only for the hunting rule).
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { FileBehaviour, fileBehaviourFilterRules, fileBehaviourNeeds, fileBehaviourOptions } from "../../agent/behaviour/files.js";
import { ConfigError, loadConfig } from "../../agent/config/index.js";
import { CREDENTIAL_DIR_FILES, CREDENTIAL_DIRS, CREDENTIAL_FILE_NAMES, isCredentialPath } from "../../rules/compile/fields-behaviour-files.js";
import { deriveKernelFilters, Res } from "../../rules/compile/pushdown.js";
import type { NetBehaviourView, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { loadRuleFiles, resolveField } from "../../rules/index.js";
import { packFile, packFiles } from "../helpers/packs.js";
import { container, ev, execve, O, openat, proc, sockFd } from "../rules/event-builder.js";

const WEB = container({ id: "aaaaaaaaaaaa" });
const OTHER = container({ id: "bbbbbbbbbbbb" });
const SEC = 1_000_000_000;

function at<T extends SyscallEvent>(e: T, bootNs: number): T {
  e.bootNs = bootNs;
  return e;
}
function connect(p: ThreadInfo, res = 0): SyscallEvent {
  return ev({ type: "connect", res, proc: p, fd: sockFd("10.0.0.2", 40000, "10.0.0.9", 80) });
}
function unlinkat(p: ThreadInfo, name: string): SyscallEvent {
  return ev({ type: "unlinkat", res: 0, args: { dirfd: -100, name, flags: 0 }, proc: p });
}
/** The new process's side of a fork. */
function clone(p: ThreadInfo): SyscallEvent {
  return ev({ type: "clone", res: 0, proc: p });
}
function exitOf(p: ThreadInfo): SyscallEvent {
  return ev({ type: "procexit", proc: p, args: { status: 0, ret: 0, sig: 0, core: 0, reaper_tid: 1 } });
}
const field = (name: string) => resolveField(name, undefined).get;

describe("running executable deleted", () => {
  it("names a live process of the same container whose program was deleted, by another process or by itself", () => {
    const b = new FileBehaviour();
    const payload = proc({ comm: "sleep", exepath: "/tmp/sleep", container: WEB });
    b.observe(execve(payload));
    const rm = proc({ comm: "rm", exepath: "/bin/busybox", container: WEB, cwd: "/tmp" });
    const e = unlinkat(rm, "sleep"); // relative to the cwd
    b.observe(e);
    expect(field("vigil.unlink.running_exe")(e)).toBe(true);
    expect(field("vigil.unlink.running_pid")(e)).toBe(payload.pid);
    expect(field("vigil.unlink.running_name")(e)).toBe("sleep");
    expect(field("vigil.unlink.running_self")(e)).toBe(false);

    const self = proc({ comm: "va", exepath: "/tmp/va", container: WEB });
    b.observe(execve(self));
    const e2 = unlinkat(self, "/tmp/va");
    b.observe(e2);
    expect(field("vigil.unlink.running_self")(e2)).toBe(true);
    expect(field("vigil.unlink.running_pid")(e2)).toBe(self.pid);
  });

  it("says nothing once the process exited, for another container, or for a path nobody runs", () => {
    const b = new FileBehaviour();
    const payload = proc({ comm: "sleep", exepath: "/tmp/sleep", container: WEB });
    b.observe(execve(payload));
    const other = unlinkat(proc({ container: OTHER }), "/tmp/sleep");
    b.observe(other);
    expect(other.fileBehaviour).toBeUndefined();
    expect(field("vigil.unlink.running_exe")(other)).toBeUndefined();
    const nobody = unlinkat(proc({ container: WEB }), "/tmp/other");
    b.observe(nobody);
    expect(nobody.fileBehaviour).toBeUndefined();
    b.observe(exitOf(payload));
    const after = unlinkat(proc({ container: WEB }), "/tmp/sleep");
    b.observe(after);
    expect(after.fileBehaviour).toBeUndefined();
  });

  it("a new exec moves the process to its new program", () => {
    const b = new FileBehaviour();
    const p = proc({ comm: "sh", exepath: "/tmp/a", container: WEB });
    b.observe(execve(p));
    b.observe(execve({ ...p, exepath: "/bin/sleep" }));
    const e = unlinkat(proc({ container: WEB }), "/tmp/a");
    b.observe(e);
    expect(e.fileBehaviour).toBeUndefined();
  });
});

describe("network-fetched file executed", () => {
  it("an exec of a file created by a process that connected is fetched, whichever came first", () => {
    const b = new FileBehaviour();
    const wget = proc({ comm: "wget", container: WEB });
    b.observe(at(connect(wget), 10 * SEC));
    b.observe(at(openat("/tmp/uptime", O.WRONLY | O.CREAT | O.TRUNC, wget), 11 * SEC));
    const run = proc({ comm: "uptime", exepath: "/tmp/uptime", container: WEB });
    const e = at(execve(run), 20 * SEC);
    b.observe(e);
    expect(field("vigil.exe.fetched")(e)).toBe(true);
    expect(field("vigil.exe.fetched_path")(e)).toBe("/tmp/uptime");
    expect(field("vigil.exe.fetched_by")(e)).toBe("wget");
    expect(field("vigil.exe.fetched_by_pid")(e)).toBe(wget.pid);
    expect(field("vigil.exe.fetched_age")(e)).toBe(9 * SEC);

    // `nc host port > file`: the shell child creates the file, then becomes nc and connects
    const nc = proc({ comm: "nc", container: WEB });
    b.observe(at(openat("/tmp/nc-stage", O.WRONLY | O.CREAT | O.TRUNC, nc), 30 * SEC));
    b.observe(at(connect(nc, -115), 31 * SEC)); // EINPROGRESS counts
    // run through its shebang: the script is the first argument of the interpreter
    const sh = proc({ comm: "nc-stage", exepath: "/bin/sh", args: ["/tmp/nc-stage"], container: WEB });
    const e2 = at(execve(sh), 32 * SEC);
    b.observe(e2);
    expect(field("vigil.exe.fetched_path")(e2)).toBe("/tmp/nc-stage");
    // `sh ./x` from the script's directory
    const rel = proc({ comm: "sh", exepath: "/bin/sh", args: ["./uptime"], cwd: "/tmp", container: WEB });
    const e3 = at(execve(rel), 33 * SEC);
    b.observe(e3);
    expect(field("vigil.exe.fetched_path")(e3)).toBe("/tmp/uptime");
  });

  it("is not fetched without network activity, with only a unix socket, out of the windows, or in another container", () => {
    const b = new FileBehaviour({ fetchWindowMs: 1000, execWindowMs: 5000 });
    const cp = proc({ comm: "cp", container: WEB });
    b.observe(at(openat("/tmp/a", O.WRONLY | O.CREAT, cp), 10 * SEC));
    const e = at(execve(proc({ exepath: "/tmp/a", container: WEB })), 11 * SEC);
    b.observe(e);
    expect(e.fileBehaviour).toBeUndefined();

    const unix = proc({ comm: "app", container: WEB });
    b.observe(at(ev({ type: "connect", res: 0, proc: unix, fd: { ...sockFd("1.1.1.1", 1, "2.2.2.2", 2), type: "unix", typechar: "u" } }), 10 * SEC));
    b.observe(at(openat("/tmp/b", O.WRONLY | O.CREAT, unix), 10 * SEC));
    const e2 = at(execve(proc({ exepath: "/tmp/b", container: WEB })), 11 * SEC);
    b.observe(e2);
    expect(e2.fileBehaviour).toBeUndefined();

    const late = proc({ comm: "wget", container: WEB });
    b.observe(at(connect(late), 10 * SEC));
    b.observe(at(openat("/tmp/c", O.WRONLY | O.CREAT, late), 12 * SEC)); // 2 s after: out of the 1 s window
    const e3 = at(execve(proc({ exepath: "/tmp/c", container: WEB })), 13 * SEC);
    b.observe(e3);
    expect(e3.fileBehaviour).toBeUndefined();

    const w = proc({ comm: "wget", container: WEB });
    b.observe(at(connect(w), 20 * SEC));
    b.observe(at(openat("/tmp/d", O.WRONLY | O.CREAT, w), 20 * SEC));
    const old = at(execve(proc({ exepath: "/tmp/d", container: WEB })), 26 * SEC); // 6 s: past the exec window
    b.observe(old);
    expect(old.fileBehaviour).toBeUndefined();
    const elsewhere = at(execve(proc({ exepath: "/tmp/d", container: OTHER })), 21 * SEC);
    b.observe(elsewhere);
    expect(elsewhere.fileBehaviour).toBeUndefined();
    const inTime = at(execve(proc({ exepath: "/tmp/d", container: WEB })), 21 * SEC);
    b.observe(inTime);
    expect(field("vigil.exe.fetched")(inTime)).toBe(true);
  });

  it("a file a shell created for its child's output (`wget -O - url > file`) is fetched when the child connected", () => {
    const b = new FileBehaviour();
    const sh = proc({ comm: "sh", container: WEB });
    b.observe(at(openat("/tmp/b1", O.WRONLY | O.CREAT | O.TRUNC, sh), 10 * SEC));
    // the child forked right after the redirect was opened
    const wget = { ...proc({ comm: "sh", container: WEB, startTs: 10 * SEC + 2_000_000 }), parent: sh, ppid: sh.pid };
    b.observe(at(clone(wget), 10 * SEC + 2_000_000));
    b.observe(at(connect({ ...wget, comm: "wget" }), 10 * SEC + 5_000_000));
    const e = at(execve(proc({ exepath: "/bin/sh", args: ["/tmp/b1"], container: WEB })), 11 * SEC);
    b.observe(e);
    expect(field("vigil.exe.fetched_by")(e)).toBe("sh");
    // a script the shell wrote (printf > script: no fork), then chmod, then a child that connects: not fetched
    b.observe(at(openat("/srv/cgi-bin/health", O.WRONLY | O.CREAT | O.TRUNC, sh), 20 * SEC));
    b.observe(at(clone({ ...proc({ comm: "sh", container: WEB, startTs: 20 * SEC + 1_000_000 }), parent: sh, ppid: sh.pid }), 20 * SEC + 1_000_000));
    const later = { ...proc({ comm: "wget", container: WEB, startTs: 20 * SEC + 3_000_000 }), parent: sh, ppid: sh.pid };
    b.observe(at(clone(later), 20 * SEC + 3_000_000));
    b.observe(at(connect(later), 20 * SEC + 4_000_000));
    const cgi = at(execve(proc({ comm: "health", exepath: "/bin/sh", args: ["/srv/cgi-bin/health"], container: WEB })), 22 * SEC);
    b.observe(cgi);
    expect(cgi.fileBehaviour).toBeUndefined();
    // nor a server's accepts (its workers): only a child's connect counts for the parent
    const srvParent = proc({ comm: "sh", container: WEB });
    b.observe(at(openat("/srv/run.sh", O.WRONLY | O.CREAT | O.TRUNC, srvParent), 30 * SEC));
    const worker = { ...proc({ comm: "httpd", container: WEB, startTs: 30 * SEC + 1_000_000 }), parent: srvParent, ppid: srvParent.pid };
    b.observe(at(ev({ type: "accept4", res: 5, proc: worker, fd: sockFd("127.0.0.1", 18081, "127.0.0.1", 40000, { isServer: true }) }), 30 * SEC + 2_000_000));
    const run = at(execve(proc({ exepath: "/bin/sh", args: ["/srv/run.sh"], container: WEB })), 31 * SEC);
    b.observe(run);
    expect(run.fileBehaviour).toBeUndefined();
    // not through a parent in another container (the runtime's shim on the host)
    const shim = proc({ comm: "containerd-shim" });
    const ctrSh = proc({ comm: "sh", container: WEB });
    b.observe(at(openat("/tmp/b2", O.WRONLY | O.CREAT, shim), 10 * SEC));
    b.observe(at(connect({ ...ctrSh, parent: shim, ppid: shim.pid }), 10 * SEC));
    const e2 = at(execve(proc({ exepath: "/tmp/b2" })), 11 * SEC);
    b.observe(e2);
    expect(e2.fileBehaviour).toBeUndefined();
  });

  it("a creator's own activity counts in the program that created the file or the one it exec'd right after", () => {
    const b = new FileBehaviour();
    // `sh -c 'printf ... > /tmp/x; ...; exec wget url'`: the shell wrote /tmp/x, its last command (same pid) connects 5 s later
    const sh = proc({ comm: "sh", container: WEB, execTs: 1 * SEC });
    b.observe(at(openat("/tmp/x", O.WRONLY | O.CREAT | O.TRUNC, sh), 10 * SEC));
    const wget = { ...sh, comm: "wget", exepath: "/bin/busybox", execTs: 15 * SEC };
    b.observe(at(execve(wget), 15 * SEC));
    b.observe(at(connect(wget), 15 * SEC + 1_000_000));
    const e = at(execve(proc({ exepath: "/tmp/x", container: WEB })), 16 * SEC);
    b.observe(e);
    expect(e.fileBehaviour).toBeUndefined();
    // `exec nc host port > /tmp/y`: the redirect, then the exec in place within 500 ms, then the connect
    const sh2 = proc({ comm: "sh", container: WEB, execTs: 1 * SEC });
    b.observe(at(openat("/tmp/y", O.WRONLY | O.CREAT | O.TRUNC, sh2), 20 * SEC));
    const nc = { ...sh2, comm: "nc", exepath: "/bin/busybox", execTs: 20 * SEC + 2_000_000 };
    b.observe(at(execve(nc), 20 * SEC + 2_000_000));
    b.observe(at(connect(nc), 20 * SEC + 3_000_000));
    const e2 = at(execve(proc({ exepath: "/tmp/y", container: WEB })), 21 * SEC);
    b.observe(e2);
    expect(field("vigil.exe.fetched_path")(e2)).toBe("/tmp/y");
  });

  it("matches the creator by pid and start tick: the same process across its exec, not a reused pid", () => {
    const b = new FileBehaviour();
    // the shell child that opened the redirect, then (exec) nc: the start time as the exec reports it differs in ns
    const child = proc({ comm: "sh", container: WEB, startTs: 5_000_000_000 });
    b.observe(at(openat("/tmp/s2", O.WRONLY | O.CREAT | O.TRUNC, child), 10 * SEC));
    b.observe(at(connect({ ...child, comm: "nc", startTs: 5_000_000_700 }), 10 * SEC));
    const e = at(execve(proc({ exepath: "/tmp/s2", container: WEB })), 11 * SEC);
    b.observe(e);
    expect(field("vigil.exe.fetched_by_pid")(e)).toBe(child.pid);
    // a later process with the same pid that connects does not make an older creation fetched
    const cp = proc({ comm: "cp", container: WEB, startTs: 5_000_000_000 });
    b.observe(at(openat("/tmp/s3", O.WRONLY | O.CREAT, cp), 10 * SEC));
    b.observe(at(connect({ ...cp, comm: "wget", startTs: 9_000_000_000 }), 10 * SEC));
    const e2 = at(execve(proc({ exepath: "/tmp/s3", container: WEB })), 11 * SEC);
    b.observe(e2);
    expect(e2.fileBehaviour).toBeUndefined();
  });

  it("a deleted file is forgotten; read-only opens create nothing", () => {
    const b = new FileBehaviour();
    const w = proc({ comm: "wget", container: WEB });
    b.observe(connect(w));
    b.observe(openat("/tmp/x", O.RDONLY, w));
    const e = execve(proc({ exepath: "/tmp/x", container: WEB }));
    b.observe(e);
    expect(e.fileBehaviour).toBeUndefined();
    b.observe(openat("/tmp/y", O.WRONLY | O.CREAT, w));
    b.observe(unlinkat(proc({ container: WEB }), "/tmp/y"));
    const e2 = execve(proc({ exepath: "/tmp/y", container: WEB }));
    b.observe(e2);
    expect(e2.fileBehaviour).toBeUndefined();
  });
});

describe("credential hunting", () => {
  const FILES = ["/root/.ssh/id_rsa", "/root/.aws/credentials", "/root/.kube/config", "/app/.env", "/root/.git-credentials"];

  it("counts distinct credential files per process, once each, and says when one is new", () => {
    const b = new FileBehaviour();
    const tar = proc({ comm: "tar", container: WEB });
    const seen: [unknown, unknown][] = [];
    for (const f of [...FILES, FILES[0] as string]) {
      const e = openat(f, O.RDONLY, tar);
      b.observe(e);
      seen.push([field("vigil.cred.distinct_files")(e), field("vigil.cred.new_file")(e)]);
    }
    expect(seen).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, true],
      [5, false],
    ]);
    const last = openat("/etc/hostname", O.RDONLY, tar);
    b.observe(last);
    expect(last.fileBehaviour).toBeUndefined();
  });

  it("counts the children of one shell together (a loop of cat), not those of a host parent", () => {
    const b = new FileBehaviour();
    const sh = proc({ comm: "sh", container: WEB });
    let e: SyscallEvent | undefined;
    for (const f of FILES.slice(0, 4)) {
      const cat = { ...proc({ comm: "cat", container: WEB }), parent: sh, ppid: sh.pid };
      e = openat(f, O.RDONLY, cat);
      b.observe(e);
    }
    expect(field("vigil.cred.distinct_files")(e as SyscallEvent)).toBe(4);
    expect(String(field("vigil.cred.files")(e as SyscallEvent)).split(",")).toEqual(FILES.slice(0, 4));

    const shim = proc({ comm: "containerd-shim" }); // the host
    for (const f of FILES.slice(0, 4)) {
      const cat = { ...proc({ comm: "cat", container: WEB }), parent: shim, ppid: shim.pid };
      e = openat(f, O.RDONLY, cat);
      b.observe(e);
      expect(field("vigil.cred.distinct_files")(e)).toBe(1);
    }
  });

  it("starts over after the window; caps the files per process", () => {
    const b = new FileBehaviour({ credWindowMs: 1000, maxCredFilesPerProc: 2 });
    const p = proc({ comm: "grep", container: WEB });
    b.observe(at(openat(FILES[0] as string, O.RDONLY, p), 1 * SEC));
    const e = at(openat(FILES[1] as string, O.RDONLY, p), 1 * SEC);
    b.observe(e);
    expect(field("vigil.cred.distinct_files")(e)).toBe(2);
    const capped = at(openat(FILES[2] as string, O.RDONLY, p), 1 * SEC);
    b.observe(capped);
    expect(field("vigil.cred.distinct_files")(capped)).toBe(2);
    expect(field("vigil.cred.new_file")(capped)).toBe(false);
    const later = at(openat(FILES[2] as string, O.RDONLY, p), 3 * SEC);
    b.observe(later);
    expect(field("vigil.cred.distinct_files")(later)).toBe(1);
  });

  it("isCredentialPath knows names, directory/name pairs and key directories", () => {
    expect(["/root/.ssh/id_rsa", "/home/u/.kube/config", "/etc/ssl/private/server.key", "/var/www/wp-config.php", "/etc/shadow"].map(isCredentialPath)).toEqual(
      [true, true, true, true, true],
    );
    expect(["/etc/config", "/root/.ssh/id_rsa.pub", "/app/", "id_rsa", "/etc/hostname"].map(isCredentialPath)).toEqual([false, false, false, false, false]);
  });
});

describe("caps", () => {
  it("evicts the oldest entries past each cap and counts them", () => {
    const b = new FileBehaviour({ maxFilesPerContainer: 2, maxNetProcs: 2, maxContainers: 2, maxCredProcs: 1 });
    const w = proc({ comm: "wget", container: WEB });
    b.observe(connect(w));
    for (const f of ["/tmp/1", "/tmp/2", "/tmp/3"]) b.observe(openat(f, O.WRONLY | O.CREAT, w));
    const first = execve(proc({ exepath: "/tmp/1", container: WEB }));
    b.observe(first);
    expect(first.fileBehaviour).toBeUndefined();
    const third = execve(proc({ exepath: "/tmp/3", container: WEB }));
    b.observe(third);
    expect(field("vigil.exe.fetched")(third)).toBe(true);
    for (let i = 0; i < 3; i++) b.observe(connect(proc({ container: WEB })));
    b.observe(execve(proc({ container: OTHER })));
    b.observe(execve(proc({ container: container({ id: "cccccccccccc" }) })));
    b.observe(openat("/root/.ssh/id_rsa", O.RDONLY, proc({ container: WEB })));
    b.observe(openat("/root/.ssh/id_rsa", O.RDONLY, proc({ container: WEB })));
    const st = b.stats();
    expect(st["evicted_files"]).toBe(1);
    expect(st["evicted_net"]).toBe(2);
    expect(st["evicted_containers"]).toBe(1);
    expect(st["evicted_cred"]).toBe(1);
    expect(st["files"]).toBeLessThanOrEqual(4);
    expect(st["containers"]).toBe(2);
  });

  it("takes its caps and windows from the configuration's file_behaviour section (defaults when absent)", () => {
    const d = fileBehaviourOptions(loadConfig({ env: {} }).file_behaviour);
    expect(d).toMatchObject({ maxContainers: 1024, maxFilesPerContainer: 2048, fetchWindowMs: 600_000, execWindowMs: 3_600_000, credWindowMs: 600_000 });
    const c = loadConfig({ text: "file_behaviour:\n  max_files_per_container: 1\n  cred_window_seconds: 5\n", env: {} });
    const b = new FileBehaviour(fileBehaviourOptions(c.file_behaviour));
    const w = proc({ comm: "wget", container: WEB });
    b.observe(connect(w));
    b.observe(openat("/tmp/1", O.WRONLY | O.CREAT, w));
    b.observe(openat("/tmp/2", O.WRONLY | O.CREAT, w));
    expect(b.stats()["evicted_files"]).toBe(1);
    expect(() => loadConfig({ text: "file_behaviour:\n  max_containers: 0\n", env: {} })).toThrow(ConfigError);
  });

  it("rejects a bad option with a clear error", () => {
    expect(() => new FileBehaviour({ maxContainers: 0 })).toThrow(/maxContainers must be a positive integer, got 0/);
    expect(() => new FileBehaviour({ credWindowMs: 1.5 })).toThrow(/credWindowMs/);
  });
});

describe("43-file-behaviour.yaml on the state", () => {
  const rs = loadRuleFiles(packFiles(), { ruleMatching: "all" }).ruleset;
  const fired = (b: FileBehaviour, e: SyscallEvent): string[] => {
    b.observe(e);
    const out: string[] = [];
    rs.evaluate(e, (r) => out.push(r.name));
    return out;
  };

  it("fires each rule on its behaviour and stays silent on the benign variants", () => {
    const b = new FileBehaviour();
    const payload = proc({ comm: "sleep", exepath: "/tmp/sleep", container: WEB });
    fired(b, execve(payload));
    expect(fired(b, unlinkat(proc({ comm: "rm", container: WEB }), "/tmp/sleep"))).toContain("Running Executable Deleted");
    // self-deletion by its exact path is the older rule's; through a relative path, this one's
    const va = proc({ comm: "va", exepath: "/tmp/va", container: WEB });
    fired(b, execve(va));
    const exact = fired(b, unlinkat(va, "/tmp/va"));
    expect(exact).toContain("Running Executable Deleted Itself");
    expect(exact).not.toContain("Running Executable Deleted");
    const rm = proc({ comm: "rm", exepath: "/tmp/r/rm", cwd: "/tmp/r", container: WEB });
    fired(b, execve(rm));
    const rel = fired(b, unlinkat(rm, "rm"));
    expect(rel).toContain("Running Executable Deleted");
    expect(rel).not.toContain("Running Executable Deleted Itself");
    // a package manager replacing a binary in use
    const p2 = proc({ comm: "nginx", exepath: "/usr/sbin/nginx", container: WEB });
    fired(b, execve(p2));
    expect(fired(b, unlinkat(proc({ comm: "dpkg", container: WEB }), "/usr/sbin/nginx"))).not.toContain("Running Executable Deleted");

    const wget = proc({ comm: "wget", container: WEB });
    fired(b, connect(wget));
    fired(b, openat("/tmp/uptime", O.WRONLY | O.CREAT | O.TRUNC, wget));
    expect(fired(b, execve(proc({ comm: "uptime", exepath: "/tmp/uptime", container: WEB })))).toContain("Network-Fetched File Executed");
    // a script run by a network server (CGI): the web shell rules' business
    fired(b, connect(wget));
    fired(b, openat("/srv/cgi-bin/health", O.WRONLY | O.CREAT | O.TRUNC, wget));
    const cgi = execve(proc({ comm: "health", exepath: "/bin/busybox", args: ["/srv/cgi-bin/health"], container: WEB }));
    cgi.net = { netServer: true } as NetBehaviourView;
    expect(fired(b, cgi)).not.toContain("Network-Fetched File Executed");
    // pip downloads and writes an entry point script, which then runs
    const pip = proc({ comm: "pip", container: WEB });
    fired(b, connect(pip));
    fired(b, openat("/usr/local/bin/flask", O.WRONLY | O.CREAT | O.TRUNC, pip));
    expect(fired(b, execve(proc({ comm: "flask", exepath: "/usr/bin/python3", args: ["/usr/local/bin/flask"], container: WEB })))).not.toContain(
      "Network-Fetched File Executed",
    );

    const tar = proc({ comm: "tar", container: WEB });
    const hits = ["/root/.ssh/id_rsa", "/root/.aws/credentials", "/root/.kube/config", "/app/.env", "/root/.git-credentials", "/etc/ssl/private/k.pem"].map(
      (f) => fired(b, openat(f, O.RDONLY, tar)).includes("Credential Files Hunted"),
    );
    expect(hits).toEqual([false, false, false, true, false, false]); // once, at the fourth
    // an app reading its own .env again and again
    const app = proc({ comm: "node", container: WEB });
    for (let i = 0; i < 10; i++) expect(fired(b, openat("/app/.env", O.RDONLY, app))).not.toContain("Credential Files Hunted");

    const grep = (args: string[]) => {
      const p = proc({ comm: "grep", exepath: "/bin/grep", args, container: WEB });
      return fired(b, execve(p)).includes("Secrets Searched In File Contents");
    };
    expect([grep(["-ri", "password", "/srv"]), grep(["-R", "-n", "-e", "AKIA", "/app"]), grep(["-rl", "api_key|token", "/app"])]).toEqual([true, true, true]);
    expect([grep(["password", "/etc/app.conf"]), grep(["-r", "TODO", "/src"]), grep(["-v", "secret"])]).toEqual([false, false, false]);
  });

  it("the pack's credential lists are the state's", () => {
    type Item = { list?: string; items?: string[]; macro?: string; condition?: string };
    const items = parse(packFile("43-file-behaviour.yaml").text) as Item[];
    const names = items.find((i) => i.list === "vigil_credential_file_names")?.items;
    expect([...(names ?? [])].sort()).toEqual([...CREDENTIAL_FILE_NAMES].sort());
    const macro = items.find((i) => i.macro === "vigil_credential_looking_file")?.condition ?? "";
    for (const df of CREDENTIAL_DIR_FILES) expect(macro).toContain(`fd.name endswith "/${df}"`);
    const dirs = items.find((i) => i.list === "vigil_credential_key_dirs")?.items ?? [];
    for (const d of dirs) expect(CREDENTIAL_DIRS).toContain(d.slice(d.lastIndexOf("/") + 1));
    expect(readFileSync(new URL("../../rules/files/43-file-behaviour.yaml", import.meta.url), "utf8")).toContain("vigil.cred.new_file = true");
  });
});

describe("kernel cost", () => {
  it("the hunting rule lets through only opens of credential names; creations only when a rule reads the fetched fields", () => {
    const all = loadRuleFiles(packFiles(), {}).ruleset.rules;
    const hunt = all.filter((r) => r.name === "Credential Files Hunted");
    const f = deriveKernelFilters(hunt).get("openat");
    expect(f).not.toBeNull();
    expect(f?.length).toBeGreaterThan(0);
    for (const c of f ?? []) {
      expect(c.res).toBe(Res.Ok);
      expect(c.leaf !== null || c.parent !== null).toBe(true);
    }
    const fetchRule = all.filter((r) => r.name === "Network-Fetched File Executed");
    expect(fileBehaviourNeeds(hunt)).toEqual([]);
    expect(fileBehaviourFilterRules(hunt)).toEqual([]);
    expect(fileBehaviourNeeds(fetchRule)).toEqual(expect.arrayContaining(["connect", "accept4", "openat", "creat"]));
    const widened = deriveKernelFilters([...hunt, ...fileBehaviourFilterRules(fetchRule)]).get("openat");
    expect(widened).toContainEqual(expect.objectContaining({ res: Res.Ok, acc: 0b0110, flagsAll: 0o100, leaf: null, parent: null }));
    // with every pack loaded the open filter stays a filter (not "send every open")
    const packs = deriveKernelFilters([...all, ...fileBehaviourFilterRules(all)]);
    expect(packs.get("openat")).not.toBeNull();
  });
});
