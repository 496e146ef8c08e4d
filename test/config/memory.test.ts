// SPDX-License-Identifier: Apache-2.0
/** memory.heap_growing_percent: its default, bounds, the ways to set it, and the V8 flag the agent sets from it. */
import { describe, expect, it } from "vitest";
import { applyMemorySettings } from "../../agent/cli/agent-memory.js";
import { loadConfig } from "../../agent/config/index.js";

describe("memory.heap_growing_percent", () => {
  it("defaults to 25 and is set by file, environment and overrides", () => {
    expect(loadConfig({ env: {} }).memory.heap_growing_percent).toBe(25);
    expect(loadConfig({ text: "memory:\n  heap_growing_percent: 50\n", env: {} }).memory.heap_growing_percent).toBe(50);
    expect(loadConfig({ env: { VIGIL_MEMORY_HEAP_GROWING_PERCENT: "0" } }).memory.heap_growing_percent).toBe(0);
    expect(loadConfig({ env: {}, overrides: { memory: { heap_growing_percent: 100 } } }).memory.heap_growing_percent).toBe(100);
  });

  it.each([-1, 1001, 1.5, "lots"])("refuses %s with a message naming the key", (v) => {
    expect(() => loadConfig({ text: `memory:\n  heap_growing_percent: ${JSON.stringify(v)}\n`, env: {} })).toThrow(/memory\.heap_growing_percent/);
  });

  it("becomes V8's --heap-growing-percent, and 0 leaves V8's own factor", () => {
    const set: string[] = [];
    expect(applyMemorySettings({ heap_growing_percent: 25, maglev: true }, (f) => set.push(f))).toEqual(["--heap-growing-percent=25"]);
    expect(applyMemorySettings({ heap_growing_percent: 0, maglev: true }, (f) => set.push(f))).toEqual([]);
    expect(set).toEqual(["--heap-growing-percent=25"]);
  });
});

describe("memory.maglev", () => {
  it("defaults to false, which turns V8's Maglev tier off; true leaves it", () => {
    expect(loadConfig({ env: {} }).memory.maglev).toBe(false);
    expect(loadConfig({ env: { VIGIL_MEMORY_MAGLEV: "true" } }).memory.maglev).toBe(true);
    expect(loadConfig({ text: "memory:\n  maglev: true\n", env: {} }).memory.maglev).toBe(true);
    const set: string[] = [];
    applyMemorySettings(loadConfig({ env: {} }).memory, (f) => set.push(f));
    expect(set).toEqual(["--heap-growing-percent=25", "--no-maglev"]);
    set.length = 0;
    applyMemorySettings({ heap_growing_percent: 0, maglev: true }, (f) => set.push(f));
    expect(set).toEqual([]);
  });

  it("refuses a non-boolean with a message naming the key", () => {
    expect(() => loadConfig({ text: "memory:\n  maglev: sometimes\n", env: {} })).toThrow(/memory\.maglev/);
  });
});
