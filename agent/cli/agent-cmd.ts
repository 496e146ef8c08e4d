// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent`: the daemon. Reads the configuration (file < `VIGIL_*` environment < flags), loads
 * the rules, attaches the kernel probe, prints alerts on stdout (JSON lines with `--output json`,
 * readable colored lines by default), ships them through a disk spool to a collector (an embedded
 * one on loopback unless `--collector` names another), serves /metrics, /healthz and /readyz, and
 * logs to stderr.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { kubernetesIpNames } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { ruleLimitsFromConfig } from "../engine/rule-engine.js";
// types only: the configuration is read in a worker thread (agent-config-thread.ts), so that
// zod and the schemas are never loaded here (.dependency-cruiser-runtime.cjs, agent-zod-in-worker-only)
import type { Config } from "../config/schema.js";
import { agentConfigInWorker } from "./agent-config-thread.js";
import { parseSourceList, type AgentFlags } from "./agent-flags.js";
import { builtinRuleFiles } from "../engine/rule-engine.js";
import { checkSelection, type RuleSelectionOptions } from "../../rules/load/selection.js";
import { createLogger, type Logger } from "../log.js";
import { metrics, startMetricsServer, type MetricsServer } from "../metrics/index.js";
import { applyMemorySettings, memorySaver } from "./agent-memory.js";
import { Pipeline, type Enricher, type EventSource, type SourceContext } from "../pipeline.js";
import { fileBehaviourOptions } from "../behaviour/files.js";
import { netBehaviourOptions } from "../behaviour/net.js";
import { StdoutSink } from "../sinks/stdout-sink.js";
import type { CaptureUpload } from "../sinks/collector-client.js";
import type { Sink } from "../sinks/types.js";
import type { PreventionRuntime } from "../prevent/index.js";
import type { Alert } from "../../proto/index.js";
import { caFileSource, tokenFileSource } from "../sinks/credential-files.js";
import { inCluster } from "../enrich/k8s-api/in-cluster.js";
import type { AppendOutputEntry } from "../engine/append-output.js";

export { flagsToOverrides, parseSourceList } from "./agent-flags.js";
export type { AgentFlags } from "./agent-flags.js";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** The kernel probe source. */
async function ebpfSource(
  ctx: SourceContext,
  c: Config["sources"]["ebpf"],
  onDrops: (info: { drops: number; total: number }) => void,
  prevention?: PreventionRuntime,
): Promise<EventSource> {
  const { KernelEventStream } = await import("../sources/ebpf-source.js");
  const opts: ConstructorParameters<typeof KernelEventStream>[0] = {
    syscalls: ctx.syscalls,
    childOnly: ctx.childOnly,
    resultOnly: ctx.resultOnly,
    logger: ctx.logger,
    onEvent: prevention ? prevention.wrap(ctx.onEvent) : ctx.onEvent,
    onDrops,
    probeArgs: [
      "--ringbuf-mb",
      String(c.ringbuf_mb),
      "--wakeup-kb",
      String(c.wakeup_kb),
      "--poll-ms",
      String(c.poll_ms),
      "--batch-us",
      String(c.batch_us),
      "--stats-ms",
      String(c.stats_ms),
      ...(c.capture_env ? ["--env"] : []),
      ...(c.raw_syscalls.length > 0 ? ["--raw-syscalls", c.raw_syscalls.join(",")] : []),
    ],
  };
  if (c.probe_path !== "") opts.probePath = c.probe_path;
  if (ctx.resolveContainer !== undefined) opts.resolveContainer = ctx.resolveContainer;
  if (prevention) opts.preventMax = prevention.config.max_cgroups;
  if (ctx.kernelFilters !== undefined) opts.kernelFilters = ctx.kernelFilters;
  const s = new KernelEventStream(opts);
  // read at scrape time: the probe's cumulative drop count, across probe restarts
  metrics.setKernelDrops(() => s.stats()["kernel_drops"] ?? 0);
  return {
    name: "ebpf",
    start: async () => {
      await s.start();
      prevention?.attach(s, ctx.resolveContainer);
    },
    stop: () => s.stop(),
    stats: () => s.stats(),
    setSyscalls: (names, childOnly, resultOnly) => s.setSyscalls(names, childOnly, resultOnly),
    setKernelFilters: (f) => s.setKernelFilters(f),
  };
}

/** Several sources as one: started in order, stopped in reverse, stats prefixed by name. */
function combinedSources(list: EventSource[]): EventSource {
  if (list.length === 1) return list[0] as EventSource;
  if (list.length === 0) return { name: "none", start: async () => undefined, stop: async () => undefined, stats: () => ({}) };
  return {
    name: list.map((x) => x.name).join("+"),
    start: async () => {
      for (const x of list) await x.start();
    },
    stop: async () => {
      for (const x of [...list].reverse()) await x.stop().catch(() => undefined);
    },
    stats: () => {
      const out: Record<string, number> = {};
      for (const x of list) for (const [k, v] of Object.entries(x.stats())) out[`${x.name}_${k}`] = v;
      return out;
    },
    setSyscalls: async (names, childOnly, resultOnly) => {
      for (const x of list) await x.setSyscalls?.(names, childOnly, resultOnly);
    },
    setKernelFilters: async (f) => {
      for (const x of list) await x.setKernelFilters?.(f);
    },
  };
}

