// SPDX-License-Identifier: Apache-2.0
/**
 * Grafana Loki destination: the push API, `POST <url>/loki/api/v1/push` with a JSON body
 * (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs):
 * `{"streams":[{"stream":{labels},"values":[["<ns epoch>","<line>"],...]}]}`; the line is the
 * alert in Falco's JSON shape (`count` added when repeats were grouped, `truncated` when long
 * strings had to be cut). `X-Scope-OrgID` carries `tenant`; basic auth or a bearer token.
 *
 * Stream labels, kept few and of bounded cardinality (every distinct label set is a stream
 * Loki indexes and keeps in memory; its docs warn against labels of unbounded values):
 * `source` (a handful of event sources), `priority` (8 values, and a rule has one, so it
 * adds no streams), `rule` (the loaded rules), `node` (the cluster's nodes) and `namespace`
 * when the alert has one (the cluster's namespaces), then the forwarder's `labels` for names the
 * alert does not set. Pod, container, image, process fields, tags and the alert ID change with
 * every workload or alert: they stay in the line, where `| json` reaches them.
 *
 * Limits (Loki's defaults): a line over 256 KB is refused, so the line's long strings are cut to
 * fit; label values over 2048 characters are refused (cut at 1024); 15 labels per stream (a
 * warning at start when the extra labels pass it). Each stream's entries go in time order
 * (Loki before 2.4, or with `unordered_writes: false`, refuses an entry older than its stream's
 * last), and a batch is split into pushes of about 1 MiB (a push larger than the tenant's
 * `ingestion_burst_size_mb` is refused for good). When a later push of a split batch fails,
 * only its items and those after it are retried.
 *
 * Loki has no idempotency key: a resend can store a line twice (Loki drops only an exact
 * duplicate of a stream's previous entry). A push Loki refuses with 400 stores its valid entries
 * anyway; the runner then sends halves to find the bad one, so those can repeat too.
 */
import { Buffer } from "node:buffer";
import type { Logger } from "pino";
import { batchOf, type DeliveryItem, type Destination, type ItemFailure, type PostUnit, postInOrder } from "./destination.js";
import { alertTime, cutAlertStrings, fitJson, joinUrl, longestAlertString, truncateText } from "./format.js";
import { HttpClient } from "./http.js";
import { Credentials } from "./secrets.js";
import { alertKeys } from "../filter.js";
import { alertToFalcoJson, type ForwarderOf } from "../../proto/index.js";

const NATURAL_BATCH = 500;
/** Loki's default `max_line_size` (256KB). */
export const LINE_MAX_BYTES = 256 * 1024;
/** About this many bytes of lines per push. */
export const PUSH_MAX_BYTES = 1024 * 1024;
const LABEL_VALUE_MAX = 1024;
/** Loki's default `max_label_names_per_series`. */
const LABELS_MAX = 15;

/** One entry on its way to a stream. */
interface Entry {
  index: number;
  iso: string;
  ns: string;
  line: string;
  bytes: number;
}

/** The stream labels of an alert (exported for tests). */
export function lokiLabels(item: DeliveryItem, extra: Readonly<Record<string, string>>): Record<string, string> {
  const a = item.alert;
  const labels: Record<string, string> = {};
  const put = (name: string, v: string | null) => {
    if (v !== null && v !== "") labels[name] = truncateText(v, LABEL_VALUE_MAX);
  };
  put("source", a.source);
  put("priority", a.priority);
  put("rule", a.rule);
  put("node", a.hostname);
  put("namespace", alertKeys(a).namespace);
  for (const [name, v] of Object.entries(extra)) if (!(name in labels) && v !== "") labels[name] = truncateText(v, LABEL_VALUE_MAX);
  return labels;
}

/** The log line of an item: Falco's JSON, at most {@link LINE_MAX_BYTES}; undefined when it cannot fit. */
export function lokiLine(item: DeliveryItem): string | undefined {
  const a = item.alert;
  const base = alertToFalcoJson(a);
  const build = (cap: number) => {
    if (cap === Number.POSITIVE_INFINITY) return item.count > 1 ? { ...base, count: item.count } : base;
    const o: Record<string, unknown> = { ...base, ...cutAlertStrings(a, cap) };
    if (item.count > 1) o["count"] = item.count;
    o["truncated"] = true;
    return o;
  };
  return fitJson(build, LINE_MAX_BYTES, longestAlertString(a))?.json;
}

