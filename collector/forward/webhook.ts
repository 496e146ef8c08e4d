// SPDX-License-Identifier: Apache-2.0
/**
 * The generic webhook: alerts as Falco's JSON, `POST <url>` with `Content-Type: application/json`.
 *
 * - `mode: single` (default): one alert per request, the body exactly what Falco's `http_output`
 *   posts with `json_output: true` (https://falco.org/docs/concepts/outputs/channels/#http-output):
 *   `uuid` (the alert ID), `output`, `priority`, `rule`, `time`, `output_fields`, `source`,
 *   `tags`, `hostname` (and `blocked` when a prevention rule stopped the action), so a receiver
 *   written for Falco takes it unchanged. `maxBatch` is 1.
 * - `mode: batch`: a JSON array of those objects, up to `batch_size` alerts (100 by default) and
 *   4 MiB per request; a batch larger than that goes as several requests, in order.
 * - Grouped repeats carry `"count": N` (N > 1) beside Falco's keys.
 *
 * Headers: `headers` from the configuration (not secrets; the ones below cannot be overridden),
 * `Authorization: Bearer <token>` from `token_file`/`token_env`, `User-Agent: vigil-forwarder`,
 * and in single mode `Idempotency-Key: <alert ID>`: a resend after a timeout or a collector
 * restart carries the same key (and the same `uuid`), so a receiver can drop the duplicate. In
 * batch mode each element's `uuid` is the key.
 *
 * Signature (when `hmac_key_file`/`hmac_key_env` is set). Each request carries
 *
 *     X-Vigil-Timestamp: <t>                 (Unix time in seconds when the request was made)
 *     <signature_header>: sha256=<hex>       (X-Vigil-Signature by default)
 *
 * where `<hex>` is the lowercase hex HMAC-SHA256, keyed with the secret's bytes (UTF-8, without
 * the file's final newline), of `<t>` + `.` + the exact request body bytes. A receiver:
 * (1) reads the raw body before any JSON parsing; (2) computes the HMAC of
 * `X-Vigil-Timestamp + "." + body` with the shared key and compares it with the header's hex in
 * constant time; (3) refuses a timestamp more than 5 minutes from its clock, so a captured request
 * cannot be replayed later; (4) within that window drops a repeated `Idempotency-Key` / `uuid`,
 * which also makes Vigil's at-least-once resends harmless. The timestamp is signed with the body,
 * so it cannot be refreshed by an attacker; a retry by Vigil is signed anew with a new timestamp.
 */
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import { alertToFalcoJson, type ForwarderOf } from "../../proto/index.js";
import { type DeliveryItem, type DeliveryOutcome, type Destination, type PostUnit, postInOrder } from "./destination.js";
import { HttpClient } from "./http.js";
import { RotatingSecret, urlProblem, urlSecrets } from "./secrets.js";

/** The header with the signed timestamp. */
export const TIMESTAMP_HEADER = "X-Vigil-Timestamp";
/** The header with the alert ID in single mode. */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Alerts per request in batch mode when `batch_size` is 0. */
export const DEFAULT_BATCH = 100;
/** Largest body of one request in batch mode (a larger batch is split; one alert is never split). */
export const MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024;

/** `sha256=<hex>` of HMAC-SHA256(key, `<timestamp>.<body>`): the scheme in the module comment. */
export function webhookSignature(key: string, timestamp: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", key).update(`${timestamp}.`).update(body).digest("hex")}`;
}

/** One item as Falco's JSON alert, with `count` when repeats were grouped. */
export function webhookAlert(item: DeliveryItem): Record<string, unknown> {
  const o = alertToFalcoJson(item.alert);
  if (item.count > 1) o["count"] = item.count;
  return o;
}

/** Headers the destination sets itself (lowercase). */
const RESERVED = new Set([
  "content-type",
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  "keep-alive",
  "expect",
  "upgrade",
  "te",
  "trailer",
  "authorization",
  "idempotency-key",
  TIMESTAMP_HEADER.toLowerCase(),
]);
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** The webhook destination of a forwarder. */
export function createWebhookDestination(cfg: ForwarderOf<"webhook">, ctx: { logger: Logger }): Destination {
  const url = new RotatingSecret("url", cfg.url_file, cfg.url_env, cfg.url, ctx.logger, urlProblem);
  if (!url.present) throw new Error("webhook: set url, url_file or url_env");
  const sigHeader = cfg.signature_header;
  const fixed: Record<string, string> = {};
  for (const [name, value] of Object.entries(cfg.headers)) {
    const lower = name.toLowerCase();
    if (RESERVED.has(lower) || lower === sigHeader.toLowerCase())
      throw new Error(`webhook: headers.${name} is set by the forwarder${lower === "authorization" ? " (use token_file or token_env)" : ""}`);
    if (!HEADER_VALUE.test(value)) throw new Error(`webhook: headers.${name} has a character not allowed in a header (printable ASCII only)`);
    fixed[lower] = value;
  }
  if (RESERVED.has(sigHeader.toLowerCase())) throw new Error(`webhook: signature_header ${sigHeader} is a header the forwarder sets itself`);
  const token = new RotatingSecret("token", cfg.token_file, cfg.token_env, "", ctx.logger, (v) =>
    TOKEN_CHARS.test(v) ? undefined : "must be printable ASCII without spaces",
  );
  const hmacKey = new RotatingSecret("hmac_key", cfg.hmac_key_file, cfg.hmac_key_env, "", ctx.logger);
  const http = new HttpClient(url.get(), cfg.timeout_ms, cfg.tls, ctx.logger);
  fixed["content-type"] = "application/json";
  fixed["user-agent"] ??= "vigil-forwarder";
  const single = cfg.mode === "single";

  const post = async (body: Buffer, idempotencyKey: string | undefined, signal: AbortSignal) => {
    const headers: Record<string, string> = { ...fixed };
    const t = token.get();
    const key = hmacKey.get();
    if (t !== "") headers["authorization"] = `Bearer ${t}`;
    const ts = String(Math.floor(Date.now() / 1000));
    headers[TIMESTAMP_HEADER] = ts;
    if (key !== "") headers[sigHeader] = webhookSignature(key, ts, body);
    if (idempotencyKey !== undefined) headers[IDEMPOTENCY_HEADER] = idempotencyKey;
    const u = url.get();
    await http.request(u, { headers, body, signal, secrets: [t, key, ...urlSecrets(u)] });
  };

  return {
    maxBatch: single ? 1 : cfg.batch_size > 0 ? cfg.batch_size : DEFAULT_BATCH,
    send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome | undefined> {
      const units: PostUnit[] = [];
      if (single) {
        items.forEach((item, index) => {
          units.push({ indices: [index], send: () => post(Buffer.from(JSON.stringify(webhookAlert(item))), item.alert.id, signal) });
        });
      } else {
        let parts: string[] = [];
        let indices: number[] = [];
        let bytes = 2;
        const flush = () => {
          if (parts.length === 0) return;
          const body = Buffer.from(`[${parts.join(",")}]`);
          units.push({ indices, send: () => post(body, undefined, signal) });
          parts = [];
          indices = [];
          bytes = 2;
        };
        items.forEach((item, index) => {
          const json = JSON.stringify(webhookAlert(item));
          const size = Buffer.byteLength(json) + 1;
          if (parts.length > 0 && bytes + size > MAX_BATCH_BODY_BYTES) flush();
          parts.push(json);
          indices.push(index);
          bytes += size;
        });
        flush();
      }
      return postInOrder(units);
    },
    close: () => http.close(),
  };
}
