// SPDX-License-Identifier: Apache-2.0
/**
 * Container identity from cgroup paths. A process is in a container when one of its cgroup paths
 * has the shape a container runtime gives it — not merely when it sits in a non-root cgroup
 * (hosts put their own services in cgroups too, e.g. `/system.slice/ssh.service` or, on some VMs,
 * a v1 memory cgroup `/process_api/<hex>`).
 *
 * Shapes recognised (v1 and v2, cgroupfs and systemd drivers; the innermost match wins, so nested
 * runtimes resolve to the inner container):
 *
 * | shape | runtime |
 * | --- | --- |
 * | `/<ns>/<id>` with `<ns>` a containerd namespace (`k8s.io`, `default`, configured) | containerd |
 * | `…/cri-containerd-<id>.scope`, `…slice:cri-containerd:<id>` | containerd |
 * | `…/crio-<id>.scope`, `…slice:crio:<id>` | cri-o |
 * | `/docker/<id>`, `…/docker-<id>.scope`, `/moby/<id>`, `…slice:docker:<id>` | docker |
 * | `…/libpod-<id>.scope`, `…/libpod-<id>`, `…/libpod-<id>.scope/container` | podman |
 * | `/kubepods[/<qos>]/pod<uid>/<id>` (cgroupfs driver, runtime not in the path) | cri |
 *
 * `<id>` is 64 hex digits except under a containerd namespace, where it is any containerd
 * identifier (`ctr run IMAGE my-name`). These functions run once per distinct path (the enricher
 * memoises), never per event.
 */

/** Runtime names as reported in `container.type`. */
export const Runtime = {
  Containerd: "containerd",
  Cri: "cri",
  CriO: "cri-o",
  Docker: "docker",
  Podman: "podman",
} as const;
export type Runtime = (typeof Runtime)[keyof typeof Runtime];

/** What a cgroup path says about its container. */
export interface CgroupMatch {
  /** Full container ID (64 hex digits, or a containerd identifier under `/<ns>/`). */
  id: string;
  runtime: Runtime;
  /** containerd namespace when the path names it (`/k8s.io/<id>`). */
  namespace: string | undefined;
  /** Pod UID when the path carries it (`pod<uid>` segment), dashes restored. */
  podUid: string | undefined;
}

/** containerd namespaces looked at by default. */
export const DEFAULT_NAMESPACES: readonly string[] = ["k8s.io", "default"];

const HEX64 = /^[0-9a-f]{64}$/;
const SCOPE = /^(cri-containerd|crio|docker|libpod)-([0-9a-f]{64})(?:\.scope)?$/;
const COLON = /:(cri-containerd|crio|docker):([0-9a-f]{64})$/;
/** containerd identifiers: alnum start, then alnum . _ -, at most 76 chars. */
const CONTAINERD_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/;
/** `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd driver). */
const SYSTEMD_POD = /^kubepods(?:-[a-z]+)?-pod([0-9A-Za-z_-]+)\.slice$/;
/** `pod<uid>` (cgroupfs driver). */
const CGROUPFS_POD = /^pod([0-9A-Za-z-]+)$/;

const PREFIX_RUNTIME: Readonly<Record<string, Runtime>> = {
  "cri-containerd": Runtime.Containerd,
  crio: Runtime.CriO,
  docker: Runtime.Docker,
  libpod: Runtime.Podman,
};

function podUidOf(seg: string): string | undefined {
  const m = CGROUPFS_POD.exec(seg) ?? SYSTEMD_POD.exec(seg);
  return m?.[1]?.replaceAll("_", "-");
}

function podUidIn(segs: readonly string[], upTo: number): string | undefined {
  for (let i = upTo; i >= 0; i--) {
    const uid = podUidOf(segs[i] as string);
    if (uid !== undefined) return uid;
  }
  return undefined;
}

/** The container's parent is a pod cgroup that sits under a kubepods cgroup (any depth). */
function isKubepodsParent(segs: readonly string[], i: number): boolean {
  const parent = segs[i - 1];
  if (parent === undefined || podUidOf(parent) === undefined) return false;
  for (let j = i - 2; j >= 0; j--) if ((segs[j] as string).startsWith("kubepods")) return true;
  return false;
}

/**
 * The container a cgroup path belongs to, or undefined for a host cgroup.
 * @param namespaces containerd namespaces recognised as `/<ns>/<id>`.
 */
export function containerFromCgroupPath(path: string, namespaces: readonly string[] = DEFAULT_NAMESPACES): CgroupMatch | undefined {
  if (path.length <= 1) return undefined;
  const segs = path.split("/").filter((s) => s.length > 0);
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i] as string;
    const m = SCOPE.exec(s) ?? COLON.exec(s);
    if (m !== null) {
      const runtime = PREFIX_RUNTIME[m[1] as string] ?? Runtime.Cri;
      // the colon form carries the pod slice in the same segment: `<pod slice>:<runtime>:<id>`
      const podUid = (m.index > 0 ? podUidOf(s.slice(0, m.index)) : undefined) ?? podUidIn(segs, i - 1);
      return { id: m[2] as string, runtime, namespace: undefined, podUid };
    }
    if (HEX64.test(s) && i > 0) {
      const parent = segs[i - 1] as string;
      if (parent === "docker" || parent === "moby") return { id: s, runtime: Runtime.Docker, namespace: undefined, podUid: undefined };
      if (isKubepodsParent(segs, i)) return { id: s, runtime: Runtime.Cri, namespace: undefined, podUid: podUidIn(segs, i - 1) };
      if (i === 1 && namespaces.includes(parent)) return { id: s, runtime: Runtime.Containerd, namespace: parent, podUid: undefined };
    }
  }
  // `/<ns>/<id>[/sub...]`: containerd's default cgroup for a container in namespace <ns>
  const ns = segs[0];
  const id = segs[1];
  if (ns !== undefined && id !== undefined && namespaces.includes(ns) && CONTAINERD_ID.test(id)) {
    return { id, runtime: Runtime.Containerd, namespace: ns, podUid: undefined };
  }
  return undefined;
}

/**
 * The container named by any line of a `/proc/<pid>/cgroup` file (v2 `0::path` and v1
 * `N:controllers:path` lines alike), or undefined when no line has a runtime's shape.
 */
export function containerFromProcCgroup(text: string, namespaces: readonly string[] = DEFAULT_NAMESPACES): CgroupMatch | undefined {
  for (const line of text.split("\n")) {
    const a = line.indexOf(":");
    const b = a < 0 ? -1 : line.indexOf(":", a + 1);
    if (b < 0) continue;
    const m = containerFromCgroupPath(line.slice(b + 1).trim(), namespaces);
    if (m !== undefined) return m;
  }
  return undefined;
}
