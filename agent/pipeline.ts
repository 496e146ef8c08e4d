// SPDX-License-Identifier: Apache-2.0
/**
 * The pipeline: rules, alerts and sinks behind the event sources.
 *
 * - `start()` loads the rules and gives the source they ask for (syscall set, kernel filters)
 *   a {@link SourceContext}; a rules reload retunes the source (before the swap, to what both
 *   rule sets need). The JIT warm-up (warmup.ts) runs meanwhile.
 * - Sources make the events. The kernel probe and the Fargate tracer feed their frames to an
 *   event assembler (assembler.ts: decode → process/fd state → container resolution through the
 *   enricher); a replay rebuilds the events a capture recorded. Each event reaches `onEvent`
 *   synchronously, on an object the source reuses.
 * - `onEvent`: the capture recorder (only while a loaded rule has `capture: true`), the metrics,
 *   the rule engine (every 256th evaluation timed). An exec the kernel blocked that no rule
 *   reports gets an alert of its own.
 * - A match becomes an alert (after its container's metadata, from a snapshot of the event, when
 *   the container is not known yet), decorated when its rule has the decorator's tag (FIM), shown
 *   to `onAlert` (captures), and queued. Alerts of a Falco gRPC stream (`ingest`) and of the agent
 *   itself (`raiseInternal`) join at the queue. The queue is bounded (drops counted, logged once
 *   per burst) and exported to every sink in batches off the event path.
 */
import { hostname as osHostname } from "node:os";
import type { ExpansionLimits } from "../rules/load/budget.js";
import type { RuleSelectionOptions } from "../rules/load/selection.js";
import { DEFAULT_FIELD_CONTEXT, type CompiledRule, type IpNameResolver, type RuleSet } from "../rules/index.js";
import { deriveKernelFilters, PUSHDOWN_EVENTS, type KernelFilters } from "../rules/compile/pushdown.js";
import { deriveResultFilters, type ResultFilters, type ResultNeed } from "../rules/compile/result-filter.js";
import { deriveJsonOnly, deriveSocketOnly } from "../rules/compile/socket-filter.js";
import { Capture, CLONE_FAMILY, EVENTS, eventByName, STATE_EVENTS } from "../rules/event-table.js";
import type { ContainerInfo, SyscallEvent } from "../rules/event.js";
import { AlertBuilder } from "./engine/alert-builder.js";
import { NET_BEHAVIOUR_READS, NetBehaviour, netBehaviourNeeds, type NetBehaviourOptions } from "./behaviour/net.js";
import { FILE_BEHAVIOUR_READS, FileBehaviour, fileBehaviourFilterRules, fileBehaviourNeeds, type FileBehaviourOptions } from "./behaviour/files.js";
import { readsAnyField } from "./behaviour/reads.js";
import { compileOutputOptions, type OutputOptions } from "./engine/append-output.js";
import { RuleEngine } from "./engine/rule-engine.js";
import type { Logger } from "./log.js";
import type { EventSource, SourceContext } from "./sources/types.js";
import type { Metrics } from "./metrics/index.js";
import type { Sink } from "./sinks/types.js";
import { warmUp } from "./warmup.js";
import type { Alert } from "../proto/index.js";

export type { EventSource, SourceContext } from "./sources/types.js";

/** A container enricher, as the pipeline uses it. */
export interface Enricher {
  start(): Promise<void>;
  stop(): Promise<void>;
  resolve(cgroupPath: string, cgroupId: number, pid: number): ContainerInfo;
  whenReady(info: ContainerInfo): Promise<void>;
  stats(): Record<string, number>;
  /** A known container by ID (for alerts that come with only the ID). */
  byId?(id: string): ContainerInfo | undefined;
}

/** Falco fields filled from the container's metadata when an ingested alert lacks them. */
const CONTAINER_FIELDS: [string, (c: ContainerInfo) => string | undefined][] = [
  ["container.name", (c) => c.name],
  ["container.image.repository", (c) => c.imageRepository],
  ["container.image.tag", (c) => c.imageTag],
  ["container.image.digest", (c) => c.imageDigest],
  ["k8s.ns.name", (c) => c.k8s?.namespace],
  ["k8s.pod.name", (c) => c.k8s?.podName],
  ["k8s.pod.uid", (c) => c.k8s?.podUid],
];

