// SPDX-License-Identifier: Apache-2.0
/**
 * The agent configuration schema: one YAML file (`/etc/vigil/config.yaml`), every leaf also
 * settable by an environment variable named after its path (`metrics.port` → `VIGIL_METRICS_PORT`,
 * see env.ts). Keys are snake_case like Falco's own configuration. Unknown keys are errors, so a
 * typo never silently falls back to a default.
 */
import { z } from "zod";
import { DRIFT_KIND_NAMES, parseSelector, type DriftKind } from "../prevent/policy.js";
import { DEFAULT_FIM_EXCLUDES, DEFAULT_FIM_PATHS } from "../fim/watch-set.js";
import { httpLimitsSchema } from "../metrics/http-limits-schema.js";
import { DEFAULT_EXPANSION_LIMITS } from "../../rules/load/budget.js";
// the contracts' modules one by one, not proto/index.js: that one also loads gRPC, protobufjs
// and msgpackr, which `vigil agent` does not need for its configuration (BENCHMARKS.md, agent memory)
import { collectorLimitsSchema } from "../../proto/collector-limits-schema.js";
import { isNatsAddress, parseNatsServers } from "../../proto/fleet.js";
import { fleetStreamSchema, natsConnectionSchema } from "../../proto/fleet-schema.js";
import { forwardersSchema } from "../../proto/forwarders.js";
import { PRIORITY_WORDS } from "../../proto/priority.js";
import { fileSinkSchema, grpcSinkSchema, httpSinkSchema, outputSchema, programSinkSchema, syslogSinkSchema } from "./outputs-schema.js";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 1024,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};
const BYTES_RE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** A byte size: a number, or a string like `400MiB`, `64Mi`, `1G`, `512k`. */
export const bytes = z.union([z.number(), z.string()]).transform((v, ctx): number => {
  let n: number;
  if (typeof v === "number") n = v;
  else {
    const m = BYTES_RE.exec(v);
    const mult = m ? UNITS[(m[2] ?? "").toLowerCase()] : undefined;
    if (!m || mult === undefined) {
      ctx.addIssue({ code: "custom", message: `not a byte size: ${JSON.stringify(v.slice(0, 40))} (use e.g. 400MiB)` });
      return z.NEVER;
    }
    n = Math.floor(Number(m[1]) * mult);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    ctx.addIssue({ code: "custom", message: "must be a non-negative whole number of bytes" });
    return z.NEVER;
  }
  return n;
});

/**
 * `collector.k8s_audit`: Kubernetes audit events evaluated by `k8s_audit` rules
 * (collector/k8s-audit/). `rules`: files or folders (`--rules` wins; none: the built-in pack
 * rules/files/k8s-audit/). `cloudwatch`: read an EKS cluster's audit log group (off while
 * `log_group` is empty).
 */
const k8sAuditSchema = z.strictObject({
  /** Rules files or folders of `k8s_audit` rules; `--rules` replaces them. */
  rules: z.array(z.string().min(1)).default([]),
  /** `first` (Falco's default): an event alerts for its first matching rule; `all`: for each (as `rules.matching`). */
  matching: z.enum(["first", "all"]).default("first"),
  /** The alerts' `hostname` when the source names none (`--cluster-name`; default "kubernetes"). */
  cluster_name: z
    .string()
    .regex(/^([A-Za-z0-9][A-Za-z0-9._:-]{0,252})?$/, "letters, digits and . _ : - (at most 253)")
    .default(""),
  /** Largest `POST /k8s-audit` body (the API server batches up to 10 MiB). */
  max_body_bytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(12 * 1024 * 1024),
  cloudwatch: z
    .strictObject({
      /** `/aws/eks/<cluster>/cluster`; empty: no reader (`--k8s-audit-log-group` sets it). */
      log_group: z.string().max(512).default(""),
      /** AWS region; empty: the SDK's (AWS_REGION). */
      region: z.string().max(64).default(""),
      /** Log streams read: names starting with this. */
      stream_prefix: z.string().max(512).default("kube-apiserver-audit-"),
      /** Between polls. */
      poll_interval_ms: z.number().int().min(100).max(3_600_000).default(10_000),
      /** A first run (no saved position) starts `now` or at the `beginning` of what the group retains. */
      start: z.enum(["now", "beginning"]).default("now"),
      /** Each poll re-reads this far before the newest event read (late log events). */
      overlap_ms: z.number().int().min(0).max(86_400_000).default(60_000),
      /** The read position file; empty: `<data>/k8s-audit-cloudwatch.json`. */
      position_file: z.string().max(4096).default(""),
    })
    .prefault({}),
});

