// SPDX-License-Identifier: Apache-2.0
/**
 * The kernel event source: runs `vigil-probe` (native-bridge/) and feeds its frames to an
 * {@link EventAssembler} (decode, process/fd state, container enrichment), which hands every
 * event to `onEvent` as a {@link SyscallEvent}.
 *
 * - `start()` fills the process table from /proc, spawns the probe with the syscall set and
 *   `--exclude-pid <agent pid>`, and resolves when the probe reports ready; it rejects with a
 *   {@link ProbeError} whose message says what is missing and how to fix it.
 * - If the probe dies later it is logged, restarted with exponential backoff, and the gap is
 *   counted (`restarts`, `gap_ms`).
 * - `setSyscalls()` retunes the running probe (attach/detach) without a restart.
 * - Kernel ring-buffer drops arrive in the probe's stats frames: counted (`kernel_drops`) and
 *   logged once per burst.
 * - `prevent()` arms (or disarms) drift prevention for a cgroup in the probe; the armed set is
 *   sent again to a restarted probe. The probe's prevention counters are in `stats()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { KernelFilters } from "../../rules/compile/pushdown.js";
import type { ResultFilters } from "../../rules/compile/result-filter.js";
import { CLONE_FAMILY, eventByName } from "../../rules/event-table.js";
import type { SyscallEvent } from "../../rules/event.js";
import { EventAssembler } from "../assembler.js";
import type { ControlInfo, PreventInfo } from "../decode/index.js";
import type { ContainerResolver, EventState } from "../state/index.js";
import { ProbeError } from "./ebpf-errors.js";
import { kernelFilterLines } from "./kernel-filter.js";
import { formatObserved, parseObservedLine, type ObservedSyscalls } from "./probe-observed.js";

/** Options of {@link KernelEventStream}. */
export interface KernelEventStreamOptions {
  /** Falco event names to capture; names the probe does not know are ignored. */
  syscalls: string[];
  /** Clone-family names of which only the new task's side is wanted (FORMAT.md `clone:child`). */
  childOnly?: readonly string[];
  /** Names of which only successful or only failed calls are wanted (FORMAT.md `mount:fail`, "Result filters"). */
  resultOnly?: ResultFilters | undefined;
  /** Path of vigil-probe (default `<repo>/native-bridge/build/vigil-probe`). */
  probePath?: string;
  logger: Logger;
  resolveContainer?: ContainerResolver;
  onEvent: (e: SyscallEvent) => void;
  /**
   * Rule predicates pushed into the kernel (open family): events no rule can match stay there.
   * Absent: every event of the captured types is sent.
   */
  kernelFilters?: KernelFilters;
  /** Extra tgids the probe must not report (the agent's own pid is always excluded). */
  excludePids?: number[];
  /** Extra loader arguments (e.g. `--ringbuf-mb 16`). */
  probeArgs?: string[];
  /** Fill the process table from /proc at start (default true). */
  seedFromProc?: boolean;
  /** Most time to wait for the probe to attach, ms (default 60000). */
  readyTimeoutMs?: number;
  /**
   * Called when the kernel starts dropping events (once per burst, with the new drops and the
   * total): the pipeline can raise an internal alert from it.
   */
  onDrops?: (info: { drops: number; total: number }) => void;
  /** Most cgroups armed for prevention at once (the probe's map size; default 4096). */
  preventMax?: number;
  /** Restart backoff bounds, ms (default 500 .. 30000). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/** Default location of the loader, resolved from this module (works from sources and dist/). */
export function defaultProbePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = resolve(dir, "native-bridge", "build", "vigil-probe");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "native-bridge", "build", "vigil-probe");
}

/**
 * The probe's `--syscalls` list: the Falco names it can capture, from the event table (procexit
 * included); a clone-family name in `childOnly` as `name:child` (only the child's side), a name
 * in `resultOnly` as `name:ok` or `name:fail` (only successful or only failed calls) or `name:sock`
 * (write, writev: only calls on a socket fd) or `name:sockjson` (and data starting with `{`).
 */
export function probeSyscalls(names: readonly string[], childOnly: readonly string[] = [], resultOnly?: ResultFilters): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const spec = eventByName(n);
    if (spec === undefined || spec.code === 0) continue;
    const res = resultOnly?.get(spec.name);
    if (CLONE_FAMILY.includes(spec.name) && childOnly.includes(spec.name)) out.add(`${spec.name}:child`);
    else if (res !== undefined) out.add(`${spec.name}:${res}`);
    else out.add(spec.name);
  }
  return [...out].sort();
}

