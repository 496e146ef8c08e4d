// SPDX-License-Identifier: Apache-2.0
/**
 * An alert's audit capture read in the browser and laid out as a syscall trace: the gzip layer
 * comes off with the browser's DecompressionStream, the msgpack document is read and checked by
 * the format's own code (proto/capture-format.ts), and each event is rendered by the same code
 * as `vigil capture inspect` (rules/trace-text.ts). No DOM: the node tests run it too.
 *
 * A capture is data from a node, so it is read within bounds: at most
 * {@link TRACE_LIMITS}.compressedBytes downloaded, {@link TRACE_LIMITS}.bytes once gunzipped
 * (a gzip bomb stops there), {@link TRACE_LIMITS}.rows rows laid out (a window around the
 * triggering event) and {@link TRACE_LIMITS}.cellChars characters per cell. Past a bound the page
 * says so and offers the download.
 */
import { CaptureError, type CaptureFile, type EventTuple, F, unpackCapture } from "../../../proto/capture-format.js";
import { cleanText, traceRow } from "../../../rules/trace-text.js";

/** The bounds of what the console reads and shows of one capture. */
export const TRACE_LIMITS = {
  /** Largest download: the collector refuses larger captures at ingest anyway. */
  compressedBytes: 16 * 1024 * 1024,
  /** Largest gunzipped document (a full capture of 10,256 events is a few MiB). */
  bytes: 32 * 1024 * 1024,
  /** Rows laid out at once. */
  rows: 1000,
  /** Characters of one cell (the arguments of one event, a process name). */
  cellChars: 400,
};

/** Reads a stream to its end, or throws CaptureError("too_large") past `max` bytes (and stops reading). */
export async function readBounded(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch (err) {
      throw new CaptureError("bad_file", "not a gzip'd capture", { cause: err });
    }
    if (r.done) break;
    n += r.value.length;
    if (n > max) {
      void reader.cancel().catch(() => {});
      throw new CaptureError("too_large", `larger than ${Math.round(max / 1024 / 1024)} MiB`);
    }
    parts.push(r.value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** gunzip (bounded) + msgpack + the format's checks. Throws CaptureError. */
export async function decodeCaptureBytes(gz: Uint8Array, limits = TRACE_LIMITS): Promise<CaptureFile> {
  if (gz.length > limits.compressedBytes) throw new CaptureError("too_large", `larger than ${Math.round(limits.compressedBytes / 1024 / 1024)} MiB`);
  const body = new Blob([gz as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return unpackCapture(await readBounded(body, limits.bytes));
}

/** One row of the trace table. */
export interface TraceViewRow {
  /** Index of the event in the capture. */
  index: number;
  /** Seconds from the triggering event (`-0.001234`, `0`, `+0.000050`). */
  rel: string;
  /** UTC time of day with nanoseconds (`12:00:01.123456789`). */
  abs: string;
  comm: string;
  pid: string;
  /** The thread when it is not the process's main thread, else "". */
  tid: string;
  syscall: string;
  args: string;
  res: string;
  failed: boolean;
  trigger: boolean;
  /** Recorded after the alert was raised. */
  after: boolean;
}

/** The rows shown of a capture and where they sit in it. */
export interface TraceView {
  rows: TraceViewRow[];
  /** Events in the capture. */
  total: number;
  /** Events matching the filter (all of them without one). */
  matched: number;
  /** Index of the triggering event, when the capture has one. */
  trigger: number | undefined;
}

const cap = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

function nsOf(e: EventTuple): number | undefined {
  const sec = Number(e[F.sec]);
  const nsec = Number(e[F.nsec]);
  return Number.isFinite(sec) && Number.isFinite(nsec) ? sec * 1e9 + nsec : undefined;
}

function relText(ns: number | undefined, ref: number | undefined): string {
  if (ns === undefined || ref === undefined) return "?";
  const d = ns - ref;
  if (d === 0) return "0";
  return `${d > 0 ? "+" : "-"}${(Math.abs(d) / 1e9).toFixed(6)}`;
}

function absText(e: EventTuple): string {
  const sec = Number(e[F.sec]);
  const nsec = Number(e[F.nsec]);
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime()) || !Number.isFinite(nsec)) return "?";
  return `${d.toISOString().slice(11, 19)}.${String(Math.trunc(nsec)).padStart(9, "0")}`;
}

/**
 * The event that raised the alert: the capture's `alertIndex` is the first event recorded after
 * the alert, so the one before it; when the alert names its process (`proc.pid`), the last of
 * that process among the few events before.
 */
export function triggerIndex(c: CaptureFile, alertPid?: number): number | undefined {
  const ai = Number(c.alertIndex);
  if (!Number.isInteger(ai) || ai < 1 || ai > c.events.length) return undefined;
  if (alertPid !== undefined) {
    for (let i = ai - 1; i >= Math.max(0, ai - 64); i--) if (c.events[i]![F.pid] === alertPid) return i;
  }
  return ai - 1;
}

function row(c: CaptureFile, i: number, trigger: number | undefined, ref: number | undefined, limits: typeof TRACE_LIMITS): TraceViewRow {
  const e = c.events[i]!;
  const r = traceRow(e);
  const pid = String(e[F.pid]);
  const tid = String(e[F.tid]);
  return {
    index: i,
    rel: relText(nsOf(e), ref),
    abs: absText(e),
    comm: cap(cleanText(e[F.comm]), 64),
    pid: cap(pid, 24),
    tid: tid === pid ? "" : cap(tid, 24),
    syscall: cap(r.name, 64),
    args: cap(r.args.map(([k, v]) => `${k}=${v.length > limits.cellChars ? `${v.slice(0, limits.cellChars)}…` : v}`).join(", "), limits.cellChars),
    res: cap(r.res, 64),
    failed: r.failed,
    trigger: i === trigger,
    after: i >= Number(c.alertIndex),
  };
}

/**
 * The rows to show: without a filter, a window of at most `limits.rows` events around the
 * triggering one; with one (a substring of the process, syscall, arguments or result; case
 * ignored), the first `limits.rows` events that match.
 */
export function traceView(c: CaptureFile, opts: { alertPid?: number; filter?: string } = {}, limits = TRACE_LIMITS): TraceView {
  const total = c.events.length;
  const trigger = triggerIndex(c, opts.alertPid);
  const refEvent = c.events[trigger ?? 0];
  const ref = refEvent !== undefined ? nsOf(refEvent) : undefined;
  const rows: TraceViewRow[] = [];
  const filter = opts.filter?.trim().toLowerCase() ?? "";
  if (filter === "") {
    const from = Math.max(0, Math.min((trigger ?? 0) - Math.floor(limits.rows / 2), total - limits.rows));
    const to = Math.min(total, from + limits.rows);
    for (let i = from; i < to; i++) rows.push(row(c, i, trigger, ref, limits));
    return { rows, total, matched: total, trigger };
  }
  let matched = 0;
  for (let i = 0; i < total; i++) {
    const r = row(c, i, trigger, ref, limits);
    const text = `${r.comm} ${r.pid} ${r.tid} ${r.syscall} ${r.args} ${r.res}`.toLowerCase();
    if (!text.includes(filter)) continue;
    matched++;
    if (rows.length < limits.rows) rows.push(r);
  }
  return { rows, total, matched, trigger };
}
