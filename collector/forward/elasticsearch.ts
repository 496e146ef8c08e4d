// SPDX-License-Identifier: Apache-2.0
/**
 * Elasticsearch / OpenSearch destination: the bulk API, `POST <url>/_bulk` with NDJSON
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html,
 * https://opensearch.org/docs/latest/api-reference/document-apis/bulk/): for each alert a
 * `{"create":{"_index":"<index_prefix>-YYYY.MM.DD","_id":"<alert ID>"}}` line (the day of the
 * alert's time, UTC) and the document. `create` with the alert ID makes a resend a no-op: the
 * second copy answers 409 (version conflict), which counts as delivered.
 *
 * The document: `@timestamp` (the alert's time), the alert in Falco's JSON shape with `id`, and
 * `count` (how many alerts it stands for, > 1 when repeats were grouped). Output field names lose
 * their dots (`container.image.repository` → `container_image_repository`): Elasticsearch reads
 * a dotted name as an object path, and Falco has both `container.image` (a string) and
 * `container.image.repository`, which cannot map in one index.
 *
 * Per-item answers, by `permanentStatus` like a whole request's: 200/201 delivered, 409 delivered
 * (a resend); 429 and 5xx retried; 404 (`index_not_found_exception`: the day's index is missing
 * and `action.auto_create_index` does not allow it, reported per item since
 * https://github.com/elastic/elasticsearch/pull/24048) and 401/403 (`security_exception`: the
 * user lacks `create_doc` or `auto_configure` on the index) refuse every item alike, so they are
 * retried until the cluster is fixed rather than dead-lettered; any other 4xx (mapping and parse
 * errors: 400) refused for good. A batch is split into requests of about
 * 8 MiB (under `http.max_content_length`); when a later request fails, its items and those after
 * it are retried. The answer is asked with `filter_path` (status and error only) and read
 * item by item, so a long answer cut at the HTTP client's limit still settles the items it shows
 * (the rest are retried, and answer 409 then). Basic auth or `Authorization: ApiKey <api_key>`.
 */
import { Buffer } from "node:buffer";
import type { Logger } from "pino";
import { batchOf, type DeliveryItem, type Destination, type ItemFailure, permanentStatus } from "./destination.js";
import { alertTime, fitText, joinUrl } from "./format.js";
import { HttpClient } from "./http.js";
import { Credentials } from "./secrets.js";
import { alertToJson, type AlertFieldValue, type ForwarderOf } from "../../proto/index.js";

const NATURAL_BATCH = 500;
/** About this many bytes per bulk request. */
export const BULK_MAX_BYTES = 8 * 1024 * 1024;
const ERROR_MAX = 512;
const DOTS = /\./g;
const COLON = /^\s*:\s*/;
const FILTER = "filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason";

/** The index and document of an item (exported for tests); undefined when its time is not valid. */
export function elasticsearchDocument(item: DeliveryItem, indexPrefix: string): { index: string; doc: Record<string, unknown> } | undefined {
  const a = item.alert;
  const t = alertTime(a.time);
  if (t === undefined) return undefined;
  const fields: Record<string, AlertFieldValue> = {};
  for (const [name, v] of Object.entries(a.output_fields)) fields[name === "" ? "_" : name.replace(DOTS, "_")] = v;
  const doc: Record<string, unknown> = { "@timestamp": t.iso, ...alertToJson(a), output_fields: fields, count: item.count };
  return { index: `${indexPrefix}-${t.iso.slice(0, 4)}.${t.iso.slice(5, 7)}.${t.iso.slice(8, 10)}`, doc };
}

/**
 * The per-item results of a bulk answer, in request order, read one item at a time so that an
 * answer cut short still yields its first items. `errors` is the answer's flag when it could be
 * read (false: every item succeeded).
 */
export function bulkItems(body: string): { errors: boolean | undefined; items: { status: number; type: string; reason: string }[] } {
  const items: { status: number; type: string; reason: string }[] = [];
  const errorsAt = body.indexOf('"errors"');
  let errors: boolean | undefined;
  if (errorsAt >= 0) {
    const rest = body.slice(errorsAt + 8, errorsAt + 24).replace(COLON, "");
    errors = rest.startsWith("true") ? true : rest.startsWith("false") ? false : undefined;
  }
  const itemsAt = body.indexOf('"items"');
  const open = itemsAt < 0 ? -1 : body.indexOf("[", itemsAt);
  if (open < 0) return { errors, items };
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = open + 1; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) break; // the end of the items array
      depth--;
      if (depth === 0) {
        let o: unknown;
        try {
          o = JSON.parse(body.slice(start, i + 1));
        } catch {
          break;
        }
        const r = o !== null && typeof o === "object" ? Object.values(o as Record<string, unknown>)[0] : undefined;
        const rr = (r !== null && typeof r === "object" ? r : {}) as { status?: unknown; error?: unknown };
        const e = (rr.error !== null && typeof rr.error === "object" ? rr.error : {}) as { type?: unknown; reason?: unknown };
        items.push({
          status: typeof rr.status === "number" ? rr.status : 0,
          type: typeof e.type === "string" ? e.type : typeof rr.error === "string" ? rr.error : "",
          reason: typeof e.reason === "string" ? e.reason : "",
        });
      }
    }
  }
  return { errors, items };
}

