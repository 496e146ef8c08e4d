// SPDX-License-Identifier: Apache-2.0
/**
 * Failed-authentication rate limit per client IP (`auth_failures_per_minute`): an IP whose
 * failures in the current one-minute window reach the limit is refused (HTTP 429 with
 * `retry-after`, gRPC RESOURCE_EXHAUSTED with `retry-after` metadata) until the window ends,
 * whatever token it presents, so a token cannot be guessed faster than the limit. Memory is
 * bounded: at most `maxIps` windows are kept (least recently used dropped first).
 */
import { LRUCache } from "lru-cache";

interface Window {
  start: number;
  failures: number;
}

const WINDOW_MS = 60_000;

/** Per-IP counter of failed authentications in fixed one-minute windows. */
export class AuthFailureLimiter {
  private readonly windows: LRUCache<string, Window>;

  constructor(
    private readonly perMinute: number,
    maxIps = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.windows = new LRUCache<string, Window>({ max: maxIps });
  }

  /** Milliseconds until `ip` may try again, or 0 when it may try now. */
  retryAfterMs(ip: string): number {
    const w = this.windows.get(ip);
    if (w === undefined) return 0;
    const t = this.now();
    if (t - w.start >= WINDOW_MS) {
      this.windows.delete(ip);
      return 0;
    }
    return w.failures >= this.perMinute ? WINDOW_MS - (t - w.start) : 0;
  }

  /** Records one failed authentication from `ip`. */
  fail(ip: string): void {
    const t = this.now();
    const w = this.windows.get(ip);
    if (w === undefined || t - w.start >= WINDOW_MS) this.windows.set(ip, { start: t, failures: 1 });
    else w.failures++;
  }

  /** IPs tracked now. */
  get size(): number {
    return this.windows.size;
  }
}
