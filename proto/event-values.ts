// SPDX-License-Identifier: Apache-2.0
/**
 * The values an event's parameters take, as the decoder produces them, the rule engine reads them
 * and audit captures store them (proto/capture.ts): part of the capture format's contract.
 */

/** Value of one syscall parameter, in the kind its schema declares (rules/event-table.ts). */
export type ArgValue = string | number | bigint | Uint8Array | SockTuple | readonly string[] | undefined;

/** A socket endpoint pair as carried by connect/accept/sendto params (`fd.*` tuple fields). */
export interface SockTuple {
  /** `AF_INET`=2, `AF_INET6`=10, `AF_UNIX`=1. */
  family: number;
  /** Source (client) address as text: dotted quad, RFC 5952 IPv6, or unix path. */
  sip: string;
  sport: number;
  /** Destination (server) address. */
  dip: string;
  dport: number;
}