/** A source created on start (its module loads lazily). */
function lazySource(name: string, make: () => Promise<EventSource>): EventSource {
  let real: EventSource | undefined;
  return {
    name,
    start: async () => {
      real = await make();
      await real.start();
    },
    stop: async () => real?.stop(),
    stats: () => real?.stats() ?? {},
    setSyscalls: async (names, childOnly, resultOnly) => real?.setSyscalls?.(names, childOnly, resultOnly),
    setKernelFilters: async (f) => real?.setKernelFilters?.(f),
  };
}

async function containerEnricher(
  cfg: Config,
  logger: Logger,
  onTask?: (pid: number) => void,
  k8sApi?: import("../enrich/k8s-api/index.js").K8sApiContext,
): Promise<Enricher | undefined> {
  if (!cfg.containerd.enabled) return undefined;
  const { ContainerEnricher } = await import("../enrich/index.js");
  return new ContainerEnricher({
    onTask: onTask ? (_ns, _id, pid) => onTask(pid) : undefined,
    k8sApi,
    socket: cfg.containerd.socket,
    cacheSize: cfg.containerd.cache_size,
    namespaces: cfg.containerd.namespaces,
    waitMs: cfg.containerd.wait_ms,
    ttlMs: cfg.containerd.refresh_seconds * 1000,
    logger: logger.child({ component: "enrich" }),
  });
}

function readToken(cfg: Config): string | undefined {
  const c = cfg.sinks.collector;
  if (c.token !== "") return c.token;
  if (c.token_file !== "") return readFileSync(c.token_file, "utf8").trim();
  return process.env["VIGIL_TOKEN"];
}

/**
 * The node name, resolved once at start and passed to every stage that reports it: `hostname:`
 * of the configuration (or `VIGIL_HOSTNAME`, which the DaemonSet sets from spec.nodeName), else
 * `NODE_NAME` (what injected sidecars and older manifests set), else os.hostname().
 */
export function resolveHostname(configured: string, env: NodeJS.ProcessEnv): string {
  if (configured !== "") return configured;
  const node = env["NODE_NAME"];
  return node !== undefined && node !== "" ? node : osHostname();
}

/** Stops what was started, run in reverse order at exit. */
type Closers = (() => Promise<void>)[];

/** The embedded collector, once started: what the console hint says (agent/cli/console-hint.ts). */
interface EmbeddedCollector {
  address: string;
  /** The file its token was read from or written to; undefined when the token was given inline. */
  tokenFile: string | undefined;
  token: string;
}

/**
 * The token of the embedded collector and where it lives: the configured one (inline or its file),
 * else the generated one under the state directory.
 */
async function embeddedTokenOf(cfg: Config, flags: AgentFlags): Promise<{ token: string; file: string | undefined }> {
  const c = cfg.sinks.collector;
  const configured = readToken(cfg);
  if (configured !== undefined) return { token: configured, file: c.token === "" && c.token_file !== "" ? resolve(c.token_file) : undefined };
  const { LOCAL_TOKEN_FILE, loadOrCreateLocalToken } = await import("../../proto/index.js");
  return { token: loadOrCreateLocalToken(flags.data), file: join(resolve(flags.data), LOCAL_TOKEN_FILE) };
}

