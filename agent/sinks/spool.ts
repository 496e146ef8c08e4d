// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's on-disk spool: every alert (and capture) is appended here before any network
 * send, and deleted only once the collector acknowledged it.
 *
 * Layout: `seg-<16 digits>.vsp` segment files, append-only, rolled at `segmentBytes`, plus a
 * `cursor` file holding the position up to which everything was acknowledged (written to a temp
 * file and renamed, so it is always whole). A record is
 *
 *     magic "VGS1" (4) | payload length u32 LE (4) | CRC-32 of payload u32 LE (4) | payload
 *     payload = kind u8 (1 alert, 2 capture) | msgpack body
 *
 * Durability (fsync policy): with `fsync: "batch"` (the default) each `append` call writes its
 * records with one write and then `fdatasync`s the segment before returning, so an alert the
 * sink accepted survives a crash of the process and of the machine. `"none"` leaves flushing to
 * the kernel (survives a process crash, not a power loss). The cursor is renamed into place
 * after each acknowledgement without an fsync: after a power loss it may lag, which only causes
 * a resend, and the collector stores idempotently by alert ID.
 *
 * Recovery: on open every segment is scanned. A torn record at the end of the newest segment
 * (a crash mid-write) is truncated away. A record whose magic, length or CRC is wrong anywhere
 * else is skipped up to the next valid record (resynchronising on the magic); the skipped
 * bytes are counted and reported, and every other record is still delivered.
 *
 * Bounds: `maxBytes` caps the segments on disk; an append that would pass it is dropped
 * (counted) and the caller is told so. Segments wholly before the cursor are deleted.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import type { Logger } from "pino";
import { SinkError } from "./errors.js";
import type { Alert } from "../../proto/index.js";

/** One spooled item. */
export type SpoolRecord = { kind: "alert"; alert: Alert } | { kind: "capture"; alertId: string; data: Uint8Array; eventCount: number; containerId: string };

/** A position in the spool: segment number and byte offset. */
export interface SpoolPosition {
  seg: number;
  off: number;
}

/** A corrupted region that was skipped. */
export interface SpoolCorruption {
  segment: string;
  offset: number;
  bytes: number;
}

/** Options of {@link Spool}. */
export interface SpoolOptions {
  dir: string;
  /** Cap on the segment files on disk. Default 256 MiB. */
  maxBytes?: number;
  /** Segment roll size. Default min(8 MiB, maxBytes / 4). */
  segmentBytes?: number;
  /** `batch` (default): fdatasync after each append; `none`: let the kernel flush. */
  fsync?: "batch" | "none";
  logger: Logger;
}

const MAGIC = 0x31534756; // "VGS1" read as u32 LE
const MAGIC_BYTES = Buffer.from("VGS1", "latin1");
const HEADER = 12;
/** Largest payload accepted on read; a larger length field means corruption. */
const MAX_RECORD = 64 * 1024 * 1024;
const KIND_ALERT = 1;
const KIND_CAPTURE = 2;

interface Segment {
  seq: number;
  path: string;
  size: number;
}

const segName = (seq: number) => `seg-${String(seq).padStart(16, "0")}.vsp`;

