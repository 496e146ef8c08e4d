// SPDX-License-Identifier: Apache-2.0
/**
 * Turns containerd records into ContainerInfo metadata: the runtime spec facts, image parts, and
 * the Kubernetes facts from the CRI labels the kubelet sets (`io.kubernetes.pod.name`,
 * `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid`, `io.kubernetes.container.name`) and
 * from the pod sandbox (its labels are the pod's labels; the CRI plugin's JSON metadata
 * extension carries the sandbox ID, the pod IP and the image ID).
 */
import type { ContainerInfo, K8sInfo } from "../../rules/event.js";
import type { ContainerRecord } from "./containerd-client.js";
import { parseImageRef } from "./image-ref.js";
import { specFacts } from "./oci-spec.js";

/** CRI label and annotation keys (set by the kubelet and by containerd's CRI plugin). */
export const CriKey = {
  Kind: "io.cri-containerd.kind",
  PodName: "io.kubernetes.pod.name",
  PodNamespace: "io.kubernetes.pod.namespace",
  PodUid: "io.kubernetes.pod.uid",
  ContainerName: "io.kubernetes.container.name",
  SandboxIdAnnotation: "io.kubernetes.cri.sandbox-id",
  ImageNameAnnotation: "io.kubernetes.cri.image-name",
  ContainerMetadataExt: "io.cri-containerd.container.metadata",
  SandboxMetadataExt: "io.cri-containerd.sandbox.metadata",
} as const;

/** Label prefixes that are the kubelet's or the runtime's bookkeeping, not the pod's own labels. */
const RESERVED_LABEL_PREFIXES = ["io.kubernetes.", "io.cri-containerd."] as const;
const MAX_EXT_BYTES = 1 << 20;
/** CRI NamespaceMode NODE: the node's (host's) namespace. */
const NODE_NAMESPACE = 2;
const EMPTY: ReadonlyMap<string, string> = new Map();

/** What a pod sandbox says about its pod. */
export interface SandboxFacts {
  id: string;
  podName: string | undefined;
  namespace: string | undefined;
  podUid: string | undefined;
  podLabels: ReadonlyMap<string, string>;
  podIp: string | undefined;
}

/** What an image lookup found. */
export interface ImageFacts {
  /** Digest the image name points at (manifest or index). */
  digest: string | undefined;
  /** Config digest `sha256:<hex>` (the image ID). */
  configDigest: string | undefined;
}