/** Alert sinks: stdout, and a collector (the configured one, or an embedded one on loopback) behind a disk spool. */
async function startSinks(
  cfg: Config,
  flags: AgentFlags,
  hostname: string,
  logger: Logger,
  closers: Closers,
  embedded: { started?: EmbeddedCollector },
): Promise<Sink[]> {
  const sinks: Sink[] = [];
  if (cfg.sinks.stdout.enabled) {
    // `falco`: Falco's stdout_output line (or its JSON with output.json)
    if (cfg.sinks.stdout.format === "falco") {
      const { FalcoStdoutSink } = await import("../sinks/outputs/index.js");
      sinks.push(new FalcoStdoutSink(cfg.output));
    } else sinks.push(new StdoutSink(cfg.sinks.stdout.format));
  }
  const s = cfg.sinks;
  if (s.file.enabled || s.program.enabled || s.syslog.enabled || s.http.enabled) {
    // Falco's file, program, syslog and http outputs: each its own bounded queue and counters
    const { createFalcoOutputs, falcoOutputStats } = await import("../sinks/outputs/index.js");
    const { createRemoteSyslog } = await import("./falco-syslog-remote.js");
    const outputs = createFalcoOutputs({ output: cfg.output, sinks: s }, logger.child({ component: "outputs" }), {
      remoteSyslog: createRemoteSyslog,
      syslogLocalFormat: s.syslog.format,
    });
    sinks.push(...outputs);
    for (const o of outputs) metrics.registerStats(o.name, () => falcoOutputStats([o])[o.name] as unknown as Record<string, number>, { gauges: ["queued"] });
    logger.info({ outputs: outputs.map((o) => o.name) }, "Falco outputs enabled");
  }

  let collectorAddress = cfg.sinks.collector.enabled ? cfg.sinks.collector.address : "";
  let spoolDir = cfg.sinks.collector.spool.dir;
  let embeddedToken: string | undefined;
  if (collectorAddress === "" && flags.embeddedCollector !== false) {
    const { startCollector } = await import("../../collector/server.js");
    const { COLLECTOR_METRICS } = await import("../../collector/metrics.js");
    mkdirSync(flags.data, { recursive: true, mode: 0o700 });
    // authenticated even on loopback: a generated token (root-only file) when none is configured
    const tok = await embeddedTokenOf(cfg, flags);
    embeddedToken = tok.token;
    const col = await startCollector({
      listen: flags.embeddedCollector,
      dataDir: join(flags.data, "collector"),
      logger,
      token: embeddedToken,
      limits: cfg.collector.limits,
    });
    closers.push(() => col.close());
    collectorAddress = col.address;
    embedded.started = { address: col.address, tokenFile: tok.file, token: tok.token };
    spoolDir = join(flags.data, "spool");
    // its gauges as gauges: `clients` and `clients_total` would otherwise both be vigil_collector_clients_total
    const gauges = Object.keys(COLLECTOR_METRICS).filter((k) => COLLECTOR_METRICS[k]?.type === "gauge");
    metrics.registerStats("collector", () => col.stats(), { gauges });
    logger.info({ address: col.address, data: flags.data }, "embedded collector listening (vigil tail follows it)");
  }
  if (collectorAddress !== "") {
    const { createCollectorSink } = await import("../sinks/collector-sink.js");
    mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
    const sink = createCollectorSink({
      address: collectorAddress,
      // a token file is read before each push: a Secret that appears or rotates later is picked up
      token:
        embeddedToken ??
        (cfg.sinks.collector.token === "" && cfg.sinks.collector.token_file !== ""
          ? tokenFileSource(cfg.sinks.collector.token_file, logger.child({ component: "delivery" }))
          : readToken(cfg)),
      spoolDir,
      maxSpoolBytes: cfg.sinks.collector.spool.max_bytes,
      backoffMinMs: cfg.sinks.collector.retry_min_ms,
      backoffMaxMs: cfg.sinks.collector.retry_max_ms,
      // the CA file too is read before each push (and the connection remade when it changes)
      ...(cfg.sinks.collector.ca_file !== "" ? { tlsCa: caFileSource(cfg.sinks.collector.ca_file, logger.child({ component: "delivery" })) } : {}),
      // `tls: true` without a CA file verifies against the system's roots (never plaintext)
      tls: cfg.sinks.collector.tls,
      // a nats:// address: authentication, TLS, cluster and subject prefix of the fleet path
      nats: cfg.sinks.collector.nats,
      timeoutMs: cfg.sinks.collector.timeout_ms,
      hostname,
      logger: logger.child({ component: "delivery" }),
    });
    sinks.push(sink);
    metrics.registerStats("delivery", () => sink.stats());
  }
  if (cfg.sinks.grpc.enabled) {
    // Falco's gRPC outputs API (unix socket, or TCP with mTLS); the pipeline's sink shutdown stops it
    const { startGrpcOutput } = await import("../sinks/grpc-output.js");
    const g = await startGrpcOutput(cfg.sinks.grpc, logger.child({ component: "grpc-output" }), { format: cfg.output });
    sinks.push(g.sink);
    metrics.registerStats("grpc_output", () => g.sink.stats(), { gauges: ["subscribers", "backlog"] });
  }
  return sinks;
}

/**
 * The Kubernetes API context (kubernetes:): on when enabled, or with `auto` when the agent runs in
 * a cluster or has a kubeconfig. It needs this node's name. Off, misconfigured (with `auto`) or
 * unreachable, the k8s fields come from the CRI labels alone. Returns undefined when off.
 */