/** The append-only, CRC-checked, bounded spool. */
export class Spool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly fsync: "batch" | "none";
  private readonly log: Logger;
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  private segments: Segment[] = [];
  private writeFd: number | undefined;
  private committed: SpoolPosition = { seg: 0, off: 0 };
  private totalBytes = 0;
  private dropBurst = 0;
  private readonly reportedCorrupt = new Set<string>();
  readonly counters = {
    appended: 0,
    dropped_full: 0,
    corrupt_regions: 0,
    corrupt_bytes: 0,
    torn_tail_bytes: 0,
    undecodable: 0,
    segments_deleted: 0,
    bytes: 0,
  };

  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this.segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(this.maxBytes / 4)));
    this.fsync = opts.fsync ?? "batch";
    this.log = opts.logger;
  }

  /** Opens (creating the directory) and recovers; returns the corrupted regions found. */
  open(): SpoolCorruption[] {
    try {
      mkdirSync(this.dir, { recursive: true });
      const seqs = readdirSync(this.dir)
        .map((f) => /^seg-(\d{16})\.vsp$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      this.segments = seqs.map((seq) => {
        const path = join(this.dir, segName(seq));
        const fd = openSync(path, "r");
        const size = fstatSync(fd).size;
        closeSync(fd);
        return { seq, path, size };
      });
      this.committed = this.readCursor();
      const found: SpoolCorruption[] = [];
      for (let i = 0; i < this.segments.length; i++) {
        const s = this.segments[i]!;
        if (s.seq < this.committed.seg) continue;
        const last = i === this.segments.length - 1;
        const start = s.seq === this.committed.seg ? Math.min(this.committed.off, s.size) : 0;
        this.scanSegment(s, start, last, found);
      }
      // segments wholly acknowledged before a crash may still be there
      this.deleteBefore(this.committed.seg);
      const lastSeg = this.segments[this.segments.length - 1];
      if (lastSeg === undefined || lastSeg.size >= this.segmentBytes) this.roll();
      else this.writeFd = openSync(lastSeg.path, "a");
      this.recount();
      for (const c of found) this.reportCorruption(c);
      return found;
    } catch (err) {
      if (err instanceof SinkError) throw err;
      throw new SinkError("spool_io", `cannot open the spool in ${this.dir}`, { cause: err });
    }
  }

  private readCursor(): SpoolPosition {
    try {
      const o = JSON.parse(readFileSync(join(this.dir, "cursor"), "utf8")) as Partial<SpoolPosition>;
      if (Number.isSafeInteger(o.seg) && Number.isSafeInteger(o.off) && o.seg! >= 0 && o.off! >= 0) return { seg: o.seg!, off: o.off! };
      this.log.warn("spool cursor unreadable, resending from the oldest segment");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.log.warn({ err }, "spool cursor unreadable, resending from the oldest segment");
    }
    return { seg: this.segments[0]?.seq ?? 0, off: 0 };
  }

  /** Validates a segment from `start`; truncates a torn tail on the newest one. */
  private scanSegment(s: Segment, start: number, newest: boolean, found: SpoolCorruption[]): void {
    const fd = openSync(s.path, newest ? "r+" : "r");
    try {
      let off = start;
      const buf = Buffer.allocUnsafe(1024 * 1024);
      while (off < s.size) {
        const r = this.parseAt(fd, s, off, buf);
        if (r.kind === "ok") off = r.next;
        else if (r.kind === "torn" && newest) {
          this.counters.torn_tail_bytes += s.size - off;
          this.log.warn({ segment: segName(s.seq), offset: off, bytes: s.size - off }, "spool: torn record at the end truncated");
          ftruncateSync(fd, off);
          s.size = off;
        } else {
          const next = r.kind === "corrupt" ? r.resync : s.size;
          found.push({ segment: segName(s.seq), offset: off, bytes: next - off });
          off = next;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Checks the record at `off` (reading its header and payload). `torn`: the record runs past
   * the end of the segment (a write cut short); `corrupt`: bad magic/length/CRC, `resync` is the
   * offset of the next plausible record (or the segment size).
   */
  private parseAt(
    fd: number,
    s: Segment,
    off: number,
    scratch: Buffer,
  ): { kind: "ok"; next: number; payload: Buffer } | { kind: "torn" } | { kind: "corrupt"; resync: number } {
    if (s.size - off < HEADER) return { kind: "torn" };
    const h = Buffer.allocUnsafe(HEADER);
    readSync(fd, h, 0, HEADER, off);
    const len = h.readUInt32LE(4);
    if (h.readUInt32LE(0) === MAGIC && len > 0 && len <= MAX_RECORD) {
      if (off + HEADER + len > s.size) {
        // a length past EOF is a torn write on the newest segment; elsewhere, corruption
        return this.isTornCandidate(fd, s, off, scratch) ? { kind: "torn" } : { kind: "corrupt", resync: this.resync(fd, s, off + 1, scratch) };
      }
      const payload = len <= scratch.length ? scratch.subarray(0, len) : Buffer.allocUnsafe(len);
      readSync(fd, payload, 0, len, off + HEADER);
      if (crc32(payload) === h.readUInt32LE(8)) return { kind: "ok", next: off + HEADER + len, payload };
    }
    return { kind: "corrupt", resync: this.resync(fd, s, off + 1, scratch) };
  }

  /** A record running past EOF is torn only if no valid record starts after it. */
  private isTornCandidate(fd: number, s: Segment, off: number, scratch: Buffer): boolean {
    return this.resync(fd, s, off + 1, scratch) >= s.size;
  }

  /** The offset of the next record with a valid magic, length and CRC at or after `from`. */
  private resync(fd: number, s: Segment, from: number, scratch: Buffer): number {
    let pos = from;
    while (pos < s.size) {
      const n = readSync(fd, scratch, 0, Math.min(scratch.length, s.size - pos), pos);
      if (n <= 0) break;
      let i = scratch.subarray(0, n).indexOf(MAGIC_BYTES);
      while (i >= 0) {
        const at = pos + i;
        if (this.validAt(fd, s, at)) return at;
        const j = scratch.subarray(i + 1, n).indexOf(MAGIC_BYTES);
        i = j < 0 ? -1 : i + 1 + j;
      }
      if (pos + n >= s.size) break;
      pos += n - (MAGIC_BYTES.length - 1);
    }
    return s.size;
  }

  private validAt(fd: number, s: Segment, at: number): boolean {
    if (s.size - at < HEADER) return false;
    const h = Buffer.allocUnsafe(HEADER);
    readSync(fd, h, 0, HEADER, at);
    const len = h.readUInt32LE(4);
    if (h.readUInt32LE(0) !== MAGIC || len === 0 || len > MAX_RECORD || at + HEADER + len > s.size) return false;
    const p = Buffer.allocUnsafe(len);
    readSync(fd, p, 0, len, at + HEADER);
    return crc32(p) === h.readUInt32LE(8);
  }

  private reportCorruption(c: SpoolCorruption): void {
    const key = `${c.segment}:${c.offset}`;
    if (this.reportedCorrupt.has(key)) return;
    this.reportedCorrupt.add(key);
    this.counters.corrupt_regions++;
    this.counters.corrupt_bytes += c.bytes;
    this.log.error({ segment: c.segment, offset: c.offset, bytes: c.bytes }, "spool: corrupted region skipped, the rest is recovered");
  }

  private roll(): void {
    if (this.writeFd !== undefined) {
      if (this.fsync === "batch") fdatasyncSync(this.writeFd);
      closeSync(this.writeFd);
    }
    // with no segment left, start after the cursor's so that its offset cannot skip new records
    const seq = (this.segments[this.segments.length - 1]?.seq ?? this.committed.seg) + 1;
    const path = join(this.dir, segName(seq));
    this.writeFd = openSync(path, "a");
    this.segments.push({ seq, path, size: 0 });
  }

  private recount(): void {
    let t = 0;
    for (const s of this.segments) t += s.size;
    this.totalBytes = t;
    this.counters.bytes = t;
  }

  private encode(r: SpoolRecord): Buffer {
    const body =
      r.kind === "alert"
        ? this.packr.pack(r.alert)
        : this.packr.pack({ alertId: r.alertId, data: r.data, eventCount: r.eventCount, containerId: r.containerId });
    const out = Buffer.allocUnsafe(HEADER + 1 + body.length);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(1 + body.length, 4);
    out[HEADER] = r.kind === "alert" ? KIND_ALERT : KIND_CAPTURE;
    body.copy(out, HEADER + 1);
    out.writeUInt32LE(crc32(out.subarray(HEADER)), 8);
    return out;
  }

  /**
   * Appends records (one write, then the fsync policy). Records that do not fit under
   * `maxBytes` are dropped, counted and logged once per burst; returns how many were kept.
   */
  append(records: readonly SpoolRecord[]): { kept: number; dropped: number } {
    if (this.writeFd === undefined) throw new SinkError("shut_down", "spool is not open");
    const parts: Buffer[] = [];
    let size = 0;
    let dropped = 0;
    for (const r of records) {
      const b = this.encode(r);
      if (this.totalBytes + size + b.length > this.maxBytes) {
        dropped++;
        continue;
      }
      parts.push(b);
      size += b.length;
    }
    if (dropped > 0) {
      this.counters.dropped_full += dropped;
      if (this.dropBurst === 0)
        this.log.error(
          { dropped, spoolBytes: this.totalBytes, maxBytes: this.maxBytes, dir: this.dir },
          "spool full: dropping alerts until the collector catches up",
        );
      this.dropBurst += dropped;
    } else if (this.dropBurst > 0 && parts.length > 0) {
      this.log.warn({ dropped: this.dropBurst }, "spool has room again; alerts dropped while it was full");
      this.dropBurst = 0;
    }
    if (parts.length === 0) return { kept: 0, dropped };
    let seg = this.segments[this.segments.length - 1]!;
    if (seg.size > 0 && seg.size + size > this.segmentBytes) {
      this.roll();
      seg = this.segments[this.segments.length - 1]!;
    }
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    try {
      let w = 0;
      while (w < buf.length) w += writeSync(this.writeFd!, buf, w, buf.length - w);
      if (this.fsync === "batch") fdatasyncSync(this.writeFd!);
    } catch (err) {
      throw new SinkError("spool_io", "spool write failed", { cause: err });
    }
    seg.size += size;
    this.totalBytes += size;
    this.counters.bytes = this.totalBytes;
    this.counters.appended += parts.length;
    return { kept: parts.length, dropped };
  }

  /** The acknowledged position (where a sender starts after a restart). */
  get cursor(): SpoolPosition {
    return { ...this.committed };
  }

  /** Bytes on disk. */
  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * Reads up to `maxRecords` records (about `maxBytes`) from `pos`. Corrupted regions on the way
   * are skipped and reported. `end` is where the next read starts; `empty` when nothing is left.
   */
  read(pos: SpoolPosition, maxRecords: number, maxBytes: number): { records: SpoolRecord[]; end: SpoolPosition } {
    const records: SpoolRecord[] = [];
    let { seg, off } = pos;
    let bytes = 0;
    const scratch = Buffer.allocUnsafe(256 * 1024);
    while (records.length < maxRecords && bytes < maxBytes) {
      let idx = this.segments.findIndex((s) => s.seq >= seg);
      if (idx < 0) break;
      let s = this.segments[idx]!;
      if (s.seq !== seg) {
        seg = s.seq;
        off = 0;
      }
      if (off >= s.size) {
        if (idx === this.segments.length - 1) break;
        idx++;
        s = this.segments[idx]!;
        seg = s.seq;
        off = 0;
        continue;
      }
      const fd = openSync(s.path, "r");
      try {
        while (off < s.size && records.length < maxRecords && bytes < maxBytes) {
          const r = this.parseAt(fd, s, off, scratch);
          if (r.kind === "ok") {
            const rec = this.decode(r.payload);
            if (rec) records.push(rec);
            bytes += r.next - off;
            off = r.next;
          } else {
            const next = r.kind === "corrupt" ? r.resync : s.size;
            this.reportCorruption({ segment: segName(s.seq), offset: off, bytes: next - off });
            off = next;
          }
        }
      } finally {
        closeSync(fd);
      }
    }
    return { records, end: { seg, off } };
  }

  private decode(payload: Buffer): SpoolRecord | undefined {
    try {
      const body = this.packr.unpack(payload.subarray(1)) as Record<string, unknown>;
      if (payload[0] === KIND_ALERT) return { kind: "alert", alert: body as unknown as Alert };
      if (payload[0] === KIND_CAPTURE)
        return {
          kind: "capture",
          alertId: String(body["alertId"]),
          data: body["data"] as Uint8Array,
          eventCount: Number(body["eventCount"]),
          containerId: String(body["containerId"]),
        };
    } catch {
      // CRC was right, so this is a writer bug or a foreign file: skip it, counted
    }
    this.counters.undecodable++;
    return undefined;
  }

  /** True when nothing is left after `pos`. */
  drained(pos: SpoolPosition): boolean {
    const last = this.segments[this.segments.length - 1];
    if (!last) return true;
    if (pos.seg > last.seq) return true;
    return pos.seg === last.seq && pos.off >= last.size;
  }

  /** Marks everything before `pos` acknowledged: persists the cursor, deletes finished segments. */
  commit(pos: SpoolPosition): void {
    const tmp = join(this.dir, "cursor.tmp");
    writeFileSync(tmp, JSON.stringify(pos));
    renameSync(tmp, join(this.dir, "cursor"));
    this.committed = { ...pos };
    this.deleteBefore(pos.seg);
    // the write segment is fully acknowledged: start a fresh one so its space is freed
    const last = this.segments[this.segments.length - 1];
    if (last && last.seq === pos.seg && pos.off >= last.size && last.size >= this.segmentBytes / 2) {
      this.roll();
      this.deleteBefore(this.segments[this.segments.length - 1]!.seq);
    }
    this.recount();
  }

  private deleteBefore(seq: number): void {
    while (this.segments.length > 1 && this.segments[0]!.seq < seq) {
      const s = this.segments.shift()!;
      try {
        unlinkSync(s.path);
        this.counters.segments_deleted++;
      } catch (err) {
        this.log.warn({ err, segment: segName(s.seq) }, "spool: cannot delete an acknowledged segment");
      }
    }
  }

  /** Flushes and closes. */
  close(): void {
    if (this.writeFd !== undefined) {
      try {
        fdatasyncSync(this.writeFd);
      } catch {
        // closing anyway
      }
      closeSync(this.writeFd);
      this.writeFd = undefined;
    }
  }
}
