// SPDX-License-Identifier: Apache-2.0
/**
 * One HTTP(S) request of a destination: keep-alive agent per destination, TLS from the
 * forwarder's files (CA bundle, client certificate), a deadline, the caller's abort signal, and a
 * bounded response body. A non-2xx answer becomes a {@link DeliveryError}: permanent for a 4xx
 * other than 408/425/429, retryable otherwise, with the server's Retry-After. The error message
 * carries the status and the start of the body (destinations explain refusals there), never the
 * request's headers (they hold credentials).
 */
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { DeliveryError, permanentStatus, retryAfterMs } from "./destination.js";

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

/** Most response bytes kept (the rest is read and dropped). */
const MAX_RESPONSE_BYTES = 256 * 1024;

/** A keep-alive client for one destination. */
export class HttpClient {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly secure: boolean;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
    tls?: TlsFiles,
  ) {
    this.secure = baseUrl.startsWith("https:");
    if (this.secure) {
      const read = (f: string, what: string) => {
        try {
          return readFileSync(f);
        } catch (err) {
          throw new Error(`tls.${what} ${f}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
        }
      };
      if ((tls?.cert_file ?? "") !== "" && (tls?.key_file ?? "") === "") throw new Error("tls.cert_file needs tls.key_file");
      this.agent = new HttpsAgent({
        keepAlive: true,
        maxSockets: 4,
        ...(tls !== undefined && tls.ca_file !== "" ? { ca: read(tls.ca_file, "ca_file") } : {}),
        ...(tls !== undefined && tls.cert_file !== "" ? { cert: read(tls.cert_file, "cert_file"), key: read(tls.key_file, "key_file") } : {}),
      });
    } else this.agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  }

  /**
   * Sends a request; resolves with a 2xx answer, rejects with a DeliveryError for any other
   * status, and with a retryable DeliveryError for a network failure or the deadline.
   */
  request(
    url: string,
    o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; signal?: AbortSignal | undefined },
  ): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        reject(new DeliveryError("bad destination URL", { permanent: true }));
        return;
      }
      const body = o.body === undefined ? undefined : typeof o.body === "string" ? Buffer.from(o.body) : o.body;
      const headers: Record<string, string | number> = { ...o.headers };
      if (body !== undefined) headers["content-length"] = body.length;
      const req = (this.secure ? httpsRequest : httpRequest)(
        u,
        { method: o.method ?? "POST", headers, agent: this.agent, timeout: this.timeoutMs, ...(o.signal !== undefined ? { signal: o.signal } : {}) },
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
            reject(
              new DeliveryError(`HTTP ${status}${text !== "" ? `: ${text.slice(0, 300).replace(/\s+/g, " ")}` : ""}`, {
                permanent: permanentStatus(status),
                retryAfterMs: retryAfterMs(Array.isArray(ra) ? ra[0] : ra),
                status,
              }),
            );
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", (err) => reject(err instanceof DeliveryError ? err : new DeliveryError(`request failed: ${err.message}`, { cause: err })));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