/** Makes the Elasticsearch (or OpenSearch) destination of a forwarder. */
export function createElasticsearchDestination(cfg: ForwarderOf<"elasticsearch">, ctx: { logger: Logger }): Destination {
  if (cfg.url === "") throw new Error("url is required (the Elasticsearch or OpenSearch base URL)");
  const creds = new Credentials(cfg, ctx.logger);
  const url = `${joinUrl(cfg.url, "/_bulk")}?${FILTER}`;
  const http = new HttpClient(cfg.url, cfg.timeout_ms, cfg.tls, ctx.logger);
  const log = ctx.logger;

  /** Sends one bulk request; the failures of its items (indexes into the batch). */
  const bulk = async (lines: string[], indexes: number[], signal: AbortSignal): Promise<ItemFailure[]> => {
    const headers: Record<string, string> = { "content-type": "application/x-ndjson", accept: "application/json" };
    const auth = creds.authorization();
    if (auth !== undefined) headers["authorization"] = auth;
    const r = bulkItems((await http.request(url, { headers, body: lines.join(""), signal, secrets: creds.secrets() })).body);
    if (r.errors === false) return [];
    const failed: ItemFailure[] = [];
    indexes.forEach((index, i) => {
      const it = r.items[i];
      if (it === undefined) {
        failed.push({ index, permanent: false, error: "the bulk answer did not say how this item went (cut short or unreadable)" });
        return;
      }
      // 409: a document with this ID is already there, a resend of a delivered alert
      if ((it.status >= 200 && it.status < 300) || it.status === 409) return;
      const error = fitText(`HTTP ${it.status}${it.type !== "" ? ` ${it.type}` : ""}${it.reason !== "" ? `: ${it.reason}` : ""}`, ERROR_MAX, undefined, true);
      failed.push({ index, permanent: permanentStatus(it.status), error });
    });
    return failed;
  };

  return {
    maxBatch: batchOf(NATURAL_BATCH, cfg.batch_size),
    async send(items, signal) {
      const failed: ItemFailure[] = [];
      // requests of about BULK_MAX_BYTES, built one at a time (memory stays near one request)
      let lines: string[] = [];
      let indexes: number[] = [];
      let bytes = 0;
      let requests = 0;
      const flush = async (): Promise<boolean> => {
        if (indexes.length === 0) return true;
        try {
          failed.push(...(await bulk(lines, indexes, signal)));
        } catch (err) {
          if (requests === 0) throw err;
          // the earlier requests are stored: only this one and the rest are retried
          const error = err instanceof Error ? err.message : String(err);
          const sent = new Set(indexes);
          for (const index of indexes) failed.push({ index, permanent: false, error });
          for (let i = (indexes.at(-1) ?? 0) + 1; i < items.length; i++) if (!sent.has(i)) failed.push({ index: i, permanent: false, error });
          return false;
        }
        requests++;
        lines = [];
        indexes = [];
        bytes = 0;
        return true;
      };
      for (let i = 0; i < items.length; i++) {
        const d = elasticsearchDocument(items[i]!, cfg.index_prefix);
        if (d === undefined) {
          failed.push({ index: i, permanent: true, error: "no valid time" });
          continue;
        }
        const action = `${JSON.stringify({ create: { _index: d.index, _id: items[i]!.alert.id } })}\n`;
        const source = `${JSON.stringify(d.doc)}\n`;
        const n = Buffer.byteLength(action) + Buffer.byteLength(source);
        if (bytes > 0 && bytes + n > BULK_MAX_BYTES && !(await flush())) return { failed };
        lines.push(action, source);
        indexes.push(i);
        bytes += n;
      }
      if (!(await flush())) return { failed };
      log.debug({ items: items.length, failed: failed.length, requests }, "bulk sent to elasticsearch");
      return { failed };
    },
    close() {
      http.close();
    },
  };
}
