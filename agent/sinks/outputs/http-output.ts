// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `http_output`: each alert POSTed to `url` on its own, the body Falco's JSON
 * (`Content-Type: application/json`) with `output.json`, else its text line (`text/plain`), as
 * Falco sends them. Vigil adds the alert's ID as `uuid` to the JSON (falcosidekick's key), so a
 * receiver can drop the duplicate a retry may make.
 *
 * - TLS: the server verified against `ca_cert`, `ca_bundle` and the certificates in `ca_path`
 *   together when any is set (else the system's roots), or not at all with `insecure`; `mtls`
 *   presents `client_cert`/`client_key`. Files are read when the output starts (a bad path is a
 *   configuration error at once).
 * - `compress_uploads`: bodies gzipped (`Content-Encoding: gzip`).
 * - `keep_alive`: connections reused; else one per request.
 * - Custom `headers` (a token, say) and `user_agent`. Header values are never logged; the URL is
 *   logged without credentials, query or fragment.
 * - Failures: a network error, a 5xx, 408 or 429 is retried with exponential backoff and jitter
 *   (a longer Retry-After wins), the alert staying at the head of the queue while new ones wait
 *   (the oldest dropped and counted past the capacity). A request without an answer within
 *   `output.timeout_ms` is a timeout; after `max_consecutive_timeouts` in a row on one alert it is
 *   given up (counted failed), as Falco gives up after that many. Any other status (4xx) counts the
 *   alert failed at once: sending it again would not help.
 * - `echo`: the server's answers printed on stdout (at most 64 KiB each).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Agent as HttpAgent, request as httpRequest } from "../../../proto/node-http.js";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Logger } from "pino";
import type { Alert } from "../../../proto/index.js";
import type { HttpSinkConfig, OutputConfig } from "../../config/outputs-schema.js";
import { falcoContentType, formatFalco } from "./falco-format.js";
import { QueuedOutput, RetryableError } from "./queued-output.js";

/** Most bytes of an answer read (echo, error messages). */
const MAX_ANSWER = 64 * 1024;

function readConfigFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`http_output ${setting} ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

/** Every certificate file of a directory (PEM), for `ca_path`. */
function certsInDir(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`http_output ca_path ${dir}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
  const out: Buffer[] = [];
  for (const n of names.sort()) {
    const p = join(dir, n);
    try {
      if (!statSync(p).isFile()) continue;
      const b = readFileSync(p);
      if (b.includes("-----BEGIN CERTIFICATE-----")) out.push(b);
    } catch {
      // a dangling link or an unreadable file in a certificate directory is skipped, as OpenSSL does
    }
  }
  return out;
}

