// SPDX-License-Identifier: Apache-2.0
/**
 * A small kubelet for end-to-end tests: runs a pod *spec from a manifest* (a DaemonSet's or a
 * Deployment's template) on the test containerd through the CRI, translating what the kubelet
 * translates — so a test exercises the manifest as shipped, not a hand-written imitation of it:
 *
 * - pod: hostPID/hostIPC → NamespaceOption NODE; securityContext runAsUser/runAsGroup/fsGroup/
 *   seccompProfile/runAsNonRoot; the kubelet's labels (io.kubernetes.pod.*) and hostAliases
 *   (an /etc/hosts mounted into every container, as the kubelet writes one);
 * - containers and init containers (in order; an init container with `restartPolicy: Always` is a
 *   native sidecar: started, not waited for): image, command/args, env (value, fieldRef
 *   spec.nodeName / metadata.name / metadata.namespace / metadata.uid, status.podIP), mounts
 *   (readOnly, mountPropagation), securityContext (capabilities, privileged,
 *   allowPrivilegeEscalation → no_new_privs, readOnlyRootFilesystem, runAsUser/Group, seccomp),
 *   resources.limits (memory, cpu → CFS quota), the kubelet's default masked and read-only /proc
 *   paths;
 * - volumes: hostPath (type checked), configMap and secret (items, defaultMode, group fsGroup),
 *   emptyDir (sizeLimit ignored; medium Memory is a tmpfs), persistentVolumeClaim (a folder the
 *   test provides, as a provisioner would), all materialised under a temporary folder.
 *
 * Not reproduced: the pod network (pods run in the node's network namespace: no CNI here; a
 * Service name is resolved through hostAliases to the node), probes (the test polls the same
 * endpoints), restarts.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IVolume } from "kubernetes-models/v1/Volume";
import { GrpcClient } from "../../agent/enrich/grpc-client.js";
import { criProtos } from "../../agent/enrich/protos.js";

const RS = "runtime.v1.RuntimeService";

/** The kubelet's default masked /proc and /sys paths (non-privileged containers). */
const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];
/** The kubelet's default read-only /proc paths. */
const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export interface PodObject {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  spec: IPodSpec;
}

export interface KubeletOptions {
  /** The node name (spec.nodeName, downward API). */
  nodeName: string;
  /** ConfigMap data by name. */
  configMaps?: Record<string, Record<string, string>>;
  /** Secret data (decoded) by name. */
  secrets?: Record<string, Record<string, string>>;
  /** PersistentVolumeClaim name → a host folder bound to it. */
  volumes?: Record<string, string>;
  /** Extra /etc/hosts entries for every pod (what cluster DNS would answer): name → IP. */
  hosts?: Record<string, string>;
  /** Host paths as the node has them elsewhere here (e.g. the node's containerd socket → the test containerd's). */
  hostPaths?: Record<string, string>;
  /** Image references rewritten (e.g. the manifest's registry image → the locally imported one). */
  images?: Record<string, string>;
  /** Where volumes, hosts files and logs go (a temporary folder). */
  dir: string;
}

export interface RunningPod {
  id: string;
  uid: string;
  logDir: string;
  /** CRI container IDs by container name. */
  containers: Record<string, string>;
}

type Obj = Record<string, unknown>;

/** "64Mi", "1Gi", "500M", "1" → bytes. */
export function quantityBytes(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`bad quantity ${q}`);
  const mult: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * (m[2] ? (mult[m[2]] ?? 1) : 1));
}

/** "100m", "1", "2.5" → millicores. */
export function quantityMillis(q: string | number): number {
  if (typeof q === "number") return q * 1000;
  if (q.endsWith("m")) return Number(q.slice(0, -1));
  return Number(q) * 1000;
}

export class Kubelet {
  private readonly rpc: GrpcClient;
  private readonly pods: string[] = [];
  private readonly tmpfs: string[] = [];
  /** Mounts this kubelet made shared; made private again by removeAll (the machine as it was). */
  private readonly madeShared = new Set<string>();

  constructor(
    sock: string,
    private readonly opts: KubeletOptions,
  ) {
    this.rpc = new GrpcClient(sock, criProtos());
  }

