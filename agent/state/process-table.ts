// SPDX-License-Identifier: Apache-2.0
/**
 * The process table: one {@link ThreadInfo} per live process, in an `lru-cache` keyed by pid and
 * checked against the process start time (so a reused pid never inherits a dead process's facts).
 * Filled from /proc at start, kept by clone/fork/exec/exit events. Exits are applied late (after
 * a grace period) because events of a process can arrive after its exit from another CPU.
 * `parent` links make ancestor walks (`proc.aname[N]`) lookups-free.
 *
 * Reparenting. When a process exits, the kernel hands its children to a new parent
 * (kernel/exit.c find_new_reaper: a live thread of the same group, else the nearest
 * PR_SET_CHILD_SUBREAPER ancestor in the same pid namespace, e.g. containerd-shim, else the
 * init of the pid namespace). libsinsp does the same in its thread table:
 * `sinsp_thread_manager::remove_thread` (falcosecurity/libs userspace/libsinsp/thread_manager.cpp)
 * reparents the children of an exited thread with `assign_children_to_reaper`, to the reaper the
 * driver's procexit event names or, failing that, to `find_new_reaper`'s userspace guess (walk
 * up the ancestors for a live thread group marked as a reaper, stopping at a pid-namespace
 * boundary), and marks the adopting group as a reaper. Here: every frame header carries the
 * kernel's current `real_parent` tgid, so an event of a process whose parent changed relinks it
 * to its real new parent (kernel truth; the old parent having exited marks the new one a reaper,
 * as sinsp does); ancestors that emit no event are relinked when a descendant's event walks
 * through an exited parent, with sinsp's userspace rule (nearest live reaper ancestor: a learned
 * reaper, a pid-namespace init or host init).
 */
import { LRUCache } from "lru-cache";
import type { ContainerInfo, ThreadInfo } from "../../rules/event.js";
import { EVENT_CODE_LIMIT, EVENTS, Proc } from "../../rules/event-table.js";
import type { ProcFacts, RawEvent } from "../decode/index.js";
import { ExeFlag } from "../decode/layout.js";
import { hostResolver, type ContainerResolver } from "./host-container.js";
import { listPids, readProc, startTick, type ProcSnapshot } from "./proc-reader.js";
import { UserDb } from "./users.js";

const CLONE_THREAD = 0x10000;
/** Deepest ancestor chain checked for exited parents per event (rules look a few levels up). */
const MAX_ANCESTRY_FIX = 32;

/** What an event does to the process table, per code (from the event table). */
const PROC_EXEC = 1;
const PROC_CLONE = 2;
const PROC_EXIT = 3;
const PROC_FX = new Uint8Array(EVENT_CODE_LIMIT);
for (const e of EVENTS) PROC_FX[e.code] = e.proc === Proc.Exec ? PROC_EXEC : e.proc === Proc.Clone ? PROC_CLONE : e.proc === Proc.Exit ? PROC_EXIT : 0;

export interface ProcessTableOptions {
  /** Most processes kept (default 65536). */
  max?: number;
  resolveContainer?: ContainerResolver;
  procRoot?: string;
  /** How long an exited process stays visible to late events, ms (default 5000). */
  exitGraceMs?: number;
  /** Read /proc for a process first seen through an event (default true). */
  readUnknownFromProc?: boolean;
}

/** The process table. */
export class ProcessTable {
  private readonly table: LRUCache<number, ThreadInfo>;
  private readonly resolve: ContainerResolver;
  private readonly users: UserDb;
  private readonly procRoot: string;
  private readonly graceMs: number;
  private readonly readUnknown: boolean;
  private dying: { pid: number; info: ThreadInfo; at: number }[] = [];
  /** Processes whose exit was seen (their children have been or will be reparented). */
  private readonly exited = new WeakSet<ThreadInfo>();
  /** Processes seen adopting an orphan (subreapers), as sinsp's `set_reaper`. */
  private readonly reapers = new WeakSet<ThreadInfo>();
  readonly counters = {
    seeded: 0,
    execs: 0,
    forks: 0,
    exits: 0,
    placeholders: 0,
    proc_reads: 0,
    pid_reuse: 0,
    evicted: 0,
    reparented: 0,
  };

