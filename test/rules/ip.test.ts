// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { compileIpMatcher } from "../../rules/compile/ip.js";

describe("IP matchers", () => {
  const ms = {
    loop: compileIpMatcher("127.0.0.0/8"),
    ten: compileIpMatcher("10.0.0.0/8"),
    any: compileIpMatcher("0.0.0.0"),
    v6loop: compileIpMatcher("::1"),
    doc: compileIpMatcher("2001:db8::/32"),
  };
  const VALUES: [string, Partial<Record<keyof typeof ms, boolean>>][] = [
    ["127.0.0.1", { loop: true }],
    ["10.1.2.3", { ten: true }],
    ["0.0.0.0", { any: true }],
    ["::1", { v6loop: true }],
    ["2001:db8:1::5", { doc: true }],
    ["2001:db9::5", {}],
    ["not an address", {}],
    ["", {}],
  ];
  it("give each value its own answer whatever the order of values and matchers", () => {
    // the last parsed text is kept between checks: alternate values and matchers to exercise it
    for (let round = 0; round < 3; round++) {
      const order = round === 1 ? [...VALUES].reverse() : VALUES;
      for (const [v, want] of order) {
        for (const [name, m] of Object.entries(ms)) {
          expect(m?.(v), `${name} ${v}`).toBe(want[name as keyof typeof ms] === true);
        }
      }
      for (const [v, want] of VALUES) expect(ms.loop?.(v)).toBe(want.loop === true);
    }
  });
});
