// SPDX-License-Identifier: Apache-2.0
/**
 * Framing: turns an arbitrary sequence of byte chunks into whole frames. An explicit state
 * machine (header → body, or discard) that accepts any chunk boundary, rejects oversize and
 * undersize frames by counting them, and never throws.
 *
 * Frames inside a chunk are handed out in place (no copy); only a frame split across chunks is
 * assembled, once, from the tail of one chunk and the head of the next (the rest of the chunk is
 * not copied).
 */
import { DecodeErrorCode } from "./errors.js";
import { HDR_SIZE, MAX_FRAME, WIRE_VERSION } from "./layout.js";

/** Receives one whole frame: `size` bytes at `off` in `buf` (`view` is a DataView on `buf`). */
export type FrameHandler = (view: DataView, buf: Buffer, off: number, size: number) => void;

/** Oversize frames up to this size are skipped by their size; beyond it the size is not trusted. */
const MAX_SKIP = 16 << 20;
/** Bytes needed to judge a header: size, type, version. */
const PEEK = 8;

const State = {
  Header: 0,
  Discard: 1,
} as const;
type State = (typeof State)[keyof typeof State];

/** The framing state machine. */
export class FrameReader {
  private state: State = State.Header;
  private discardLeft = 0;
  private pending: Buffer = Buffer.alloc(0);
  private resyncing = false;
  private readonly maxFrame: number;
  /** Counters by {@link DecodeErrorCode} plus `frames` and `bytes`. */
  readonly counters: Record<string, number> = {
    frames: 0,
    bytes: 0,
    [DecodeErrorCode.Undersize]: 0,
    [DecodeErrorCode.Oversize]: 0,
    [DecodeErrorCode.BadVersion]: 0,
    [DecodeErrorCode.ResyncBytes]: 0,
  };

  constructor(maxFrame: number = MAX_FRAME) {
    this.maxFrame = maxFrame;
  }

  /** Feeds one chunk; calls `onFrame` for every frame completed by it. */
  push(chunk: Uint8Array, onFrame: FrameHandler): void {
    if (chunk.length === 0) return;
    this.counters["bytes"]! += chunk.length;
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.state === State.Discard) {
      const n = Math.min(this.discardLeft, data.length);
      this.discardLeft -= n;
      if (this.discardLeft > 0) return;
      this.state = State.Header;
      data = data.subarray(n);
    }
    if (this.pending.length > 0) {
      const split = this.completePending(data, onFrame);
      if (split < 0) return;
      if (split > 0) data = data.subarray(split);
      else {
        // the held bytes do not start a valid frame: scan them together with the chunk
        data = Buffer.concat([this.pending, data]);
        this.pending = Buffer.alloc(0);
      }
    }
    this.scan(data, onFrame);
  }

  /**
   * Finishes the frame split across the previous chunk and this one, copying only that frame's
   * bytes (not the whole chunk). Returns the bytes of `data` it used; -1 when the chunk was all
   * held (the frame is still incomplete); 0 when the held bytes do not start a valid frame.
   */
  private completePending(data: Buffer, onFrame: FrameHandler): number {
    const held = this.pending;
    if (held.length + data.length < PEEK) {
      this.pending = Buffer.concat([held, data]);
      return -1;
    }
    const hdr = held.length >= PEEK ? held : Buffer.concat([held, data.subarray(0, PEEK - held.length)]);
    const size = hdr.readUInt32LE(0);
    if (hdr[6] !== WIRE_VERSION || size < HDR_SIZE || size > this.maxFrame || size <= held.length) return 0;
    const need = size - held.length;
    if (data.length < need) {
      this.pending = Buffer.concat([held, data]);
      return -1;
    }
    this.pending = Buffer.alloc(0);
    this.scan(Buffer.concat([held, data.subarray(0, need)], size), onFrame);
    return need;
  }

  /** Hands out the whole frames of `data`; holds a trailing partial frame in `pending`. */
  private scan(data: Buffer, onFrame: FrameHandler): void {
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    const end = data.length;
    let off = 0;
    while (end - off >= PEEK) {
      const size = view.getUint32(off, true);
      const version = data[off + 6];
      let bad: DecodeErrorCode | undefined;
      if (version !== WIRE_VERSION) bad = DecodeErrorCode.BadVersion;
      else if (size < HDR_SIZE) bad = DecodeErrorCode.Undersize;
      else if (size > this.maxFrame) bad = DecodeErrorCode.Oversize;
      if (bad !== undefined) {
        if (bad === DecodeErrorCode.Oversize && size <= MAX_SKIP && !this.resyncing) {
          // a well-formed but too large frame: skip it whole and stay in step
          this.counters[bad]!++;
          const n = Math.min(size, end - off);
          off += n;
          if (n < size) {
            this.state = State.Discard;
            this.discardLeft = size - n;
            return;
          }
          continue;
        }
        // the stream is out of step: count the bad header once, then slide byte by byte
        if (!this.resyncing) this.counters[bad]!++;
        this.resyncing = true;
        this.counters[DecodeErrorCode.ResyncBytes]!++;
        off++;
        continue;
      }
      if (end - off < size) break;
      this.resyncing = false;
      this.counters["frames"]!++;
      onFrame(view, data, off, size);
      off += size;
    }
    if (off < end) this.pending = Buffer.from(data.subarray(off));
  }

  /** Bytes held waiting for the rest of a frame. */
  pendingBytes(): number {
    return this.pending.length;
  }

  /** Drops any partial frame (e.g. when the producer restarts); returns the bytes dropped. */
  reset(): number {
    const n = this.pending.length + (this.state === State.Discard ? this.discardLeft : 0);
    this.pending = Buffer.alloc(0);
    this.state = State.Header;
    this.discardLeft = 0;
    this.resyncing = false;
    return n;
  }
}