export async function startKubernetes(
  cfg: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  closers: Closers,
): Promise<import("../enrich/k8s-api/index.js").K8sApiContext | undefined> {
  const k = cfg.kubernetes;
  if (k.enabled === false) return undefined;
  const required = k.enabled === true;
  // containers meet their pod's API metadata through the CRI labels containerd gives (the Fargate
  // sidecar, with no runtime to ask, has nothing to bind it to)
  if (!cfg.containerd.enabled) {
    if (required) logger.warn("kubernetes.enabled needs the container runtime (containerd.enabled): no Kubernetes API context");
    return undefined;
  }
  if (!required && k.kubeconfig === "" && !inCluster(env, k.service_account_dir)) {
    logger.debug("not in a Kubernetes cluster and no kubeconfig: no Kubernetes API context (pod facts from the CRI labels)");
    return undefined;
  }
  // the API context and the Kubernetes client library load only now (80 MiB resident): a node
  // outside a cluster, or without the runtime to bind pods to, never loads them
  const { K8sApiContext } = await import("../enrich/k8s-api/index.js");
  const log = logger.child({ component: "k8s-api" });
  const nodeName = k.node_name !== "" ? k.node_name : (env["NODE_NAME"] ?? "");
  let ctx: InstanceType<typeof K8sApiContext>;
  try {
    if (nodeName === "") throw new Error("this node's name is unknown: set kubernetes.node_name, NODE_NAME (the downward API's spec.nodeName) or --node-name");
    ctx = new K8sApiContext({
      nodeName,
      logger: log,
      access: { kubeconfig: k.kubeconfig, context: k.context, serviceAccountDir: k.service_account_dir },
      env,
      limits: { pods: k.cache.pods, namespaces: k.cache.namespaces, owners: k.cache.owners },
      pageSize: k.page_size,
      watchTimeoutSeconds: k.watch_timeout_seconds,
      nodeRefreshMs: k.node_refresh_seconds * 1000,
    });
  } catch (err) {
    const msg = `Kubernetes API context: ${err instanceof Error ? err.message : String(err)}`;
    if (required) throw new Error(msg);
    log.warn({ err }, "no Kubernetes API context: pod facts from the CRI labels");
    return undefined;
  }
  ctx.start();
  closers.push(() => ctx.stop());
  metrics.registerStats("k8s_api", () => ctx.stats(), { gauges: ["up", "synced", "pods", "pods_known", "namespaces", "owners"] });
  if (k.sync_wait_ms > 0 && !(await ctx.whenSynced(k.sync_wait_ms)))
    log.warn({ waitedMs: k.sync_wait_ms }, "Kubernetes API not synced yet: starting anyway, workload metadata follows as it arrives");
  return ctx;
}

/** What `kubernetes.alert_fields` appends to syscall alerts: the workload's kind and name (text and output_fields). */
export const WORKLOAD_APPEND: AppendOutputEntry = Object.freeze({
  match: { source: "syscall" },
  extra_output: "k8s_workload_kind=%k8s.workload.kind k8s_workload_name=%k8s.workload.name",
  extra_fields: ["k8s.workload.kind", "k8s.workload.name"],
});

/**
 * Container enrichment, and drift prevention (the kernel kills drift in the containers the policy
 * selects; README), which learns of new tasks from the enricher and waits on its metadata.
 */
async function startEnrichment(
  cfg: Config,
  logger: Logger,
  closers: Closers,
  k8sApi?: import("../enrich/k8s-api/index.js").K8sApiContext,
): Promise<{ enricher: Enricher | undefined; prevention: PreventionRuntime | undefined }> {
  let prevention: PreventionRuntime | undefined;
  const enricher = await containerEnricher(cfg, logger, cfg.prevention.enabled ? (pid) => prevention?.controller.observePid(pid) : undefined, k8sApi);
  if (cfg.prevention.enabled) {
    if (!cfg.sources.ebpf.enabled) logger.warn("prevention.enabled needs the kernel probe (sources.ebpf): nothing will be blocked");
    const { PreventionRuntime } = await import("../prevent/index.js");
    const pr = new PreventionRuntime(cfg.prevention, { logger, whenReady: enricher ? (i) => enricher.whenReady(i) : undefined, host: cfg.host });
    prevention = pr;
    closers.push(async () => pr.stop());
    metrics.registerStats("prevention", () => pr.stats(), { gauges: ["armed_now", "pending", "kernel_armed"] });
  }
  return { enricher, prevention };
}

/** File integrity: hashes before/after for alerts of rules tagged `fim`. */
async function startFim(cfg: Config, flags: AgentFlags, logger: Logger, closers: Closers): Promise<import("../fim/index.js").FileIntegrity | undefined> {
  if (!cfg.fim.enabled) return undefined;
  const { FileIntegrity } = await import("../fim/index.js");
  mkdirSync(flags.data, { recursive: true, mode: 0o700 });
  const fim = new FileIntegrity({
    stateDir: join(flags.data, "fim"),
    paths: cfg.fim.paths,
    excludes: cfg.fim.excludes,
    maxFileBytes: cfg.fim.max_file_bytes,
    scanOnStart: cfg.fim.scan_on_start,
    scanBytesPerSecond: cfg.fim.baseline.bytes_per_second,
    scanCpuPercent: cfg.fim.baseline.cpu_percent,
    maxBaselineEntries: cfg.fim.baseline.max_entries,
    hostRoot: cfg.host.root,
    logger,
  });
  await fim.start();
  closers.push(() => fim.stop());
  metrics.registerStats("fim", () => fim.stats());
  return fim;
}

