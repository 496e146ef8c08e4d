// SPDX-License-Identifier: Apache-2.0
/**
 * Real containers for tests: starts the test containerd (`scripts/containerd.sh`), builds a
 * busybox-static OCI image locally (one rootfs layer + config + manifest + index.json, packed as
 * an OCI-layout tar) and imports it with `ctr images import`, runs `ctr run -d` containers, and
 * drives containerd's CRI service like a kubelet (RunPodSandbox / CreateContainer /
 * StartContainer with the `io.kubernetes.*` labels, host network). Nothing here is mocked.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpcClient } from "../../agent/enrich/grpc-client.js";
import { criProtos } from "../../agent/enrich/protos.js";
import { REPO_ROOT } from "./agent.js";

/** Where the tests' containerd lives unless VIGIL_TEST_CONTAINERD_DIR says otherwise. */
export const TEST_CONTAINERD_DIR = process.env["VIGIL_TEST_CONTAINERD_DIR"] ?? "/run/vigil-containerd";
export const BUSYBOX_IMAGE = "docker.io/vigil/busybox:1.0";
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.6";
const SCRIPT = join(REPO_ROOT, "scripts", "containerd.sh");

/** True when containerd, ctr, runc and a static busybox are installed. */
export function containersAvailable(): boolean {
  const has = (c: string): boolean => spawnSync("sh", ["-c", `command -v ${c}`]).status === 0;
  return has("containerd") && has("ctr") && has("runc") && existsSync(busyboxPath());
}

function busyboxPath(): string {
  return existsSync("/bin/busybox") ? "/bin/busybox" : "/usr/bin/busybox";
}

/** Starts the test containerd if it is not running; returns its socket. */
export function startContainerd(dir: string = TEST_CONTAINERD_DIR): string {
  return execFileSync(SCRIPT, ["start", dir], { encoding: "utf8", timeout: 60_000 }).trim();
}

/** Stops the test containerd (containers' shims keep running). */
export function stopContainerd(dir: string = TEST_CONTAINERD_DIR): void {
  execFileSync(SCRIPT, ["stop", dir], { encoding: "utf8", timeout: 30_000 });
}

/** Runs `ctr` against a socket and namespace; returns stdout. */
export function ctr(sock: string, ns: string, args: readonly string[], timeoutMs = 60_000): string {
  return execFileSync("ctr", ["-a", sock, "-n", ns, ...args], { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

export interface BuiltImage {
  name: string;
  tar: string;
  /** Digest of the manifest (the index entry's target): `sha256:...`. */
  manifestDigest: string;
  /** Digest of the image config: `sha256:...`. */
  configDigest: string;
}

/**
 * Builds (once per content, cached under the temp dir) an OCI-layout tar of a busybox-static
 * image named `name` whose config has the given entrypoint/cmd.
 */
export function buildBusyboxImage(name: string, entrypoint: readonly string[] | undefined, cmd: readonly string[]): BuiltImage {
  const work = join(tmpdir(), "vigil-images");
  const key = sha256(Buffer.from(JSON.stringify({ name, entrypoint, cmd, v: 2 }))).slice(0, 16);
  const dir = join(work, key);
  const metaPath = join(dir, "image.json");
  if (existsSync(metaPath)) return JSON.parse(readFileSync(metaPath, "utf8")) as BuiltImage;
  rmSync(dir, { recursive: true, force: true });
  const rootfs = join(dir, "rootfs");
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root"]) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(busyboxPath(), join(rootfs, "bin", "busybox"));
  for (const applet of ["sh", "sleep", "cat", "ls", "echo", "id", "true", "touch", "mkdir", "ps", "head"]) {
    symlinkSync("busybox", join(rootfs, "bin", applet));
  }
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  const layout = join(dir, "layout");
  const blobs = join(layout, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const layerTar = join(dir, "layer.tar");
  execFileSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", rootfs, "-cf", layerTar, "."]);
  const layer = readFileSync(layerTar);
  const layerHex = sha256(layer);
  writeFileSync(join(blobs, layerHex), layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === "arm64" ? "arm64" : "amd64",
      os: "linux",
      config: {
        Env: ["PATH=/bin"],
        ...(entrypoint ? { Entrypoint: entrypoint } : {}),
        Cmd: cmd,
        WorkingDir: "/",
        Labels: { "org.vigil.test": "busybox" },
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerHex}`] },
    }),
  );
  const configHex = sha256(config);
  writeFileSync(join(blobs, configHex), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${configHex}`, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${layerHex}`, size: layer.length }],
    }),
  );
  const manifestHex = sha256(manifest);
  writeFileSync(join(blobs, manifestHex), manifest);
  const tag = name.slice(name.lastIndexOf(":") + 1);
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${manifestHex}`,
          size: manifest.length,
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag },
        },
      ],
    }),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const tar = join(dir, "image.tar");
  execFileSync("tar", [
    "--sort=name",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-C",
    layout,
    "-cf",
    tar,
    "oci-layout",
    "index.json",
    "blobs",
  ]);
  const built: BuiltImage = { name, tar, manifestDigest: `sha256:${manifestHex}`, configDigest: `sha256:${configHex}` };
  writeFileSync(metaPath, JSON.stringify(built));
  return built;
}

