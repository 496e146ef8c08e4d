// SPDX-License-Identifier: Apache-2.0
import { mkdirSync, mkdtempSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FdInfo } from "../../rules/event.js";
import type { ProcFacts, RawEvent } from "../../agent/decode/index.js";
import { EventState, ProcessTable, UserDb } from "../../agent/state/index.js";

const SEC = 1_000_000_000;

function facts(over: Partial<ProcFacts> = {}): ProcFacts {
  return {
    exe: "bash",
    args: ["-c", "x"],
    cwd: "/root",
    env: [],
    exepath: "/usr/bin/bash",
    cgroupPath: "/",
    sid: 1,
    pgid: 1,
    vpgid: 1,
    vpid: 1,
    vtid: 1,
    egid: 0,
    tty: 0,
    capInheritable: 0n,
    capPermitted: 0n,
    capEffective: 0n,
    exeFlags: 2,
    exeIno: 1,
    exeCtime: 1,
    exeMtime: 1,
    pidnsInitStartTs: 0,
    ...over,
  };
}

function raw(over: Partial<RawEvent>): RawEvent {
  return {
    type: 4,
    flags: 0,
    ts: 10 * SEC,
    pid: 500,
    tid: 500,
    ppid: 1,
    uid: 0,
    gid: 0,
    euid: 0,
    loginuid: 0xffffffff,
    cpu: 0,
    cgroupId: 1,
    startTs: 5 * SEC,
    comm: "x",
    res: 0,
    args: [],
    proc: undefined,
    fd: undefined,
    cloneFlags: 0,
    ...over,
  };
}

const table = () => new ProcessTable({ readUnknownFromProc: false, exitGraceMs: 1000 });

describe("ProcessTable transitions", () => {
  it("fork then exec builds the tree with parent links", () => {
    const t = table();
    const parent = t.apply(raw({ type: 1, pid: 100, ppid: 1, startTs: 1 * SEC, comm: "bash", proc: facts() }));
    const child = t.apply(raw({ type: 31, pid: 200, ppid: 100, startTs: 2 * SEC, comm: "bash", proc: facts(), flags: 2 }));
    expect(child.parent).toBe(parent);
    const after = t.apply(
      raw({
        type: 1,
        pid: 200,
        ppid: 100,
        startTs: 2 * SEC,
        comm: "cat",
        proc: facts({ exe: "cat", args: ["/etc/shadow"], exepath: "/usr/bin/cat", exeFlags: 2 | 1 }),
      }),
    );
    expect(after).toBe(child); // updated in place: children keep their links
    expect(after).toMatchObject({ comm: "cat", exepath: "/usr/bin/cat", args: ["/etc/shadow"], exeUpperLayer: true, exeWritable: true, complete: true });
    expect(after.parent?.comm).toBe("bash");
    expect(t.apply(raw({ pid: 200, startTs: 2 * SEC }))).toBe(after);
  });

  it("a thread (CLONE_THREAD) is not a new process", () => {
    const t = table();
    const p = t.apply(raw({ type: 1, pid: 100, startTs: SEC, proc: facts() }));
    const th = t.apply(raw({ type: 29, pid: 100, tid: 101, startTs: SEC, proc: facts(), cloneFlags: 0x10000, flags: 2 }));
    expect(th).toBe(p);
    expect(t.size).toBe(1);
  });

  it.each([["unknown pid", raw({ pid: 900, comm: "ghost", uid: 33 }), { complete: false, comm: "ghost", uid: 33, pid: 900 }]])(
    "%s gives a placeholder from the header",
    (_n, ev, want) => {
      expect(table().apply(ev)).toMatchObject(want);
    },
  );

  it("pid reuse: a different start time never inherits the old process", () => {
    const t = table();
    const old = t.apply(raw({ type: 1, pid: 300, startTs: SEC, comm: "old", proc: facts() }));
    const neu = t.apply(raw({ pid: 300, startTs: 9 * SEC, comm: "new" }));
    expect(neu).not.toBe(old);
    expect(neu.comm).toBe("new");
    expect(t.stats()["pid_reuse"]).toBe(1);
  });

  it("late events after exit still find the process until the grace period ends", () => {
    const t = table();
    const p = t.apply(raw({ type: 1, pid: 400, startTs: SEC, proc: facts() }));
    t.apply(raw({ type: 33, pid: 400, startTs: SEC }));
    t.sweep(Date.now());
    expect(t.apply(raw({ pid: 400, startTs: SEC }))).toBe(p);
    t.sweep(Date.now() + 2000);
    expect(t.get(400)).toBeUndefined();
  });

  it("is bounded (LRU)", () => {
    const t = new ProcessTable({ readUnknownFromProc: false, max: 100 });
    for (let i = 1; i <= 1000; i++) t.apply(raw({ type: 1, pid: i, startTs: i * SEC, proc: facts() }));
    expect(t.size).toBe(100);
    expect(t.stats()["evicted"]).toBe(900);
  });

  it("is filled from /proc with this process and its parent link", () => {
    const t = new ProcessTable();
    expect(t.seed()).toBeGreaterThan(5);
    const me = t.get(process.pid);
    expect(me?.exepath).toBe(readlinkSync("/proc/self/exe"));
    expect(me?.ppid).toBe(process.ppid);
    expect(me?.parent?.pid).toBe(process.ppid);
    expect(me?.user.name).toBe("root");
    expect(me?.complete).toBe(true);
  });
});

