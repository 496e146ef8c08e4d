// SPDX-License-Identifier: Apache-2.0
/**
 * What the HTTP API destinations (Alertmanager, PagerDuty, Loki, Elasticsearch) share:
 * credentials re-read on each send (a rotated Secret is picked up without a restart) and kept
 * out of error messages, Falco's eight priorities on the four-level severity scale those tools
 * use, the link to an alert in the collector, and texts and JSON bounded to a destination's
 * limits.
 */
import { Buffer } from "node:buffer";
import { DeliveryError, readSecret } from "./destination.js";
import { normalizeTime, type PriorityName } from "../../proto/index.js";

/** Credential settings of a forwarder (each `*_file`/`*_env` pair names one secret). */
export interface CredentialSettings {
  user?: string;
  password_file?: string;
  password_env?: string;
  token_file?: string;
  token_env?: string;
  api_key_file?: string;
  api_key_env?: string;
}

type Scheme = "none" | "basic" | "bearer" | "apikey";

const set = (v: string | undefined): boolean => v !== undefined && v !== "";

/**
 * How a destination authenticates: HTTP basic (`user` + `password_*`), a bearer token
 * (`token_*`), or an Elasticsearch API key (`api_key_*`, `Authorization: ApiKey <key>`), at most
 * one of them. The secret is read at creation (a missing file fails the forwarder's start) and
 * again before each request.
 */
export class Credentials {
  private readonly scheme: Scheme;
  private current: string[] = [];

  constructor(private readonly s: CredentialSettings) {
    const user = set(s.user);
    const pw = set(s.password_file) || set(s.password_env);
    const token = set(s.token_file) || set(s.token_env);
    const key = set(s.api_key_file) || set(s.api_key_env);
    if ([user || pw, token, key].filter(Boolean).length > 1) throw new Error("set one way to authenticate: user with password_*, token_* or api_key_*");
    if (user && !pw) throw new Error("user needs password_file or password_env");
    if (pw && !user) throw new Error("password_file/password_env need user");
    if (user && (s.user as string).includes(":")) throw new Error("user must not contain ':' (HTTP basic authentication)");
    this.scheme = user ? "basic" : token ? "bearer" : key ? "apikey" : "none";
    this.read();
  }

  private read(): string | undefined {
    const s = this.s;
    switch (this.scheme) {
      case "none":
        return undefined;
      case "basic": {
        const pw = readSecret("password", s.password_file ?? "", s.password_env ?? "");
        const b64 = Buffer.from(`${s.user}:${pw}`).toString("base64");
        this.current = [pw, b64];
        return `Basic ${b64}`;
      }
      case "bearer": {
        const t = readSecret("token", s.token_file ?? "", s.token_env ?? "");
        this.current = [t];
        return `Bearer ${t}`;
      }
      case "apikey": {
        const k = readSecret("api_key", s.api_key_file ?? "", s.api_key_env ?? "");
        this.current = [k];
        return `ApiKey ${k}`;
      }
    }
  }

  /**
   * The `Authorization` header value, re-read now; undefined without credentials. A secret that
   * can no longer be read is a retryable failure (the Secret may be in the middle of a rotation).
   */
  authorization(): string | undefined {
    try {
      return this.read();
    } catch (err) {
      throw new DeliveryError(err instanceof Error ? err.message : String(err));
    }
  }

  /** The secrets as last read, raw and as sent, for {@link redact}. */
  secrets(): readonly string[] {
    return this.current;
  }
}

const REDACTED = "[redacted]";

/**
 * The error with every secret removed from its message (a server that echoes the request's
 * headers or body in its refusal must not put a credential into logs, metrics or the dead
 * letters). A message cut short in the middle of a secret loses the secret's start too. The
 * cause is dropped when anything was removed (it may hold the same text).
 */