  constructor(opts: ProcessTableOptions = {}) {
    this.table = new LRUCache<number, ThreadInfo>({
      max: opts.max ?? 65536,
      dispose: (_v, _k, reason) => {
        if (reason === "evict") this.counters.evicted++;
      },
    });
    this.resolve = opts.resolveContainer ?? hostResolver;
    this.procRoot = opts.procRoot ?? "/proc";
    this.users = new UserDb(this.procRoot);
    this.graceMs = opts.exitGraceMs ?? 5000;
    this.readUnknown = opts.readUnknownFromProc ?? true;
  }

  /** Fills the table from /proc (parents first, so `parent` links resolve). Returns the count. */
  seed(): number {
    const snaps: ProcSnapshot[] = [];
    for (const pid of listPids(this.procRoot)) {
      const s = readProc(pid, this.procRoot);
      if (s !== undefined) snaps.push(s);
    }
    snaps.sort((a, b) => a.startTs - b.startTs);
    for (const s of snaps) this.table.set(s.pid, this.fromSnapshot(s));
    this.counters.seeded += snaps.length;
    return snaps.length;
  }

  /** The live entry for `pid`, if known. */
  get(pid: number): ThreadInfo | undefined {
    return this.table.get(pid);
  }

  /** Number of processes held. */
  get size(): number {
    return this.table.size;
  }

  /**
   * Applies an event to the table and returns the process it belongs to (a placeholder with
   * `complete = false` when the process cannot be described beyond the frame header).
   */
  apply(e: RawEvent): ThreadInfo {
    const fx = PROC_FX[e.type];
    if (fx === PROC_EXEC && e.res === 0 && e.proc !== undefined) return this.onExec(e, e.proc);
    if (fx === PROC_CLONE && e.proc !== undefined && e.res === 0 && (e.cloneFlags & CLONE_THREAD) === 0) return this.onChild(e, e.proc);
    const info = this.lookup(e);
    if (e.ppid !== 0 && info.ppid !== e.ppid) this.adopt(info, e.ppid);
    if (fx === PROC_EXIT) this.onExit(e.pid, info);
    else this.fixAncestry(info);
    return info;
  }

  /** Whether the exit of `info` has been seen. */
  hasExited(info: ThreadInfo): boolean {
    return this.exited.has(info);
  }

  /** Whether `info` has been seen adopting an orphan (a subreaper or a pid-namespace init). */
  isReaper(info: ThreadInfo): boolean {
    return this.reapers.has(info) || info.vpid === 1 || info.pid === 1;
  }

  /** Drops processes whose exit grace period is over. Call about once a second. */
  sweep(now: number = Date.now()): void {
    if (this.dying.length === 0) return;
    const keep: typeof this.dying = [];
    for (const d of this.dying) {
      if (now - d.at < this.graceMs) keep.push(d);
      else if (this.table.peek(d.pid) === d.info) this.table.delete(d.pid);
    }
    this.dying = keep;
  }

  stats(): Record<string, number> {
    return { ...this.counters, processes: this.table.size, dying: this.dying.length };
  }

  // ------------------------------------------------------------------ transitions

  /** The entry for the event's process, checking the start time against pid reuse. */
  private lookup(e: RawEvent): ThreadInfo {
    const have = this.table.get(e.pid);
    if (have !== undefined && startTick(have.startTs) === startTick(e.startTs)) return have;
    if (have !== undefined) this.counters.pid_reuse++;
    if (this.readUnknown) {
      this.counters.proc_reads++;
      const s = readProc(e.pid, this.procRoot);
      if (s !== undefined && startTick(s.startTs) === startTick(e.startTs)) {
        const info = this.fromSnapshot(s);
        this.table.set(e.pid, info);
        return info;
      }
    }
    return this.placeholder(e);
  }

  /**
   * The kernel says `info`'s parent is now `ppid` (frame header): link it, unless that parent is
   * one whose exit was already seen (an event written before the kernel reparented, read after
   * the parent's exit). An exited former parent makes the new one a reaper.
   */
  private adopt(info: ThreadInfo, ppid: number): void {
    let parent = this.table.get(ppid);
    if (parent === undefined && this.readUnknown) {
      this.counters.proc_reads++;
      const s = readProc(ppid, this.procRoot);
      if (s !== undefined) {
        parent = this.fromSnapshot(s);
        this.table.set(ppid, parent);
      }
    }
    if (parent !== undefined && this.exited.has(parent)) return;
    const old = info.parent;
    if (old !== undefined && old !== parent) {
      this.counters.reparented++;
      if (parent !== undefined && this.exited.has(old)) this.reapers.add(parent);
    }
    info.ppid = ppid;
    info.parent = parent;
  }

