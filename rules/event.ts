// SPDX-License-Identifier: Apache-2.0
/**
 * The event model every source produces and the rule engine reads.
 *
 * Sources (eBPF probe, ptrace tracer, replay) decode frames into {@link SyscallEvent}s; the agent's
 * state stage attaches the {@link ThreadInfo} (process tree), {@link FdInfo} and {@link ContainerInfo};
 * the rule engine's field getters read these objects. A value that is `undefined` is "missing":
 * every check on it is false and outputs render it as `<NA>` (Falco semantics).
 *
 * Sources may reuse one event object for successive events: a consumer that keeps an event past
 * the synchronous evaluation must copy what it needs.
 */

import type { ArgValue, SockTuple } from "../proto/index.js";
import type { EventCode } from "./event-table.js";

/** Kubernetes facts learnt from the CRI labels the kubelet sets. */
export interface K8sInfo {
  podName: string | undefined;
  namespace: string | undefined;
  podUid: string | undefined;
  sandboxId: string | undefined;
  podLabels: ReadonlyMap<string, string>;
  podIp: string | undefined;
  containerName: string | undefined;
  /**
   * What the Kubernetes API says about the pod (agent/enrich/k8s-api), bound by pod UID when the
   * container's metadata arrives and updated in place by the watch; undefined without the API.
   */
  api?: K8sPodMeta | undefined;
}

/** A Kubernetes object a pod relates to (an owner, its namespace, its node), as the API reports it. */
export interface K8sObjectMeta {
  /** `ReplicaSet`, `Deployment`, `Namespace`, `Node`... */
  readonly kind: string;
  readonly name: string;
  /** Undefined when only a reference named the object (its own record not read). */
  readonly uid: string | undefined;
  readonly labels: ReadonlyMap<string, string>;
}

/**
 * The Kubernetes API's view of one pod: its own facts, its namespace, its owner chain (Pod →
 * ReplicaSet → Deployment, Pod → Job → CronJob, StatefulSet, DaemonSet) and its node. One object
 * per pod UID, filled and updated in place by the agent's watch, so field getters read it without
 * a lookup.
 */
export interface K8sPodMeta {
  /** True once the API reported the pod; until then (or without the API) the CRI labels speak. */
  readonly known: boolean;
  readonly labels: ReadonlyMap<string, string>;
  readonly serviceAccount: string | undefined;
  readonly podIp: string | undefined;
  readonly namespace: K8sObjectMeta | undefined;
  readonly replicaSet: K8sObjectMeta | undefined;
  readonly deployment: K8sObjectMeta | undefined;
  readonly statefulSet: K8sObjectMeta | undefined;
  readonly daemonSet: K8sObjectMeta | undefined;
  readonly job: K8sObjectMeta | undefined;
  readonly cronJob: K8sObjectMeta | undefined;
  /** The top of the controller chain (a Deployment, CronJob, StatefulSet...); undefined for a bare pod. */
  readonly workload: K8sObjectMeta | undefined;
  readonly node: K8sObjectMeta | undefined;
}

/** One mount of a container's runtime spec. */
export interface MountInfo {
  source: string;
  dest: string;
  mode: string;
  rw: boolean;
  propagation: string;
}

/** What the agent knows about a container; `HOST_CONTAINER` for host processes. */
export interface ContainerInfo {
  /** 12-char ID, or `host`. */
  id: string;
  fullId: string;
  name: string | undefined;
  /** `containerd`, `cri`, `docker`, `cri-o`, `podman`, `host`... */
  type: string;
  image: string | undefined;
  imageRepository: string | undefined;
  imageTag: string | undefined;
  imageDigest: string | undefined;
  imageId: string | undefined;
  privileged: boolean | undefined;
  hostPid: boolean | undefined;
  hostNetwork: boolean | undefined;
  hostIpc: boolean | undefined;
  user: string | undefined;
  labels: ReadonlyMap<string, string>;
  mounts: readonly MountInfo[];
  /** Start time, ns since the epoch (as a number: µs precision is kept). */
  startTs: number | undefined;
  k8s: K8sInfo | undefined;
  /** True while metadata has not (yet) arrived from the runtime. */
  metaMissing: boolean;
}

