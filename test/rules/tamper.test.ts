// SPDX-License-Identifier: Apache-2.0
/**
 * The metadata-tampering rules (rules/files/41-tamper.yaml, and fchmodat2 in the setuid/FIM
 * rules) against events shaped as the probe sends them (native-bridge/probe/tamper.h): explicit
 * times fire, "now" does not; copy/archive tools and package managers stay silent; inode flags,
 * file capabilities and xattrs on binaries, attempts included.
 */
import { describe, expect, it } from "vitest";
import type { ArgValue, FdInfo, ThreadInfo } from "../../rules/event.js";
import { eventByName, FLAG_TABLES } from "../../rules/event-table.js";
import { loadRuleFiles } from "../../rules/index.js";
import { packFile } from "../helpers/packs.js";
import { container, ev, fileFd, proc } from "./event-builder.js";

const rs = (() => {
  const r = loadRuleFiles(["00-vigil-base.yaml", "20-fim.yaml", "30-ttp.yaml", "41-tamper.yaml"].map(packFile), {});
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r.ruleset;
})();

interface Case {
  type: string;
  args: Record<string, ArgValue>;
  res?: number;
  p?: ThreadInfo;
  fd?: FdInfo;
}
function fired(c: Case): string[] {
  const out: string[] = [];
  rs.evaluate(
    ev({ type: c.type, args: c.args, res: c.res ?? 0, proc: c.p ?? proc({ comm: "sh", exe: "sh", exepath: "/bin/busybox", cwd: "/" }), fd: c.fd }),
    (r) => out.push(r.name),
  );
  return out;
}
const T = 1_552_555_613_000_000_000;
const AT_FDCWD = -100;
const inCtr = (comm: string): ThreadInfo => proc({ comm, exe: comm, exepath: `/usr/bin/${comm}`, cwd: "/", container: container() });
const underDpkg = (comm: string): ThreadInfo => proc({ comm, exe: comm, exepath: `/usr/bin/${comm}`, cwd: "/", parents: [{ comm: "dpkg", exe: "dpkg" }] });

describe("event table: the values the probe reads for tampering", () => {
  it("the utime family carries atime and mtime after its old params; ioctl fsflags; setxattr size", () => {
    expect(eventByName("utimensat")?.params.map((q) => q.name)).toEqual(["res", "dirfd", "pathname", "flags", "atime", "mtime"]);
    expect(eventByName("futimesat")?.params.map((q) => q.name)).toEqual(["res", "dirfd", "pathname", "atime", "mtime"]);
    expect(eventByName("utimes")?.params.map((q) => q.name)).toEqual(["res", "filename", "atime", "mtime"]);
    expect(eventByName("utime")?.params.map((q) => q.name)).toEqual(["res", "filename", "atime", "mtime"]);
    expect(eventByName("ioctl")?.params.map((q) => q.name)).toEqual(["res", "fd", "request", "argument", "fsflags"]);
    for (const n of ["setxattr", "lsetxattr", "fsetxattr"]) expect(eventByName(n)?.params.at(-1)?.name).toBe("size");
  });
  it("those calls have programs of their own (probe/tamper.h), not the generic one", () => {
    for (const n of ["utimensat", "futimesat", "utimes", "utime", "ioctl"]) expect(eventByName(n)?.generated, n).toBeUndefined();
    expect(eventByName("setxattr")?.generated).toBe(true);
  });
  it("fsFlags names the chattr flags with the kernel's values", () => {
    const t = new Map(FLAG_TABLES.fsFlags);
    expect(t.get("FS_IMMUTABLE_FL")).toBe(0x10);
    expect(t.get("FS_APPEND_FL")).toBe(0x20);
  });
});

describe("Timestomping Of System File", () => {
  const R = "Timestomping Of System File";
  it.each([
    ["utimensat, absolute path", { type: "utimensat", args: { dirfd: AT_FDCWD, pathname: "/usr/bin/ls", flags: 0, atime: T, mtime: T } }],
    ["utimensat, mtime only (touch -m -d)", { type: "utimensat", args: { dirfd: AT_FDCWD, pathname: "/etc/passwd", flags: 0, mtime: T } }],
    [
      "futimesat relative to the cwd",
      { type: "futimesat", args: { dirfd: AT_FDCWD, pathname: "ls", atime: T, mtime: T }, p: proc({ comm: "x", exe: "x", cwd: "/usr/local/bin/" }) },
    ],
    ["futimens: the fd names the file", { type: "utimensat", args: { dirfd: 3, flags: 0, atime: T, mtime: T }, fd: fileFd("/usr/sbin/sshd") }],
    ["utimes", { type: "utimes", args: { filename: "/www/cgi-bin/status", atime: T, mtime: T } }],
    ["utime", { type: "utime", args: { filename: "/lib/x86_64-linux-gnu/libc.so.6", atime: T, mtime: T } }],
  ] as [string, Case][])("fires: %s", (_n, c) => {
    expect(fired(c)).toContain(R);
  });
  it.each([
    ["times NULL / UTIME_NOW (plain touch)", { type: "utimensat", args: { dirfd: AT_FDCWD, pathname: "/usr/bin/ls", flags: 0 } }],
    ["failed call", { type: "utimensat", args: { dirfd: AT_FDCWD, pathname: "/usr/bin/ls", flags: 0, atime: T, mtime: T }, res: -1 }],
    ["a path outside system directories", { type: "utimensat", args: { dirfd: AT_FDCWD, pathname: "/app/data.bin", flags: 0, atime: T, mtime: T } }],
    ["cp -p into /usr/local/bin", { type: "utimensat", args: { dirfd: 4, flags: 0, atime: T, mtime: T }, fd: fileFd("/usr/local/bin/tool"), p: inCtr("cp") }],
    [
      "cp -p run by a busybox shell (the applet re-executed as exe)",
      {
        type: "utimensat",
        args: { dirfd: AT_FDCWD, pathname: "/srv/www/page.html", flags: 0, atime: T, mtime: T },
        p: proc({ comm: "exe", exe: "cp", exepath: "/bin/busybox", cwd: "/", container: container() }),
      },
    ],
    ["tar x into /usr", { type: "utimensat", args: { dirfd: AT_FDCWD, pathname: "/usr/lib/x.so", flags: 0x100, atime: T, mtime: T }, p: inCtr("tar") }],
    ["a package manager's helper", { type: "utimes", args: { filename: "/usr/bin/ls", atime: T, mtime: T }, p: underDpkg("touch") }],
  ] as [string, Case][])("silent: %s", (_n, c) => {
    expect(fired(c)).not.toContain(R);
  });
});