  /**
   * Relinks ancestors of `info` whose parent has exited to the process that adopted them
   * (sinsp's userspace `find_new_reaper`): the nearest live ancestor of the exited parent that is
   * a reaper, not crossing out of a pid namespace; host init when the exited parent was on the
   * host and no reaper is known.
   */
  private fixAncestry(info: ThreadInfo): void {
    let n = info;
    for (let depth = 0; depth < MAX_ANCESTRY_FIX; depth++) {
      const p = n.parent;
      if (p === undefined) return;
      if (this.exited.has(p)) {
        const r = this.reaperFor(p);
        this.counters.reparented++;
        n.parent = r;
        n.ppid = r?.pid ?? 0;
        if (r === undefined) return;
        n = r;
      } else n = p;
    }
  }

  private reaperFor(dead: ThreadInfo): ThreadInfo | undefined {
    const inNs = dead.vpid !== dead.pid;
    let a = dead.parent;
    for (let depth = 0; a !== undefined && depth < MAX_ANCESTRY_FIX; depth++) {
      if ((a.vpid !== a.pid) !== inNs) break;
      if (!this.exited.has(a) && this.isReaper(a)) return a;
      a = a.parent;
    }
    if (inNs) return undefined;
    const init = this.table.get(1);
    return init !== undefined && !this.exited.has(init) ? init : undefined;
  }

  private placeholder(e: RawEvent): ThreadInfo {
    this.counters.placeholders++;
    const parent = this.table.get(e.ppid);
    const container = this.resolve(parent?.cgroupPath ?? "/", e.cgroupId, e.pid);
    const info = blank(e.pid, container);
    info.tid = e.pid;
    info.ppid = e.ppid;
    info.comm = e.comm;
    info.exe = e.comm;
    info.uid = e.uid;
    info.gid = e.gid;
    info.euid = e.euid;
    info.egid = e.gid;
    info.loginuid = e.loginuid;
    info.startTs = e.startTs;
    info.cgroupId = e.cgroupId;
    info.cgroupPath = parent?.cgroupPath;
    info.parent = parent;
    info.user = this.users.user(e.uid, e.pid, container.id);
    info.group = this.users.group(e.gid, e.pid, container.id);
    info.loginUser = e.loginuid === 0xffffffff ? undefined : this.users.user(e.loginuid, e.pid, container.id);
    info.complete = false;
    this.table.set(e.pid, info);
    return info;
  }

  private onExec(e: RawEvent, p: ProcFacts): ThreadInfo {
    this.counters.execs++;
    let info = this.table.get(e.pid);
    if (info === undefined || startTick(info.startTs) !== startTick(e.startTs)) {
      info = blank(e.pid, this.resolve(p.cgroupPath, e.cgroupId, e.pid));
      info.parent = this.table.get(e.ppid);
      this.table.set(e.pid, info);
    }
    const before = info.ppid;
    this.fill(info, e, p);
    info.ppid = before;
    if (e.ppid !== 0 && (before !== e.ppid || info.parent === undefined)) this.adopt(info, e.ppid);
    info.execTs = e.ts;
    this.fixAncestry(info);
    return info;
  }

  private onChild(e: RawEvent, p: ProcFacts): ThreadInfo {
    this.counters.forks++;
    const info = blank(e.pid, this.resolve(p.cgroupPath, e.cgroupId, e.pid));
    const parent = this.table.get(e.ppid);
    info.parent = parent;
    this.fill(info, e, p);
    info.execTs = parent?.execTs ?? 0;
    info.exeUpperLayer = parent?.exeUpperLayer ?? info.exeUpperLayer;
    this.table.set(e.pid, info);
    return info;
  }

  private onExit(pid: number, info: ThreadInfo): void {
    this.counters.exits++;
    this.exited.add(info);
    this.dying.push({ pid, info, at: Date.now() });
  }

