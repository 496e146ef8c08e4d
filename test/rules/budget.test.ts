// SPDX-License-Identifier: Apache-2.0
/**
 * The expansion budget (rules/load/budget.ts): every class of expansion bomb ends in an error
 * at the offending item's file:line:col within two seconds, the rest of the file still loads,
 * and the built `vigil rules check` reports a bomb and exits non-zero under a 256 MiB heap.
 * Before the budget these loads hung (2^60-node trees) or ran out of memory.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_EXPANSION_LIMITS, loadRuleFiles, type Diagnostic, type LoadOptions, type LoadResult } from "../../rules/index.js";
import { execve, proc } from "./event-builder.js";
import { REPO_ROOT } from "./stable-path.js";

const N = DEFAULT_EXPANSION_LIMITS.maxExpansionNodes;
const FILE = "bomb.yaml";

function load(text: string, opts?: LoadOptions): { res: LoadResult; ms: number } {
  const t0 = performance.now();
  const res = loadRuleFiles([{ path: FILE, text }], opts);
  return { res, ms: performance.now() - t0 };
}

function errors(r: LoadResult): Diagnostic[] {
  return r.diagnostics.filter((d) => d.severity === "error");
}

/** 1-based line of the first line of `text` starting with `prefix`. */
function lineOf(text: string, prefix: string): number {
  const i = text.split("\n").findIndex((l) => l.startsWith(prefix));
  expect(i).toBeGreaterThanOrEqual(0);
  return i + 1;
}

const rule = (name: string, cond: string, extra = ""): string =>
  `- rule: ${name}\n  desc: d\n  condition: ${cond}\n  output: "out %proc.name"\n  priority: WARNING\n${extra}`;
/** A rule after the bomb: it must still load. */
const GOOD = rule("Good", "evt.type = execve and proc.name = sh");
const shExec = execve(proc({ comm: "sh" }));

function expectGoodLoaded(r: LoadResult): void {
  const fired: string[] = [];
  r.ruleset.evaluate(shExec, (x) => fired.push(x.name));
  expect(fired).toEqual(["Good"]);
}

