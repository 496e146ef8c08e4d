// SPDX-License-Identifier: Apache-2.0
/**
 * Frame decoder: one handler per frame type in a `Map` filled at construction (tetragon's
 * RegisterEventHandlerAtInit). A handler reads the frame with `DataView` and string slices — no
 * JSON, no protobuf — into one reused {@link RawEvent}. Empty data, an unknown type and a failing
 * handler each become a counted error kind; nothing is thrown.
 *
 * Params arrive in wire order (native-bridge/FORMAT.md); the decoder puts them into the event
 * table's schema order (rules/event-table.ts), so `args[i]` is the schema's param i.
 */
import { ArgKind, EVENTS, Fd, Proc, type EventSpec, type ParamSpec } from "../../rules/event-table.js";
import type { ArgValue, FdInfo } from "../../rules/event.js";
import { DecodeErrorCode } from "./errors.js";
import { FrameReader } from "./framer.js";
import { CtlPrevent, CtlReady, CtlStats, CtlSync, CtlType, ExeFlag, FdKind, Hdr, HdrFlag, HDR_SIZE, ProcBlock } from "./layout.js";
import { sockaddr, tuple, tupleName } from "./net.js";
import { StringCache } from "./strings.js";

const MAX_PARAMS = 64;
const TWO32 = 4294967296;

/** Facts of the process block carried by exec- and clone-family frames. */
export interface ProcFacts {
  exe: string;
  args: string[];
  cwd: string;
  env: string[];
  exepath: string;
  cgroupPath: string;
  sid: number;
  pgid: number;
  vpgid: number;
  vpid: number;
  vtid: number;
  egid: number;
  tty: number;
  capInheritable: bigint | undefined;
  capPermitted: bigint | undefined;
  capEffective: bigint | undefined;
  exeFlags: number | undefined;
  exeIno: number | undefined;
  exeCtime: number | undefined;
  exeMtime: number | undefined;
  pidnsInitStartTs: number | undefined;
}

/** One decoded event frame. The decoder reuses this object for every frame. */
export interface RawEvent {
  type: number;
  flags: number;
  /** CLOCK_BOOTTIME ns. */
  ts: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  loginuid: number;
  cpu: number;
  cgroupId: number;
  /** CLOCK_BOOTTIME ns at which the process started. */
  startTs: number;
  comm: string;
  res: number;
  /** Params in schema order (event-table.ts). */
  args: ArgValue[];
  /** Exec/clone frames only. */
  proc: ProcFacts | undefined;
  /** The fd the event is about, as the kernel saw it (when the frame carries fd info). */
  fd: FdInfo | undefined;
  /** Clone-family flags. */
  cloneFlags: number;
}

/** Loader control frames. */
export interface ControlInfo {
  type: "ready" | "stats";
  realtimeNs: number;
  boottimeNs: number;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME, exactly, split into whole seconds and nanoseconds. */
  wallOffsetSec: number;
  wallOffsetNsec: number;
  ncpus: number;
  programs: number;
  /** Stats only: ring-buffer reservation failures since the probe started, all CPUs. */
  drops: number;
  events: number;
  framesOut: number;
  perCpuDrops: number[];
  /** Stats only: open-family events dropped by the pushed-down rule filters (0 from older loaders). */
  filtered: number;
}

/** The probe's cap on a captured string or byte run (STR_MAX in probe.bpf.c): an environment this long was cut. */
const ENV_CAP = 4096;

/** The loader's prevention counters (control frame 0x8003, sent with every stats frame). */
export interface PreventInfo {
  /** Programs killed at exec since the probe started. */
  blocked: number;
  /** Kills that were due but failed (the program ran). */
  signalFailed: number;
  /** cgroups armed now. */
  entries: number;
  /** Arm requests refused because the map was full. */
  mapFull: number;
}

export interface DecoderOptions {
  onEvent: (e: RawEvent) => void;
  onControl?: (c: ControlInfo) => void;
  onPrevent?: (p: PreventInfo) => void;
  /** The loader's answer to a "sync N" control line (every earlier line applied). */
  onSync?: (seq: number) => void;
  maxFrame?: number;
}

