// SPDX-License-Identifier: Apache-2.0
/**
 * Synthetic probe frames in the wire layout of native-bridge/FORMAT.md, built from the event
 * table's schema: a process starting (clone from both sides, exec), doing one call of each given
 * type, and exiting. The agent runs them through a scratch decoder, state and its rules at start
 * (agent/warmup.ts), so the event path is compiled before the first real event arrives.
 */
import { ArgKind, CLONE_FAMILY, EVENTS, eventByName, type EventSpec, type ParamSpec } from "../../rules/event-table.js";
import { resultIsHeader } from "./decoder.js";
import { CtlReady, CtlStats, CtlType, FdKind, Hdr, HdrFlag, HDR_SIZE, ProcBlock, WIRE_VERSION } from "./layout.js";

const CODE = new Map(EVENTS.map((s) => [s.name, s.code]));

const PROGRAMS: readonly (readonly string[])[] = [
  ["/usr/bin/true"],
  ["/bin/sh", "-c", "echo ready > /tmp/vigil-warmup"],
  ["/usr/bin/cat", "/etc/hostname"],
  ["/usr/bin/curl", "-s", "http://10.0.0.1:8080/health"],
  ["/usr/local/bin/app", "--config", "/etc/app/config.yaml"],
  ["/usr/bin/python3", "-m", "http.server", "8000"],
];
/** Open flags in turn: read-only, write + create, read-write. */
const OPEN_FLAGS = [0, 0o101, 0o2];
const PATHS = [
  "/etc/ld.so.cache",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/etc/hostname",
  "/tmp/vigil-warmup",
  "/var/log/app.log",
  "/proc/self/status",
  "/etc/passwd",
];

/** Appends frames to a growing buffer (exported for tests that record their own scenarios). */
export class FrameWriter {
  private buf = Buffer.alloc(1 << 16);
  private len = 0;
  private start = 0;
  private n = 0;

  private room(k: number): void {
    if (this.len + k <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + k));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  begin(type: number, h: { pid: number; ppid: number; comm: string; res: number; ts: number; startTs: number; flags?: number; uid?: number }): void {
    this.room(HDR_SIZE);
    const b = this.buf;
    const o = (this.start = this.len);
    b.fill(0, o, o + HDR_SIZE);
    b.writeUInt16LE(type, o + Hdr.type);
    b[o + Hdr.version] = WIRE_VERSION;
    b[o + Hdr.flags] = h.flags ?? 0;
    writeU64(b, o + Hdr.ts, h.ts);
    b.writeUInt32LE(h.pid, o + Hdr.pid);
    b.writeUInt32LE(h.pid, o + Hdr.tid);
    b.writeUInt32LE(h.ppid, o + Hdr.ppid);
    b.writeUInt32LE(h.uid ?? 0, o + Hdr.uid);
    b.writeUInt32LE(h.uid ?? 0, o + Hdr.gid);
    b.writeUInt32LE(h.uid ?? 0, o + Hdr.euid);
    b.writeUInt32LE(0xffffffff, o + Hdr.loginuid);
    writeU64(b, o + Hdr.cgroupId, 1);
    writeU64(b, o + Hdr.startTs, h.startTs);
    b.write(h.comm.slice(0, 15), o + Hdr.comm, "latin1");
    writeU64(b, o + Hdr.res, h.res, true);
    this.len = o + HDR_SIZE;
    this.n = 0;
  }

  private param(len: number): number {
    this.room(2 + len);
    this.buf.writeUInt16LE(len, this.len);
    const at = this.len + 2;
    this.len = at + len;
    this.n++;
    return at;
  }

  u32(v: number): void {
    const at = this.param(4); // may grow (replace) the buffer
    this.buf.writeUInt32LE(v >>> 0, at);
  }

  u64(v: number, signed = false): void {
    const at = this.param(8);
    writeU64(this.buf, at, v, signed);
  }

  str(s: string): void {
    const n = Buffer.byteLength(s);
    const at = this.param(n + 1);
    this.buf.write(s, at);
    this.buf[at + n] = 0;
  }