/** Makes the Loki destination of a forwarder. */
export function createLokiDestination(cfg: ForwarderOf<"loki">, ctx: { logger: Logger }): Destination {
  if (cfg.url === "") throw new Error("url is required (Loki's base URL)");
  const creds = new Credentials(cfg, ctx.logger);
  const url = joinUrl(cfg.url, "/loki/api/v1/push");
  const http = new HttpClient(cfg.url, cfg.timeout_ms, cfg.tls, ctx.logger);
  const log = ctx.logger;
  const extraNew = Object.keys(cfg.labels).filter((n) => !["source", "priority", "rule", "node", "namespace"].includes(n)).length;
  if (extraNew + 5 > LABELS_MAX)
    log.warn(
      { labels: extraNew + 5, limit: LABELS_MAX },
      "more stream labels than Loki's default max_label_names_per_series: raise it or Loki refuses every push",
    );

  const push = async (streams: Map<string, { labels: Record<string, string>; entries: Entry[] }>, signal: AbortSignal) => {
    const body = {
      streams: [...streams.values()].map((s) => ({ stream: s.labels, values: s.entries.map((e) => [e.ns, e.line]) })),
    };
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (cfg.tenant !== "") headers["x-scope-orgid"] = cfg.tenant;
    const auth = creds.authorization();
    if (auth !== undefined) headers["authorization"] = auth;
    await http.request(url, { headers, body: JSON.stringify(body), signal, secrets: creds.secrets() });
  };

  return {
    maxBatch: batchOf(NATURAL_BATCH, cfg.batch_size),
    async send(items, signal) {
      const failed: ItemFailure[] = [];
      // streams in the order their first alert came, each stream's entries in time order
      const streams = new Map<string, { labels: Record<string, string>; entries: Entry[] }>();
      items.forEach((item, index) => {
        const t = alertTime(item.alert.time);
        const line = t === undefined ? undefined : lokiLine(item);
        if (t === undefined || line === undefined) {
          failed.push({ index, permanent: true, error: t === undefined ? "no valid time" : "line does not fit Loki's 256 KB limit" });
          return;
        }
        const labels = lokiLabels(item, cfg.labels);
        const key = JSON.stringify(labels);
        let s = streams.get(key);
        if (s === undefined) streams.set(key, (s = { labels, entries: [] }));
        s.entries.push({ index, iso: t.iso, ns: t.ns, line, bytes: Buffer.byteLength(line) + 32 });
      });
      for (const s of streams.values()) s.entries.sort((x, y) => (x.iso < y.iso ? -1 : x.iso > y.iso ? 1 : x.index - y.index));

      // pushes of about PUSH_MAX_BYTES, each stream's entries still in time order across them
      const pushes: Map<string, { labels: Record<string, string>; entries: Entry[] }>[] = [];
      let cur = new Map<string, { labels: Record<string, string>; entries: Entry[] }>();
      let bytes = 0;
      for (const [key, s] of streams) {
        for (const e of s.entries) {
          if (bytes > 0 && bytes + e.bytes > PUSH_MAX_BYTES) {
            pushes.push(cur);
            cur = new Map();
            bytes = 0;
          }
          let c = cur.get(key);
          if (c === undefined) cur.set(key, (c = { labels: s.labels, entries: [] }));
          c.entries.push(e);
          bytes += e.bytes;
        }
      }
      if (bytes > 0) pushes.push(cur);

      // the earlier pushes are stored when a later one fails: only it and the rest are retried
      const units: PostUnit[] = pushes.map((p) => ({
        indices: [...p.values()].flatMap((s) => s.entries.map((e) => e.index)),
        send: () => push(p, signal),
      }));
      failed.push(...((await postInOrder(units))?.failed ?? []));
      log.debug({ entries: items.length - failed.length, pushes: pushes.length }, "entries pushed to loki");
      return { failed };
    },
    close() {
      http.close();
    },
  };
}
