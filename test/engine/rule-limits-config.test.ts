// SPDX-License-Identifier: Apache-2.0
/**
 * The rules compile budget is configuration: `rules.limits` (and VIGIL_RULES_LIMITS_*) reaches the
 * agent's rule engine and `vigil rules check --config`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../agent/config/index.js";
import { RuleEngine, ruleLimitsFromConfig } from "../../agent/engine/rule-engine.js";
import { runRulesCheck } from "../../agent/cli/rules-cmd.js";
import { DEFAULT_EXPANSION_LIMITS } from "../../rules/load/budget.js";
import { tempDir } from "../collector/helpers.js";

// a list of 3,000 items used once: 3,000+ nodes, far under the default budget
const RULES = `- list: many
  items: [${Array.from({ length: 3000 }, (_, i) => `/bin/p${i}`).join(", ")}]
- rule: Many programs
  desc: d
  condition: evt.type = execve and proc.exepath in (many)
  output: "x %proc.exepath"
  priority: WARNING
`;

describe("rules.limits configuration", () => {
  it("defaults equal the loader's, and a variable lowers one", () => {
    expect(ruleLimitsFromConfig(loadConfig({ env: {} }).rules.limits)).toEqual(DEFAULT_EXPANSION_LIMITS);
    const cfg = loadConfig({ env: { VIGIL_RULES_LIMITS_MAX_EXPANSION_NODES: "1000" } });
    expect(cfg.rules.limits.max_expansion_nodes).toBe(1000);
  });

  it("the agent's rule engine refuses a rule past a configured budget and loads it under the default", () => {
    const dir = tempDir();
    const file = join(dir, "many.yaml");
    writeFileSync(file, RULES);
    const strict = new RuleEngine({ files: [file], logger: pino({ level: "silent" }), expansion: { maxExpansionNodes: 1000 } });
    expect(strict.load().rules.map((r) => r.name)).toEqual([]);
    const dflt = new RuleEngine({ files: [file], logger: pino({ level: "silent" }) });
    expect(dflt.load().rules.map((r) => r.name)).toEqual(["Many programs"]);
  });

  it("vigil rules check --config checks with the configured budget", () => {
    const dir = tempDir();
    const file = join(dir, "many.yaml");
    writeFileSync(file, RULES);
    let out = "";
    expect(runRulesCheck([file], { output: "text" }, (s) => (out += s))).toBe(0);
    out = "";
    const code = runRulesCheck(
      [file],
      { output: "text", expansion: ruleLimitsFromConfig(loadConfig({ env: { VIGIL_RULES_LIMITS_MAX_EXPANSION_NODES: "1000" } }).rules.limits) },
      (s) => (out += s),
    );
    expect(code).toBe(1);
    expect(out).toMatch(/many\.yaml:\d+:\d+: error .*expansion exceeds 1000 nodes/);
  });
});
