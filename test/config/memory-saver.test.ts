// SPDX-License-Identifier: Apache-2.0
/**
 * memory.saver (agent/memory-saver.ts): when the mode goes on and off with the event rate, the
 * configuration keys, and what it does in a real V8: the memory a burst grew comes back on a quiet
 * node with `auto`, and stays with `off` (the reason the saver exists).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../agent/config/index.js";
import { MemorySaver, type MemorySaverMode } from "../../agent/memory-saver.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** A saver over a counter and a clock the test moves, one second at a time (fake timers). */
function driven(mode: MemorySaverMode, maxEventsPerSecond = 1000, quietSeconds = 3) {
  let events = 0;
  let clock = 0;
  const flags: string[] = [];
  const switches: [boolean, number][] = [];
  const s = new MemorySaver({
    mode,
    maxEventsPerSecond,
    quietSeconds,
    events: () => events,
    set: (f) => flags.push(f),
    onSwitch: (on, rate) => switches.push([on, rate]),
    tickMs: 1000,
    now: () => clock,
  });
  const second = (n: number) => {
    events += n;
    clock += 1000;
    vi.advanceTimersByTime(1000);
  };
  return { s, flags, switches, second };
}

describe("MemorySaver", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("auto: on after quietSeconds under the rate, off at the first busier second, on again when quiet", () => {
    const d = driven("auto", 1000, 3);
    d.s.start();
    d.second(500);
    d.second(999);
    expect(d.flags).toEqual([]);
    d.second(10);
    expect(d.flags).toEqual(["--memory-saver-mode"]);
    expect(d.s.stats()).toEqual({ saver_on: 1, saver_switches: 1 });
    d.second(5000);
    expect(d.flags.at(-1)).toBe("--no-memory-saver-mode");
    expect(d.switches.at(-1)).toEqual([false, 5000]);
    // a busy second in a quiet stretch starts the count again
    d.second(0);
    d.second(0);
    d.second(2000);
    d.second(0);
    d.second(0);
    expect(d.s.stats().saver_on).toBe(0);
    d.second(0);
    expect(d.s.stats()).toEqual({ saver_on: 1, saver_switches: 3 });
    d.s.stop();
    expect(d.flags.at(-1)).toBe("--no-memory-saver-mode");
    // stopped: no more looks at the rate
    d.second(0);
    d.second(0);
    d.second(0);
    d.second(0);
    expect(d.s.stats()).toEqual({ saver_on: 0, saver_switches: 4 });
  });

  it("on: set once at start, whatever the rate, and cleared at stop; off: never set", () => {
    const on = driven("on");
    on.s.start();
    on.second(1e9);
    on.second(0);
    expect(on.flags).toEqual(["--memory-saver-mode"]);
    on.s.stop();
    expect(on.flags).toEqual(["--memory-saver-mode", "--no-memory-saver-mode"]);
    const off = driven("off");
    off.s.start();
    for (let i = 0; i < 20; i++) off.second(0);
    off.s.stop();
    expect(off.flags).toEqual([]);
  });
});

describe("memory.saver configuration", () => {
  it("defaults to auto under 20,000 events/s for 10 s; set by file and environment", () => {
    const m = loadConfig({ env: {} }).memory;
    expect([m.saver, m.saver_max_events_per_s, m.saver_quiet_seconds]).toEqual(["auto", 20_000, 10]);
    expect(loadConfig({ text: "memory:\n  saver: off\n", env: {} }).memory.saver).toBe("off");
    expect(loadConfig({ env: { VIGIL_MEMORY_SAVER: "on" } }).memory.saver).toBe("on");
    expect(loadConfig({ env: { VIGIL_MEMORY_SAVER_MAX_EVENTS_PER_S: "5000" } }).memory.saver_max_events_per_s).toBe(5000);
  });

  it.each([
    ["saver: sometimes", /memory\.saver/],
    ["saver_max_events_per_s: -1", /memory\.saver_max_events_per_s/],
    ["saver_quiet_seconds: 0", /memory\.saver_quiet_seconds/],
  ])("refuses %s with a message naming the key", (line, re) => {
    expect(() => loadConfig({ text: `memory:\n  ${line}\n`, env: {} })).toThrow(re);
  });
});

describe("memory.saver in a real V8", () => {
  const burst = (mode: MemorySaverMode, waitMs: number) => {
    const r = spawnSync(
      process.execPath,
      ["--max-semi-space-size=2", join(root, "test/helpers/memory-burst.mjs"), join(root, "dist/agent/memory-saver.js"), mode, String(waitMs)],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim()) as { base: number; peak: number; end: number; backMs: number };
  };

  it("gives back what a burst grew while the events trickle (auto), keeps it without (off)", () => {
    const auto = burst("auto", 30_000);
    expect(auto.peak - auto.base).toBeGreaterThan(40);
    expect(auto.backMs).toBeGreaterThan(0);
    expect(auto.end).toBeLessThan(auto.base + (auto.peak - auto.base) / 4);
    const off = burst("off", 8000);
    // the premise: V8 alone keeps the pages while it keeps allocating
    expect(off.backMs).toBe(-1);
    expect(off.end).toBeGreaterThan(off.base + (off.peak - off.base) / 2);
  }, 90_000);
});