  /** Runs a pod: sandbox, then init containers (waited for unless sidecars), then containers. */
  async run(pod: PodObject): Promise<RunningPod> {
    const uid = randomUUID();
    const spec = pod.spec;
    const podDir = join(this.opts.dir, `${pod.namespace}_${pod.name}_${uid}`);
    const logDir = join(podDir, "logs");
    mkdirSync(logDir, { recursive: true });
    const psc = (spec.securityContext ?? {}) as Obj;
    const fsGroup = typeof psc["fsGroup"] === "number" ? (psc["fsGroup"] as number) : undefined;
    const ns = { network: "NODE", pid: spec.hostPID ? "NODE" : "CONTAINER", ipc: spec.hostIPC ? "NODE" : "POD" };
    const labels = {
      ...pod.labels,
      "io.kubernetes.pod.name": pod.name,
      "io.kubernetes.pod.namespace": pod.namespace,
      "io.kubernetes.pod.uid": uid,
    };
    const privileged = [...(spec.initContainers ?? []), ...spec.containers].some((c) => c.securityContext?.privileged === true);
    const sandboxConfig = {
      metadata: { name: pod.name, uid, namespace: pod.namespace, attempt: 0 },
      logDirectory: logDir,
      labels,
      annotations: { ...(pod.annotations ?? {}), "kubernetes.io/config.source": "api" },
      linux: {
        securityContext: {
          privileged,
          namespaceOptions: ns,
          ...(typeof psc["runAsUser"] === "number" ? { runAsUser: { value: psc["runAsUser"] } } : {}),
          ...(typeof psc["runAsGroup"] === "number" ? { runAsGroup: { value: psc["runAsGroup"] } } : {}),
          ...(fsGroup !== undefined ? { supplementalGroups: [fsGroup] } : {}),
          seccomp: seccompOf(psc["seccompProfile"]),
        },
      },
    };
    const volumes = this.materialiseVolumes(spec.volumes ?? [], podDir, fsGroup);
    const hostsFile = join(podDir, "etc-hosts");
    const aliases = Object.entries(this.opts.hosts ?? {}).map(([name, ip]) => `${ip}\t${name}`);
    for (const ha of spec.hostAliases ?? []) aliases.push(`${ha.ip}\t${(ha.hostnames ?? []).join(" ")}`);
    writeFileSync(hostsFile, `127.0.0.1\tlocalhost\n::1\tlocalhost\n${aliases.join("\n")}\n`);
    chmodSync(hostsFile, 0o644);

    const r = await this.rpc.unary<{ podSandboxId: string }>(RS, "RunPodSandbox", { config: sandboxConfig }, { timeoutMs: 60_000 });
    this.pods.push(r.podSandboxId);
    const running: RunningPod = { id: r.podSandboxId, uid, logDir, containers: {} };
    const podFacts = { name: pod.name, namespace: pod.namespace, uid };
    for (const c of spec.initContainers ?? []) {
      const id = await this.startContainer(running, sandboxConfig, podFacts, spec, c, volumes, hostsFile, psc);
      if ((c as Obj)["restartPolicy"] === "Always") continue; // native sidecar: runs beside the others
      const code = await this.waitExit(id, 120_000);
      if (code !== 0) throw new Error(`init container ${c.name} exited ${code}: ${this.logs(running, c.name)}`);
    }
    for (const c of spec.containers) await this.startContainer(running, sandboxConfig, podFacts, spec, c, volumes, hostsFile, psc);
    return running;
  }

  /** The container's CRI log (stdout and stderr lines), for failure messages. */
  logs(pod: RunningPod, container: string): string {
    const f = join(pod.logDir, container, "0.log");
    return existsSync(f) ? readFileSync(f, "utf8") : "(no log)";
  }

  async status(id: string): Promise<{ state: string; exitCode: number; reason: string; message: string }> {
    const r = await this.rpc.unary<{ status?: { state?: string; exitCode?: number; reason?: string; message?: string } }>(RS, "ContainerStatus", {
      containerId: id,
    });
    const s = r.status ?? {};
    return { state: String(s.state ?? ""), exitCode: s.exitCode ?? 0, reason: s.reason ?? "", message: s.message ?? "" };
  }