describe("UserDb resolves names in the process's own root", () => {
  it.each([
    ["host root", 0, "host", "root"],
    ["container user", 1234, "c1", "appuser"],
    ["unknown uid", 4242, "c1", undefined],
  ])("%s", (_n, uid, key, name) => {
    const proc = mkdtempSync(join(tmpdir(), "vigil-proc-"));
    mkdirSync(join(proc, "77", "root", "etc"), { recursive: true });
    writeFileSync(join(proc, "77", "root", "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nappuser:x:1234:1234::/home/app:/bin/sh\n");
    writeFileSync(join(proc, "77", "root", "etc", "group"), "app:x:1234:\n");
    const db = new UserDb(proc);
    expect(db.user(uid, 77, key).name).toBe(name);
    if (key === "c1") expect(db.group(1234, 77, key).name).toBe("app");
  });
});

describe("EventState fd table", () => {
  const sock: FdInfo = {
    num: 0,
    type: "ipv4",
    typechar: "4",
    name: "127.0.0.1:5000->127.0.0.1:80",
    ino: undefined,
    dev: undefined,
    isUpperLayer: undefined,
    l4proto: "tcp",
    tuple: { family: 2, sip: "127.0.0.1", sport: 5000, dip: "127.0.0.1", dport: 80 },
    isServer: false,
    connected: true,
    openFlags: undefined,
  };
  it("remembers a socket dup2'ed onto fd 0 until it is closed", () => {
    const s = new EventState({ readUnknownFromProc: false });
    s.build(raw({ type: 1, pid: 600, startTs: SEC, proc: facts() }));
    expect(s.build(raw({ type: 48, pid: 600, startTs: SEC, res: 0, args: [0, 3, 0], fd: sock })).fd?.type).toBe("ipv4");
    const close = s.build(raw({ type: 7, pid: 600, startTs: SEC, res: 0, args: [0, 0] }));
    expect(close.fd?.name).toBe(sock.name);
    expect(s.build(raw({ type: 7, pid: 600, startTs: SEC, res: -9, args: [-9, 0] })).fd).toBeUndefined();
  });

  it.each([
    ["relative to cwd", [-2, -100, "secret", 0, 0, undefined, undefined], "/root/secret"],
    ["absolute", [-2, -100, "/etc/shadow", 0, 0, undefined, undefined], "/etc/shadow"],
    ["dot-dot", [-2, -100, "../etc/passwd", 0, 0, undefined, undefined], "/etc/passwd"],
  ])("a failed openat names the file %s", (_n, args, name) => {
    const s = new EventState({ readUnknownFromProc: false });
    s.build(raw({ type: 1, pid: 700, startTs: SEC, proc: facts() }));
    const e = s.build(raw({ type: 4, pid: 700, startTs: SEC, res: -2, args }));
    expect(e.fd?.name).toBe(name);
  });

  it("converts boot time to wall time with the loader's clock offset", () => {
    const s = new EventState({ readUnknownFromProc: false });
    s.clock({
      type: "ready",
      realtimeNs: 0,
      boottimeNs: 0,
      wallOffsetSec: 1_700_000_000,
      wallOffsetNsec: 900_000_000,
      ncpus: 1,
      programs: 1,
      drops: 0,
      events: 0,
      framesOut: 0,
      perCpuDrops: [],
    });
    const e = s.build(raw({ ts: 2 * SEC + 200_000_000 }));
    expect([e.sec, e.nsec]).toEqual([1_700_000_003, 100_000_000]);
  });
});