/** A user or group entry resolved in the process's own root. */
export interface UserInfo {
  uid: number;
  name: string | undefined;
  homedir: string | undefined;
  shell: string | undefined;
}
export interface GroupInfo {
  gid: number;
  name: string | undefined;
}

/**
 * One thread (Falco's threadinfo). Threads of one process share process-level facts; `parent`
 * links the process tree so `proc.aname[N]`/`proc.apid[N]` walk it without lookups.
 */
export interface ThreadInfo {
  tid: number;
  pid: number;
  ppid: number;
  /** pid as seen in the process's own pid namespace. */
  vpid: number;
  vtid: number;
  sid: number;
  pgid: number;
  vpgid: number;
  /** `comm`, at most 15 chars (proc.name). */
  comm: string;
  /** argv[0] (proc.exe). */
  exe: string;
  /** Full path of the executable (proc.exepath). */
  exepath: string;
  /** argv[1..] (proc.args is these joined by spaces). */
  args: readonly string[];
  /** Environment, empty unless collected. */
  env: readonly string[];
  cwd: string;
  /** Controlling terminal device number, 0 when none. */
  tty: number;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  /** 0xFFFFFFFF (-1 as u32) when unset; rendered as -1 like Falco. */
  loginuid: number;
  /** Kernel boot-time ns of the thread's start; with tid the table key against pid reuse. */
  startTs: number;
  /** Boot-time ns of the last exec. */
  execTs: number;
  cgroupId: number;
  /** cgroup v2 path of the process (`/k8s.io/<id>`, `/` for the root cgroup), when known. */
  cgroupPath?: string | undefined;
  exeUpperLayer: boolean | undefined;
  exeLowerLayer: boolean | undefined;
  exeFromMemfd: boolean | undefined;
  exeWritable: boolean | undefined;
  exeIno: number | undefined;
  /** ns since the epoch. */
  exeInoCtime: number | undefined;
  exeInoMtime: number | undefined;
  capEffective: bigint | undefined;
  capPermitted: bigint | undefined;
  capInheritable: bigint | undefined;
  /** Boot-time ns at which the pid namespace's init started (0 = host pidns). */
  pidnsInitStartTs: number | undefined;
  user: UserInfo;
  group: GroupInfo;
  loginUser: UserInfo | undefined;
  parent: ThreadInfo | undefined;
  container: ContainerInfo;
  /** False for a placeholder built from an event header before the process was seen. */
  complete: boolean;
}

/** File descriptor facts (Falco fd.* fields). */
export interface FdInfo {
  num: number;
  /** `file`, `directory`, `ipv4`, `ipv6`, `unix`, `pipe`, `event`, `signalfd`, `eventpoll`, `inotify`, `timerfd`, `netlink`, `memfd`, `bpf`... */
  type: string;
  /** One letter: f 4 6 u p e s l i t n m b d. */
  typechar: string;
  /** Path for files; `sip:sport->dip:dport` for sockets. */
  name: string;
  ino: number | undefined;
  dev: number | undefined;
  isUpperLayer: boolean | undefined;
  /** `tcp`, `udp`, `raw`, `icmp` for sockets. */
  l4proto: string | undefined;
  tuple: SockTuple | undefined;
  /** For sockets: true when this side is the server (accept). */
  isServer: boolean | undefined;
  connected: boolean | undefined;
  /** Open flags for files (raw O_* bits). */
  openFlags: number | undefined;
  /** The event changed the fd's name (a datagram sent to a new destination: `fd.name_changed`). */
  nameChanged: boolean | undefined;
}

/** Where an event came from. */
export type EventSourceName = "syscall";

