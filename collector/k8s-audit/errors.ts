// SPDX-License-Identifier: Apache-2.0
/** Errors of the `k8s_audit` intake; `code` is a closed set usable as a metrics label. */

/** Why a payload of audit events was refused as a whole. */
export type AuditPayloadErrorCode =
  /** Not JSON (or not UTF-8 text). */
  | "bad_json"
  /** JSON, but not an audit.k8s.io Event, EventList or array of Events. */
  | "bad_kind"
  /** An `apiVersion` other than audit.k8s.io/v1 (or v1beta1). */
  | "bad_api_version"
  /** A body encoding or content type the endpoint does not take. */
  | "bad_encoding";

/** A payload refused as a whole (HTTP 400 on the webhook). */
export class AuditPayloadError extends Error {
  override readonly name = "AuditPayloadError";
  constructor(
    readonly code: AuditPayloadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