describe("expansion bombs end in a positioned error", () => {
  it("macro chain doubling: m_k = m_(k-1) and m_(k-1)", () => {
    let text = "- macro: m0\n  condition: proc.name = a\n";
    for (let k = 1; k <= 60; k++) text += `- macro: m${k}\n  condition: m${k - 1} and m${k - 1}\n`;
    text += rule("Bomb", "evt.type = execve and m60") + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    // m_k has 2^(k+1) - 1 nodes: m17 is the first past 250,000
    const line = lineOf(text, "- macro: m17") + 1;
    expect(errors(res)).toContainEqual(expect.objectContaining({ file: FILE, line, col: 14, item: "macro 'm17'", message: `expansion exceeds ${N} nodes` }));
    // every macro built on it, and the rule, fail with it
    expect(errors(res)).toContainEqual(expect.objectContaining({ item: "macro 'm18'", message: "macro 'm17' used in filter has errors" }));
    expect(errors(res)).toContainEqual(expect.objectContaining({ item: "rule 'Bomb'", message: "macro 'm60' used in filter has errors" }));
    expectGoodLoaded(res);
  });

  it("list of lists doubling: L_k = [L_(k-1), L_(k-1)]", () => {
    let text = "- list: l0\n  items: [a, b]\n";
    for (let k = 1; k <= 60; k++) text += `- list: l${k}\n  items: [l${k - 1}, l${k - 1}]\n`;
    text += rule("Bomb", "evt.type = execve and proc.name in (l60)") + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    // l_k has 2^(k+1) items: l17 is the first past 250,000
    expect(errors(res)).toContainEqual(
      expect.objectContaining({ file: FILE, line: lineOf(text, "- list: l17"), col: 3, item: "list 'l17'", message: `expansion exceeds ${N} nodes` }),
    );
    expect(errors(res)).toContainEqual(expect.objectContaining({ item: "list 'l18'", message: "list 'l17' used in list has errors" }));
    const bomb = errors(res).find((d) => d.item === "rule 'Bomb'");
    expect(bomb?.message).toBe("list 'l60' used in filter has errors");
    expect(bomb?.line).toBe(lineOf(text, "  condition: evt.type = execve and proc.name in (l60)"));
    expectGoodLoaded(res);
  });

  it("a list name used many times in one condition", () => {
    const items = Array.from({ length: 1000 }, (_, i) => `/bin/p${i}`).join(", ");
    const uses = Array.from({ length: 4000 }, () => "proc.exe in (big)").join(" or ");
    const text = `- list: big\n  items: [${items}]\n` + rule("Bomb", `evt.type = execve and (${uses})`) + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    const condLine = lineOf(text, "  condition: evt.type = execve and (proc.exe");
    // the 251st use passes 250,000 items: the error points at it
    const col = "  condition: evt.type = execve and (".length + 250 * "proc.exe in (big) or ".length + "proc.exe in (".length + 1;
    expect(errors(res)).toEqual([expect.objectContaining({ file: FILE, line: condLine, col, item: "rule 'Bomb'", message: `expansion exceeds ${N} nodes` })]);
    expectGoodLoaded(res);
  });

  it("deep macro nesting: the expanded tree's depth is limited, not only the parser's", () => {
    let text = "- macro: d0\n  condition: proc.name = a\n";
    for (let k = 1; k <= 1500; k++) text += `- macro: d${k}\n  condition: d${k - 1} and proc.pid = ${k}\n`;
    text += rule("Bomb", "evt.type = execve and d1500") + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    const max = DEFAULT_EXPANSION_LIMITS.maxExpansionDepth;
    // d_k's tree is k + 1 deep
    expect(errors(res)).toContainEqual(
      expect.objectContaining({
        file: FILE,
        line: lineOf(text, `- macro: d${max}\n`.trimEnd()) + 1,
        col: 14,
        message: `expanded condition exceeds max depth of ${max}`,
      }),
    );
    expect(errors(res).filter((d) => /internal error|call stack/i.test(d.message))).toEqual([]);
    expectGoodLoaded(res);
  });

  it("a rule at the depth limit compiles and evaluates (the compile passes take the depth)", () => {
    const max = DEFAULT_EXPANSION_LIMITS.maxExpansionDepth;
    let text = "- macro: d0\n  condition: proc.name = sh\n";
    for (let k = 1; k < max - 2; k++) text += `- macro: d${k}\n  condition: d${k - 1} and proc.pid > 0\n`;
    text += rule("Deep", `evt.type = execve and d${max - 3}`);
    const { res } = load(text);
    expect(errors(res)).toEqual([]);
    const fired: string[] = [];
    res.ruleset.evaluate(execve(proc({ comm: "sh", pid: 77 })), (x) => fired.push(x.name));
    expect(fired).toEqual(["Deep"]);
  });

  it("a huge condition: too many nodes", () => {
    // 130 checks of 2,000 items each: 260,131 nodes
    const text = rule("Many", Array.from({ length: 130 }, () => `proc.name in (${Array.from({ length: 2000 }, () => "a").join(",")})`).join(" or ")) + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    expect(errors(res)).toEqual([expect.objectContaining({ file: FILE, line: 3, col: 14, item: "rule 'Many'", message: `expansion exceeds ${N} nodes` })]);
    expectGoodLoaded(res);
  });

  it("a rules file over the size budget is one error at 1:1 and loads nothing, before any YAML is parsed", () => {
    // one flat list of 300,000 items (1.7 MiB): parsing it took more than a 256 MiB heap
    const text = `- list: flat\n  items: [${Array.from({ length: 300_000 }, (_, i) => `i${i}`).join(", ")}]\n` + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(500);
    expect(errors(res)).toEqual([
      expect.objectContaining({
        file: FILE,
        line: 1,
        col: 1,
        message: `file of ${text.length} characters is larger than the limit of ${DEFAULT_EXPANSION_LIMITS.maxFileChars} (rules.limits.max_file_chars)`,
      }),
    ]);
    expect(res.ruleset.rules).toEqual([]);
  });

  it("a huge condition: too many characters", () => {
    const text = rule("Long", `proc.name = "${"x".repeat(DEFAULT_EXPANSION_LIMITS.maxExpansionChars)}"`) + GOOD;
    const { res, ms } = load(text, { expansion: { maxFileChars: 16 * 1024 * 1024 } });
    expect(ms).toBeLessThan(2000);
    expect(errors(res)).toEqual([
      expect.objectContaining({
        file: FILE,
        line: 3,
        col: 14,
        item: "rule 'Long'",
        message: `expansion exceeds ${DEFAULT_EXPANSION_LIMITS.maxExpansionChars} characters`,
      }),
    ]);
    expectGoodLoaded(res);
  });

  it("exceptions with huge value lists", () => {
    // 3,000 values in an anchored list, used by 99 tuples: 297,000 values from a small file
    const paths = Array.from({ length: 3000 }, () => "a").join(", ");
    const tuples = Array.from({ length: 99 }, () => "[*paths]").join(", ");
    const text =
      `- list: anchor\n  items: &paths [${paths}]\n` +
      rule(
        "Bomb",
        "evt.type = execve and proc.name = x",
        `  exceptions:\n    - name: e\n      fields: [fd.name]\n      comps: [in]\n      values: [${tuples}]\n`,
      ) +
      GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    expect(errors(res)).toEqual([
      expect.objectContaining({ file: FILE, line: lineOf(text, "    - name: e"), item: "rule 'Bomb'", message: `expansion exceeds ${N} nodes` }),
    ]);
    expectGoodLoaded(res);
  });

  it("100000 '(' give the parser's depth error at the rule", () => {
    const text = rule("Parens", "(".repeat(100_000) + "proc.name = a" + ")".repeat(100_000)) + GOOD;
    const { res, ms } = load(text);
    expect(ms).toBeLessThan(2000);
    expect(errors(res)).toEqual([
      expect.objectContaining({ file: FILE, line: 3, col: 14 + 1001, item: "rule 'Parens'", message: "exceeded max depth limit of 1000" }),
    ]);
    expectGoodLoaded(res);
  });

  it("the load's total: rules past it fail, those before it load", () => {
    const text = Array.from({ length: 20 }, (_, i) => rule(`R${i}`, `evt.type = execve and proc.name in (a, b, c, d, e, f, g, h) and proc.pid = ${i}`)).join(
      "",
    );
    // each rule: 1 and + 3 checks + 8 items = 12 nodes
    const { res } = load(text, { expansion: { maxTotalNodes: 120 } });
    expect(res.ruleset.rules.map((r) => r.name)).toEqual(["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9"]);
    expect(errors(res)).toHaveLength(10);
    expect(errors(res)[0]).toEqual(
      expect.objectContaining({
        file: FILE,
        line: lineOf(text, "- rule: R10") + 2,
        col: 14,
        item: "rule 'R10'",
        message: "expansion exceeds 120 nodes in total for this load",
      }),
    );
  });

  it("limits are options: a smaller per-item limit is reported with its own figure", () => {
    const text = `- list: l\n  items: [a, b, c, d, e, f]\n` + rule("R", "evt.type = execve and proc.name in (l) and proc.exe in (l)") + GOOD;
    const { res } = load(text, { expansion: { maxExpansionNodes: 10 } });
    expect(errors(res)).toEqual([expect.objectContaining({ line: 5, col: 70, message: "expansion exceeds 10 nodes" })]);
    expectGoodLoaded(res);
  });
});

