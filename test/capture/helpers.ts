// SPDX-License-Identifier: Apache-2.0
/** Builds SyscallEvents for capture tests (the model the real sources produce). */
import type { ArgValue, ContainerInfo, FdInfo, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { eventByName } from "../../rules/event-table.js";

export function container(id: string, extra: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id,
    fullId: id.padEnd(64, "0"),
    name: id === "host" ? undefined : `ctr-${id}`,
    type: id === "host" ? "host" : "containerd",
    image: id === "host" ? undefined : "docker.io/library/busybox:1.36",
    imageRepository: id === "host" ? undefined : "docker.io/library/busybox",
    imageTag: id === "host" ? undefined : "1.36",
    imageDigest: undefined,
    imageId: undefined,
    privileged: false,
    hostPid: undefined,
    hostNetwork: undefined,
    hostIpc: undefined,
    user: undefined,
    labels: new Map([["app", "web"]]),
    mounts: [],
    startTs: undefined,
    k8s:
      id === "host"
        ? undefined
        : {
            podName: "web-1",
            namespace: "prod",
            podUid: "uid-1",
            sandboxId: undefined,
            podLabels: new Map([["tier", "front"]]),
            podIp: undefined,
            containerName: "web",
          },
    metaMissing: false,
    ...extra,
  };
}

export function proc(c: ContainerInfo, over: Partial<ThreadInfo> = {}): ThreadInfo {
  const parent: ThreadInfo | undefined = over.parent;
  return {
    tid: 4242,
    pid: 4242,
    ppid: 4000,
    vpid: 7,
    vtid: 7,
    sid: 0,
    pgid: 4242,
    vpgid: 7,
    comm: "cat",
    exe: "cat",
    exepath: "/bin/cat",
    args: ["/etc/shadow"],
    env: [],
    cwd: "/root",
    tty: 0,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    loginuid: 0xffffffff,
    startTs: 1000,
    execTs: 1000,
    cgroupId: 1,
    exeUpperLayer: false,
    exeLowerLayer: true,
    exeFromMemfd: false,
    exeWritable: false,
    exeIno: undefined,
    exeInoCtime: undefined,
    exeInoMtime: undefined,
    capEffective: undefined,
    capPermitted: undefined,
    capInheritable: undefined,
    pidnsInitStartTs: undefined,
    user: { uid: 0, name: "root", homedir: "/root", shell: "/bin/sh" },
    group: { gid: 0, name: "root" },
    loginUser: undefined,
    parent,
    container: c,
    complete: true,
    ...over,
  };
}

let num = 0;
export function event(type: string, args: ArgValue[], p: ThreadInfo, fd?: Partial<FdInfo>): SyscallEvent {
  const spec = eventByName(type);
  if (!spec) throw new Error(`unknown event ${type}`);
  num++;
  return {
    num,
    sec: 1795000000 + num,
    nsec: 123456789,
    bootNs: num * 1000,
    type: spec.code,
    cpu: 1,
    res: typeof args[0] === "number" ? args[0] : 0,
    args,
    proc: p,
    fd: fd
      ? {
          num: 3,
          type: "file",
          typechar: "f",
          name: "",
          ino: undefined,
          dev: undefined,
          isUpperLayer: undefined,
          l4proto: undefined,
          tuple: undefined,
          isServer: undefined,
          connected: undefined,
          openFlags: 0,
          ...fd,
        }
      : undefined,
    source: "syscall",
  };
}

/** An openat of `path` for reading, as the probe reports it. */
export function openat(p: ThreadInfo, path: string, flags = 0): SyscallEvent {
  return event("openat", [3, -100, path, flags, 0, 2049, 12345], p, { name: path, openFlags: flags });
}