const port = z.number().int().min(0).max(65535);
const absPath = z
  .string()
  .min(1)
  .refine((s) => s.startsWith("/"), "must be an absolute path");
/** host:port, [v6]:port, or a unix: / dns: URI as grpc-js takes it. */
const address = z
  .string()
  .max(1024)
  .refine((s) => s === "" || /^(unix:|dns:|ipv4:|ipv6:)/.test(s) || /^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/.test(s), "expected host:port");
/** A collector's address, or NATS servers (`nats://HOST:PORT[,nats://...]`, `tls://`): the fleet path. */
const collectorAddress = z
  .string()
  .max(4096)
  .superRefine((s, ctx) => {
    if (!isNatsAddress(s)) {
      if (!address.safeParse(s).success) ctx.addIssue({ code: "custom", message: "expected host:port, or nats://HOST:PORT[,nats://HOST:PORT...]" });
      return;
    }
    try {
      parseNatsServers(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });

/** A `rules:` selection entry's target: a rule name pattern (`*` wildcards) and/or a tag. */
const selectionTarget = z
  .strictObject({ rule: z.string().min(1).max(1024).optional(), tag: z.string().min(1).max(1024).optional() })
  .refine((t) => t.rule !== undefined || t.tag !== undefined, "name a rule or a tag");

export const configSchema = z.strictObject({
  /** Host name put in alerts; empty = os.hostname() (in Kubernetes set it to the node name). */
  hostname: z.string().max(253).default(""),
  rules: z
    .strictObject({
      /** Load the rules Vigil ships (rules/files) first. */
      builtin: z.boolean().default(true),
      /** More rules files or directories (every file of one, lexical order), loaded in order after the built-in ones. */
      files: z.array(z.string().min(1)).default([]),
      /** Load the built-in rules after `files` rather than before (a Falco configuration's rules keep Falco's verdicts). */
      builtin_last: z.boolean().default(false),
      /** Falco's `rules:` selection: `{enable|disable: {rule: GLOB} | {tag: NAME}}` entries, applied in order after loading. */
      selection: z
        .array(z.union([z.strictObject({ enable: selectionTarget }), z.strictObject({ disable: selectionTarget })]))
        .max(10_000)
        .default([]),
      /** `first`: stop at the first matching rule (Falco's default); `all`: every match alerts. */
      matching: z.enum(["first", "all"]).default("first"),
      /** Rules below this priority are not loaded. */
      min_priority: z.enum(PRIORITY_WORDS).default("debug"),
      /**
       * Synthetic events run through the decoder, a scratch process table and the rules at start,
       * so the event path is compiled before the first real event (0 = off).
       */
      warmup_events: z.number().int().min(0).max(1_000_000).default(20_000),
      /**
       * The compile budget (rules/load/budget.ts): lists and macros are counted as they expand; an
       * item past a limit is an error at its file:line:col, and a reload with one keeps the old set.
       */
      limits: z
        .strictObject({
          /** Nodes one list, condition or exception block may expand to. */
          max_expansion_nodes: z.number().int().min(1000).max(100_000_000).default(DEFAULT_EXPANSION_LIMITS.maxExpansionNodes),
          /** Characters of one condition or list after list expansion. */
          max_expansion_chars: z
            .number()
            .int()
            .min(4096)
            .max(1024 ** 3)
            .default(DEFAULT_EXPANSION_LIMITS.maxExpansionChars),
          /** Depth of a condition once macros are resolved. */
          max_expansion_depth: z.number().int().min(16).max(100_000).default(DEFAULT_EXPANSION_LIMITS.maxExpansionDepth),
          /** Nodes of every item of one load together. */
          max_total_nodes: z.number().int().min(1000).max(1_000_000_000).default(DEFAULT_EXPANSION_LIMITS.maxTotalNodes),
          /** Characters of every expanded text of one load together. */
          max_total_chars: z
            .number()
            .int()
            .min(4096)
            .max(8 * 1024 ** 3)
            .default(DEFAULT_EXPANSION_LIMITS.maxTotalChars),
          /** Largest rules file (YAML parsing takes about 190 bytes of memory per character). */
          max_file_chars: z
            .number()
            .int()
            .min(4096)
            .max(64 * 1024 * 1024)
            .default(DEFAULT_EXPANSION_LIMITS.maxFileChars),
        })
        .prefault({}),
    })
    .prefault({}),
  sources: z
    .strictObject({
      ebpf: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** vigil-probe binary; empty = the one shipped beside the agent. */
          probe_path: z.string().default(""),
          /** Ring buffer size, MiB (a power of two): room for bursts while the agent is busy. */
          ringbuf_mb: z
            .number()
            .int()
            .min(1)
            .max(1024)
            .refine((n) => (n & (n - 1)) === 0, "must be a power of two")
            .default(8),
          /**
           * A record written into an empty ring wakes the consumer (vigil-probe) at once; past this
           * much waiting it is woken whatever it is doing, KiB (native-bridge/FORMAT.md "Ring buffer and wake-ups").
           */
          wakeup_kb: z
            .number()
            .int()
            .min(1)
            .max(1024 * 1024)
            .default(256),
          /** The longest the consumer sleeps between drains (the backstop of the wake-ups, and its stats tick), ms. */
          poll_ms: z.number().int().min(1).max(10_000).default(20),
          /**
           * When the ring is busy (data twice within two of these), the consumer pauses this long
           * between drains instead of waking for every few records, µs; 0 drains on every wake-up.
           * The default keeps syscall → alert under 5 ms at the 99th percentile (BENCHMARKS.md).
           */
          batch_us: z.number().int().min(0).max(1_000_000).default(1000),
          /** How often the probe reports its counters (drops), ms. */
          stats_ms: z.number().int().min(100).max(600_000).default(1000),
          /**
           * Push the rules' conservative predicates (open flags, result, file names) into the
           * probe so open-family events no rule can match stay in the kernel.
           */
          kernel_filter: z.boolean().default(true),
          /** Capture each exec's environment (up to 4 KiB) for proc.env / proc.aenv, as Falco does. */
          capture_env: z.boolean().default(true),
          /**
           * Syscalls to observe through the raw_syscalls/sys_exit fallback even when the probe would
           * not (vigil-probe --raw-syscalls): a call this kernel implements without a tracepoint is
           * always served by it; one the kernel only has as an ENOSYS stub (init_module and
           * finit_module without module support) is not, because the fallback runs on every syscall
           * exit of the node (BENCHMARKS.md "raw_syscalls fallback"). Name such calls here to alert
           * on attempts anyway.
           */
          raw_syscalls: z
            .array(z.string().regex(/^[a-z0-9_]{1,32}$/, "a syscall name"))
            .max(64)
            .default([]),
        })
        .prefault({}),
      /** Frames from vigil-trace (Fargate) on a unix socket in a shared volume. */
      ptrace: z
        .strictObject({
          enabled: z.boolean().default(false),
          socket: absPath.default("/var/run/vigil/trace.sock"),
        })
        .prefault({}),
      /** Alerts of an existing Falco through its gRPC outputs API. */
      falco_grpc: z
        .strictObject({
          enabled: z.boolean().default(false),
          address: address.default("unix:///run/falco/falco.sock"),
        })
        .prefault({}),
    })
    .prefault({}),
  containerd: z
    .strictObject({
      enabled: z.boolean().default(true),
      socket: absPath.default("/run/containerd/containerd.sock"),
      /** Metadata lookups cached (containers). */
      cache_size: z.number().int().min(16).max(1_000_000).default(4096),
      /** containerd namespaces holding containers (Kubernetes uses k8s.io). */
      namespaces: z.array(z.string().min(1).max(253)).min(1).default(["k8s.io", "default"]),
      /** An alert of a container whose metadata is still being fetched waits this long at most, ms. */
      wait_ms: z.number().int().min(0).max(10_000).default(10),
      /** Metadata older than this is refreshed in the background, s. */
      refresh_seconds: z.number().int().min(1).max(86_400).default(300),
    })
    .prefault({}),
  /**
   * The Kubernetes API context (agent/enrich/k8s-api): the pods of this node, their namespaces,
   * owners (ReplicaSet → Deployment, Job → CronJob, StatefulSet, DaemonSet) and the node's labels,
   * for the k8s.deployment.*, k8s.ns.label[...], k8s.pod.sa, k8s.node.* and k8smeta.* fields. Without
   * it (or while the API cannot be reached) pod facts come from the CRI labels alone.
   */
  kubernetes: z
    .strictObject({
      /**
       * `auto`: on when running in a cluster (KUBERNETES_SERVICE_HOST set and the service account
       * token mounted) or when `kubeconfig` is set; `true`: on, and a start error if it cannot be
       * configured; `false`: off.
       */
      enabled: z
        .union([z.boolean(), z.enum(["auto", "true", "false"])])
        .transform((v): boolean | "auto" => (v === true || v === "true" ? true : v === false || v === "false" ? false : "auto"))
        .default("auto"),
      /** This node's name (the pods watched are those with this spec.nodeName); empty: NODE_NAME (the downward API), `--node-name`. */
      node_name: z
        .string()
        .max(253)
        .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$/, "a Kubernetes node name (lower-case DNS subdomain)")
        .default(""),
      /** A kubeconfig file; empty: the pod's service account (in-cluster). */
      kubeconfig: z.string().max(4096).default(""),
      /** The kubeconfig context; empty: its current context. */
      context: z.string().max(253).default(""),
      /** In-cluster: the folder with the service account's `token` and `ca.crt`. */
      service_account_dir: absPath.default("/var/run/secrets/kubernetes.io/serviceaccount"),
      cache: z
        .strictObject({
          /** Pod metadata kept (this node's pods; a node runs at most a few hundred). */
          pods: z.number().int().min(16).max(100_000).default(1024),
          /** Namespaces kept before only those of this node's pods are added. */
          namespaces: z.number().int().min(16).max(1_000_000).default(4096),
          /** Objects per owner kind kept before only those of this node's pods are added (fetched by name). */
          owners: z.number().int().min(16).max(1_000_000).default(4096),
        })
        .prefault({}),
      /** Objects per list page (`limit`). */
      page_size: z.number().int().min(10).max(5000).default(500),
      /** A watch asks the server to end it after between this and twice this many seconds. */
      watch_timeout_seconds: z.number().int().min(30).max(3600).default(300),
      /** The Node object (its labels) is read again this often, s. */
      node_refresh_seconds: z.number().int().min(10).max(86_400).default(300),
      /** At start, wait this long at most for the first complete lists before events flow, ms (0: no wait). */
      sync_wait_ms: z.number().int().min(0).max(120_000).default(5000),
      /** Alerts of syscall rules name the pod's workload: `k8s_workload=Kind/name` in the text, k8s.workload.kind and .name in output_fields. */
      alert_fields: z.boolean().default(true),
    })
    .prefault({}),
  /** Where the host is seen from inside the agent's container. */
  host: z
    .strictObject({
      root: absPath.default("/"),
      proc: absPath.default("/proc"),
      cgroup: absPath.default("/sys/fs/cgroup"),
    })
    .prefault({}),
  sinks: z
    .strictObject({
      stdout: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** text: Vigil's readable lines; json: Falco's JSON; falco: as `output:` says (Falco's text line, or JSON when output.json). */
          format: z.enum(["json", "text", "falco"]).default("text"),
        })
        .prefault({}),
      file: fileSinkSchema.prefault({}),
      program: programSinkSchema.prefault({}),
      syslog: syslogSinkSchema.prefault({}),
      http: httpSinkSchema.prefault({}),
      grpc: grpcSinkSchema.prefault({}),
      collector: z
        .strictObject({
          enabled: z.boolean().default(false),
          address: collectorAddress.default(""),
          /** Bearer token; prefer token_file in Kubernetes (a mounted Secret). */
          token: z.string().max(4096).default(""),
          token_file: z.string().default(""),
          tls: z.boolean().default(false),
          /** PEM CA bundle to verify the collector; empty = system roots. */
          ca_file: z.string().default(""),
          batch_size: z.number().int().min(1).max(10_000).default(256),
          timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
          /** With a nats:// address: authentication, TLS, cluster name and subject prefix. */
          nats: natsConnectionSchema.prefault({}),
          /** Backoff between retries, doubled up to retry_max_ms. */
          retry_min_ms: z.number().int().min(10).default(500),
          retry_max_ms: z.number().int().min(10).default(30_000),
          spool: z
            .strictObject({
              dir: absPath.default("/var/spool/vigil"),
              /** Oldest alerts are dropped (and counted) past this size. */
              max_bytes: bytes.default(256 * 1024 * 1024),
              /** Alerts older than this are dropped (and counted). */
              max_age_seconds: z
                .number()
                .int()
                .min(60)
                .default(7 * 24 * 3600),
            })
            .prefault({}),
        })
        .prefault({}),
    })
    .prefault({}),
  /** How alerts are rendered for the Falco-style outputs, suggested fields, append_output, per-output queues. */
  output: outputSchema.prefault({}),
  /**
   * The collector: the embedded one the agent runs when `sinks.collector` names none, or the
   * `vigil collector` server (`--config` reads this section). Every limit and timeout it applies
   * to clients, before authentication (proto/collector-limits.ts, SECURITY.md).
   */
  /**
   * Forwarders of the collector (`vigil collector --config FILE`): each delivers stored alerts to
   * a destination (Slack, Teams, webhook, Alertmanager, PagerDuty, Loki, Elasticsearch, syslog,
   * NATS, CloudWatch Logs, Security Hub, SNS, SQS) with a persistent cursor (proto/forwarders.ts).
   */
  forwarders: forwardersSchema,
  collector: z
    .strictObject({
      limits: collectorLimitsSchema.prefault({}),
      /**
       * `vigil collector` TLS: the CA whose client certificates authenticate Falco's `http_output`
       * posts without a token (mTLS, like a stock Falco sends); `--client-ca` wins. Needs --tls-cert.
       */
      tls: z.strictObject({ client_ca_file: z.string().max(4096).default("") }).prefault({}),
      /**
       * Read-only token (`--read-token` wins): role `read`, GETs, the live tail and the console,
       * never a write. Needs the collector's token and must differ from it.
       */
      read_token: z.string().max(4096).default(""),
      /** The fleet path (`vigil collector --nats ... --store postgres://...`): how to reach NATS. */
      nats: natsConnectionSchema.prefault({}),
      /** The JetStream stream and the collectors' shared durable consumer. */
      fleet: fleetStreamSchema.prefault({}),
      /** The `k8s_audit` source (`POST /k8s-audit`, the EKS audit log reader): see {@link k8sAuditSchema}. */
      k8s_audit: k8sAuditSchema.prefault({}),
      /** The PostgreSQL store (`--store postgres://USER@HOST:PORT/DB`). */
      store: z
        .strictObject({
          /** The password, from a file (a mounted Secret); also PGPASSWORD. Never in the URL. */
          password_file: z.string().default(""),
          /** Connections per collector. */
          pool_size: z.number().int().min(2).max(100).default(8),
        })
        .prefault({}),
    })
    .prefault({}),
  fim: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Watched path prefixes and fnmatch globs (host and containers alike). */
      paths: z.array(z.string().min(1)).default([...DEFAULT_FIM_PATHS]),
      /** Excluded prefixes and globs. */
      excludes: z.array(z.string().min(1)).default([...DEFAULT_FIM_EXCLUDES]),
      /** Files larger than this are reported without a hash. */
      max_file_bytes: bytes.default(64 * 1024 * 1024),
      /** Hash the host's watched files at start (the "before" of later changes). */
      scan_on_start: z.boolean().default(true),
      /**
       * The start scan's budget and the on-disk baseline: a file whose inode, device, size, mtime
       * and ctime are unchanged since the last run keeps its stored hash without being read.
       */
      baseline: z
        .strictObject({
          /** Bytes hashed per second at most (0 = unlimited). */
          bytes_per_second: bytes.default(8 * 1024 * 1024),
          /** Percent of one core the scan may use (1-100; 100 = unlimited). */
          cpu_percent: z.number().min(1).max(100).default(5),
          /** Most files the on-disk baseline keeps; past it new files are not baselined (counted). */
          max_entries: z.number().int().min(1000).max(10_000_000).default(1_000_000),
        })
        .prefault({}),
    })
    .prefault({}),
  capture: z
    .strictObject({
      enabled: z.boolean().default(true),
      before_ms: z.number().int().min(0).max(60_000).default(2000),
      after_ms: z.number().int().min(0).max(60_000).default(1000),
      max_events_per_container: z.number().int().min(0).max(1_000_000).default(2000),
      /** One capture's encoded size; beyond it the capture is truncated (and says so). */
      max_bytes: bytes.default(4 * 1024 * 1024),
    })
    .prefault({}),
  /**
   * File and exec behaviour over time (agent/behaviour/files.ts): the bounded state the
   * vigil.unlink.*, vigil.exe.fetched* and vigil.cred.* fields read; past a cap the oldest entry goes (counted).
   */
  file_behaviour: z
    .strictObject({
      max_containers: z.number().int().min(1).max(100_000).default(1024),
      /** Files created, remembered per container for the fetched-then-executed check. */
      max_files_per_container: z.number().int().min(1).max(1_000_000).default(2048),
      /** Distinct programs running per container. */
      max_exes_per_container: z.number().int().min(1).max(1_000_000).default(4096),
      max_net_procs: z.number().int().min(1).max(1_000_000).default(16384),
      max_cred_procs: z.number().int().min(1).max(1_000_000).default(4096),
      max_cred_files_per_proc: z.number().int().min(1).max(4096).default(32),
      /** Network activity counts for a file created this close to it. */
      fetch_window_seconds: z.number().int().min(1).max(86_400).default(600),
      /** A created file counts as fetched when executed within this. */
      exec_window_seconds: z
        .number()
        .int()
        .min(1)
        .max(7 * 86_400)
        .default(3600),
      /** Window of the distinct credential-file count. */
      cred_window_seconds: z.number().int().min(1).max(86_400).default(600),
    })
    .prefault({}),
  /**
   * Network behaviour over time (agent/behaviour/net.ts): the bounded state the vigil.net.*,
   * proc.is_net_server and vigil.exec.script* fields read; past a cap the least recently used entry goes (counted).
   */
  net_behaviour: z
    .strictObject({
      /** A connect destination counts this long in the distinct port/host counts. */
      window_seconds: z.number().int().min(1).max(86_400).default(60),
      /** Processes with a connect window. */
      max_processes: z.number().int().min(1).max(1_000_000).default(4096),
      /** Windows of a container's processes of one name. */
      max_containers: z.number().int().min(1).max(100_000).default(512),
      /** Destinations kept per window (the distinct counts stop growing there). */
      max_targets: z.number().int().min(1).max(65_536).default(256),
      /** Processes marked as network servers (listen, accept, or forked from one). */
      max_servers: z.number().int().min(1).max(1_000_000).default(4096),
    })
    .prefault({}),
  /**
   * Drift prevention: in the containers the scope selects, the kernel probe kills a new program
   * of a blocked drift kind before its first instruction, and the alert says it was blocked.
   */
  prevention: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Drift kinds killed where a selector names none: upper_layer, memfd, tmpfs. */
      block: z.array(z.enum(DRIFT_KIND_NAMES as [DriftKind, ...DriftKind[]])).default(["upper_layer", "memfd", "tmpfs"]),
      /**
       * Containers in scope: `namespace=NS`, `image=GLOB`, `container=ID|NAME`, terms joined by
       * `&`, or `*` (every container; never the host); or YAML objects {namespace, image,
       * container, block}. Empty = nothing is blocked.
       */
      scope: z
        .array(
          z.union([
            z.string().max(2048),
            z.strictObject({
              namespace: z.string().optional(),
              image: z.string().optional(),
              container: z.string().optional(),
              block: z.array(z.enum(DRIFT_KIND_NAMES as [DriftKind, ...DriftKind[]])).optional(),
            }),
          ]),
        )
        .max(1024)
        .default([])
        .superRefine((list, ctx) => {
          list.forEach((sel, i) => {
            try {
              parseSelector(sel);
            } catch (err) {
              ctx.addIssue({ code: "custom", path: [i], message: err instanceof Error ? err.message : String(err) });
            }
          });
        }),
      /** Containers armed at once in the kernel; past it, containers run unprotected (counted, logged). */
      max_cgroups: z.number().int().min(1).max(1_048_576).default(4096),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default("0.0.0.0"),
      port: port.default(9376),
      /** Export per-container CPU and memory read from cgroups. */
      container_resources: z.boolean().default(true),
      /** Connection cap and timeouts of the endpoint (agent/metrics/http-guard.ts). */
      limits: httpLimitsSchema.prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
      /** Log to stderr (Falco's `log_stderr`). */
      stderr: z.boolean().default(true),
      /** Also log to the local syslog (Falco's `log_syslog`), through vigil-syslog. */
      syslog: z.boolean().default(false),
      /** The local syslog socket (a unix datagram socket). */
      syslog_socket: absPath.default("/dev/log"),
      /** Seconds between stats lines in the log (0 = off). */
      stats_interval_seconds: z.number().int().min(0).default(60),
    })
    .prefault({}),
  /** The agent's own memory (BENCHMARKS.md "Agent memory (issue 22, Dec 5)"). */
  memory: z
    .strictObject({
      /**
       * How far V8's old generation may grow past the live heap before the next full collection,
       * in percent (V8's --heap-growing-percent; 0 = V8's own factor, up to 4x the live heap when
       * collections are cheap, which lets event churn grow the heap by 100+ MiB of garbage).
       * 25: at most a quarter more than what is live, for a few more 5-10 ms background-marked
       * collections under churn. Never a hard limit: a burst still gets the heap it needs.
       */
      heap_growing_percent: z.number().int().min(0).max(1000).default(25),
      /**
       * V8's mid-tier optimizing compiler (Maglev). Off by default: its compilations cost the
       * agent about 10-20 MiB resident (malloc'd zones of its background threads, kept by glibc),
       * while the event path's hot functions reach TurboFan either way (user-space throughput
       * within noise of it; BENCHMARKS.md "Agent memory"). true: V8's default.
       */
      maglev: z.boolean().default(false),
      /**
       * V8's memory saver mode (agent/memory-saver.ts): `auto` turns it on while the agent reads
       * fewer than `saver_max_events_per_s` events per second for `saver_quiet_seconds`, and off at
       * the first busier second, so a quiet node gives back what a burst grew (V8 otherwise keeps
       * the pages); `on` always (about half the throughput of a saturated event path), `off` never.
       */
      saver: z.enum(["auto", "on", "off"]).default("auto"),
      saver_max_events_per_s: z.number().int().min(0).default(20_000),
      saver_quiet_seconds: z.number().int().min(1).max(3600).default(10),
      /**
       * Each time the memory saver finds the node quiet, hand the node executable's code pages
       * back to the kernel (agent/memory-trim.ts: madvise(MADV_PAGEOUT) on the read-only file
       * mappings; what still runs faults back in from the page cache). About 25 MiB less resident
       * at idle. Needs native-bridge/build/vigil-mem.node (without it the agent says so once) and
       * the saver (nothing with `saver: off`).
       */
      trim_code: z.boolean().default(true),
    })
    .prefault({}),
});

/** The validated configuration (every default filled in). */
export type Config = z.output<typeof configSchema>;
/** What a config file or overrides may contain (all optional). */
export type ConfigInput = z.input<typeof configSchema>;
