// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's `/metrics`: its `stats()` exposed through a prom-client Registry of its own
 * (never prom-client's global one: several collectors run in one process in tests, and the
 * embedded collector runs inside the agent, whose registry is separate again). Names follow
 * Prometheus conventions: `vigil_collector_` prefix, counters end in `_total`, units in the name
 * (`_bytes`), HELP on every metric. Values are read once per scrape.
 */
import { Counter, Gauge, Registry } from "prom-client";
import type { ForwarderReport } from "./forward/index.js";

/** Per-forwarder counters (labels `forwarder`, `type`). */
const FORWARDER_COUNTERS: Readonly<Record<string, string>> = {
  sent: "Alerts delivered (grouped repeats count each)",
  requests: "Requests (batches) the destination accepted",
  failed: "Delivery attempts that failed",
  retried: "Retries after a retryable failure",
  dead_lettered: "Alerts the destination refused for good, kept as dead letters",
  filtered: "Alerts passed over because the forwarder's filters did not match",
  grouped: "Alerts folded into a grouped message",
};

/** How one `stats()` key is exported. */
export interface CollectorMetricSpec {
  /** Full metric name (counters end in `_total`). */
  readonly name: string;
  readonly type: "counter" | "gauge";
  readonly help: string;
}

const counter = (name: string, help: string): CollectorMetricSpec => ({ name: `vigil_collector_${name}_total`, type: "counter", help });
const gauge = (name: string, help: string): CollectorMetricSpec => ({ name: `vigil_collector_${name}`, type: "gauge", help });