describe("YAML aliases", () => {
  it("nested anchors (billion laughs) are refused by the alias count", () => {
    let text = "- list: a0\n  items: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let k = 1; k <= 9; k++) text += `- list: a${k}\n  items: &a${k} [${Array.from({ length: 10 }, () => `*a${k - 1}`).join(", ")}]\n`;
    const { res, ms } = load(text + GOOD);
    expect(ms).toBeLessThan(2000);
    expect(errors(res).length).toBeGreaterThan(0);
    expect(errors(res).every((d) => d.file === FILE && d.line >= 1 && d.col >= 1)).toBe(true);
    expectGoodLoaded(res);
  });

  it("one alias per item to a large anchored sequence is bounded by the expansion budget", () => {
    // 100,000 items once, then referred to by 300 lists: 30,000,000 entries before the budget
    const text =
      `- list: big\n  items: &big [${Array.from({ length: 100_000 }, () => "x").join(",")}]\n` +
      Array.from({ length: 300 }, (_, i) => `- list: b${i}\n  items: *big\n`).join("") +
      GOOD;
    const { res } = load(text);
    const alias = errors(res).filter((d) => /^YAML alias expansion exceeds \d+ nodes and characters$/.test(d.message));
    expect(alias.length).toBeGreaterThan(250);
    expect(alias[0]).toEqual(expect.objectContaining({ file: FILE, col: 3 }));
    expectGoodLoaded(res);
  }, 30_000);
});

describe("vigil rules check on a bomb (built CLI, 256 MiB heap)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-budget-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the positioned error and exits 1 promptly", () => {
    let text = "- macro: m0\n  condition: proc.name = a\n";
    for (let k = 1; k <= 60; k++) text += `- macro: m${k}\n  condition: m${k - 1} and m${k - 1}\n`;
    text += "- list: l0\n  items: [a, b]\n";
    for (let k = 1; k <= 60; k++) text += `- list: l${k}\n  items: [l${k - 1}, l${k - 1}]\n`;
    text += rule("Bomb", "evt.type = execve and m60 and proc.name in (l60)") + GOOD;
    const file = join(dir, "bomb.yaml");
    writeFileSync(file, text);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ["--max-old-space-size=256", join(REPO_ROOT, "dist/agent/cli/main.js"), "rules", "check", file], {
      encoding: "utf8",
      timeout: 20_000,
    });
    const ms = performance.now() - t0;
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines).toContain(`${file}:${lineOf(text, "- macro: m17") + 1}:14: error LOAD_ERR_COMPILE_CONDITION: expansion exceeds ${N} nodes (macro 'm17')`);
    expect(lines).toContain(`${file}:${lineOf(text, "- list: l17")}:3: error LOAD_ERR_VALIDATE: expansion exceeds ${N} nodes (list 'l17')`);
    expect(lines.find((l) => l.startsWith(`${file}: `))).toMatch(/: 2 rules, 61 macros, 61 lists, \d+ errors, \d+ warnings$/);
    expect(ms).toBeLessThan(10_000);
  }, 30_000);
});