/** The kernel probe as an event stream: spawn, assemble, events. */
export class KernelEventStream {
  private readonly assembler: EventAssembler;
  private readonly log: Logger;
  private readonly probePath: string;
  private syscalls: string[];
  private filterLines: string[];
  private child: ChildProcess | undefined;
  private stopping = false;
  private ready = false;
  private backoff: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private diedAt = 0;
  private dropsBase = 0;
  private dropsLast = 0;
  private dropBurst = false;
  private preventBase = 0;
  private lastStats: ControlInfo | undefined;
  private lastPrevent: PreventInfo | undefined;
  /** cgroup id → prevention bits armed in the probe (sent again after a restart). */
  private readonly armed = new Map<number, number>();
  private readonly counters = {
    restarts: 0,
    gap_ms: 0,
    kernel_drops: 0,
    kernel_events: 0,
    kernel_filtered: 0,
    event_errors: 0,
    probe_stderr_lines: 0,
  };

  constructor(private readonly opts: KernelEventStreamOptions) {
    this.log = opts.logger.child({ component: "ebpf" });
    this.probePath = opts.probePath ?? defaultProbePath();
    this.syscalls = probeSyscalls(opts.syscalls, opts.childOnly, opts.resultOnly);
    this.filterLines = kernelFilterLines(opts.kernelFilters);
    this.backoff = opts.backoffMinMs ?? 500;
    this.assembler = new EventAssembler({
      onEvent: opts.onEvent,
      resolveContainer: opts.resolveContainer,
      onControl: this.onControl,
      onPrevent: (p) => (this.lastPrevent = p),
      onSync: this.onSync,
      onBuildError: this.onBuildError,
    });
  }

  /** The process and fd state the probe's events keep. */
  get state(): EventState {
    return this.assembler.state;
  }

  /** Seeds state, starts the probe, resolves once it has attached. */
  async start(): Promise<void> {
    this.stopping = false;
    if (!existsSync(this.probePath)) {
      throw new ProbeError(
        "PROBE_NOT_FOUND",
        `kernel probe not found at ${this.probePath} (vigil-probe): build it with 'make -C native-bridge' (needs clang, llvm, libbpf-dev, bpftool)`,
      );
    }
    if (this.opts.seedFromProc ?? true) {
      const n = this.assembler.seed();
      this.log.debug({ processes: n }, "process table filled from /proc");
    }
    await this.spawnProbe();
    this.sweepTimer = setInterval(() => this.assembler.sweep(), 1000);
    this.sweepTimer.unref();
  }

  /** Stops the probe (SIGTERM, then SIGKILL after 3 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    const c = this.child;
    this.child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((res) => {
      const kill = setTimeout(() => c.kill("SIGKILL"), 3000);
      c.once("exit", () => {
        clearTimeout(kill);
        res();
      });
      c.kill("SIGTERM");
    });
  }

  /** Changes the captured syscall set on the running probe. */
  async setSyscalls(names: string[], childOnly: readonly string[] = [], resultOnly?: ResultFilters): Promise<void> {
    this.syscalls = probeSyscalls(names, childOnly, resultOnly);
    const c = this.child;
    if (c?.stdin && !c.stdin.destroyed) {
      c.stdin.write(`syscalls ${this.syscalls.join(",")}\n`);
      this.log.info({ syscalls: this.syscalls.length }, "probe syscall set changed");
    }
  }

  /**
   * Arms drift prevention for a cgroup (`bits`: PreventBit kinds) or disarms it (`bits` 0). The
   * probe kills an exec of an armed kind in that cgroup or below it. Bounded by `preventMax`:
   * past it the request is refused (fail open) and false is returned.
   */
  prevent(cgroupId: number, bits: number): boolean {
    if (!Number.isSafeInteger(cgroupId) || cgroupId <= 0) return false;
    if (bits === 0) {
      if (!this.armed.delete(cgroupId)) return true;
    } else {
      if (!this.armed.has(cgroupId) && this.armed.size >= (this.opts.preventMax ?? 4096)) return false;
      this.armed.set(cgroupId, bits);
    }
    const c = this.child;
    if (c?.stdin && !c.stdin.destroyed) c.stdin.write(`prevent ${cgroupId} ${bits}\n`);
    return true;
  }

