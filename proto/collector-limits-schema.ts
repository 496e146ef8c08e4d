// SPDX-License-Identifier: Apache-2.0
/**
 * Every limit and timeout of the collector in one place: what a client can make it hold (bytes,
 * connections, streams, time) is bounded here, before authentication. Keys are snake_case as
 * in the configuration file (`limits:` of `vigil collector --config`, `collector.limits` of the
 * agent's configuration for the embedded collector); each also has a `VIGIL_COLLECTOR_LIMITS_<KEY>`
 * environment variable. SECURITY.md lists them with the counter each one feeds. The defaults
 * are also collector-limits.ts's plain object, which the collector reads without loading zod
 * (test/collector/limits-config.test.ts keeps the two equal).
 */
import { z } from "zod";

const ms = (dflt: number, min = 100, max = 3_600_000) => z.number().int().min(min).max(max).default(dflt);
const count = (dflt: number, min = 1, max = 1_000_000) => z.number().int().min(min).max(max).default(dflt);
const size = (dflt: number, min = 1024, max = 1024 ** 3) => z.number().int().min(min).max(max).default(dflt);

/** The collector's limits (all optional in a file; defaults below). */
export const collectorLimitsSchema = z.strictObject({
  // ---- connections (counted at the public port, before any protocol)
  /** Open client connections in all; beyond it new ones are closed at once (`connections_refused_limit`). */
  max_connections: count(2048),
  /** Open connections from one IP address (`connections_refused_per_ip`). */
  max_connections_per_ip: count(512),
  /** A new connection must send its first bytes (protocol choice) within this (`connections_idle_closed`). */
  first_bytes_timeout_ms: ms(10_000),
  // ---- HTTP/1.1 (query API, Falco http_output, WebSocket upgrade)
  /** All request headers must arrive within this (`http_timeouts`). */
  headers_timeout_ms: ms(10_000),
  /** The whole request, body included, must arrive within this (`http_timeouts`). */
  request_timeout_ms: ms(30_000),
  /** A kept-alive connection with no request in flight is closed after this. */
  keep_alive_timeout_ms: ms(5_000),
  /** Largest request body (Falco alert posts) (`http_too_large`). */
  max_body_bytes: size(1024 * 1024),
  /** Largest request header block. */
  max_header_bytes: size(16 * 1024, 1024, 1024 * 1024),
  // ---- HTTP/2 and gRPC (ingest)
  /** Largest PushRequest; the gRPC receive limit (`refused_too_large`). */
  max_message_bytes: size(8 * 1024 * 1024),
  /** Concurrent streams (calls) on one HTTP/2 connection. */
  max_concurrent_streams: count(16, 1, 1000),
  /** An HTTP/2 connection with no call in flight is closed after this. */
  idle_timeout_ms: ms(60_000),
  /** Server keepalive pings every this; a client that does not answer in keepalive_timeout_ms is dropped. */
  keepalive_time_ms: ms(30_000),
  keepalive_timeout_ms: ms(10_000),
  // ---- memory shared by every request
  /**
   * Request body bytes held at once across all requests (`inflight_refused`): HTTP bodies as they
   * arrive, and max_message_bytes for each authenticated gRPC push while it runs, so the default
   * lets 16 pushes run at once (the rest get UNAVAILABLE, which agents retry from their spool).
   */
  inflight_bytes: size(128 * 1024 * 1024),
  // ---- responses
  /** Most alerts one query may ask for (`limit`); results stream as NDJSON pages. */
  max_query_limit: count(100_000),
  /** One query page or tail history page holds at most this many bytes of alert JSON. */
  page_bytes: size(1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
  /** Oldest `since` a query or tail may ask for, back from now (`http_bad_request`). */
  max_since_ms: ms(400 * 86_400_000, 1000, 100 * 365 * 86_400_000),
  // ---- live tail
  /** Connected tail clients (`ws_refused`). */
  max_tail_clients: count(256),
  /** Unsent bytes a tail client may have before it is dropped (`clients_dropped_slow`). */
  tail_queue_bytes: size(8 * 1024 * 1024),
  /** Largest WebSocket frame a client may send. */
  ws_max_payload: size(64 * 1024, 1024, 16 * 1024 * 1024),
  // ---- authentication
  /** Failed authentications allowed per IP per minute; beyond it 429 / RESOURCE_EXHAUSTED (`auth_rate_limited`). */
  auth_failures_per_minute: count(30, 1, 1_000_000),
  // ---- captures
  /** What to do with a capture whose alert is not stored: refuse it (counted) or store it (counted). */
  orphan_captures: z.enum(["refuse", "store"]).default("refuse"),
});

/** Limits after defaults. */
export type CollectorLimits = z.output<typeof collectorLimitsSchema>;
/** Limits as written in a file (every key optional). */
export type CollectorLimitsInput = z.input<typeof collectorLimitsSchema>;