describe("inode flags", () => {
  const ioctl = (fsflags: number | undefined, p?: ThreadInfo, res = 0): Case => ({
    type: "ioctl",
    args: { fd: 3, request: 0x40086602, argument: 0x7ffd0000, ...(fsflags === undefined ? {} : { fsflags }) },
    fd: fileFd("/etc/ld.so.preload"),
    res,
    ...(p === undefined ? {} : { p }),
  });
  it("immutable or append-only set fires, on the host and in containers, refused attempts too", () => {
    expect(fired(ioctl(0x10 | 0x80000))).toContain("Immutable Or Append-Only Flag Set");
    expect(fired(ioctl(0x20, inCtr("chattr")))).toContain("Immutable Or Append-Only Flag Set");
    expect(fired(ioctl(0x10, inCtr("chattr"), -1))).toContain("Immutable Or Append-Only Flag Set");
  });
  it("other flags changed fire in a container only (chattr -i), not on the host", () => {
    expect(fired(ioctl(0x80000, inCtr("chattr")))).toEqual(["Inode Flags Changed In Container"]);
    expect(fired(ioctl(0x80000))).toEqual([]);
  });
  it("other ioctls (no fsflags) and a package manager stay silent", () => {
    expect(fired(ioctl(undefined, inCtr("sh")))).toEqual([]);
    expect(fired(ioctl(0x10, underDpkg("chattr")))).toEqual([]);
  });
});

describe("file capabilities and extended attributes", () => {
  it("security.capability fires through each call, refused attempts too", () => {
    expect(fired({ type: "setxattr", args: { path: "/tmp/x", name: "security.capability", flags: 0, size: 20 } })).toContain("File Capabilities Set");
    expect(fired({ type: "lsetxattr", args: { path: "/tmp/x", name: "security.capability", flags: 0, size: 20 }, res: -1 })).toContain("File Capabilities Set");
    expect(fired({ type: "fsetxattr", args: { fd: 3, name: "security.capability", flags: 0, size: 20 }, fd: fileFd("/usr/bin/python3") })).toContain(
      "File Capabilities Set",
    );
    expect(fired({ type: "setxattr", args: { path: "/usr/bin/ping", name: "security.capability", flags: 0, size: 20 }, p: underDpkg("setcap") })).toEqual([]);
  });
  it("other attributes on system binaries fire; elsewhere, by copy tools or by labellers they do not", () => {
    const R = "Extended Attribute Set On System Binary";
    expect(fired({ type: "setxattr", args: { path: "/usr/bin/ls", name: "user.payload", flags: 0, size: 4096 } })).toEqual([R]);
    expect(fired({ type: "fsetxattr", args: { fd: 3, name: "security.ima", flags: 0, size: 64 }, fd: fileFd("/usr/sbin/sshd") })).toEqual([R]);
    expect(fired({ type: "setxattr", args: { path: "/data/x", name: "user.payload", flags: 0, size: 4 } })).toEqual([]);
    expect(
      fired({ type: "fsetxattr", args: { fd: 3, name: "system.posix_acl_access", flags: 0, size: 28 }, fd: fileFd("/usr/bin/ls"), p: inCtr("cp") }),
    ).toEqual([]);
    expect(fired({ type: "lsetxattr", args: { path: "/usr/bin/ls", name: "security.selinux", flags: 0, size: 30 }, p: inCtr("restorecon") })).toEqual([]);
  });
});

describe("fchmodat2 in the setuid and FIM mode rules", () => {
  it("a setuid or setgid mode set through fchmodat2 fires like chmod", () => {
    expect(fired({ type: "fchmodat2", args: { dirfd: AT_FDCWD, filename: "/tmp/sh", mode: 0o4755, flags: 0 } })).toContain("Setuid Or Setgid Bit Set");
    expect(fired({ type: "fchmodat2", args: { dirfd: AT_FDCWD, filename: "/tmp/sh", mode: 0o2755, flags: 0 } })).toContain("Setuid Or Setgid Bit Set");
    expect(fired({ type: "fchmodat2", args: { dirfd: AT_FDCWD, filename: "/tmp/sh", mode: 0o755, flags: 0 } })).toEqual([]);
  });
  it("a mode change of a watched file through fchmodat2 is a FIM permissions change", () => {
    expect(fired({ type: "fchmodat2", args: { dirfd: AT_FDCWD, filename: "/etc/app.conf", mode: 0o666, flags: 0 } })).toContain(
      "FIM Watched File Permissions Changed",
    );
  });
});
