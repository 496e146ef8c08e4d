// SPDX-License-Identifier: Apache-2.0
/**
 * The FIM baseline scan's budget: at most `bytesPerSecond` bytes hashed and at most `cpuPercent`
 * of one core, so the start-up scan never competes with the event path.
 *
 * Both limits are kept as a "theoretical arrival time" (a token bucket written as virtual time):
 * each charge pushes a ready-at instant forward by cost / rate, and the scan sleeps until that
 * instant has come. A ready-at instant that lags the clock is pulled up to `now - burstMs`, so
 * an idle spell never banks more than a short burst. CPU is measured with `process.cpuUsage()`
 * around each step of the scan (user + system, the whole process, so work the event path does
 * while the scan waits on I/O is charged to the scan too: when the agent is busy the scan backs
 * off further, which is what a lower-priority task should do).
 */

/** Clocks, injectable for tests. */
export interface BudgetClock {
  /** Wall time, ms (monotonic). */
  now(): number;
  /** CPU time of the process, µs (user + system). */
  cpuMicros(): number;
  sleep(ms: number): Promise<void>;
}

export interface ScanBudgetOptions {
  /** Bytes hashed per second at most; 0 = no byte limit. */
  bytesPerSecond: number;
  /** Percent of one core at most (1–100); 100 = no CPU limit. */
  cpuPercent: number;
  /** Longest burst either limit lets through after an idle spell, ms (default 250). */
  burstMs?: number;
  /** Debts shorter than this only yield to the event loop; longer ones sleep (default 10 ms). */
  minSleepMs?: number;
  clock?: BudgetClock;
}

const realClock: BudgetClock = {
  now: () => performance.now(),
  cpuMicros: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
};

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** Throttles the scan; one instance per scan. */
export class ScanBudget {
  private readonly clock: BudgetClock;
  private readonly burstMs: number;
  private readonly minSleepMs: number;
  private bytesReadyAt: number;
  private cpuReadyAt: number;
  private stepCpu = -1;
  /** Times the scan slept, and for how long in all (ms). */
  waits = 0;
  waitedMs = 0;
  /** CPU charged to the scan, µs. */
  cpuMicros = 0;

  constructor(private readonly opts: ScanBudgetOptions) {
    validateBudget(opts.bytesPerSecond, opts.cpuPercent);
    this.clock = opts.clock ?? realClock;
    this.burstMs = opts.burstMs ?? 250;
    // a timer per file costs more CPU than a small scan step: small debts add up to one longer sleep
    this.minSleepMs = Math.min(opts.minSleepMs ?? 10, this.burstMs);
    const t = this.clock.now();
    this.bytesReadyAt = t;
    this.cpuReadyAt = t;
  }

  /** Marks the start of a step whose CPU is charged by {@link endStep}. */
  beginStep(): void {
    this.stepCpu = this.clock.cpuMicros();
  }

  /** Charges the CPU used since {@link beginStep}, then waits as the budget says (always yields). */
  async endStep(): Promise<void> {
    if (this.stepCpu >= 0) {
      const used = Math.max(0, this.clock.cpuMicros() - this.stepCpu);
      this.stepCpu = -1;
      this.cpuMicros += used;
      if (this.opts.cpuPercent < 100) {
        const now = this.clock.now();
        // µs of CPU at p % of a core need used / p * 100 µs of wall time = used / (10 p) ms
        this.cpuReadyAt = Math.max(this.cpuReadyAt, now - this.burstMs) + used / (10 * this.opts.cpuPercent);
      }
    }
    await this.waitUntilReady();
  }

  /** Charges `n` bytes about to be hashed and waits until the byte budget allows them. */
  async bytes(n: number): Promise<void> {
    if (this.opts.bytesPerSecond > 0 && n > 0) {
      const now = this.clock.now();
      this.bytesReadyAt = Math.max(this.bytesReadyAt, now - this.burstMs) + (n * 1000) / this.opts.bytesPerSecond;
    }
    await this.waitUntilReady();
  }

  private async waitUntilReady(): Promise<void> {
    const wait = Math.max(this.bytesReadyAt, this.cpuReadyAt) - this.clock.now();
    if (wait >= this.minSleepMs) {
      this.waits++;
      this.waitedMs += wait;
      await this.clock.sleep(Math.ceil(wait));
    } else {
      // never a long synchronous run: the event loop gets a turn between steps
      await yieldToLoop();
    }
  }
}

/** Throws a RangeError naming the bad limit. */
export function validateBudget(bytesPerSecond: number, cpuPercent: number): void {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) throw new RangeError(`fim baseline bytes_per_second must be >= 0, got ${bytesPerSecond}`);
  if (!Number.isFinite(cpuPercent) || cpuPercent < 1 || cpuPercent > 100) throw new RangeError(`fim baseline cpu_percent must be 1..100, got ${cpuPercent}`);
}