/** The busybox image (`/bin/sh` by default) and the pause image (sleeps forever). */
export function testImages(): { busybox: BuiltImage; pause: BuiltImage } {
  return {
    busybox: buildBusyboxImage(BUSYBOX_IMAGE, undefined, ["/bin/sh"]),
    pause: buildBusyboxImage(PAUSE_IMAGE, ["/bin/sleep", "2147483647"], []),
  };
}

/** Imports an image into a namespace unless it is already there. */
export function importImage(sock: string, ns: string, img: BuiltImage): void {
  const have = ctr(sock, ns, ["images", "ls", "-q"]).split("\n");
  if (have.includes(img.name)) return;
  ctrImport(sock, ns, [img.tar]);
}

/**
 * `ctr images import ARGS`, tried again (up to three times) when containerd 1.6's unpacker loses
 * the race with its own garbage collector: a layer snapshot it found present is collected before
 * the next layer is prepared on it ("failed to prepare extraction snapshot ... parent snapshot ...
 * does not exist", containerd/containerd#3787 and #2382). The import is idempotent: a retry
 * re-creates the collected snapshot. Any other error is thrown at once.
 */
export function ctrImport(sock: string, ns: string, args: readonly string[], timeoutMs = 60_000): void {
  for (let attempt = 1; ; attempt++) {
    try {
      ctr(sock, ns, ["images", "import", ...args], timeoutMs);
      return;
    } catch (e) {
      const msg = String((e as { stderr?: unknown }).stderr ?? e);
      if (attempt >= 3 || !/failed to prepare extraction snapshot .*parent snapshot .* does not exist/.test(msg)) throw e;
    }
  }
}

/** Starts the test containerd and imports busybox (default, k8s.io) and pause (k8s.io). */
export function prepareRuntime(dir: string = TEST_CONTAINERD_DIR): { sock: string; busybox: BuiltImage; pause: BuiltImage } {
  const sock = startContainerd(dir);
  const { busybox, pause } = testImages();
  importImage(sock, "default", busybox);
  importImage(sock, "k8s.io", busybox);
  importImage(sock, "k8s.io", pause);
  return { sock, busybox, pause };
}

/** The pid of a container's task (`ctr task ls`), or undefined when it has none. */
export function taskPid(sock: string, ns: string, id: string): number | undefined {
  for (const line of ctr(sock, ns, ["tasks", "ls"]).split("\n").slice(1)) {
    const [task, pid] = line.trim().split(/\s+/);
    if (task === id && pid !== undefined) return Number(pid);
  }
  return undefined;
}

/** `ctr run -d`: a detached container running args (default: sleep). Returns its task pid. */
export function runContainer(
  sock: string,
  ns: string,
  id: string,
  image: string,
  args: readonly string[] = ["/bin/sleep", "3600"],
  flags: readonly string[] = [],
): number {
  ctr(sock, ns, ["run", "-d", ...flags, image, id, ...args]);
  const pid = taskPid(sock, ns, id);
  if (pid === undefined) throw new Error(`container ${id} has no task`);
  return pid;
}

/** Kills and deletes a `ctr` container; ignores what is already gone. */
export function removeContainer(sock: string, ns: string, id: string): void {
  spawnSync("ctr", ["-a", sock, "-n", ns, "tasks", "kill", "-s", "SIGKILL", id], { timeout: 10_000 });
  for (let i = 0; i < 50; i++) {
    const r = spawnSync("ctr", ["-a", sock, "-n", ns, "tasks", "rm", "-f", id], { timeout: 10_000, encoding: "utf8" });
    if (r.status === 0 || /not found/.test(r.stderr)) break;
    spawnSync("sleep", ["0.1"]);
  }
  spawnSync("ctr", ["-a", sock, "-n", ns, "containers", "rm", id], { timeout: 10_000 });
}

/** The cgroup2 (unified) path of a pid, from `/proc/<pid>/cgroup` (`0::/...`). */
export function unifiedCgroup(pid: number): string {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    if (line.startsWith("0::")) return line.slice(3);
  }
  return "/";
}