type Handler = (view: DataView, buf: Buffer, off: number, size: number) => void;

/** How a schema param is filled. */
type Source =
  | { from: "res" }
  | { from: "wire"; index: number }
  | { from: "hdr"; field: "tid" | "pid" | "ppid" | "comm" | "uid" | "gid" | "loginuid" }
  | { from: "proc"; index: number }
  | { from: "clone_flags" }
  | { from: "none" };

/** Where a param comes from, as read per frame. */
const From = { None: 0, Res: 1, Wire: 2, Hdr: 3, Proc: 4, CloneFlags: 5 } as const;
const FROM: Record<Source["from"], number> = { none: From.None, res: From.Res, wire: From.Wire, hdr: From.Hdr, proc: From.Proc, clone_flags: From.CloneFlags };
const HDR_FIELDS = ["tid", "pid", "ppid", "comm", "uid", "gid", "loginuid"] as const;

function hdrField(e: RawEvent, i: number): ArgValue {
  switch (i) {
    case 0:
      return e.tid;
    case 1:
      return e.pid;
    case 2:
      return e.ppid;
    case 3:
      return e.comm;
    case 4:
      return e.uid;
    case 5:
      return e.gid;
    default:
      return e.loginuid;
  }
}

/** How a wire param's bytes are read, by {@link ArgKind}. */
const Reader = { Signed: 0, Unsigned: 1, Str: 2, Bytes: 3, StrList: 4, SockAddr: 5, Tuple: 6 } as const;
const READER: Record<ParamSpec["kind"], number> = {
  [ArgKind.Errno]: Reader.Signed,
  [ArgKind.Fd]: Reader.Signed,
  [ArgKind.Pid]: Reader.Signed,
  [ArgKind.I64]: Reader.Signed,
  [ArgKind.Uid]: Reader.Unsigned,
  [ArgKind.Gid]: Reader.Unsigned,
  [ArgKind.U32]: Reader.Unsigned,
  [ArgKind.U64]: Reader.Unsigned,
  [ArgKind.Flags]: Reader.Unsigned,
  [ArgKind.Enum]: Reader.Unsigned,
  [ArgKind.Mode]: Reader.Unsigned,
  [ArgKind.Path]: Reader.Str,
  [ArgKind.RelPath]: Reader.Str,
  [ArgKind.Str]: Reader.Str,
  [ArgKind.Bytes]: Reader.Bytes,
  [ArgKind.StrList]: Reader.StrList,
  [ArgKind.SockAddr]: Reader.SockAddr,
  [ArgKind.Tuple]: Reader.Tuple,
};

/** True when the event's result is a new fd (its fd info describes the result, not an fd param). */
function resultIsFd(spec: EventSpec): boolean {
  return spec.fd === Fd.New || spec.fd === Fd.Open;
}

/**
 * True when the schema's param 0 is the syscall result (carried in the header, not the params):
 * `res`, or an `fd` param first (the table writes a result that is an fd so: open, socket, bpf...).
 */
export function resultIsHeader(spec: EventSpec): boolean {
  const p0 = spec.params[0];
  return p0 !== undefined && (p0.kind === ArgKind.Errno || (p0.kind === ArgKind.Fd && p0.name === "fd"));
}

