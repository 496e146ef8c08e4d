// SPDX-License-Identifier: Apache-2.0
/**
 * Runs a refresh (the console's `GET /api/v1/summary`) when asked, but at most once every
 * `minIntervalMs`, never two at a time, and never dropping the last request: asked while one runs,
 * it runs once more after it; asked any number of times while one waits, it runs once. A burst
 * of thousands of live alerts thus costs one request every `minIntervalMs`, and the last
 * answer is taken after the burst's last alert. The first request after a quiet spell waits
 * `settleMs`, so the burst's first alerts share one request. Pure: no DOM (timers and clock
 * can be given).
 */

/** Timers and clock (tests give fakes). */
export interface ThrottleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ThrottleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** A refresh run on request, throttled. */
export class RefreshThrottle {
  private timer: unknown;
  private running = false;
  /** Asked while running: run again once it ends. */
  private again = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly refresh: () => Promise<void>,
    private readonly minIntervalMs: number,
    private readonly settleMs: number,
    private readonly clock: ThrottleClock = realClock,
  ) {}

  /** Asks for a refresh: soon, within the throttle. */
  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) return;
    const wait = Math.max(this.settleMs, this.lastStart + this.minIntervalMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => this.run(), wait);
  }

  /** Refreshes now (a view's first load), or once the one running ends. */
  now(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.run();
  }

  /** Stops: nothing more runs (one already running ends on its own). */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    this.running = true;
    this.again = false;
    this.lastStart = this.clock.now();
    const done = () => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.request();
      }
    };
    let p: Promise<void>;
    try {
      p = this.refresh();
    } catch {
      p = Promise.resolve();
    }
    p.then(done, done);
  }
}
