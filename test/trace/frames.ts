// SPDX-License-Identifier: Apache-2.0
/**
 * A small, independent reader of the wire format (native-bridge/events.h) for the tracer tests:
 * it checks every frame's sizes strictly, so a malformed frame from vigil-trace fails the test.
 */
import { createServer, type Server, type Socket } from "node:net";

export const HDR = 88;
export const T = {
  EXECVE: 1,
  OPENAT: 4,
  CLONE: 29,
  CLONE3: 30,
  FORK: 31,
  VFORK: 32,
  PROCEXIT: 33,
  CTL_READY: 0x8001,
  CTL_STATS: 0x8002,
} as const;
export const F_CHILD = 0x02;

export interface Frame {
  size: number;
  type: number;
  version: number;
  flags: number;
  ts: bigint;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  loginuid: number;
  cgroupId: bigint;
  startTs: bigint;
  comm: string;
  res: bigint;
  params: (Buffer | undefined)[];
  raw: Buffer;
}

/** Parses a concatenation of frames; throws on any inconsistency. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 4) {
    const size = buf.readUInt32LE(off);
    if (size < HDR || size > 65536) throw new Error(`bad frame size ${size} at ${off}`);
    if (buf.length - off < size) break;
    const f = buf.subarray(off, off + size);
    const type = f.readUInt16LE(4);
    const nparams = f.readUInt16LE(46);
    const params: (Buffer | undefined)[] = [];
    if (type < 0x8000) {
      let p = HDR;
      for (let i = 0; i < nparams; i++) {
        if (p + 2 > size) throw new Error(`param ${i} header past the frame end (type ${type})`);
        const len = f.readUInt16LE(p);
        if (p + 2 + len > size) throw new Error(`param ${i} past the frame end (type ${type})`);
        params.push(len === 0 ? undefined : f.subarray(p + 2, p + 2 + len));
        p += 2 + len;
      }
      if (p !== size) throw new Error(`frame of type ${type}: params end at ${p}, size ${size}`);
    }
    const comm = f.subarray(64, 80);
    const z = comm.indexOf(0);
    frames.push({
      size,
      type,
      version: f.readUInt8(6),
      flags: f.readUInt8(7),
      ts: f.readBigUInt64LE(8),
      pid: f.readUInt32LE(16),
      tid: f.readUInt32LE(20),
      ppid: f.readUInt32LE(24),
      uid: f.readUInt32LE(28),
      gid: f.readUInt32LE(32),
      euid: f.readUInt32LE(36),
      loginuid: f.readUInt32LE(40),
      cgroupId: f.readBigUInt64LE(48),
      startTs: f.readBigUInt64LE(56),
      comm: comm.subarray(0, z < 0 ? 16 : z).toString("latin1"),
      res: f.readBigInt64LE(80),
      params,
      raw: Buffer.from(f),
    });
    off += size;
  }
  return { frames, rest: buf.subarray(off) };
}

/** A NUL-terminated string param. */
export function str(p: Buffer | undefined): string | undefined {
  if (!p) return undefined;
  const z = p.indexOf(0);
  return p.subarray(0, z < 0 ? p.length : z).toString("latin1");
}

/** fd info param: kind byte, aux byte, path. */
export function fdinfo(p: Buffer | undefined): { kind: number; path: string } | undefined {
  if (!p || p.length < 2) return undefined;
  return { kind: p[0] as number, path: str(p.subarray(2)) ?? "" };
}

export function u32(p: Buffer | undefined): number | undefined {
  return p && p.length >= 4 ? p.readUInt32LE(0) : undefined;
}

export function u64(p: Buffer | undefined): bigint | undefined {
  return p && p.length >= 8 ? p.readBigUInt64LE(0) : undefined;
}

/** A unix socket server that collects frames from every connection. */
export class FrameListener {
  readonly frames: Frame[] = [];
  readonly connections: Frame[][] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  errors: Error[] = [];

  constructor(readonly path: string) {}

  listen(): Promise<void> {
    this.server = createServer((s) => {
      this.sockets.add(s);
      const conn: Frame[] = [];
      this.connections.push(conn);
      let pending = Buffer.alloc(0);
      s.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        try {
          const r = parseFrames(pending);
          pending = Buffer.from(r.rest);
          this.frames.push(...r.frames);
          conn.push(...r.frames);
        } catch (err) {
          this.errors.push(err as Error);
          s.destroy();
        }
      });
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => undefined);
    });
    return new Promise((res) => this.server?.listen(this.path, res));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }

  async waitFor(pred: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > end) throw new Error("frame not seen in time");
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