  strList(list: readonly string[]): void {
    this.bytes(Buffer.from(list.map((s) => s + "\0").join("")));
  }

  /** A loader control frame (ready, or stats with no drops) giving the clock offset. */
  control(type: number, bootNs: number): void {
    const stats = type === CtlType.Stats;
    const size = stats ? CtlStats.perCpu + 2 * 8 + 8 : CtlReady.size;
    this.room(size);
    const b = this.buf;
    const o = this.len;
    b.fill(0, o, o + size);
    b.writeUInt32LE(size, o + Hdr.size);
    b.writeUInt16LE(type, o + Hdr.type);
    b[o + Hdr.version] = WIRE_VERSION;
    writeU64(b, o + CtlReady.realtimeNs, 1_700_000_000_000_000_000 + bootNs);
    writeU64(b, o + CtlReady.boottimeNs, bootNs);
    if (stats) {
      b.writeUInt32LE(2, o + CtlStats.ncpus);
      b.writeUInt32LE(40, o + CtlStats.programs);
    } else {
      b.writeUInt32LE(2, o + CtlReady.ncpus);
      b.writeUInt32LE(40, o + CtlReady.programs);
    }
    this.len = o + size;
  }

  bytes(b: Uint8Array): void {
    const at = this.param(b.length);
    this.buf.set(b, at);
  }

  /** An IPv4 tuple (local, remote) or, with `remoteOnly`, a sockaddr. */
  inet(remote: readonly number[], port: number, remoteOnly: boolean, prefix?: readonly number[]): void {
    const p = prefix ?? [];
    const at = this.param(p.length + (remoteOnly ? 7 : 13));
    const b = this.buf;
    b.set(p, at);
    let o = at + p.length;
    b[o++] = 2; // AF_INET
    if (!remoteOnly) {
      b.set([10, 0, 0, 2], o);
      b.writeUInt16LE(40000 + (port % 20000), o + 4);
      o += 6;
    }
    b.set(remote, o);
    b.writeUInt16LE(port, o + 4);
  }

  end(): void {
    this.buf.writeUInt32LE(this.len - this.start, this.start + Hdr.size);
    this.buf.writeUInt16LE(this.n, this.start + Hdr.nparams);
  }

  get size(): number {
    return this.len;
  }