export interface PipelineOptions {
  /** Rules files in load order; empty = the built-in ones. */
  rulesFiles: readonly string[];
  /** Loaded after the files above (user additions to the built-in rules). */
  extraRulesFiles?: readonly string[];
  /** Prometheus metrics fed from the event path (counted without allocation). */
  metrics?: Metrics | undefined;
  ruleMatching?: "first" | "all";
  minPriority?: string;
  /** The rules compile budget (defaults: rules/load/budget.ts). */
  ruleLimits?: Partial<ExpansionLimits>;
  /** Which rules run (Falco's `rules:` list and -D/-T/-t), applied on every load and reload. */
  ruleSelection?: RuleSelectionOptions;
  /** The node name (`hostname:` of the configuration, resolved once): alerts and `evt.hostname`. Default os.hostname(). */
  hostname?: string;
  /** Names of IP addresses for `fd.*ip.name` (default: none). */
  ipNames?: IpNameResolver;
  logger: Logger;
  source: (ctx: SourceContext) => EventSource;
  enricher?: Enricher | undefined;
  sinks: readonly Sink[];
  /** Alerts waiting for the sinks; past this, alerts are dropped and counted. */
  maxQueuedAlerts?: number;
  /** Seconds between stats lines in the log (0 = none). */
  statsIntervalSec?: number;
  /** Called with every alert as it is raised (after formatting and decoration), with the
   * event's container ID (captures take the window of that container). */
  onAlert?: (a: Alert, containerId: string) => void;
  /** Sees every event before the rules (the capture recorder's ring); must not keep `e`. */
  record?: ((e: SyscallEvent) => void) | undefined;
  /**
   * Adds to alerts of rules carrying `tag` before they are queued (FIM hashes). `fn` must copy
   * what it needs from `e` synchronously: the source reuses the event object.
   */
  decorate?: { tag: string; fn: (a: Alert, e: SyscallEvent) => Promise<void> } | undefined;
  /** Derive kernel filters from the rules and hand them to the source (default true). */
  kernelFilter?: boolean;
  /** Synthetic events run through decode, state and the rules at start (agent/warmup.ts); 0 = none. */
  warmupEvents?: number;
  /** Falco 0.44's suggested fields and `append_output` entries (default: suggested fields on). A bad entry throws AppendOutputError. */
  output?: OutputOptions;
  /** Caps and window of the network behaviour state (agent/behaviour/net.ts; defaults there). */
  netBehaviour?: Partial<NetBehaviourOptions>;
  /** Caps and windows of the file and exec behaviour state (agent/behaviour/files.ts; defaults there). */
  fileBehaviour?: FileBehaviourOptions;
}

/** Events the process table needs whatever the rules say. */
export const STATE_SYSCALLS: readonly string[] = STATE_EVENTS;

/** What the process table needs of them: successful calls (a failed exec or clone changes nothing). */
const STATE_RESULT_NEEDS: ReadonlyMap<string, ResultNeed> = new Map(STATE_EVENTS.map((n) => [n, "ok" as const]));

/** The open family carries the result in its pushed-down filter (pushdown.ts). */
const OPEN_FAMILY: ReadonlySet<string> = new Set(PUSHDOWN_EVENTS);

/**
 * Clone-family names no rule of `rs` uses: the process table needs only the new task's side of
 * those calls (its frame names the parent and carries the process block), so the probe reports
 * neither the parent's side nor failed calls — one frame less per process started.
 */
export function stateOnlyClones(rs: RuleSet): string[] {
  const { names, all } = rs.eventTypes();
  return all ? [] : CLONE_FAMILY.filter((n) => !names.has(n));
}

/** False for a syscall this machine's architecture does not have (open, inotify_init... on arm64). */
function onThisArch(e: (typeof EVENTS)[number]): boolean {
  if (e.hook?.tracepoint === null) return true; // not a syscall (procexit)
  return (process.arch === "arm64" ? e.nr.aarch64 : e.nr.x86_64) !== undefined;
}