export function redact(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof Error)) return err;
  let msg = err.message;
  for (const s of secrets) {
    if (s === "") continue;
    if (msg.includes(s)) msg = msg.split(s).join(REDACTED);
    for (let k = Math.min(s.length - 1, msg.length); k >= 4; k--) {
      if (msg.endsWith(s.slice(0, k))) {
        msg = msg.slice(0, msg.length - k) + REDACTED;
        break;
      }
    }
  }
  if (msg === err.message) return err;
  if (err instanceof DeliveryError) return new DeliveryError(msg, { permanent: err.permanent, retryAfterMs: err.retryAfterMs, status: err.status });
  return new DeliveryError(msg);
}

/** The four-level severity of PagerDuty (and of most Alertmanager routing trees). */
export type Severity = "critical" | "error" | "warning" | "info";

const SEVERITY: Record<PriorityName, Severity> = {
  Emergency: "critical",
  Alert: "critical",
  Critical: "critical",
  Error: "error",
  Warning: "warning",
  Notice: "info",
  Informational: "info",
  Debug: "info",
};

/** Falco's priority on the four-level scale: Emergency/Alert/Critical → critical, Error, Warning, and Notice/Informational/Debug → info. */
export function severityOf(p: PriorityName): Severity {
  return SEVERITY[p] ?? "info";
}

const TRAILING_SLASHES = /\/+$/;

/** `<base>` without trailing slashes, then `path` (which starts with `/`). */
export function joinUrl(base: string, path: string): string {
  return base.replace(TRAILING_SLASHES, "") + path;
}

/** The alert's page in the collector (`<collector_url>/api/v1/alerts/<id>`); undefined without a collector URL. */
export function alertLink(collectorUrl: string, id: string): string | undefined {
  if (collectorUrl === "") return undefined;
  return joinUrl(collectorUrl, `/api/v1/alerts/${encodeURIComponent(id)}`);
}

/** At most the `natural` batch of a destination, or fewer when the forwarder's `batch_size` says so. */
export function batchOf(natural: number, batchSize: number): number {
  return batchSize > 0 ? Math.min(natural, batchSize) : natural;
}

/** The text cut to at most `max` UTF-16 units, ending in `…` when cut, never inside a surrogate pair. */
export function truncateText(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  const c = s.charCodeAt(end - 1);
  if (end > 0 && c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

const CONTROL_RUNS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** The text on one line: each run of control characters (newlines, tabs, escapes) becomes one space. */
export function oneLine(s: string): string {
  return s.replace(CONTROL_RUNS, " ");
}

const CONTROL_RUNS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** The text with its line breaks kept and every other run of control characters (escape sequences, tabs, NULs) made one space. */
export function plainText(s: string): string {
  return s.replace(CONTROL_RUNS_BUT_NEWLINE, " ");
}

/**
 * JSON of `build(cap)` within `maxBytes` (UTF-8). `build` returns the document with each long
 * string cut to `cap` characters ({@link truncateText}); the whole document is tried first, then
 * the largest cap that fits is found by halving (a dozen tries at most). Undefined when even
 * cap 0 does not fit.
 */
export function fitJson(build: (cap: number) => unknown, maxBytes: number, maxCap: number): { json: string; cut: boolean } | undefined {
  const whole = JSON.stringify(build(Number.POSITIVE_INFINITY));
  if (Buffer.byteLength(whole) <= maxBytes) return { json: whole, cut: false };
  let best = JSON.stringify(build(0));
  if (Buffer.byteLength(best) > maxBytes) return undefined;
  let lo = 0;
  let hi = maxCap;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const j = JSON.stringify(build(mid));
    if (Buffer.byteLength(j) <= maxBytes) {
      lo = mid;
      best = j;
    } else hi = mid - 1;
  }
  return { json: best, cut: true };
}

/** A normalized alert time (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, UTC) or undefined when it is not a time. */
export function alertTime(t: string): { iso: string; ms: number; ns: string } | undefined {
  const iso = normalizeTime(t);
  if (iso === undefined) return undefined;
  const sec = Date.parse(`${iso.slice(0, 19)}Z`) / 1000;
  const frac = iso.slice(20, 29);
  return { iso, ms: sec * 1000 + Number(frac.slice(0, 3)), ns: (BigInt(sec) * 1_000_000_000n + BigInt(frac)).toString() };
}