/** Kubelet-style facts for one pod. */
export interface PodSpec {
  name: string;
  namespace: string;
  uid: string;
  /** The pod's own labels (app=..., ...). */
  labels: Record<string, string>;
  /** The sandbox must allow privileged containers. */
  privileged?: boolean;
}

/** A pod created through the CRI. */
export interface CriPod {
  id: string;
  config: object;
}

const RS = "runtime.v1.RuntimeService";

/** Drives containerd's CRI service (runtime.v1) like the kubelet does. */
export class CriClient {
  private readonly rpc: GrpcClient;

  constructor(sock: string) {
    this.rpc = new GrpcClient(sock, criProtos());
  }

  version(): Promise<{ runtimeName: string; runtimeVersion: string }> {
    return this.rpc.unary(RS, "Version", { version: "v1" });
  }

  /** RunPodSandbox with host network (no CNI needed; hostname left unset). */
  async runPod(p: PodSpec): Promise<CriPod> {
    const config = {
      metadata: { name: p.name, uid: p.uid, namespace: p.namespace, attempt: 0 },
      logDirectory: join(tmpdir(), "vigil-pod-logs", p.uid),
      labels: {
        ...p.labels,
        "io.kubernetes.pod.name": p.name,
        "io.kubernetes.pod.namespace": p.namespace,
        "io.kubernetes.pod.uid": p.uid,
      },
      annotations: { "kubernetes.io/config.source": "api" },
      linux: { securityContext: { privileged: p.privileged ?? false, namespaceOptions: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } },
    };
    mkdirSync(config.logDirectory, { recursive: true });
    const r = await this.rpc.unary<{ podSandboxId: string }>(RS, "RunPodSandbox", { config }, { timeoutMs: 60_000 });
    return { id: r.podSandboxId, config };
  }

  /** CreateContainer + StartContainer with the kubelet's container labels. Returns its ID. */
  async runContainer(
    pod: CriPod,
    p: PodSpec,
    c: { name: string; image: string; command: string[]; privileged?: boolean; mounts?: { containerPath: string; hostPath: string; readonly: boolean }[] },
  ): Promise<string> {
    const config = {
      metadata: { name: c.name, attempt: 0 },
      image: { image: c.image },
      command: c.command,
      labels: {
        "io.kubernetes.container.name": c.name,
        "io.kubernetes.pod.name": p.name,
        "io.kubernetes.pod.namespace": p.namespace,
        "io.kubernetes.pod.uid": p.uid,
      },
      annotations: { "io.kubernetes.container.restartCount": "0" },
      logPath: `${c.name}/0.log`,
      mounts: c.mounts ?? [],
      linux: { securityContext: { privileged: c.privileged ?? false, namespaceOptions: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } },
    };
    const r = await this.rpc.unary<{ containerId: string }>(
      RS,
      "CreateContainer",
      { podSandboxId: pod.id, config, sandboxConfig: pod.config },
      { timeoutMs: 60_000 },
    );
    await this.rpc.unary(RS, "StartContainer", { containerId: r.containerId }, { timeoutMs: 60_000 });
    return r.containerId;
  }

  containerStatus(id: string): Promise<{ status?: { labels: Record<string, string>; state?: string } }> {
    return this.rpc.unary(RS, "ContainerStatus", { containerId: id });
  }

  /** StopPodSandbox + RemovePodSandbox (removes its containers too); ignores errors. */
  async removePod(id: string): Promise<void> {
    await this.rpc.unary(RS, "StopPodSandbox", { podSandboxId: id }, { timeoutMs: 60_000 }).catch(() => undefined);
    await this.rpc.unary(RS, "RemovePodSandbox", { podSandboxId: id }, { timeoutMs: 60_000 }).catch(() => undefined);
  }

  close(): void {
    this.rpc.close();
  }
}

/** The cgroup2 ID (inode) of a unified-hierarchy path, as `bpf_get_current_cgroup_id()` returns it. */
export function cgroupIdOf(path: string): number {
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      return statSync(join(root, path)).ino;
    } catch {
      // try the next mount point
    }
  }
  return 0;
}

/** Polls pred every 20 ms until true or ms elapse; returns whether it became true. */
export async function until(pred: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pred();
}

/** SIGKILLs the test containerd of dir (as a crash would), leaving its pid file behind. */
export function killContainerd(dir: string = TEST_CONTAINERD_DIR): void {
  const pid = Number(readFileSync(join(dir, "containerd.pid"), "utf8").trim());
  if (pid > 0) process.kill(pid, "SIGKILL");
}

/** The pids in a cgroup2 path (`cgroup.procs`), on hybrid and pure cgroup2 hosts. */
export function cgroupProcs(path: string): number[] {
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      return readFileSync(join(root, path, "cgroup.procs"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map(Number);
    } catch {
      // try the next mount point
    }
  }
  return [];
}
