// SPDX-License-Identifier: Apache-2.0
/** Errors of audit captures: defined with the capture format in the contracts (proto/capture.ts). */
export { CaptureError } from "../../proto/capture.js";
export type { CaptureErrorCode } from "../../proto/capture.js";
