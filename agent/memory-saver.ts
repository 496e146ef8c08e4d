// SPDX-License-Identifier: Apache-2.0
/**
 * V8's memory saver mode while the node is quiet (issue 22, "flat over an hour of churn").
 *
 * A burst of short-lived processes grows the old generation by tens of MiB (exited processes are
 * kept a few seconds, and their events are garbage soon after). V8 frees that garbage at its next
 * full collection but keeps the pages: it gives them back only in a memory-reducing collection,
 * which its memory reducer starts only when the allocation rate is low, and an agent that reads a
 * trickle of events never looks idle to it. Measured (BENCHMARKS.md, "Agent memory"): after 20,000
 * processes the agent held 106 MiB anonymous memory instead of 68 MiB at idle, indefinitely; with
 * the saver mode on, 62 MiB within 10 s.
 *
 * The mode costs collections (V8 grows the heap less and compacts more), which halves the
 * throughput of a saturated event path, so it is on only while the event rate stays under
 * `maxEventsPerSecond` for `quietSeconds`, and off at the first second above it: a busy node gets
 * the fast path, a quiet one gives the memory back. V8 reads the flag at each decision, so it can
 * be switched at run time (`v8.setFlagsFromString`; NODE_OPTIONS does not accept it).
 */
import { setFlagsFromString } from "node:v8";

/** `memory.saver` of the agent configuration. */
export type MemorySaverMode = "auto" | "on" | "off";

export interface MemorySaverOptions {
  mode: MemorySaverMode;
  /** Events per second under which the node counts as quiet (auto). */
  maxEventsPerSecond: number;
  /** Seconds under that rate before the mode goes on (auto). */
  quietSeconds: number;
  /** Events seen so far (a counter that only grows). */
  events: () => number;
  /** Sets a V8 flag (tests pass their own). */
  set?: (flag: string) => void;
  /** Told of every switch, with the rate that caused it. */
  onSwitch?: (on: boolean, eventsPerSecond: number) => void;
  /** Milliseconds between two looks at the rate (1000). */
  tickMs?: number;
  /** The clock, in milliseconds (performance.now; tests pass their own). */
  now?: () => number;
}

/** Switches V8's memory saver mode with the event rate; `stop()` leaves it off. */
export class MemorySaver {
  private on = false;
  private switches = 0;
  /** Since when the rate has stayed under the limit, or -1 while busy. */
  private quietSince = -1;
  private last = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly set: (flag: string) => void;
  private readonly now: () => number;

  constructor(private readonly o: MemorySaverOptions) {
    this.set = o.set ?? setFlagsFromString;
    this.now = o.now ?? (() => performance.now());
  }

  /** Starts watching the rate (auto), or sets the mode once (on). */
  start(): void {
    if (this.o.mode === "on") this.switchTo(true, 0);
    if (this.o.mode !== "auto" || this.timer !== undefined) return;
    this.last = this.o.events();
    this.lastAt = this.now();
    this.quietSince = this.lastAt;
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000);
    this.timer.unref();
  }

  /** One look at the rate since the previous one. */
  private tick(): void {
    const now = this.now();
    const n = this.o.events();
    const secs = (now - this.lastAt) / 1000;
    const rate = secs > 0 ? (n - this.last) / secs : 0;
    const from = this.lastAt;
    this.last = n;
    this.lastAt = now;
    if (rate > this.o.maxEventsPerSecond) {
      this.quietSince = -1;
      if (this.on) this.switchTo(false, rate);
      return;
    }
    if (this.quietSince < 0) this.quietSince = from;
    if (!this.on && now - this.quietSince >= this.o.quietSeconds * 1000) this.switchTo(true, rate);
  }

  private switchTo(on: boolean, rate: number): void {
    this.on = on;
    this.switches++;
    this.set(on ? "--memory-saver-mode" : "--no-memory-saver-mode");
    this.o.onSwitch?.(on, Math.round(rate));
  }

  /** Whether the mode is on, and how often it switched. */
  stats(): { saver_on: number; saver_switches: number } {
    return { saver_on: this.on ? 1 : 0, saver_switches: this.switches };
  }

  /** Stops watching and turns the mode off. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.on) this.switchTo(false, 0);
  }
}
