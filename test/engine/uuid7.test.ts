// SPDX-License-Identifier: Apache-2.0
/** Alert ids: RFC 9562 UUIDv7 from a pooled CSPRNG (proto/uuid7.ts). */
import { describe, expect, it } from "vitest";
import { uuidv7 } from "../../proto/uuid7.js";

const FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string) => Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);

describe("uuidv7", () => {
  it("has the version 7 and RFC variant bits and the millisecond time in its first 48 bits", () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(id).toMatch(FORM);
    expect(msOf(id)).toBeGreaterThanOrEqual(before);
    expect(msOf(id)).toBeLessThanOrEqual(after);
    expect(msOf(uuidv7(1_850_000_000_123))).toBe(1_850_000_000_123);
  });

  it("sorts in creation order within one millisecond and across milliseconds, with no repeats", () => {
    const ids: string[] = [];
    const t = 1_900_000_000_000;
    for (let i = 0; i < 50_000; i++) ids.push(uuidv7(t));
    for (let i = 0; i < 1000; i++) ids.push(uuidv7(t + 1 + (i >> 4)));
    // a clock going back keeps the order too (the last millisecond is kept)
    ids.push(uuidv7(t - 5));
    for (const id of ids) expect(id).toMatch(FORM);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("draws its random tail afresh for every id", () => {
    const tails = new Set<string>();
    for (let i = 0; i < 2000; i++) tails.add(uuidv7(2_000_000_000_000 + i).slice(-8));
    expect(tails.size).toBe(2000);
  });
});