/**
 * Network behaviour over time (agent/behaviour/net.ts), attached to connect and exec events of
 * the processes it tracks; read by the `vigil.net.*`, `vigil.exec.script*` and `proc.is_net_server`
 * fields (rules/compile/fields-behaviour-net.ts). Counts cover the agent's window, capped per process.
 */
export interface NetBehaviourView {
  /** Connect events: the destination (from the call's address argument, so failed calls have it too). */
  readonly destIp: string | undefined;
  readonly destPort: number | undefined;
  /** Distinct destination ports / hosts this process tried to connect to in the window (any result). */
  readonly procPorts: number;
  readonly procHosts: number;
  /** Connects of this process in the window that failed (refused, timed out, unreachable...). */
  readonly procFailed: number;
  /** The same for the container's processes of the same name, comm (undefined for host processes). */
  readonly ctrPorts: number | undefined;
  readonly ctrHosts: number | undefined;
  readonly ctrFailed: number | undefined;
  /** This event's destination port / host was new in the window for the process / container. */
  readonly newProcPort: boolean;
  readonly newProcHost: boolean;
  readonly newCtrPort: boolean;
  readonly newCtrHost: boolean;
  /** The process listened on an IP socket, or was forked (at any depth) from one that had. */
  readonly netServer: boolean;
  /** Exec of an interpreter: the script it runs (an argument, or the script behind a shebang). */
  readonly script: string | undefined;
  /** Seconds since the script was last changed (ctime); undefined when not checked. */
  readonly scriptAgeSec: number | undefined;
  /** The script was last changed after the server process above began listening. */
  readonly scriptAfterListen: boolean | undefined;
}

/**
 * File and exec behaviour over time (agent/behaviour/files.ts), attached to the unlink, exec and
 * credential-file open events it has something to say about; read by the `vigil.unlink.*`,
 * `vigil.exe.fetched*` and `vigil.cred.*` fields (rules/compile/fields-behaviour-files.ts).
 */
export interface FileBehaviourFacts {
  /** unlink: a live process of the same container running the deleted path (another one first). */
  readonly runningPid: number | undefined;
  readonly runningName: string | undefined;
  /** unlink: the only live process running it is the deleter. */
  readonly runningSelf: boolean;
  /** exec: the program or script that runs, created by a process with network activity. */
  readonly fetchedPath: string | undefined;
  readonly fetchedBy: string | undefined;
  readonly fetchedByPid: number | undefined;
  readonly fetchedAgeNs: number | undefined;
  /** open of a credential-looking file: distinct ones in the window (process or its parent's children). */
  readonly credDistinct: number | undefined;
  readonly credFiles: string | undefined;
  /** open of a credential-looking file: this open added a file to the count above. */
  readonly credNew: boolean | undefined;
}

/** One syscall exit event, enriched. */
export interface SyscallEvent {
  /** Sequence number within the source. */
  num: number;
  /** Wall-clock seconds since the epoch. */
  sec: number;
  /** Nanoseconds within `sec`. */
  nsec: number;
  /** Kernel boot-time ns (monotonic; used for ordering and process start keys). */
  bootNs: number;
  type: EventCode;
  cpu: number;
  /** Syscall return value (evt.rawres). */
  res: number;
  /** Params in the order of the type's schema (event-table.ts). */
  args: ArgValue[];
  proc: ThreadInfo;
  fd: FdInfo | undefined;
  source: EventSourceName;
  /**
   * Exec events: the kernel probe killed the new program before its first instruction (drift
   * prevention). Undefined for sources that cannot block.
   */
  blocked?: boolean | undefined;
  /** Network behaviour over time of the event's process (agent/behaviour/net.ts); undefined when not tracked. */
  net?: NetBehaviourView | undefined;
  /** File and exec behaviour over time (agent/behaviour/files.ts); undefined when it has nothing to say. */
  fileBehaviour?: FileBehaviourFacts | undefined;
}

export type { ArgValue, SockTuple };
