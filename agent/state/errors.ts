// SPDX-License-Identifier: Apache-2.0
/** Errors of the process state stage; `code` doubles as a metrics label. */
export type StateErrorCode = "PROC_READ_FAILED" | "PASSWD_READ_FAILED";

export class StateError extends Error {
  override readonly name = "StateError";
  constructor(
    readonly code: StateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
