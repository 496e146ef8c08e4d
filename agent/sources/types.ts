// SPDX-License-Identifier: Apache-2.0
/**
 * The contract between the pipeline and its event sources (kernel probe, vigil-trace sockets,
 * replay): what a source is given and what it offers. Sources import it from here, not from the
 * pipeline, which only the command line builds.
 */
import type { Logger } from "pino";
import type { KernelFilters } from "../../rules/compile/pushdown.js";
import type { ResultFilters } from "../../rules/compile/result-filter.js";
import type { ContainerInfo, SyscallEvent } from "../../rules/event.js";

/**
 * What a source needs from the pipeline. A source of probe frames gives `onEvent` and
 * `resolveContainer` to an EventAssembler (../assembler.ts) rather than decoding itself.
 */
export interface SourceContext {
  /** Falco event names the rules (and the state) need; the probe filters the rest in the kernel. */
  syscalls: string[];
  /** Clone-family names among them that only the state needs (the child's side is enough). */
  childOnly: string[];
  /** Result filters (names whose successful or failed calls only are needed); undefined when kernel filtering is off. */
  resultOnly?: ResultFilters | undefined;
  /** Rule predicates the probe can evaluate (open family); undefined when push-down is off. */
  kernelFilters: KernelFilters | undefined;
  logger: Logger;
  onEvent: (e: SyscallEvent) => void;
  resolveContainer: ((cgroupPath: string, cgroupId: number, pid: number) => ContainerInfo) | undefined;
}

/** Every source implements this. */
export interface EventSource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): Record<string, number>;
  /** Retunes the kernel filter after a rules reload (sources without a filter ignore it). */
  setSyscalls?(names: string[], childOnly: string[], resultOnly?: ResultFilters): Promise<void>;
  /** Replaces the pushed-down rule predicates after a rules reload. */
  setKernelFilters?(filters: KernelFilters | undefined): Promise<void>;
}
