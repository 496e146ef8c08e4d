// SPDX-License-Identifier: Apache-2.0
/**
 * Builds SyscallEvents for rule tests: params by Falco name (placed in schema order), a process
 * with sensible defaults and an optional ancestor chain, an fd, and a container (host by default).
 */
import { eventByName } from "../../rules/event-table.js";
import type { ArgValue, ContainerInfo, FdInfo, K8sInfo, SyscallEvent, ThreadInfo } from "../../rules/event.js";

export const HOST: ContainerInfo = container({
  id: "host",
  fullId: "host",
  name: "host",
  type: "host",
  image: undefined,
  imageRepository: undefined,
  imageTag: undefined,
  privileged: undefined,
  hostPid: undefined,
  hostNetwork: undefined,
  hostIpc: undefined,
  startTs: undefined,
});

/** A container with defaults. */
export function container(c: Partial<Omit<ContainerInfo, "k8s">> & { k8s?: Partial<K8sInfo> } = {}): ContainerInfo {
  const { k8s, ...rest } = c;
  return {
    id: "0123456789ab",
    fullId: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    name: "web",
    type: "containerd",
    image: "docker.io/library/nginx:1.25",
    imageRepository: "docker.io/library/nginx",
    imageTag: "1.25",
    imageDigest: undefined,
    imageId: undefined,
    privileged: false,
    hostPid: false,
    hostNetwork: false,
    hostIpc: false,
    user: undefined,
    labels: new Map(),
    mounts: [],
    startTs: 1_700_000_000_000_000_000,
    k8s:
      k8s === undefined
        ? undefined
        : {
            podName: "web-0",
            namespace: "default",
            podUid: "uid-1",
            sandboxId: "f".repeat(64),
            podLabels: new Map(),
            podIp: "10.1.2.3",
            containerName: "web",
            ...k8s,
          },
    metaMissing: false,
    ...rest,
  };
}

/** Process description; `parents` lists ancestors nearest first (parent, grandparent, ...). */
export interface ProcSpec extends Partial<Omit<ThreadInfo, "parent" | "user" | "group" | "container">> {
  user?: Partial<ThreadInfo["user"]>;
  group?: Partial<ThreadInfo["group"]>;
  container?: ContainerInfo;
  parents?: ProcSpec[];
}

let nextPid = 1000;

/** Builds a ThreadInfo (and its ancestors). */
export function proc(spec: ProcSpec = {}): ThreadInfo {
  const { parents = [], user, group, container: ctr, ...rest } = spec;
  const parent = parents.length > 0 ? proc({ container: ctr, ...(parents[0] as ProcSpec), parents: parents.slice(1) }) : undefined;
  const pid = rest.pid ?? nextPid++;
  const comm = rest.comm ?? "cat";
  return {
    tid: pid,
    pid,
    ppid: parent?.pid ?? 1,
    vpid: pid,
    vtid: pid,
    sid: pid,
    pgid: pid,
    vpgid: pid,
    comm,
    exe: comm,
    exepath: `/usr/bin/${comm}`,
    args: [],
    env: [],
    cwd: "/",
    tty: 0,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    loginuid: 0xffffffff,
    startTs: 1_000_000_000,
    execTs: 1_000_000_000,
    cgroupId: 1,
    exeUpperLayer: false,
    exeLowerLayer: true,
    exeFromMemfd: false,
    exeWritable: false,
    exeIno: 1234,
    exeInoCtime: undefined,
    exeInoMtime: undefined,
    capEffective: undefined,
    capPermitted: undefined,
    capInheritable: undefined,
    pidnsInitStartTs: 0,
    user: { uid: rest.uid ?? 0, name: "root", homedir: "/root", shell: "/bin/bash", ...user },
    group: { gid: rest.gid ?? 0, name: "root", ...group },
    loginUser: undefined,
    parent,
    container: ctr ?? HOST,
    complete: true,
    ...rest,
  };
}

/** A file fd. */
export function fileFd(name: string, extra: Partial<FdInfo> = {}): FdInfo {
  return {
    num: 3,
    type: "file",
    typechar: "f",
    name,
    ino: 42,
    dev: 8,
    isUpperLayer: false,
    l4proto: undefined,
    tuple: undefined,
    isServer: undefined,
    connected: undefined,
    openFlags: undefined,
    nameChanged: undefined,
    ...extra,
  };
}

/** An IPv4 TCP socket fd (client side unless isServer). */
export function sockFd(sip: string, sport: number, dip: string, dport: number, extra: Partial<FdInfo> = {}): FdInfo {
  const v6 = dip.includes(":");
  return {
    num: 4,
    type: v6 ? "ipv6" : "ipv4",
    typechar: v6 ? "6" : "4",
    name: `${sip}:${sport}->${dip}:${dport}`,
    ino: undefined,
    dev: undefined,
    isUpperLayer: undefined,
    l4proto: "tcp",
    tuple: { family: v6 ? 10 : 2, sip, sport, dip, dport },
    isServer: false,
    connected: true,
    openFlags: undefined,
    ...extra,
  };
}

export interface EventSpec {
  type: string;
  /** Params by Falco name. */
  args?: Record<string, ArgValue>;
  res?: number;
  proc?: ThreadInfo;
  fd?: FdInfo;
  num?: number;
  sec?: number;
  nsec?: number;
}

/** Builds one event. */
export function ev(spec: EventSpec): SyscallEvent {
  const es = eventByName(spec.type);
  if (es === undefined) throw new Error(`unknown event type ${spec.type}`);
  const args: ArgValue[] = es.params.map(() => undefined);
  const res = spec.res ?? 0;
  for (const [k, v] of Object.entries(spec.args ?? {})) {
    const i = es.params.findIndex((p) => p.name === k);
    if (i < 0) throw new Error(`event ${spec.type} has no param ${k}`);
    args[i] = v;
  }
  if (es.params[0] !== undefined && args[0] === undefined && (es.params[0].name === "res" || es.params[0].name === "fd")) args[0] = res;
  return {
    num: spec.num ?? 1,
    sec: spec.sec ?? 1_795_867_200,
    nsec: spec.nsec ?? 123_456_789,
    bootNs: 10_000_000_000,
    type: es.code,
    cpu: 0,
    res,
    args,
    proc: spec.proc ?? proc(),
    fd: spec.fd,
    source: "syscall",
  };
}

/** Open flags. */
export const O = { RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, TRUNC: 0o1000, APPEND: 0o2000, CLOEXEC: 0o2000000 } as const;

/** An openat exit event on a file. */
export function openat(path: string, flags: number, p: ThreadInfo = proc(), res = 3): SyscallEvent {
  return ev({
    type: "openat",
    res,
    args: { dirfd: -100, name: path, flags, mode: 0 },
    proc: p,
    fd: res >= 0 ? fileFd(path, { num: res, openFlags: flags }) : undefined,
  });
}

/** An execve exit event for a process. */
export function execve(p: ThreadInfo, res = 0): SyscallEvent {
  return ev({ type: "execve", res, args: { exe: p.exe, args: p.args, tid: p.tid, pid: p.pid, cwd: p.cwd, comm: p.comm }, proc: p });
}
