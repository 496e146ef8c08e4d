// SPDX-License-Identifier: Apache-2.0
/**
 * deploy/fleet (NATS JetStream, PostgreSQL, stateless collectors) and deploy/fleet/external-db: both
 * render with kubectl kustomize and every object validates against the Kubernetes schemas; every pod
 * keeps least privilege and has requests and limits; the collector's args parse with the real
 * `vigil collector` command and name what the manifests serve; the agents differ from deploy/base
 * only in where they send alerts; no secret is written into an arg, a variable or a ConfigMap; and
 * the NATS configuration is accepted by the real nats-server (`-t`), then runs as a 3-node cluster on
 * loopback in which the agents can publish and nothing else, and the collectors can run the stream.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { registerCollector } from "../../agent/cli/collector-cmd.js";
import { ensureConsumer, ensureStream } from "../../collector/fleet/stream.js";
import { loadConfig } from "../../agent/config/index.js";
import { type CollectorSink, createCollectorSink } from "../../agent/sinks/collector-sink.js";
import { fleetSubjects, parseNatsServers } from "../../proto/fleet.js";
import { natsConnectionSchema } from "../../proto/fleet-schema.js";
import { natsConnectOptions } from "../../proto/fleet-connect.js";
import { makeAlert, quiet } from "../collector/helpers.js";
import { type CollectorProc, startCollectorProc, storedIds, waitFor, writeCollectorConfig } from "../fleet/harness.js";
import { freePort, NATS_SERVER_BIN } from "../helpers/nats.js";
import { startPostgres } from "../helpers/postgres.js";
import { bytes, type Doc, find, IMAGE, REPO_ROOT, renderDocs, validate } from "./manifests.js";

const FLEET = "deploy/fleet";
const EXTERNAL = "deploy/fleet/external-db";
const KUSTOMIZATIONS = [FLEET, "deploy/fleet/core", EXTERNAL] as const;
const NATS_IMAGE = "nats:2.10-alpine";
const POSTGRES_IMAGE = "postgres:16-alpine";

const fleet = renderDocs(FLEET);
const external = renderDocs(EXTERNAL);
const eks = renderDocs("deploy/overlays/eks");

type Workload = Doc & { spec: { replicas?: number; serviceName?: string; template: { metadata: { labels: Record<string, string> }; spec: IPodSpec } } };
const id = (d: Doc) => `${d.kind}/${d.metadata.name}`;
const workloads = (docs: Doc[]) => docs.filter((d) => ["DaemonSet", "Deployment", "StatefulSet"].includes(d.kind)) as Workload[];
const workload = (docs: Doc[], kind: string, name: string) => find<Workload>(docs, kind, name);
const containersOf = (s: IPodSpec): IContainer[] => [...(s.initContainers ?? []), ...s.containers];
const configMap = (docs: Doc[], name: string) => find<{ data: Record<string, string> }>(docs, "ConfigMap", name).data;

/** Validates any object of the fleet: kubernetes-models (manifests.ts) plus StatefulSet. */
function validateAny(d: Doc): void {
  if (`${d.apiVersion}/${d.kind}` === "apps/v1/StatefulSet") new StatefulSet(d as never).validate();
  else validate(d);
}

/** The Secret or ConfigMap key a container sees at `path`: [volume's Secret/ConfigMap, key]. */
function servedBy(c: IContainer, spec: IPodSpec, path: string): { from: string; key: string } | undefined {
  for (const m of c.volumeMounts ?? []) {
    if (!path.startsWith(`${m.mountPath}/`)) continue;
    const rel = path.slice(m.mountPath.length + 1);
    const v = spec.volumes?.find((x) => x.name === m.name);
    const src = v?.secret ?? v?.configMap;
    if (!src) continue;
    const item = src.items?.find((i) => i.path === rel);
    if (src.items && !item) continue;
    return { from: `${v?.secret ? "Secret" : "ConfigMap"}/${v?.secret?.secretName ?? v?.configMap?.name}`, key: item?.key ?? rel };
  }
  return undefined;
}

/** The value after `flag` in an argument list. */
const argOf = (args: string[], flag: string) => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};

const natsSts = workload(fleet, "StatefulSet", "vigil-nats");
const natsPod = natsSts.spec.template.spec;
const natsC = natsPod.containers.find((c) => c.name === "nats") as IContainer;
const natsInit = natsPod.initContainers?.find((c) => c.name === "auth") as IContainer;
const pgSts = workload(fleet, "StatefulSet", "vigil-postgres");
const pgPod = pgSts.spec.template.spec;
const pgC = pgPod.containers[0] as IContainer;
const colDep = workload(fleet, "Deployment", "vigil-collector");
const colPod = colDep.spec.template.spec;
const col = colPod.containers[0] as IContainer;
const colArgs = col.args ?? [];
const agentDs = workload(fleet, "DaemonSet", "vigil-agent");
const agentPod = agentDs.spec.template.spec;
const agent = agentPod.containers[0] as IContainer;
const natsConf = configMap(fleet, "vigil-nats-config")["nats.conf"] ?? "";
const authSh = configMap(fleet, "vigil-nats-config")["auth.sh"] ?? "";
const collectorYaml = configMap(fleet, "vigil-collector-config")["collector.yaml"] ?? "";
const agentYaml = configMap(fleet, "vigil-config")["config.yaml"] ?? "";
const colCfg = loadConfig({ text: collectorYaml, env: {} });
const clientPort = natsC.ports?.find((p) => p.name === "client")?.containerPort;
const clusterPort = natsC.ports?.find((p) => p.name === "cluster")?.containerPort;
/** vigil-nats-N.vigil-nats:PORT for each server of the StatefulSet. */
const natsHosts = (port: number | undefined) =>
  Array.from({ length: natsSts.spec.replicas ?? 0 }, (_, i) => `${natsSts.metadata.name}-${i}.${natsSts.spec.serviceName}:${port}`);

