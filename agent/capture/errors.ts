// SPDX-License-Identifier: Apache-2.0
/** Errors of audit captures; `code` is a closed set usable as a metrics label. */

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