/** The syscall set for a rule set: its event types plus what state needs. */
export function syscallsFor(rs: RuleSet): string[] {
  const { names, all } = rs.eventTypes();
  // no constraint: every kernel event of this architecture but the high-volume ones only a rule naming them turns on
  const out = new Set<string>(all ? EVENTS.filter((e) => e.capture !== Capture.Never && e.explicitOnly !== true && onThisArch(e)).map((e) => e.name) : names);
  for (const s of STATE_SYSCALLS) out.add(s);
  for (const s of netBehaviourNeeds(rs.rules)) out.add(s);
  for (const s of fileBehaviourNeeds(rs.rules)) out.add(s);
  // names with no kernel event (Falco's meta event `container`) are not asked of the probe
  return [...out].filter((n) => eventByName(n)?.capture !== Capture.Never).sort();
}

function wantsCapture(rs: Pick<RuleSet, "rules">): boolean {
  return rs.rules.some((r) => r.capture);
}

export class Pipeline {
  readonly engine: RuleEngine;
  private source: EventSource | undefined;
  private readonly builder: AlertBuilder;
  private queue: Alert[] = [];
  private flushing = false;
  private flushTimer: NodeJS.Immediate | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly maxQueued: number;
  private dropBurst = 0;
  private started = false;
  private readonly record: ((e: SyscallEvent) => void) | undefined;
  /** `record` while a loaded rule has `capture: true` (no rule could take a capture otherwise). */
  private recording: ((e: SyscallEvent) => void) | undefined;
  /** Network behaviour over time: sets `e.net` before the rules. */
  readonly netBehaviour: NetBehaviour;
  /** File and exec behaviour over time: sets `e.fileBehaviour` before the rules. */
  readonly fileBehaviour: FileBehaviour;
  /** Whether each behaviour stage runs: only while a loaded rule or append_output entry reads its fields. */
  private netOn = true;
  private fileOn = true;
  /** The field expressions append_output reads (fixed for the agent's life). */
  private readonly appendReads: readonly string[];
  readonly counters = {
    events: 0,
    blocked_execs: 0,
    blocked_unreported: 0,
    alerts: 0,
    alerts_dropped: 0,
    alerts_late_metadata: 0,
    alerts_decorated: 0,
    decorate_errors: 0,
    internal_alerts: 0,
    ingested: 0,
    ingested_enriched: 0,
    sink_failures: 0,
  };

  constructor(private readonly opts: PipelineOptions) {
    this.log = opts.logger.child({ component: "pipeline" });
    this.maxQueued = opts.maxQueuedAlerts ?? 100_000;
    this.record = opts.record;
    this.netBehaviour = new NetBehaviour(opts.netBehaviour);
    this.fileBehaviour = new FileBehaviour(opts.fileBehaviour);
    const hostname = opts.hostname ?? osHostname();
    const fieldCtx = { hostname, ipNames: opts.ipNames ?? DEFAULT_FIELD_CONTEXT.ipNames };
    const output = compileOutputOptions(opts.output ?? { suggestedFields: true, append: [] }, { fields: fieldCtx });
    for (const w of output.warnings) this.log.warn({ warning: w }, "append_output");
    this.builder = new AlertBuilder(hostname, output.appender);
    this.appendReads = output.appender.readNames;
    const engineOpts: ConstructorParameters<typeof RuleEngine>[0] = {
      files: opts.rulesFiles,
      extraFiles: opts.extraRulesFiles ?? [],
      fields: { hostname, ipNames: opts.ipNames ?? DEFAULT_FIELD_CONTEXT.ipNames },
      logger: opts.logger.child({ component: "rules" }),
      beforeSwap: async (next, prev) => {
        if (!this.started || prev === undefined) return;
        // a capture rule coming in finds the events before its first alert already recorded
        if (wantsCapture(next)) this.recordFor(next);
        // the stages either set reads run until the swap
        this.stagesFor([...prev.rules, ...next.rules]);
        // while the probe catches up, capture what either rule set needs: the syscalls of both
        // and filters derived from both sets' rules; the answer confirms both were applied
        const both = { rules: [...prev.rules, ...next.rules] };
        const nextChildOnly = stateOnlyClones(next);
        await this.source?.setSyscalls?.(
          [...new Set([...syscallsFor(prev), ...syscallsFor(next)])],
          stateOnlyClones(prev).filter((n) => nextChildOnly.includes(n)),
          this.resultFiltersFor(both),
        );
        await this.source?.setKernelFilters?.(this.filtersFor(both));
      },
      onSwap: (rs) => {
        if (!this.started) return;
        this.recordFor(rs);
        this.stagesFor(rs.rules);
        void this.source?.setSyscalls?.(syscallsFor(rs), stateOnlyClones(rs), this.resultFiltersFor(rs));
        void this.source?.setKernelFilters?.(this.filtersFor(rs));
      },
    };
    if (opts.ruleMatching !== undefined) engineOpts.ruleMatching = opts.ruleMatching;
    if (opts.minPriority !== undefined) engineOpts.minPriority = opts.minPriority;
    if (opts.ruleLimits !== undefined) engineOpts.expansion = opts.ruleLimits;
    if (opts.ruleSelection !== undefined) engineOpts.selection = opts.ruleSelection;
    this.engine = new RuleEngine(engineOpts);
  }

