// SPDX-License-Identifier: Apache-2.0
/** Errors of the engine glue; `code` doubles as a metrics label. */
export type EngineErrorCode = "NOT_LOADED" | "READ_FAILED";

export class EngineError extends Error {
  override readonly name = "EngineError";
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