/** The URL as it may be logged: no credentials, query or fragment. */
export function redactUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** Retry-After (seconds or an HTTP date) in ms. */
function retryAfterMs(v: string | string[] | undefined): number | undefined {
  if (typeof v !== "string") return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

class TimeoutError extends RetryableError {}

export class HttpOutput extends QueuedOutput {
  readonly name = "http_output";
  private readonly url: URL;
  private readonly where: string;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly headers: Record<string, string>;
  private consecutiveTimeouts = 0;

  constructor(
    private readonly cfg: HttpSinkConfig,
    private readonly output: OutputConfig,
    logger: Logger,
    private readonly echoOut: NodeJS.WritableStream = process.stdout,
  ) {
    super({
      capacity: output.queue_capacity,
      maxBatch: 1,
      retry: { minMs: cfg.retry_min_ms, maxMs: Math.max(cfg.retry_min_ms, cfg.retry_max_ms) },
      logger: logger.child({ output: "http_output" }),
    });
    let url: URL;
    try {
      url = new URL(cfg.url);
    } catch {
      throw new Error("http_output url: not a URL (expected http:// or https://)");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`http_output url: expected http:// or https://, not ${url.protocol}//`);
    this.url = url;
    this.where = redactUrl(url);
    for (const [k, v] of Object.entries(cfg.headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new Error(`http_output headers: ${JSON.stringify(k)} is not a header name`);
      if (/[\r\n\0]/.test(v)) throw new Error(`http_output headers: the value of ${k} holds a line break or NUL`);
    }
    this.headers = {
      ...cfg.headers,
      "Content-Type": falcoContentType(output),
      "User-Agent": cfg.user_agent,
      ...(cfg.compress_uploads ? { "Content-Encoding": "gzip" } : {}),
    };
    if (url.protocol === "https:") {
      const ca: Buffer[] = [];
      if (cfg.ca_cert !== "") ca.push(readConfigFile("ca_cert", cfg.ca_cert));
      if (cfg.ca_bundle !== "") ca.push(readConfigFile("ca_bundle", cfg.ca_bundle));
      if (cfg.ca_path !== "") ca.push(...certsInDir(cfg.ca_path));
      if (cfg.mtls && (cfg.client_cert === "" || cfg.client_key === "")) throw new Error("http_output mtls: client_cert and client_key are required");
      this.agent = new HttpsAgent({
        keepAlive: cfg.keep_alive,
        maxSockets: 1,
        minVersion: "TLSv1.2",
        rejectUnauthorized: !cfg.insecure,
        ...(ca.length > 0 ? { ca } : {}),
        ...(cfg.mtls ? { cert: readConfigFile("client_cert", cfg.client_cert), key: readConfigFile("client_key", cfg.client_key) } : {}),
      });
    } else {
      if (cfg.mtls) throw new Error("http_output mtls needs an https:// url");
      this.agent = new HttpAgent({ keepAlive: cfg.keep_alive, maxSockets: 1 });
    }
  }

  protected async deliver(batch: readonly Alert[], signal: AbortSignal): Promise<void> {
    for (const a of batch) {
      const text = formatFalco(a, { ...this.output, uuid: true });
      const body = this.cfg.compress_uploads ? gzipSync(text) : Buffer.from(text, "utf8");
      try {
        await this.post(body, signal);
        this.consecutiveTimeouts = 0;
      } catch (err) {
        if (err instanceof TimeoutError) {
          this.consecutiveTimeouts++;
          if (this.consecutiveTimeouts >= this.cfg.max_consecutive_timeouts) {
            this.consecutiveTimeouts = 0;
            throw new Error(`${this.where}: ${this.cfg.max_consecutive_timeouts} timeouts in a row: alert given up`);
          }
        }
        throw err;
      }
    }
  }

  private post(body: Buffer, signal: AbortSignal): Promise<void> {
    const req = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve();
      };
      const r = req(
        this.url,
        { method: "POST", agent: this.agent, headers: { ...this.headers, "Content-Length": String(body.length) } },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            if (size < MAX_ANSWER) chunks.push(c);
            size += c.length;
          });
          res.on("error", (e) => finish(new RetryableError(`${this.where}: ${e.message}`, { cause: e })));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const answer = Buffer.concat(chunks).subarray(0, MAX_ANSWER).toString("utf8");
            if (this.cfg.echo && answer !== "") this.echoOut.write(`${answer}\n`);
            if (status >= 200 && status < 300) return finish();
            const what = `${this.where}: HTTP ${status}`;
            if (status >= 500 || status === 429 || status === 408) {
              const ra = retryAfterMs(res.headers["retry-after"]);
              return finish(new RetryableError(what, ra !== undefined ? { retryAfterMs: ra } : undefined));
            }
            finish(new Error(`${what} ${answer.slice(0, 200).replace(/[\r\n]+/g, " ")}`));
          });
        },
      );
      const timer = setTimeout(() => {
        r.destroy();
        finish(new TimeoutError(`${this.where}: no answer within ${this.output.timeout_ms} ms`));
      }, this.output.timeout_ms);
      const onAbort = () => {
        r.destroy();
        finish(new Error("output shutting down"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      r.on("error", (e: NodeJS.ErrnoException) => finish(new RetryableError(`${this.where}: ${e.code ?? ""} ${e.message}`.replace(/\s+/g, " "), { cause: e })));
      r.end(body);
    });
  }

  protected async close(): Promise<void> {
    this.agent.destroy();
  }
}