/** Every key of the collector's `stats()` and its metric (a test checks that none is missing). */
export const COLLECTOR_METRICS: Readonly<Record<string, CollectorMetricSpec>> = {
  // gRPC ingest (ingest.ts)
  requests: counter("ingest_requests", "gRPC Push calls handled"),
  alerts_stored: counter("ingest_alerts_stored", "Alerts from gRPC pushes stored (new)"),
  alerts_duplicate: counter("ingest_alerts_duplicate", "Alerts from gRPC pushes already stored (acknowledged, not stored again)"),
  alerts_invalid: counter("ingest_alerts_invalid", "Alerts from gRPC pushes refused as invalid"),
  captures_stored: counter("ingest_captures_stored", "Audit captures stored"),
  captures_duplicate: counter("ingest_captures_duplicate", "Audit captures already stored"),
  captures_invalid: counter("ingest_captures_invalid", "Audit captures refused as invalid"),
  captures_orphan_refused: counter("ingest_captures_orphan_refused", "Audit captures refused because their alert is not stored"),
  captures_orphan_stored: counter("ingest_captures_orphan_stored", "Audit captures stored although their alert is not"),
  store_errors: counter("store_errors", "Store writes that failed"),
  internal_errors: counter("ingest_internal_errors", "gRPC Push handler failures answered with INTERNAL"),
  // gRPC gate (grpc-guard.ts, proto/grpc-status-counter.ts)
  refused_unauthenticated: counter("grpc_refused_unauthenticated", "gRPC calls refused for a missing or bad token"),
  refused_too_large: counter("grpc_refused_too_large", "gRPC calls refused for a message over the receive limit"),
  refused_malformed: counter("grpc_refused_malformed", "gRPC calls refused for a malformed message"),
  refused_other: counter("grpc_refused_other", "gRPC calls ended with another error status"),
  refused_transport_or_cancelled: counter("grpc_refused_transport_or_cancelled", "gRPC calls cancelled or cut by the transport"),
  auth_rate_limited: counter("auth_rate_limited", "Requests refused because their address passed auth_failures_per_minute (HTTP 429, gRPC RESOURCE_EXHAUSTED)"),
  inflight_refused: counter("inflight_refused", "Requests refused because the in-flight byte budget was full (HTTP 503, gRPC UNAVAILABLE)"),
  grpc_internal_errors: counter("grpc_internal_errors", "gRPC calls whose handler threw (answered INTERNAL)"),
  grpc_call_timeouts: counter("grpc_call_timeouts", "gRPC calls not answered within request_timeout_ms (DEADLINE_EXCEEDED)"),
  // HTTP (http-api.ts)
  http_requests: counter("http_requests", "HTTP requests received"),
  http_unauthenticated: counter("http_unauthenticated", "HTTP requests refused with 401"),
  http_bad_request: counter("http_bad_request", "HTTP requests refused with 400"),
  http_too_large: counter("http_too_large", "HTTP requests refused with 413"),
  http_not_found: counter("http_not_found", "HTTP requests answered 404"),
  falco_http_alerts: counter("falco_http_alerts", "Falco JSON alerts posted over HTTP and stored"),
  falco_http_duplicates: counter("falco_http_duplicates", "Falco JSON alerts posted over HTTP already stored"),
  ws_refused: counter("ws_refused", "WebSocket tail upgrades refused"),
  http_forbidden: counter(
    "http_forbidden",
    "HTTP requests refused with 403 (a write with the read-only token, a cookie-authenticated change or WebSocket from another origin)",
  ),
  console_logins: counter("console_logins", "Console sessions opened with a good token"),
  console_login_failures: counter("console_login_failures", "Console logins refused for a bad token"),
  console_sessions: gauge("console_sessions", "Console sessions held"),
  http_internal_errors: counter("http_internal_errors", "HTTP handler failures answered with 500"),
  http_timeouts: counter("http_timeouts", "HTTP requests ended by a header or request timeout (408)"),
  http_client_cert_authenticated: counter(
    "http_client_cert_authenticated",
    "Falco alert posts authenticated by a client certificate (mTLS) instead of a token",
  ),
  // live tail (tail-hub.ts)
  clients: gauge("tail_clients", "Live tail clients connected"),
  clients_total: counter("tail_clients_accepted", "Live tail clients accepted"),
  clients_dropped_slow: counter("tail_clients_dropped_slow", "Live tail clients dropped because their bounded queue filled"),
  clients_dropped_unresponsive: counter("tail_clients_dropped_unresponsive", "Live tail clients dropped for not answering a ping"),
  messages_sent: counter("tail_messages_sent", "Live tail messages sent"),
  history_sent: counter("tail_history_replays", "Live tail history replays sent (since or after a cursor)"),
  ws_frames_too_large: counter("ws_frames_too_large", "WebSocket client frames over ws_max_payload (client closed with 1009)"),
  // server (server.ts)
  retention_deleted: counter("retention_deleted_alerts", "Alerts deleted by retention"),
  connections: counter("connections_accepted", "TCP connections accepted"),
  connections_idle_closed: counter("connections_idle_closed", "Connections closed for idling"),
  connections_refused_limit: counter("connections_refused_limit", "Connections closed at accept: max_connections reached"),
  connections_refused_per_ip: counter("connections_refused_per_ip", "Connections closed at accept: the address's per-IP cap reached"),
  connection_errors: counter("connection_errors", "Connections ended by a socket error"),
  tls_handshake_failed: counter("tls_handshake_failed", "TLS handshakes that failed"),
  tls_client_cert_refused: counter("tls_client_cert_refused", "TLS connections closed because the client's certificate did not verify against the client CA"),
  listener_errors: counter("listener_errors", "Errors of the listening socket"),
  local_alerts: counter("local_alerts_stored", "Alerts stored through the collector's own ingest (Falco HTTP posts)"),
  connections_open: gauge("connections_open", "Client connections open"),
  inflight_bytes_in_use: gauge("inflight_bytes", "Bytes of request bodies and messages in flight (reserved from the in-flight budget)"),
  inflight_bytes_high_water: gauge("inflight_high_water_bytes", "Most bytes in flight at once since start"),
  // the k8s_audit source (k8s-audit/intake.ts, k8s-audit/cloudwatch.ts)
  k8s_audit_events_received: counter("k8s_audit_events_received", "Kubernetes audit events received (webhook batches and CloudWatch Logs), good or bad"),
  k8s_audit_events_parsed: counter("k8s_audit_events_parsed", "Kubernetes audit events read and evaluated by the k8s_audit rules"),
  k8s_audit_events_bad: counter("k8s_audit_events_bad", "Kubernetes audit events skipped as malformed (not an Event, another apiVersion, no time)"),
  k8s_audit_batches_bad: counter("k8s_audit_batches_bad", "Audit payloads refused whole (not JSON, not an EventList or Event, bad encoding)"),
  k8s_audit_alerts: counter("k8s_audit_alerts_stored", "Alerts from k8s_audit rules stored (new)"),
  k8s_audit_alerts_duplicate: counter("k8s_audit_alerts_duplicate", "Alerts from k8s_audit rules already stored (a resent batch, a re-read window)"),
  k8s_audit_alerts_invalid: counter("k8s_audit_alerts_invalid", "Alerts from k8s_audit rules the store refused as invalid"),
  k8s_audit_eval_errors: counter("k8s_audit_eval_errors", "Audit event evaluations that failed"),
  k8s_audit_store_errors: counter("k8s_audit_store_errors", "Audit batches whose alerts could not be stored (the sender retries)"),
  k8s_audit_cloudwatch_polls: counter("k8s_audit_cloudwatch_polls", "Polls of the EKS audit log group"),
  k8s_audit_cloudwatch_pages: counter("k8s_audit_cloudwatch_pages", "FilterLogEvents pages read from the EKS audit log group"),
  k8s_audit_cloudwatch_events: counter("k8s_audit_cloudwatch_events", "Log events read from the EKS audit log group"),
  k8s_audit_cloudwatch_duplicates: counter("k8s_audit_cloudwatch_duplicates", "Log events skipped as already read (the overlap window)"),
  k8s_audit_cloudwatch_throttled: counter("k8s_audit_cloudwatch_throttled", "FilterLogEvents requests throttled (retried after a backoff)"),
  k8s_audit_cloudwatch_errors: counter("k8s_audit_cloudwatch_errors", "Polls of the EKS audit log group that failed (retried)"),
  k8s_audit_cloudwatch_position_errors: counter("k8s_audit_cloudwatch_position_errors", "Saves of the audit read position that failed"),
  // fleet mode: the shared JetStream consumer (fleet/consumer.ts)
  fleet_messages: counter("fleet_messages", "Stream messages this replica received from the shared consumer"),
  fleet_batches: counter("fleet_batches", "Batches this replica stored (one PostgreSQL transaction each)"),
  fleet_alerts_stored: counter("fleet_alerts_stored", "Alerts this replica stored (new)"),
  fleet_alerts_duplicate: counter("fleet_alerts_duplicate", "Alerts this replica received that were already stored (redeliveries, resends)"),
  fleet_chunks_stored: counter("fleet_capture_chunks_stored", "Capture chunks this replica stored (new)"),
  fleet_messages_bad: counter("fleet_messages_bad", "Stream messages that can never be stored (malformed, invalid): counted, logged, terminated"),
  fleet_redelivered: counter("fleet_redelivered", "Messages received again after another delivery was not acknowledged in time"),
  fleet_store_errors: counter("fleet_store_errors", "Batches whose store failed (left to redelivery)"),
  fleet_consumer_errors: counter("fleet_consumer_errors", "Times the JetStream consumer failed and was restarted"),
  // fleet mode: this replica's own ingest published to JetStream (fleet/index.ts)
  fleet_published: counter("fleet_published", "Alerts from this replica's gRPC/HTTP ingest published to JetStream"),
  fleet_publish_duplicates: counter("fleet_publish_duplicates", "Of those, resends JetStream already held"),
  fleet_publish_errors: counter("fleet_publish_errors", "Publishes to JetStream that failed (the sender was told to retry)"),
  // fleet mode: the live tail's feed (fleet/feed.ts)
  feed_refreshes: counter("fleet_feed_refreshes", "Reads of the shared consumer's ack floor"),
  feed_alerts: counter("fleet_feed_alerts", "Alerts read from PostgreSQL for the live tail"),
  feed_errors: counter("fleet_feed_errors", "Failed feed refreshes (retried)"),
  fleet_pending: gauge("fleet_stream_pending", "Messages in the stream not yet delivered to any replica (the backlog)"),
  fleet_ack_pending: gauge("fleet_ack_pending", "Messages delivered to replicas and not yet acknowledged"),
  tail_watermark: gauge("tail_watermark", "The settled stream sequence the live tail has reached"),
};

