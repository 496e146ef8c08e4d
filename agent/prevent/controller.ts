// SPDX-License-Identifier: Apache-2.0
/**
 * PreventionController: decides, per cgroup, whether drift prevention is armed, and arms it in
 * the kernel probe.
 *
 * - `observe(e)` sits on the event path: one Map lookup per exec. A cgroup never seen before is
 *   decided once its container's metadata is known (the enricher fills it in place; bounded
 *   retries, then decided on what is known) and, when in scope, armed through the target (the
 *   probe's control channel).
 * - `start()` arms the containers that already run, from /proc, so a long-running container is
 *   protected before its next event; it never arms the agent's own cgroup, nor any host process.
 * - A sweep disarms cgroups that no longer exist, so the kernel map holds live containers only.
 * - Blocked execs arriving from the probe are counted and logged (rate-limited).
 *
 * Memory is bounded: decided cgroups (FIFO, `maxTracked`), pending decisions (`maxPending`).
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { ContainerInfo, SyscallEvent } from "../../rules/event.js";
import { kindNames, type PreventionPolicy } from "./policy.js";

/** Where arming goes: the kernel probe source. */
export interface PreventionTarget {
  /** Arms (`bits` ≠ 0) or disarms (0) a cgroup; false when refused (the map is full). */
  prevent(cgroupId: number, bits: number): boolean;
}

export interface PreventionControllerOptions {
  policy: PreventionPolicy;
  target: PreventionTarget;
  logger: Logger;
  /** The enricher's container resolution (for `start()`'s scan of running processes). */
  resolve?: ((cgroupPath: string, cgroupId: number, pid: number) => ContainerInfo) | undefined;
  /** Waits (bounded) for a container's metadata. */
  whenReady?: ((info: ContainerInfo) => Promise<void>) | undefined;
  /** cgroup v2 mount point (`/sys/fs/cgroup/unified` on hybrid hosts). */
  cgroupRoot: string;
  /** /proc of the host (default `/proc`). */
  procRoot?: string;
  /** Decided cgroups remembered (default 65536). */
  maxTracked?: number;
  /** Cgroups waiting for metadata at once (default 4096). */
  maxPending?: number;
  /** Metadata retries (every `retryMs`) before deciding on what is known (default 50 × 100 ms). */
  metaRetries?: number;
  retryMs?: number;
  /** Disarm sweep period, ms (default 30000; 0 = none). */
  sweepMs?: number;
}

interface Decision {
  bits: number;
  path: string | undefined;
}

const NOT_ARMED: Decision = { bits: 0, path: undefined };
const EXECVE = 1;
const EXECVEAT = 2;

/** The cgroup v2 path of a process from its /proc/<pid>/cgroup text (`0::/path`). */
export function unifiedPathOf(text: string): string | undefined {
  for (const line of text.split("\n")) if (line.startsWith("0::")) return line.slice(3).trim();
  return undefined;
}

export class PreventionController {
  private readonly log: Logger;
  private readonly decided = new Map<number, Decision>();
  private readonly pending = new Set<number>();
  private readonly maxTracked: number;
  private readonly maxPending: number;
  private readonly metaRetries: number;
  private readonly retryMs: number;
  private readonly never = new Set<number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private resolve: ((cgroupPath: string, cgroupId: number, pid: number) => ContainerInfo) | undefined;
  private refusedLogged = false;
  private blockedLogAt = 0;
  private blockedUnlogged = 0;
  readonly counters = {
    decided: 0,
    armed: 0,
    disarmed: 0,
    out_of_scope: 0,
    refused: 0,
    pending_full: 0,
    decided_without_metadata: 0,
    blocked_seen: 0,
    seeded: 0,
    from_runtime: 0,
  };

  constructor(private readonly opts: PreventionControllerOptions) {
    this.log = opts.logger;
    this.maxTracked = opts.maxTracked ?? 65_536;
    this.maxPending = opts.maxPending ?? 4096;
    this.metaRetries = opts.metaRetries ?? 50;
    this.retryMs = opts.retryMs ?? 100;
  }

