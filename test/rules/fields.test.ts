// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_FIELD_CONTEXT, kubernetesIpNames, listFields, resolveField } from "../../rules/compile/fields.js";
import { errnoName, flagsText, resText } from "../../rules/compile/text.js";
import type { SyscallEvent } from "../../rules/event.js";
import { STABLE_RULES } from "./stable-path.js";
import { ev, execve, fileFd, O, openat, proc, sockFd } from "./event-builder.js";

function get(name: string, e: SyscallEvent, arg?: string): unknown {
  return resolveField(name, arg).get(e);
}

describe("evt.arg, evt.rawarg, flags as text", () => {
  const e = openat("/etc/passwd", O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC);
  it.each([
    ["evt.arg.flags", "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"],
    ["evt.arg.name", "/etc/passwd"],
    ["evt.arg.dirfd", "-100"],
    ["evt.arg.mode", "00"],
    ["evt.arg.fd", "3"],
    ["evt.rawarg.flags", O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC],
    ["evt.rawarg.name", "/etc/passwd"],
  ])("%s = %j", (f, want) => {
    expect(get(f, e)).toBe(want);
  });
  it("evt.arg[N] by index", () => {
    expect(get("evt.arg", e, "2")).toBe("/etc/passwd");
    expect(get("evt.arg", e, "3")).toBe("O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
    expect(get("evt.arg", e, "40")).toBeUndefined();
  });
  it("a param the event does not have is missing", () => {
    expect(get("evt.arg.request", e)).toBeUndefined();
  });
  it.each([
    ["openFlags", 0, "O_RDONLY"],
    ["openFlags", 2, "O_RDWR"],
    ["openFlags", 0o4010000 | 1, "O_WRONLY|O_SYNC"],
    ["openFlags", 0o10000, "O_RDONLY|O_DSYNC"],
    ["cloneFlags", 0x20000 | 0x40000000, "CLONE_NEWNS|CLONE_NEWNET"],
    ["socketType", 3 | 0o2000000, "SOCK_RAW|SOCK_CLOEXEC"],
    ["umountFlags", 0, "0"],
  ] as const)("flagsText(%s, %d) = %s", (t, v, want) => {
    expect(flagsText(t, v)).toBe(want);
  });
  it("enums render by name", () => {
    const p = ev({ type: "ptrace", args: { request: 16, pid: 99 } });
    expect(get("evt.arg.request", p)).toBe("PTRACE_ATTACH");
    const s = ev({ type: "socket", res: 3, args: { domain: 17, type: 3, proto: 0 } });
    expect(get("evt.arg.domain", s)).toBe("AF_PACKET");
    expect(get("evt.args", s)).toBe("fd=3 domain=AF_PACKET type=SOCK_RAW proto=0");
  });
});

describe("evt.res, evt.rawres, evt.failed", () => {
  it.each([
    [0, "SUCCESS", false],
    [-2, "ENOENT", true],
    [-13, "EACCES", true],
    [-111, "ECONNREFUSED", true],
    [-115, "EINPROGRESS", true],
    [-88, "ENOTSOCK", true],
    [-133, "EHWPOISON", true],
    [-9999, "-9999", true],
    // libsinsp: any result >= 0 is SUCCESS (the number is evt.rawres)
    [5, "SUCCESS", false],
  ])("res %d → %s", (res, text, failed) => {
    const e = ev({ type: "execve", res });
    expect(get("evt.res", e)).toBe(text);
    expect(get("evt.rawres", e)).toBe(res);
    expect(get("evt.failed", e)).toBe(failed);
  });
  it("errno table", () => {
    expect(errnoName(1)).toBe("EPERM");
    expect(errnoName(41)).toBeUndefined();
    expect(resText(-40)).toBe("ELOOP");
  });
});

describe("fd.name_changed", () => {
  it("is the fd's nameChanged flag (set by the state on a datagram to a new destination)", () => {
    const send = (nameChanged: boolean | undefined) =>
      ev({
        type: "sendto",
        res: 1,
        args: { fd: 3, size: 1 },
        fd: fileFd("0.0.0.0:40000->203.0.113.7:53", { type: "ipv4", typechar: "4", l4proto: "udp", connected: false, nameChanged }),
      });
    expect(get("fd.name_changed", send(true))).toBe(true);
    expect(get("fd.name_changed", send(false))).toBe(false);
    expect(get("fd.name_changed", send(undefined))).toBe(false);
  });
});

describe("evt.is_open_*", () => {
  it.each([
    [O.RDONLY, true, false, false],
    [O.WRONLY, false, true, false],
    [O.RDWR, true, true, false],
    [O.WRONLY | O.CREAT, false, true, true],
  ])("flags %o → read %s write %s create %s", (flags, r, w, c) => {
    const e = openat("/f", flags);
    expect(get("evt.is_open_read", e)).toBe(r);
    expect(get("evt.is_open_write", e)).toBe(w);
    expect(get("evt.is_open_create", e)).toBe(c);
  });
  it("creat is a write+create open; non-open events are not opens", () => {
    const c = ev({ type: "creat", res: 3, args: { name: "/f", mode: 0o644 } });
    expect(get("evt.is_open_write", c)).toBe(true);
    expect(get("evt.is_open_create", c)).toBe(true);
    expect(get("evt.is_open_read", execve(proc()))).toBe(false);
  });
  it("evt.is_open_exec: a file created (O_CREAT, O_TMPFILE, creat) with an execute bit in its mode", () => {
    const withMode = (flags: number, mode: number) => ev({ type: "openat", res: 3, args: { dirfd: -100, name: "/tmp/x", flags, mode } });
    expect(get("evt.is_open_exec", withMode(O.WRONLY | O.CREAT, 0o755))).toBe(true);
    expect(get("evt.is_open_exec", withMode(O.WRONLY | O.CREAT, 0o001))).toBe(true);
    expect(get("evt.is_open_exec", withMode(O.WRONLY | O.CREAT, 0o644))).toBe(false);
    // a mode without O_CREAT is ignored by the kernel
    expect(get("evt.is_open_exec", withMode(O.WRONLY, 0o755))).toBe(false);
    expect(get("evt.is_open_exec", withMode(O.RDWR | 0o20200000, 0o700))).toBe(true);
    // O_DIRECTORY alone is not O_TMPFILE
    expect(get("evt.is_open_exec", withMode(O.RDONLY | 0o200000, 0o700))).toBe(false);
    expect(get("evt.is_open_exec", ev({ type: "creat", res: 3, args: { name: "/f", mode: 0o750 } }))).toBe(true);
    expect(get("evt.is_open_exec", ev({ type: "creat", res: 3, args: { name: "/f", mode: 0o640 } }))).toBe(false);
    expect(get("evt.is_open_exec", execve(proc()))).toBe(false);
  });
});

describe("process fields", () => {
  const p = proc({
    comm: "python3",
    exe: "python3",
    exepath: "/usr/bin/python3.11",
    args: ["-c", "print(1)"],
    cwd: "/srv",
    tty: 34816,
    sid: 77,
    loginuid: 1000,
    capEffective: (1n << 21n) | 1n,
    parents: [
      { comm: "bash", args: ["-i"], exepath: "/bin/bash", pid: 77 },
      { comm: "sshd", pid: 50 },
    ],
  });
  const e = execve(p);
  it.each([
    ["proc.name", "python3"],
    ["proc.exe", "python3"],
    ["proc.exepath", "/usr/bin/python3.11"],
    ["proc.args", "-c print(1)"],
    ["proc.cmdline", "python3 -c print(1)"],
    ["proc.exeline", "python3 -c print(1)"],
    ["proc.pname", "bash"],
    ["proc.pcmdline", "bash -i"],
    ["proc.pexepath", "/bin/bash"],
    ["proc.ppid", 77],
    ["proc.cwd", "/srv/"], // with the slash libsinsp's set_cwd adds
    ["proc.tty", 34816],
    ["proc.sname", "bash"],
    ["user.loginuid", 1000],
    ["user.name", "root"],
    ["user.uid", 0],
    ["group.name", "root"],
    ["thread.cap_effective", "CAP_CHOWN CAP_SYS_ADMIN"],
    ["proc.duration", 9_000_000_000],
    ["evt.type", "execve"],
    ["evt.category", "process"],
    ["evt.num", 1],
    ["evt.time", "12:00:00.123456789"],
    ["evt.time.iso8601", "2026-11-28T12:00:00.123456789Z"],
  ])("%s = %j", (f, want) => {
    expect(get(f, e)).toBe(want);
  });
  it("ancestors by index", () => {
    expect(get("proc.aname", e, "0")).toBe("python3");
    expect(get("proc.aname", e, "1")).toBe("bash");
    expect(get("proc.aname", e, "2")).toBe("sshd");
    expect(get("proc.aname", e, "3")).toBeUndefined();
    expect(get("proc.apid", e, "2")).toBe(50);
  });
  it("loginuid -1 when unset; missing parent is missing", () => {
    const orphan = execve(proc({ comm: "init" }));
    expect(get("user.loginuid", orphan)).toBe(-1);
    expect(get("proc.pname", orphan)).toBeUndefined();
  });
  it("the cmdline memo follows changes of the same thread", () => {
    const t = proc({ comm: "a", args: ["1"] });
    const g = resolveField("proc.cmdline", undefined).get;
    expect(g(execve(t))).toBe("a 1");
    t.args = ["2"];
    expect(g(execve(t))).toBe("a 2");
  });
  it("command-line texts are shared by every getter and follow each thread's changes", () => {
    const names = ["proc.cmdline", "proc.pcmdline", "proc.args", "proc.pargs", "proc.exeline", "proc.env", "proc.acmdline"];
    const getters = names.map((n) => resolveField(n, n === "proc.acmdline" ? "2" : undefined).get);
    const fresh = (e: SyscallEvent): unknown[] => {
      const t = e.proc;
      const p = t.parent;
      const g = p?.parent;
      const line = (head: string, a: readonly string[]) => (a.length === 0 ? head : `${head} ${a.join(" ")}`);
      return [
        line(t.comm, t.args),
        p && line(p.comm, p.args),
        t.args.join(" "),
        p?.args.join(" "),
        line(t.exe, t.args),
        t.env.join(" "),
        g && line(g.comm, g.args),
      ];
    };
    const threads = Array.from({ length: 5 }, (_, i) =>
      proc({ comm: `c${i}`, args: [`a${i}`], env: [`E=${i}`], parents: [{ comm: `p${i}`, args: [`pa${i}`] }, { comm: `g${i}` }] }),
    );
    // rotate through more threads than the fast slots hold, changing some between visits
    for (let round = 0; round < 4; round++) {
      for (const [i, t] of threads.entries()) {
        if (round === 2 && i % 2 === 0) t.args = [...t.args, "more"];
        if (round === 3 && i === 1) t.comm = "renamed";
        if (round === 3 && i === 3 && t.parent !== undefined) t.parent.args = [];
        if (round === 3 && i === 4) t.env = [];
        const e = execve(t);
        expect(getters.map((g) => g(e))).toEqual(fresh(e));
      }
    }
  });
  it("fd fields on sockets and files", () => {
    const s = ev({ type: "connect", fd: sockFd("10.0.0.1", 1234, "10.0.0.2", 80) });
    expect(get("fd.name", s)).toBe("10.0.0.1:1234->10.0.0.2:80");
    expect(get("fd.type", s)).toBe("ipv4");
    expect(get("fd.directory", s)).toBeUndefined();
    const f = ev({ type: "openat", fd: fileFd("/a/b/c") });
    expect(get("fd.directory", f)).toBe("/a/b");
    expect(get("fd.filename", f)).toBe("c");
  });
});

describe("field registry", () => {
  it("covers every field used in the stable Falco rules", () => {
    const docs = parse(readFileSync(STABLE_RULES, "utf8")) as Record<string, unknown>[];
    const used = new Set<string>();
    for (const item of docs) {
      const cond = typeof item["condition"] === "string" ? item["condition"].replace(/"[^"]*"|'[^']*'/g, " ") : "";
      for (const m of cond.matchAll(/(?<![\w.%/-])(evt|proc|thread|user|group|fd|container|k8s)\.[a-zA-Z0-9_.]+(\[[^\]\s]+\])?/g)) used.add(m[0]);
      const out = typeof item["output"] === "string" ? item["output"] : "";
      for (const m of out.matchAll(/%((evt|proc|thread|user|group|fd|container|k8s)\.[a-zA-Z0-9_.]+(\[[^\]\s]+\])?)/g)) used.add(m[1] as string);
    }
    expect(used.size).toBe(71);
    const missing: string[] = [];
    for (const u of used) {
      const clean = u.replace(/\.$/, "");
      const m = /^([^[]+)(?:\[(.*)\])?$/.exec(clean);
      try {
        resolveField(m?.[1] as string, m?.[2]);
      } catch {
        missing.push(clean);
      }
    }
    expect(missing).toEqual([]);
  });
  it("lists fields with type and description", () => {
    const fields = listFields();
    expect(fields.length).toBeGreaterThan(150);
    for (const f of fields) {
      expect(f.desc.length).toBeGreaterThan(3);
      expect(f.name).toMatch(/^[a-z][a-z0-9]*\.[a-z0-9_.]+$/);
    }
    expect(fields.find((f) => f.name === "proc.aname")?.arg).toBe("optional");
    expect(fields.find((f) => f.name === "evt.arg")?.arg).toBe("required");
  });
});