describe("the kustomizations", () => {
  it.each(KUSTOMIZATIONS)("%s uses only fields kustomize v2.0.3 (kubectl 1.20) knows, as deploy/ does", (k) => {
    const kust = parse(readFileSync(join(REPO_ROOT, k, "kustomization.yaml"), "utf8")) as Record<string, unknown>;
    for (const key of Object.keys(kust)) expect(["resources", "bases", "patchesStrategicMerge"], `${k}: ${key}`).toContain(key);
    for (const r of (kust["resources"] as string[] | undefined) ?? []) expect(r, `${k}: resource ${r}`).toMatch(/\.yaml$/);
  });

  it("deploy/fleet holds the EKS overlay's objects plus NATS and PostgreSQL; no pod mounts the SQLite claim", () => {
    expect(fleet.map(id).sort()).toEqual(
      [
        ...eks.map(id),
        "ConfigMap/vigil-collector-config",
        "ConfigMap/vigil-nats-config",
        "NetworkPolicy/vigil-nats",
        "NetworkPolicy/vigil-postgres",
        "PodDisruptionBudget/vigil-nats",
        "Service/vigil-nats",
        "Service/vigil-postgres",
        "ServiceAccount/vigil-nats",
        "ServiceAccount/vigil-postgres",
        "StatefulSet/vigil-nats",
        "StatefulSet/vigil-postgres",
      ].sort(),
    );
    for (const d of fleet)
      if (!["Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding"].includes(d.kind)) expect(d.metadata.namespace, id(d)).toBe("vigil");
    // the user creates the Secrets: none is shipped, so none can hold a default password
    expect(fleet.filter((d) => d.kind === "Secret")).toEqual([]);
    // the SQLite claim stays (deploy/fleet/core/kustomization.yaml) but is never bound: no pod mounts it
    for (const w of workloads(fleet)) expect(w.spec.template.spec.volumes?.filter((v) => v.persistentVolumeClaim) ?? [], id(w)).toEqual([]);
    const sc = find<{ volumeBindingMode: string }>(fleet, "StorageClass", "vigil-gp3");
    expect(sc.volumeBindingMode).toBe("WaitForFirstConsumer");
  });

  const all = [FLEET, EXTERNAL].flatMap((k) => renderDocs(k).map((d) => [`${k}: ${id(d)}`, d] as const));
  it.each(all)("%s validates against its schema", (_n, d) => {
    expect(() => validateAny(d)).not.toThrow();
  });

  it("the StatefulSet validator rejects a broken object", () => {
    const broken = structuredClone(natsSts) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = "three";
    expect(() => validateAny(broken as unknown as Doc)).toThrow();
  });

  it("deploy/fleet/external-db is deploy/fleet without PostgreSQL, its collectors' --store naming the external database", () => {
    const pg = (d: Doc) => d.metadata.name === "vigil-postgres";
    expect(external.map(id).sort()).toEqual(
      fleet
        .filter((d) => !pg(d))
        .map(id)
        .sort(),
    );
    for (const d of external.filter((x) => x.kind !== "Deployment")) expect(d, id(d)).toEqual(find(fleet, d.kind, d.metadata.name));
    const ext = workload(external, "Deployment", "vigil-collector");
    const extPod = ext.spec.template.spec;
    const c = extPod.containers[0] as IContainer;
    const args = c.args ?? [];
    const url = new URL(argOf(args, "--store") ?? "");
    expect(url.protocol).toBe("postgres:");
    expect(url.username).toBe("vigil");
    expect(url.password).toBe("");
    expect(url.hostname).not.toBe("vigil-postgres");
    // verified TLS, against a CA bundle the pod has
    expect(url.searchParams.get("sslmode")).toBe("verify-full");
    expect(servedBy(c, extPod, url.searchParams.get("sslrootcert") ?? "")).toEqual({ from: "ConfigMap/vigil-postgres-ca", key: "ca.pem" });
    // nothing else differs from deploy/fleet's collector
    const strip = (w: Workload) => {
      const x = structuredClone(w);
      const s = x.spec.template.spec;
      const cc = s.containers[0] as IContainer;
      cc.args = (cc.args ?? []).filter((a, i, arr) => a !== "--store" && arr[i - 1] !== "--store");
      cc.volumeMounts = cc.volumeMounts?.filter((m) => m.name !== "postgres-ca");
      s.volumes = s.volumes?.filter((v) => v.name !== "postgres-ca");
      return x;
    };
    expect(strip(ext)).toEqual(strip(colDep));
  });
});