  /** Loads the rules, starts enrichment and the source. Resolves once events flow. */
  async start(): Promise<void> {
    const rs = this.engine.load();
    this.recordFor(rs);
    this.stagesFor(rs.rules);
    // in slices, while enrichment and the source start
    const warm = this.opts.warmupEvents ?? 0;
    const warming =
      warm > 0
        ? warmUp(rs, syscallsFor(rs), warm).catch((err: unknown) => {
            // an optimization only: the agent runs without it
            this.log.warn({ err }, "event path warm-up failed");
            return undefined;
          })
        : undefined;
    if (this.opts.enricher) await this.opts.enricher.start();
    const enricher = this.opts.enricher;
    this.source = this.opts.source({
      syscalls: syscallsFor(rs),
      childOnly: stateOnlyClones(rs),
      resultOnly: this.resultFiltersFor(rs),
      kernelFilters: this.filtersFor(rs),
      logger: this.opts.logger.child({ component: "source" }),
      onEvent: this.onEvent,
      resolveContainer: enricher ? (p, id, pid) => enricher.resolve(p, id, pid) : undefined,
    });
    await this.source.start();
    const warmed = await warming;
    if (warmed !== undefined) this.log.info({ warmup: warmed }, "event path warmed up");
    this.started = true;
    const every = this.opts.statsIntervalSec ?? 60;
    if (every > 0) {
      this.statsTimer = setInterval(() => this.log.info({ stats: this.stats() }, "stats"), every * 1000);
      this.statsTimer.unref();
    }
  }

  /** Records events for captures while `rs` has a capture rule. */
  private recordFor(rs: Pick<RuleSet, "rules">): void {
    this.recording = wantsCapture(rs) ? this.record : undefined;
  }

  /** Turns each behaviour stage on while `rules` (or append_output) read its fields, off otherwise. */
  private stagesFor(rules: Parameters<typeof readsAnyField>[0]): void {
    this.netOn = readsAnyField(rules, NET_BEHAVIOUR_READS, this.appendReads);
    this.fileOn = readsAnyField(rules, FILE_BEHAVIOUR_READS, this.appendReads);
  }

  /** Whether the network / file behaviour stage runs now. */
  get behaviourStages(): { net: boolean; files: boolean } {
    return { net: this.netOn, files: this.fileOn };
  }

  /** Whether events are being recorded for audit captures now. */
  get recordingCaptures(): boolean {
    return this.recording !== undefined;
  }

