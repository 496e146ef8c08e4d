// SPDX-License-Identifier: Apache-2.0
/**
 * Errors of the sinks (spool, collector client, Falco outputs server). `code` is a closed set
 * usable as a metrics label.
 */

/** What went wrong in a sink. */
export type SinkErrorCode = "spool_full" | "spool_io" | "spool_corrupt" | "send_failed" | "unauthenticated" | "refused" | "shut_down";

/** An error of a sink with a stable code. */
export class SinkError extends Error {
  override readonly name = "SinkError";
  constructor(
    readonly code: SinkErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