describe("least privilege and resources", () => {
  const pods = [FLEET, EXTERNAL].flatMap((k) => workloads(renderDocs(k)).map((w) => [`${k}: ${id(w)}`, w] as const));

  it.each(pods)("%s: no API token but the agent's, unprivileged containers with every capability dropped, requests and limits", (_n, w) => {
    const spec = w.spec.template.spec;
    const docs = _n.startsWith(`${EXTERNAL}:`) ? external : fleet;
    // the agent's Kubernetes API context reads with a read-only ClusterRole (base/agent.yaml)
    expect(spec.automountServiceAccountToken).toBe(id(w) === "DaemonSet/vigil-agent");
    expect(find<{ automountServiceAccountToken?: boolean }>(docs, "ServiceAccount", spec.serviceAccountName ?? "").automountServiceAccountToken).toBe(false);
    for (const c of containersOf(spec)) {
      const sc = c.securityContext ?? {};
      expect(sc.privileged ?? false, c.name).toBe(false);
      expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
      expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
      expect(sc.capabilities?.drop, c.name).toEqual(["ALL"]);
      for (const k of ["cpu", "memory"]) {
        expect(c.resources?.requests?.[k], `${c.name} requests.${k}`).toBeDefined();
        expect(c.resources?.limits?.[k], `${c.name} limits.${k}`).toBeDefined();
      }
    }
  });

  const services = pods.filter(([, w]) => w.metadata.name !== "vigil-agent");
  it.each(services)("%s: non-root, no capability added, no host namespace or path, the runtime's seccomp profile", (_n, w) => {
    const spec = w.spec.template.spec;
    expect(spec.securityContext?.runAsNonRoot).toBe(true);
    expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(spec.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
    for (const c of containersOf(spec)) {
      expect(c.securityContext?.capabilities?.add ?? [], c.name).toEqual([]);
      expect(c.securityContext?.runAsUser ?? 1, c.name).not.toBe(0);
      expect(c.securityContext?.runAsNonRoot ?? true, c.name).toBe(true);
    }
    expect(spec.hostPID ?? false).toBe(false);
    expect(spec.hostNetwork ?? false).toBe(false);
    expect(spec.hostIPC ?? false).toBe(false);
    expect((spec.volumes ?? []).filter((v) => v.hostPath)).toEqual([]);
  });

  it("covers the NATS servers, PostgreSQL and the collectors", () => {
    expect(services.map(([n]) => n).filter((n) => n.startsWith(`${FLEET}:`))).toEqual(
      expect.arrayContaining([`${FLEET}: StatefulSet/vigil-nats`, `${FLEET}: StatefulSet/vigil-postgres`, `${FLEET}: Deployment/vigil-collector`]),
    );
  });

  it("the agent keeps exactly the base's privileges", () => {
    const base = workload(eks, "DaemonSet", "vigil-agent").spec.template.spec;
    expect(agent.securityContext).toEqual(base.containers[0]?.securityContext);
    expect(agentPod.hostPID).toBe(true);
    expect(agentPod.hostNetwork ?? false).toBe(false);
  });

  it("runs Vigil's release image and the official nats and postgres images by tag (README: pin digests in production)", () => {
    const images = new Map<string, string>();
    for (const w of workloads(fleet)) for (const c of containersOf(w.spec.template.spec)) images.set(`${w.metadata.name}/${c.name}`, c.image ?? "");
    expect(Object.fromEntries(images)).toEqual({
      "vigil-agent/agent": IMAGE,
      "vigil-collector/collector": IMAGE,
      "vigil-nats/auth": NATS_IMAGE,
      "vigil-nats/nats": NATS_IMAGE,
      "vigil-postgres/postgres": POSTGRES_IMAGE,
    });
    const readme = readFileSync(join(REPO_ROOT, "deploy", "README.md"), "utf8");
    expect(readme).toContain(NATS_IMAGE);
    expect(readme).toContain(POSTGRES_IMAGE);
    expect(readme).toMatch(/digest/);
  });
});

describe("the collectors", () => {
  it("run the real `vigil collector` command's options: --listen, --token-file, --nats, --store, --config, TLS; no --data", () => {
    const program = new Command();
    program.exitOverride();
    registerCollector(program);
    const cmd = program.commands.find((c) => c.name() === "collector");
    expect(cmd).toBeDefined();
    if (!cmd) return;
    expect(colArgs[0]).toBe("collector");
    const args = colArgs.slice(1);
    const known = new Set(cmd.options.map((o) => o.long));
    for (const f of ["--listen", "--token-file", "--nats", "--store", "--config", "--tls-cert", "--tls-key"]) {
      expect(known, `vigil collector has ${f}`).toContain(f);
      expect(args, `the manifest passes ${f}`).toContain(f);
    }
    expect(args).not.toContain("--data");
    const parsed = cmd.parseOptions(args);
    expect(parsed.unknown).toEqual([]);
    expect(parsed.operands).toEqual([]);
    const opts = cmd.opts();
    // every option the command requires is given
    for (const o of cmd.options) if (o.mandatory) expect(opts[o.attributeName()], o.long).toBeDefined();
    expect(opts["nats"]).toBe(argOf(args, "--nats"));
    expect(opts["store"]).toBe(argOf(args, "--store"));
  });

  it("--nats names the NATS servers, --store the PostgreSQL Service, as the database's user and name, with no password", () => {
    expect(parseNatsServers(argOf(colArgs, "--nats") ?? "")).toEqual(natsHosts(clientPort).map((h) => `nats://${h}`));
    const svc = find<{ metadata: { name: string }; spec: { ports: { port: number }[] } }>(fleet, "Service", "vigil-nats");
    expect(svc.spec.ports.find((p) => p.port === clientPort)).toBeDefined();
    const url = new URL(argOf(colArgs, "--store") ?? "");
    expect(url.protocol).toBe("postgres:");
    expect(url.password).toBe("");
    const pgSvc = find<{ metadata: { name: string }; spec: { ports: { port: number; targetPort: string }[] } }>(fleet, "Service", "vigil-postgres");
    expect(url.hostname).toBe(pgSvc.metadata.name);
    expect(Number(url.port)).toBe(pgSvc.spec.ports[0]?.port);
    expect(pgC.ports?.find((p) => p.name === pgSvc.spec.ports[0]?.targetPort)?.containerPort).toBe(5432);
    const env = (n: string) => pgC.env?.find((e) => e.name === n)?.value;
    expect(decodeURIComponent(url.username)).toBe(env("POSTGRES_USER"));
    expect(url.pathname).toBe(`/${env("POSTGRES_DB")}`);
  });

  it("read their token, certificate, configuration and both passwords from what the pod mounts", () => {
    expect(servedBy(col, colPod, argOf(colArgs, "--token-file") ?? "")).toEqual({ from: "Secret/vigil-collector-token", key: "token" });
    expect(servedBy(col, colPod, argOf(colArgs, "--tls-cert") ?? "")).toEqual({ from: "Secret/vigil-collector-tls", key: "tls.crt" });
    expect(servedBy(col, colPod, argOf(colArgs, "--tls-key") ?? "")).toEqual({ from: "Secret/vigil-collector-tls", key: "tls.key" });
    expect(servedBy(col, colPod, argOf(colArgs, "--config") ?? "")).toEqual({ from: "ConfigMap/vigil-collector-config", key: "collector.yaml" });
    expect(colCfg.collector.nats.user).toBe("collector");
    expect(servedBy(col, colPod, colCfg.collector.nats.password_file)).toEqual({ from: "Secret/vigil-nats-auth", key: "collector-password" });
    expect(servedBy(col, colPod, colCfg.collector.store.password_file)).toEqual({ from: "Secret/vigil-postgres", key: "password" });
    // of vigil-nats-auth, only the collectors' key
    const natsSecret = colPod.volumes?.find((v) => v.secret?.secretName === "vigil-nats-auth");
    expect(natsSecret?.secret?.items?.map((i) => i.key)).toEqual(["collector-password"]);
  });

  it("carry a forwarder example, off, whose webhook URL comes from an optional Secret, linking to the collectors' Service", () => {
    const f = colCfg.forwarders.find((x) => x.name === "team-chat");
    expect(f?.type).toBe("slack");
    expect(f?.enabled).toBe(false);
    const slack = f as { url_file?: string; collector_url?: string };
    expect(servedBy(col, colPod, slack.url_file ?? "")).toEqual({ from: "Secret/vigil-forwarders", key: "slack-webhook" });
    expect(colPod.volumes?.find((v) => v.secret?.secretName === "vigil-forwarders")?.secret?.optional).toBe(true);
    const svc = find<{ spec: { ports: { port: number }[] } }>(fleet, "Service", "vigil-collector");
    const link = new URL(slack.collector_url ?? "");
    expect(link.hostname.split(".").slice(0, 2)).toEqual(["vigil-collector", "vigil"]);
    expect(svc.spec.ports.map((p) => p.port)).toContain(Number(link.port));
  });

  it("keep the stream within what NATS accepts: R3 on the three servers, messages under max_payload, bytes under each server's store", () => {
    const f = colCfg.collector.fleet;
    expect(f.replicas).toBe(natsSts.spec.replicas);
    expect(f.max_msg_bytes).toBeLessThanOrEqual(natsSize("max_payload"));
    expect(f.max_bytes).toBeLessThan(natsSize("max_file_store"));
    const claim = (natsSts.spec as unknown as { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] }).volumeClaimTemplates[0];
    expect(natsSize("max_file_store")).toBeLessThan(bytes(claim?.spec.resources.requests.storage ?? "0"));
    expect(fleetSubjects("vigil").alertsAll).toBe("vigil.alerts.>");
  });

  it("are stateless: three replicas rolled one at a time, spread over nodes, a disruption budget, ready on /healthz, no volume claim", () => {
    expect(colDep.spec.replicas).toBe(3);
    expect((colDep.spec as unknown as { strategy: { type: string } }).strategy.type).toBe("RollingUpdate");
    const labels = colDep.spec.template.metadata.labels;
    const anti = colPod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
    expect(anti?.topologyKey).toBe("kubernetes.io/hostname");
    for (const [k, v] of Object.entries(anti?.labelSelector?.matchLabels ?? {})) expect(labels[k]).toBe(v);
    const pdb = find<{ spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } }>(fleet, "PodDisruptionBudget", "vigil-collector");
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(col.readinessProbe?.httpGet?.path).toBe("/healthz");
    expect((colPod.volumes ?? []).filter((v) => v.persistentVolumeClaim || v.hostPath)).toEqual([]);
    expect((col.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => m.mountPath)).toEqual(["/tmp"]);
  });
});

