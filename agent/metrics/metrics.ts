// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's Prometheus metrics (prom-client). Per-event counts are plain typed-array slots the
 * hot path bumps (`countEvent(code)`: no labels hashed, nothing allocated); they and every stage's
 * `stats()` become metric values only when Prometheus scrapes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { EVENTS } from "../../rules/event-table.js";
import { CgroupResources, type CgroupResourceOptions, type ContainerCgroup } from "./cgroup-resources.js";

/** A container as an external source (the enricher) describes it; labels are optional. */
export interface LabeledContainer extends ContainerCgroup {
  name?: string | undefined;
  pod?: string | undefined;
  namespace?: string | undefined;
}

export interface RegisterStatsOptions {
  /** Keys that go up and down (queue depths, sizes); every other key is exported as a counter. */
  gauges?: readonly string[];
}

/** Keys that read as levels rather than totals are gauges even when not listed. */
const GAUGE_HINT = /(depth|size|queued|pending|inflight|in_flight|current|open|connected|active|age|_bytes_used|capacity|entries)(_|$)/;

const NAME_OK = /[^a-zA-Z0-9_]/g;
function metricName(component: string, key: string): string {
  return `vigil_${component}_${key}`.replace(NAME_OK, "_").replace(/_+/g, "_").replace(/_$/, "").toLowerCase();
}

interface StatsEntry {
  fn: () => Record<string, number>;
  gauges: ReadonlySet<string>;
}

export interface MetricsOptions {
  /** Also export Node.js process metrics (heap, event loop lag, fds). */
  processMetrics?: boolean;
  cgroups?: CgroupResourceOptions | false;
}

/** The metrics registry and the named metrics of issue 8. */
export class Metrics {
  readonly registry = new Registry();
  /** events by evt.type (index = wire type code). */
  private readonly eventCounts = new Float64Array(Math.max(256, EVENTS.length));
  private readonly eventNames: string[] = [];
  private kernelDropsTotal: () => number = () => 0;
  private readonly stats = new Map<string, StatsEntry>();
  private readonly statMetrics = new Map<string, Counter | Gauge>();
  private cgroups: CgroupResources | undefined;
  private containerSource: (() => Iterable<LabeledContainer>) | undefined;
  readonly counters = { stats_failures: 0, stat_name_clashes: 0 };

