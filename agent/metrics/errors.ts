// SPDX-License-Identifier: Apache-2.0
/** Errors of the metrics stage; `code` doubles as a metrics label. */
export type MetricsErrorCode = "LISTEN_FAILED" | "STATS_FAILED" | "CGROUP_READ_FAILED";

export class MetricsError extends Error {
  override readonly name = "MetricsError";
  constructor(
    readonly code: MetricsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