describe("the agents", () => {
  const baseCm = configMap(eks, "vigil-config");
  const baseCfg = parse(baseCm["config.yaml"] ?? "") as { sinks: Record<string, unknown> };
  const fleetCfg = parse(agentYaml) as {
    sinks: { collector: { address: string; nats: Record<string, unknown>; spool: unknown; token_file?: string; token?: string; tls?: boolean } };
  };

  it("run the base's configuration but for sinks.collector, which publishes to the NATS servers as the agents' user", () => {
    const strip = (c: { sinks: Record<string, unknown> }) => {
      const x = structuredClone(c);
      delete x.sinks["collector"];
      return x;
    };
    expect(strip(fleetCfg)).toEqual(strip(baseCfg));
    expect(configMap(fleet, "vigil-config")["local_rules.yaml"]).toBe(baseCm["local_rules.yaml"]);
    const sink = fleetCfg.sinks.collector;
    expect(parseNatsServers(sink.address)).toEqual(parseNatsServers(argOf(colArgs, "--nats") ?? ""));
    expect(sink.spool).toEqual((baseCfg.sinks["collector"] as { spool: unknown }).spool);
    const nats = natsConnectionSchema.parse(sink.nats);
    expect(nats.user).toBe("agent");
    expect(nats.cluster).toBe(colCfg.collector.nats.cluster);
    expect(servedBy(agent, agentPod, nats.password_file)).toEqual({ from: "Secret/vigil-nats-auth", key: "agent-password" });
    expect([sink.token, sink.token_file, sink.tls]).toEqual([undefined, undefined, undefined]);
  });

  it("the configuration loads as the agent loads it", () => {
    const cfg = loadConfig({ text: agentYaml, env: {} });
    expect(cfg.sinks.collector.enabled).toBe(true);
    expect(cfg.sinks.collector.address).toBe(fleetCfg.sinks.collector.address);
  });

  it("hold only the agents' NATS password: not the collector's token (it allows queries and tail) nor the other passwords", () => {
    const secrets = (agentPod.volumes ?? []).filter((v) => v.secret).map((v) => [v.secret?.secretName, v.secret?.items?.map((i) => i.key)]);
    expect(secrets).toEqual([["vigil-nats-auth", ["agent-password"]]]);
    expect(agent.env?.some((e) => e.name.includes("TOKEN"))).toBe(false);
  });

  it("the DaemonSet is the base's but for those mounts", () => {
    const base = workload(eks, "DaemonSet", "vigil-agent");
    const strip = (w: Workload) => {
      const x = structuredClone(w);
      const s = x.spec.template.spec;
      const c = s.containers[0] as IContainer;
      const gone = new Set(["collector-token", "collector-ca", "nats-password"]);
      c.env = c.env?.filter((e) => e.name !== "VIGIL_SINKS_COLLECTOR_TOKEN_FILE");
      c.volumeMounts = c.volumeMounts?.filter((m) => !gone.has(m.name)).sort((a, b) => a.name.localeCompare(b.name));
      s.volumes = s.volumes?.filter((v) => !gone.has(v.name)).sort((a, b) => a.name.localeCompare(b.name));
      return x;
    };
    expect(strip(agentDs)).toEqual(strip(base));
  });
});

