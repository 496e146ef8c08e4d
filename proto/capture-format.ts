// SPDX-License-Identifier: Apache-2.0
/**
 * The capture document without its gzip layer, in code a browser can run too (no node built-ins):
 * the EventTuple field indexes, the types, and {@link unpackCapture} (msgpack → a validated
 * {@link CaptureFile}). proto/capture.ts adds gzip on Node; the web console gunzips with the
 * browser's DecompressionStream and calls the same {@link unpackCapture}.
 */
import { Unpackr } from "msgpackr/unpack";
import type { ArgValue } from "./event-values.js";

/** Field indexes of an EventTuple. */
export const F = {
  sec: 0,
  nsec: 1,
  bootNs: 2,
  type: 3,
  cpu: 4,
  res: 5,
  args: 6,
  tid: 7,
  pid: 8,
  ppid: 9,
  vpid: 10,
  uid: 11,
  gid: 12,
  euid: 13,
  loginuid: 14,
  comm: 15,
  exe: 16,
  exepath: 17,
  procArgs: 18,
  cwd: 19,
  tty: 20,
  pcomm: 21,
  pexepath: 22,
  fdNum: 23,
  fdType: 24,
  fdTypechar: 25,
  fdName: 26,
  num: 27,
  startTs: 28,
} as const;

/** One recorded event. */
export type EventTuple = [
  sec: number,
  nsec: number,
  bootNs: number,
  type: number,
  cpu: number,
  res: number,
  args: ArgValue[],
  tid: number,
  pid: number,
  ppid: number,
  vpid: number,
  uid: number,
  gid: number,
  euid: number,
  loginuid: number,
  comm: string,
  exe: string,
  exepath: string,
  procArgs: readonly string[],
  cwd: string,
  tty: number,
  pcomm: string,
  pexepath: string,
  fdNum: number,
  fdType: string,
  fdTypechar: string,
  fdName: string,
  num: number,
  startTs: number,
];

/** Container facts saved with a capture. */
export interface CaptureContainer {
  id: string;
  fullId: string;
  name: string | null;
  type: string;
  image: string | null;
  imageRepository: string | null;
  imageTag: string | null;
  imageDigest: string | null;
  privileged: boolean | null;
  labels: Record<string, string>;
  k8s: { podName: string | null; namespace: string | null; podUid: string | null; containerName: string | null; podLabels: Record<string, string> } | null;
}

/** A decoded capture. */
export interface CaptureFile {
  format: "vigil-capture";
  version: 1;
  alertId: string;
  rule: string;
  hostname: string;
  createdAt: string;
  container: CaptureContainer;
  alertIndex: number;
  events: EventTuple[];
}

/** msgpackr settings of the format: plain maps (no records), 64-bit integers as bigint. */
export const CAPTURE_MSGPACK = { useRecords: false, int64AsType: "bigint" } as const;

const unpackr = new Unpackr({ ...CAPTURE_MSGPACK });

/**
 * msgpack → a validated capture (the document inside the gzip layer). Throws CaptureError on
 * anything that is not one. Time and memory are linear in `raw`'s length (msgpack cannot declare
 * more items than it has bytes for): bound `raw` before calling it.
 */
export function unpackCapture(raw: Uint8Array): CaptureFile {
  let o: unknown;
  try {
    o = unpackr.unpack(raw);
  } catch (err) {
    throw new CaptureError("bad_file", "capture is not valid msgpack", { cause: err });
  }
  const c = o as Partial<CaptureFile> | null;
  if (c === null || typeof c !== "object" || c.format !== "vigil-capture") throw new CaptureError("bad_file", "not a Vigil capture");
  if (c.version !== 1) throw new CaptureError("bad_version", `unsupported capture version ${String(c.version)}`);
  if (!Array.isArray(c.events) || typeof c.container !== "object" || c.container === null)
    throw new CaptureError("bad_file", "capture without events or container");
  for (const e of c.events) {
    if (!Array.isArray(e) || e.length < F.num || typeof e[F.type] !== "number" || !Array.isArray(e[F.args]))
      throw new CaptureError("bad_file", "malformed event in capture");
  }
  return c as CaptureFile;
}

/** Why a capture could not be read or taken; `code` is a closed set usable as a metrics label. */
export type CaptureErrorCode = "bad_file" | "bad_version" | "too_large" | "busy";

/** An error reading or taking a capture. */
export class CaptureError extends Error {
  override readonly name = "CaptureError";
  constructor(
    readonly code: CaptureErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