  /** Result filters of the non-open types (the rules' needs plus the state's); undefined when kernel filtering is off. */
  private resultFiltersFor(rs: Pick<RuleSet, "rules">): ResultFilters | undefined {
    if (this.opts.kernelFilter === false) return undefined;
    const f = deriveResultFilters(rs.rules, STATE_RESULT_NEEDS, OPEN_FAMILY);
    // write/writev only on sockets when every rule of the type needs one (takes the place of a result filter: a superset)
    const sock = deriveSocketOnly(rs.rules);
    const json = deriveJsonOnly(rs.rules, sock);
    for (const n of sock) f.set(n, json.has(n) ? "sockjson" : "sock");
    this.log.info({ resultFilters: Object.fromEntries(f) }, "result filters derived from the rules");
    return f;
  }

  private filtersFor(rs: Pick<RuleSet, "rules">): KernelFilters | undefined {
    if (this.opts.kernelFilter === false) return undefined;
    const f = deriveKernelFilters([...rs.rules, ...fileBehaviourFilterRules(rs.rules)]);
    this.log.info(
      { kernelFilters: Object.fromEntries([...f].map(([k, v]) => [k, v === null ? "all" : `${v.length} clauses`])) },
      "kernel filters derived from the rules",
    );
    return f;
  }

  /** The per-event path: rules only; every 256th evaluation is timed for the latency histogram. */
  private readonly onEvent = (e: SyscallEvent): void => {
    const n = ++this.counters.events;
    if (this.netOn) this.netBehaviour.observe(e);
    if (this.fileOn) this.fileBehaviour.observe(e);
    this.recording?.(e);
    if (e.blocked === true) {
      this.onBlocked(e);
      return;
    }
    const m = this.opts.metrics;
    if (m === undefined) {
      this.engine.evaluate(e, this.onMatch);
      return;
    }
    m.countEvent(e.type);
    if ((n & 255) !== 0) {
      this.engine.evaluate(e, this.onMatch);
      return;
    }
    const t0 = process.hrtime.bigint();
    this.engine.evaluate(e, this.onMatch);
    m.ruleEvalSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
  };

  /**
   * An exec the kernel blocked (drift prevention killed it before it ran): the rules' alerts say
   * so; when no rule reports it, it gets an alert of its own — a kill nobody hears of is a bug.
   */
  private onBlocked(e: SyscallEvent): void {
    this.counters.blocked_execs++;
    this.opts.metrics?.countEvent(e.type);
    this.blockedMatched = false;
    this.engine.evaluate(e, this.onBlockedMatch);
    if (this.blockedMatched) return;
    this.counters.blocked_unreported++;
    const send = (ev: SyscallEvent): void => this.emit(this.builder.blockedExec(ev), ev.proc.container.id);
    if (e.proc.container.metaMissing && this.opts.enricher) {
      const snap = snapshotEvent(e);
      void this.opts.enricher.whenReady(e.proc.container).then(
        () => send(snap),
        () => send(snap),
      );
      return;
    }
    send(e);
  }

  private blockedMatched = false;
  private readonly onBlockedMatch = (rule: CompiledRule, e: SyscallEvent): void => {
    this.blockedMatched = true;
    this.onMatch(rule, e);
  };

  private readonly onMatch = (rule: CompiledRule, e: SyscallEvent): void => {
    if (e.proc.container.metaMissing && this.opts.enricher) {
      // The container is not known yet: wait (bounded) for its metadata, then format from a
      // snapshot, since the source may reuse the event object.
      const snap = snapshotEvent(e);
      this.counters.alerts_late_metadata++;
      void this.opts.enricher.whenReady(e.proc.container).then(
        () => this.raise(rule, snap),
        () => this.raise(rule, snap),
      );
      return;
    }
    this.raise(rule, e);
  };

  private raise(rule: CompiledRule, e: SyscallEvent): void {
    let alert: Alert;
    try {
      alert = this.builder.build(rule, e);
    } catch (err) {
      this.log.error({ err, rule: rule.name }, "alert formatting failed");
      return;
    }
    const d = this.opts.decorate;
    if (d !== undefined && rule.tags.includes(d.tag)) {
      // started now (it copies what it needs from e), queued when done
      let p: Promise<void>;
      try {
        p = d.fn(alert, e);
      } catch (err) {
        p = Promise.reject(err);
      }
      const cid = e.proc.container.id;
      p.then(
        () => {
          this.counters.alerts_decorated++;
          this.emit(alert, cid);
        },
        (err: unknown) => {
          if (this.counters.decorate_errors++ === 0) this.log.error({ err, rule: alert.rule }, "alert decoration failed (alert sent without it; logged once)");
          this.emit(alert, cid);
        },
      );
      return;
    }
    this.emit(alert, e.proc.container.id);
  }

