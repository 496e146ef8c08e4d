// SPDX-License-Identifier: Apache-2.0
/**
 * Open-connection accounting at the public port, before any protocol: at most `maxTotal`
 * client connections in all and `maxPerIp` from one address. Entries exist only for addresses
 * with an open connection, so the map is bounded by `maxTotal`.
 */
import { readFileSync } from "node:fs";

/** Why a connection was not admitted. */
export type ConnRefusal = "limit" | "per_ip";

/** Counts open connections in all and per client address. */
export class ConnectionLimiter {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerIp: number,
  ) {}

  /** Admits a connection from `ip` (the caller must {@link release} it once), or says why not. */
  admit(ip: string): ConnRefusal | undefined {
    if (this.total >= this.maxTotal) return "limit";
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) return "per_ip";
    this.total++;
    this.perIp.set(ip, n + 1);
    return undefined;
  }

  /** Releases a connection admitted for `ip`. */
  release(ip: string): void {
    const n = this.perIp.get(ip);
    if (n === undefined) return;
    this.total--;
    if (n <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, n - 1);
  }

  /** Open connections now. */
  get open(): number {
    return this.total;
  }
}

/** Descriptors one admitted connection may cost: the client socket, and for gRPC the proxy's two. */
export const FDS_PER_CONNECTION = 3;

/** The soft open-file limit of this process (RLIMIT_NOFILE, from /proc/self/limits); undefined when unknown or unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}