describe("secrets", () => {
  const docsOf = { [FLEET]: fleet, [EXTERNAL]: external };
  const cases = Object.entries(docsOf).flatMap(([k, docs]) =>
    workloads(docs).flatMap((w) => containersOf(w.spec.template.spec).map((c) => [`${k}: ${w.metadata.name}/${c.name}`, c, w.spec.template.spec] as const)),
  );

  it.each(cases)("%s: no secret in an arg or a variable; secret files come from mounted Secrets", (_n, c, spec) => {
    const words = [...(c.command ?? []), ...(c.args ?? [])];
    for (const w of words) {
      // URLs (also comma-separated lists of them) carry no password
      for (const part of w.split(",")) if (/^[a-z][a-z0-9+.-]*:\/\//i.test(part)) expect(new URL(part).password, part).toBe("");
    }
    // a flag about a secret takes a file that a Secret serves, never the value
    words.forEach((w, i) => {
      if (!/^--?[a-z-]*(token|pass|password|secret|key)([a-z-]*)$/i.test(w)) return;
      expect(w, "a secret flag names a file").toMatch(/-(file|key|cert)$/);
      expect(servedBy(c, spec, words[i + 1] ?? "")?.from ?? "", `${w} ${words[i + 1]}`).toMatch(/^Secret\//);
    });
    for (const e of c.env ?? []) {
      expect(e.valueFrom?.secretKeyRef, `${e.name}: a Secret as a variable`).toBeUndefined();
      if (!/PASS|TOKEN|SECRET|KEY|CRED/i.test(e.name)) continue;
      // only *_FILE variables naming a mounted Secret's file, or *_DIR ones naming where a Secret is mounted
      expect(e.name, e.name).toMatch(/_(FILE|DIR)$/);
      if (e.name.endsWith("_DIR")) {
        const m = c.volumeMounts?.find((x) => x.mountPath === e.value);
        expect(spec.volumes?.find((v) => v.name === m?.name)?.secret, e.name).toBeDefined();
      } else expect(servedBy(c, spec, e.value ?? "")?.from ?? "", e.name).toMatch(/^Secret\//);
    }
    expect(c.envFrom ?? []).toEqual([]);
  });

  it("the configuration files name password files, never passwords", () => {
    expect(colCfg.collector.nats.password).toBe("");
    expect(colCfg.collector.nats.token).toBe("");
    const agentNats = natsConnectionSchema.parse((parse(agentYaml) as { sinks: { collector: { nats: unknown } } }).sinks.collector.nats);
    expect([agentNats.password, agentNats.token]).toEqual(["", ""]);
    // nats.conf: every password is a variable of the include file written from the Secret
    const pw = [...natsConf.matchAll(/^\s*password:\s*(.+)$/gm)].map((m) => m[1]?.trim());
    expect(pw.sort()).toEqual(["$AGENT_PASSWORD", "$COLLECTOR_PASSWORD", "$ROUTE_PASSWORD"]);
    expect(natsConf).not.toMatch(/:\/\/[^\s"/]*:[^\s"/]*@/);
  });
});

describe("NATS and PostgreSQL objects", () => {
  const npIngress = (name: string) =>
    find<{
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[];
      };
    }>(fleet, "NetworkPolicy", name).spec;

  it("NATS: a headless Service that publishes not-ready servers (the routes find each other before JetStream is up)", () => {
    const svc = find<{ spec: { clusterIP: string; publishNotReadyAddresses: boolean; selector: Record<string, string> } }>(fleet, "Service", "vigil-nats");
    expect(svc.spec.clusterIP).toBe("None");
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    expect(natsSts.spec.serviceName).toBe("vigil-nats");
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(natsSts.spec.template.metadata.labels[k]).toBe(v);
  });

  it("NATS: three servers, never two on one node, at most one away; one gp3 volume each for the file store", () => {
    expect(natsSts.spec.replicas).toBe(3);
    const anti = natsPod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0];
    expect(anti?.topologyKey).toBe("kubernetes.io/hostname");
    expect(anti?.labelSelector?.matchLabels).toEqual({ "app.kubernetes.io/name": "vigil-nats" });
    expect(find<{ spec: { maxUnavailable: number } }>(fleet, "PodDisruptionBudget", "vigil-nats").spec.maxUnavailable).toBe(1);
    for (const sts of [natsSts, pgSts]) {
      const claims = (sts.spec as unknown as { volumeClaimTemplates: { metadata: { name: string }; spec: { storageClassName: string } }[] })
        .volumeClaimTemplates;
      expect(claims.map((c) => c.spec.storageClassName)).toEqual(["vigil-gp3"]);
      find(fleet, "StorageClass", "vigil-gp3");
      const mount = containersOf(sts.spec.template.spec)
        .flatMap((c) => c.volumeMounts ?? [])
        .find((m) => m.name === claims[0]?.metadata.name);
      expect(mount, sts.metadata.name).toBeDefined();
    }
    expect(natsConf).toMatch(/store_dir: "\/data\/jetstream"/);
    expect(natsC.volumeMounts?.find((m) => m.name === "data")?.mountPath).toBe("/data");
  });

  it("NATS: probes on the monitoring port; the server's name is its pod's", () => {
    const monitor = natsC.ports?.find((p) => p.name === "monitor")?.containerPort;
    expect(natsConf).toContain(`http: "0.0.0.0:${monitor}"`);
    for (const p of [natsC.startupProbe, natsC.livenessProbe, natsC.readinessProbe]) expect(p?.httpGet?.port).toBe("monitor");
    expect(natsC.readinessProbe?.httpGet?.path).toMatch(/^\/healthz/);
    expect(natsConf).toMatch(/^server_name: \$POD_NAME$/m);
    expect(natsC.env?.find((e) => e.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
  });

  it("NATS: the server never mounts the Secret; the init container writes the include file into memory", () => {
    expect(natsC.volumeMounts?.some((m) => natsPod.volumes?.find((v) => v.name === m.name)?.secret)).toBe(false);
    expect(servedBy(natsInit, natsPod, "/var/run/secrets/vigil-nats/agent-password")?.from).toBe("Secret/vigil-nats-auth");
    const authDir = natsPod.volumes?.find((v) => v.name === "auth");
    expect(authDir?.emptyDir?.medium).toBe("Memory");
    expect(natsC.volumeMounts?.find((m) => m.name === "auth")).toMatchObject({ mountPath: "/etc/nats/auth", readOnly: true });
    // the include path, relative to the config file's folder
    expect(natsC.args).toEqual(["--config", "/etc/nats/config/nats.conf"]);
    expect(natsConf).toMatch(/^include "\.\.\/auth\/auth\.conf"$/m);
    const env = Object.fromEntries((natsInit.env ?? []).map((e) => [e.name, e.value]));
    expect(env["VIGIL_NATS_AUTH"]).toBe("/etc/nats/auth/auth.conf");
    // the script from the ConfigMap, given the three servers' route addresses
    expect(natsInit.command?.slice(0, 2)).toEqual(["/bin/sh", "/etc/nats/config/auth.sh"]);
    expect(servedBy(natsInit, natsPod, "/etc/nats/config/auth.sh")).toEqual({ from: "ConfigMap/vigil-nats-config", key: "auth.sh" });
    expect(natsInit.command?.slice(2)).toEqual(natsHosts(clusterPort));
  });

  it("NetworkPolicies: NATS clients are the agents and collectors, routes the servers; PostgreSQL admits the collectors only", () => {
    const labels = (w: Workload) => ({ "app.kubernetes.io/name": w.spec.template.metadata.labels["app.kubernetes.io/name"] });
    const nats = npIngress("vigil-nats");
    expect(nats.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: labels(agentDs) } }, { podSelector: { matchLabels: labels(colDep) } }],
        ports: [{ port: clientPort, protocol: "TCP" }],
      },
      { from: [{ podSelector: { matchLabels: labels(natsSts) } }], ports: [{ port: clusterPort, protocol: "TCP" }] },
    ]);
    const pg = npIngress("vigil-postgres");
    expect(pg.ingress).toEqual([{ from: [{ podSelector: { matchLabels: labels(colDep) } }], ports: [{ port: 5432, protocol: "TCP" }] }]);
    for (const [np, w] of [
      [nats, natsSts],
      [pg, pgSts],
    ] as const)
      for (const [k, v] of Object.entries(np.podSelector.matchLabels)) expect(w.spec.template.metadata.labels[k]).toBe(v);
  });

  it("PostgreSQL: the password file from the Secret, data in a folder of the volume, writable socket and temp folders in empty dirs", () => {
    const env = Object.fromEntries((pgC.env ?? []).map((e) => [e.name, e.value]));
    expect(servedBy(pgC, pgPod, env["POSTGRES_PASSWORD_FILE"] ?? "")).toEqual({ from: "Secret/vigil-postgres", key: "password" });
    expect(env["POSTGRES_PASSWORD"]).toBeUndefined();
    const data = pgC.volumeMounts?.find((m) => m.name === "data")?.mountPath ?? "";
    expect(env["PGDATA"]?.startsWith(`${data}/`)).toBe(true);
    for (const dir of ["/var/run/postgresql", "/tmp"]) {
      const m = pgC.volumeMounts?.find((x) => x.mountPath === dir);
      expect(pgPod.volumes?.find((v) => v.name === m?.name)?.emptyDir, dir).toBeDefined();
    }
    // the alpine image's postgres user
    expect(pgPod.securityContext).toMatchObject({ runAsUser: 70, runAsGroup: 70, fsGroup: 70 });
    expect(pgC.readinessProbe?.exec?.command).toEqual(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]]);
  });
});