  /** The frames written since the last take; the writer then reuses its buffer. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }
}

function writeU64(b: Buffer, o: number, v: number, signed = false): void {
  if (signed) b.writeBigInt64LE(BigInt(Math.trunc(v)), o);
  else b.writeBigUInt64LE(BigInt(Math.trunc(v)), o);
}

/** A plausible value of one ordinary param. */
function writeParam(w: FrameWriter, spec: EventSpec, q: ParamSpec, k: number, path: string): void {
  switch (q.kind) {
    case ArgKind.Errno:
    case ArgKind.I64:
      w.u64(0, true);
      return;
    case ArgKind.Fd:
      w.u64(q.name === "dirfd" ? -100 : 3 + (k % 5), true);
      return;
    case ArgKind.Pid:
      w.u64(1000 + (k % 300), true);
      return;
    case ArgKind.Uid:
    case ArgKind.Gid:
      w.u32(k % 3 === 0 ? 0 : 1000);
      return;
    case ArgKind.Flags:
      w.u32(q.table === "openFlags" ? OPEN_FLAGS[k % 3]! : k % 4);
      return;
    case ArgKind.Enum:
      w.u32(spec.name === "socket" ? 2 : k % 4);
      return;
    case ArgKind.Mode:
      w.u32(k % 4 === 0 ? 0o755 : 0o644);
      return;
    case ArgKind.U32:
      w.u32(k & 0xff);
      return;
    case ArgKind.U64:
      w.u64(1000 + k);
      return;
    case ArgKind.Path:
    case ArgKind.RelPath:
    case ArgKind.Str:
      w.str(q.name === "name" || q.kind !== ArgKind.Str ? path : "vigil-warmup");
      return;
    case ArgKind.StrList:
      w.strList(["a", "b"]);
      return;
    case ArgKind.Bytes:
      w.bytes(Buffer.from("GET / HTTP/1.1\r\n"));
      return;
    case ArgKind.SockAddr:
      w.inet([10, 0, 0, 1 + (k % 3)], 443, true);
      return;
    case ArgKind.Tuple:
      w.inet([10, 0, 0, 1 + (k % 3)], 443, false);
      return;
  }
}

function callSpecs(types: readonly string[]): EventSpec[] {
  return EVENTS.filter((s) => types.includes(s.name) && s.code !== 0 && !isProcess(s.name));
}

/** Frames per synthetic process for `types`: clone from both sides, exec, one per call, exit. */
export function framesPerProcess(types: readonly string[]): number {
  return 4 + callSpecs(types).length;
}

/**
 * Generates the frames of `processes` synthetic processes, each calling every type in `types`
 * once, in chunks of whole frames of about `chunk` bytes. A chunk's bytes are reused for the next
 * one: consume each before asking for the next.
 */
export function* syntheticFrames(types: readonly string[], processes: number, chunk = 65536): Generator<Buffer> {
  const w = new FrameWriter();
  const calls = callSpecs(types);
  const clones = CLONE_FAMILY.filter((t) => types.includes(t)).map((t) => CODE.get(t)!);
  if (clones.length === 0) clones.push(CODE.get("clone")!);
  const execve = CODE.get("execve")!;
  const exit = CODE.get("procexit")!;
  let ts = 1_000_000_000;
  w.control(CtlType.Ready, ts);
  for (let k = 0; k < processes; k++) {
    if (w.size >= chunk) yield w.take();
    if (k % 100 === 99) w.control(CtlType.Stats, ts);
    const parent = 100 + (k % 50);
    const child = 2000 + (k % 20000);
    const start = ts;
    const argv = PROGRAMS[k % PROGRAMS.length]!;
    const exe = argv[0]!;
    const comm = exe.slice(exe.lastIndexOf("/") + 1);
    const hdr = (pid: number, ppid: number, c: string, res: number, flags = 0) => ({
      pid,
      ppid,
      comm: c,
      res,
      ts: (ts += 1000),
      startTs: pid === child ? start : 500_000_000,
      flags,
      uid: k % 7 === 0 ? 1000 : 0,
    });
    // clone, from the parent (result: the child) and from the child (result 0)
    for (const [pid, ppid, res, flags] of [
      [parent, 1, child, 0],
      [child, parent, 0, HdrFlag.Child],
    ] as const) {
      w.begin(clones[k % clones.length]!, hdr(pid, ppid, "bash", res, flags));
      procBlock(w, ["/usr/bin/bash", "-c", argv.join(" ")], k);
      w.u64(0x1200011); // CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD
      w.end();
    }
    // exec (every eighth one fails)
    const failed = k % 8 === 7;
    w.begin(execve, hdr(child, parent, failed ? "bash" : comm, failed ? -2 : 0));
    procBlock(w, failed ? ["/usr/bin/bash", "-c", argv.join(" ")] : argv, k);
    w.end();
    for (const spec of calls) {
      const path = PATHS[(k + spec.code) % PATHS.length]!;
      const res = spec.name === "connect" && k % 4 === 3 ? -115 : resultIsHeader(spec) && spec.params[0]!.kind === ArgKind.Fd ? 3 + (k % 5) : 0;
      w.begin(spec.code, hdr(child, parent, comm, res));
      for (let i = resultIsHeader(spec) ? 1 : 0; i < spec.params.length; i++) writeParam(w, spec, spec.params[i]!, k, path);
      if (spec.fdInfo === true) {
        if (spec.category === "net") w.inet([10, 0, 0, 1 + (k % 3)], 443, false, [FdKind.Ipv4, 6]);
        else w.bytes(Buffer.from([FdKind.File, k % 2, ...Buffer.from(path), 0]));
      }
      w.end();
    }
    w.begin(exit, hdr(child, parent, comm, 0));
    for (const q of EVENTS[exit]!.params) writeParam(w, EVENTS[exit]!, q, 0, "");
    w.end();
  }
  if (w.size > 0) yield w.take();
}

function isProcess(name: string): boolean {
  return eventByName(name)?.proc !== undefined;
}

/** Explicit values of a process block, for a recorded scenario (see {@link writeProcBlock}). */
export interface ProcBlockValues {
  exe: string;
  args: readonly string[];
  cwd: string;
  env: readonly string[];
  exepath: string;
  cgroupPath: string;
  sid: number;
  pgid: number;
  vpgid: number;
  vpid: number;
  vtid: number;
  egid: number;
  tty: number;
  capInheritable: number;
  capPermitted: number;
  capEffective: number;
  exeFlags: number;
  exeIno: number;
  exeCtime: number;
  exeMtime: number;
  pidnsInitStartTs: number;
}

/** Writes a process block with the given values, in FORMAT.md order. */
export function writeProcBlock(w: FrameWriter, p: ProcBlockValues): void {
  for (let i = 0; i < ProcBlock.count; i++) {
    switch (i) {
      case ProcBlock.exe:
        w.str(p.exe);
        break;
      case ProcBlock.args:
        w.strList(p.args);
        break;
      case ProcBlock.cwd:
        w.str(p.cwd);
        break;
      case ProcBlock.env:
        w.strList(p.env);
        break;
      case ProcBlock.exepath:
        w.str(p.exepath);
        break;
      case ProcBlock.cgroupPath:
        w.str(p.cgroupPath);
        break;
      case ProcBlock.sid:
        w.u32(p.sid);
        break;
      case ProcBlock.pgid:
        w.u32(p.pgid);
        break;
      case ProcBlock.vpgid:
        w.u32(p.vpgid);
        break;
      case ProcBlock.vpid:
        w.u32(p.vpid);
        break;
      case ProcBlock.vtid:
        w.u32(p.vtid);
        break;
      case ProcBlock.egid:
        w.u32(p.egid);
        break;
      case ProcBlock.tty:
        w.u32(p.tty);
        break;
      case ProcBlock.capInheritable:
        w.u64(p.capInheritable);
        break;
      case ProcBlock.capPermitted:
        w.u64(p.capPermitted);
        break;
      case ProcBlock.capEffective:
        w.u64(p.capEffective);
        break;
      case ProcBlock.exeFlags:
        w.u32(p.exeFlags);
        break;
      case ProcBlock.exeIno:
        w.u64(p.exeIno);
        break;
      case ProcBlock.exeCtime:
        w.u64(p.exeCtime);
        break;
      case ProcBlock.exeMtime:
        w.u64(p.exeMtime);
        break;
      case ProcBlock.pidnsInitStartTs:
        w.u64(p.pidnsInitStartTs);
        break;
      default:
        throw new Error(`process block param ${i} has no value`);
    }
  }
}

/** The 21 params of a process block (FORMAT.md). */
function procBlock(w: FrameWriter, argv: readonly string[], k: number): void {
  for (let i = 0; i < ProcBlock.count; i++) {
    switch (i) {
      case ProcBlock.exe:
      case ProcBlock.exepath:
        w.str(argv[0]!);
        break;
      case ProcBlock.args:
        w.strList(argv.slice(1));
        break;
      case ProcBlock.env:
        w.strList([]);
        break;
      case ProcBlock.cwd:
        w.str(k % 2 === 0 ? "/" : "/root");
        break;
      case ProcBlock.cgroupPath:
        w.str(k % 3 === 0 ? "/kubepods/besteffort/pod1234/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" : "/");
        break;
      case ProcBlock.capInheritable:
      case ProcBlock.capPermitted:
      case ProcBlock.capEffective:
        w.u64(k % 5 === 0 ? 0 : 0x1ffffffffff);
        break;
      case ProcBlock.exeFlags:
        w.u32(k % 9 === 0 ? 3 : 8);
        break;
      case ProcBlock.exeIno:
      case ProcBlock.exeCtime:
      case ProcBlock.exeMtime:
      case ProcBlock.pidnsInitStartTs:
        w.u64(1_700_000_000_000_000_000 / 1e3 + k);
        break;
      case ProcBlock.tty:
        w.u32(k % 4 === 0 ? 34816 : 0);
        break;
      default:
        w.u32(100 + (k % 50));
    }
  }
}