  readonly events: Counter<"type">;
  readonly kernelDrops: Counter;
  readonly decodeErrors: Counter<"kind">;
  readonly ruleEvaluations: Counter;
  readonly ruleEvalSeconds: Histogram;
  readonly alerts: Counter<"rule" | "priority">;
  readonly enrichCacheHits: Counter<"cache">;
  readonly enrichCacheMisses: Counter<"cache">;
  readonly spoolDepth: Gauge;
  readonly spoolBytes: Gauge;
  readonly spoolOldestAge: Gauge;
  readonly senderRetries: Counter<"reason">;
  readonly containerCpu: Counter<"container_id" | "container_name" | "pod" | "namespace">;
  readonly containerMemory: Gauge<"container_id" | "container_name" | "pod" | "namespace">;
  /** Requests (HTTP or gRPC calls) whose handler threw, answered 500 / INTERNAL, by server. */
  readonly serverHandlerErrors: Counter<"server">;
  /** Requests refused before or instead of handling, by server and reason (too_large, bad_json...). */
  readonly serverRequestsRefused: Counter<"server" | "reason">;
  /** Connections closed at accept because the server's connection cap was reached. */
  readonly serverConnectionsRefused: Counter<"server">;
  /** Connections closed for idling (no complete request, no traffic, no TLS handshake in time). */
  readonly serverConnectionsTimedOut: Counter<"server">;
  /** Open client connections, by server. */
  readonly serverConnections: Gauge<"server">;
  /** Streaming subscribers dropped, by server and reason (slow: their bounded queue filled). */
  readonly serverSubscribersDropped: Counter<"server" | "reason">;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    for (const e of EVENTS) this.eventNames[e.code] = e.name;
    const self = this;
    this.events = new Counter({
      name: "vigil_events_total",
      help: "Events received from the sources, by event type",
      labelNames: ["type"],
      registers,
      collect() {
        this.reset();
        const c = self.eventCounts;
        for (let i = 0; i < c.length; i++) {
          const v = c[i] as number;
          if (v > 0) this.inc({ type: self.eventNames[i] ?? `type_${i}` }, v);
        }
      },
    });
    this.kernelDrops = new Counter({
      name: "vigil_kernel_drops_total",
      help: "Events the kernel probe could not deliver (ring buffer full), as reported by the probe",
      registers,
      collect() {
        this.reset();
        this.inc(self.kernelDropsTotal());
      },
    });
    this.decodeErrors = new Counter({ name: "vigil_decode_errors_total", help: "Frames that could not be decoded, by kind", labelNames: ["kind"], registers });
    this.ruleEvaluations = new Counter({ name: "vigil_rule_evaluations_total", help: "Rule evaluations (one per rule an event met)", registers });
    this.ruleEvalSeconds = new Histogram({
      name: "vigil_rule_evaluation_seconds",
      help: "Time to evaluate the rules for one event",
      buckets: [1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 5e-4, 1e-3, 1e-2],
      registers,
    });
    this.alerts = new Counter({ name: "vigil_alerts_total", help: "Alerts raised, by rule and priority", labelNames: ["rule", "priority"], registers });
    this.enrichCacheHits = new Counter({ name: "vigil_enrich_cache_hits_total", help: "Enrichment cache hits", labelNames: ["cache"], registers });
    this.enrichCacheMisses = new Counter({ name: "vigil_enrich_cache_misses_total", help: "Enrichment cache misses", labelNames: ["cache"], registers });
    this.spoolDepth = new Gauge({ name: "vigil_spool_depth", help: "Alerts in the on-disk spool not yet acknowledged by the collector", registers });
    this.spoolBytes = new Gauge({ name: "vigil_spool_bytes", help: "Bytes used by the on-disk spool", registers });
    this.spoolOldestAge = new Gauge({ name: "vigil_spool_oldest_age_seconds", help: "Age of the oldest unacknowledged alert in the spool", registers });
    this.senderRetries = new Counter({ name: "vigil_sender_retries_total", help: "Collector sends retried, by reason", labelNames: ["reason"], registers });

    this.serverHandlerErrors = new Counter({
      name: "vigil_server_handler_errors_total",
      help: "Requests of the agent's own servers whose handler failed (answered 500 or gRPC INTERNAL)",
      labelNames: ["server"],
      registers,
    });
    this.serverRequestsRefused = new Counter({
      name: "vigil_server_requests_refused_total",
      help: "Requests the agent's own servers refused, by reason",
      labelNames: ["server", "reason"],
      registers,
    });
    this.serverConnectionsRefused = new Counter({
      name: "vigil_server_connections_refused_total",
      help: "Connections closed at accept because the server's connection cap was reached",
      labelNames: ["server"],
      registers,
    });
    this.serverConnectionsTimedOut = new Counter({
      name: "vigil_server_connections_timed_out_total",
      help: "Connections closed by a header, request, idle or handshake timeout",
      labelNames: ["server"],
      registers,
    });
    this.serverConnections = new Gauge({
      name: "vigil_server_connections",
      help: "Open client connections of the agent's own servers",
      labelNames: ["server"],
      registers,
    });
    this.serverSubscribersDropped = new Counter({
      name: "vigil_server_subscribers_dropped_total",
      help: "Streaming subscribers dropped, by reason (slow: their bounded queue filled)",
      labelNames: ["server", "reason"],
      registers,
    });

