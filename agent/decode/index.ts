// SPDX-License-Identifier: Apache-2.0
/** Decoding of Vigil wire frames (native-bridge/FORMAT.md). */
export { FrameDecoder, i64, u64 } from "./decoder.js";
export { DecodeError, DecodeErrorCode } from "./errors.js";
export { FrameReader } from "./framer.js";
export { CtlPrevent, CtlType, ExeFlag, FdKind, Hdr, HdrFlag, HDR_SIZE, MAX_FRAME, PreventBit, ProcBlock, WIRE_VERSION } from "./layout.js";
export { formatIpv4, formatIpv6, tupleName } from "./net.js";
export type { ControlInfo, DecoderOptions, PreventInfo, ProcFacts, RawEvent } from "./decoder.js";
export type { FrameHandler } from "./framer.js";
