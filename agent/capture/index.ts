// SPDX-License-Identifier: Apache-2.0
/** Audit captures: per-container event rings, capture windows, the file format, trace rendering. */
export { CaptureRecorder } from "./recorder.js";
export { captureOnAlert, DEFAULT_CAPTURE_DURATION_MS } from "./on-alert.js";
export { encodeCapture, decodeCapture, F, MAX_CAPTURE_BYTES } from "../../proto/capture.js";
export { renderTrace, traceLine, selectEvents, argText } from "./inspect.js";
export { CaptureError } from "./errors.js";
export type { CaptureRecorderOptions, CaptureResult } from "./recorder.js";
export type { CaptureFile, CaptureContainer, EventTuple } from "../../proto/capture.js";
export type { TraceFilter } from "./inspect.js";
export type { CaptureErrorCode } from "./errors.js";