    const labelNames = ["container_id", "container_name", "pod", "namespace"] as const;
    this.containerCpu = new Counter({
      name: "vigil_container_cpu_seconds_total",
      help: "CPU time used by each container (cgroup cpu.stat usage_usec / cpuacct.usage)",
      labelNames,
      registers,
      collect() {
        self.collectContainers();
      },
    });
    this.containerMemory = new Gauge({
      name: "vigil_container_memory_bytes",
      help: "Memory charged to each container's cgroup (memory.current / memory.usage_in_bytes)",
      labelNames,
      registers,
    });
    if (opts.cgroups !== false) this.cgroups = new CgroupResources(opts.cgroups ?? {});
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: "vigil_process_" });
  }

  /** Hot path: one event of wire type `code`. */
  countEvent(code: number): void {
    if (code >= 0 && code < this.eventCounts.length) this.eventCounts[code] = (this.eventCounts[code] as number) + 1;
  }

  /** The probe's cumulative drop count (from its stats frames). */
  setKernelDrops(total: number | (() => number)): void {
    this.kernelDropsTotal = typeof total === "number" ? () => total : total;
  }

  /**
   * Exports a stage's `stats()` at scrape time as `vigil_<component>_<key>`: counters (suffixed
   * `_total`) unless the key is listed in `gauges` or reads as a level (depth, size, pending...).
   * Registering the same component again replaces its function.
   */
  registerStats(component: string, fn: () => Record<string, number>, opts: RegisterStatsOptions = {}): void {
    this.stats.set(component, { fn, gauges: new Set(opts.gauges ?? []) });
  }

  /** Stops exporting a component's stats (its last values are dropped). */
  unregisterStats(component: string): void {
    this.stats.delete(component);
    const prefix = `${metricName(component, "")}_`;
    for (const name of [...this.statMetrics.keys()]) {
      if (name.startsWith(prefix)) {
        this.registry.removeSingleMetric(name);
        this.statMetrics.delete(name);
      }
    }
  }

  /** Where to read cgroups from (the host's hierarchy as mounted in the agent), or false for none. */
  setCgroupOptions(opts: CgroupResourceOptions | false): void {
    this.cgroups = opts === false ? undefined : new CgroupResources(opts);
  }

  /** Overrides container discovery (the enricher knows names, pods and namespaces). */
  setContainerSource(fn: (() => Iterable<LabeledContainer>) | undefined): void {
    this.containerSource = fn;
  }

  private collectContainers(): void {
    this.containerCpu.reset();
    this.containerMemory.reset();
    const cg = this.cgroups;
    if (!cg) return;
    const list: Iterable<LabeledContainer> = this.containerSource ? this.containerSource() : cg.containers();
    for (const c of list) {
      const r = cg.read(c);
      const labels = { container_id: c.id, container_name: c.name ?? "", pod: c.pod ?? "", namespace: c.namespace ?? "" };
      if (r.cpuSeconds !== undefined) this.containerCpu.inc(labels, r.cpuSeconds);
      if (r.memoryBytes !== undefined) this.containerMemory.set(labels, r.memoryBytes);
    }
  }

  private refreshStats(): void {
    for (const [component, entry] of this.stats) {
      let rec: Record<string, number>;
      try {
        rec = entry.fn();
      } catch {
        this.counters.stats_failures++;
        continue;
      }
      for (const [key, value] of Object.entries(rec)) {
        if (typeof value !== "number" || !Number.isFinite(value)) continue;
        const gauge = entry.gauges.has(key) || GAUGE_HINT.test(key);
        const base = metricName(component, key);
        const name = gauge ? base : base.endsWith("_total") ? base : `${base}_total`;
        let m = this.statMetrics.get(name);
        if (m === undefined) {
          if (this.registry.getSingleMetric(name)) {
            this.counters.stat_name_clashes++;
            continue;
          }
          const help = `${component} stat ${key}`;
          m = gauge ? new Gauge({ name, help, registers: [this.registry] }) : new Counter({ name, help, registers: [this.registry] });
          this.statMetrics.set(name, m);
        }
        if (m instanceof Gauge) m.set(value);
        else {
          m.reset();
          if (value > 0) m.inc(value);
        }
      }
    }
  }

  /** Prometheus text exposition of every metric. */
  async scrape(): Promise<string> {
    this.refreshStats();
    return this.registry.metrics();
  }

  /** The Content-Type of {@link scrape}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The process-wide metrics instance the stages report to. */
export const metrics = new Metrics({ processMetrics: true });