/** Audit captures: a ring of recent events per container, shipped with alerts of `capture: true` rules. */
async function startCaptures(
  cfg: Config,
  hostname: string,
  logger: Logger,
  sinks: readonly Sink[],
  pipeline: () => Pipeline | undefined,
): Promise<{ record: ((e: SyscallEvent) => void) | undefined; onAlert: ((a: Alert, containerId: string) => void) | undefined }> {
  if (!cfg.capture.enabled) return { record: undefined, onAlert: undefined };
  const shipper = sinks.find((x): x is Sink & { exportCapture(c: CaptureUpload): boolean } => "exportCapture" in x);
  const { CaptureRecorder, captureOnAlert } = await import("../capture/index.js");
  const rec = new CaptureRecorder({
    perContainer: cfg.capture.max_events_per_container,
    maxDurationMs: Math.max(cfg.capture.after_ms, 60_000),
    hostname,
    logger: logger.child({ component: "capture" }),
  });
  metrics.registerStats("capture", () => rec.counters);
  const onAlert = captureOnAlert({
    recorder: rec,
    ship: (c) => {
      if (shipper === undefined) logger.warn({ alertId: c.alertId }, "capture taken but no collector to ship it to");
      else shipper.exportCapture(c);
    },
    lookupRule: (name) => pipeline()?.engine.ruleset.rules.find((r) => r.name === name),
    logger,
  });
  return { record: (e) => rec.record(e), onAlert };
}

/**
 * Internal alerts for events lost before the rules saw them (a gap is where attacks hide): at
 * most 100, a flapping ring buffer is in the log and metrics after that.
 */
function lossAlerts(
  hostname: string,
  pipeline: () => Pipeline,
): { onKernelDrops: (info: { drops: number; total: number }) => void; onTraceLost: (info: { connection: number; lost: number; total: number }) => void } {
  let dropAlerts = 0;
  return {
    onKernelDrops: (info) => {
      if (dropAlerts++ >= 100) return;
      pipeline().raiseInternal(
        "Vigil Kernel Events Dropped",
        "Critical",
        `Kernel probe dropped events: the ring buffer was full and ${info.drops} events were lost (total ${info.total}); detections may be missing (hostname=${hostname})`,
        { "vigil.drops": info.drops, "vigil.drops_total": info.total },
        ["vigil_internal", "mitre_defense_evasion"],
      );
    },
    onTraceLost: (info) => {
      if (dropAlerts++ >= 100) return;
      pipeline().raiseInternal(
        "Vigil Tracer Events Lost",
        "Critical",
        `vigil-trace could not deliver ${info.lost} events (total ${info.total}) while the agent was unreachable; detections may be missing (connection=${info.connection})`,
        { "vigil.drops": info.lost, "vigil.drops_total": info.total, "vigil.trace_connection": info.connection },
        ["vigil_internal", "mitre_defense_evasion"],
      );
    },
  };
}

/**
 * The event sources the configuration and `--source` name, made by the pipeline once the rules are
 * loaded (each module loads on start); `replay()` is the replay source once made.
 */
function eventSources(
  cfg: Config,
  flags: AgentFlags,
  prevention: PreventionRuntime | undefined,
  losses: ReturnType<typeof lossAlerts>,
): { make: (ctx: SourceContext) => EventSource; replay: () => import("../sources/replay.js").ReplaySource | undefined } {
  const { replay: replayFile, unknown: unknownSources } = parseSourceList(flags.source ?? "");
  let replay: import("../sources/replay.js").ReplaySource | undefined;
  const make = (ctx: SourceContext): EventSource => {
    const list: EventSource[] = [];
    if (unknownSources.length > 0) throw new Error(`unknown source '${unknownSources[0]}' (expected ebpf, ptrace or replay:FILE)`);
    if (cfg.sources.ebpf.enabled) list.push(lazySource("ebpf", () => ebpfSource(ctx, cfg.sources.ebpf, losses.onKernelDrops, prevention)));
    if (cfg.sources.ptrace.enabled) {
      list.push(
        lazySource("ptrace", async () => {
          const { TraceSource, podFromEnv } = await import("../sources/trace-source.js");
          // an injected sidecar is told its pod through the downward API (agent/inject/pod.ts)
          return new TraceSource(ctx, { path: cfg.sources.ptrace.socket, onLost: losses.onTraceLost, pod: podFromEnv(process.env) });
        }),
      );
    }
    if (replayFile !== undefined) {
      list.push(
        lazySource("replay", async () => {
          const { createReplaySource } = await import("../sources/replay.js");
          replay = createReplaySource(ctx, replayFile);
          return replay;
        }),
      );
    }
    if (list.length === 0 && !cfg.sources.falco_grpc.enabled)
      throw new Error("no event source enabled (sources.ebpf, sources.ptrace, sources.falco_grpc or --source)");
    return combinedSources(list);
  };
  return { make, replay: () => replay };
}

