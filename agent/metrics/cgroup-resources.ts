// SPDX-License-Identifier: Apache-2.0
/**
 * Per-container CPU and memory read from cgroups at scrape time (crypto-mining and DoS show up
 * there first). Containers are found in the cgroup v2 hierarchy by their runtime's naming
 * (`/k8s.io/<id>`, `cri-containerd-<id>.scope`, `docker-<id>.scope`, `crio-<id>.scope`,
 * `libpod-<id>.scope`); CPU comes from v2 `cpu.stat` (usage_usec) or v1 `cpuacct.usage`, memory
 * from v2 `memory.current` or v1 `memory.usage_in_bytes`. On hybrid hosts (v2 at
 * `<root>/unified`, controllers on v1) the v1 path is taken from a member process's
 * `/proc/<pid>/cgroup`, since it may differ from the v2 path.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const ID_RE = /^(?:cri-containerd-|docker-|crio-|libpod-)?([0-9a-f]{64})(?:\.scope)?$/;

/** One container's cgroup as found in the hierarchy. */
export interface ContainerCgroup {
  /** 12-char container ID. */
  id: string;
  /** Path relative to the cgroup v2 root, starting with `/`. */
  path: string;
}

/** CPU and memory of one container. */
export interface ContainerResources extends ContainerCgroup {
  /** Total CPU time (user + system), seconds; undefined when unreadable. */
  cpuSeconds: number | undefined;
  /** Memory charged to the cgroup, bytes; undefined when unreadable. */
  memoryBytes: number | undefined;
}

export interface CgroupResourceOptions {
  /** Where the host's /sys/fs/cgroup is seen (in the DaemonSet: /host/sys/fs/cgroup). */
  cgroupRoot?: string;
  /** Where the host's /proc is seen. */
  procRoot?: string;
  /** At most this many containers are reported (the rest are counted in `truncated`). */
  maxContainers?: number;
  /** The hierarchy walk stops at this depth. */
  maxDepth?: number;
  /** Containers are rediscovered at most this often. */
  rescanMs?: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

function readNumber(path: string): number | undefined {
  const t = readText(path);
  if (t === undefined) return undefined;
  const n = Number(t.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** Reads container CPU and memory from the host's cgroup hierarchies. */
export class CgroupResources {
  private readonly root: string;
  private readonly proc: string;
  private readonly maxContainers: number;
  private readonly maxDepth: number;
  private readonly rescanMs: number;
  /** The cgroup v2 mount, or undefined on a v1-only host. */
  readonly v2Root: string | undefined;
  private readonly v1Cpu: string | undefined;
  private readonly v1Mem: string | undefined;
  private cached: ContainerCgroup[] = [];
  private scannedAt = -Infinity;
  readonly counters = { scans: 0, read_errors: 0, truncated: 0 };

  constructor(opts: CgroupResourceOptions = {}) {
    this.root = opts.cgroupRoot ?? "/sys/fs/cgroup";
    this.proc = opts.procRoot ?? "/proc";
    this.maxContainers = opts.maxContainers ?? 2000;
    this.maxDepth = opts.maxDepth ?? 6;
    this.rescanMs = opts.rescanMs ?? 10_000;
    if (existsSync(join(this.root, "cgroup.controllers"))) this.v2Root = this.root;
    else if (existsSync(join(this.root, "unified", "cgroup.procs"))) this.v2Root = join(this.root, "unified");
    this.v1Cpu = ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"].map((d) => join(this.root, d)).find((d) => existsSync(join(d, "cpuacct.usage")));
    this.v1Mem = existsSync(join(this.root, "memory", "memory.usage_in_bytes")) ? join(this.root, "memory") : undefined;
  }

  /** Container cgroups, rediscovered at most every `rescanMs`. */
  containers(now = Date.now()): readonly ContainerCgroup[] {
    if (now - this.scannedAt < this.rescanMs) return this.cached;
    this.scannedAt = now;
    this.counters.scans++;
    const out: ContainerCgroup[] = [];
    const base = this.v2Root ?? this.v1Mem ?? this.v1Cpu;
    if (base !== undefined) this.walk(base, "", 0, out);
    this.cached = out;
    return out;
  }

  private walk(abs: string, rel: string, depth: number, out: ContainerCgroup[]): void {
    if (depth > this.maxDepth) return;
    let names: string[];
    try {
      names = readdirSync(abs, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const name of names) {
      const m = ID_RE.exec(name);
      if (m) {
        if (out.length >= this.maxContainers) {
          this.counters.truncated++;
          continue;
        }
        out.push({ id: (m[1] as string).slice(0, 12), path: `${rel}/${name}` });
        // a container's own children (systemd sub-scopes) are part of it
        continue;
      }
      this.walk(join(abs, name), `${rel}/${name}`, depth + 1, out);
    }
  }

  /** The v1 path of `ctrl` for a v2 cgroup: from a member process, else the same path. */
  private v1Path(v2Path: string, ctrl: string): string {
    if (this.v2Root === undefined) return v2Path;
    const procs = readText(join(this.v2Root, v2Path, "cgroup.procs"));
    const pid = procs?.split("\n", 1)[0]?.trim();
    if (pid) {
      const lines = readText(join(this.proc, pid, "cgroup"))?.split("\n") ?? [];
      for (const l of lines) {
        const parts = l.split(":");
        if (parts.length >= 3 && (parts[1] ?? "").split(",").includes(ctrl)) return parts.slice(2).join(":");
      }
    }
    return v2Path;
  }

  /** CPU and memory of one container cgroup. */
  read(c: ContainerCgroup): ContainerResources {
    let cpu: number | undefined;
    let mem: number | undefined;
    if (this.v2Root !== undefined) {
      const stat = readText(join(this.v2Root, c.path, "cpu.stat"));
      const m = stat ? /^usage_usec (\d+)$/m.exec(stat) : null;
      if (m) cpu = Number(m[1]) / 1e6;
      mem = readNumber(join(this.v2Root, c.path, "memory.current"));
    }
    if (cpu === undefined && this.v1Cpu !== undefined) {
      const ns = readNumber(join(this.v1Cpu, this.v1Path(c.path, "cpuacct"), "cpuacct.usage"));
      if (ns !== undefined) cpu = ns / 1e9;
    }
    if (mem === undefined && this.v1Mem !== undefined) mem = readNumber(join(this.v1Mem, this.v1Path(c.path, "memory"), "memory.usage_in_bytes"));
    if (cpu === undefined && mem === undefined) this.counters.read_errors++;
    return { ...c, cpuSeconds: cpu, memoryBytes: mem };
  }

  /** Every container's resources. */
  readAll(now = Date.now()): ContainerResources[] {
    return this.containers(now).map((c) => this.read(c));
  }
}