  async waitExit(id: string, ms: number): Promise<number> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const s = await this.status(id);
      if (s.state === "CONTAINER_EXITED") return s.exitCode;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`container ${id} did not exit within ${ms} ms`);
  }

  /** Stops and removes one pod (its containers go with the sandbox), e.g. to free its host ports. */
  async remove(pod: RunningPod): Promise<void> {
    const i = this.pods.indexOf(pod.id);
    if (i >= 0) this.pods.splice(i, 1);
    await this.rpc.unary(RS, "StopPodSandbox", { podSandboxId: pod.id }, { timeoutMs: 60_000 });
    await this.rpc.unary(RS, "RemovePodSandbox", { podSandboxId: pod.id }, { timeoutMs: 60_000 });
  }

  /** Stops and removes every pod this kubelet ran. */
  async removeAll(): Promise<void> {
    for (const id of this.pods.splice(0)) {
      await this.rpc.unary(RS, "StopPodSandbox", { podSandboxId: id }, { timeoutMs: 60_000 }).catch(() => undefined);
      await this.rpc.unary(RS, "RemovePodSandbox", { podSandboxId: id }, { timeoutMs: 60_000 }).catch(() => undefined);
    }
    for (const m of this.madeShared) {
      try {
        execFileSync("mount", ["--make-private", m]);
      } catch {
        // leave it shared: harmless, as on a systemd machine
      }
    }
    this.madeShared.clear();
    for (const d of this.tmpfs.splice(0)) {
      try {
        execFileSync("umount", [d]);
      } catch {
        // already gone
      }
    }
  }

  close(): void {
    this.rpc.close();
  }

  private async startContainer(
    running: RunningPod,
    sandboxConfig: object,
    pod: { name: string; namespace: string; uid: string },
    spec: IPodSpec,
    c: IContainer,
    volumes: Map<string, { hostPath: string; readOnly: boolean }>,
    hostsFile: string,
    psc: Obj,
  ): Promise<string> {
    const sc = (c.securityContext ?? {}) as Obj;
    const caps = (sc["capabilities"] ?? {}) as { add?: string[]; drop?: string[] };
    const runAsUser = typeof sc["runAsUser"] === "number" ? sc["runAsUser"] : psc["runAsUser"];
    const runAsGroup = typeof sc["runAsGroup"] === "number" ? sc["runAsGroup"] : psc["runAsGroup"];
    const runAsNonRoot = sc["runAsNonRoot"] ?? psc["runAsNonRoot"];
    if (runAsNonRoot === true && runAsUser === 0) throw new Error(`${c.name}: runAsNonRoot with runAsUser 0 (the kubelet refuses to start it)`);
    const fsGroup = psc["fsGroup"];
    const privileged = sc["privileged"] === true;
    const env = (c.env ?? []).map((e) => ({ key: e.name, value: this.envValue(e as Obj, pod) }));
    const mounts = (c.volumeMounts ?? []).map((m) => {
      const v = volumes.get(m.name);
      if (!v) throw new Error(`${c.name}: volume ${m.name} is not declared`);
      if (m.mountPropagation === "HostToContainer" || m.mountPropagation === "Bidirectional") ensureSharedMount(v.hostPath, this.madeShared);
      const propagation =
        m.mountPropagation === "HostToContainer"
          ? "PROPAGATION_HOST_TO_CONTAINER"
          : m.mountPropagation === "Bidirectional"
            ? "PROPAGATION_BIDIRECTIONAL"
            : "PROPAGATION_PRIVATE";
      return {
        containerPath: m.mountPath,
        hostPath: m.subPath ? join(v.hostPath, m.subPath) : v.hostPath,
        readonly: m.readOnly === true || v.readOnly,
        propagation,
      };
    });
    if (!mounts.some((m) => m.containerPath === "/etc/hosts"))
      mounts.push({ containerPath: "/etc/hosts", hostPath: hostsFile, readonly: true, propagation: "PROPAGATION_PRIVATE" });
    const limits = (c.resources?.limits ?? {}) as Record<string, string | number>;
    const resources: Obj = {};
    if (limits["memory"] !== undefined) resources["memoryLimitInBytes"] = quantityBytes(limits["memory"]);
    if (limits["cpu"] !== undefined) {
      resources["cpuPeriod"] = 100_000;
      resources["cpuQuota"] = Math.round((quantityMillis(limits["cpu"]) * 100_000) / 1000);
    }
    const image = this.opts.images?.[c.image ?? ""] ?? c.image ?? "";
    const config = {
      metadata: { name: c.name, attempt: 0 },
      image: { image },
      command: c.command ?? [],
      args: c.args ?? [],
      workingDir: c.workingDir ?? "",
      envs: env,
      mounts,
      labels: {
        "io.kubernetes.container.name": c.name,
        "io.kubernetes.pod.name": pod.name,
        "io.kubernetes.pod.namespace": pod.namespace,
        "io.kubernetes.pod.uid": pod.uid,
      },
      annotations: { "io.kubernetes.container.restartCount": "0" },
      logPath: `${c.name}/0.log`,
      linux: {
        resources,
        securityContext: {
          privileged,
          capabilities: { addCapabilities: caps.add ?? [], dropCapabilities: caps.drop ?? [] },
          namespaceOptions: { network: "NODE", pid: spec.hostPID ? "NODE" : "CONTAINER", ipc: spec.hostIPC ? "NODE" : "POD" },
          ...(typeof runAsUser === "number" ? { runAsUser: { value: runAsUser } } : {}),
          ...(typeof runAsGroup === "number" ? { runAsGroup: { value: runAsGroup } } : {}),
          ...(typeof fsGroup === "number" ? { supplementalGroups: [fsGroup] } : {}),
          readonlyRootfs: sc["readOnlyRootFilesystem"] === true,
          noNewPrivs: sc["allowPrivilegeEscalation"] === false,
          maskedPaths: privileged ? [] : MASKED_PATHS,
          readonlyPaths: privileged ? [] : READONLY_PATHS,
          seccomp: seccompOf(sc["seccompProfile"] ?? psc["seccompProfile"]),
        },
      },
    };
    const r = await this.rpc.unary<{ containerId: string }>(RS, "CreateContainer", { podSandboxId: running.id, config, sandboxConfig }, { timeoutMs: 60_000 });
    running.containers[c.name] = r.containerId;
    await this.rpc.unary(RS, "StartContainer", { containerId: r.containerId }, { timeoutMs: 60_000 });
    return r.containerId;
  }

  private envValue(e: Obj, pod: { name: string; namespace: string; uid: string }): string {
    if (typeof e["value"] === "string") return e["value"];
    const from = e["valueFrom"] as Obj | undefined;
    const field = (from?.["fieldRef"] as Obj | undefined)?.["fieldPath"];
    switch (field) {
      case "spec.nodeName":
        return this.opts.nodeName;
      case "metadata.name":
        return pod.name;
      case "metadata.namespace":
        return pod.namespace;
      case "metadata.uid":
        return pod.uid;
      case "status.podIP":
      case "status.hostIP":
        return "127.0.0.1";
      case undefined:
        break;
      default:
        throw new Error(`env ${String(e["name"])}: fieldRef ${String(field)} is not supported here`);
    }
    const secretRef = from?.["secretKeyRef"] as { name: string; key: string } | undefined;
    if (secretRef) {
      const v = this.opts.secrets?.[secretRef.name]?.[secretRef.key];
      if (v === undefined) throw new Error(`env ${String(e["name"])}: no secret ${secretRef.name}/${secretRef.key}`);
      return v;
    }
    if (from === undefined) return "";
    throw new Error(`env ${String(e["name"])}: valueFrom ${JSON.stringify(from)} is not supported here`);
  }

  private materialiseVolumes(vols: IVolume[], podDir: string, fsGroup: number | undefined): Map<string, { hostPath: string; readOnly: boolean }> {
    const out = new Map<string, { hostPath: string; readOnly: boolean }>();
    for (const v of vols) {
      const dir = join(podDir, "volumes", v.name);
      if (v.hostPath) {
        const path = this.opts.hostPaths?.[v.hostPath.path] ?? v.hostPath.path;
        const st = statSync(path, { throwIfNoEntry: false });
        const type = v.hostPath.type ?? "";
        const ok =
          type === "" ||
          (type === "Directory" && st?.isDirectory()) ||
          (type === "Socket" && st?.isSocket()) ||
          (type === "File" && st?.isFile()) ||
          type === "DirectoryOrCreate" ||
          type === "FileOrCreate";
        if (!ok) throw new Error(`volume ${v.name}: hostPath ${path} is not a ${type}`);
        if (type === "DirectoryOrCreate") mkdirSync(path, { recursive: true });
        out.set(v.name, { hostPath: path, readOnly: false });
      } else if (v.configMap || v.secret) {
        const isSecret = v.secret !== undefined;
        const name = isSecret ? (v.secret?.secretName ?? "") : (v.configMap?.name ?? "");
        const data = (isSecret ? this.opts.secrets : this.opts.configMaps)?.[name];
        if (data === undefined) throw new Error(`volume ${v.name}: no ${isSecret ? "secret" : "configMap"} ${name}`);
        const items = (isSecret ? v.secret?.items : v.configMap?.items) ?? Object.keys(data).map((k) => ({ key: k, path: k }));
        const mode = (isSecret ? v.secret?.defaultMode : v.configMap?.defaultMode) ?? 0o644;
        mkdirSync(dir, { recursive: true });
        for (const it of items) {
          const value = data[it.key];
          if (value === undefined) throw new Error(`volume ${v.name}: ${name} has no key ${it.key}`);
          const f = join(dir, it.path);
          mkdirSync(join(f, ".."), { recursive: true });
          writeFileSync(f, value);
          chmodSync(f, (it as { mode?: number }).mode ?? mode);
          if (fsGroup !== undefined) chownSync(f, 0, fsGroup);
        }
        // the kubelet mounts projected volumes read-only
        out.set(v.name, { hostPath: dir, readOnly: true });
      } else if (v.emptyDir) {
        mkdirSync(dir, { recursive: true });
        if (v.emptyDir.medium === "Memory") {
          execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0777,size=64m", "tmpfs", dir]);
          this.tmpfs.push(dir);
        }
        chmodSync(dir, 0o777);
        out.set(v.name, { hostPath: dir, readOnly: false });
      } else if (v.persistentVolumeClaim) {
        const host = this.opts.volumes?.[v.persistentVolumeClaim.claimName];
        if (!host) throw new Error(`volume ${v.name}: claim ${v.persistentVolumeClaim.claimName} is not bound`);
        mkdirSync(host, { recursive: true });
        if (fsGroup !== undefined) {
          chownSync(host, 0, fsGroup);
          chmodSync(host, 0o2775);
        }
        out.set(v.name, { hostPath: host, readOnly: v.persistentVolumeClaim.readOnly === true });
      } else {
        throw new Error(`volume ${v.name}: kind ${Object.keys(v).join(",")} is not supported here`);
      }
    }
    return out;
  }
}