describe("paths of filesystem events", () => {
  const cwdProc = proc({ cwd: "/home/u" });
  it.each([
    ["evt.abspath", ev({ type: "openat", args: { dirfd: -100, name: "notes.txt", flags: 0 }, proc: cwdProc }), "/home/u/notes.txt"],
    ["evt.abspath", ev({ type: "openat", args: { dirfd: 7, name: "notes.txt", flags: 0 }, proc: cwdProc }), undefined],
    ["evt.abspath", ev({ type: "open", args: { name: "a/b", flags: 0 }, proc: cwdProc }), "/home/u/a/b"],
    ["fs.path.name", ev({ type: "mkdirat", args: { dirfd: -100, path: "d" }, proc: cwdProc }), "/home/u/d"],
    ["fs.path.name", ev({ type: "unlink", args: { path: "/tmp/x" } }), "/tmp/x"],
    ["fs.path.name", ev({ type: "openat", args: { dirfd: -100, name: "/etc/x", flags: 0 } }), undefined],
    ["fs.path.source", ev({ type: "renameat2", args: { olddirfd: -100, oldpath: "/a", newdirfd: -100, newpath: "b" }, proc: cwdProc }), "/a"],
    ["fs.path.target", ev({ type: "renameat2", args: { olddirfd: -100, oldpath: "/a", newdirfd: -100, newpath: "b" }, proc: cwdProc }), "/home/u/b"],
    ["fs.path.source", ev({ type: "symlinkat", args: { target: "/etc/shadow", linkdirfd: -100, linkpath: "/tmp/s" } }), "/etc/shadow"],
    ["fs.path.target", ev({ type: "symlinkat", args: { target: "/etc/shadow", linkdirfd: -100, linkpath: "/tmp/s" } }), "/tmp/s"],
    ["evt.is_io_write", ev({ type: "sendto", res: 3 }), true],
    ["evt.is_io", ev({ type: "openat" }), false],
  ] as [string, SyscallEvent, unknown][])("%s", (f, e, want) => {
    expect(get(f, e)).toBe(want);
  });
});

