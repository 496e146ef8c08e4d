// SPDX-License-Identifier: Apache-2.0
/**
 * A destination's secrets (a webhook URL that is itself a credential, a token, a password, an API
 * key, a routing key, an HMAC key) and keeping them out of error messages:
 *
 * - each secret is read at creation, so a missing file stops the forwarder's start with an error
 *   naming the setting (never the value), and re-read before each request, so a rotated
 *   Kubernetes Secret is picked up without a restart; when a re-read fails the last good value
 *   stays in use and the failure is logged once ({@link RotatingSecret});
 * - HTTP authentication (basic, bearer or an Elasticsearch API key) from those secrets
 *   ({@link Credentials});
 * - every secret, and each part of a secret URL, is removed from error messages (a server that
 *   echoes the request's path, headers or body in its refusal must not put a credential into
 *   logs, metrics, the status API or the dead letters: {@link redactError}).
 */
import { Buffer } from "node:buffer";
import type { Logger } from "pino";
import { DeliveryError, readSecret } from "./destination.js";

/**
 * A secret from `<setting>_file` / `<setting>_env` (or an inline value), re-read on each
 * {@link get}. Construction throws when it cannot be read or `check` refuses it (the message
 * names the setting only).
 */
export class RotatingSecret {
  private value: string;
  private failing = "";

  constructor(
    private readonly setting: string,
    private readonly file: string,
    private readonly env: string,
    private readonly inline: string,
    private readonly logger: Logger,
    private readonly check?: (v: string) => string | undefined,
  ) {
    this.value = this.read();
  }

  /** Whether the setting has any value (file, variable or inline). */
  get present(): boolean {
    return this.file !== "" || this.env !== "" || this.inline !== "";
  }

  private read(): string {
    const v = readSecret(this.setting, this.file, this.env, this.inline);
    const bad = v !== "" && this.check !== undefined ? this.check(v) : undefined;
    if (bad !== undefined) throw new Error(`${this.setting}: ${bad}`);
    return v;
  }

  /** The current value (re-read from its file or variable). */
  get(): string {
    if (this.file === "" && this.env === "") return this.value;
    try {
      this.value = this.read();
      if (this.failing !== "") this.logger.info({ setting: this.setting }, "secret readable again");
      this.failing = "";
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== this.failing) this.logger.warn({ setting: this.setting, err: msg }, "secret re-read failed; the last value stays in use");
      this.failing = msg;
    }
    return this.value;
  }
}

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

const set = (v: string | undefined): boolean => v !== undefined && v !== "";

/**
 * How a destination authenticates: HTTP basic (`user` + `password_*`), a bearer token
 * (`token_*`), or an Elasticsearch API key (`api_key_*`, `Authorization: ApiKey <key>`), at most
 * one of them, each a {@link RotatingSecret}.
 */
export class Credentials {
  /** The secret, and the header value for its value with the strings that must not show in errors. */
  private readonly auth: { secret: RotatingSecret; header: (v: string) => { value: string; secrets: string[] } } | undefined;
  private current: string[] = [];

  constructor(s: CredentialSettings, logger: Logger) {
    const user = set(s.user);
    const pw = set(s.password_file) || set(s.password_env);
    const token = set(s.token_file) || set(s.token_env);
    const key = set(s.api_key_file) || set(s.api_key_env);
    if ([user || pw, token, key].filter(Boolean).length > 1) throw new Error("set one way to authenticate: user with password_*, token_* or api_key_*");
    if (user && !pw) throw new Error("user needs password_file or password_env");
    if (pw && !user) throw new Error("password_file/password_env need user");
    if (user && (s.user as string).includes(":")) throw new Error("user must not contain ':' (HTTP basic authentication)");
    const secret = (setting: string, file: string | undefined, env: string | undefined) => new RotatingSecret(setting, file ?? "", env ?? "", "", logger);
    if (user)
      this.auth = {
        secret: secret("password", s.password_file, s.password_env),
        header: (p) => {
          const b64 = Buffer.from(`${s.user}:${p}`).toString("base64");
          return { value: `Basic ${b64}`, secrets: [p, b64] };
        },
      };
    else if (token) this.auth = { secret: secret("token", s.token_file, s.token_env), header: (t) => ({ value: `Bearer ${t}`, secrets: [t] }) };
    else if (key) this.auth = { secret: secret("api_key", s.api_key_file, s.api_key_env), header: (k) => ({ value: `ApiKey ${k}`, secrets: [k] }) };
    else this.auth = undefined;
    this.authorization();
  }

  /** The `Authorization` header value with the secret re-read now; undefined without credentials. */
  authorization(): string | undefined {
    if (this.auth === undefined) return undefined;
    const h = this.auth.header(this.auth.secret.get());
    this.current = h.secrets;
    return h.value;
  }

  /** The secrets as last read, raw and as sent, for {@link redactError}. */
  secrets(): readonly string[] {
    return this.current;
  }
}

/** Why a URL is not usable as a destination (never echoing it: it may hold a secret). */
export function urlProblem(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return "not a URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "not an http:// or https:// URL";
  if (u.username !== "" || u.password !== "") return "credentials in the URL are not supported";
  return undefined;
}

/** The parts of a URL that may be secret: the whole, and its path with the query (a Slack webhook's key is its path). */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const out = [url];
    const pq = u.pathname + u.search;
    if (pq.length >= 8) out.push(pq);
    // each long path segment on its own (an echo may show one decoded or alone)
    for (const seg of u.pathname.split("/")) if (seg.length >= 8) out.push(seg, decodeURIComponentSafe(seg));
    for (const v of u.searchParams.values()) if (v.length >= 8) out.push(v);
    return out;
  } catch {
    return [url];
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const REDACTED = "[redacted]";
/**
 * Shortest start of a secret removed from the end of a text that was cut inside it: long enough
 * that an ordinary word is not taken for one (`no_service` is not the start of a `/services/`
 * path). The HTTP client removes secrets before it cuts a body, so this is only a backstop.
 */
const MIN_TAIL = 8;

/**
 * The text with each secret replaced by `[redacted]`, and a text that ends inside a secret (it
 * was cut short there) without that secret's start (at least {@link MIN_TAIL} characters of it).
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let msg = text;
  for (const s of secrets) {
    if (s === "") continue;
    if (msg.includes(s)) msg = msg.split(s).join(REDACTED);
    for (let k = Math.min(s.length - 1, msg.length); k >= MIN_TAIL; k--) {
      if (msg.endsWith(s.slice(0, k))) {
        msg = msg.slice(0, msg.length - k) + REDACTED;
        break;
      }
    }
  }
  return msg;
}

/**
 * The error with every secret removed from its message ({@link redactText}); a DeliveryError
 * keeps its kind, status and Retry-After, any other error becomes a retryable one. The cause is
 * dropped when anything was removed (it may hold the same text).
 */
export function redactError(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof Error)) return err;
  const msg = redactText(err.message, secrets);
  if (msg === err.message) return err;
  if (err instanceof DeliveryError) return new DeliveryError(msg, { permanent: err.permanent, retryAfterMs: err.retryAfterMs, status: err.status });
  return new DeliveryError(msg);
}