  /**
   * Never arms the agent's own cgroup; arms running containers in scope; starts the sweep.
   * @param resolve container resolution for the scan of running processes (default: the option).
   */
  start(resolve = this.opts.resolve): void {
    this.stopped = false;
    this.resolve = resolve;
    const procRoot = this.opts.procRoot ?? "/proc";
    const self = this.cgroupOfPid("self", procRoot);
    if (self !== undefined && self.path !== "/") this.never.add(self.id);
    if (resolve !== undefined) {
      let names: string[] = [];
      try {
        names = readdirSync(procRoot);
      } catch (err) {
        this.log.warn({ err }, "cannot list processes; running containers are armed at their next event");
      }
      for (const name of names) {
        const pid = Number(name);
        if (!Number.isInteger(pid) || pid <= 0) continue;
        const cg = this.cgroupOfPid(name, procRoot);
        if (cg === undefined || cg.path === "/" || this.decided.has(cg.id) || this.pending.has(cg.id)) continue;
        this.counters.seeded++;
        this.decide(resolve(cg.path, cg.id, pid), cg.id, cg.path, 0);
      }
    }
    const every = this.opts.sweepMs ?? 30_000;
    if (every > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), every);
      this.sweepTimer.unref();
    }
    this.log.info({ selectors: this.opts.policy.selectors.map((s) => s.text), kinds: kindNames(this.opts.policy.defaultBits) }, "drift prevention enabled");
  }

  stop(): void {
    this.stopped = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * The event path: decides a cgroup the first time an exec is seen in it (every container's
   * first program is an exec); counts blocked execs. Only exec frames are used: they carry the
   * cgroup path read in the kernel, while other events of a process met before its exec may
   * pair the new cgroup id with the parent's (host) container.
   */
  observe(e: SyscallEvent): void {
    if (e.type !== EXECVE && e.type !== EXECVEAT) return;
    if (e.blocked === true) this.onBlocked(e);
    const id = e.proc.cgroupId;
    if (id === 0 || this.decided.has(id) || this.pending.has(id)) return;
    this.decide(e.proc.container, id, e.proc.cgroupPath, 0);
  }

  /**
   * Decides the cgroup of a container's process reported by the runtime (task created or
   * started): this can arm the container before its first exec. Needs the resolver of `start()`.
   */
  observePid(pid: number): void {
    const resolve = this.resolve;
    if (resolve === undefined || this.stopped || !Number.isInteger(pid) || pid <= 0) return;
    const cg = this.cgroupOfPid(String(pid), this.opts.procRoot ?? "/proc");
    if (cg === undefined || cg.path === "/" || this.decided.has(cg.id) || this.pending.has(cg.id)) return;
    this.counters.from_runtime++;
    this.decide(resolve(cg.path, cg.id, pid), cg.id, cg.path, 0);
  }

  /** Disarms cgroups whose directory is gone. */
  sweep(): void {
    for (const [id, d] of this.decided) {
      if (d.bits === 0 || d.path === undefined) continue;
      if (existsSync(join(this.opts.cgroupRoot, d.path))) continue;
      this.opts.target.prevent(id, 0);
      this.decided.delete(id);
      this.counters.disarmed++;
      this.log.debug({ cgroupId: id }, "prevention disarmed (cgroup gone)");
    }
  }

  /** Counters plus the number of cgroups armed now. */
  stats(): Record<string, number> {
    let armedNow = 0;
    for (const d of this.decided.values()) if (d.bits !== 0) armedNow++;
    return { ...this.counters, armed_now: armedNow, pending: this.pending.size };
  }

  /** True when the cgroup is armed (for tests and logs). */
  isArmed(cgroupId: number): boolean {
    return (this.decided.get(cgroupId)?.bits ?? 0) !== 0;
  }

  private cgroupOfPid(pid: string, procRoot: string): { path: string; id: number } | undefined {
    try {
      const path = unifiedPathOf(readFileSync(`${procRoot}/${pid}/cgroup`, "latin1"));
      // a path outside the agent's cgroup namespace ("/../..") cannot be found under its mount
      if (path === undefined || path.includes("/..")) return undefined;
      return { path, id: statSync(join(this.opts.cgroupRoot, path)).ino };
    } catch {
      return undefined; // the process is gone
    }
  }

  private remember(id: number, d: Decision): void {
    if (this.decided.size >= this.maxTracked) {
      // forget the oldest decision; a cgroup forgotten is decided again at its next event
      const first = this.decided.keys().next();
      if (first.done !== true) this.decided.delete(first.value);
    }
    this.decided.set(id, d);
  }

  private decide(info: ContainerInfo, id: number, path: string | undefined, attempt: number): void {
    if (this.stopped) return;
    if (info.id === "host" || this.never.has(id)) {
      this.remember(id, NOT_ARMED);
      return;
    }
    if (info.metaMissing && attempt < this.metaRetries) {
      if (this.pending.size >= this.maxPending) {
        this.counters.pending_full++;
        return; // decided at a later event
      }
      this.pending.add(id);
      const again = (): void => {
        this.pending.delete(id);
        this.decide(info, id, path, attempt + 1);
      };
      const later = (): void => {
        if (!info.metaMissing) again();
        else setTimeout(again, this.retryMs).unref();
      };
      if (attempt === 0 && this.opts.whenReady !== undefined) void this.opts.whenReady(info).then(later, later);
      else later();
      return;
    }
    this.counters.decided++;
    if (info.metaMissing) this.counters.decided_without_metadata++;
    const bits = this.opts.policy.bitsFor(info);
    if (bits === 0) {
      this.counters.out_of_scope++;
      this.remember(id, { bits: 0, path });
      return;
    }
    const fields = {
      cgroupId: id,
      kinds: kindNames(bits),
      selectors: this.opts.policy.matching(info),
      container: { id: info.id, name: info.name, image: info.image, namespace: info.k8s?.namespace },
    };
    if (!this.opts.target.prevent(id, bits)) {
      // fail open: the container runs unprotected; said loudly once, then at debug
      this.counters.refused++;
      this.remember(id, { bits: 0, path });
      if (!this.refusedLogged) {
        this.refusedLogged = true;
        this.log.error(fields, "prevention not armed: the probe's prevention map is full (raise prevention.max_cgroups)");
      } else this.log.debug(fields, "prevention not armed: map full");
      return;
    }
    this.counters.armed++;
    this.remember(id, { bits, path });
    this.log.info(fields, "prevention armed");
  }

  private onBlocked(e: SyscallEvent): void {
    this.counters.blocked_seen++;
    const now = Date.now();
    if (now - this.blockedLogAt < 1000) {
      this.blockedUnlogged++;
      return;
    }
    this.blockedLogAt = now;
    const more = this.blockedUnlogged;
    this.blockedUnlogged = 0;
    const p = e.proc;
    this.log.warn(
      { blockedSinceLastLog: more, event: { pid: p.pid, exepath: p.exepath.slice(0, 512), container: p.container.id, image: p.container.image } },
      "drift blocked in the kernel",
    );
  }
}