const EXEC_SOURCES: Record<string, Source> = {
  exe: { from: "proc", index: ProcBlock.exe },
  args: { from: "proc", index: ProcBlock.args },
  tid: { from: "hdr", field: "tid" },
  pid: { from: "hdr", field: "pid" },
  ptid: { from: "hdr", field: "ppid" },
  cwd: { from: "proc", index: ProcBlock.cwd },
  comm: { from: "hdr", field: "comm" },
  env: { from: "proc", index: ProcBlock.env },
  tty: { from: "proc", index: ProcBlock.tty },
  vpgid: { from: "proc", index: ProcBlock.vpgid },
  loginuid: { from: "hdr", field: "loginuid" },
  cap_inheritable: { from: "proc", index: ProcBlock.capInheritable },
  cap_permitted: { from: "proc", index: ProcBlock.capPermitted },
  cap_effective: { from: "proc", index: ProcBlock.capEffective },
  exe_ino: { from: "proc", index: ProcBlock.exeIno },
  exe_ino_ctime: { from: "proc", index: ProcBlock.exeCtime },
  exe_ino_mtime: { from: "proc", index: ProcBlock.exeMtime },
  uid: { from: "hdr", field: "uid" },
  trusted_exepath: { from: "proc", index: ProcBlock.exepath },
  pgid: { from: "proc", index: ProcBlock.pgid },
  gid: { from: "hdr", field: "gid" },
  vtid: { from: "proc", index: ProcBlock.vtid },
  vpid: { from: "proc", index: ProcBlock.vpid },
  pidns_init_start_ts: { from: "proc", index: ProcBlock.pidnsInitStartTs },
};

const TYPE_CHARS: Record<string, string> = {
  file: "f",
  directory: "d",
  ipv4: "4",
  ipv6: "6",
  unix: "u",
  pipe: "p",
  event: "e",
  signalfd: "s",
  eventpoll: "l",
  inotify: "i",
  timerfd: "t",
  netlink: "n",
  memfd: "m",
  bpf: "b",
};

const L4: Record<number, string> = { 6: "tcp", 17: "udp", 1: "icmp", 58: "icmp", 255: "raw" };

/** The frame decoder (framing included): push chunks, get {@link RawEvent}s. */
export class FrameDecoder {
  private readonly reader: FrameReader;
  private readonly handlers = new Map<number, Handler>();
  private readonly ev: RawEvent;
  private readonly pOff = new Int32Array(MAX_PARAMS);
  private readonly pLen = new Int32Array(MAX_PARAMS);
  private nParams = 0;
  /** Thread names: a few hundred distinct on a node, repeated in every frame header. */
  private readonly comms = new StringCache(1024, 16);
  /** Paths and other string params (fd names, open paths): the same ones recur. */
  private readonly paths = new StringCache(4096, 112);
  private readonly counters: Record<string, number> = {
    events: 0,
    controls: 0,
    truncated_by_probe: 0,
    /** exec/clone frames whose environment filled the probe's cap (the rest of it was not captured) */
    env_truncated: 0,
    [DecodeErrorCode.UnknownType]: 0,
    [DecodeErrorCode.Truncated]: 0,
    [DecodeErrorCode.HandlerFailed]: 0,
  };
  private readonly onFrame: (view: DataView, buf: Buffer, off: number, size: number) => void;
  /** opts.onEvent, read from a field so every decoder has one shape on the event path. */
  private readonly emit: (e: RawEvent) => void;

  constructor(private readonly opts: DecoderOptions) {
    this.emit = opts.onEvent;
    this.reader = new FrameReader(opts.maxFrame);
    this.ev = {
      type: 0,
      flags: 0,
      ts: 0,
      pid: 0,
      tid: 0,
      ppid: 0,
      uid: 0,
      gid: 0,
      euid: 0,
      loginuid: 0,
      cpu: 0,
      cgroupId: 0,
      startTs: 0,
      comm: "",
      res: 0,
      args: [],
      proc: undefined,
      fd: undefined,
      cloneFlags: 0,
    };
    for (const spec of EVENTS) if (spec.code !== 0) this.handlers.set(spec.code, this.eventHandler(spec));
    this.handlers.set(CtlType.Ready, (v, _b, o, s) => this.control(v, o, s, "ready"));
    this.handlers.set(CtlType.Stats, (v, _b, o, s) => this.control(v, o, s, "stats"));
    this.handlers.set(CtlType.Prevent, (v, _b, o, s) => this.prevent(v, o, s));
    this.handlers.set(CtlType.Sync, (v, _b, o, s) => {
      this.counters["controls"]!++;
      if (s < CtlSync.size) this.counters[DecodeErrorCode.Truncated]!++;
      else this.opts.onSync?.(u64(v, o + CtlSync.seq));
    });
    const byCode: (Handler | undefined)[] = [];
    for (const [code, h] of this.handlers) if (code < 0x8000) byCode[code] = h;
    for (let i = 0; i < byCode.length; i++) byCode[i] ??= undefined; // packed, no holes
    this.onFrame = (view, buf, off, size) => {
      const type = view.getUint16(off + Hdr.type, true);
      const h = type < byCode.length ? byCode[type] : this.handlers.get(type);
      if (h === undefined) {
        this.counters[DecodeErrorCode.UnknownType]!++;
        return;
      }
      try {
        h(view, buf, off, size);
      } catch {
        this.counters[DecodeErrorCode.HandlerFailed]!++;
      }
    };
  }

