// SPDX-License-Identifier: Apache-2.0
/**
 * daemonset.yaml, the rendered default (deploy/overlays/eks): it is the overlay rendered, every
 * document validates against the Kubernetes API schemas, the agent keeps its least-privilege shape,
 * the collector starts from the manifest's own args over TLS and answers the kubelet's probe, and
 * an agent configured as the ConfigMap says pushes to it and `vigil tail` follows it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { loadConfig } from "../../agent/config/index.js";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { makeAlert } from "../collector/helpers.js";
import { K8sApiContext } from "../../agent/enrich/k8s-api/index.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { FakeKubeApi } from "../helpers/fake-kube-api.js";
import * as k8s from "../helpers/k8s-objects.js";
import { bytes, find, IMAGE, parseDocs, RENDER, renderText, validate } from "./manifests.js";

const text = readFileSync(join(REPO_ROOT, "daemonset.yaml"), "utf8");
const docs = parseDocs(text, "daemonset.yaml");
const agentSource = readFileSync(join(REPO_ROOT, "deploy", "base", "agent.yaml"), "utf8");

type PodTemplate = { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: IPodSpec };
const ds = find<{ spec: { template: PodTemplate; updateStrategy: { type: string } } }>(docs, "DaemonSet", "vigil-agent");
const pod = ds.spec.template.spec;
const agent = pod.containers.find((c) => c.name === "agent") as IContainer;
const dep = find<{ spec: { replicas: number; strategy: { type: string }; template: PodTemplate } }>(docs, "Deployment", "vigil-collector");
const cpod = dep.spec.template.spec;
const collector = cpod.containers[0] as IContainer;
const cm = find<{ data: Record<string, string> }>(docs, "ConfigMap", "vigil-config");
const cfg = loadConfig({ text: cm.data["config.yaml"] ?? "", env: {} });

/** The file a container sees at `path`, as [volume, key in it] (Secret and ConfigMap volumes). */
function servedBy(c: IContainer, spec: IPodSpec, path: string): { volume: string; key: string } | undefined {
  for (const mnt of c.volumeMounts ?? []) {
    if (!path.startsWith(`${mnt.mountPath}/`)) continue;
    const rel = path.slice(mnt.mountPath.length + 1);
    const vol = spec.volumes?.find((v) => v.name === mnt.name);
    const src = vol?.secret ?? vol?.configMap;
    if (!src) continue;
    const item = src.items?.find((i) => i.path === rel);
    if (src.items && !item) continue;
    return { volume: vol?.secret?.secretName ?? vol?.configMap?.name ?? "", key: item?.key ?? rel };
  }
  return undefined;
}

/** What the agent asked of the API server, as `group/resource:verb`. */
function asked(requests: readonly { path: string; query: Record<string, string> }[]): Set<string> {
  return new Set(
    requests.map((r) => {
      const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)\/(?:namespaces\/[^/]+\/)?([a-z]+)(\/[^/]+)?$/.exec(r.path);
      if (m === null) throw new Error(`unexpected request ${r.path}`);
      const verb = m[3] !== undefined ? "get" : r.query["watch"] === "true" ? "watch" : "list";
      return `${m[1] ?? ""}/${m[2]}:${verb}`;
    }),
  );
}

/** A granted `group/resource:verb` is used when asked, or is a get on what the agent lists (a fetch by name). */
function usedBy(used: ReadonlySet<string>, g: string): boolean {
  const [res, verb] = g.split(":") as [string, string];
  return used.has(g) || (verb === "get" && used.has(`${res}:list`));
}

