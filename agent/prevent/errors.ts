// SPDX-License-Identifier: Apache-2.0
/** Errors of drift prevention; `code` doubles as a metrics label. */
export type PreventionErrorCode = "BAD_SELECTOR" | "BAD_KIND";

export class PreventionError extends Error {
  override readonly name = "PreventionError";
  constructor(
    readonly code: PreventionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
