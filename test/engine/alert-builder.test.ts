// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { isoTimeNs } from "../../agent/engine/alert-builder.js";

describe("isoTimeNs", () => {
  it.each([
    [0, 0, "1970-01-01T00:00:00.000000000Z"],
    [1795867200, 123456789, "2026-11-28T12:00:00.123456789Z"],
    [1795867200, 5, "2026-11-28T12:00:00.000000005Z"],
  ])("(%d, %d) → %s", (sec, nsec, want) => {
    expect(isoTimeNs(sec, nsec)).toBe(want);
  });
});