/**
 * A Kubernetes node's mounts are shared (systemd makes `/` shared at boot), which HostToContainer
 * propagation needs: containerd refuses it from a private mount. A test machine may boot with a
 * private root; make the mount holding `path` shared, as the node's init would have.
 */
function ensureSharedMount(path: string, changed: Set<string>): void {
  let best: { point: string; tags: string } | undefined;
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const point = f[4];
    if (point === undefined) continue;
    const under = point === "/" || path === point || path.startsWith(`${point}/`);
    if (under && (best === undefined || point.length >= best.point.length)) best = { point, tags: f.slice(6, f.indexOf("-")).join(" ") };
  }
  if (best && !/\b(shared|master):/.test(best.tags)) {
    execFileSync("mount", ["--make-shared", best.point]);
    changed.add(best.point);
  }
}

function seccompOf(p: unknown): { profileType: string; localhostRef?: string } {
  const t = (p as { type?: string } | undefined)?.type;
  if (t === "Unconfined") return { profileType: "Unconfined" };
  if (t === "Localhost") return { profileType: "Localhost", localhostRef: (p as { localhostProfile?: string }).localhostProfile ?? "" };
  // the kubelet's default is Unconfined unless SeccompDefault is on (on by default since 1.27)
  return { profileType: "RuntimeDefault" };
}