  /** Feeds a chunk of the byte stream (any boundary). */
  push(chunk: Uint8Array): void {
    this.reader.push(chunk, this.onFrame);
  }

  /** Forgets a partial frame (the producer restarted); counts its bytes as trailing. */
  reset(): void {
    const n = this.reader.reset();
    if (n > 0) this.counters[DecodeErrorCode.TrailingBytes] = (this.counters[DecodeErrorCode.TrailingBytes] ?? 0) + n;
  }

  /** Counters: frames, events, and one per error kind. */
  stats(): Record<string, number> {
    return {
      ...this.reader.counters,
      ...this.counters,
      string_cache_hits: this.comms.hits + this.paths.hits,
      string_cache_misses: this.comms.misses + this.paths.misses,
    };
  }

  // ------------------------------------------------------------------ frame parts

  private header(view: DataView, buf: Buffer, off: number): RawEvent {
    const e = this.ev;
    e.type = view.getUint16(off + Hdr.type, true);
    e.flags = buf[off + Hdr.flags]!;
    e.ts = u64(view, off + Hdr.ts);
    e.pid = view.getUint32(off + Hdr.pid, true);
    e.tid = view.getUint32(off + Hdr.tid, true);
    e.ppid = view.getUint32(off + Hdr.ppid, true);
    e.uid = view.getUint32(off + Hdr.uid, true);
    e.gid = view.getUint32(off + Hdr.gid, true);
    e.euid = view.getUint32(off + Hdr.euid, true);
    e.loginuid = view.getUint32(off + Hdr.loginuid, true);
    e.cpu = view.getUint16(off + Hdr.cpu, true);
    e.cgroupId = u64(view, off + Hdr.cgroupId);
    e.startTs = u64(view, off + Hdr.startTs);
    e.comm = this.comms.get(buf, off + Hdr.comm, off + Hdr.comm + Hdr.commLen);
    e.res = i64(view, off + Hdr.res);
    e.proc = undefined;
    e.fd = undefined;
    e.cloneFlags = 0;
    if (e.flags & HdrFlag.Truncated) this.counters["truncated_by_probe"]!++;
    return e;
  }

  /** Indexes the params; false (counted) when a length runs past the frame. */
  private params(view: DataView, off: number, size: number): boolean {
    const n = view.getUint16(off + Hdr.nparams, true);
    const end = off + size;
    if (n > MAX_PARAMS) {
      this.counters[DecodeErrorCode.Truncated]!++;
      return false;
    }
    let p = off + HDR_SIZE;
    for (let i = 0; i < n; i++) {
      if (p + 2 > end) {
        this.counters[DecodeErrorCode.Truncated]!++;
        return false;
      }
      const len = view.getUint16(p, true);
      p += 2;
      if (p + len > end) {
        this.counters[DecodeErrorCode.Truncated]!++;
        return false;
      }
      this.pOff[i] = p;
      this.pLen[i] = len;
      p += len;
    }
    this.nParams = n;
    return true;
  }

