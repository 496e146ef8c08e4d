// SPDX-License-Identifier: Apache-2.0
/**
 * The capture file format: a msgpack document, gzip-compressed.
 *
 * ```
 * { format: "vigil-capture", version: 1, alertId, rule, hostname, createdAt (ISO),
 *   container: { id, fullId, name, type, image, imageRepository, imageTag, imageDigest,
 *                privileged, labels: {k: v}, k8s: { podName, namespace, podUid, containerName, podLabels } | null },
 *   alertIndex,   // index of the first event recorded after the alert was raised
 *   events: [ EventTuple... ] }
 * ```
 * An EventTuple is an array indexed by {@link F} (arrays keep the encoding compact). Event
 * params keep their kinds (numbers, bigints, strings, byte buffers, socket tuples, string lists).
 */
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { Packr } from "msgpackr";
import { CAPTURE_MSGPACK, CaptureError, type CaptureFile, unpackCapture } from "./capture-format.js";

export { CAPTURE_MSGPACK, CaptureError, F, unpackCapture } from "./capture-format.js";
export type { CaptureContainer, CaptureErrorCode, CaptureFile, EventTuple } from "./capture-format.js";

const packr = new Packr({ ...CAPTURE_MSGPACK });
const gz = promisify(gzip);
const gunz = promisify(gunzip);

/** Largest uncompressed capture accepted when reading (a gzip bomb stops here). */
export const MAX_CAPTURE_BYTES = 256 * 1024 * 1024;

/** msgpack + gzip. */
export async function encodeCapture(c: CaptureFile): Promise<Buffer> {
  return gz(packr.pack(c), { level: 6 });
}

/** gunzip + msgpack, validated. Throws CaptureError on anything that is not a capture. */
export async function decodeCapture(data: Uint8Array): Promise<CaptureFile> {
  let raw: Buffer;
  try {
    raw = await gunz(data, { maxOutputLength: MAX_CAPTURE_BYTES });
  } catch (err) {
    throw new CaptureError("bad_file", "not a gzip'd capture (or larger than allowed)", { cause: err });
  }
  return unpackCapture(raw);
}
