// SPDX-License-Identifier: Apache-2.0
/**
 * Console sessions and roles.
 *
 * Two tokens authenticate: the collector's token (role `admin`: everything) and, optionally, the
 * read-only token (`--read-token`, `collector.read_token`; role `read`: GETs and the live tail,
 * never a write). Both are compared in constant time (sha256 then `timingSafeEqual`).
 *
 * `POST /api/v1/session` trades a token for a session: a random 256-bit ID sent in the cookie
 * `vigil_session` (HttpOnly, SameSite=Strict, Path=/, Secure when the collector serves TLS). The
 * store keeps only the ID's sha256 (a dump of memory holds no usable cookie), at most
 * `maxSessions` (the least recently used dropped first) for at most `ttlMs` from login (the
 * cookie's Max-Age is the same; a session is not extended by use).
 *
 * CSRF: the cookie is sent by the browser on its own, so a request it authenticates that changes
 * state, and every WebSocket upgrade it authenticates, must carry an `Origin` equal to the
 * collector's own origin (scheme + the Host the request was sent to). A bearer token is never sent
 * by the browser on its own: those requests need no such check.
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { LRUCache } from "lru-cache";
import { TokenCheck } from "../../proto/index.js";

/** What an authenticated request may do: `admin` everything, `read` GETs and the tail. */
export type Role = "admin" | "read";

/** Name of the session cookie. */
export const SESSION_COOKIE = "vigil_session";

/** Defaults of {@link SessionStore}. */
export const SESSION_DEFAULTS = Object.freeze({ maxSessions: 1000, ttlMs: 8 * 3_600_000 });

interface Session {
  role: Role;
  expiresAt: number;
}

/** How a request authenticated. */
export interface Authenticated {
  role: Role;
  /** `cookie`: a session (state changes need a same-origin Origin); `token`: a bearer token; `cert`: a client certificate; `open`: no token configured. */
  via: "cookie" | "token" | "cert" | "open";
}

const hashId = (id: string) => createHash("sha256").update(id).digest("base64url");

/** The two tokens and their roles. */
export class Roles {
  private readonly admin: TokenCheck;
  private readonly read: TokenCheck | undefined;

  constructor(token: string | undefined, readToken: string | undefined) {
    this.admin = new TokenCheck(token);
    if (readToken !== undefined && readToken !== "") {
      if (!this.admin.required) throw new Error("a read-only token needs the collector's token (--token): without it every client is admin");
      if (readToken === token) throw new Error("the read-only token must differ from the collector's token");
      this.read = new TokenCheck(readToken);
    }
  }

  /** True when a token is configured (else every client has role admin). */
  get required(): boolean {
    return this.admin.required;
  }

  /** The role of a token (`Bearer <token>` or the bare token); undefined when it is neither. Both checks always run. */
  roleOf(token: string | undefined | null): Role | undefined {
    if (!this.admin.required) return "admin";
    const isAdmin = this.admin.ok(token);
    const isRead = this.read?.ok(token) === true;
    return isAdmin ? "admin" : isRead ? "read" : undefined;
  }
}

/** Bounded in-memory sessions (see the module comment). */
export class SessionStore {
  private readonly sessions: LRUCache<string, Session>;
  readonly ttlMs: number;

  constructor(
    opts: { maxSessions?: number; ttlMs?: number } = {},
    private readonly now: () => number = Date.now,
  ) {
    this.ttlMs = opts.ttlMs ?? SESSION_DEFAULTS.ttlMs;
    this.sessions = new LRUCache<string, Session>({ max: opts.maxSessions ?? SESSION_DEFAULTS.maxSessions });
  }

  /** A new session; returns its ID (the cookie value). */
  create(role: Role): string {
    const id = randomBytes(32).toString("base64url");
    this.sessions.set(hashId(id), { role, expiresAt: this.now() + this.ttlMs });
    return id;
  }

  /** The role of a live session. */
  get(id: string): Role | undefined {
    if (id.length !== 43) return undefined;
    const key = hashId(id);
    const s = this.sessions.get(key);
    if (s === undefined) return undefined;
    if (this.now() >= s.expiresAt) {
      this.sessions.delete(key);
      return undefined;
    }
    return s.role;
  }

  /** Ends a session (logout). */
  delete(id: string): void {
    this.sessions.delete(hashId(id));
  }

  /** Sessions held now (expired ones included until touched or evicted). */
  get size(): number {
    return this.sessions.size;
  }
}

/** The `vigil_session` cookie's value, if the request has one. */
export function sessionCookie(req: IncomingMessage): string | undefined {
  const h = req.headers.cookie;
  if (typeof h !== "string" || h.length > 16_384) return undefined;
  for (const part of h.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const v = part.slice(eq + 1).trim();
      return v === "" ? undefined : v;
    }
  }
  return undefined;
}

/** `Set-Cookie` of a new session. */
export function setSessionCookie(id: string, ttlMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(ttlMs / 1000)}${secure ? "; Secure" : ""}`;
}

/** `Set-Cookie` that removes the session cookie. */
export function clearSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? "; Secure" : ""}`;
}

/**
 * True when the request's `Origin` is the collector's own: the scheme it was reached by and the
 * `Host` the request names. A cross-site page's requests carry its own origin; a missing or
 * `null` Origin is refused. Behind a proxy that terminates TLS (an ingress in front of a
 * plain-HTTP collector, passing the Host header on), the page's origin is `https://` + that host
 * on the proxy's port: an `https://` Origin naming the same host is the collector's own too (a
 * page there is served by whoever serves that host, never by another site).
 */
export function sameOrigin(req: IncomingMessage, tls: boolean): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin !== "string" || typeof host !== "string" || host === "") return false;
  let o: URL;
  let h: URL;
  try {
    o = new URL(origin);
    h = new URL(`${tls ? "https" : "http"}://${host}`);
  } catch {
    return false;
  }
  if (o.origin === "null") return false;
  if (o.origin === h.origin) return true;
  return !tls && o.protocol === "https:" && o.hostname === h.hostname;
}
