// SPDX-License-Identifier: Apache-2.0
/**
 * Bearer-token checks shared by every endpoint (gRPC metadata, HTTP headers, WebSocket
 * upgrades). Tokens are compared in constant time over their SHA-256 digests.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** Checks a presented token against the configured one (no token configured = open). */
export class TokenCheck {
  private readonly digest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.digest = token === undefined || token === "" ? undefined : createHash("sha256").update(token).digest();
  }

  /** True when a token is configured. */
  get required(): boolean {
    return this.digest !== undefined;
  }

  /** Checks an `Authorization` header value (`Bearer <token>`), or a bare token. */
  ok(header: string | undefined | null): boolean {
    if (this.digest === undefined) return true;
    if (typeof header !== "string" || header.length > 4096) return false;
    const tok = /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, "") : header;
    return timingSafeEqual(createHash("sha256").update(tok).digest(), this.digest);
  }
}

/** True for loopback hosts (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** Splits `HOST:PORT` / `[v6]:PORT`; throws on anything else. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`bad address "${s}": expected HOST:PORT`);
  return { host: (m[1] ?? m[2])!, port };
}