  private control(view: DataView, off: number, size: number, type: "ready" | "stats"): void {
    this.counters["controls"]!++;
    const need = type === "ready" ? CtlReady.size : CtlStats.perCpu;
    if (size < need) {
      this.counters[DecodeErrorCode.Truncated]!++;
      return;
    }
    const diff = view.getBigUint64(off + CtlReady.realtimeNs, true) - view.getBigUint64(off + CtlReady.boottimeNs, true);
    const c: ControlInfo = {
      type,
      realtimeNs: u64(view, off + CtlReady.realtimeNs),
      boottimeNs: u64(view, off + CtlReady.boottimeNs),
      wallOffsetSec: Number(diff / 1_000_000_000n),
      wallOffsetNsec: Number(diff % 1_000_000_000n),
      ncpus: 0,
      programs: 0,
      drops: 0,
      events: 0,
      framesOut: 0,
      perCpuDrops: [],
      filtered: 0,
    };
    if (type === "ready") {
      c.ncpus = view.getUint32(off + CtlReady.ncpus, true);
      c.programs = view.getUint32(off + CtlReady.programs, true);
    } else {
      c.drops = u64(view, off + CtlStats.drops);
      c.events = u64(view, off + CtlStats.events);
      c.framesOut = u64(view, off + CtlStats.framesOut);
      c.ncpus = view.getUint32(off + CtlStats.ncpus, true);
      c.programs = view.getUint32(off + CtlStats.programs, true);
      for (let i = 0; i < c.ncpus && off + CtlStats.perCpu + i * 8 + 8 <= off + size; i++) c.perCpuDrops.push(u64(view, off + CtlStats.perCpu + i * 8));
      // appended after the per-CPU drops
      const filteredAt = CtlStats.perCpu + c.ncpus * 8;
      if (filteredAt + 8 <= size) c.filtered = u64(view, off + filteredAt);
    }
    this.opts.onControl?.(c);
  }

  private prevent(view: DataView, off: number, size: number): void {
    this.counters["controls"]!++;
    if (size < CtlPrevent.size) {
      this.counters[DecodeErrorCode.Truncated]!++;
      return;
    }
    this.opts.onPrevent?.({
      blocked: u64(view, off + CtlPrevent.blocked),
      signalFailed: u64(view, off + CtlPrevent.signalFailed),
      entries: view.getUint32(off + CtlPrevent.entries, true),
      mapFull: view.getUint32(off + CtlPrevent.mapFull, true),
    });
  }

  // ------------------------------------------------------------------ param values

  private has(i: number): boolean {
    return i < this.nParams && this.pLen[i]! > 0;
  }

  private num(view: DataView, i: number, signed: boolean): number | undefined {
    if (i >= this.nParams) return undefined;
    const len = this.pLen[i]!;
    const o = this.pOff[i]!;
    if (len === 4) return signed ? view.getInt32(o, true) : view.getUint32(o, true);
    if (len === 8) return signed ? i64(view, o) : u64(view, o);
    return undefined;
  }

  private str(buf: Buffer, i: number): string | undefined {
    if (!this.has(i)) return undefined;
    const o = this.pOff[i]!;
    return this.paths.get(buf, o, o + this.pLen[i]!);
  }

  private strList(buf: Buffer, i: number): string[] {
    if (!this.has(i)) return [];
    const o = this.pOff[i]!;
    const end = o + this.pLen[i]!;
    const out: string[] = [];
    let s = o;
    for (let p = o; p < end; p++) {
      if (buf[p] === 0) {
        out.push(buf.toString("utf8", s, p));
        s = p + 1;
      }
    }
    if (s < end) out.push(buf.toString("utf8", s, end));
    return out;
  }

  private value(view: DataView, buf: Buffer, i: number, reader: number, server: boolean): ArgValue {
    switch (reader) {
      case Reader.Signed:
        return this.num(view, i, true);
      case Reader.Unsigned:
        return this.num(view, i, false);
      case Reader.Str:
        return this.str(buf, i);
      case Reader.Bytes:
        return this.has(i) ? Uint8Array.prototype.slice.call(buf, this.pOff[i]!, this.pOff[i]! + this.pLen[i]!) : undefined;
      case Reader.StrList:
        return this.has(i) ? this.strList(buf, i) : undefined;
      case Reader.SockAddr:
        return this.has(i) ? sockaddr(view, buf, this.pOff[i]!, this.pLen[i]!) : undefined;
      case Reader.Tuple:
        return this.has(i) ? tuple(view, buf, this.pOff[i]!, this.pLen[i]!, server) : undefined;
      default:
        return undefined;
    }
  }