  /**
   * Replaces the pushed-down rule filters on the running probe (and on any restart). Resolves
   * once the probe has applied them and every control line sent before (syscall set changes
   * included), or after `syncTimeoutMs` (default 2000) when it does not answer.
   */
  setKernelFilters(filters: KernelFilters | undefined, syncTimeoutMs = 2000): Promise<void> {
    this.filterLines = kernelFilterLines(filters);
    const c = this.child;
    if (!c?.stdin || c.stdin.destroyed || !this.ready) return Promise.resolve();
    const seq = ++this.syncSeq;
    c.stdin.write(this.filterLines.join("\n") + `\nsync ${seq}\n`);
    this.log.info({ filteredTypes: filters === undefined ? 0 : [...filters.values()].filter((v) => v !== null).length }, "probe kernel filters changed");
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (this.syncWaiters.delete(seq)) this.log.warn({ seq }, "probe did not confirm the kernel filters in time");
        resolve();
      }, syncTimeoutMs);
      timer.unref();
      this.syncWaiters.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private syncSeq = 0;
  private readonly syncWaiters = new Map<number, () => void>();

  /** Lines are applied in order: an answer to N confirms every request up to N. */
  private readonly onSync = (seq: number): void => {
    for (const [k, done] of this.syncWaiters) {
      if (k > seq) continue;
      this.syncWaiters.delete(k);
      done();
    }
  };

  /** Counters of the source, decoder, state and kernel. */
  stats(): Record<string, number> {
    const out: Record<string, number> = { ...this.counters };
    for (const [k, v] of Object.entries(this.assembler.decodeStats())) out[`decode_${k}`] = v;
    for (const [k, v] of Object.entries(this.state.stats())) out[`state_${k}`] = v;
    if (this.lastStats) out["probe_programs"] = this.lastStats.programs;
    out["prevent_armed"] = this.armed.size;
    if (this.lastObserved) {
      out["syscalls_tracepoint"] = this.lastObserved.tracepoint;
      out["syscalls_raw"] = this.lastObserved.rawSyscalls.length;
      out["syscalls_missing"] = this.lastObserved.missing.length;
      out["syscalls_not_in_kernel"] = this.lastObserved.notInKernel.length;
    }
    if (this.lastPrevent) {
      out["prevent_blocked"] = this.preventBase + this.lastPrevent.blocked;
      out["prevent_signal_failed"] = this.lastPrevent.signalFailed;
      out["prevent_kernel_armed"] = this.lastPrevent.entries;
      out["prevent_map_full"] = this.lastPrevent.mapFull;
    }
    return out;
  }

  // ------------------------------------------------------------------ probe process

  private spawnProbe(): Promise<void> {
    const args = ["--syscalls", this.syscalls.join(","), "--exclude-pid", String(process.pid), "--control-stdin"];
    if (this.opts.preventMax !== undefined) args.push("--prevent-max", String(this.opts.preventMax));
    for (const p of this.opts.excludePids ?? []) args.push("--exclude-pid", String(p));
    args.push(...(this.opts.probeArgs ?? []));
    this.ready = false;
    this.assembler.reset();
    return new Promise<void>((resolveStart, rejectStart) => {
      let settled = false;
      let lastErr = "";
      const child = spawn(this.probePath, args, { stdio: ["pipe", "pipe", "pipe"] });
      this.child = child;
      const timer = setTimeout(() => {
        fail(new ProbeError("PROBE_START_TIMEOUT", `the kernel probe (vigil-probe) did not attach within ${this.opts.readyTimeoutMs ?? 60000} ms`));
        child.kill("SIGKILL");
      }, this.opts.readyTimeoutMs ?? 60000);
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        rejectStart(err);
      };
      this.onReadyOnce = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolveStart();
      };
      child.on("error", (err) => {
        fail(new ProbeError("PROBE_START_FAILED", `cannot run the kernel probe ${this.probePath} (vigil-probe): ${err.message}`, { cause: err }));
      });
      child.stdin.on("error", () => undefined);
      // read by the loader once it has attached; until then every event passes
      child.stdin.write(this.filterLines.join("\n") + "\n");
      child.stdout.on("data", (chunk: Buffer) => this.assembler.push(chunk));
      let errBuf = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (s: string) => {
        errBuf += s;
        let nl: number;
        while ((nl = errBuf.indexOf("\n")) >= 0) {
          const line = errBuf.slice(0, nl).trim();
          errBuf = errBuf.slice(nl + 1);
          if (line === "") continue;
          const observed = parseObservedLine(line);
          if (observed !== undefined) {
            this.onObserved(observed);
            continue;
          }
          this.counters.probe_stderr_lines++;
          lastErr = line;
          this.log.warn({ probe: { line: line.slice(0, 1000) } }, "probe message");
        }
        if (errBuf.length > 65536) errBuf = "";
      });
      child.on("exit", (code, signal) => {
        if (this.child === child) this.child = undefined;
        // a new probe gets the current lines at spawn: nobody waits for the dead one
        for (const done of this.syncWaiters.values()) done();
        this.syncWaiters.clear();
        if (!settled) {
          const why = lastErr !== "" ? lastErr : `exited with ${signal ?? `code ${code}`}`;
          fail(new ProbeError("PROBE_START_FAILED", why.startsWith("vigil-probe") ? why : `vigil-probe: ${why}`));
          return;
        }
        if (this.stopping) return;
        this.diedAt = Date.now();
        this.dropsBase += this.dropsLast;
        this.dropsLast = 0;
        this.preventBase += this.lastPrevent?.blocked ?? 0;
        this.lastPrevent = undefined;
        this.log.error({ code, signal, restartInMs: this.backoff }, "kernel probe died; restarting");
        this.scheduleRestart();
      });
    });
  }

  private onReadyOnce: (() => void) | undefined;

  private lastObserved: ObservedSyscalls | undefined;
  private lastObservedLine = "";

  /** How the probe observes the wanted syscalls: logged once at start, again only when it changes. */
  private onObserved(o: ObservedSyscalls): void {
    this.lastObserved = o;
    const line = formatObserved(o);
    if (line === this.lastObservedLine) return;
    this.lastObservedLine = line;
    const fields = { tracepoint: o.tracepoint, raw_syscalls: o.rawSyscalls, missing: o.missing, not_in_kernel: o.notInKernel };
    if (o.missing.length > 0) this.log.warn(fields, line);
    else this.log.info(fields, line);
  }

  /** How the wanted syscalls are observed (the probe's last report), once the probe has attached. */
  get observed(): ObservedSyscalls | undefined {
    return this.lastObserved;
  }

  private scheduleRestart(): void {
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.backoffMaxMs ?? 30000);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.counters.restarts++;
      this.spawnProbe().then(
        () => {
          this.backoff = this.opts.backoffMinMs ?? 500;
        },
        (err: unknown) => {
          this.log.error({ err }, "kernel probe restart failed");
          if (!this.stopping) this.scheduleRestart();
        },
      );
    }, delay);
    this.restartTimer.unref();
  }

  // ------------------------------------------------------------------ frames

  private readonly onBuildError = (err: unknown): void => {
    this.counters.event_errors++;
    if (this.counters.event_errors === 1) this.log.error({ err }, "event state failed");
  };

  /** Control frames, after the assembler set the state's clock from them. */
  private readonly onControl = (c: ControlInfo): void => {
    if (c.type === "ready") {
      if (this.diedAt > 0) {
        this.counters.gap_ms += Date.now() - this.diedAt;
        this.diedAt = 0;
      }
      this.ready = true;
      this.log.info({ hooks: c.programs, syscalls: this.syscalls.length }, "kernel probe attached");
      // a (re)started probe has an empty prevention map
      const stdin = this.child?.stdin;
      if (this.armed.size > 0 && stdin && !stdin.destroyed) {
        let lines = "";
        for (const [id, bits] of this.armed) lines += `prevent ${id} ${bits}\n`;
        stdin.write(lines);
        this.log.info({ cgroups: this.armed.size }, "prevention re-armed in the probe");
      }
      this.onReadyOnce?.();
      this.onReadyOnce = undefined;
      return;
    }
    this.lastStats = c;
    this.counters.kernel_events = c.events;
    this.counters.kernel_filtered = c.filtered;
    if (c.drops > this.dropsLast) {
      if (!this.dropBurst) {
        const info = { drops: c.drops - this.dropsLast, total: this.dropsBase + c.drops };
        this.log.warn(info, "kernel ring buffer drops");
        try {
          this.opts.onDrops?.(info);
        } catch (err) {
          this.log.error({ err }, "drop callback failed");
        }
      }
      this.dropBurst = true;
    } else if (this.dropBurst) {
      this.dropBurst = false;
      this.log.info({ total: this.dropsBase + c.drops }, "kernel ring buffer drops stopped");
    }
    this.dropsLast = c.drops;
    this.counters.kernel_drops = this.dropsBase + c.drops;
  };

  /** Pid of the running probe process, if any. */
  get probePid(): number | undefined {
    return this.child?.pid;
  }

  /** True once the current probe instance has attached. */
  get attached(): boolean {
    return this.ready;
  }
}
