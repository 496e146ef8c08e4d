// SPDX-License-Identifier: Apache-2.0
/**
 * SECURITY.md and the README state the limits: every collector limit, agent HTTP server limit and
 * rules compile limit appears in SECURITY.md with its key, so a new limit cannot ship undocumented.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { httpLimitsSchema } from "../../agent/metrics/http-limits-schema.js";
import { configSchema } from "../../agent/config/schema.js";
import { REPO } from "../sinks/helpers/run-ts.js";
import { collectorLimitsSchema } from "../../proto/collector-limits-schema.js";

const security = readFileSync(join(REPO, "SECURITY.md"), "utf8");
const readme = readFileSync(join(REPO, "README.md"), "utf8");

describe("SECURITY.md", () => {
  it("names every collector limit in a table row with its key", () => {
    for (const k of Object.keys(collectorLimitsSchema.shape)) expect(security, k).toMatch(new RegExp(`\\| \`${k}\` \\|`));
  });
  it("names every agent HTTP server limit and every rules compile limit", () => {
    for (const k of Object.keys(httpLimitsSchema.shape)) expect(security, k).toContain(`\`${k}\``);
    const rulesLimits = configSchema.shape.rules.parse({}).limits;
    for (const k of Object.keys(rulesLimits)) expect(security, k).toContain(`\`${k}\``);
  });
  it("has the threat model, the reporting address and the attack table filled in", () => {
    for (const h of ["## Reporting a vulnerability", "## Threat model", "## Limits and timeouts", "## Attack classes tried", "## Fuzzing"])
      expect(security).toContain(h);
    expect(security).not.toMatch(/[A-Z_]{6,}_(TABLE|SUMMARY)/);
    expect(readme).toContain("SECURITY.md");
  });
});