  /**
   * Raises an alert about the agent itself (rule `name`, source `internal`): it goes through the
   * same queue and sinks as rule alerts.
   */
  raiseInternal(name: string, priority: Alert["priority"], message: string, fields: Alert["output_fields"], tags: string[] = []): Alert {
    const alert = this.builder.internal(name, priority, message, fields, tags);
    this.counters.internal_alerts++;
    this.emit(alert, "host");
    return alert;
  }

  /**
   * Takes an alert raised elsewhere (a Falco gRPC stream) through the hook and the sinks. When
   * its `container.id` is a container this node knows, missing container and Kubernetes fields
   * are filled in (fields the alert has are never changed).
   */
  ingest(alert: Alert): void {
    const cid = alert.output_fields["container.id"];
    const id = typeof cid === "string" ? cid : "host";
    const c = this.opts.enricher?.byId?.(id);
    if (c !== undefined) {
      const f = alert.output_fields;
      let n = 0;
      for (const [name, get] of CONTAINER_FIELDS) {
        const v = get(c);
        if (v !== undefined && (f[name] === undefined || f[name] === null)) {
          f[name] = v;
          n++;
        }
      }
      if (n > 0) this.counters.ingested_enriched++;
    }
    this.counters.ingested++;
    this.emit(alert, id);
  }

  private emit(alert: Alert, containerId: string): void {
    this.counters.alerts++;
    this.opts.metrics?.alerts.inc({ rule: alert.rule, priority: alert.priority });
    if (this.opts.onAlert !== undefined) {
      try {
        this.opts.onAlert(alert, containerId);
      } catch (err) {
        this.log.error({ err }, "alert hook failed");
      }
    }
    if (this.queue.length >= this.maxQueued) {
      this.counters.alerts_dropped++;
      if (this.dropBurst++ === 0) this.log.error({ queued: this.queue.length }, "alert queue full, dropping alerts");
      return;
    }
    this.queue.push(alert);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.flushing) return;
    // right after the I/O callbacks of this turn (a timer of 0 waits at least 1 ms): the alert's
    // syscall-to-output latency (issue 22)
    this.flushTimer = setImmediate(() => {
      this.flushTimer = undefined;
      void this.flush();
    });
  }

  /** Exports everything queued. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        if (this.dropBurst > 0) {
          this.log.warn({ dropped: this.dropBurst }, "alert queue drained after drops");
          this.dropBurst = 0;
        }
        for (const sink of this.opts.sinks) {
          try {
            const r = await sink.export(batch);
            if (!r.ok) {
              this.counters.sink_failures++;
              this.log.warn({ err: r.error, sink: sink.name }, "sink export failed");
            }
          } catch (err) {
            this.counters.sink_failures++;
            this.log.warn({ err, sink: sink.name }, "sink export threw");
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Stops the source, flushes alerts, shuts the sinks down. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.engine.stop();
    await this.source?.stop();
    await this.flush();
    for (const s of this.opts.sinks) {
      await s.forceFlush().catch(() => undefined);
      await s.shutdown().catch(() => undefined);
    }
    await this.opts.enricher?.stop();
  }

  stats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = { pipeline: { ...this.counters }, rules: this.engine.stats() };
    if (this.source) out[`source_${this.source.name}`] = this.source.stats();
    if (this.opts.enricher) out["enrich"] = this.opts.enricher.stats();
    out["behaviour_net"] = this.netBehaviour.stats();
    out["behaviour_files"] = this.fileBehaviour.stats();
    return out;
  }
}

/** A copy of an event that survives the source reusing its object. */
export function snapshotEvent(e: SyscallEvent): SyscallEvent {
  return { ...e, args: e.args.slice(), fd: e.fd ? { ...e.fd } : undefined, proc: { ...e.proc } };
}
