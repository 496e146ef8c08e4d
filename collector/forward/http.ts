// SPDX-License-Identifier: Apache-2.0
/**
 * The HTTP(S) client of the destinations: one keep-alive agent per scheme and destination (a
 * webhook URL that rotates may move from http to https), TLS from the forwarder's files (CA
 * bundle, client certificate), a deadline, the caller's abort signal, and a bounded response
 * body. A non-2xx answer becomes a {@link DeliveryError} ({@link statusError}): permanent or not
 * by {@link permanentStatus}, with the server's Retry-After. The error message carries the status
 * and the start of the body (destinations explain refusals there), never the request's headers,
 * and none of the secrets the caller names (its credentials, the parts of a secret URL): they are
 * removed from the body before it is cut, and from any other error.
 */
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { Agent as HttpAgent, request as httpRequest } from "../../proto/node-http.js";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Logger } from "pino";
import { DeliveryError, destinationWideStatus, permanentStatus, retryAfterMs } from "./destination.js";
import { fitText } from "./format.js";
import { redactError, redactText } from "./secrets.js";

/** TLS files of a forwarder. */
export interface TlsFiles {
  ca_file: string;
  cert_file: string;
  key_file: string;
}

/** An answer read in full (bounded). */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What {@link HttpClient.request} sends. */
export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal | undefined;
  /** Strings that must not show in an error (credentials, the parts of a secret URL). */
  secrets?: readonly string[];
}

/** Most response bytes kept (the rest is read and dropped). */
const MAX_RESPONSE_BYTES = 256 * 1024;
/** Most characters of a refusal's body in its error message. */
const EXCERPT_CHARS = 300;
const WHITESPACE_RUNS = /\s+/g;
const DESTINATION_WIDE_HINT = " (refused as configured: check the URL, credentials and permissions; retried until fixed)";

/**
 * The error for a refusal with `status` (undefined: a failure without a status): `what`, a hint
 * when the refusal is destination-wide, then the start of `text` on one line (sanitized, cut
 * saying so); permanent by {@link permanentStatus}. `text` must already be free of secrets.
 */
export function statusError(what: string, status: number | undefined, text: string, retryAfter?: number): DeliveryError {
  const hint = status !== undefined && destinationWideStatus(status) ? DESTINATION_WIDE_HINT : "";
  const line = text.replace(WHITESPACE_RUNS, " ").trim();
  const excerpt = line === "" ? "" : `: ${fitText(line, EXCERPT_CHARS, undefined, true)}`;
  return new DeliveryError(`${what}${hint}${excerpt}`, { permanent: status !== undefined && permanentStatus(status), retryAfterMs: retryAfter, status });
}

/** A keep-alive client for one destination. */
export class HttpClient {
  private http: HttpAgent | undefined;
  private https: HttpsAgent | undefined;

  /**
   * `baseUrl` says which scheme to prepare: for https the TLS files are read now, so an
   * unreadable CA fails the forwarder's start. A request to the other scheme makes its agent then.
   */
  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
    private readonly tls?: TlsFiles,
    logger?: Logger,
  ) {
    if (baseUrl.startsWith("https:")) this.https = this.httpsAgent();
    else {
      this.http = new HttpAgent({ keepAlive: true, maxSockets: 4 });
      if (tls !== undefined && (tls.ca_file !== "" || tls.cert_file !== "")) logger?.warn("tls settings have no effect on an http:// URL");
    }
  }

  private httpsAgent(): HttpsAgent {
    const tls = this.tls;
    const read = (f: string, what: string) => {
      try {
        return readFileSync(f);
      } catch (err) {
        throw new Error(`tls.${what} ${f}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
      }
    };
    if ((tls?.cert_file ?? "") !== "" && (tls?.key_file ?? "") === "") throw new Error("tls.cert_file needs tls.key_file");
    return new HttpsAgent({
      keepAlive: true,
      maxSockets: 4,
      ...(tls !== undefined && tls.ca_file !== "" ? { ca: read(tls.ca_file, "ca_file") } : {}),
      ...(tls !== undefined && tls.cert_file !== "" ? { cert: read(tls.cert_file, "cert_file"), key: read(tls.key_file, "key_file") } : {}),
    });
  }

  /**
   * Sends a request; resolves with a 2xx answer, rejects with a DeliveryError for any other
   * status, and with a retryable DeliveryError for a network failure or the deadline. No error
   * holds any of `o.secrets`.
   */
  async request(url: string, o: HttpRequest): Promise<HttpAnswer> {
    const secrets = o.secrets ?? [];
    try {
      return await this.send(url, o, secrets);
    } catch (err) {
      throw redactError(err, secrets);
    }
  }

  private send(url: string, o: HttpRequest, secrets: readonly string[]): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        reject(new DeliveryError("bad destination URL", { permanent: true }));
        return;
      }
      const secure = u.protocol === "https:";
      let agent: HttpAgent | HttpsAgent;
      try {
        if (secure) agent = this.https ??= this.httpsAgent();
        else if (u.protocol === "http:") agent = this.http ??= new HttpAgent({ keepAlive: true, maxSockets: 4 });
        else throw new Error("not an http:// or https:// URL");
      } catch (err) {
        reject(new DeliveryError(err instanceof Error ? err.message : String(err), { cause: err }));
        return;
      }
      const body = o.body === undefined ? undefined : typeof o.body === "string" ? Buffer.from(o.body) : o.body;
      const headers: Record<string, string | number> = { ...o.headers };
      if (body !== undefined) headers["content-length"] = body.length;
      const req = (secure ? httpsRequest : httpRequest)(
        u,
        { method: o.method ?? "POST", headers, agent, timeout: this.timeoutMs, ...(o.signal !== undefined ? { signal: o.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on("data", (c: Buffer) => {
            if (kept < MAX_RESPONSE_BYTES) {
              chunks.push(c.subarray(0, MAX_RESPONSE_BYTES - kept));
              kept += Math.min(c.length, MAX_RESPONSE_BYTES - kept);
            }
          });
          res.on("error", (err) => reject(new DeliveryError(`response failed: ${err.message}`, { cause: err })));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            if (status >= 200 && status < 300) {
              resolve({ status, headers: res.headers, body: text });
              return;
            }
            const ra = res.headers["retry-after"];
            reject(statusError(`HTTP ${status}`, status, redactText(text, secrets), retryAfterMs(Array.isArray(ra) ? ra[0] : ra)));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", (err) => reject(err instanceof DeliveryError ? err : new DeliveryError(`request failed: ${err.message}`, { cause: err })));
      req.end(body);
    });
  }

  close(): void {
    this.http?.destroy();
    this.https?.destroy();
  }
}
