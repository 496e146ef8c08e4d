// SPDX-License-Identifier: Apache-2.0
/**
 * The facts the rules use from a container's OCI runtime spec (containerd stores it as JSON in
 * `Container.spec`): privileged, host namespaces, user, host-path mounts, annotations. The spec
 * comes from whoever created the container, so every field is checked before use and sizes
 * are bounded.
 */
import { readFileSync } from "node:fs";
import type { MountInfo } from "../../rules/event.js";

/** What {@link specFacts} extracts. */
export interface SpecFacts {
  privileged: boolean;
  hostPid: boolean;
  hostNetwork: boolean;
  hostIpc: boolean;
  /** `username` when the spec names one, else the numeric uid as text. */
  user: string | undefined;
  /** Bind mounts only (the host paths a container sees), as Falco's `container.mounts`. */
  mounts: MountInfo[];
  annotations: Map<string, string>;
}

/** Capabilities 0..37 (CAP_CHOWN..CAP_AUDIT_READ): every kernel since 4.x has them all. */
const ALL_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
] as const;

const PROPAGATIONS = new Set(["shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"]);
const MAX_MOUNTS = 512;
const MAX_STR = 4096;

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length <= MAX_STR ? v : undefined;
}

let hostCapsCache: readonly string[] | undefined;

/**
 * The capabilities a runtime can grant here: those of ALL_CAPS in this process's bounding set
 * (`CapBnd` in /proc/self/status). `--privileged` grants "all current capabilities" of the
 * runtime, so on a host whose root lacks one (CAP_SYS_RESOURCE on some VMs) a privileged
 * container lacks it too.
 */
function hostCaps(): readonly string[] {
  if (hostCapsCache !== undefined) return hostCapsCache;
  let bnd = -1n;
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "latin1"));
    if (m?.[1] !== undefined) bnd = BigInt(`0x${m[1]}`);
  } catch {
    // not Linux or no /proc: assume every capability
  }
  hostCapsCache = ALL_CAPS.filter((_c, i) => bnd < 0n || ((bnd >> BigInt(i)) & 1n) === 1n);
  return hostCapsCache;
}

/**
 * Privileged the way runtimes make it (`--privileged`, CRI `privileged: true`): every capability
 * the host can grant in the bounding set, and no masked paths.
 */
function isPrivileged(process: Obj | undefined, linux: Obj | undefined): boolean {
  const bounding = new Set(strings(obj(process?.["capabilities"])?.["bounding"]));
  for (const c of hostCaps()) if (!bounding.has(c)) return false;
  return strings(linux?.["maskedPaths"]).length === 0;
}

/** A namespace is the host's when the spec does not ask for a new one (no entry of that type). */
function hostNamespace(linux: Obj | undefined, type: string): boolean {
  const nss = linux?.["namespaces"];
  if (!Array.isArray(nss)) return false;
  for (const n of nss) if (obj(n)?.["type"] === type) return false;
  return true;
}

/** Extracts the rule-relevant facts from a parsed OCI runtime spec; never throws. */
export function specFacts(spec: unknown): SpecFacts {
  const root = obj(spec);
  const process = obj(root?.["process"]);
  const linux = obj(root?.["linux"]);
  const user = obj(process?.["user"]);
  const username = str(user?.["username"]);
  const uid = user?.["uid"];
  const mounts: MountInfo[] = [];
  const rawMounts = root?.["mounts"];
  if (Array.isArray(rawMounts)) {
    for (const m of rawMounts.slice(0, MAX_MOUNTS)) {
      const mo = obj(m);
      if (mo === undefined) continue;
      const options = strings(mo["options"]);
      const isBind = mo["type"] === "bind" || options.includes("bind") || options.includes("rbind");
      const source = str(mo["source"]);
      const dest = str(mo["destination"]);
      if (!isBind || source === undefined || dest === undefined) continue;
      mounts.push({
        source,
        dest,
        mode: "",
        rw: !options.includes("ro"),
        propagation: options.find((o) => PROPAGATIONS.has(o)) ?? "",
      });
    }
  }
  const annotations = new Map<string, string>();
  const ann = obj(root?.["annotations"]);
  if (ann !== undefined) {
    for (const [k, v] of Object.entries(ann)) {
      const s = str(v);
      if (s !== undefined && k.length <= MAX_STR) annotations.set(k, s);
    }
  }
  return {
    privileged: isPrivileged(process, linux),
    hostPid: hostNamespace(linux, "pid"),
    hostNetwork: hostNamespace(linux, "network"),
    hostIpc: hostNamespace(linux, "ipc"),
    user: username !== undefined && username !== "" ? username : typeof uid === "number" ? String(uid) : undefined,
    mounts,
    annotations,
  };
}
