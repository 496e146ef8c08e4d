// SPDX-License-Identifier: Apache-2.0
/**
 * The throttle the console's summary refresh goes through (collector/console/web/refresh-throttle.ts):
 * a burst of requests costs one refresh per interval, none runs twice at a time, the last request
 * is never dropped, close stops it. A fake clock: exact times.
 */
import { describe, expect, it } from "vitest";
import { RefreshThrottle, type ThrottleClock } from "../../collector/console/web/refresh-throttle.js";

/** A clock whose time moves only by advance(); timers fire in time order. */
function fakeClock(): ThrottleClock & { advance(ms: number): Promise<void> } {
  let t = 0;
  let next = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => t,
    setTimeout(fn, ms) {
      const id = ++next;
      timers.set(id, { at: t + ms, fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    async advance(ms) {
      const end = t + ms;
      for (;;) {
        let first: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= end && (first === undefined || e[1].at < first[1].at)) first = e;
        if (first === undefined) break;
        timers.delete(first[0]);
        t = first[1].at;
        first[1].fn();
        // let promise callbacks (a refresh ending) run
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
      t = end;
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

/** A refresh that takes `ms` of the fake clock; records when each started. */
function slowRefresh(clock: ReturnType<typeof fakeClock>, ms: number) {
  const starts: number[] = [];
  let active = 0;
  let maxActive = 0;
  const run = () => {
    starts.push(clock.now());
    active++;
    maxActive = Math.max(maxActive, active);
    return new Promise<void>((resolve) =>
      clock.setTimeout(() => {
        active--;
        resolve();
      }, ms),
    );
  };
  return { run, starts, maxActive: () => maxActive };
}

describe("RefreshThrottle", () => {
  it("runs a burst's thousands of requests as one refresh per interval, the last one after the burst", async () => {
    const clock = fakeClock();
    const r = slowRefresh(clock, 50);
    const th = new RefreshThrottle(r.run, 3000, 300, clock);
    th.now();
    expect(r.starts).toEqual([0]);
    // 10 s of alerts, 500 a second (one request every 2 ms)
    for (let i = 0; i < 5000; i++) {
      th.request();
      await clock.advance(2);
    }
    await clock.advance(10_000);
    // at most one each 3 s, and one after the last request (at 9998 ms)
    expect(r.starts).toEqual([0, 3000, 6000, 9000, 12000]);
    expect(r.maxActive()).toBe(1);
  });

  it("waits the settle time after a quiet spell, and the interval after the last refresh", async () => {
    const clock = fakeClock();
    const r = slowRefresh(clock, 10);
    const th = new RefreshThrottle(r.run, 3000, 300, clock);
    await clock.advance(60_000);
    th.request();
    th.request();
    await clock.advance(1000);
    expect(r.starts).toEqual([60_300]);
    // asked 1 s after it started: the next waits for the interval to pass
    th.request();
    await clock.advance(5000);
    expect(r.starts).toEqual([60_300, 63_300]);
  });

  it("asked while a refresh runs, refreshes once more after it (the answer may predate the request)", async () => {
    const clock = fakeClock();
    const r = slowRefresh(clock, 5000);
    const th = new RefreshThrottle(r.run, 3000, 300, clock);
    th.now();
    await clock.advance(100);
    th.request();
    th.now();
    th.request();
    await clock.advance(20_000);
    // the first ends at 5000 (past the interval): the next waits only the settle time
    expect(r.starts).toEqual([0, 5300]);
    expect(r.maxActive()).toBe(1);
  });

  it("survives a refresh that fails or throws", async () => {
    const clock = fakeClock();
    let n = 0;
    const th = new RefreshThrottle(
      () => {
        n++;
        if (n === 1) throw new Error("sync");
        return Promise.reject(new Error("async"));
      },
      1000,
      0,
      clock,
    );
    th.now();
    th.request();
    await clock.advance(1000);
    th.request();
    await clock.advance(1000);
    th.request();
    await clock.advance(1000);
    expect(n).toBe(3);
  });

  it("runs nothing once closed", async () => {
    const clock = fakeClock();
    const r = slowRefresh(clock, 10);
    const th = new RefreshThrottle(r.run, 3000, 300, clock);
    th.request();
    th.close();
    th.request();
    th.now();
    await clock.advance(10_000);
    expect(r.starts).toEqual([]);
  });
});
