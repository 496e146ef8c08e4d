// SPDX-License-Identifier: Apache-2.0
/** Errors of the enrichment stage; `code` doubles as a metrics label. */

/** What went wrong while enriching, as a closed set usable as a label. */
export const EnrichErrorCode = {
  /** The .proto files could not be found or parsed. */
  ProtoLoad: "proto_load",
  /** A gRPC call to the runtime failed (transport or status). */
  Rpc: "rpc",
  /** The runtime does not know the container. */
  NotFound: "not_found",
  /** The runtime spec or another runtime document could not be parsed. */
  BadSpec: "bad_spec",
  /** An event from the runtime's stream could not be decoded. */
  BadEvent: "bad_event",
  /** A cgroup file could not be read or parsed. */
  Cgroup: "cgroup",
} as const;
export type EnrichErrorCode = (typeof EnrichErrorCode)[keyof typeof EnrichErrorCode];

/** Base error of this folder. */
export class EnrichError extends Error {
  override name = "EnrichError";
  constructor(
    readonly code: EnrichErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A gRPC call failed; `grpcCode` is the gRPC status code (14 = UNAVAILABLE, 5 = NOT_FOUND). */
export class RpcError extends EnrichError {
  override name = "RpcError";
  constructor(
    readonly method: string,
    readonly grpcCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(grpcCode === 5 ? EnrichErrorCode.NotFound : EnrichErrorCode.Rpc, message, options);
  }
}

/** The .proto definitions could not be loaded. */
export class ProtoLoadError extends EnrichError {
  override name = "ProtoLoadError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(EnrichErrorCode.ProtoLoad, message, options);
  }
}