describe("daemonset.yaml", () => {
  it("is deploy/overlays/eks rendered (scripts/render-manifests.mjs --check)", () => {
    let err = "";
    try {
      execFileSync(process.execPath, [RENDER, "--check"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      err = String((e as { stderr?: string }).stderr ?? e);
    }
    expect(err).toBe("");
    expect(text.endsWith(renderText("deploy/overlays/eks"))).toBe(true);
  });

  it("holds the expected objects, and nothing cluster-wide but the namespace, the storage class and the agent's read-only ClusterRole", () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      "ClusterRole/vigil-agent",
      "ClusterRoleBinding/vigil-agent",
      "ConfigMap/vigil-config",
      "DaemonSet/vigil-agent",
      "Deployment/vigil-collector",
      "Namespace/vigil",
      "NetworkPolicy/vigil-collector",
      "PersistentVolumeClaim/vigil-collector-data",
      "PodDisruptionBudget/vigil-collector",
      "Service/vigil-collector",
      "ServiceAccount/vigil-agent",
      "ServiceAccount/vigil-collector",
      "StorageClass/vigil-gp3",
    ]);
    for (const d of docs)
      if (!["Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding"].includes(d.kind))
        expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe("vigil");
  });

  it.each(docs.map((d) => [`${d.kind}/${d.metadata.name}`, d] as const))("%s validates against the API schema", (_n, d) => {
    expect(() => validate(d)).not.toThrow();
  });

  it("the validator itself rejects a broken object (guards against a no-op validation)", () => {
    const broken = structuredClone(ds) as unknown as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    const c0 = broken.spec.template.spec.containers[0];
    if (c0?.ports?.[0]) c0.ports[0].containerPort = "not-a-number";
    expect(() => new DaemonSet(broken as never).validate()).toThrow(/containerPort/);
  });

  it("runs the release's image everywhere (ghcr.io/vigil-security/vigil:<package.json version>)", () => {
    expect(agent.image).toBe(IMAGE);
    expect(collector.image).toBe(IMAGE);
  });

  it("the ConfigMap's config.yaml is a valid agent configuration whose paths the DaemonSet serves", () => {
    expect(cm.data["local_rules.yaml"]).toBeDefined();
    expect(cfg.metrics.port).toBe(9376);
    // the config's host paths are where the DaemonSet mounts the host
    const mountAt = (hostPath: string) => agent.volumeMounts?.find((m) => m.name === pod.volumes?.find((v) => v.hostPath?.path === hostPath)?.name)?.mountPath;
    expect(cfg.host.root).toBe(mountAt("/"));
    expect(cfg.host.proc).toBe(mountAt("/proc"));
    expect(cfg.host.cgroup).toBe(mountAt("/sys/fs/cgroup"));
    expect(cfg.containerd.socket).toBe(mountAt("/run/containerd/containerd.sock"));
    expect(cfg.sinks.collector.spool.dir).toBe(agent.volumeMounts?.find((m) => m.name === "spool")?.mountPath);
    // the config file and every rules file it names come from the ConfigMap volume
    const cmMount = agent.volumeMounts?.find((m) => m.name === "config");
    expect(cmMount?.subPath).toBeUndefined(); // subPath mounts never see ConfigMap updates
    const configPath = agent.env?.find((e) => e.name === "VIGIL_CONFIG")?.value ?? "";
    expect(servedBy(agent, pod, configPath)).toEqual({ volume: "vigil-config", key: "config.yaml" });
    for (const f of cfg.rules.files) expect(servedBy(agent, pod, f)?.volume, f).toBe("vigil-config");
    // the spool's byte limit fits in the volume's size limit
    const spoolVol = pod.volumes?.find((v) => v.name === "spool");
    expect(cfg.sinks.collector.spool.max_bytes).toBeLessThan(bytes(String(spoolVol?.emptyDir?.sizeLimit ?? "0")));
  });

  it("the agent pushes to the collector's Service over TLS, verified with the collector's CA, with the shared token", () => {
    const svc = find<{ metadata: { name: string; namespace: string }; spec: { ports: { port: number }[] } }>(docs, "Service", "vigil-collector");
    expect(cfg.sinks.collector.enabled).toBe(true);
    expect(cfg.sinks.collector.address).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc:${svc.spec.ports[0]?.port}`);
    expect(cfg.sinks.collector.tls).toBe(true);
    // the CA is the ca.crt of the collector's own TLS Secret, and only that key reaches the agent
    expect(servedBy(agent, pod, cfg.sinks.collector.ca_file)).toEqual({ volume: "vigil-collector-tls", key: "ca.crt" });
    const caVol = pod.volumes?.find((v) => v.secret?.secretName === "vigil-collector-tls");
    expect(caVol?.secret?.items?.map((i) => i.key)).toEqual(["ca.crt"]);
    const tokenFile = agent.env?.find((e) => e.name === "VIGIL_SINKS_COLLECTOR_TOKEN_FILE")?.value ?? "";
    expect(tokenFile).toBe(cfg.sinks.collector.token_file);
    expect(servedBy(agent, pod, tokenFile)).toEqual({ volume: "vigil-collector-token", key: "token" });
  });
});

describe("agent least privilege", () => {
  const sc = agent.securityContext ?? {};

  it("is not privileged and cannot escalate", () => {
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
  });

  it("drops every capability and adds exactly the ones it needs, each with a reason in deploy/base/agent.yaml", () => {
    expect(sc.capabilities?.drop).toEqual(["ALL"]);
    const added = [...(sc.capabilities?.add ?? [])].sort();
    expect(added).toEqual(["BPF", "DAC_READ_SEARCH", "PERFMON", "SYS_PTRACE"]);
    expect(added).not.toContain("SYS_ADMIN");
    // kustomize drops comments: the reasons live in the source, a comment line right above each
    const lines = agentSource.split("\n");
    for (const cap of added) {
      const i = lines.findIndex((l) => l.trim() === `- ${cap}`);
      expect(i, cap).toBeGreaterThan(0);
      expect(lines[i - 1]?.trim().startsWith("#"), `comment above ${cap}`).toBe(true);
    }
  });

  it("uses hostPID but not the host's network or IPC", () => {
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).not.toBe(true);
    expect(pod.hostIPC).not.toBe(true);
  });

  const expectedHostMounts: [string, string][] = [
    ["/proc", "/host/proc"],
    ["/sys/kernel/btf", "/sys/kernel/btf"],
    ["/run/containerd/containerd.sock", "/run/containerd/containerd.sock"],
    ["/", "/host"],
  ];
  it.each(expectedHostMounts)("mounts host %s read-only at %s", (hostPath, mountPath) => {
    const vol = pod.volumes?.find((v) => v.hostPath?.path === hostPath);
    expect(vol, hostPath).toBeDefined();
    const m = agent.volumeMounts?.find((x) => x.name === vol?.name);
    expect(m?.mountPath).toBe(mountPath);
    expect(m?.readOnly).toBe(true);
  });

  it("mounts every hostPath read-only", () => {
    const hostVols = new Set((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name));
    for (const m of agent.volumeMounts ?? []) if (hostVols.has(m.name)) expect(m.readOnly, m.name).toBe(true);
  });

  it("gets NODE_NAME from the downward API", () => {
    const env = agent.env?.find((e) => e.name === "NODE_NAME");
    expect(env?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
  });

  it("runs node with the young generation capped, as scripts/run-agent.sh does (28 MiB less RSS)", () => {
    const env = agent.env?.find((e) => e.name === "NODE_OPTIONS");
    expect(env?.value).toBe("--max-semi-space-size=2");
    expect(agent.env?.find((e) => e.name === "MALLOC_ARENA_MAX")?.value).toBe("2");
    expect(readFileSync(join(REPO_ROOT, "scripts", "run-agent.sh"), "utf8")).toMatch(/exec node --max-semi-space-size=2 dist\/agent\/cli\/main\.js agent/);
    expect(readFileSync(join(REPO_ROOT, "scripts", "run-agent.sh"), "utf8")).toMatch(/^export MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-2\}$/m);
  });

  it("has requests and limits; the ephemeral-storage limit holds its disk volumes, the memory limit its RAM volume", () => {
    for (const k of ["cpu", "memory", "ephemeral-storage"]) {
      expect(agent.resources?.requests?.[k], `requests.${k}`).toBeDefined();
      expect(agent.resources?.limits?.[k], `limits.${k}`).toBeDefined();
    }
    // the kubelet evicts the pod when its emptyDirs + logs pass the sum of its containers' limits
    const disk = (pod.volumes ?? []).filter((v) => v.emptyDir && v.emptyDir.medium !== "Memory").map((v) => bytes(String(v.emptyDir?.sizeLimit)));
    const ram = (pod.volumes ?? []).filter((v) => v.emptyDir?.medium === "Memory").map((v) => bytes(String(v.emptyDir?.sizeLimit)));
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    expect(sum(disk)).toBeGreaterThan(0);
    expect(bytes(String(agent.resources?.limits?.["ephemeral-storage"]))).toBeGreaterThan(sum(disk));
    expect(bytes(String(agent.resources?.limits?.["memory"]))).toBeGreaterThan(sum(ram) + 512 * 2 ** 20);
    // the sizing comment cites the measurements
    expect(agentSource).toMatch(/101\.5 MiB idle/);
    expect(agentSource).toMatch(/1\.06 MiB/);
  });

  it("probes /healthz and /readyz on the metrics port", () => {
    const port = agent.ports?.find((p) => p.name === "metrics");
    expect(port?.containerPort).toBe(9376);
    expect(agent.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(agent.readinessProbe?.httpGet?.path).toBe("/readyz");
    for (const p of [agent.livenessProbe?.httpGet?.port, agent.readinessProbe?.httpGet?.port]) expect([9376, "metrics"]).toContain(p);
  });

  it("runs on every Linux node whatever its taints, never on Fargate, at system-node-critical", () => {
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    // an empty key with Exists (and no effect) tolerates every taint
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    const terms = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    expect(terms).toHaveLength(1);
    expect(terms[0]?.matchExpressions).toContainEqual({ key: "eks.amazonaws.com/compute-type", operator: "NotIn", values: ["fargate"] });
    expect(terms[0]?.matchExpressions).toContainEqual({ key: "kubernetes.io/arch", operator: "In", values: ["amd64", "arm64"] });
    expect(ds.spec.updateStrategy.type).toBe("RollingUpdate");
    expect(pod.priorityClassName).toBe("system-node-critical");
    expect(docs.some((d) => d.kind === "PriorityClass")).toBe(false);
  });

  it("Kubernetes API access: none for the collector; for the agent a token and one read-only ClusterRole", () => {
    expect(cpod.automountServiceAccountToken).toBe(false);
    expect(find<{ automountServiceAccountToken?: boolean }>(docs, "ServiceAccount", cpod.serviceAccountName ?? "").automountServiceAccountToken).toBe(false);
    // only the agent's pod mounts the token: the account does not hand it to any other pod
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(find<{ automountServiceAccountToken?: boolean }>(docs, "ServiceAccount", "vigil-agent").automountServiceAccountToken).toBe(false);
    expect(docs.filter((d) => /Role/.test(d.kind)).map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      "ClusterRole/vigil-agent",
      "ClusterRoleBinding/vigil-agent",
    ]);
    const binding = find<{ roleRef: unknown; subjects: unknown[] }>(docs, "ClusterRoleBinding", "vigil-agent");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "vigil-agent" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "vigil-agent", namespace: "vigil" }]);
    // the node's name, whose pods it watches, from the downward API; the context is on in a cluster
    expect(agent.env?.find((e) => e.name === "NODE_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
    expect(cfg.kubernetes.enabled).toBe("auto");
  });

  it("the agent's ClusterRole grants exactly what its Kubernetes API context asks for, read-only", async () => {
    const role = find<{ rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }>(docs, "ClusterRole", "vigil-agent");
    const granted = new Set(role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))));
    // a real context against the test API server, with the cap low enough that an owner is fetched by name
    const api = await FakeKubeApi.start({ token: "rbac-test" });
    const rs = api.apply(k8s.replicaSet(k8s.deployment("a", "d"), "h1"));
    api.apply(k8s.replicaSet(k8s.deployment("a", "d2"), "h2"));
    for (let i = 0; i < 20; i++) api.apply(k8s.replicaSet(k8s.deployment("b", `f${i}`), `x${i}`));
    api.apply(k8s.node("node-1"));
    const kdir = mkdtempSync(join(tmpdir(), "vigil-deploy-rbac-"));
    const kc = join(kdir, "kubeconfig");
    writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: rbac-test}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const ctx = new K8sApiContext({ nodeName: "node-1", logger: captureLogger().logger, access: { kubeconfig: kc }, limits: { owners: 16 } });
    try {
      ctx.start();
      expect(await ctx.whenSynced(10_000)).toBe(true);
      const late = api.apply(k8s.pod("a", "d-h1-zz", "node-1", { owner: rs }));
      const until = Date.now() + 10_000;
      while (ctx.stats()["fetches"] === 0 || ctx.store.stats().pods_known === 0 || ctx.stats()["node_reads"] === 0) {
        if (Date.now() > until) throw new Error("no owner fetch");
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ctx.store.pod(late.metadata.uid)?.known).toBe(true);
      // the reflectors start their watches one after another: give every granted use up to the same
      // deadline to show up before judging "granted but unused" (it failed about 1 run in 3 when
      // the last watch had not been opened yet)
      while (![...granted].every((g) => usedBy(asked(api.requests), g)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await ctx.stop();
      await api.stop();
      rmSync(kdir, { recursive: true, force: true });
    }
    const used = asked(api.requests);
    // an owner fetched by name past the cap (the Deployment this server never had)
    expect([...used].some((a) => /^(apps|batch)\/[a-z]+:get$/.test(a))).toBe(true);
    for (const a of used) expect(granted, `the agent asks for ${a}`).toContain(a);
    // nothing granted that it does not use, but get on the objects it lists and watches (a fetch by name)
    for (const g of granted) {
      const verb = g.split(":")[1] as string;
      expect(usedBy(used, g), `granted but unused: ${g}`).toBe(true);
      expect(["get", "list", "watch"]).toContain(verb);
    }
  });
});

describe("agent state", () => {
  it("the agent's state directory (default --data, FIM baseline) is a writable volume under a read-only root", () => {
    expect(agent.args).toEqual(["agent"]); // --data defaults to /var/lib/vigil
    const m = agent.volumeMounts?.find((v) => v.mountPath === "/var/lib/vigil");
    expect(m).toBeDefined();
    expect(m?.readOnly ?? false).toBe(false);
    const vol = pod.volumes?.find((v) => v.name === m?.name);
    expect(vol?.emptyDir?.sizeLimit).toBeDefined();
  });
});

describe("collector objects", () => {
  const svc = find<{ spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } }>(docs, "Service", "vigil-collector");
  const labels = dep.spec.template.metadata.labels;

  it("the Service selects the Deployment's pods, on the port the collector listens on", () => {
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    expect(svc.spec.ports.map((p) => p.port)).toEqual([9377]);
    const port = collector.ports?.find((p) => p.name === svc.spec.ports[0]?.targetPort);
    expect(port?.containerPort).toBe(9377);
    const args = collector.args ?? [];
    expect(args[args.indexOf("--listen") + 1]).toBe("0.0.0.0:9377");
  });

  it("one writer: one replica, recreated, on a claim of the gp3 class the overlay adds", () => {
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.strategy.type).toBe("Recreate");
    const claim = cpod.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    const pvc = find<{ spec: { storageClassName: string; accessModes: string[] } }>(docs, "PersistentVolumeClaim", claim ?? "");
    expect(pvc.spec.accessModes).toEqual(["ReadWriteOnce"]);
    const sc = find<{ provisioner: string; parameters: Record<string, string>; volumeBindingMode: string }>(docs, "StorageClass", pvc.spec.storageClassName);
    expect(sc.provisioner).toBe("ebs.csi.aws.com");
    expect(sc.parameters).toMatchObject({ type: "gp3", encrypted: "true" });
    expect(sc.volumeBindingMode).toBe("WaitForFirstConsumer");
  });

  it("has a disruption budget that lets a drain move its one pod", () => {
    const pdb = find<{ spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } } }>(
      docs,
      "PodDisruptionBudget",
      "vigil-collector",
    );
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeUndefined();
  });

  it("takes alert pushes only from the agents and queries only from the operators' namespace", () => {
    const np = find<{
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: { from: Record<string, unknown>[]; ports: { port: number }[] }[];
      };
    }>(docs, "NetworkPolicy", "vigil-collector");
    for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) expect(labels[k]).toBe(v);
    expect(np.spec.policyTypes).toEqual(["Ingress"]);
    expect(np.spec.ingress.map((r) => r.from)).toEqual([
      [{ podSelector: { matchLabels: { "app.kubernetes.io/name": ds.spec.template.metadata.labels["app.kubernetes.io/name"] } } }],
      [{ namespaceSelector: { matchLabels: { "vigil.dev/operators": "true" } } }],
    ]);
    for (const r of np.spec.ingress) expect(r.ports.map((p) => p.port)).toEqual([9377]);
  });

  it("runs unprivileged, as non-root, with no capabilities, at system-cluster-critical", () => {
    expect(cpod.securityContext?.runAsNonRoot).toBe(true);
    expect(collector.securityContext?.capabilities?.drop).toEqual(["ALL"]);
    expect(collector.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(collector.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(cpod.hostPID).not.toBe(true);
    expect((cpod.volumes ?? []).some((v) => v.hostPath)).toBe(false);
    expect(cpod.priorityClassName).toBe("system-cluster-critical");
    expect(cpod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
  });

  it("has requests and limits, and HTTPS probes on /healthz", () => {
    for (const k of ["cpu", "memory"]) {
      expect(collector.resources?.requests?.[k], `requests.${k}`).toBeDefined();
      expect(collector.resources?.limits?.[k], `limits.${k}`).toBeDefined();
    }
    for (const p of [collector.startupProbe, collector.livenessProbe, collector.readinessProbe]) {
      expect(p?.httpGet).toEqual({ path: "/healthz", port: "collector", scheme: "HTTPS" });
    }
  });

  it("serves TLS with the certificate and key of the vigil-collector-tls Secret, and the shared token", () => {
    const args = collector.args ?? [];
    const arg = (f: string) => args[args.indexOf(f) + 1] ?? "";
    expect(servedBy(collector, cpod, arg("--tls-cert"))).toEqual({ volume: "vigil-collector-tls", key: "tls.crt" });
    expect(servedBy(collector, cpod, arg("--tls-key"))).toEqual({ volume: "vigil-collector-tls", key: "tls.key" });
    expect(servedBy(collector, cpod, arg("--token-file"))).toEqual({ volume: "vigil-collector-token", key: "token" });
  });
});

describe("the collector as the manifest runs it (real `vigil collector`, certificates from deploy/gen-certs.sh)", () => {
  let tmp: string;
  let child: ChildProcess;
  let port = 0;
  let stderr = "";
  const token = "deploy-test-token-0123456789";
  const file = (f: string) => join(tmp, "certs", f);

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "vigil-deploy-collector-"));
    execFileSync("bash", [join(REPO_ROOT, "deploy", "gen-certs.sh"), join(tmp, "certs")], { stdio: "ignore" });
    writeFileSync(join(tmp, "token"), `${token}\n`);
    const swap: Record<string, string> = {
      "/var/lib/vigil-collector": join(tmp, "data"),
      "/var/run/secrets/vigil/token": join(tmp, "token"),
      "/var/run/secrets/vigil-collector-tls/tls.crt": file("collector.crt"),
      "/var/run/secrets/vigil-collector-tls/tls.key": file("collector.key"),
      "0.0.0.0:9377": "127.0.0.1:0",
    };
    const args = (collector.args ?? []).map((a) => swap[a] ?? a);
    // every path the manifest names was moved: nothing of the pod's filesystem is used here
    expect(args.filter((a) => a.startsWith("/var/") || a.startsWith("/etc/"))).toEqual([]);
    child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    const ready = await new Promise<boolean>((resolve) => {
      createInterface({ input: child.stderr! }).on("line", (l) => {
        stderr += `${l}\n`;
        if (l.includes("vigil collector ready")) {
          port = Number((JSON.parse(l) as { address: string }).address.split(":").pop());
          resolve(true);
        }
      });
      child.on("exit", () => resolve(false));
    });
    expect(ready, stderr).toBe(true);
  }, 30_000);

  afterAll(() => {
    child?.kill("SIGTERM");
    rmSync(tmp, { recursive: true, force: true });
  });

  it("starts with TLS and authentication on", () => {
    expect(stderr).toContain('"auth":true');
    expect(stderr).toContain('"tls":true');
  });

  it("answers the kubelet's HTTPS probe: offered h2 and http/1.1, it picks HTTP/1.1 and /healthz says 200", async () => {
    // what the kubelet's prober does: Go's transport offers h2 first, verifies nothing
    const answer = await new Promise<{ alpn: string | false; head: string }>((resolve, reject) => {
      const s = tlsConnect({ host: "127.0.0.1", port, ALPNProtocols: ["h2", "http/1.1"], rejectUnauthorized: false }, () => {
        const alpn = s.alpnProtocol ?? false;
        s.write("GET /healthz HTTP/1.1\r\nHost: 10.0.0.1:9377\r\nUser-Agent: kube-probe/1.33\r\nConnection: close\r\n\r\n");
        let head = "";
        s.on("data", (d: Buffer) => (head += d.toString()));
        s.on("end", () => resolve({ alpn, head }));
      });
      s.on("error", reject);
    });
    expect(answer.alpn).toBe("http/1.1");
    expect(answer.head).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("takes a push from an agent configured as the ConfigMap says (gRPC over TLS, the Secret's ca.crt, the token)", async () => {
    // the agent dials the Service name, which the certificate names; here the pod is on localhost
    const crt = new X509Certificate(readFileSync(file("collector.crt")));
    expect(crt.checkHost(cfg.sinks.collector.address.split(":")[0] ?? "")).toBeTruthy();
    expect(crt.checkHost("localhost")).toBeTruthy();
    const client = new CollectorClient({ address: `localhost:${port}`, token, tlsCa: readFileSync(file("ca.crt")) });
    const a = makeAlert();
    try {
      expect((await client.push([a], [])).ackedIds).toEqual([a.id]);
    } finally {
      client.close();
    }
  });

  it("is followed by `vigil tail --collector localhost:PORT --tls` with VIGIL_TOKEN, trusting the CA through NODE_EXTRA_CA_CERTS (README)", async () => {
    const tail = spawn(process.execPath, [CLI, "tail", "--collector", `localhost:${port}`, "--tls", "--output", "json"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, VIGIL_TOKEN: token, NODE_EXTRA_CA_CERTS: file("ca.crt") },
    });
    let errText = "";
    tail.stderr!.on("data", (d: Buffer) => (errText += d.toString()));
    try {
      const lines = createInterface({ input: tail.stdout! });
      const pushed = new Set<string>();
      const got = new Promise<string>((resolve) => lines.on("line", (l) => pushed.has((JSON.parse(l) as { id: string }).id) && resolve(l)));
      // a new alert every 300 ms until the tail shows one (it follows live alerts from when it connects)
      const client = new CollectorClient({ address: `localhost:${port}`, token, tlsCa: readFileSync(file("ca.crt")) });
      const timer = setInterval(() => {
        const a = makeAlert({ rule: "Deploy tail test" });
        pushed.add(a.id);
        void client.push([a], []).catch(() => undefined);
      }, 300);
      const line = await Promise.race([
        got,
        new Promise<string>((_r, rej) => setTimeout(() => rej(new Error(`no alert in vigil tail: ${errText}`)), 15_000)),
      ]).finally(() => {
        clearInterval(timer);
        client.close();
      });
      expect(JSON.parse(line)).toMatchObject({ rule: "Deploy tail test" });
    } finally {
      tail.kill("SIGTERM");
    }
  }, 30_000);
});