const NAME_BAD = /[^a-zA-Z0-9_]/g;

/** The collector's metrics, read from `stats()` when scraped. */
export class CollectorMetrics {
  /** The collector's own registry. */
  readonly registry = new Registry();
  private snapshot: Record<string, number> = {};
  private readonly known = new Set<string>();

  private forwarderSnapshot: ForwarderReport[] = [];

  constructor(
    private readonly stats: () => Record<string, number>,
    /** The forwarders' reports (counters and lag), when forwarders run. */
    private readonly forwarders?: () => Promise<ForwarderReport[]>,
  ) {
    for (const [key, spec] of Object.entries(COLLECTOR_METRICS)) this.add(key, spec);
    if (forwarders !== undefined) this.addForwarderFamilies();
  }

  private addForwarderFamilies(): void {
    const labelNames = ["forwarder", "type"] as const;
    const registers = [this.registry];
    const snap = () => this.forwarderSnapshot;
    for (const [key, help] of Object.entries(FORWARDER_COUNTERS)) {
      new Counter({
        name: `vigil_collector_forwarder_${key}_total`,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const f of snap()) {
            const v = f.counters[key as keyof typeof f.counters];
            if (v > 0) this.inc({ forwarder: f.name, type: f.type }, v);
          }
        },
      });
    }
    const gauge = (name: string, help: string, value: (f: ForwarderReport) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const f of snap()) this.set({ forwarder: f.name, type: f.type }, value(f));
        },
      });
    gauge("vigil_collector_forwarder_lag_alerts", "Alerts stored after the forwarder's cursor (matching its filters or not)", (f) => f.lagAlerts);
    gauge("vigil_collector_forwarder_lag_seconds", "Age of the oldest alert after the forwarder's cursor", (f) => f.lagSeconds);
    gauge("vigil_collector_forwarder_dead_letters", "Dead letters kept for the forwarder", (f) => f.deadLetters);
    gauge(
      "vigil_collector_forwarder_expired_alerts",
      "Alerts retention deleted before the forwarder reached them (kept in the store; lost to the forwarder)",
      (f) => f.expired,
    );
    gauge("vigil_collector_forwarder_active", "1 when this collector runs the forwarder (holds its lease), 0 on standby", (f) =>
      f.state === "running" || f.state === "retrying" ? 1 : 0,
    );
  }

  /** The Prometheus text exposition, read from one `stats()` call. */
  async text(): Promise<string> {
    this.snapshot = this.stats();
    if (this.forwarders !== undefined) this.forwarderSnapshot = await this.forwarders();
    // a key added to stats() without a table row is still exported, as a counter
    for (const key of Object.keys(this.snapshot)) {
      if (!this.known.has(key)) this.add(key, counter(key.replace(NAME_BAD, "_"), `collector stat ${key}`));
    }
    return this.registry.metrics();
  }

  /** The Content-Type of {@link text}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private add(key: string, spec: CollectorMetricSpec): void {
    this.known.add(key);
    if (this.registry.getSingleMetric(spec.name)) return;
    const read = (): number | undefined => {
      const v = this.snapshot[key];
      return typeof v === "number" && Number.isFinite(v) ? v : undefined;
    };
    const registers = [this.registry];
    if (spec.type === "gauge") {
      new Gauge({
        name: spec.name,
        help: spec.help,
        registers,
        collect() {
          const v = read();
          if (v === undefined) this.reset();
          else this.set(v);
        },
      });
    } else {
      new Counter({
        name: spec.name,
        help: spec.help,
        registers,
        collect() {
          this.reset();
          const v = read();
          if (v !== undefined && v > 0) this.inc(v);
        },
      });
    }
  }
}