  private fill(info: ThreadInfo, e: RawEvent, p: ProcFacts): void {
    const container = this.resolve(p.cgroupPath, e.cgroupId, e.pid);
    info.tid = e.pid;
    info.pid = e.pid;
    info.ppid = e.ppid;
    info.vpid = p.vpid;
    info.vtid = p.vpid;
    info.sid = p.sid;
    info.pgid = p.pgid;
    info.vpgid = p.vpgid;
    info.comm = e.comm;
    info.exe = p.exe;
    info.exepath = p.exepath;
    info.args = p.args;
    info.env = p.env;
    info.cwd = p.cwd;
    info.tty = p.tty;
    info.uid = e.uid;
    info.gid = e.gid;
    info.euid = e.euid;
    info.egid = p.egid;
    info.loginuid = e.loginuid;
    info.startTs = e.startTs;
    info.cgroupId = e.cgroupId;
    info.cgroupPath = p.cgroupPath;
    const fl = p.exeFlags;
    info.exeUpperLayer = fl === undefined ? undefined : (fl & ExeFlag.UpperLayer) !== 0;
    info.exeLowerLayer = fl === undefined ? undefined : (fl & ExeFlag.LowerLayer) !== 0;
    info.exeFromMemfd = fl === undefined ? undefined : (fl & ExeFlag.FromMemfd) !== 0;
    info.exeWritable = fl === undefined ? undefined : (fl & ExeFlag.Writable) !== 0;
    info.exeIno = p.exeIno;
    info.exeInoCtime = p.exeCtime;
    info.exeInoMtime = p.exeMtime;
    info.capEffective = p.capEffective;
    info.capPermitted = p.capPermitted;
    info.capInheritable = p.capInheritable;
    info.pidnsInitStartTs = p.pidnsInitStartTs;
    info.container = container;
    info.user = this.users.user(e.uid, e.pid, container.id);
    info.group = this.users.group(e.gid, e.pid, container.id);
    info.loginUser = e.loginuid === 0xffffffff ? undefined : this.users.user(e.loginuid, e.pid, container.id);
    info.complete = true;
  }

  private fromSnapshot(s: ProcSnapshot): ThreadInfo {
    const container = this.resolve(s.cgroupPath, s.cgroupId, s.pid);
    const info = blank(s.pid, container);
    info.ppid = s.ppid;
    info.vpid = s.vpid;
    info.vtid = s.vpid;
    info.sid = s.sid;
    info.pgid = s.pgid;
    info.vpgid = s.vpgid;
    info.comm = s.comm;
    info.exe = s.exe;
    info.exepath = s.exepath;
    info.args = s.args;
    info.env = s.env;
    info.cwd = s.cwd;
    info.tty = s.tty;
    info.uid = s.uid;
    info.gid = s.gid;
    info.euid = s.euid;
    info.egid = s.egid;
    info.loginuid = s.loginuid;
    info.startTs = s.startTs;
    info.execTs = s.startTs;
    info.cgroupId = s.cgroupId;
    info.cgroupPath = s.cgroupPath;
    info.exeIno = s.exeIno;
    info.exeInoCtime = s.exeCtime;
    info.exeInoMtime = s.exeMtime;
    info.capEffective = s.capEffective;
    info.capPermitted = s.capPermitted;
    info.capInheritable = s.capInheritable;
    info.parent = this.table.get(s.ppid);
    info.user = this.users.user(s.uid, s.pid, container.id);
    info.group = this.users.group(s.gid, s.pid, container.id);
    info.loginUser = s.loginuid === 0xffffffff ? undefined : this.users.user(s.loginuid, s.pid, container.id);
    info.complete = true;
    return info;
  }
}

function blank(pid: number, container: ContainerInfo): ThreadInfo {
  return {
    tid: pid,
    pid,
    ppid: 0,
    vpid: pid,
    vtid: pid,
    sid: 0,
    pgid: 0,
    vpgid: 0,
    comm: "",
    exe: "",
    exepath: "",
    args: [],
    env: [],
    cwd: "",
    tty: 0,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    loginuid: 0xffffffff,
    startTs: 0,
    execTs: 0,
    cgroupId: 0,
    cgroupPath: undefined,
    exeUpperLayer: undefined,
    exeLowerLayer: undefined,
    exeFromMemfd: undefined,
    exeWritable: undefined,
    exeIno: undefined,
    exeInoCtime: undefined,
    exeInoMtime: undefined,
    capEffective: undefined,
    capPermitted: undefined,
    capInheritable: undefined,
    pidnsInitStartTs: undefined,
    user: { uid: 0, name: undefined, homedir: undefined, shell: undefined },
    group: { gid: 0, name: undefined },
    loginUser: undefined,
    parent: undefined,
    container,
    complete: false,
  };
}
