// SPDX-License-Identifier: Apache-2.0
/**
 * Turns decoded frames into {@link SyscallEvent}s: attaches the process (process table), the fd
 * the event is about (from the frame's fd info, else the per-process fd table), and wall-clock
 * time. One SyscallEvent object is reused for every event; consumers that keep an event past
 * the synchronous call must copy it.
 */
import { posix } from "node:path";
import type { FdInfo, SockTuple, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { EVENT_CODE_LIMIT, EVENTS, eventCode, Fd, paramIndex, Proc } from "../../rules/event-table.js";
import { HdrFlag, tupleName, type ControlInfo, type RawEvent } from "../decode/index.js";
import { ProcessTable, type ProcessTableOptions } from "./process-table.js";

const AT_FDCWD = -100;
/** An operation submitted through io_uring (no fd yet for the opens it submits). */
const IO_URING_OP = eventCode("io_uring_op");
const MAX_FDS_PER_PROCESS = 1024;

/** What an event does to the fd table, per code (from the event table), as small integers for the hot path. */
const FX_NONE = 0;
const FX_NEW = 1;
const FX_OPEN = 2;
const FX_CLOSE = 3;
const FX_USE = 4;
const FX_SEND = 5;
const FX_EXIT = 6;
const FX_OF: Record<Fd, number> = { [Fd.New]: FX_NEW, [Fd.Open]: FX_OPEN, [Fd.Close]: FX_CLOSE, [Fd.Use]: FX_USE, [Fd.Send]: FX_SEND };
const FD_FX = new Uint8Array(EVENT_CODE_LIMIT);
/** Per code, the index of a param the fd code reads (-1: none). */
const FD_ARG = new Int8Array(EVENT_CODE_LIMIT).fill(-1);
const TUPLE_ARG = new Int8Array(EVENT_CODE_LIMIT).fill(-1);
const NAME_ARG = new Int8Array(EVENT_CODE_LIMIT).fill(-1);
const DIRFD_ARG = new Int8Array(EVENT_CODE_LIMIT).fill(-1);
const FLAGS_ARG = new Int8Array(EVENT_CODE_LIMIT).fill(-1);
/** Open flags a call implies when it has no flags param (creat). */
const IMPLIED_FLAGS: (number | undefined)[] = [];
for (const e of EVENTS) {
  const c = e.code;
  FD_FX[c] = e.proc === Proc.Exit ? FX_EXIT : e.fd === undefined ? FX_NONE : FX_OF[e.fd];
  FD_ARG[c] = paramIndex(c, "fd");
  TUPLE_ARG[c] = paramIndex(c, "tuple");
  NAME_ARG[c] = paramIndex(c, "name");
  DIRFD_ARG[c] = paramIndex(c, "dirfd");
  FLAGS_ARG[c] = paramIndex(c, "flags");
  IMPLIED_FLAGS[c] = e.openFlags;
}

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
      num: 0,
      sec: 0,
      nsec: 0,
      bootNs: 0,
      type: 0,
      cpu: 0,
      res: 0,
      args: [],
      proc: undefined as unknown as ThreadInfo,
      fd: undefined,
      source: "syscall",
      blocked: false,
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
    const fx = FD_FX[t] ?? FX_NONE;
    if (fx === FX_EXIT) {
      this.fds.delete(proc);
      return undefined;
    }
    let fd = r.fd;
    if (fd !== undefined) {
      if ((fx === FX_NEW || fx === FX_OPEN) && r.res >= 0) this.table(proc).set(fd.num, fd);
      else {
        if (fd.tuple !== undefined && fd.isServer !== true) this.serverSide(proc, fd, fd.tuple);
        if (fx === FX_SEND && fd.connected !== true && fd.tuple !== undefined) this.datagramTo(r, proc, fd);
      }
      return fd;
    }
    if (fx === FX_OPEN) return this.failedOpen(r, proc);
    // a path operation submitted through io_uring (open, unlink...): named by the path it asks for,
    // made absolute, as a failed open is (no fd: the result comes with the completion)
    if (t === IO_URING_OP && typeof r.args[NAME_ARG[t]!] === "string") {
      const f = this.failedOpen(r, proc);
      if (f !== undefined) f.num = -1;
      return f;
    }
    // events about an fd param that came without fd info (close, fchmod...): the table says which
    if (fx !== FX_CLOSE && fx !== FX_USE) return undefined;
    const fdArg = r.args[FD_ARG[t]!] as number | undefined;
    if (fdArg === undefined) return undefined;
    const m = this.fds.get(proc);
    fd = m?.get(fdArg);
    if (fd === undefined) this.counters.fd_table_misses++;
    else this.counters.fd_table_hits++;
    if (fx === FX_CLOSE && r.res === 0) m?.delete(fdArg);
    return fd;
  }

  /**
   * A send on an unconnected socket that names its destination: the fd takes that destination as
   * its remote end (its name becomes `sip:sport->dip:dport`, as Falco names it), and
   * `nameChanged` says whether it differs from the last destination this fd was seen with.
   */
  private datagramTo(r: RawEvent, proc: ThreadInfo, fd: FdInfo): void {
    const dest = r.args[TUPLE_ARG[r.type]!] as SockTuple | undefined;
    if (dest === undefined || dest.dport === 0 || (dest.family !== 2 && dest.family !== 10)) return;
    const name = tupleName(dest);
    const prev = this.fds.get(proc)?.get(fd.num);
    fd.tuple = dest;
    fd.name = name;
    fd.nameChanged = prev === undefined || prev.name !== name;
    if (fd.nameChanged) this.table(proc).set(fd.num, fd);
  }

  /**
   * A socket the process accepted keeps Falco's client → server orientation on every later event
   * (read, send, close...): sinsp names the fd once, at accept, `client:port->server:port`, and
   * keeps that name. The probe describes the socket afresh on each event as local → remote, which
   * for an accepted socket is server → client: when the fd table says this fd was accepted with
   * the same two endpoints, the frame's tuple is turned round.
   */
  private serverSide(proc: ThreadInfo, fd: FdInfo, t: SockTuple): void {
    const prev = this.fds.get(proc)?.get(fd.num);
    const p = prev?.tuple;
    if (prev?.isServer !== true || p === undefined) return;
    if (p.sip !== t.dip || p.sport !== t.dport || p.dip !== t.sip || p.dport !== t.sport) return;
    fd.tuple = p;
    fd.name = prev.name;
    fd.isServer = true;
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
    const name = r.args[NAME_ARG[code]!] as string | undefined;
    if (name === undefined) return undefined;
    let full = name;
    if (!name.startsWith("/")) {
      const dirfdArg = DIRFD_ARG[code]!;
      const dirfd = dirfdArg < 0 ? AT_FDCWD : ((r.args[dirfdArg] as number | undefined) ?? AT_FDCWD);
      const base = dirfd === AT_FDCWD ? proc.cwd : this.fds.get(proc)?.get(dirfd)?.name;
      full = base !== undefined && base !== "" ? posix.resolve(base, name) : name;
    }
    return {
      num: r.res,
      type: "file",
      typechar: "f",
      name: full,
      ino: undefined,
      dev: undefined,
      isUpperLayer: undefined,
      l4proto: undefined,
      tuple: undefined,
      isServer: undefined,
      connected: undefined,
      nameChanged: undefined,
      openFlags: FLAGS_ARG[code]! >= 0 ? (r.args[FLAGS_ARG[code]!] as number | undefined) : IMPLIED_FLAGS[code],
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
