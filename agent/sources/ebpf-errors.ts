// SPDX-License-Identifier: Apache-2.0
/** Errors of the kernel probe source; `code` doubles as a metrics label. */
export type ProbeErrorCode = "PROBE_NOT_FOUND" | "PROBE_START_FAILED" | "PROBE_START_TIMEOUT" | "PROBE_NOT_RUNNING";

export class ProbeError extends Error {
  override readonly name = "ProbeError";
  constructor(
    readonly code: ProbeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
