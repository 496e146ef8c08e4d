// SPDX-License-Identifier: Apache-2.0
/** Builds SyscallEvents as the pipeline hands them to FIM (real pids, real paths; test data only). */
import { eventByName } from "../../rules/event-table.js";
import type { ArgValue, ContainerInfo, FdInfo, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import type { Alert } from "../../proto/index.js";

export const HOST: ContainerInfo = {
  id: "host",
  fullId: "host",
  name: undefined,
  type: "host",
  image: undefined,
  imageRepository: undefined,
  imageTag: undefined,
  imageDigest: undefined,
  imageId: undefined,
  privileged: undefined,
  hostPid: undefined,
  hostNetwork: undefined,
  hostIpc: undefined,
  user: undefined,
  labels: new Map(),
  mounts: [],
  startTs: undefined,
  k8s: undefined,
  metaMissing: false,
};

export function thread(pid: number, cwd: string, container: ContainerInfo = HOST, parent?: ThreadInfo): ThreadInfo {
  return {
    tid: pid,
    pid,
    ppid: parent?.pid ?? 1,
    vpid: pid,
    vtid: pid,
    sid: pid,
    pgid: pid,
    vpgid: pid,
    comm: "test",
    exe: "test",
    exepath: "/usr/bin/test",
    args: [],
    env: [],
    cwd,
    tty: 0,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    loginuid: 0xffffffff,
    startTs: 0,
    execTs: 0,
    cgroupId: 0,
    exeUpperLayer: false,
    exeLowerLayer: false,
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
    container,
    complete: true,
  };
}

export function fileFd(num: number, name: string): FdInfo {
  return {
    num,
    type: "file",
    typechar: "f",
    name,
    ino: undefined,
    dev: undefined,
    isUpperLayer: undefined,
    l4proto: undefined,
    tuple: undefined,
    isServer: undefined,
    connected: undefined,
    openFlags: undefined,
  };
}

/** An event of Falco name `type` with params given by name. */
export function event(type: string, params: Record<string, ArgValue>, proc: ThreadInfo, fd?: FdInfo, res = 0): SyscallEvent {
  const spec = eventByName(type);
  if (spec === undefined) throw new Error(`no event ${type}`);
  const args: ArgValue[] = spec.params.map((p) => params[p.name]);
  return { num: 1, sec: 0, nsec: 0, bootNs: 0, type: spec.code, cpu: 0, res, args, proc, fd, source: "syscall" };
}

export function alert(rule = "FIM Watched File Written"): Alert {
  return { id: "0", time: "", rule, priority: "Notice", source: "syscall", hostname: "h", output: "x", output_fields: {}, tags: ["fim"] };
}
