// SPDX-License-Identifier: Apache-2.0
/**
 * daemonset.yaml: every document parses, validates against the Kubernetes API schemas
 * (kubernetes-models), and the agent keeps its least-privilege shape.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PriorityClass } from "kubernetes-models/scheduling.k8s.io/v1/PriorityClass";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { loadConfig } from "../../agent/config/index.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";

interface Validatable {
  validate(): void;
}
type Ctor = new (data: never) => Validatable;

const MODELS: Record<string, Ctor> = {
  "v1/Namespace": Namespace as unknown as Ctor,
  "v1/ServiceAccount": ServiceAccount as unknown as Ctor,
  "v1/ConfigMap": ConfigMap as unknown as Ctor,
  "v1/Service": Service as unknown as Ctor,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim as unknown as Ctor,
  "apps/v1/DaemonSet": DaemonSet as unknown as Ctor,
  "apps/v1/Deployment": Deployment as unknown as Ctor,
  "scheduling.k8s.io/v1/PriorityClass": PriorityClass as unknown as Ctor,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as Ctor,
  "rbac.authorization.k8s.io/v1/Role": Role as unknown as Ctor,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding as unknown as Ctor,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole as unknown as Ctor,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding as unknown as Ctor,
};

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

const text = readFileSync(join(REPO_ROOT, "daemonset.yaml"), "utf8");
const parsed = parseAllDocuments(text);
const docs: Doc[] = [];
for (const d of Array.isArray(parsed) ? parsed : [parsed]) {
  if (d.errors.length > 0) throw new Error(`daemonset.yaml: ${d.errors.map((e) => e.message).join("; ")}`);
  const v = d.toJS() as Doc | null;
  if (v !== null) docs.push(v);
}

function find<T>(kind: string, name: string): T {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`no ${kind}/${name}`);
  return d as unknown as T;
}

const ds = find<{ spec: { template: { spec: IPodSpec }; updateStrategy: { type: string } } }>("DaemonSet", "vigil-agent");
const pod = ds.spec.template.spec;
const agent = pod.containers.find((c) => c.name === "agent") as IContainer;

describe("daemonset.yaml documents", () => {
  it("holds the expected objects", () => {
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        "Namespace/vigil",
        "PriorityClass/vigil-node-critical",
        "ServiceAccount/vigil-agent",
        "ConfigMap/vigil-config",
        "DaemonSet/vigil-agent",
        "Service/vigil-collector",
        "Deployment/vigil-collector",
      ]),
    );
  });

  it.each(docs.map((d) => [`${d.kind}/${d.metadata.name}`, d] as const))("%s validates against the API schema", (_n, d) => {
    const key = `${d.apiVersion}/${d.kind}`;
    const Model = MODELS[key];
    expect(Model, `no model for ${key}`).toBeDefined();
    expect(() => new (Model as Ctor)(d as never).validate()).not.toThrow();
  });

  it("namespaced objects live in vigil", () => {
    for (const d of docs) {
      if (["Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding"].includes(d.kind)) continue;
      expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe("vigil");
    }
  });

  it("the validator itself rejects a broken object (guards against a no-op validation)", () => {
    const broken = structuredClone(find<Doc>("DaemonSet", "vigil-agent")) as unknown as {
      spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } };
    };
    const c0 = broken.spec.template.spec.containers[0];
    if (c0?.ports?.[0]) c0.ports[0].containerPort = "not-a-number";
    expect(() => new DaemonSet(broken as never).validate()).toThrow(/containerPort/);
  });

  it("the ConfigMap's config.yaml is a valid agent configuration", () => {
    const cm = find<{ data: Record<string, string> }>("ConfigMap", "vigil-config");
    expect(cm.data["config.yaml"]).toBeDefined();
    expect(cm.data["local_rules.yaml"]).toBeDefined();
    const cfg = loadConfig({ text: cm.data["config.yaml"] ?? "", env: {} });
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
    const items = pod.volumes?.find((v) => v.name === "config")?.configMap?.items ?? [];
    const served = items.map((i) => `${cmMount?.mountPath}/${i.path}`);
    expect(cmMount?.subPath).toBeUndefined(); // subPath mounts never see ConfigMap updates
    expect(served).toContain(agent.env?.find((e) => e.name === "VIGIL_CONFIG")?.value);
    for (const f of cfg.rules.files) expect(served).toContain(f);
    expect(cfg.sinks.collector.address).toBe("vigil-collector.vigil.svc:9377");
    // the spool's byte limit fits in the volume's size limit
    const spoolVol = pod.volumes?.find((v) => v.name === "spool");
    expect(spoolVol?.emptyDir?.sizeLimit).toBe("512Mi");
    expect(cfg.sinks.collector.spool.max_bytes).toBeLessThan(512 * 1024 * 1024);
  });
});

describe("agent least privilege", () => {
  const sc = agent.securityContext ?? {};

  it("is not privileged and cannot escalate", () => {
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
  });

  it("drops every capability and adds exactly the ones it needs, each with a reason", () => {
    expect(sc.capabilities?.drop).toEqual(["ALL"]);
    const added = [...(sc.capabilities?.add ?? [])].sort();
    expect(added).toEqual(["BPF", "DAC_READ_SEARCH", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE"]);
    expect(added).not.toContain("SYS_ADMIN");
    // every added capability has a comment line right above it
    const lines = text.split("\n");
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

  it("has a size-limited spool", () => {
    const m = agent.volumeMounts?.find((x) => x.mountPath === "/var/spool/vigil");
    const v = pod.volumes?.find((x) => x.name === m?.name);
    expect(v?.emptyDir?.sizeLimit ?? v?.hostPath).toBeTruthy();
    expect(v?.emptyDir?.sizeLimit).toMatch(/^\d+(Mi|Gi)$/);
  });

  it("gets NODE_NAME from the downward API", () => {
    const env = agent.env?.find((e) => e.name === "NODE_NAME");
    expect(env?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
  });

  it("runs node with the young generation capped, as scripts/run-agent.sh does (16 MiB less RSS)", () => {
    const env = agent.env?.find((e) => e.name === "NODE_OPTIONS");
    expect(env?.value).toBe("--max-semi-space-size=8");
    expect(readFileSync(join(REPO_ROOT, "scripts", "run-agent.sh"), "utf8")).toMatch(/exec node --max-semi-space-size=8 dist\/agent\/cli\/main\.js agent/);
  });

  it("has requests and limits", () => {
    for (const k of ["cpu", "memory"]) {
      expect(agent.resources?.requests?.[k], `requests.${k}`).toBeDefined();
      expect(agent.resources?.limits?.[k], `limits.${k}`).toBeDefined();
    }
  });

  it("probes /healthz and /readyz on the metrics port", () => {
    const port = agent.ports?.find((p) => p.name === "metrics");
    expect(port?.containerPort).toBe(9376);
    expect(agent.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(agent.readinessProbe?.httpGet?.path).toBe("/readyz");
    for (const p of [agent.livenessProbe?.httpGet?.port, agent.readinessProbe?.httpGet?.port]) expect([9376, "metrics"]).toContain(p);
  });

  it("tolerates every taint, rolls, and has a priority class that exists", () => {
    expect(pod.tolerations).toContainEqual({ operator: "Exists" });
    expect(ds.spec.updateStrategy.type).toBe("RollingUpdate");
    expect(pod.priorityClassName).toBe("vigil-node-critical");
    find("PriorityClass", "vigil-node-critical");
  });

  it("has no Kubernetes API access: no token, nothing bound", () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    const sa = find<{ automountServiceAccountToken?: boolean }>("ServiceAccount", pod.serviceAccountName ?? "");
    expect(sa.automountServiceAccountToken).toBe(false);
    const bindings = docs.filter((d) => d.kind === "RoleBinding" || d.kind === "ClusterRoleBinding") as unknown as {
      subjects?: { name: string }[];
    }[];
    for (const b of bindings) expect((b.subjects ?? []).map((s) => s.name)).not.toContain("vigil-agent");
    // and no wildcard rule anywhere
    for (const r of docs.filter((d) => d.kind === "Role" || d.kind === "ClusterRole") as unknown as {
      rules?: { verbs: string[]; resources?: string[] }[];
    }[])
      for (const rule of r.rules ?? []) {
        expect(rule.verbs).not.toContain("*");
        expect(rule.resources ?? []).not.toContain("*");
      }
  });
});

describe("collector", () => {
  const dep = find<{ spec: { template: { spec: IPodSpec } } }>("Deployment", "vigil-collector");
  const cpod = dep.spec.template.spec;
  const svc = find<{ spec: { selector: Record<string, string>; ports: { port: number }[] } }>("Service", "vigil-collector");

  it("the Service selects the Deployment's pods", () => {
    const labels = (dep.spec.template as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    expect(svc.spec.ports.map((p) => p.port)).toContain(9377);
  });

  it("takes alert pushes only from the agents", () => {
    const np = find<{
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: { from: { podSelector: { matchLabels?: Record<string, string> } }[]; ports: { port: number }[] }[];
      };
    }>("NetworkPolicy", "vigil-collector");
    const labels = (dep.spec.template as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels;
    for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) expect(labels[k]).toBe(v);
    const ingest = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 9377));
    expect(ingest?.from).toEqual([{ podSelector: { matchLabels: { "app.kubernetes.io/name": "vigil-agent" } } }]);
    const agentLabels = (ds.spec.template as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels;
    expect(agentLabels["app.kubernetes.io/name"]).toBe("vigil-agent");
  });

  it("its args start the real `vigil collector` (paths and address moved to temporary ones)", async () => {
    const c = cpod.containers[0] as IContainer;
    const tmp = mkdtempSync(join(tmpdir(), "vigil-deploy-collector-"));
    const tokenFile = join(tmp, "token");
    writeFileSync(tokenFile, "deploy-test-token-0123456789\n");
    const swap: Record<string, string> = {
      "/var/lib/vigil-collector": join(tmp, "data"),
      "/var/run/secrets/vigil/token": tokenFile,
      "0.0.0.0:9377": "127.0.0.1:0",
    };
    const args = (c.args ?? []).map((a) => swap[a] ?? a);
    expect(args[0]).toBe("collector");
    expect(args).toContain(tokenFile);
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const ready = await new Promise<boolean>((resolve) => {
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes("vigil collector ready")) resolve(true);
      });
      child.on("exit", () => resolve(false));
    });
    child.kill("SIGTERM");
    rmSync(tmp, { recursive: true, force: true });
    expect(ready, err).toBe(true);
    expect(err).toContain('"auth":true');
  }, 30_000);

  it("runs unprivileged, as non-root, with no capabilities", () => {
    const c = cpod.containers[0] as IContainer;
    expect(cpod.securityContext?.runAsNonRoot).toBe(true);
    expect(c.securityContext?.capabilities?.drop).toEqual(["ALL"]);
    expect(c.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(cpod.hostPID).not.toBe(true);
    expect((cpod.volumes ?? []).some((v) => v.hostPath)).toBe(false);
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
    expect(agent.securityContext?.readOnlyRootFilesystem).toBe(true);
  });
});
