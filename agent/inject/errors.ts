// SPDX-License-Identifier: Apache-2.0
/** Errors of Fargate injection; `code` doubles as a metrics label. */
export type InjectErrorCode =
  | "INVALID_JSON"
  | "INVALID_TASKDEF"
  | "UNSUPPORTED"
  | "IMAGE_CONFIG_NEEDED"
  | "INVALID_REVIEW"
  | "INVALID_POD"
  | "TOO_LARGE"
  | "INVALID_OPTION";

export class InjectError extends Error {
  override readonly name = "InjectError";
  constructor(
    readonly code: InjectErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
