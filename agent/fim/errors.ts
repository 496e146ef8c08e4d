// SPDX-License-Identifier: Apache-2.0
/** Errors of the file integrity module; `code` doubles as a metrics label. */
export type FimErrorCode = "STATE_DIR" | "BASELINE_CORRUPT" | "BASELINE_WRITE" | "HASH_FAILED" | "BAD_PATTERN";

export class FimError extends Error {
  override readonly name = "FimError";
  constructor(
    readonly code: FimErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