/** Alerts of an existing Falco (gRPC outputs API) go through the same sinks; returns its start. */
async function falcoIngest(cfg: Config, hostname: string, logger: Logger, pipeline: Pipeline, closers: Closers): Promise<(() => void) | undefined> {
  if (!cfg.sources.falco_grpc.enabled) return undefined;
  const { FalcoGrpcSource } = await import("../sources/falco-grpc.js");
  const fg = new FalcoGrpcSource({
    address: cfg.sources.falco_grpc.address,
    hostname,
    logger: logger.child({ component: "falco-grpc" }),
    onAlert: (a) => pipeline.ingest(a),
  });
  closers.push(async () => fg.stop());
  metrics.registerStats("falco_grpc", () => fg.stats());
  return () => fg.start();
}

/** /metrics, /healthz and /readyz, with per-container CPU and memory from the host's cgroups. */
async function startHealthEndpoint(cfg: Config, logger: Logger, ready: () => boolean, closers: Closers): Promise<void> {
  metrics.setCgroupOptions(cfg.metrics.container_resources ? { cgroupRoot: cfg.host.cgroup, procRoot: cfg.host.proc } : false);
  if (!cfg.metrics.enabled) return;
  try {
    const server: MetricsServer = await startMetricsServer({ port: cfg.metrics.port, host: cfg.metrics.host, logger, ready, limits: cfg.metrics.limits });
    closers.push(() => server.close());
    logger.info({ port: server.port }, "metrics and health endpoint listening");
  } catch (err) {
    // health and metrics are not worth losing alerts over
    logger.error({ err }, "metrics endpoint failed to start");
  }
}

/** SIGINT/SIGTERM stop (flush, close in reverse, exit), SIGHUP reloads the rules; returns the stop. */
function handleSignals(pipeline: Pipeline, logger: Logger, closers: Closers, health: { ready: boolean }): (signal: string) => void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    health.ready = false;
    logger.info({ signal }, "stopping");
    pipeline
      .stop()
      .then(async () => {
        for (const c of closers.reverse()) await c().catch(() => undefined);
      })
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, "stop failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => {
    logger.info("SIGHUP: reloading rules");
    void pipeline.engine.reload();
  });
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    process.exit(70);
  });
  return stop;
}

/** Starts the pipeline; on failure one clear line for the operator, details in the log, exit 1. */
async function startOrExit(pipeline: Pipeline, logger: Logger, closers: Closers): Promise<void> {
  try {
    await pipeline.start();
  } catch (err) {
    logger.debug({ err }, "start failed");
    process.stderr.write(`vigil agent: ${err instanceof Error ? err.message : String(err)}\n`);
    await pipeline.stop().catch(() => undefined);
    for (const c of closers.reverse()) await c().catch(() => undefined);
    process.exit(1);
  }
}

/**
 * The rules paths in load order: the built-in rules then `rules.files`; a Falco configuration's
 * rules first (`builtin_last`), so Vigil's own only add to Falco's verdicts; `--rules` alone.
 */
export function effectiveRuleFiles(cfg: Config): string[] {
  if (!cfg.rules.builtin) return cfg.rules.files;
  return cfg.rules.builtin_last ? [...cfg.rules.files, ...builtinRuleFiles()] : [...builtinRuleFiles(), ...cfg.rules.files];
}

/** Falco's `rules:` selection (configuration) and `-D`/`-T`/`-t` (flags). */
export function ruleSelectionOf(cfg: Config, flags: AgentFlags): RuleSelectionOptions {
  const o: RuleSelectionOptions = {};
  if (cfg.rules.selection.length > 0) o.selection = cfg.rules.selection;
  if ((flags.D ?? []).length > 0) o.disableRules = flags.D;
  if ((flags.T ?? []).length > 0) o.disableTags = flags.T;
  if ((flags.t ?? []).length > 0) o.enableTags = flags.t;
  return o;
}

