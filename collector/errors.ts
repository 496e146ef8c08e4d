// SPDX-License-Identifier: Apache-2.0
/**
 * Errors of the collector. `code` is a closed set usable as a metrics label.
 */

/** Why the collector refused something. */
export type CollectorErrorCode =
  | "unauthenticated"
  | "too_large"
  | "malformed"
  | "invalid_alert"
  | "bad_listen_address"
  | "store_failed"
  | "bad_filter"
  | "not_found"
  /** The JetStream stream or consumer exists with settings that contradict `collector.fleet`. */
  | "stream_conflict";

/** An error of the collector with a stable code. */
export class CollectorError extends Error {
  override readonly name = "CollectorError";
  constructor(
    readonly code: CollectorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
