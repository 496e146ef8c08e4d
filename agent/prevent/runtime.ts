// SPDX-License-Identifier: Apache-2.0
/**
 * Prevention as the agent runs it: the policy from the configuration, the controller, and the
 * glue to the kernel source (its event path and its control channel). Kept here so the agent
 * command only creates it, hands it to the ebpf source and exports its stats.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { ContainerInfo, SyscallEvent } from "../../rules/event.js";
import { PreventionController } from "./controller.js";
import { PreventionPolicy, type SelectorInput } from "./policy.js";

/** The prevention section of the configuration. */
export interface PreventionConfig {
  enabled: boolean;
  block: readonly string[];
  scope: readonly (string | SelectorInput)[];
  max_cgroups: number;
}

/** What prevention needs of the kernel source. */
export interface PreventingSource {
  prevent(cgroupId: number, bits: number): boolean;
  stats(): Record<string, number>;
}

/** The cgroup v2 mount under the host's cgroup root: `unified` on hybrid hosts. */
export function cgroup2RootUnder(cgroupRoot: string): string {
  const unified = join(cgroupRoot, "unified");
  return existsSync(join(unified, "cgroup.procs")) ? unified : cgroupRoot;
}

/** The kernel source's prevention counters, as prevention stats. */
const KERNEL_STATS: readonly [string, string][] = [
  ["prevent_blocked", "kernel_blocked"],
  ["prevent_signal_failed", "kernel_signal_failed"],
  ["prevent_kernel_armed", "kernel_armed"],
  ["prevent_map_full", "kernel_map_full"],
];

export class PreventionRuntime {
  readonly controller: PreventionController;
  private source: PreventingSource | undefined;
  private readonly log: Logger;

  constructor(
    readonly config: PreventionConfig,
    opts: { logger: Logger; whenReady?: ((info: ContainerInfo) => Promise<void>) | undefined; host: { cgroup: string; proc: string } },
  ) {
    this.log = opts.logger.child({ component: "prevention" });
    this.controller = new PreventionController({
      policy: new PreventionPolicy({ block: config.block, scope: config.scope }),
      target: { prevent: (id, bits) => this.source?.prevent(id, bits) ?? false },
      logger: this.log,
      whenReady: opts.whenReady,
      cgroupRoot: cgroup2RootUnder(opts.host.cgroup),
      procRoot: opts.host.proc,
    });
  }

  /** Wraps the source's event callback: the controller sees every exec first. */
  wrap(onEvent: (e: SyscallEvent) => void): (e: SyscallEvent) => void {
    const c = this.controller;
    return (e) => {
      c.observe(e);
      onEvent(e);
    };
  }

  /**
   * Binds to the running kernel source and arms the containers already running.
   * @param resolve the enricher's cgroup → container resolution.
   */
  attach(source: PreventingSource, resolve: ((cgroupPath: string, cgroupId: number, pid: number) => ContainerInfo) | undefined): void {
    this.source = source;
    if (resolve === undefined) this.log.warn("no container resolution: running containers are armed at their next exec");
    this.controller.start(resolve);
  }

  stop(): void {
    this.controller.stop();
  }

  /** Controller counters plus the probe's prevention counters. */
  stats(): Record<string, number> {
    const out: Record<string, number> = { ...this.controller.stats() };
    const s = this.source?.stats();
    if (s !== undefined) {
      for (const [from, to] of KERNEL_STATS) {
        const v = s[from];
        if (v !== undefined) out[to] = v;
      }
    }
    return out;
  }
}
