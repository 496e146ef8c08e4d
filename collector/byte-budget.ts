// SPDX-License-Identifier: Apache-2.0
/**
 * The global in-flight byte budget (`inflight_bytes`): request bytes the collector holds at once
 * across every request of every protocol. HTTP bodies reserve as their chunks arrive; each
 * authenticated gRPC call reserves `max_message_bytes` when its metadata is accepted (the most
 * grpc-js may buffer for it) and gives it back when the call ends. A reservation that does not
 * fit is refused (HTTP 503, gRPC UNAVAILABLE), counted in `inflight_refused`.
 */

/** A counter of reserved bytes with a hard ceiling. */
export class ByteBudget {
  private used = 0;
  private peak = 0;

  constructor(readonly limit: number) {}

  /** Reserves `n` bytes; false (nothing reserved) when that would pass the limit. */
  tryReserve(n: number): boolean {
    if (n < 0 || this.used + n > this.limit) return false;
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  /** Gives back `n` bytes reserved earlier. */
  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Most bytes ever reserved at once. */
  get highWater(): number {
    return this.peak;
  }
}