type Obj = Record<string, unknown>;
function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The `Metadata` object of a CRI plugin JSON extension, or undefined. */
export function criExtension(rec: ContainerRecord, name: string): Obj | undefined {
  const raw = rec.extensions.get(name);
  if (raw === undefined || raw.length > MAX_EXT_BYTES) return undefined;
  try {
    return obj(obj(JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8")))?.["Metadata"]);
  } catch {
    return undefined;
  }
}

/** The sandbox facts of a CRI sandbox container record. */
export function sandboxFacts(rec: ContainerRecord): SandboxFacts {
  const meta = criExtension(rec, CriKey.SandboxMetadataExt);
  const config = obj(meta?.["Config"]);
  const cfgLabels = obj(config?.["labels"]);
  const podLabels = new Map<string, string>();
  const source: Iterable<[string, unknown]> = cfgLabels !== undefined ? Object.entries(cfgLabels) : rec.labels.entries();
  for (const [k, v] of source) {
    if (typeof v !== "string" || RESERVED_LABEL_PREFIXES.some((p) => k.startsWith(p))) continue;
    podLabels.set(k, v);
  }
  const cmeta = obj(config?.["metadata"]);
  return {
    id: rec.id,
    podName: rec.labels.get(CriKey.PodName) ?? str(cmeta?.["name"]),
    namespace: rec.labels.get(CriKey.PodNamespace) ?? str(cmeta?.["namespace"]),
    podUid: rec.labels.get(CriKey.PodUid) ?? str(cmeta?.["uid"]),
    podLabels,
    podIp: str(meta?.["IP"]),
  };
}

/** The sandbox ID of a CRI container (spec annotation, else the CRI metadata extension). */
export function sandboxIdOf(rec: ContainerRecord, annotations: ReadonlyMap<string, string>): string | undefined {
  if (rec.labels.get(CriKey.Kind) === "sandbox") return rec.id;
  return annotations.get(CriKey.SandboxIdAnnotation) ?? str(criExtension(rec, CriKey.ContainerMetadataExt)?.["SandboxID"]);
}

/** The config digest named by an image manifest (or, for an index, by its entry for this platform). */
export function manifestConfigDigest(doc: unknown): { config: string | undefined; next: string | undefined } {
  const o = obj(doc);
  const cfg = str(obj(o?.["config"])?.["digest"]);
  if (cfg !== undefined) return { config: cfg, next: undefined };
  const manifests = o?.["manifests"];
  if (!Array.isArray(manifests)) return { config: undefined, next: undefined };
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  let fallback: string | undefined;
  for (const m of manifests) {
    const mo = obj(m);
    const d = str(mo?.["digest"]);
    if (d === undefined) continue;
    const p = obj(mo?.["platform"]);
    if (p === undefined) fallback ??= d;
    else if (p["os"] === "linux" && p["architecture"] === arch) return { config: undefined, next: d };
  }
  return { config: undefined, next: fallback };
}

/** ContainerInfo fields other than id/fullId, as filled from the runtime. */
export type Metadata = Omit<ContainerInfo, "id" | "fullId">;

/** Builds the metadata of a container from its record, its pod sandbox and its image. */
export function buildMetadata(rec: ContainerRecord, sandbox: SandboxFacts | undefined, image: ImageFacts | undefined): Metadata {
  const facts = specFacts(rec.spec);
  const kind = rec.labels.get(CriKey.Kind);
  const imageName = rec.image !== "" ? rec.image : facts.annotations.get(CriKey.ImageNameAnnotation);
  const ref = imageName !== undefined ? parseImageRef(imageName) : undefined;
  let k8s: K8sInfo | undefined;
  let name: string | undefined = rec.id;
  let imageId: string | undefined;
  if (kind === "container" || kind === "sandbox") {
    const containerName = kind === "container" ? rec.labels.get(CriKey.ContainerName) : undefined;
    k8s = {
      podName: rec.labels.get(CriKey.PodName) ?? sandbox?.podName,
      namespace: rec.labels.get(CriKey.PodNamespace) ?? sandbox?.namespace,
      podUid: rec.labels.get(CriKey.PodUid) ?? sandbox?.podUid,
      sandboxId: sandboxIdOf(rec, facts.annotations),
      podLabels: sandbox?.podLabels ?? EMPTY,
      podIp: sandbox?.podIp,
      containerName,
    };
    name = kind === "container" ? (containerName ?? rec.id) : (k8s.podName ?? rec.id);
    const ext = criExtension(rec, kind === "container" ? CriKey.ContainerMetadataExt : CriKey.SandboxMetadataExt);
    // CRI containers join the sandbox's namespaces by path, so the spec alone cannot tell a host
    // network; the kubelet's own request (namespace_options, NODE = 2) can.
    const nso = obj(obj(obj(obj(ext?.["Config"])?.["linux"])?.["security_context"])?.["namespace_options"]);
    if (nso !== undefined) {
      facts.hostNetwork = nso["network"] === NODE_NAMESPACE;
      facts.hostPid = nso["pid"] === NODE_NAMESPACE;
      facts.hostIpc = nso["ipc"] === NODE_NAMESPACE;
    }
    const imageRef = str(criExtension(rec, CriKey.ContainerMetadataExt)?.["ImageRef"]);
    if (imageRef?.startsWith("sha256:")) imageId = imageRef.slice(7, 19);
  }
  if (imageId === undefined && image?.configDigest?.startsWith("sha256:")) imageId = image.configDigest.slice(7, 19);
  return {
    name,
    type: "containerd",
    image: imageName,
    imageRepository: ref?.repository,
    imageTag: ref?.tag,
    imageDigest: ref?.digest ?? image?.digest,
    imageId,
    privileged: facts.privileged,
    hostPid: facts.hostPid,
    hostNetwork: facts.hostNetwork,
    hostIpc: facts.hostIpc,
    user: facts.user,
    labels: rec.labels,
    mounts: facts.mounts,
    startTs: rec.createdAtNs,
    k8s,
    metaMissing: false,
  };
}