/** Runs the agent until SIGINT/SIGTERM (or until a replay ends). */
export async function runAgent(flags: AgentFlags): Promise<void> {
  const { cfg, falco } = await agentConfigInWorker(flags, process.env);
  const v8Flags = applyMemorySettings(cfg.memory);
  const selection = ruleSelectionOf(cfg, flags);
  const badSelection = checkSelection(selection);
  if (badSelection.length > 0) throw new Error(`rule selection: ${badSelection.join("; ")}`);
  if (flags.list === true) {
    const { runRulesFields } = await import("./rules-cmd.js");
    runRulesFields({ output: "falco" }, (t) => process.stdout.write(t));
    return;
  }
  if (flags.L === true) {
    const { runRulesList } = await import("./rules-cmd.js");
    const listed = runRulesList(
      {
        rules: effectiveRuleFiles(cfg),
        output: "text",
        minPriority: cfg.rules.min_priority,
        ...(selection.selection !== undefined ? { selection: selection.selection } : {}),
        ...(selection.disableRules !== undefined ? { disableRule: [...selection.disableRules] } : {}),
        ...(selection.disableTags !== undefined ? { disableTag: [...selection.disableTags] } : {}),
        ...(selection.enableTags !== undefined ? { enableTag: [...selection.enableTags] } : {}),
      },
      (t) => process.stdout.write(t),
      (t) => process.stderr.write(t),
    );
    process.exitCode = listed;
    return;
  }
  let syslogLog: import("../log-syslog.js").SyslogLogStream | undefined;
  if (cfg.log.syslog) {
    const { SyslogLogStream } = await import("../log-syslog.js");
    const { defaultSyslogHelperPath } = await import("../sinks/outputs/syslog-output.js");
    syslogLog = new SyslogLogStream(defaultSyslogHelperPath(), cfg.log.syslog_socket);
  }
  const logger = createLogger(process.env["VIGIL_LOG_LEVEL"] ?? cfg.log.level, { stderr: cfg.log.stderr, also: syslogLog });
  if (falco !== undefined) {
    logger.info({ files: falco.files }, "Falco configuration read");
    // said once, by name: nothing of a falco.yaml is dropped silently
    if (falco.ignored.length > 0) logger.warn({ keys: falco.ignored }, `falco.yaml keys Vigil does not implement (ignored): ${falco.ignored.join(", ")}`);
    for (const n of falco.notes) logger.warn(n);
  }
  const hostname = resolveHostname(cfg.hostname, process.env);
  const closers: Closers = [];
  // closed last (closers run in reverse): the stop's own lines still reach syslog
  if (syslogLog !== undefined) closers.push(async () => syslogLog.close());

  const embedded: { started?: EmbeddedCollector } = {};
  const sinks = await startSinks(cfg, flags, hostname, logger, closers, embedded);
  const k8sApi = await startKubernetes(cfg, process.env, logger, closers);
  const { enricher, prevention } = await startEnrichment(cfg, logger, closers, k8sApi);
  const fim = await startFim(cfg, flags, logger, closers);
  const capture = await startCaptures(cfg, hostname, logger, sinks, () => pipeline);
  const losses = lossAlerts(hostname, () => pipeline);
  const sources = eventSources(cfg, flags, prevention, losses);
  const pipeline = new Pipeline({
    rulesFiles: effectiveRuleFiles(cfg),
    ruleSelection: selection,
    output: {
      suggestedFields: cfg.output.suggested_fields,
      // with the API, alerts also name the pod's workload (the Deployment, not only its pod)
      append: k8sApi !== undefined && cfg.kubernetes.alert_fields ? [...cfg.output.append, WORKLOAD_APPEND] : cfg.output.append,
    },
    ruleMatching: cfg.rules.matching,
    minPriority: cfg.rules.min_priority,
    ruleLimits: ruleLimitsFromConfig(cfg.rules.limits),
    hostname,
    ipNames: kubernetesIpNames(process.env["KUBERNETES_SERVICE_HOST"]),
    logger,
    enricher,
    sinks,
    metrics,
    statsIntervalSec: cfg.log.stats_interval_seconds,
    record: capture.record,
    decorate: fim ? { tag: "fim", fn: (a, e) => fim.decorate(a, e) } : undefined,
    onAlert: capture.onAlert,
    kernelFilter: cfg.sources.ebpf.kernel_filter,
    fileBehaviour: fileBehaviourOptions(cfg.file_behaviour),
    netBehaviour: netBehaviourOptions(cfg.net_behaviour),
    // the warm-up decodes probe frames: worth it for the sources that send them
    warmupEvents: cfg.sources.ebpf.enabled || cfg.sources.ptrace.enabled ? cfg.rules.warmup_events : 0,
    source: sources.make,
  });
  const startFalco = await falcoIngest(cfg, hostname, logger, pipeline, closers);
  const saver = memorySaver(cfg.memory, () => pipeline.counters.events, logger, closers);
  metrics.registerStats("pipeline", () => pipeline.counters);
  metrics.registerStats("rules", () => pipeline.engine.stats());
  if (enricher) metrics.registerStats("enrich", () => enricher.stats());
  const health = { ready: false };
  await startHealthEndpoint(cfg, logger, () => health.ready, closers);
  const stop = handleSignals(pipeline, logger, closers, health);

  await startOrExit(pipeline, logger, closers);
  startFalco?.();
  saver.start();
  pipeline.engine.watch();
  health.ready = true;
  logger.info({ rules: pipeline.engine.ruleset.rules.length, files: pipeline.engine.files, v8_flags: v8Flags }, "vigil agent ready");
  if (embedded.started !== undefined && cfg.log.stderr) await printConsoleHint(embedded.started);
  const replay = sources.replay();
  if (replay !== undefined) {
    // a replay ends: flush everything, then exit like SIGTERM would
    await replay.done;
    logger.info({ stats: replay.stats() }, "replay done");
    stop("replay-done");
  }
}