  private procFacts(view: DataView, buf: Buffer): ProcFacts {
    const n = (i: number) => this.num(view, i, false) ?? 0;
    const big = (i: number) => {
      if (!this.has(i) || this.pLen[i] !== 8) return undefined;
      const o = this.pOff[i]!;
      const lo = view.getUint32(o, true);
      const hi = view.getUint32(o + 4, true);
      // capability sets stay below 2^53 (41 capabilities today): one BigInt from an exact number
      return hi < 0x200000 ? BigInt(hi * TWO32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
    };
    const exeFlags = this.num(view, ProcBlock.exeFlags, false);
    if (this.has(ProcBlock.env) && this.pLen[ProcBlock.env]! >= ENV_CAP) this.counters["env_truncated"]!++;
    let exepath = this.str(buf, ProcBlock.exepath) ?? "";
    // a memfd's file sits at the root of the kernel's internal shm mount: the probe's dentry walk
    // writes "/memfd:NAME"; Falco's exepath is "memfd:NAME" (no leading slash)
    if (exeFlags !== undefined && (exeFlags & ExeFlag.FromMemfd) !== 0 && exepath.startsWith("/memfd:")) exepath = exepath.slice(1);
    return {
      exe: this.str(buf, ProcBlock.exe) ?? "",
      args: this.strList(buf, ProcBlock.args),
      cwd: this.str(buf, ProcBlock.cwd) ?? "",
      env: this.strList(buf, ProcBlock.env),
      exepath,
      cgroupPath: this.str(buf, ProcBlock.cgroupPath) ?? "",
      sid: n(ProcBlock.sid),
      pgid: n(ProcBlock.pgid),
      vpgid: n(ProcBlock.vpgid),
      vpid: n(ProcBlock.vpid),
      vtid: n(ProcBlock.vtid),
      egid: n(ProcBlock.egid),
      tty: n(ProcBlock.tty),
      capInheritable: big(ProcBlock.capInheritable),
      capPermitted: big(ProcBlock.capPermitted),
      capEffective: big(ProcBlock.capEffective),
      exeFlags,
      exeIno: this.num(view, ProcBlock.exeIno, false),
      exeCtime: this.num(view, ProcBlock.exeCtime, false),
      exeMtime: this.num(view, ProcBlock.exeMtime, false),
      pidnsInitStartTs: this.num(view, ProcBlock.pidnsInitStartTs, false),
    };
  }

  /** True when fd-info param `i` is an IP socket with no remote end (an unconnected datagram socket). */
  private unconnectedIp(view: DataView, buf: Buffer, i: number): boolean {
    if (i < 0 || !this.has(i)) return false;
    const o = this.pOff[i]!;
    const len = this.pLen[i]!;
    const kind = buf[o]!;
    // kind, aux, then the tuple: family, local address and port, remote address and port
    if (kind === FdKind.Ipv4 && len >= 2 + 13) return view.getUint16(o + 2 + 11, true) === 0;
    if (kind === FdKind.Ipv6 && len >= 2 + 37) return view.getUint16(o + 2 + 35, true) === 0;
    return false;
  }

  private fdInfo(view: DataView, buf: Buffer, i: number, num: number, server: boolean): FdInfo | undefined {
    if (!this.has(i) || this.pLen[i]! < 2) return undefined;
    const o = this.pOff[i]!;
    const end = o + this.pLen[i]!;
    const kind = buf[o]!;
    const aux = buf[o + 1]!;
    const fd: FdInfo = {
      num,
      type: "file",
      typechar: "f",
      name: "",
      ino: undefined,
      dev: undefined,
      isUpperLayer: undefined,
      l4proto: undefined,
      tuple: undefined,
      isServer: undefined,
      connected: undefined,
      openFlags: undefined,
      nameChanged: undefined,
    };
    if (kind === FdKind.Ipv4 || kind === FdKind.Ipv6 || kind === FdKind.Unix || kind === FdKind.SockOther) {
      const t = tuple(view, buf, o + 2, end - o - 2, server);
      fd.tuple = t;
      fd.isServer = server;
      if (kind === FdKind.SockOther) {
        fd.type = t?.family === 16 ? "netlink" : "socket";
        fd.name = "";
      } else if (kind === FdKind.Unix) {
        fd.type = "unix";
        fd.name = t?.dip ?? "";
      } else {
        fd.type = kind === FdKind.Ipv4 ? "ipv4" : "ipv6";
        fd.l4proto = L4[aux] ?? "unknown";
        fd.connected = t !== undefined && t.dport !== 0 && t.sport !== 0;
        fd.name = t === undefined ? "" : tupleName(t);
      }
    } else {
      const name = this.paths.get(buf, o + 2, end);
      fd.name = name;
      fd.isUpperLayer = aux & 1 ? true : aux & 2 ? false : undefined;
      switch (kind) {
        case FdKind.Dir:
          fd.type = "directory";
          break;
        case FdKind.Pipe:
          fd.type = "pipe";
          break;
        case FdKind.Anon:
          fd.type = anonType(name);
          break;
        default:
          fd.type = name.startsWith("/memfd:") ? "memfd" : "file";
      }
    }
    fd.typechar = TYPE_CHARS[fd.type] ?? "o";
    return fd;
  }

  // ------------------------------------------------------------------ handlers

  private eventHandler(spec: EventSpec): Handler {
    const isExec = spec.proc === Proc.Exec;
    const isClone = spec.proc === Proc.Clone;
    const resHdr = resultIsHeader(spec);
    const fixedServer = spec.server === true;
    const inbound = spec.inbound === true;
    const sources: Source[] = [];
    let wire = 0;
    for (let i = 0; i < spec.params.length; i++) {
      const p = spec.params[i]!;
      if (i === 0 && resHdr) sources.push({ from: "res" });
      else if (isExec || isClone) {
        if (p.name === "flags") sources.push(isClone ? { from: "clone_flags" } : { from: "proc", index: ProcBlock.exeFlags });
        else if (p.name === "dirfd") sources.push({ from: "wire", index: ProcBlock.count });
        else if (p.name === "pathname") sources.push({ from: "wire", index: ProcBlock.count + 1 });
        else if (p.name === "filename") sources.push({ from: "wire", index: ProcBlock.count });
        else sources.push(EXEC_SOURCES[p.name] ?? { from: "none" });
      } else sources.push({ from: "wire", index: wire++ });
    }
    // the fd-info extension follows the schema params
    const fdInfoIndex = isExec || isClone ? -1 : wire;
    const fdArg = resultIsFd(spec) ? -1 : spec.params.findIndex((p) => p.name === "fd" && p.kind === ArgKind.Fd);
    const nargs = spec.params.length;
    // an open's fd takes its flags (the flags param, or those the call implies), device and inode
    const isOpen = spec.fd === Fd.Open;
    const openFlagsArg = paramIndexIn(spec, "flags");
    const openFlags = spec.openFlags;
    const devArg = paramIndexIn(spec, "dev");
    const inoArg = paramIndexIn(spec, "ino");
    // the plan as small integers, read per frame without object or string compares
    const from = new Int8Array(nargs);
    const index = new Int32Array(nargs);
    const reader = new Int8Array(nargs);
    for (let i = 0; i < nargs; i++) {
      const s = sources[i]!;
      from[i] = FROM[s.from];
      index[i] = s.from === "wire" || s.from === "proc" ? s.index : s.from === "hdr" ? HDR_FIELDS.indexOf(s.field) : 0;
      reader[i] = READER[spec.params[i]!.kind];
    }
    // each type fills its own array, so its length is set once
    const args: ArgValue[] = new Array<ArgValue>(nargs).fill(undefined);
    return (view, buf, off, size) => {
      const e = this.header(view, buf, off);
      if (!this.params(view, off, size)) return;
      // a receive's orientation depends on the socket: unconnected, the peer is the client
      const server = inbound ? this.unconnectedIp(view, buf, fdInfoIndex) : fixedServer;
      if (isExec || isClone) {
        if (this.nParams < ProcBlock.count) {
          this.counters[DecodeErrorCode.Truncated]!++;
          return;
        }
        e.proc = this.procFacts(view, buf);
        if (isClone) e.cloneFlags = this.num(view, ProcBlock.count, false) ?? 0;
      }
      e.args = args;
      for (let i = 0; i < nargs; i++) {
        switch (from[i]) {
          case From.Res:
            args[i] = e.res;
            break;
          case From.Wire:
            args[i] = this.value(view, buf, index[i]!, reader[i]!, server);
            break;
          case From.Hdr:
            args[i] = hdrField(e, index[i]!);
            break;
          case From.Proc:
            args[i] = procArg(e.proc!, index[i]!);
            break;
          case From.CloneFlags:
            args[i] = e.cloneFlags;
            break;
          default:
            args[i] = undefined;
        }
      }
      if (fdInfoIndex >= 0 && fdInfoIndex < this.nParams) {
        const num = fdArg >= 0 ? ((args[fdArg] as number | undefined) ?? -1) : e.res;
        e.fd = this.fdInfo(view, buf, fdInfoIndex, num, server);
        if (e.fd !== undefined && isOpen) {
          e.fd.openFlags = openFlagsArg >= 0 ? (args[openFlagsArg] as number | undefined) : openFlags;
          e.fd.dev = args[devArg] as number | undefined;
          e.fd.ino = args[inoArg] as number | undefined;
        }
      }
      this.counters["events"]!++;
      this.emit(e);
    };
  }
}

function paramIndexIn(spec: EventSpec, name: string): number {
  return spec.params.findIndex((q) => q.name === name);
}

function procArg(p: ProcFacts, index: number): ArgValue {
  switch (index) {
    case ProcBlock.exe:
      return p.exe;
    case ProcBlock.args:
      return p.args;
    case ProcBlock.cwd:
      return p.cwd;
    case ProcBlock.env:
      return p.env;
    case ProcBlock.exepath:
      return p.exepath;
    case ProcBlock.sid:
      return p.sid;
    case ProcBlock.pgid:
      return p.pgid;
    case ProcBlock.vpgid:
      return p.vpgid;
    case ProcBlock.vpid:
      return p.vpid;
    case ProcBlock.vtid:
      return p.vtid;
    case ProcBlock.tty:
      return p.tty;
    case ProcBlock.capInheritable:
      return p.capInheritable === undefined ? undefined : Number(p.capInheritable);
    case ProcBlock.capPermitted:
      return p.capPermitted === undefined ? undefined : Number(p.capPermitted);
    case ProcBlock.capEffective:
      return p.capEffective === undefined ? undefined : Number(p.capEffective);
    case ProcBlock.exeFlags:
      return p.exeFlags;
    case ProcBlock.exeIno:
      return p.exeIno;
    case ProcBlock.exeCtime:
      return p.exeCtime;
    case ProcBlock.exeMtime:
      return p.exeMtime;
    case ProcBlock.pidnsInitStartTs:
      return p.pidnsInitStartTs;
    default:
      return undefined;
  }
}

function anonType(name: string): string {
  if (name.includes("eventfd")) return "event";
  if (name.includes("signalfd")) return "signalfd";
  if (name.includes("eventpoll")) return "eventpoll";
  if (name.includes("inotify")) return "inotify";
  if (name.includes("timerfd")) return "timerfd";
  if (name.includes("bpf")) return "bpf";
  return "file";
}

/** Unsigned 64-bit little-endian as a number (exact below 2^53). */
export function u64(view: DataView, o: number): number {
  return view.getUint32(o, true) + view.getUint32(o + 4, true) * TWO32;
}

/** Signed 64-bit little-endian as a number. */
export function i64(view: DataView, o: number): number {
  return view.getUint32(o, true) + view.getInt32(o + 4, true) * TWO32;
}
