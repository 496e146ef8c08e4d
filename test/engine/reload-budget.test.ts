// SPDX-License-Identifier: Apache-2.0
/**
 * A reload that brings an expansion bomb (rules/load/budget.ts) is refused: the pipeline keeps
 * the rule set in force, logs the positioned error, and a later good file swaps in as usual.
 * Runs the real Pipeline and RuleEngine with a source that produces nothing (no kernel probe).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Pipeline } from "../../agent/pipeline.js";
import { DEFAULT_EXPANSION_LIMITS, type CompiledRule } from "../../rules/index.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { execve, proc } from "../rules/event-builder.js";

const rule = (name: string, cond: string): string => `- rule: ${name}\n  desc: d\n  condition: ${cond}\n  output: "out %proc.name"\n  priority: WARNING\n`;

function macroBomb(): string {
  let text = "- macro: m0\n  condition: proc.name = a\n";
  for (let k = 1; k <= 60; k++) text += `- macro: m${k}\n  condition: m${k - 1} and m${k - 1}\n`;
  return text + rule("Bomb", "evt.type = execve and m60");
}

function listBomb(): string {
  let text = "- list: l0\n  items: [a, b]\n";
  for (let k = 1; k <= 60; k++) text += `- list: l${k}\n  items: [l${k - 1}, l${k - 1}]\n`;
  return text + rule("Bomb", "evt.type = execve and proc.name in (l60)");
}

describe("reload with an expansion bomb", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-reload-budget-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["macro chain doubling", macroBomb(), /bomb\.yaml:36:14: error LOAD_ERR_COMPILE_CONDITION: expansion exceeds (\d+) nodes$/],
    ["list of lists doubling", listBomb(), /bomb\.yaml:35:3: error LOAD_ERR_VALIDATE: expansion exceeds (\d+) nodes$/],
  ])("%s: refused, logged with file:line:col, the old rules stay in force", async (_name, bomb, want) => {
    const file = join(dir, "bomb.yaml");
    writeFileSync(file, rule("Old", "evt.type = execve and proc.name = sh"));
    const log = captureLogger();
    const p = new Pipeline({
      rulesFiles: [file],
      logger: log.logger,
      sinks: [],
      statsIntervalSec: 0,
      source: () => ({ name: "idle", start: async () => undefined, stop: async () => undefined, stats: () => ({}) }),
    });
    await p.start();
    try {
      const before = p.engine.ruleset;
      writeFileSync(file, bomb);
      const t0 = performance.now();
      expect(await p.engine.reload()).toBe(false);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(p.engine.ruleset).toBe(before);
      expect(p.engine.stats()).toEqual(expect.objectContaining({ reloads: 0, reload_failures: 1 }));

      const lines = log.withMsg("rule error").map((l) => (l["diag"] as { line: string }).line);
      const hit = lines.map((l) => want.exec(l)).find((m) => m !== null);
      expect(hit?.[1]).toBe(String(DEFAULT_EXPANSION_LIMITS.maxExpansionNodes));
      expect(log.withMsg("rules reload rejected; previous rules stay in force")).toHaveLength(1);

      const fired: string[] = [];
      p.engine.evaluate(execve(proc({ comm: "sh" })), (r: CompiledRule) => fired.push(r.name));
      expect(fired).toEqual(["Old"]);

      // the next good file is taken as usual
      writeFileSync(file, rule("New", "evt.type = execve and proc.name = sh"));
      expect(await p.engine.reload()).toBe(true);
      expect(p.engine.ruleset.rules.map((r) => r.name)).toEqual(["New"]);
    } finally {
      await p.stop();
    }
  });
});
