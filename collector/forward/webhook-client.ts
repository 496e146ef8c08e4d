// SPDX-License-Identifier: Apache-2.0
/**
 * The POST side shared by the webhook-style destinations (Slack, Teams, the generic webhook),
 * whose URL may itself be the secret (a Slack or Teams webhook URL is a credential):
 *
 * - secrets (`url_*`, `token_*`, `hmac_key_*`) are read at creation, so a missing file stops the
 *   forwarder's start with an error naming the setting, and re-read before each request, so a
 *   rotated Kubernetes Secret is picked up without a restart; when a re-read fails the last good
 *   value stays in use and the failure is logged once;
 * - one keep-alive {@link HttpClient} per URL scheme (a rotated URL may move to https);
 * - every secret is removed from error messages (a server that echoes the request path or headers
 *   in its refusal must not put a credential into logs, the status API or the dead letters);
 * - refusals of the destination as a whole rather than of one message (401, 403, 404, 410: a
 *   revoked webhook, an archived channel, a wrong token) are retryable: the alerts wait in the
 *   store until the configuration is fixed instead of every one of them being dead-lettered.
 */
import type { Logger } from "pino";
import { DeliveryError, type DeliveryOutcome, readSecret } from "./destination.js";
import { HttpClient, type HttpAnswer, type TlsFiles } from "./http.js";

/**
 * A secret from `<setting>_file` / `<setting>_env` (or an inline value), re-read on each
 * {@link get}. Construction throws when it cannot be read (message names the setting only).
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

const REDACTED = "[redacted]";

/**
 * The error with each secret (and each secret's tail, when the message was cut inside it)
 * replaced by `[redacted]`; a DeliveryError keeps its kind, status and Retry-After.
 */
export function redactError(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof Error)) return err;
  let msg = err.message;
  for (const s of secrets) {
    if (s.length < 4) continue;
    if (msg.includes(s)) msg = msg.split(s).join(REDACTED);
    // a body cut at 300 characters may end inside a long secret: its start goes too
    if (s.length < 16) continue;
    for (let k = Math.min(s.length - 1, msg.length); k >= 8; k--) {
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

/** Statuses that refuse the destination's configuration, not one message: retried, never dead-lettered. */
const DESTINATION_WIDE = new Set([401, 403, 404, 410]);

/** A DeliveryError for a destination-wide refusal made retryable (others unchanged). */
export function retryDestinationWide(err: unknown): unknown {
  if (err instanceof DeliveryError && err.permanent && err.status !== undefined && DESTINATION_WIDE.has(err.status))
    return new DeliveryError(`destination refused (check its URL and credentials): ${err.message}`, { status: err.status, retryAfterMs: err.retryAfterMs });
  return err;
}

/** Options of {@link WebhookPoster}. */
export interface WebhookPosterOptions {
  url: RotatingSecret;
  timeoutMs: number;
  tls: TlsFiles;
  logger: Logger;
}

/** POSTs to a webhook URL that may rotate (see the module comment). */
export class WebhookPoster {
  private client: HttpClient;
  private secure: boolean;

  constructor(private readonly o: WebhookPosterOptions) {
    const url = o.url.get();
    this.secure = url.startsWith("https:");
    // reads the TLS files now: an unreadable CA fails the forwarder's start
    this.client = new HttpClient(url, o.timeoutMs, o.tls);
    if (!this.secure && (o.tls.ca_file !== "" || o.tls.cert_file !== "")) o.logger.warn("tls settings have no effect on an http:// URL");
  }

  /** The URL as now configured (for redaction by callers that add secrets of their own). */
  currentUrl(): string {
    return this.o.url.get();
  }

  /**
   * POSTs `body`; resolves with the 2xx answer, rejects with a DeliveryError whose message holds
   * none of `secrets` nor the URL's path and query.
   */
  async post(body: string | Buffer, headers: Record<string, string>, signal: AbortSignal | undefined, secrets: readonly string[] = []): Promise<HttpAnswer> {
    const url = this.o.url.get();
    const secure = url.startsWith("https:");
    if (secure !== this.secure) {
      this.client.close();
      this.client = new HttpClient(url, this.o.timeoutMs, this.o.tls);
      this.secure = secure;
    }
    try {
      return await this.client.request(url, { method: "POST", headers, body, signal });
    } catch (err) {
      throw retryDestinationWide(redactError(err, [...secrets, ...urlSecrets(url)]));
    }
  }

  close(): void {
    this.client.close();
  }
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

/** One request of a send covering some items of the batch (by index). */
export interface PostUnit {
  indices: readonly number[];
  send: () => Promise<void>;
}

/**
 * Sends the requests of one batch in order. When the first fails the error is thrown (the runner
 * retries, or narrows down a refusal); when a later one fails, the items already delivered stay
 * delivered and the rest come back as retryable failures (they are sent again as a new batch, in
 * which a refusal is then isolated as usual).
 */
export async function postInOrder(units: readonly PostUnit[]): Promise<DeliveryOutcome | undefined> {
  for (let u = 0; u < units.length; u++) {
    try {
      await units[u]!.send();
    } catch (err) {
      if (u === 0) throw err;
      const error = err instanceof Error ? err.message : String(err);
      return { failed: units.slice(u).flatMap((x) => x.indices.map((index) => ({ index, permanent: false, error }))) };
    }
  }
  return undefined;
}
