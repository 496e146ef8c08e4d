// SPDX-License-Identifier: Apache-2.0
/** Errors of the Kubernetes API context; `code` doubles as a metrics and log label. */

/** What went wrong talking to the API server, as a closed set. */
export const K8sApiErrorCode = {
  /** No usable configuration: no kubeconfig, not in a cluster, a file missing. */
  Config: "config",
  /** The connection failed or broke (refused, reset, TLS, timeout). */
  Network: "network",
  /** The server answered with an HTTP error status (401, 403, 404, 500...). */
  Http: "http",
  /** `410 Gone`: the resourceVersion (or a list's continue token) is too old; relist. */
  Gone: "gone",
  /** The answer was not the JSON the protocol says (or was larger than allowed). */
  BadResponse: "bad_response",
} as const;
export type K8sApiErrorCode = (typeof K8sApiErrorCode)[keyof typeof K8sApiErrorCode];

/** Base error of this folder; `status` is the HTTP status (or the Status object's code) when there is one. */
export class K8sApiError extends Error {
  override name = "K8sApiError";
  constructor(
    readonly code: K8sApiErrorCode,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a `410 Gone` (HTTP status, a watch ERROR event's Status, or the client's error object). */
export function isGone(err: unknown): boolean {
  if (err instanceof K8sApiError) return err.code === K8sApiErrorCode.Gone;
  const e = err as { statusCode?: unknown; code?: unknown } | null;
  return typeof e === "object" && e !== null && (e.statusCode === 410 || e.code === 410);
}

/** An error from the client library or the network as a K8sApiError (kept as the cause). */
export function toApiError(err: unknown, what: string): K8sApiError {
  if (err instanceof K8sApiError) return err;
  if (isGone(err)) return new K8sApiError(K8sApiErrorCode.Gone, `${what}: 410 Gone`, 410, { cause: err });
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number") return new K8sApiError(K8sApiErrorCode.Http, `${what}: HTTP ${status}`, status, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new K8sApiError(K8sApiErrorCode.Network, `${what}: ${msg}`, undefined, { cause: err });
}