describe("deploy/README.md", () => {
  const readme = readFileSync(join(REPO_ROOT, "deploy", "README.md"), "utf8");
  it("explains the RBAC (none) of the NATS and PostgreSQL ServiceAccounts, and the fleet layout", () => {
    const rbac = readme.slice(readme.indexOf("## RBAC"), readme.indexOf("\n## ", readme.indexOf("## RBAC") + 1));
    for (const d of fleet.filter((x) => x.kind === "ServiceAccount")) expect(rbac, d.metadata.name).toMatch(new RegExp(`\\| \`${d.metadata.name}\` \\|`));
    for (const k of KUSTOMIZATIONS) expect(readme, k).toContain(`${k.replace(/^deploy\//, "")}/`);
  });
});

/** A size in nats.conf (`9Gi`, `1MB`, digits) in bytes, as nats-server reads it (k/m/g: powers of 1000). */
function natsSize(key: string): number {
  const m = new RegExp(`^\\s*${key}: (\\d+)([A-Za-z]*)$`, "m").exec(natsConf);
  if (!m) throw new Error(`no ${key} in nats.conf`);
  const unit = (m[2] ?? "").toLowerCase();
  const mult: Record<string, number> = { "": 1, k: 1e3, kb: 2 ** 10, ki: 2 ** 10, m: 1e6, mb: 2 ** 20, mi: 2 ** 20, g: 1e9, gb: 2 ** 30, gi: 2 ** 30 };
  const f = mult[unit];
  if (f === undefined) throw new Error(`unknown unit ${unit} of ${key}`);
  return Number(m[1]) * f;
}

/** The shell the image runs auth.sh with: busybox's when this machine has it, else /bin/sh. */
const BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));
function runAuthSh(secrets: string, out: string, routes: string[]) {
  const [cmd, pre] = BUSYBOX ? [BUSYBOX, ["sh"]] : ["/bin/sh", []];
  return spawnSync(cmd, [...pre, "-c", authSh, "auth.sh", ...routes], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", VIGIL_NATS_SECRETS_DIR: secrets, VIGIL_NATS_AUTH: out },
  });
}

const PASSWORDS = {
  "agent-password": "agent-pw-0123456789abcdef",
  "collector-password": "collector-pw-0123456789abcdef",
  "route-password": "route-pw-0123456789abcdef",
};