/**
 * Where the web console is and the command that prints its token, for the person at the terminal
 * (plain lines on stderr, once, after `ready`); never the token itself.
 */
async function printConsoleHint(e: EmbeddedCollector): Promise<void> {
  const { consoleBuilt, consoleHint, fragmentSafe } = await import("./console-hint.js");
  const lines = consoleHint({
    address: e.address,
    built: consoleBuilt(),
    tokenFile: e.tokenFile,
    fragmentSafe: fragmentSafe(e.token),
    // run under sudo: the root-only token file needs it again in the user's shell
    sudo: process.getuid?.() === 0 && (process.env["SUDO_USER"] ?? "") !== "",
  });
  process.stderr.write(`${lines.join("\n")}\n`);
}

/** Adds `vigil agent`. */
export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("run the agent on this host: attach the kernel probe, evaluate rules, print and ship alerts")
    .option("--config <file>", "YAML configuration file (also VIGIL_CONFIG); flags override it")
    .option("--falco-config <file>", "read a Falco configuration (falco.yaml): rules, selection, outputs, gRPC, webserver, logging")
    .option("-o, --option <key=value>", "set a configuration key, Falco's syntax (a.b=v, a[]=v); on the falco.yaml when given (repeatable)", collect, [])
    .option("-r, --rules <path>", "rules file or directory to load instead of the built-in ones (repeatable, in order)", collect, [])
    .option("-D <substring>", "disable the rules whose name contains this (repeatable; Falco's -D)", collect, [])
    .option("-T <tag>", "disable the rules with this tag (repeatable; Falco's -T)", collect, [])
    .option("-t <tag>", "run only the rules with this tag (repeatable; Falco's -t)", collect, [])
    .option("-L", "list the rules in force (after selection) with their descriptions, and exit (Falco's -L)")
    .option("--list", "list the fields conditions and outputs can use, and exit (Falco's --list)")
    .addOption(new Option("--output <format>", "alert format on stdout (default text)").choices(["json", "text"]))
    .option("--probe <path>", "path of the vigil-probe binary")
    .addOption(new Option("--rule-matching <mode>", "stop at the first matching rule or run all").choices(["first", "all"]))
    .option("--min-priority <name>", "skip rules below this priority (emergency..debug)")
    .option("--containerd-socket <path>", "containerd socket for container metadata")
    .option("--no-containerd", "do not query a container runtime (container IDs from cgroups only)")
    .option(
      "--collector <address>",
      "ship alerts to this collector (HOST:PORT), or publish them to NATS JetStream (nats://HOST:PORT[,nats://...]); no embedded collector then",
    )
    .option("--token <token>", "collector bearer token (also VIGIL_TOKEN)")
    .option("--spool <dir>", "alert spool directory")
    .option("--embedded-collector <host:port>", "where the embedded collector listens when --collector is not given", "127.0.0.1:7460")
    .option("--no-embedded-collector", "run no embedded collector")
    .option("--data <dir>", "state directory (embedded collector store, spool)", "/var/lib/vigil")
    .option("--metrics-port <port>", "port of /metrics, /healthz, /readyz (0 = any free port)")
    .option("--no-metrics", "serve no metrics or health endpoint")
    .option("--stats-interval <sec>", "seconds between stats lines in the log (0 = off)")
    .option("--source <list>", "event sources, comma-separated: ebpf, ptrace (vigil-trace socket), replay:FILE (a capture; exits when done)")
    .option("--trace-socket <path>", "listen for vigil-trace on this unix socket (enables the ptrace source)")
    .option("--falco-grpc <address>", "also take the alerts of a Falco gRPC outputs server (unix:///run/falco/falco.sock or HOST:PORT)")
    .option("--grpc-output <address>", "serve Falco's gRPC outputs API (unix:///run/vigil/vigil.sock, or HOST:PORT with sinks.grpc.tls mTLS files)")
    .option("--no-fim", "no file-integrity hashes on FIM alerts")
    .option("--no-fim-scan", "do not hash the host's watched files at start")
    .option("--no-capture", "keep no event rings for audit captures")
    .option("--no-kernel-filter", "send every open-family event to the agent (no rule predicates pushed into the probe)")
    .option("--node-name <name>", "this node's name, whose pods the Kubernetes API context watches (also NODE_NAME)")
    .option("--kubeconfig <file>", "reach the Kubernetes API with this kubeconfig instead of the pod's service account")
    .option("--no-kubernetes", "no Kubernetes API context: pod facts from the CRI labels only")
    .action(async (o: AgentFlags) => {
      await runAgent(o);
    });
}
