// SPDX-License-Identifier: Apache-2.0
/**
 * Process ancestry when a parent exits (Falco/libsinsp semantics: the children of an exited
 * process are reparented to the reaper, see agent/state/process-table.ts). Frames are RawEvents
 * through the real ProcessTable; the real-container case is in reparent-container.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { ProcFacts, RawEvent } from "../../agent/decode/index.js";
import { ProcessTable } from "../../agent/state/index.js";
import { eventByName } from "../../rules/event-table.js";

const SEC = 1_000_000_000;
const code = (n: string): number => eventByName(n)!.code;

function facts(over: Partial<ProcFacts> = {}): ProcFacts {
  return {
    exe: "x",
    args: [],
    cwd: "/",
    env: [],
    exepath: "/bin/x",
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
    exeFlags: 0,
    exeIno: 1,
    exeCtime: 1,
    exeMtime: 1,
    pidnsInitStartTs: 0,
    ...over,
  };
}

function raw(over: Partial<RawEvent>): RawEvent {
  return {
    type: code("openat"),
    flags: 0,
    ts: 100 * SEC,
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

/** exec of `comm` in a new process `pid` (child side of a clone, then execve). */
function spawnProc(t: ProcessTable, pid: number, ppid: number, comm: string, vpid = pid) {
  t.apply(raw({ type: code("clone"), flags: 2, pid, tid: pid, ppid, startTs: pid * SEC, comm: "fork", proc: facts({ vpid, vtid: vpid }) }));
  return t.apply(
    raw({ type: code("execve"), pid, tid: pid, ppid, startTs: pid * SEC, comm, proc: facts({ exe: comm, exepath: `/bin/${comm}`, vpid, vtid: vpid }) }),
  );
}

const exit = (t: ProcessTable, pid: number, ppid: number) => t.apply(raw({ type: code("procexit"), pid, tid: pid, ppid, startTs: pid * SEC }));
const table = () => new ProcessTable({ readUnknownFromProc: false, exitGraceMs: 60_000 });

describe("reparenting when a parent exits", () => {
  it("a container's first process: runc exits, the kernel's real_parent (containerd-shim) becomes the parent at exec", () => {
    const t = table();
    spawnProc(t, 1, 0, "systemd");
    const shim = spawnProc(t, 10, 1, "containerd-shim");
    spawnProc(t, 20, 10, "runc");
    // runc init, cloned with CLONE_PARENT from runc's own child: its parent is runc
    const init = spawnProc(t, 30, 20, "runc:[2:INIT]", 1);
    expect(init.parent?.comm).toBe("runc");
    exit(t, 20, 10);
    // the container entrypoint execs; the header's ppid is the kernel's real_parent: the shim
    const sleep = t.apply(
      raw({ type: code("execve"), pid: 30, tid: 30, ppid: 10, startTs: 30 * SEC, comm: "sleep", proc: facts({ exe: "sleep", vpid: 1, vtid: 1 }) }),
    );
    expect(sleep).toBe(init);
    expect(sleep.parent).toBe(shim);
    expect(sleep.ppid).toBe(10);
    expect(sleep.parent?.comm).toBe("containerd-shim");
    // the shim adopted an orphan: it is a reaper from now on (sinsp's set_reaper)
    expect(t.isReaper(shim)).toBe(true);
    expect(t.stats()["reparented"]).toBe(1);
  });

  it("any event of the orphan (not only exec) takes the new parent from the frame header", () => {
    const t = table();
    spawnProc(t, 1, 0, "init");
    const bash = spawnProc(t, 100, 1, "bash");
    spawnProc(t, 200, 100, "sh");
    exit(t, 100, 1);
    const ev = t.apply(raw({ pid: 200, tid: 200, ppid: 1, startTs: 200 * SEC, comm: "sh" }));
    expect(ev.parent?.comm).toBe("init");
    expect(ev.ppid).toBe(1);
    expect(bash.comm).toBe("bash");
  });

  it("an event written before the kernel reparented, read after the parent's exit, does not relink to the dead parent", () => {
    const t = table();
    spawnProc(t, 1, 0, "init");
    spawnProc(t, 100, 1, "bash");
    const child = spawnProc(t, 200, 100, "sh");
    exit(t, 100, 1);
    t.apply(raw({ pid: 200, tid: 200, ppid: 1, startTs: 200 * SEC }));
    const late = t.apply(raw({ pid: 200, tid: 200, ppid: 100, startTs: 200 * SEC }));
    expect(late).toBe(child);
    expect(late.parent?.comm).toBe("init");
  });

  it("an ancestor with no event of its own is relinked to the nearest reaper when a descendant's event walks through the exited parent", () => {
    const t = table();
    spawnProc(t, 1, 0, "systemd");
    const shim = spawnProc(t, 10, 1, "containerd-shim");
    spawnProc(t, 20, 10, "runc");
    spawnProc(t, 30, 20, "runc:[2:INIT]", 1);
    exit(t, 20, 10);
    // the shim learned as a reaper by a first orphan
    t.apply(raw({ pid: 30, tid: 30, ppid: 10, startTs: 30 * SEC }));
    // a second container-side chain: shim -> sh (41) -> worker (42) -> cat (43); sh exits, then
    // only cat emits events: worker was reparented by the kernel to the shim (a subreaper)
    spawnProc(t, 41, 10, "sh");
    const worker = spawnProc(t, 42, 41, "worker");
    spawnProc(t, 43, 42, "cat");
    exit(t, 41, 10);
    const cat = t.apply(raw({ pid: 43, tid: 43, ppid: 42, startTs: 43 * SEC, comm: "cat" }));
    expect(cat.parent).toBe(worker);
    expect(worker.parent).toBe(shim);
    expect(worker.ppid).toBe(10);
  });

  it("no known subreaper: a host orphan goes to host init (pid 1), as the kernel's default reaper", () => {
    const t = table();
    const init = spawnProc(t, 1, 0, "systemd");
    spawnProc(t, 100, 1, "sshd");
    spawnProc(t, 101, 100, "bash");
    const sleeper = spawnProc(t, 102, 101, "sleep");
    spawnProc(t, 103, 102, "child");
    exit(t, 101, 100);
    t.apply(raw({ pid: 103, tid: 103, ppid: 102, startTs: 103 * SEC }));
    expect(sleeper.parent).toBe(init);
  });

  it("inside a pid namespace the orphan goes to the namespace's init (vpid 1), never across the namespace boundary", () => {
    const t = table();
    spawnProc(t, 1, 0, "systemd");
    spawnProc(t, 10, 1, "containerd-shim");
    const nsInit = spawnProc(t, 30, 10, "tini", 1);
    spawnProc(t, 31, 30, "sh", 2);
    const worker = spawnProc(t, 32, 31, "worker", 3);
    spawnProc(t, 33, 32, "ls", 4);
    exit(t, 31, 30);
    t.apply(raw({ pid: 33, tid: 33, ppid: 32, startTs: 33 * SEC }));
    expect(worker.parent).toBe(nsInit);
    expect(worker.ppid).toBe(30);
  });
});
