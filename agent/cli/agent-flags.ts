// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent`'s flags and what they set in the configuration (flags win over the file and the
 * environment). Plain data both ways: the configuration worker (agent-config-worker.ts) gets the
 * flags as they are and applies them there.
 */
import type { DeepPartial } from "../config/load.js";
import type { Config } from "../config/schema.js";

export interface AgentFlags {
  config?: string;
  /** A Falco configuration (falco.yaml) to honour (agent/config/falco-yaml.ts). */
  falcoConfig?: string;
  /** `-o key=value`: Falco's settings syntax, on the falco.yaml when one is given, else on Vigil's configuration. */
  option?: string[];
  rules: string[];
  /** Falco's -D (disable rules whose name contains), -T (disable tag), -t (only these tags). */
  D?: string[];
  T?: string[];
  t?: string[];
  /** Falco's -L: list the rules in force and exit. */
  L?: boolean;
  /** Falco's --list: list the supported fields and exit. */
  list?: boolean;
  output?: "json" | "text";
  probe?: string;
  ruleMatching?: "first" | "all";
  minPriority?: string;
  containerdSocket?: string;
  containerd?: boolean;
  collector?: string;
  token?: string;
  spool?: string;
  embeddedCollector: string | false;
  data: string;
  metricsPort?: string;
  metrics?: boolean;
  statsInterval?: string;
  source?: string;
  falcoGrpc?: string;
  grpcOutput?: string;
  traceSocket?: string;
  fim?: boolean;
  fimScan?: boolean;
  capture?: boolean;
  kernelFilter?: boolean;
  /** This node's name for the Kubernetes API context (kubernetes.node_name). */
  nodeName?: string;
  /** A kubeconfig file for the Kubernetes API context (kubernetes.kubeconfig). */
  kubeconfig?: string;
  /** `--no-kubernetes`: no Kubernetes API context (pod facts from the CRI labels). */
  kubernetes?: boolean;
}

/** `--source a,b,replay:FILE`: the source names, the replay file, and names not known. */
export function parseSourceList(text: string): { names: Set<string>; replay: string | undefined; unknown: string[] } {
  const names = new Set<string>();
  const unknown: string[] = [];
  let replay: string | undefined;
  for (const item of text
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "")) {
    if (item.startsWith("replay:")) replay = item.slice("replay:".length);
    else if (item === "ebpf" || item === "ptrace") names.add(item);
    else unknown.push(item);
  }
  return { names, replay, unknown };
}

/** Flags → config overrides (flags win over file and environment). */
export function flagsToOverrides(f: AgentFlags): DeepPartial<Config> {
  const o: DeepPartial<Config> = {};
  const rules: DeepPartial<Config["rules"]> = {};
  if (f.rules.length > 0) {
    rules.builtin = false;
    rules.files = f.rules;
  }
  if (f.ruleMatching !== undefined) rules.matching = f.ruleMatching;
  if (f.minPriority !== undefined) rules.min_priority = f.minPriority.toLowerCase() as Config["rules"]["min_priority"];
  o.rules = rules;
  if (f.output !== undefined) o.sinks = { stdout: { format: f.output } };
  const cd: DeepPartial<Config["containerd"]> = {};
  if (f.containerdSocket !== undefined) cd.socket = f.containerdSocket;
  if (f.containerd === false) cd.enabled = false;
  o.containerd = cd;
  if (f.collector !== undefined || f.token !== undefined || f.spool !== undefined) {
    const c: DeepPartial<Config["sinks"]["collector"]> = {};
    if (f.collector !== undefined) {
      c.enabled = true;
      c.address = f.collector;
    }
    if (f.token !== undefined) c.token = f.token;
    if (f.spool !== undefined) c.spool = { dir: f.spool };
    o.sinks = { ...o.sinks, collector: c };
  }
  const m: DeepPartial<Config["metrics"]> = {};
  if (f.metricsPort !== undefined) m.port = Number(f.metricsPort);
  if (f.metrics === false) m.enabled = false;
  o.metrics = m;
  if (f.statsInterval !== undefined) o.log = { stats_interval_seconds: Number(f.statsInterval) };
  const ebpf: DeepPartial<Config["sources"]["ebpf"]> = {};
  const ptrace: DeepPartial<Config["sources"]["ptrace"]> = {};
  if (f.probe !== undefined) ebpf.probe_path = f.probe;
  if (f.kernelFilter === false) ebpf.kernel_filter = false;
  if (f.source !== undefined) {
    const { names } = parseSourceList(f.source);
    ebpf.enabled = names.has("ebpf");
    ptrace.enabled = names.has("ptrace");
  }
  if (f.traceSocket !== undefined) {
    ptrace.enabled = true;
    ptrace.socket = f.traceSocket;
  }
  o.sources = { ebpf, ptrace, ...(f.falcoGrpc !== undefined ? { falco_grpc: { enabled: true, address: f.falcoGrpc } } : {}) };
  if (f.grpcOutput !== undefined) o.sinks = { ...o.sinks, grpc: { enabled: true, address: f.grpcOutput } };
  const fim: DeepPartial<Config["fim"]> = {};
  if (f.fim === false) fim.enabled = false;
  if (f.fimScan === false) fim.scan_on_start = false;
  o.fim = fim;
  if (f.capture === false) o.capture = { enabled: false };
  const kube: DeepPartial<Config["kubernetes"]> = {};
  if (f.nodeName !== undefined) kube.node_name = f.nodeName;
  if (f.kubeconfig !== undefined) kube.kubeconfig = f.kubeconfig;
  if (f.kubernetes === false) kube.enabled = false;
  o.kubernetes = kube;
  return o;
}
