// SPDX-License-Identifier: Apache-2.0
/**
 * Property tests: random YAML, random conditions and random mutations of the stable rules never
 * make the loader throw; every diagnostic has a position; the rule set evaluates without throwing.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRuleFiles, parseCondition, ParseError, RuleError } from "../../rules/index.js";
import { compileExpr } from "../../rules/compile/compiler.js";
import { execve, O, openat, proc } from "./event-builder.js";
import { STABLE_RULES } from "./stable-path.js";

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const COND_TOKENS = [
  "proc.name",
  "fd.name",
  "evt.type",
  "proc.aname[2]",
  "evt.arg.flags",
  "fd.num",
  "container.id",
  "tolower(",
  "val(",
  "len(",
  "(",
  ")",
  "(",
  ")",
  "and",
  "or",
  "not",
  "=",
  "!=",
  "<",
  ">=",
  "in",
  "contains",
  "icontains",
  "startswith",
  "glob",
  "pmatch",
  "regex",
  "exists",
  "intersects",
  "bcontains",
  "oneof",
  "anyof",
  "bash",
  "/etc/passwd",
  "'quoted str'",
  '"dq\\"x"',
  "'bad\\q'",
  ",",
  "0x1F",
  "-1",
  "3.5e2",
  "[",
  "]",
  "macro_x",
  "execve",
  "<NA>",
  "\\",
  "'",
  '"',
  "%",
  "*",
];

function randomCondition(r: () => number): string {
  const n = 1 + Math.floor(r() * 25);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(r, COND_TOKENS));
  return out.join(r() < 0.8 ? " " : "");
}

const YAML_TOKENS = [
  "- rule: ",
  "- macro: ",
  "- list: ",
  "  condition: ",
  "  output: ",
  "  desc: ",
  "  priority: ",
  "  items: ",
  "  append: true",
  "  override:",
  "    condition: append",
  "  exceptions:",
  "    - name: e",
  "      fields: [proc.name]",
  "      values: [[a]]",
  "  enabled: false",
  "- required_engine_version: ",
  "- required_plugin_versions:",
  "WARNING",
  "info",
  "bogus",
  "[a, b",
  "{x: 1}",
  "&a [1]",
  "*a",
  "!!binary AAAA",
  "---",
  "...",
  "\t",
  ":",
  "- ",
  "|",
  ">",
  "'",
  '"',
  "#",
  "~",
  "null",
  "12",
  "0.57.0",
];

function randomYaml(r: () => number): string {
  const lines: string[] = [];
  const n = 1 + Math.floor(r() * 30);
  for (let i = 0; i < n; i++) {
    let line = pick(r, YAML_TOKENS);
    if (r() < 0.5) line += pick(r, r() < 0.5 ? YAML_TOKENS : COND_TOKENS);
    if (r() < 0.3) line += " " + randomCondition(r);
    lines.push(line);
  }
  return lines.join("\n") + (r() < 0.5 ? "\n" : "");
}

function loadsSafely(texts: string[]): void {
  const res = loadRuleFiles(texts.map((text, i) => ({ path: `fuzz${i}.yaml`, text })));
  expect(typeof res.ok).toBe("boolean");
  for (const d of res.diagnostics) {
    expect(d.file).toMatch(/^fuzz\d+\.yaml$|<config>/);
    expect(Number.isInteger(d.line) && Number.isInteger(d.col)).toBe(true);
    expect(d.code).toMatch(/^LOAD_/);
    expect(d.message).not.toContain("\n");
  }
  const events = [openat("/etc/shadow", O.RDONLY, proc({ comm: "cat" })), execve(proc({ comm: "sh", args: ["-c", "x"] }))];
  for (const e of events) res.ruleset.evaluate(e, (rule) => rule.format(e));
}

describe("fuzz", () => {
  it("random conditions: parse either succeeds or throws a positioned ParseError; compile throws only RuleErrors", () => {
    const r = rng(1);
    for (let i = 0; i < 5000; i++) {
      const src = randomCondition(r);
      let tree;
      try {
        tree = parseCondition(src);
      } catch (err) {
        if (!(err instanceof ParseError)) throw new Error(`non-ParseError for ${JSON.stringify(src)}: ${String(err)}`);
        expect(err.pos).toBeDefined();
        continue;
      }
      try {
        compileExpr(tree);
      } catch (err) {
        if (!(err instanceof RuleError)) throw new Error(`non-RuleError for ${JSON.stringify(src)}: ${String(err)}`);
      }
    }
  });

  it("random conditions inside rules never make the loader throw", () => {
    const r = rng(2);
    for (let i = 0; i < 1000; i++) {
      const text = `- macro: macro_x\n  condition: ${JSON.stringify(randomCondition(r))}\n- rule: R\n  desc: d\n  condition: ${JSON.stringify(randomCondition(r))}\n  output: ${JSON.stringify("o %" + pick(r, COND_TOKENS))}\n  priority: ${pick(r, ["WARNING", "info", "x"])}\n`;
      loadsSafely([text]);
    }
  });

  it("random YAML never makes the loader throw", () => {
    const r = rng(3);
    for (let i = 0; i < 1000; i++) loadsSafely([randomYaml(r), randomYaml(r)]);
  }, 120_000);

  it("random mutations of the stable rules never make the loader throw", () => {
    const base = readFileSync(STABLE_RULES, "utf8");
    const r = rng(4);
    for (let i = 0; i < 40; i++) {
      let t = base;
      for (let k = 0; k < 5; k++) {
        const at = Math.floor(r() * t.length);
        const op = r();
        if (op < 0.4) t = t.slice(0, at) + t.slice(at + Math.floor(r() * 40));
        else if (op < 0.8) t = t.slice(0, at) + pick(r, [...COND_TOKENS, ...YAML_TOKENS]) + t.slice(at);
        else t = t.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + t.slice(at + 1);
      }
      loadsSafely([t]);
    }
  }, 120_000);

  it("hostile inputs: huge strings, deep YAML, alias bombs, binary garbage", () => {
    const huge = "x".repeat(2_000_000);
    loadsSafely([`- rule: ${huge}\n  desc: d\n  condition: proc.name = ${huge}\n  output: o\n  priority: INFO\n`]);
    loadsSafely(["[".repeat(5000) + "]".repeat(5000)]);
    loadsSafely(["- rule: R\n  desc: d\n  condition: " + "(".repeat(100_000) + "\n  output: o\n  priority: INFO\n"]);
    const bomb = ["- list: a0\n  items: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let k = 1; k < 12; k++)
      bomb.push(
        `- list: a${k}\n  items: &a${k} [*a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}, *a${k - 1}]`,
      );
    loadsSafely([bomb.join("\n") + "\n"]);
    const r = rng(5);
    const bytes = Array.from({ length: 20000 }, () => String.fromCharCode(Math.floor(r() * 65536))).join("");
    loadsSafely([bytes]);
    const res = loadRuleFiles([
      { path: "fuzz0.yaml", text: "- rule: R\n  desc: d\n  condition: " + "(".repeat(100_000) + "\n  output: o\n  priority: INFO\n" },
    ]);
    expect(res.diagnostics.map((d) => d.message).join("\n")).toMatch(/exceeded max depth/);
  });
});
