// SPDX-License-Identifier: Apache-2.0
/** Decoding of Vigil wire frames (native-bridge/FORMAT.md). */
export { FrameDecoder, i64, u64 } from "./decoder.js";
export { DecodeError, DecodeErrorCode } from "./errors.js";
export { FrameReader } from "./framer.js";
export { CtlType, ExeFlag, FdKind, Hdr, HdrFlag, HDR_SIZE, MAX_FRAME, ProcBlock, WIRE_VERSION } from "./layout.js";
export { formatIpv4, formatIpv6 } from "./net.js";
export type { ControlInfo, DecoderOptions, ProcFacts, RawEvent } from "./decoder.js";
export type { FrameHandler } from "./framer.js";
