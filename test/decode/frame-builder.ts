// SPDX-License-Identifier: Apache-2.0
/** Builds wire frames (native-bridge/FORMAT.md) for decoder tests. */
import { Hdr, HDR_SIZE, WIRE_VERSION } from "../../agent/decode/layout.js";

export type Param = { u32: number } | { u64: number | bigint } | { i64: number } | { str: string } | { bytes: Uint8Array } | { none: true };

export interface FrameSpec {
  type: number;
  pid?: number;
  tid?: number;
  ppid?: number;
  uid?: number;
  comm?: string;
  res?: number;
  ts?: number;
  startTs?: number;
  cgroupId?: number;
  flags?: number;
  version?: number;
  params?: Param[];
  /** Overrides the size field (for corrupt frames). */
  sizeField?: number;
  nparamsField?: number;
}

function paramBytes(p: Param): Buffer {
  if ("none" in p) return Buffer.alloc(0);
  if ("u32" in p) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(p.u32 >>> 0);
    return b;
  }
  if ("u64" in p) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(p.u64));
    return b;
  }
  if ("i64" in p) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(p.i64));
    return b;
  }
  if ("str" in p) return Buffer.concat([Buffer.from(p.str, "utf8"), Buffer.from([0])]);
  return Buffer.from(p.bytes);
}

/** One frame as bytes. */
export function frame(s: FrameSpec): Buffer {
  const parts = (s.params ?? []).map((p) => {
    const body = paramBytes(p);
    const len = Buffer.alloc(2);
    len.writeUInt16LE(body.length);
    return Buffer.concat([len, body]);
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(HDR_SIZE);
  h.writeUInt32LE(s.sizeField ?? HDR_SIZE + body.length, Hdr.size);
  h.writeUInt16LE(s.type, Hdr.type);
  h.writeUInt8(s.version ?? WIRE_VERSION, Hdr.version);
  h.writeUInt8(s.flags ?? 0, Hdr.flags);
  h.writeBigUInt64LE(BigInt(s.ts ?? 1_000_000_000), Hdr.ts);
  h.writeUInt32LE(s.pid ?? 100, Hdr.pid);
  h.writeUInt32LE(s.tid ?? s.pid ?? 100, Hdr.tid);
  h.writeUInt32LE(s.ppid ?? 1, Hdr.ppid);
  h.writeUInt32LE(s.uid ?? 0, Hdr.uid);
  h.writeUInt32LE(0xffffffff, Hdr.loginuid);
  h.writeUInt16LE(s.nparamsField ?? parts.length, Hdr.nparams);
  h.writeBigUInt64LE(BigInt(s.cgroupId ?? 1), Hdr.cgroupId);
  h.writeBigUInt64LE(BigInt(s.startTs ?? 500_000_000), Hdr.startTs);
  h.write((s.comm ?? "cat").slice(0, 15), Hdr.comm, "latin1");
  h.writeBigInt64LE(BigInt(s.res ?? 0), Hdr.res);
  return Buffer.concat([h, body]);
}

/** An openat exit frame: dirfd, name, flags, mode, dev, ino, fd info (file). */
export function openatFrame(name: string, fd = 3, pid = 100): Buffer {
  const info = Buffer.concat([Buffer.from([1, 0]), Buffer.from(name + "\0", "utf8")]);
  return frame({
    type: 4,
    pid,
    res: fd,
    params: [{ i64: -100 }, { str: name }, { u32: 0 }, { u32: 0 }, { u32: 0xfe00000 }, { u64: 1234 }, { bytes: info }],
  });
}
