// SPDX-License-Identifier: Apache-2.0
/**
 * Limits, timeouts and failure accounting shared by the agent's own HTTP(S) servers (the metrics
 * endpoint, the admission webhook). Everything here applies before any handler runs: a client
 * can hold at most one connection slot of `max_connections`, must send its headers within
 * `headers_timeout_ms` and its whole request within `request_timeout_ms`, and a socket with no
 * traffic for `idle_timeout_ms` is closed. Malformed requests are answered by status line and
 * closed; a handler that throws is answered 500. Each case feeds a `vigil_server_*` counter.
 */
import type { IncomingMessage, Server as HttpServer, ServerOptions, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { HttpLimits, HttpLimitsInput } from "./http-limits-schema.js";
import { withDefaults } from "../../proto/with-defaults.js";
import type { Metrics } from "./metrics.js";

/** The limits when none are given (what `httpLimitsSchema.parse({})` returns; http-limits-schema.ts documents each). */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  max_connections: 256,
  headers_timeout_ms: 5_000,
  request_timeout_ms: 10_000,
  keep_alive_timeout_ms: 5_000,
  idle_timeout_ms: 30_000,
  max_header_bytes: 8 * 1024,
});

/**
 * The defaults overlaid with `partial` (keys left out or undefined keep their default). Not
 * validated here: the configuration's schema (http-limits-schema.ts) checked the values when it
 * was read, so a running agent never loads zod.
 */
export function httpLimits(partial?: HttpLimitsInput): HttpLimits {
  return withDefaults(DEFAULT_HTTP_LIMITS, partial);
}

/** The `createServer` options that carry `l` (Node refuses a header timeout above the request timeout). */
export function httpServerOptions(l: HttpLimits): ServerOptions {
  const headersTimeout = Math.min(l.headers_timeout_ms, l.request_timeout_ms);
  return {
    headersTimeout,
    requestTimeout: l.request_timeout_ms,
    keepAliveTimeout: l.keep_alive_timeout_ms,
    maxHeaderSize: l.max_header_bytes,
    // Node checks the two timeouts on this interval (default 30 s, which would let an idle
    // connection live six times longer than the header timeout says)
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
  };
}

/** What a guarded server's handlers call when they refuse or fail. */
export interface HttpGuard {
  /** Answers 500 for a handler failure (or closes when the answer has begun): counted, logged at most every 10 s. */
  internalError(res: ServerResponse, err: unknown): void;
  /** Counts a request refused with a 4xx for `reason`. */
  refused(reason: string): void;
  /** Runs a handler so that whatever it throws becomes {@link internalError}. */
  total(fn: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void;
}

/** Options of {@link guardHttpServer}. */
export interface GuardOptions {
  /** The `server` label of the counters (`metrics`, `webhook`). */
  name: string;
  limits: HttpLimits;
  logger: Logger;
  metrics: Metrics;
}

const LOG_EVERY_MS = 10_000;

/** Logs an event at most once per {@link LOG_EVERY_MS}, carrying how many were not logged. */
function rateLimitedLog(): (log: () => (suppressed: number) => void) => void {
  let last = 0;
  let suppressed = 0;
  return (log) => {
    const now = Date.now();
    if (now - last < LOG_EVERY_MS) {
      suppressed++;
      return;
    }
    last = now;
    log()(suppressed);
    suppressed = 0;
  };
}

function clientErrorStatus(code: string | undefined): [number, string, string] {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return [431, "Request Header Fields Too Large", "header_too_large"];
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "Request Timeout", "timeout"];
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return [413, "Payload Too Large", "too_large"];
    default:
      return [400, "Bad Request", "malformed"];
  }
}

/**
 * Applies the connection cap, the idle timeout and the malformed-request answers to `server`,
 * counting each into `metrics` under `server="<name>"`. Create the server with
 * {@link httpServerOptions} for the header and request timeouts.
 */
export function guardHttpServer(server: HttpServer | HttpsServer, o: GuardOptions): HttpGuard {
  const { name, limits, metrics: m } = o;
  const log = o.logger;
  const errorLog = rateLimitedLog();
  let dropped = 0;
  let open = 0;

  server.maxConnections = limits.max_connections;
  server.on("drop", () => {
    m.serverConnectionsRefused.inc({ server: name });
    if (dropped++ === 0) log.warn({ server: name, max_connections: limits.max_connections }, "connection limit reached: new connections are closed at accept");
  });
  server.on("connection", (sock: Socket) => {
    if (dropped > 0 && open < limits.max_connections / 2) {
      log.info({ server: name, refused: dropped }, "connection limit: accepting connections again");
      dropped = 0;
    }
    open++;
    m.serverConnections.inc({ server: name });
    sock.once("close", () => {
      open--;
      m.serverConnections.dec({ server: name });
    });
  });
  server.setTimeout(limits.idle_timeout_ms, (sock: Socket) => {
    m.serverConnectionsTimedOut.inc({ server: name });
    sock.destroy();
  });
  server.on("clientError", (err: Error & { code?: string; library?: string }, sock: Socket) => {
    if (err.code === "ECONNRESET" || err.code === "EPIPE") {
      sock.destroy();
      return;
    }
    // https re-emits a failed or timed-out TLS handshake here: there is no HTTP to answer with
    if (err.code?.startsWith("ERR_TLS_") || err.code?.startsWith("ERR_SSL_") || err.library !== undefined) {
      const timedOut = err.code === "ERR_TLS_HANDSHAKE_TIMEOUT";
      m.serverRequestsRefused.inc({ server: name, reason: timedOut ? "tls_handshake_timeout" : "tls_handshake" });
      if (timedOut) m.serverConnectionsTimedOut.inc({ server: name });
      sock.destroy();
      return;
    }
    const [status, text, reason] = clientErrorStatus(err.code);
    m.serverRequestsRefused.inc({ server: name, reason });
    if (reason === "timeout") m.serverConnectionsTimedOut.inc({ server: name });
    log.debug({ server: name, code: err.code }, "malformed or incomplete request");
    // a status line only where no answer has begun on this socket (keep-alive may have sent one)
    if (sock.writable && sock.bytesWritten === 0) {
      sock.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      sock.destroySoon();
    } else sock.destroy();
  });

  const internalError = (res: ServerResponse, err: unknown): void => {
    m.serverHandlerErrors.inc({ server: name });
    errorLog(() => (suppressed) => log.error({ err, server: name, not_logged_since: suppressed }, "request handler failed: answered 500"));
    try {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8", connection: "close", "cache-control": "no-store" });
        res.end("internal error\n");
      } else res.destroy();
    } catch {
      res.destroy();
    }
  };
  return {
    internalError,
    refused: (reason) => m.serverRequestsRefused.inc({ server: name, reason }),
    total: (fn) => (req, res) => {
      try {
        fn(req, res);
      } catch (err) {
        internalError(res, err);
      }
    },
  };
}

export type { HttpLimits, HttpLimitsInput } from "./http-limits-schema.js";
