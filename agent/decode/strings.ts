// SPDX-License-Identifier: Apache-2.0
/**
 * Strings out of frame bytes, with a cache for the ones that repeat.
 *
 * Most strings on the wire repeat from event to event: a thread's comm, the path a process keeps
 * opening, the fd a dup copies. Slicing a new JS string for each costs a native call, a young-heap
 * allocation, and later a fresh hash in every `Set`/`Map` lookup the rules make on it. The cache
 * is direct-mapped: the bytes are hashed (FNV-1a) in the same pass that finds their NUL, the slot
 * keeps a copy of the bytes and the string made from them, and a hit hands back that same string
 * after comparing the bytes. Only ASCII strings up to `maxLen` bytes are cached; others are
 * sliced as before (latin1 for ASCII, UTF-8 otherwise). A miss replaces the slot, so memory is
 * fixed: `slots × maxLen` bytes plus the strings held.
 */

/** Node's Buffer method behind `toString("latin1")`, called without the argument checks. */
export const latin1Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString("latin1", start, end);
  };

/** A string up to the first NUL (or `end`), not cached. */
export function cstr(buf: Buffer, start: number, end: number): string {
  let p = start;
  let bits = 0;
  for (; p < end; p++) {
    const c = buf[p]!;
    if (c === 0) break;
    bits |= c;
  }
  // ASCII (the usual path, comm, file name) reads the same as latin1, which decodes faster
  return bits < 0x80 ? latin1Slice.call(buf, start, p) : buf.toString("utf8", start, p);
}

/** A direct-mapped cache of short NUL-terminated byte strings. */
export class StringCache {
  private readonly mask: number;
  private readonly bytes: Uint8Array;
  private readonly lens: Int32Array;
  private readonly strs: string[];
  hits = 0;
  misses = 0;

  /** `slots` is rounded up to a power of two. */
  constructor(
    slots: number,
    private readonly maxLen: number,
  ) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.mask = n - 1;
    this.bytes = new Uint8Array(n * maxLen);
    this.lens = new Int32Array(n).fill(-1);
    this.strs = new Array<string>(n).fill("");
  }

  /** The string of `buf[start, end)` up to its first NUL: the cached one when the bytes match. */
  get(buf: Buffer, start: number, end: number): string {
    let p = start;
    let bits = 0;
    let h = 0x811c9dc5;
    for (; p < end; p++) {
      const c = buf[p]!;
      if (c === 0) break;
      bits |= c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    if (bits >= 0x80) return buf.toString("utf8", start, p);
    const len = p - start;
    if (len > this.maxLen) return latin1Slice.call(buf, start, p);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const base = slot * this.maxLen;
    const bytes = this.bytes;
    if (this.lens[slot] === len) {
      let i = 0;
      while (i < len && bytes[base + i] === buf[start + i]) i++;
      if (i === len) {
        this.hits++;
        return this.strs[slot]!;
      }
    }
    this.misses++;
    const s = latin1Slice.call(buf, start, p);
    for (let i = 0; i < len; i++) bytes[base + i] = buf[start + i]!;
    this.lens[slot] = len;
    this.strs[slot] = s;
    return s;
  }
}