describe("the NATS configuration with the real nats-server", () => {
  let tmp: string;
  const secretsDir = () => join(tmp, "secrets");
  const writeSecrets = (over: Record<string, string | undefined> = {}) => {
    const dir = join(tmp, `secrets-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir);
    for (const [k, v] of Object.entries({ ...PASSWORDS, ...over })) if (v !== undefined) writeFileSync(join(dir, k), v);
    return dir;
  };

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "vigil-fleet-nats-"));
    mkdirSync(secretsDir());
    // as `kubectl create secret --from-file` would store them: with a final newline
    for (const [k, v] of Object.entries(PASSWORDS)) writeFileSync(join(secretsDir(), k), `${v}\n`);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("auth.sh writes the include file (mode 0600): the passwords quoted, the route URLs with the route password", () => {
    const out = join(tmp, "auth.conf");
    const r = runAuthSh(secretsDir(), out, ["a:6222", "b:6222"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(
      [
        `AGENT_PASSWORD: "${PASSWORDS["agent-password"]}"`,
        `COLLECTOR_PASSWORD: "${PASSWORDS["collector-password"]}"`,
        `ROUTE_PASSWORD: "${PASSWORDS["route-password"]}"`,
        "ROUTES: [",
        `  "nats://route:${PASSWORDS["route-password"]}@a:6222"`,
        `  "nats://route:${PASSWORDS["route-password"]}@b:6222"`,
        "]",
        "",
      ].join("\n"),
    );
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it.each([
    ["a quote (would end the string)", { "route-password": 'abc"def0123456789' }, /route-password.*use only A-Z a-z 0-9/],
    ["a space", { "agent-password": "abc def 0123456789" }, /agent-password.*use only/],
    ["a short password", { "collector-password": "short" }, /collector-password.*16 characters/],
    ["a missing key", { "route-password": undefined }, /key route-password .* missing or empty/],
    ["the same password for agents and collectors", { "collector-password": PASSWORDS["agent-password"] }, /must differ/],
  ])("auth.sh refuses %s with one line naming the key, and writes nothing", (_n, over, msg) => {
    const out = join(tmp, `refused-${Math.random().toString(36).slice(2)}.conf`);
    const r = runAuthSh(writeSecrets(over), out, ["a:6222"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(msg);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it("nats-server -t accepts nats.conf as shipped, with the include file auth.sh writes", () => {
    const dir = join(tmp, "as-shipped");
    mkdirSync(join(dir, "config"), { recursive: true });
    mkdirSync(join(dir, "auth"));
    writeFileSync(join(dir, "config", "nats.conf"), natsConf);
    const a = runAuthSh(secretsDir(), join(dir, "auth", "auth.conf"), natsInit.command?.slice(2) ?? []);
    expect(a.status, a.stderr).toBe(0);
    const r = spawnSync(NATS_SERVER_BIN, ["-c", join(dir, "config", "nats.conf"), "-t"], {
      encoding: "utf8",
      env: { ...process.env, POD_NAME: "vigil-nats-0" },
    });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/is valid/);
    // and it does fail on a broken file (the check is not a no-op)
    writeFileSync(join(dir, "config", "nats.conf"), natsConf.replace("$AGENT_PASSWORD", "$NO_SUCH_VARIABLE"));
    expect(spawnSync(NATS_SERVER_BIN, ["-c", join(dir, "config", "nats.conf"), "-t"], { env: { ...process.env, POD_NAME: "x" } }).status).not.toBe(0);
  });

  describe("as a 3-node cluster on loopback (addresses and paths rewritten, the rest as shipped)", () => {
    const procs: ChildProcess[] = [];
    const logs: string[] = ["", "", ""];
    let clientPorts: number[] = [];
    let clusterPorts: number[] = [];
    const conns: NatsConnection[] = [];
    let collector: NatsConnection;
    let agentNc: NatsConnection;
    const agentErrors: string[] = [];
    const stream = colCfg.collector.fleet;
    const subjects = fleetSubjects(colCfg.collector.nats.subject_prefix);

    /** Options for a user as the agents and collectors build them (proto/fleet.ts) from their config. */
    const optionsFor = (nats: unknown, passwordFile: string, servers: string[]) =>
      natsConnectOptions({ ...natsConnectionSchema.parse(nats), password_file: passwordFile }, servers, "vigil-fleet-test");
    const agentNats = (parse(agentYaml) as { sinks: { collector: { nats: unknown } } }).sinks.collector.nats;

    beforeAll(async () => {
      const ports = new Set<number>();
      while (ports.size < 9) ports.add(await freePort());
      const p = [...ports];
      clientPorts = p.slice(0, 3);
      clusterPorts = p.slice(3, 6);
      const monitorPorts = p.slice(6, 9);
      const routes = clusterPorts.map((c) => `127.0.0.1:${c}`);
      for (let i = 0; i < 3; i++) {
        const dir = join(tmp, `n${i}`);
        mkdirSync(join(dir, "config"), { recursive: true });
        mkdirSync(join(dir, "auth"));
        const a = runAuthSh(secretsDir(), join(dir, "auth", "auth.conf"), routes);
        expect(a.status, a.stderr).toBe(0);
        let conf = natsConf;
        const swap = (from: string, to: string) => {
          expect(conf.split(from).length - 1, `nats.conf holds ${from} once`).toBe(1);
          conf = conf.replace(from, to);
        };
        swap(`listen: "0.0.0.0:${clientPort}"`, `listen: "127.0.0.1:${clientPorts[i]}"`);
        swap(`http: "0.0.0.0:8222"`, `http: "127.0.0.1:${monitorPorts[i]}"`);
        swap(`listen: "0.0.0.0:${clusterPort}"`, `listen: "127.0.0.1:${clusterPorts[i]}"`);
        swap(`pid_file: "/var/run/nats/nats.pid"`, `pid_file: ${JSON.stringify(join(dir, "nats.pid"))}`);
        swap(`store_dir: "/data/jetstream"`, `store_dir: ${JSON.stringify(join(dir, "jetstream"))}`);
        writeFileSync(join(dir, "config", "nats.conf"), conf);
        const proc = spawn(NATS_SERVER_BIN, ["-c", join(dir, "config", "nats.conf")], {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, POD_NAME: `vigil-nats-${i}` },
        });
        proc.stderr?.setEncoding("utf8");
        proc.stderr?.on("data", (c: string) => {
          logs[i] = ((logs[i] ?? "") + c).slice(-8000);
        });
        procs.push(proc);
      }
      // healthy: JetStream current with an elected meta leader, which needs the routes up
      const deadline = Date.now() + 30_000;
      for (const m of monitorPorts) {
        while ((await httpStatus(m, "/healthz")) !== 200) {
          if (Date.now() > deadline) throw new Error(`nats-server not healthy:\n${logs.join("\n---\n").slice(-6000)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const servers = clientPorts.map((c) => `nats://127.0.0.1:${c}`);
      collector = await connect(optionsFor(colCfg.collector.nats, join(secretsDir(), "collector-password"), servers));
      conns.push(collector);
      agentNc = await connect(optionsFor(agentNats, join(secretsDir(), "agent-password"), servers));
      conns.push(agentNc);
      void (async () => {
        for await (const s of agentNc.status()) if (s.type === "error") agentErrors.push(String(s.error?.message));
      })();
      // what a collector does at start (collector/fleet/stream.ts): the stream, R3 on the three
      // servers, and the shared consumer, as collector.yaml configures them
      const jsm = await jetstreamManager(collector);
      const made = await ensureStream(jsm, stream, colCfg.collector.nats.subject_prefix, quiet());
      expect(made).toMatchObject({ created: true, replicas: 3 });
      await ensureConsumer(jsm, stream, colCfg.collector.nats.subject_prefix, quiet());
    }, 60_000);

    afterAll(async () => {
      for (const c of conns) await c.close().catch(() => undefined);
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once("exit", () => resolve());
              p.kill("SIGKILL");
            }),
        ),
      );
    });

    /** Waits until the server has told the agent's connection about a permissions violation on `what`. */
    const violation = async (what: string) => {
      const deadline = Date.now() + 5000;
      while (!agentErrors.some((e) => e.includes(what))) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    };

    it("the three servers route to each other with the route password; a route without it is refused", async () => {
      expect(collector.info?.cluster).toBe("vigil");
      const info = await jetstreamManager(collector).then((m) => m.streams.info(stream.stream));
      expect(info.cluster?.replicas?.length).toBe(2); // the leader and two replicas
      for (const pass of ["wrong-password-0123", undefined]) {
        const reply = await rawRoute(clusterPorts[0] ?? 0, pass);
        expect(reply, `route with ${pass ?? "no"} password`).toMatch(/Authorization Violation/);
      }
    });

    it("refuses clients without credentials or with a wrong password", async () => {
      const servers = [`nats://127.0.0.1:${clientPorts[1]}`];
      await expect(connect({ servers, reconnect: false })).rejects.toThrow(/Authorization/i);
      await expect(connect({ servers, reconnect: false, user: "agent", pass: "not-the-password-0123" })).rejects.toThrow(/Authorization/i);
    });

    it("an agent publishes an alert and a capture chunk, JetStream acknowledges them, a resend is a duplicate, the collectors fetch them", async () => {
      const js = jetstream(agentNc);
      const alert = subjects.alerts(colCfg.collector.nats.cluster, "ip-10-0-1-2.ec2.internal");
      const a1 = await js.publish(alert, "alert-1", { msgID: "alert-1" });
      expect(a1.stream).toBe(stream.stream);
      expect(a1.duplicate).toBe(false);
      expect((await js.publish(alert, "alert-1", { msgID: "alert-1" })).duplicate).toBe(true);
      const chunk = new Uint8Array(256 * 1024).fill(7);
      await js.publish(subjects.captures(colCfg.collector.nats.cluster, "ip-10-0-1-2.ec2.internal"), chunk, { msgID: "alert-1/0" });
      const got: string[] = [];
      const c = await jetstream(collector).consumers.get(stream.stream, stream.consumer);
      for await (const m of await c.fetch({ max_messages: 2, expires: 5000 })) {
        got.push(m.headers?.get("Nats-Msg-Id") ?? "");
        await m.ackAck();
      }
      expect(got).toEqual(["alert-1", "alert-1/0"]);
    });

    it("an agent cannot read the stream: no subscription to its subjects, no JetStream API, nothing through the collectors' inboxes", async () => {
      // the collectors fetch while the agent listens on every inbox subject it is allowed
      const seen: string[] = [];
      const snoop = agentNc.subscribe("_INBOX.>", { callback: (_e, m) => seen.push(m.string()) });
      await agentNc.flush();
      await jetstream(agentNc).publish(subjects.alerts("c", "n"), "secret-alert-body", { msgID: "alert-2" });
      const c = await jetstream(collector).consumers.get(stream.stream, stream.consumer);
      const fetched: string[] = [];
      for await (const m of await c.fetch({ max_messages: 1, expires: 5000 })) {
        fetched.push(m.string());
        await m.ackAck();
      }
      expect(fetched).toEqual(["secret-alert-body"]);
      await new Promise((r) => setTimeout(r, 200));
      snoop.unsubscribe();
      expect(seen.filter((s) => s.includes("secret-alert-body"))).toEqual([]);

      for (const s of [subjects.alertsAll, subjects.capturesAll, subjects.stored, ">"]) {
        agentNc.subscribe(s, { callback: () => undefined });
        await agentNc.flush();
        expect(await violation(`Subscription to "${s}"`), s).toBe(true);
      }
      for (const api of [
        `$JS.API.STREAM.INFO.${stream.stream}`,
        `$JS.API.CONSUMER.INFO.${stream.stream}.${stream.consumer}`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream.stream}.${stream.consumer}`,
        `$JS.API.CONSUMER.CREATE.${stream.stream}`,
        `$JS.API.DIRECT.GET.${stream.stream}`,
        `$JS.API.STREAM.MSG.GET.${stream.stream}`,
      ]) {
        await expect(agentNc.request(api, "{}", { timeout: 2000 }), api).rejects.toThrow(/Permissions Violation/);
      }
      // nor announce stored batches to the collectors' tails
      agentNc.publish(subjects.stored, "");
      expect(await violation(`Publish to "${subjects.stored}"`)).toBe(true);
    });

    it("a collector runs the stream (update, announce stored batches) but cannot delete or purge it", async () => {
      const jsm = await jetstreamManager(collector);
      const info = await jsm.streams.info(stream.stream);
      expect(info.config.max_age).toBe(nanos(stream.max_age_seconds * 1000));
      await jsm.streams.update(stream.stream, { max_age: nanos(3600 * 1000) });
      expect((await jsm.streams.info(stream.stream)).config.max_age).toBe(nanos(3600 * 1000));
      const got = new Promise<boolean>((resolve) => {
        collector.subscribe(subjects.stored, { max: 1, callback: () => resolve(true) });
      });
      await collector.flush();
      collector.publish(subjects.stored, "");
      expect(await got).toBe(true);
      // an alert waiting in the stream
      await jetstream(agentNc).publish(subjects.alerts("c", "n"), "waiting", { msgID: "alert-3" });
      for (const api of [`$JS.API.STREAM.DELETE.${stream.stream}`, `$JS.API.STREAM.PURGE.${stream.stream}`]) {
        await expect(collector.request(api, "{}", { timeout: 2000 }), api).rejects.toThrow(/Permissions Violation/);
      }
      // only that one: what the tests before acked is gone (a work queue), once the stream's leader knows
      await waitFor("one message in the stream", async () => (await jsm.streams.info(stream.stream)).state.messages === 1, 5000, 50);
      // taken off the queue: it is no alert the next test's collector could store
      const c = await jetstream(collector).consumers.get(stream.stream, stream.consumer);
      for await (const m of await c.fetch({ max_messages: 1, expires: 5000 })) await m.ackAck();
      // the stream's leader removes it once it learns of the ack: a moment later in a cluster
      await waitFor("the acked message removed", async () => (await jsm.streams.info(stream.stream)).state.messages === 0, 5000, 50);
    });

    it("the real agent sink and `vigil collector` work within these rights: an alert reaches PostgreSQL and the query API", async () => {
      const pgPassword = "pg-pw-0123456789abcdef";
      const pg = await startPostgres({ password: pgPassword });
      let proc: CollectorProc | undefined;
      let sink: CollectorSink | undefined;
      try {
        writeFileSync(join(tmp, "pg-password"), `${pgPassword}\n`);
        // collector.yaml as shipped, its password files moved here
        let yaml = collectorYaml;
        for (const [from, to] of [
          [colCfg.collector.nats.password_file, join(secretsDir(), "collector-password")],
          [colCfg.collector.store.password_file, join(tmp, "pg-password")],
        ] as const) {
          expect(yaml.split(from).length - 1, from).toBe(1);
          yaml = yaml.replace(from, to);
        }
        const servers = clientPorts.map((c) => `nats://127.0.0.1:${c}`);
        proc = await startCollectorProc({ name: "c0", natsUrls: servers, pgUrl: pg.url, config: writeCollectorConfig(tmp, "collector", yaml) });
        // the agent's collector sink as the ConfigMap configures it
        const nats = natsConnectionSchema.parse({ ...(agentNats as object), password_file: join(secretsDir(), "agent-password") });
        sink = createCollectorSink({ address: servers.join(","), nats, spoolDir: join(tmp, "spool"), hostname: "ip-10-0-1-2.ec2.internal", logger: quiet() });
        const a = makeAlert({ tags: ["fleet-deploy"] });
        expect((await sink.export([a])).ok).toBe(true);
        const address = proc.address;
        await waitFor("the alert stored", async () => (await storedIds(address, "fleet-deploy")).includes(a.id), 20_000);
        expect(sink.stats()["backlog"]).toBe(0);
        // and acknowledged it, and everything before it (a work queue: the stream is empty then)
        const jsm = await jetstreamManager(collector);
        await waitFor(
          "the collector's acknowledgements",
          async () => {
            const ci = await jsm.consumers.info(stream.stream, stream.consumer);
            return ci.num_ack_pending === 0 && ci.num_pending === 0 && (await jsm.streams.info(stream.stream)).state.messages === 0;
          },
          20_000,
        );
      } finally {
        await sink?.shutdown();
        await proc?.stop();
        await pg.stop();
      }
    }, 60_000);
  });
});

/** GET http://127.0.0.1:port/path → status (0 when the connection failed). */
function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpGet({ host: "127.0.0.1", port, path, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

/** Connects to a cluster port as a route would (CONNECT with the route user) and returns what the server says. */
function rawRoute(port: number, pass: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    let sent = false;
    const s = tcpConnect(port, "127.0.0.1");
    const done = () => {
      s.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, 5000);
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      text += d;
      if (!sent && text.includes("\r\n")) {
        sent = true;
        const connect = {
          echo: true,
          verbose: false,
          pedantic: false,
          tls_required: false,
          name: "intruder",
          cluster: "vigil",
          ...(pass ? { user: "route", pass } : {}),
        };
        s.write(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
      }
      if (/-ERR/.test(text)) {
        clearTimeout(timer);
        done();
      }
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.on("error", () => undefined);
  });
}
