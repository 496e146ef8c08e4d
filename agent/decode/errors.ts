// SPDX-License-Identifier: Apache-2.0
/**
 * Decode error kinds. On the hot path these are counted, never thrown: each code is a counter
 * in `stats()` and a metrics label. {@link DecodeError} exists for the rare caller that wants
 * an exception (tests, tools).
 */

/** Every way a frame can be bad. */
export const DecodeErrorCode = {
  /** Header size field below the fixed header size (the stream is resynchronised byte by byte). */
  Undersize: "undersize",
  /** Header size field above the maximum frame size. */
  Oversize: "oversize",
  /** Unknown wire version. */
  BadVersion: "bad_version",
  /** A frame type this decoder has no handler for (skipped by its size). */
  UnknownType: "unknown_type",
  /** A param's length runs past the end of the frame, or the param count is absurd. */
  Truncated: "truncated",
  /** A handler failed on the frame's content. */
  HandlerFailed: "handler_failed",
  /** Bytes dropped while looking for the next plausible header. */
  ResyncBytes: "resync_bytes",
  /** Bytes left incomplete when the stream ended. */
  TrailingBytes: "trailing_bytes",
} as const;
export type DecodeErrorCode = (typeof DecodeErrorCode)[keyof typeof DecodeErrorCode];

/** A decode failure with a code (for callers that prefer exceptions). */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