describe("fields that take the load's context", () => {
  const e = ev({ type: "connect", fd: sockFd("10.1.2.3", 5000, "10.100.0.1", 443) });
  it("fd.sip.name: the Kubernetes resolver knows the API server's cluster IP", () => {
    const ctx = { ...DEFAULT_FIELD_CONTEXT, ipNames: kubernetesIpNames("10.100.0.1") };
    expect(resolveField("fd.sip.name", undefined, ctx).get(e)).toBe("kubernetes.default.svc.cluster.local");
    expect(resolveField("fd.cip.name", undefined, ctx).get(e)).toBeUndefined();
    expect(kubernetesIpNames("")("10.100.0.1")).toBeUndefined();
  });
  it("no context: no IP names, an empty host name, and no environment read", () => {
    const saved = process.env["KUBERNETES_SERVICE_HOST"];
    process.env["KUBERNETES_SERVICE_HOST"] = "10.100.0.1";
    try {
      expect(get("fd.sip.name", e)).toBeUndefined();
      expect(get("evt.hostname", e)).toBe("");
    } finally {
      if (saved === undefined) delete process.env["KUBERNETES_SERVICE_HOST"];
      else process.env["KUBERNETES_SERVICE_HOST"] = saved;
    }
  });
  it("evt.hostname is the context's host name, fixed when the getter is built", () => {
    const a = resolveField("evt.hostname", undefined, { ...DEFAULT_FIELD_CONTEXT, hostname: "node-a" }).get;
    const b = resolveField("evt.hostname", undefined, { ...DEFAULT_FIELD_CONTEXT, hostname: "node-b" }).get;
    expect([a(e), b(e)]).toEqual(["node-a", "node-b"]);
  });
});
