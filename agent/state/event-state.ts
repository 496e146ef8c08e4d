// SPDX-License-Identifier: Apache-2.0
/**
 * Turns decoded frames into {@link SyscallEvent}s: attaches the process (process table), the fd
 * the event is about (from the frame's fd info, else the per-process fd table), and wall-clock
 * time. One SyscallEvent object is reused for every event; consumers that keep an event past
 * the synchronous call must copy it.
 */
import { posix } from "node:path";
import type { FdInfo, SockTuple, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { HdrFlag, tupleName, type ControlInfo, type RawEvent } from "../decode/index.js";
import { ProcessTable, type ProcessTableOptions } from "./process-table.js";

const AT_FDCWD = -100;
const MAX_FDS_PER_PROCESS = 1024;

/** Events whose new fd (the result) enters the fd table. */
const FD_CREATORS = new Set([3, 4, 5, 6, 39, 41, 42, 47, 48, 49, 50, 56]);
/** open-family codes (fd name built from the path param when the open failed). */
const OPENS = new Set([3, 4, 5, 6]);
const CLOSE = 7;
const SENDTO = 45;
const SENDMSG = 46;
/** The tuple param of sendto and sendmsg (schema order). */
const SEND_TUPLE_ARG = 4;
const EXIT = 33;

/** Process table + fd tables + clock: the agent's view of kernel state. */
export class EventState {
  readonly processes: ProcessTable;
  private readonly fds = new WeakMap<ThreadInfo, Map<number, FdInfo>>();
  private readonly ev: SyscallEvent;
  private num = 0;
  private wallSec = 0;
  private wallNsec = 0;
  private haveClock = false;
  readonly counters = { events: 0, fd_table_hits: 0, fd_table_misses: 0 };

  constructor(opts: ProcessTableOptions = {}) {
    this.processes = new ProcessTable(opts);
    this.ev = {
      num: 0, sec: 0, nsec: 0, bootNs: 0, type: 0, cpu: 0, res: 0, args: [],
      proc: undefined as unknown as ThreadInfo, fd: undefined, source: "syscall", blocked: false,
    };
  }

  /** Fills the process table from /proc. */
  seed(): number {
    return this.processes.seed();
  }

  /** Takes the boot → wall clock offset from a loader control frame. */
  clock(c: ControlInfo): void {
    this.wallSec = c.wallOffsetSec;
    this.wallNsec = c.wallOffsetNsec;
    this.haveClock = true;
  }

  /** Builds the event for a decoded frame (the returned object is reused). */
  build(r: RawEvent): SyscallEvent {
    if (!this.haveClock) this.guessClock(r.ts);
    const proc = this.processes.apply(r);
    const e = this.ev;
    e.num = ++this.num;
    const total = r.ts + this.wallNsec;
    const s = Math.floor(total / 1e9);
    e.sec = this.wallSec + s;
    e.nsec = total - s * 1e9;
    e.bootNs = r.ts;
    e.type = r.type;
    e.cpu = r.cpu;
    e.res = r.res;
    e.args = r.args;
    e.proc = proc;
    e.fd = this.fdFor(r, proc);
    e.blocked = (r.flags & HdrFlag.Blocked) !== 0;
    this.counters.events++;
    return e;
  }

  /** Drops exited processes past their grace period. */
  sweep(now?: number): void {
    this.processes.sweep(now);
  }

  stats(): Record<string, number> {
    return { ...this.counters, ...this.processes.stats() };
  }

  private fdFor(r: RawEvent, proc: ThreadInfo): FdInfo | undefined {
    const t = r.type;
    if (t === EXIT) {
      this.fds.delete(proc);
      return undefined;
    }
    let fd = r.fd;
    if (fd !== undefined) {
      if (FD_CREATORS.has(t) && r.res >= 0) this.table(proc).set(fd.num, fd);
      else if ((t === SENDTO || t === SENDMSG) && fd.connected !== true && fd.tuple !== undefined) this.datagramTo(r, proc, fd);
      return fd;
    }
    if (OPENS.has(t)) return this.failedOpen(r, proc);
    const fdArg = fdNumArg(r);
    if (fdArg === undefined) return undefined;
    const m = this.fds.get(proc);
    fd = m?.get(fdArg);
    if (fd === undefined) this.counters.fd_table_misses++;
    else this.counters.fd_table_hits++;
    if (t === CLOSE && r.res === 0) m?.delete(fdArg);
    return fd;
  }

  /**
   * A send on an unconnected socket that names its destination: the fd takes that destination as
   * its remote end (its name becomes `sip:sport->dip:dport`, as Falco names it), and
   * `nameChanged` says whether it differs from the last destination this fd was seen with.
   */
  private datagramTo(r: RawEvent, proc: ThreadInfo, fd: FdInfo): void {
    const dest = r.args[SEND_TUPLE_ARG] as SockTuple | undefined;
    if (dest === undefined || dest.dport === 0 || (dest.family !== 2 && dest.family !== 10)) return;
    const name = tupleName(dest);
    const prev = this.fds.get(proc)?.get(fd.num);
    fd.tuple = dest;
    fd.name = name;
    fd.nameChanged = prev === undefined || prev.name !== name;
    if (fd.nameChanged) this.table(proc).set(fd.num, fd);
  }

  private table(proc: ThreadInfo): Map<number, FdInfo> {
    let m = this.fds.get(proc);
    if (m === undefined) {
      m = new Map();
      this.fds.set(proc, m);
    } else if (m.size >= MAX_FDS_PER_PROCESS) {
      const first = m.keys().next();
      if (first.done !== true) m.delete(first.value);
    }
    return m;
  }

  /** Falco sets fd.name on a failed open to the path asked for, made absolute. */
  private failedOpen(r: RawEvent, proc: ThreadInfo): FdInfo | undefined {
    const code = r.type;
    const name = (code === 3 || code === 6 ? r.args[1] : r.args[2]) as string | undefined;
    if (name === undefined) return undefined;
    let full = name;
    if (!name.startsWith("/")) {
      const dirfd = code === 3 || code === 6 ? AT_FDCWD : ((r.args[1] as number | undefined) ?? AT_FDCWD);
      const base = dirfd === AT_FDCWD ? proc.cwd : this.fds.get(proc)?.get(dirfd)?.name;
      full = base !== undefined && base !== "" ? posix.resolve(base, name) : name;
    }
    return {
      num: r.res, type: "file", typechar: "f", name: full, ino: undefined, dev: undefined, isUpperLayer: undefined,
      l4proto: undefined, tuple: undefined, isServer: undefined, connected: undefined, nameChanged: undefined,
      openFlags: (code === 3 ? r.args[2] : code === 6 ? 0o1101 : r.args[3]) as number | undefined,
    };
  }

  private guessClock(bootNs: number): void {
    // before the loader's ready frame (never in practice): derive the offset from uptime
    const wall = BigInt(Date.now()) * 1_000_000n - BigInt(Math.floor(bootNs));
    this.wallSec = Number(wall / 1_000_000_000n);
    this.wallNsec = Number(wall % 1_000_000_000n);
    this.haveClock = true;
  }
}

/** The fd param of fd-using events without fd info (close, fchmod...). */
function fdNumArg(r: RawEvent): number | undefined {
  switch (r.type) {
    case 7: // close
    case 21: // fchmod
    case 25: // fchown
    case 28: // ftruncate
    case 62: // fchdir
      return r.args[1] as number | undefined;
    default:
      return undefined;
  }
}
