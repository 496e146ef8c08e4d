// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's HTTP/1.1 side, on the same port as gRPC (see server.ts):
 *
 * | method + path | what |
 * | --- | --- |
 * | `GET /healthz` | liveness, no auth |
 * | `GET /`, `GET /assets/<hashed name>` | the web console (console/static.ts), no auth: the page holds no data |
 * | `POST /api/v1/session` (`{"token": …}`), `GET`, `DELETE` | the console's session: a token traded for the `vigil_session` cookie, its role, logout (console/session.ts) |
 * | `GET /api/v1/alerts?since&until&rule&priority&tag&node&namespace&pod&container&image&source&limit&order&after&before` | stored alerts, streamed as NDJSON (one Falco JSON alert per line), oldest first or with `order=desc` newest first; `after=<alert id>` (oldest first) or `before=<alert id>` (newest first) continues past an alert already read |
 * | `GET /api/v1/alerts/<alert id>` | one stored alert (Falco JSON with `id`; the link forwarders put in chat messages) |
 * | `GET /api/v1/captures/<alert id>` | the capture blob (gzip msgpack) |
 * | `GET /api/v1/summary?<the same filters>&buckets=N` | counts per time bucket and priority, top rules/namespaces/images/nodes, total (summary.ts; computed in the store) |
 * | `GET /api/v1/forwarders` | each forwarder's state, cursor, lag (alerts, seconds), counters, last error, dead-letter count |
 * | `GET /api/v1/forwarders/<name>/dead-letters?limit=N` | a forwarder's newest dead letters (alert ID, seq, error, time) |
 * | `GET /api/v1/stats` | counters (JSON) |
 * | `GET /metrics` | the same counters for Prometheus (metrics.ts: `vigil_collector_*_total`, HELP, units) |
 * | `POST /` or `POST /api/v1/falco` | one Falco JSON alert (Falco 0.44 `http_output`, Falcosidekick's input) |
 * | `POST /k8s-audit` | Kubernetes audit events (the API server's webhook backend: an audit.k8s.io/v1 EventList), evaluated by the `k8s_audit` rules (k8s-audit/webhook.ts) |
 * | `GET /api/v1/tail` (WebSocket upgrade) | the live tail (tail-hub.ts), same filters; `after=<alert id>` or `after_seq=<n>` resumes |
 *
 * Every endpoint but /healthz and the console's files wants `Authorization: Bearer <token>` when a token is set, or
 * a console session's cookie (a request it authenticates that changes state, and a WebSocket
 * upgrade it authenticates, must come with the collector's own `Origin`: 403 else). The read-only
 * token (and a session opened with it) has role `read`: GETs and the tail; anything else is a 403 (on the
 * Falco and audit routes, a client certificate signed by the `--client-ca` CA stands in for it); the
 * WebSocket also takes it as the subprotocol `vigil.bearer.<token>` (for browsers, which cannot
 * set headers; the server answers `vigil.v1`, never the token). A token in the URL (`?token=`)
 * is refused with 400: URLs end up in proxy logs. An address whose failed authentications pass
 * `auth_failures_per_minute` gets 429 with `retry-after`, whatever it presents.
 *
 * Totality: `request`, `upgrade` and `clientError` each run in one try/catch; a throw becomes a
 * 500 "internal error" (`http_internal_errors`, logged once). Bodies: a Content-Length over
 * `max_body_bytes` (the audit route: its own limit, `collector.k8s_audit.max_body_bytes`) is a 413
 * before reading and before authentication; chunks reserve from the in-flight byte budget as
 * they arrive (503 when it is full, `inflight_refused`) and give it back when the request ends.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { gunzipSync, inflateSync } from "node:zlib";
import type { Logger } from "pino";
import type { WebSocketServer } from "ws";
import { CollectorError } from "./errors.js";
import { normalizeFilter } from "./filter.js";
import { CollectorMetrics } from "./metrics.js";
import type { AuthFailureLimiter } from "./auth-limiter.js";
import { BurstLog } from "./burst-log.js";
import type { ByteBudget } from "./byte-budget.js";
import type { AlertPage, AlertReader, MaybePromise, PageCursor } from "./store-api.js";
import type { TailHub } from "./tail-hub.js";
import type { ForwarderSet } from "./forward/index.js";
import { AUDIT_WEBHOOK_PATH, type AuditWebhook } from "./k8s-audit/webhook.js";
import { ConsoleStatic } from "./console/static.js";
import { assembleSummary, planSummary, type SummaryPlan } from "./summary.js";
import { type Authenticated, clearSessionCookie, type Roles, sameOrigin, type SessionStore, sessionCookie, setSessionCookie } from "./console/session.js";
import {
  alertFromFalcoJson,
  DEFAULT_COLLECTOR_LIMITS,
  filterFromParams,
  isAlertId,
  validateAlert,
  type Alert,
  type AlertFilter,
  type CollectorLimits,
  WS_BEARER_PREFIX,
} from "../proto/index.js";

/** Where Falco's http_output posts alerts: the only route that reads a request body. */
const FALCO_PATHS: ReadonlySet<string> = new Set(["/", "/api/v1/falco"]);

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
  /** Handler throws answered with 500. */
  http_internal_errors: number;
  /** Header or request timeouts (408). */
  http_timeouts: number;
  /** Falco posts authenticated by a client certificate (mTLS) instead of a token. */
  http_client_cert_authenticated: number;
  /** Refused with 403: a write with the read-only role, a cookie-authenticated write or upgrade from another origin. */
  http_forbidden: number;
  /** Console sessions opened (`POST /api/v1/session` with a good token). */
  console_logins: number;
  /** `POST /api/v1/session` with a bad token (each also counts against the address's failed-auth limit). */
  console_login_failures: number;
}

/** Counters shared with the gRPC side. */
export interface SharedCounters {
  auth_rate_limited: number;
  inflight_refused: number;
}

/** What the HTTP side needs. */
export interface HttpApiDeps {
  store: AlertReader;
  hub: TailHub;
  wss: WebSocketServer;
  /** The collector's token (role admin) and the read-only token (role read). */
  roles: Roles;
  /** Console sessions (the `vigil_session` cookie). */
  sessions: SessionStore;
  /** The port serves TLS: the session cookie is `Secure`, the own origin `https://`. */
  tls?: boolean | undefined;
  limiter: AuthFailureLimiter;
  budget: ByteBudget;
  logger: Logger;
  counters: HttpCounters;
  shared: SharedCounters;
  hostname: string;
  /** Stores alerts from Falco (validated here): `stored` counts new ones (on the fleet path: accepted by JetStream). */
  ingest(alerts: Alert[]): MaybePromise<{ stored: number; duplicates: number }>;
  stats(): Record<string, number>;
  maxBodyBytes: number;
  maxTailClients: number;
  /** The forwarders, when any are configured. */
  forwarders?: ForwarderSet | undefined;
  /**
   * The TLS port asks for client certificates (`--client-ca`): a connection whose certificate
   * verified against that CA may post Falco alerts without a token (only that route).
   */
  clientCertAuth?: boolean | undefined;
  /** `POST /k8s-audit` (404 when absent). */
  k8sAudit?: AuditWebhook | undefined;
  /** The web console's files (`GET /`, `/assets/*`); absent: 404 on those paths. */
  console?: ConsoleStatic | undefined;
  /** Limits of `GET /api/v1/alerts` (defaults when absent). */
  queryLimits?: Pick<CollectorLimits, "max_query_limit" | "page_bytes" | "max_since_ms" | "request_timeout_ms"> | undefined;
}

/** The console's session route. */
const SESSION_PATH = "/api/v1/session";
/** Largest `POST /api/v1/session` body. */
const SESSION_BODY_BYTES = 8192;

/** Most alerts per store page of a query (pages are bounded by `page_bytes` too). */
const QUERY_PAGE_ROWS = 1000;

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Builds the `request` and `upgrade` handlers. */
export function makeHttpApi(d: HttpApiDeps) {
  const c = d.counters;
  let badLogged = false;
  const internalLogged = new Set<string>();
  const busyLog = new BurstLog(d.logger, "in-flight byte budget full: HTTP bodies refused with 503");
  const limitedLog = new BurstLog(d.logger, "failed-auth rate limit reached: requests refused with 429");

  const fail = (res: ServerResponse, code: number, message: string) => sendJson(res, code, { error: message });

  /** Counts and logs (once per kind) a throw that escaped a handler. */
  const internal = (kind: string, err: unknown) => {
    c.http_internal_errors++;
    if (!internalLogged.has(kind)) {
      internalLogged.add(kind);
      d.logger.error({ err, kind }, "HTTP handler failed (logged once per kind)");
    }
  };

  const clientIp = (req: IncomingMessage) => req.socket.remoteAddress ?? "unknown";

  const fw = d.forwarders;
  const promMetrics = new CollectorMetrics(d.stats, fw !== undefined ? () => fw.report() : undefined);
  /** `GET /metrics`: the same stats with Prometheus names and HELP (metrics.ts). */
  const onMetrics = (res: ServerResponse): void => {
    promMetrics.text().then(
      (text) => {
        res.writeHead(200, { "content-type": promMetrics.contentType, "content-length": Buffer.byteLength(text) });
        res.end(text);
      },
      (err: unknown) => {
        internal("metrics", err);
        if (!res.headersSent) fail(res, 500, "internal error");
        else res.destroy();
      },
    );
  };

  /** Refusal when the address is over its failed-auth limit (whatever token it brings). */
  const rateLimited = (req: IncomingMessage): number => {
    const wait = d.limiter.retryAfterMs(clientIp(req));
    if (wait > 0) {
      d.shared.auth_rate_limited++;
      limitedLog.hit({ ip: clientIp(req) });
    }
    return wait;
  };

  function readBody(req: IncomingMessage, res: ServerResponse, then: (body: Buffer) => void, maxBytes = d.maxBodyBytes): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let reserved = 0;
    let done = false;
    const release = () => {
      d.budget.release(reserved);
      reserved = 0;
    };
    const refuse = (code: number, message: string) => {
      done = true;
      release();
      chunks.length = 0;
      res.setHeader("connection", "close");
      fail(res, code, message);
      req.destroy();
    };
    req.on("data", (ch: Buffer) => {
      if (done) return;
      size += ch.length;
      if (size > maxBytes) {
        c.http_too_large++;
        return refuse(413, `body over ${maxBytes} bytes`);
      }
      if (!d.budget.tryReserve(ch.length)) {
        d.shared.inflight_refused++;
        busyLog.hit({ inUseBytes: d.budget.inUse, limitBytes: d.budget.limit });
        return refuse(503, "collector busy: in-flight byte budget full, retry later");
      }
      reserved += ch.length;
      chunks.push(ch);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      const body = Buffer.concat(chunks);
      chunks.length = 0;
      try {
        then(body);
      } catch (err) {
        internal("body", err);
        if (!res.headersSent) fail(res, 500, "internal error");
      } finally {
        release();
      }
    });
    req.on("close", release);
    req.on("error", () => undefined);
  }

  const tls = d.tls === true;

  /** Who sent the request: a bearer token (header), else a session cookie; undefined when neither authenticates. */
  const authenticate = (req: IncomingMessage, header: string | undefined): Authenticated | undefined => {
    if (!d.roles.required) return { role: "admin", via: "open" };
    if (header !== undefined) {
      const role = d.roles.roleOf(header);
      return role === undefined ? undefined : { role, via: "token" };
    }
    const sid = sessionCookie(req);
    const role = sid === undefined ? undefined : d.sessions.get(sid);
    return role === undefined ? undefined : { role, via: "cookie" };
  };

  /** `/api/v1/session`: login (POST), the session's role (GET), logout (DELETE). */
  function onSession(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader("cache-control", "no-store");
    if (req.method === "POST") {
      // a login form posted from another site (login CSRF) carries that site's Origin; clients
      // that are not browsers send none
      if (req.headers.origin !== undefined && !sameOrigin(req, tls)) {
        c.http_forbidden++;
        res.setHeader("connection", "close");
        return fail(res, 403, "cross-origin login refused");
      }
      return readBody(
        req,
        res,
        (body) => {
          let token: unknown;
          try {
            token = (JSON.parse(body.toString("utf8")) as { token?: unknown } | null)?.token;
          } catch {
            token = undefined;
          }
          if (typeof token !== "string" || token === "" || token.length > 4096) {
            c.http_bad_request++;
            return fail(res, 400, 'expected a JSON body {"token": "<token>"}');
          }
          const role = d.roles.roleOf(token);
          if (role === undefined) {
            c.console_login_failures++;
            d.limiter.fail(clientIp(req));
            return fail(res, 401, "bad token");
          }
          c.console_logins++;
          res.setHeader("set-cookie", setSessionCookie(d.sessions.create(role), d.sessions.ttlMs, tls));
          sendJson(res, 200, { role });
        },
        SESSION_BODY_BYTES,
      );
    }
    if (req.method === "GET") {
      const who = authenticate(req, req.headers.authorization);
      if (who === undefined) {
        // no credential at all is the console's "not logged in": not a failed authentication
        if (req.headers.authorization !== undefined || sessionCookie(req) !== undefined) {
          c.http_unauthenticated++;
          d.limiter.fail(clientIp(req));
          if (sessionCookie(req) !== undefined) res.setHeader("set-cookie", clearSessionCookie(tls));
        }
        return fail(res, 401, "no session");
      }
      return sendJson(res, 200, { role: who.role });
    }
    if (req.method === "DELETE") {
      const sid = sessionCookie(req);
      if (sid !== undefined) {
        if (!sameOrigin(req, tls)) {
          c.http_forbidden++;
          return fail(res, 403, "cross-origin request refused: a cookie-authenticated change needs this collector's Origin");
        }
        d.sessions.delete(sid);
      }
      res.setHeader("set-cookie", clearSessionCookie(tls));
      res.writeHead(204);
      return void res.end();
    }
    res.setHeader("allow", "GET, POST, DELETE");
    fail(res, 405, "method not allowed");
  }

  function onFalcoPost(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, res, (raw) => {
      let alert: Alert;
      try {
        // Falco's http_output.compress_uploads sends zlib/gzip bodies
        const enc = (req.headers["content-encoding"] ?? "identity").toLowerCase();
        const limit = { maxOutputLength: d.maxBodyBytes };
        const body = enc === "gzip" ? gunzipSync(raw, limit) : enc === "deflate" ? inflateSync(raw, limit) : enc === "identity" ? raw : undefined;
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
      const stored = (r: { stored: number; duplicates: number }) => {
        c.falco_http_alerts += r.stored;
        c.falco_http_duplicates += r.duplicates;
        sendJson(res, 200, { id: alert.id, stored: r.stored === 1 });
      };
      const failed = (err: unknown) => {
        d.logger.error({ err }, "store failed");
        if (!res.headersSent) fail(res, 503, "store failed");
      };
      try {
        const r = d.ingest([alert]);
        if (r instanceof Promise) r.then(stored, failed);
        else stored(r);
      } catch (err) {
        failed(err);
      }
    });
  }

  /** `POST /k8s-audit`: headers checked, the body read within the route's limit, then the batch handled. */
  function onAuditPost(w: AuditWebhook, url: URL, req: IncomingMessage, res: ServerResponse): void {
    const early = w.precheck(req.headers, url);
    if (early !== undefined) {
      if (early.code === 400) c.http_bad_request++;
      // the body stays unread: the connection closes after the answer
      res.setHeader("connection", "close");
      return sendJson(res, early.code, early.body);
    }
    readBody(
      req,
      res,
      (body) => {
        w.handle(body, url).then(
          (a) => {
            if (a.code === 400) c.http_bad_request++;
            if (!res.headersSent) sendJson(res, a.code, a.body);
          },
          (err: unknown) => {
            internal("k8s-audit", err);
            if (!res.headersSent) fail(res, 500, "internal error");
          },
        );
      },
      w.maxBodyBytes,
    );
  }

  /**
   * `GET /api/v1/alerts`: NDJSON, one Falco-shaped alert per line, oldest first (`order=asc`, the
   * default) or newest first (`order=desc`), by alert time then store order. A client pages with the
   * last alert it read: `after=<its id>` with `asc`, `before=<its id>` with `desc` (a keyset cursor:
   * each page costs the same however deep; an ID no longer stored is a 400). The store is read
   * one page at a time (bounded by count and by `page_bytes`, chained by a (time, seq) cursor) and
   * the next page is read only while less than `page_bytes` waits unsent (else after `drain`), so
   * what the collector holds does not grow with the result; one page per turn of the event loop.
   * A client that reads nothing for `request_timeout_ms` is cut off; one that disconnects stops
   * the query. A store failure after the first line ends the response without its last chunk, so
   * the client sees an incomplete body, never a short result.
   */
  async function onQuery(url: URL, res: ServerResponse): Promise<void> {
    const ql = d.queryLimits ?? DEFAULT_COLLECTOR_LIMITS;
    let limit = 1000;
    const l = url.searchParams.get("limit");
    if (l !== null) {
      limit = Number(l);
      if (!Number.isInteger(limit) || limit < 1 || limit > ql.max_query_limit) {
        c.http_bad_request++;
        return fail(res, 400, `bad limit (1..${ql.max_query_limit})`);
      }
    }
    const order = url.searchParams.get("order") ?? "asc";
    if (order !== "asc" && order !== "desc") {
      c.http_bad_request++;
      return fail(res, 400, "bad order (asc or desc)");
    }
    const desc = order === "desc";
    let filter: AlertFilter;
    let page: AlertPage | undefined;
    const read = (after: PageCursor | undefined, left: number) =>
      d.store.queryPage(filter, { order: "time", desc, after, limit: Math.min(left, QUERY_PAGE_ROWS), maxBytes: ql.page_bytes });
    try {
      filter = normalizeFilter(filterFromParams(url.searchParams), { maxSinceMs: ql.max_since_ms });
      page = await read(await queryCursor(url.searchParams, desc), limit);
    } catch (err) {
      if (err instanceof CollectorError && err.code === "bad_filter") {
        c.http_bad_request++;
        return fail(res, 400, err.message);
      }
      internal("query", err);
      return fail(res, 500, "query failed");
    }
    res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" });
    let left = limit;
    let cursor: PageCursor | undefined;
    let closed = false;
    let stall: NodeJS.Timeout | undefined;
    res.on("close", () => {
      closed = true;
      clearTimeout(stall);
    });
    const pump = async (): Promise<void> => {
      clearTimeout(stall);
      if (closed) return;
      try {
        const p = page ?? (await read(cursor, left));
        page = undefined;
        if (closed) return;
        let text = "";
        for (const r of p.rows) text += `${r.json}\n`;
        left -= p.rows.length;
        cursor = p.next ?? cursor;
        if (left <= 0 || !p.more) {
          res.end(text);
          return;
        }
        // the next page is read while this one drains, but never more than a page waits unsent
        if (!res.write(text) && res.writableLength > ql.page_bytes) {
          stall = setTimeout(() => res.destroy(), ql.request_timeout_ms);
          // drain can come in the same tick as the write (the socket took it at once): go
          // through setImmediate so a fast reader still lets other requests in between pages
          res.once("drain", () => setImmediate(() => void pump()));
          return;
        }
      } catch (err) {
        internal("query", err);
        res.destroy();
        return;
      }
      // one page per turn of the event loop: ingest and other requests run in between
      setImmediate(() => void pump());
    };
    await pump();
  }

  /**
   * The cursor a query starts past: `after=<alert id>` (oldest first) or `before=<alert id>`
   * (newest first); undefined when neither is given. Throws CollectorError("bad_filter") for the
   * other order's parameter, a malformed ID or one not stored (any more).
   */
  async function queryCursor(p: URLSearchParams, desc: boolean): Promise<PageCursor | undefined> {
    const [name, other] = desc ? ["before", "after"] : ["after", "before"];
    if (p.has(other)) throw new CollectorError("bad_filter", `${other} goes with order=${desc ? "asc" : "desc"} (use ${name}=<alert id>)`);
    const id = p.get(name);
    if (id === null) return undefined;
    if (!isAlertId(id)) throw new CollectorError("bad_filter", `bad ${name}: not an alert ID`);
    const cur = await d.store.cursorOf(id);
    if (cur === undefined) throw new CollectorError("bad_filter", `${name}: no stored alert ${id} (removed by retention, or never stored)`);
    return cur;
  }

  const request = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      dispatch(req, res);
    } catch (err) {
      internal("request", err);
      try {
        if (!res.headersSent) {
          res.setHeader("connection", "close");
          fail(res, 500, "internal error");
        } else res.destroy();
      } catch {
        res.destroy();
      }
    }
  };

  function dispatch(req: IncomingMessage, res: ServerResponse): void {
    c.http_requests++;
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://collector");
    } catch {
      c.http_bad_request++;
      return fail(res, 400, "bad URL");
    }
    // A body on a route that never reads it (a GET with a body, a 404) would stay in the socket and
    // be parsed as the start of the next request on this connection: a 400 for the client's next
    // request, and request smuggling behind a proxy that shares connections. Such a connection is
    // closed after the answer.
    const auditPost = req.method === "POST" && url.pathname === AUDIT_WEBHOOK_PATH && d.k8sAudit !== undefined;
    const loginPost = req.method === "POST" && url.pathname === SESSION_PATH;
    const cl = req.headers["content-length"];
    if (
      ((cl !== undefined && cl !== "0") || req.headers["transfer-encoding"] !== undefined) &&
      !(req.method === "POST" && FALCO_PATHS.has(url.pathname)) &&
      !auditPost &&
      !loginPost
    )
      res.setHeader("connection", "close");
    if (req.method === "GET" && url.pathname === "/healthz") return sendJson(res, 200, { ok: true });
    // the console's page and assets (POST / stays Falco's ingest, below)
    if ((req.method === "GET" || req.method === "HEAD") && d.console !== undefined && ConsoleStatic.owns(url.pathname))
      return d.console.serve(req, res, url.pathname);
    const declared = Number(req.headers["content-length"] ?? 0);
    const maxBody = auditPost ? (d.k8sAudit as AuditWebhook).maxBodyBytes : loginPost ? SESSION_BODY_BYTES : d.maxBodyBytes;
    if (declared > maxBody) {
      // refused before reading, and before authentication
      c.http_too_large++;
      res.setHeader("connection", "close");
      return fail(res, 413, `body over ${maxBody} bytes`);
    }
    const wait = rateLimited(req);
    if (wait > 0) {
      res.setHeader("retry-after", String(Math.ceil(wait / 1000)));
      res.setHeader("connection", "close");
      return fail(res, 429, "too many failed authentications from this address, retry later");
    }
    if (url.pathname === SESSION_PATH) return onSession(req, res);
    const falcoPost = req.method === "POST" && FALCO_PATHS.has(url.pathname);
    // Falco's http_output has no token setting: on its route a verified client certificate stands
    // in for the token (the TLS server closed connections whose certificate did not verify)
    // the API server's audit webhook kubeconfig may authenticate with a client certificate too
    const byCert = (falcoPost || auditPost) && d.clientCertAuth === true && (req.socket as TLSSocket).authorized === true;
    const who: Authenticated | undefined = byCert ? { role: "admin", via: "cert" } : authenticate(req, req.headers.authorization);
    if (byCert) c.http_client_cert_authenticated++;
    else if (who === undefined) {
      c.http_unauthenticated++;
      d.limiter.fail(clientIp(req));
      res.setHeader("www-authenticate", "Bearer");
      // a session the collector no longer knows (expired, restarted): the browser drops the cookie
      if (req.headers.authorization === undefined && sessionCookie(req) !== undefined) res.setHeader("set-cookie", clearSessionCookie(tls));
      // an unread body is not worth draining for an unauthenticated client
      if (req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined) res.setHeader("connection", "close");
      return fail(res, 401, "missing or bad bearer token");
    }
    if (who !== undefined && req.method !== "GET" && req.method !== "HEAD") {
      if (who.role === "read") {
        c.http_forbidden++;
        res.setHeader("connection", "close");
        return fail(res, 403, "the read-only token may not write (GETs and the live tail only)");
      }
      if (who.via === "cookie" && !sameOrigin(req, tls)) {
        c.http_forbidden++;
        res.setHeader("connection", "close");
        return fail(res, 403, "cross-origin request refused: a cookie-authenticated change needs this collector's Origin");
      }
    }
    if (falcoPost) return onFalcoPost(req, res);
    if (auditPost) return onAuditPost(d.k8sAudit as AuditWebhook, url, req, res);
    if (req.method === "GET" && url.pathname === "/api/v1/alerts") return settle("query", res, onQuery(url, res));
    if (req.method === "GET" && url.pathname === "/api/v1/summary") return settle("summary", res, onSummary(url, res));
    if (req.method === "GET" && url.pathname === "/api/v1/stats") return sendJson(res, 200, d.stats());
    if (req.method === "GET" && url.pathname === "/metrics") return onMetrics(res);
    if (req.method === "GET" && url.pathname.startsWith("/api/v1/alerts/")) {
      const id = decodePathPart(url.pathname.slice("/api/v1/alerts/".length));
      if (id === undefined || !isAlertId(id)) {
        c.http_bad_request++;
        return fail(res, 400, "bad alert ID");
      }
      return settle("alert", res, onAlert(id, res));
    }
    if (req.method === "GET" && url.pathname === "/api/v1/forwarders") return settle("forwarders", res, onForwarders(res));
    if (req.method === "GET" && url.pathname.startsWith("/api/v1/forwarders/") && url.pathname.endsWith("/dead-letters")) {
      const name = decodePathPart(url.pathname.slice("/api/v1/forwarders/".length, -"/dead-letters".length));
      const l = url.searchParams.get("limit");
      const limit = l === null ? 100 : Number(l);
      if (name === undefined || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name) || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
        c.http_bad_request++;
        return fail(res, 400, "bad forwarder name or limit (1..1000)");
      }
      return settle("dead-letters", res, onDeadLetters(name, limit, res));
    }
    if (req.method === "GET" && url.pathname.startsWith("/api/v1/captures/")) {
      const id = decodePathPart(url.pathname.slice("/api/v1/captures/".length));
      if (id === undefined || !isAlertId(id)) {
        c.http_bad_request++;
        return fail(res, 400, "bad alert ID");
      }
      return settle("capture", res, onCapture(id, res));
    }
    c.http_not_found++;
    fail(res, 404, "not found");
  }

  /** `GET /api/v1/summary` (summary.ts): a bad filter, `buckets` or range is a 400. */
  async function onSummary(url: URL, res: ServerResponse): Promise<void> {
    const ql = d.queryLimits ?? DEFAULT_COLLECTOR_LIMITS;
    let plan: SummaryPlan;
    try {
      plan = planSummary(url.searchParams, { maxSinceMs: ql.max_since_ms });
    } catch (err) {
      if (err instanceof CollectorError && err.code === "bad_filter") {
        c.http_bad_request++;
        return fail(res, 400, err.message);
      }
      throw err;
    }
    const counts = await d.store.summary(plan);
    res.setHeader("cache-control", "no-store");
    sendJson(res, 200, assembleSummary(plan, counts));
  }

  /** `GET /api/v1/alerts/<id>`. */
  async function onAlert(id: string, res: ServerResponse): Promise<void> {
    const json = await d.store.getAlert(id);
    if (json === undefined) {
      c.http_not_found++;
      return fail(res, 404, "no such alert");
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json), "cache-control": "no-store" });
    res.end(json);
  }

  /** `GET /api/v1/forwarders`. */
  async function onForwarders(res: ServerResponse): Promise<void> {
    sendJson(res, 200, { forwarders: d.forwarders === undefined ? [] : await d.forwarders.report() });
  }

  /** `GET /api/v1/forwarders/<name>/dead-letters`. */
  async function onDeadLetters(name: string, limit: number, res: ServerResponse): Promise<void> {
    const list = await d.forwarders?.deadLetters(name, limit);
    if (list === undefined) {
      c.http_not_found++;
      return fail(res, 404, "no such forwarder");
    }
    sendJson(res, 200, {
      forwarder: name,
      dead_letters: list.map((x) => ({ alert_id: x.alertId, seq: x.seq, error: x.error, at: new Date(x.atMs).toISOString() })),
    });
  }

  /** `GET /api/v1/captures/<id>`. */
  async function onCapture(id: string, res: ServerResponse): Promise<void> {
    const cap = await d.store.getCapture(id);
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
  }

  /** An async handler's failure, answered like a synchronous one's: 500 before the head, a cut body after. */
  function settle(kind: string, res: ServerResponse, p: Promise<void>): void {
    p.catch((err: unknown) => {
      internal(kind, err);
      if (!res.headersSent) {
        res.setHeader("connection", "close");
        fail(res, 500, "internal error");
      } else res.destroy();
    });
  }

  const refuseUpgrade = (socket: Duplex, code: number, text: string, message?: string, extra = "") => {
    c.ws_refused++;
    const body = message === undefined ? "" : JSON.stringify({ error: message });
    socket.end(
      `HTTP/1.1 ${code} ${text}\r\nconnection: close\r\n${extra}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => undefined);
    try {
      onUpgrade(req, socket, head);
    } catch (err) {
      internal("upgrade", err);
      if (socket.writable) socket.end("HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      else socket.destroy();
    }
  };

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://collector");
    } catch {
      return refuseUpgrade(socket, 400, "Bad Request");
    }
    if (url.pathname !== "/api/v1/tail") return refuseUpgrade(socket, 404, "Not Found");
    if (url.searchParams.has("token"))
      return refuseUpgrade(
        socket,
        400,
        "Bad Request",
        "a token in the URL is refused: send it as Authorization: Bearer or the vigil.bearer.<token> subprotocol",
      );
    const wait = rateLimited(req);
    if (wait > 0) return refuseUpgrade(socket, 429, "Too Many Requests", "too many failed authentications", `retry-after: ${Math.ceil(wait / 1000)}\r\n`);
    const who = authenticate(req, req.headers.authorization ?? bearerSubprotocol(req.headers["sec-websocket-protocol"]));
    if (who === undefined) {
      d.limiter.fail(clientIp(req));
      return refuseUpgrade(socket, 401, "Unauthorized");
    }
    // a page of another site may open a WebSocket to this collector and the browser sends the
    // cookie along (SameSite aside): an upgrade the cookie authenticates must come from this origin
    if (who.via === "cookie" && !sameOrigin(req, tls)) {
      c.http_forbidden++;
      return refuseUpgrade(socket, 403, "Forbidden", "cross-origin WebSocket refused");
    }
    if (d.hub.counters.clients >= d.maxTailClients) return refuseUpgrade(socket, 503, "Service Unavailable", "too many tail clients");
    let filter: AlertFilter;
    let afterSeq: number | undefined;
    let afterId: string | undefined;
    try {
      filter = normalizeFilter(filterFromParams(url.searchParams));
      const after = url.searchParams.get("after");
      const afterSeqParam = url.searchParams.get("after_seq");
      if (afterSeqParam !== null && afterSeqParam !== "") {
        afterSeq = Number(afterSeqParam);
        if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new CollectorError("bad_filter", "bad after_seq");
      } else if (after !== null && after !== "") {
        if (!isAlertId(after)) throw new CollectorError("bad_filter", "bad resume ID");
        afterId = after;
      }
    } catch {
      return refuseUpgrade(socket, 400, "Bad Request");
    }
    const accept = () =>
      d.wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          d.hub.add(ws, filter, afterSeq);
        } catch (err) {
          internal("tail", err);
          ws.close(1011, "internal error");
        }
      });
    if (afterId === undefined) return accept();
    // the resume point is looked up in the store (a promise on PostgreSQL): the socket may be gone by then
    Promise.resolve(d.store.seqOf(afterId)).then(
      (seq) => {
        if (socket.destroyed) return;
        if (seq === undefined) return refuseUpgrade(socket, 400, "Bad Request");
        afterSeq = seq;
        accept();
      },
      (err: unknown) => {
        internal("tail", err);
        if (!socket.destroyed) refuseUpgrade(socket, 503, "Service Unavailable", "store unavailable");
      },
    );
  }

  /** Answers what the HTTP parser refused (bad syntax, headers too large, timeouts). */
  const clientError = (err: Error & { code?: string }, socket: Duplex): void => {
    try {
      let line = "400 Bad Request";
      if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
        c.http_timeouts++;
        line = "408 Request Timeout";
      } else if (err.code === "HPE_HEADER_OVERFLOW") {
        c.http_too_large++;
        line = "431 Request Header Fields Too Large";
      } else c.http_bad_request++;
      if (socket.writable && !(err.code === "ECONNRESET")) socket.end(`HTTP/1.1 ${line}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    } catch (e) {
      internal("clientError", e);
      socket.destroy();
    }
  };

  return { request, upgrade, clientError };
}

/** `decodeURIComponent` that says undefined for a malformed escape instead of throwing. */
function decodePathPart(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The token of a `vigil.bearer.<token>` subprotocol offer, if any. */
function bearerSubprotocol(header: string | string[] | undefined): string | undefined {
  if (typeof header !== "string" || header.length > 8192) return undefined;
  for (const p of header.split(",")) {
    const t = p.trim();
    if (t.startsWith(WS_BEARER_PREFIX)) return t.slice(WS_BEARER_PREFIX.length);
  }
  return undefined;
}
