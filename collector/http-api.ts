// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's HTTP/1.1 side, on the same port as gRPC (see server.ts):
 *
 * | method + path | what |
 * | --- | --- |
 * | `GET /healthz` | liveness, no auth |
 * | `GET /api/v1/alerts?since&until&rule&priority&tag&node&namespace&pod&container&image&limit` | JSON array of stored alerts |
 * | `GET /api/v1/captures/<alert id>` | the capture blob (gzip msgpack) |
 * | `GET /api/v1/stats` | counters (JSON) |
 * | `GET /metrics` | the same counters for Prometheus |
 * | `POST /` or `POST /api/v1/falco` | one Falco JSON alert (Falco 0.44 `http_output`, Falcosidekick's input) |
 * | `GET /api/v1/tail` (WebSocket upgrade) | the live tail (tail-hub.ts), same filters; `after=<alert id>` or `after_seq=<n>` resumes |
 *
 * Every endpoint but /healthz wants `Authorization: Bearer <token>` when a token is set (the
 * WebSocket also accepts `?token=`). Bodies are bounded; bad JSON is a 400, all counted.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { gunzipSync, inflateSync } from "node:zlib";
import type { Logger } from "pino";
import type { WebSocketServer } from "ws";
import { alertFromFalcoJson, alertToJson, validateAlert } from "./alert-codec.js";
import type { TokenCheck } from "./auth.js";
import { CollectorError } from "./errors.js";
import { filterFromParams, normalizeFilter } from "./filter.js";
import type { AlertStore } from "./store.js";
import type { TailHub } from "./tail-hub.js";
import type { Alert } from "../agent/sinks/types.js";

/** Counters of the HTTP side. */
export interface HttpCounters {
  http_requests: number;
  http_unauthenticated: number;
  http_bad_request: number;
  http_too_large: number;
  http_not_found: number;
  falco_http_alerts: number;
  falco_http_duplicates: number;
  ws_refused: number;
}

/** What the HTTP side needs. */
export interface HttpApiDeps {
  store: AlertStore;
  hub: TailHub;
  wss: WebSocketServer;
  auth: TokenCheck;
  logger: Logger;
  counters: HttpCounters;
  hostname: string;
  /** Stores alerts from Falco (validated here); returns true when new. */
  ingest(alerts: Alert[]): { stored: number; duplicates: number };
  stats(): Record<string, number>;
  maxBodyBytes: number;
}

const MAX_QUERY_LIMIT = 100_000;

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Builds the `request` and `upgrade` handlers. */
export function makeHttpApi(d: HttpApiDeps) {
  const c = d.counters;
  let badLogged = false;

  const fail = (res: ServerResponse, code: number, message: string) => sendJson(res, code, { error: message });

  function readBody(req: IncomingMessage, res: ServerResponse, then: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (ch: Buffer) => {
      if (over) return;
      size += ch.length;
      if (size > d.maxBodyBytes) {
        over = true;
        c.http_too_large++;
        res.setHeader("connection", "close");
        fail(res, 413, `body over ${d.maxBodyBytes} bytes`);
        req.destroy();
        return;
      }
      chunks.push(ch);
    });
    req.on("end", () => {
      if (!over) then(Buffer.concat(chunks));
    });
    req.on("error", () => undefined);
  }

  function onFalcoPost(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, res, (raw) => {
      let alert: Alert;
      try {
        // Falco's http_output.compress_uploads sends zlib/gzip bodies
        const enc = (req.headers["content-encoding"] ?? "identity").toLowerCase();
        const limit = { maxOutputLength: d.maxBodyBytes };
        const body =
          enc === "gzip" ? gunzipSync(raw, limit) : enc === "deflate" ? inflateSync(raw, limit) : enc === "identity" ? raw : undefined;
        if (body === undefined) throw new Error(`unsupported content-encoding ${enc.slice(0, 32)}`);
        alert = alertFromFalcoJson(JSON.parse(body.toString("utf8")), d.hostname);
        const why = validateAlert(alert);
        if (why !== undefined) throw new Error(why);
      } catch (err) {
        c.http_bad_request++;
        if (!badLogged) {
          badLogged = true;
          d.logger.warn({ err }, "bad Falco alert post refused (logged once)");
        }
        fail(res, 400, `bad Falco alert: ${err instanceof Error ? err.message : "invalid"}`);
        return;
      }
      try {
        const r = d.ingest([alert]);
        c.falco_http_alerts += r.stored;
        c.falco_http_duplicates += r.duplicates;
        sendJson(res, 200, { id: alert.id, stored: r.stored === 1 });
      } catch (err) {
        d.logger.error({ err }, "store failed");
        fail(res, 503, "store failed");
      }
    });
  }

  function onQuery(url: URL, res: ServerResponse): void {
    let limit = 1000;
    const l = url.searchParams.get("limit");
    if (l !== null) {
      limit = Number(l);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
        c.http_bad_request++;
        return fail(res, 400, `bad limit (1..${MAX_QUERY_LIMIT})`);
      }
    }
    let rows;
    try {
      rows = d.store.query(normalizeFilter(filterFromParams(url.searchParams)), limit);
    } catch (err) {
      if (err instanceof CollectorError && err.code === "bad_filter") {
        c.http_bad_request++;
        return fail(res, 400, err.message);
      }
      d.logger.error({ err }, "query failed");
      return fail(res, 500, "query failed");
    }
    sendJson(
      res,
      200,
      rows.map((r) => alertToJson(r.alert)),
    );
  }

  const request = (req: IncomingMessage, res: ServerResponse): void => {
    c.http_requests++;
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://collector");
    } catch {
      c.http_bad_request++;
      return fail(res, 400, "bad URL");
    }
    if (req.method === "GET" && url.pathname === "/healthz") return sendJson(res, 200, { ok: true });
    if (!d.auth.ok(req.headers.authorization)) {
      c.http_unauthenticated++;
      res.setHeader("www-authenticate", "Bearer");
      return fail(res, 401, "missing or bad bearer token");
    }
    if (req.method === "POST" && (url.pathname === "/" || url.pathname === "/api/v1/falco")) return onFalcoPost(req, res);
    if (req.method === "GET" && url.pathname === "/api/v1/alerts") return onQuery(url, res);
    if (req.method === "GET" && url.pathname === "/api/v1/stats") return sendJson(res, 200, d.stats());
    if (req.method === "GET" && url.pathname === "/metrics") {
      // Prometheus text exposition of the same counters
      let text = "";
      for (const [k, v] of Object.entries(d.stats())) text += `# TYPE vigil_collector_${k} ${k === "clients" ? "gauge" : "counter"}\nvigil_collector_${k} ${v}\n`;
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(text);
      return;
    }
    if (req.method === "GET" && url.pathname.startsWith("/api/v1/captures/")) {
      const id = decodeURIComponent(url.pathname.slice("/api/v1/captures/".length));
      const cap = id.length > 0 && id.length <= 64 ? d.store.getCapture(id) : undefined;
      if (!cap) {
        c.http_not_found++;
        return fail(res, 404, "no capture for that alert");
      }
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": cap.data.length,
        "x-vigil-event-count": String(cap.eventCount),
      });
      res.end(cap.data);
      return;
    }
    c.http_not_found++;
    fail(res, 404, "not found");
  };

  const refuseUpgrade = (socket: Duplex, code: number, text: string) => {
    c.ws_refused++;
    socket.end(`HTTP/1.1 ${code} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => undefined);
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://collector");
    } catch {
      return refuseUpgrade(socket, 400, "Bad Request");
    }
    if (url.pathname !== "/api/v1/tail") return refuseUpgrade(socket, 404, "Not Found");
    if (!d.auth.ok(req.headers.authorization ?? url.searchParams.get("token"))) return refuseUpgrade(socket, 401, "Unauthorized");
    let filter;
    let afterSeq: number | undefined;
    try {
      filter = normalizeFilter(filterFromParams(url.searchParams));
      const after = url.searchParams.get("after");
      const afterSeqParam = url.searchParams.get("after_seq");
      if (afterSeqParam !== null && afterSeqParam !== "") {
        afterSeq = Number(afterSeqParam);
        if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new CollectorError("bad_filter", "bad after_seq");
      } else if (after !== null && after !== "") {
        afterSeq = d.store.seqOf(after);
        if (afterSeq === undefined) throw new CollectorError("bad_filter", "unknown resume ID");
      }
    } catch (err) {
      return refuseUpgrade(socket, 400, err instanceof CollectorError ? "Bad Request" : "Bad Request");
    }
    d.wss.handleUpgrade(req, socket, head, (ws) => d.hub.add(ws, filter, afterSeq));
  };

  return { request, upgrade };
}
