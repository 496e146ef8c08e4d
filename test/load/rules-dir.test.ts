// SPDX-License-Identifier: Apache-2.0
/**
 * Rules directories (rules/load/files.ts) through the real RuleEngine: Falco's file choice and
 * order, overrides across files of a directory, hot reload seeing files added to and removed from
 * a watched directory, selection re-applied on reload; and the `rules list|fields|check` commands
 * that print Falco's -L and --list layouts. Files live in temporary directories.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RuleEngine } from "../../agent/engine/rule-engine.js";
import { Pipeline } from "../../agent/pipeline.js";
import type { SourceContext } from "../../agent/sources/types.js";
import { runRulesCheck, runRulesFields, runRulesList } from "../../agent/cli/rules-cmd.js";
import type { RuleSet } from "../../rules/index.js";
import { describeRulesText } from "../../rules/load/describe.js";
import { resolveRulesPaths, rulesFilesOfDirectory } from "../../rules/load/files.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { STABLE_RULES } from "../rules/stable-path.js";

const root = mkdtempSync(join(tmpdir(), "vigil-rules-dir-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function freshDir(): string {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
}

const rule = (name: string, evt: string, extra = ""): string =>
  `- rule: ${name}\n  desc: ${name} desc\n  condition: evt.type = ${evt}\n  output: "${name} %proc.name"\n  priority: WARNING\n  tags: [t_${evt}]\n${extra}`;

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("resolving rules paths (Falco's read_rules_file_directory)", () => {
  it("regular *.yaml/*.yml files of the directory, symlinks followed, byte order, no recursion", () => {
    const d = freshDir();
    const outside = join(root, "outside.yaml");
    writeFileSync(outside, rule("Outside", "open"));
    for (const f of ["b.yaml", "a.yaml", "c.yml", ".hidden.yaml", "B.yaml", "notes.txt", "x.yaml.bak"]) writeFileSync(join(d, f), "");
    mkdirSync(join(d, "sub.yaml"));
    writeFileSync(join(d, "sub.yaml", "inner.yaml"), "");
    symlinkSync(outside, join(d, "link.yaml"));
    symlinkSync(join(d, "missing"), join(d, "dangling.yaml"));
    symlinkSync(join(d, "sub.yaml"), join(d, "dirlink.yaml"));
    const want = [".hidden.yaml", "B.yaml", "a.yaml", "b.yaml", "c.yml", "link.yaml"].map((f) => join(d, f));
    expect(rulesFilesOfDirectory(d)).toEqual(want);
    const file = join(root, "named.rules");
    writeFileSync(file, "");
    // a file named explicitly is loaded whatever its name; paths keep their order
    expect(resolveRulesPaths([file, d, outside])).toEqual({ files: [file, ...want, outside], dirs: [d] });
  });
});

describe("RuleEngine with a rules directory", () => {
  it("loads the files in lexical order: a later file's override wins", () => {
    const d = freshDir();
    writeFileSync(join(d, "10-base.yaml"), rule("Shell", "execve") + rule("Reader", "open"));
    // 20 sorts after 10 and replaces the condition of Shell defined there
    writeFileSync(join(d, "20-local.yaml"), "- rule: Shell\n  condition: evt.type = connect\n  override:\n    condition: replace\n");
    const e = new RuleEngine({ files: [d], logger: captureLogger().logger });
    const rs = e.load();
    expect(rs.rules.map((r) => r.name)).toEqual(["Shell", "Reader"]);
    expect(rs.eventTypes().names).toEqual(new Set(["connect", "open"]));
    expect(e.loadedFiles).toEqual([join(d, "10-base.yaml"), join(d, "20-local.yaml")]);
  });

  it("the same files in the other order: the override has no rule to amend", () => {
    const d = freshDir();
    writeFileSync(join(d, "20-base.yaml"), rule("Shell", "execve"));
    writeFileSync(join(d, "10-local.yaml"), "- rule: Shell\n  condition: evt.type = connect\n  override:\n    condition: replace\n");
    const log = captureLogger();
    const rs = new RuleEngine({ files: [d], logger: log.logger }).load();
    expect(rs.eventTypes().names).toEqual(new Set(["execve"]));
    const lines = log.withMsg("rule error").map((l) => (l["diag"] as { line: string }).line);
    expect(lines.some((l) => l.startsWith(`${join(d, "10-local.yaml")}:1:3: error`))).toBe(true);
  });

  it("errors name the file of the directory with line and column", () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("Good", "open"));
    writeFileSync(join(d, "b.yaml"), "- rule: Bad\n  desc: d\n  condition: evt.type = open and no.such.field = 1\n  output: x\n  priority: WARNING\n");
    const log = captureLogger();
    const rs = new RuleEngine({ files: [d], logger: log.logger }).load();
    expect(rs.rules.map((r) => r.name)).toEqual(["Good"]);
    const lines = log.withMsg("rule error").map((l) => (l["diag"] as { line: string }).line);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${join(d, "b.yaml")}:3:\\d+: error LOAD_ERR_COMPILE_CONDITION`)));
  });

  it("a file added to a watched directory is loaded by the watch; a removed one is dropped", async () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("First", "open"));
    const swaps: RuleSet[] = [];
    const e = new RuleEngine({ files: [d], logger: captureLogger().logger, onSwap: (rs) => swaps.push(rs) });
    e.load();
    e.watch();
    try {
      writeFileSync(join(d, "b.yaml"), rule("Second", "connect"));
      await until(() => e.ruleset.rules.length === 2);
      expect(e.ruleset.rules.map((r) => r.name)).toEqual(["First", "Second"]);
      // the probe is told the new syscall set on swap
      expect(swaps.at(-1)?.eventTypes().names).toEqual(new Set(["open", "connect"]));
      unlinkSync(join(d, "a.yaml"));
      await until(() => e.ruleset.rules.length === 1);
      expect(e.ruleset.rules.map((r) => r.name)).toEqual(["Second"]);
      // a file written after the re-arm is seen too (the new file is watched)
      writeFileSync(join(d, "b.yaml"), rule("Second", "connect") + rule("Third", "unlink"));
      await until(() => e.ruleset.rules.length === 2);
      expect(e.reloads).toBeGreaterThanOrEqual(3);
    } finally {
      e.stop();
    }
  });

  it("reload (SIGHUP) lists the directory again", async () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("First", "open"));
    const e = new RuleEngine({ files: [d], logger: captureLogger().logger });
    e.load();
    writeFileSync(join(d, "b.yml"), rule("Second", "connect"));
    writeFileSync(join(d, "ignored.txt"), rule("Ignored", "unlink"));
    expect(await e.reload()).toBe(true);
    expect(e.ruleset.rules.map((r) => r.name)).toEqual(["First", "Second"]);
  });

  it("selection is applied on every load and reload, and decides the syscall set", async () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("Shell spawned", "execve") + rule("Net tool", "connect"));
    const swaps: RuleSet[] = [];
    const e = new RuleEngine({
      files: [d],
      logger: captureLogger().logger,
      selection: { selection: [{ disable: { rule: "Net*" } }], disableTags: ["t_unlink"] },
      onSwap: (rs) => swaps.push(rs),
    });
    expect(e.load().rules.map((r) => r.name)).toEqual(["Shell spawned"]);
    expect(swaps[0]?.eventTypes().names).toEqual(new Set(["execve"]));
    writeFileSync(join(d, "b.yaml"), rule("Net scanner", "socket") + rule("Deleter", "unlink") + rule("Opener", "open"));
    expect(await e.reload()).toBe(true);
    expect(e.ruleset.rules.map((r) => r.name)).toEqual(["Shell spawned", "Opener"]);
    expect(swaps.at(-1)?.eventTypes().names).toEqual(new Set(["execve", "open"]));
  });
});

describe("Pipeline with a rules directory and a selection", () => {
  it("the probe is asked only for the syscalls of the selected rules, at start and after a reload", async () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("Shell spawned", "execve") + rule("Net tool", "connect") + rule("Deleter", "unlink"));
    let ctx: SourceContext | undefined;
    const calls: string[][] = [];
    const p = new Pipeline({
      rulesFiles: [d],
      ruleSelection: { selection: [{ disable: { rule: "*" } }, { enable: { tag: "t_unlink" } }] },
      logger: captureLogger().logger,
      sinks: [],
      statsIntervalSec: 0,
      source: (c) => {
        ctx = c;
        return {
          name: "fake",
          start: async () => undefined,
          stop: async () => undefined,
          stats: () => ({}),
          setSyscalls: async (names) => void calls.push(names),
        };
      },
    });
    await p.start();
    try {
      expect(p.engine.ruleset.rules.map((r) => r.name)).toEqual(["Deleter"]);
      expect(ctx?.syscalls).toContain("unlink");
      expect(ctx?.syscalls).not.toContain("connect");
      writeFileSync(join(d, "b.yaml"), rule("Opener", "open", "  tags: [t_unlink]\n").replace("  tags: [t_open]\n", ""));
      expect(await p.engine.reload()).toBe(true);
      expect(p.engine.ruleset.rules.map((r) => r.name)).toEqual(["Deleter", "Opener"]);
      expect(calls.at(-1)).toContain("open");
      expect(calls.at(-1)).not.toContain("connect");
    } finally {
      await p.stop();
    }
  });
});

describe("listings", () => {
  it("describeRulesText: Falco's -L columns and wrapping", () => {
    const long = "word ".repeat(30).trim();
    const text = describeRulesText([
      { name: "Short", desc: "One line." },
      { name: "Long", desc: long },
    ]);
    const lines = text.split("\n");
    expect(lines[0]).toBe(`${"Rule".padEnd(50)} Description`);
    expect(lines[1]).toBe(`${"----".padEnd(50)} -----------`);
    expect(lines[2]).toBe(`${"Short".padEnd(50)} One line. `);
    expect(lines[3]).toBe("");
    // 59 columns: eleven 5-character words a line
    expect(lines[4]).toBe(`${"Long".padEnd(50)} ${"word ".repeat(11)}`);
    expect(lines[5]).toBe(`${" ".repeat(51)}${"word ".repeat(11)}`);
    expect(lines[6]).toBe(`${" ".repeat(51)}${"word ".repeat(8)}`);
  });

  it("rules list: the rules in force after selection, from a directory", () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("Alpha", "open") + rule("Beta", "connect") + rule("Gamma", "execve", "  enabled: false\n"));
    let out = "";
    let err = "";
    const code = runRulesList(
      { rules: [d], output: "text", disableTag: ["t_connect"] },
      (s) => (out += s),
      (s) => (err += s),
    );
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out).toContain(`${"Alpha".padEnd(50)} Alpha desc \n`);
    expect(out).not.toContain("Beta");
    expect(out).not.toContain("Gamma");
    let json = "";
    expect(
      runRulesList(
        { rules: [d], output: "json", enableTag: ["t_execve"] },
        (s) => (json += s),
        () => undefined,
      ),
    ).toBe(0);
    expect((JSON.parse(json) as { name: string }[]).map((r) => r.name)).toEqual(["Gamma"]);
    expect(
      runRulesList(
        { rules: [d], output: "text", enableTag: ["a"], disableRule: ["b"] },
        () => undefined,
        (s) => (err += s),
      ),
    ).toBe(1);
    expect(err).toMatch(/can not specify both/);
  });

  it("rules list on Falco's stable rules with -D", () => {
    let out = "";
    expect(
      runRulesList(
        { rules: [STABLE_RULES], output: "json", disableRule: ["Container"] },
        (s) => (out += s),
        () => undefined,
      ),
    ).toBe(0);
    expect(JSON.parse(out)).toHaveLength(20);
  });

  it("rules fields --output falco: Falco's --list layout, grouped by class", () => {
    let out = "";
    runRulesFields({ output: "falco" }, (s) => (out += s));
    expect(out).toContain(`${"-".repeat(31)}\n${"Field Class:".padEnd(30)}evt\n`);
    expect(out).toContain(`${"Field Class:".padEnd(30)}process\n`);
    expect(out).toContain(`${"Event Sources:".padEnd(30)}syscall \n`);
    expect(out).toMatch(/^fd\.num {24}\S/m);
    // thread.* belongs to Falco's process class, before the user class
    expect(out.indexOf("thread.")).toBeGreaterThan(out.indexOf("Field Class:                  process"));
    expect(out.indexOf("thread.")).toBeLessThan(out.indexOf("Field Class:                  user"));
    let verbose = "";
    runRulesFields({ output: "falco", verbose: true }, (s) => (verbose += s));
    expect(verbose).toMatch(/^fd\.num {24}\(Type: int\) /m);
  });

  it("rules check accepts a directory", () => {
    const d = freshDir();
    writeFileSync(join(d, "a.yaml"), rule("Alpha", "open"));
    writeFileSync(join(d, "b.yaml"), rule("Beta", "connect"));
    let out = "";
    expect(runRulesCheck([d], { output: "text" }, (s) => (out += s))).toBe(0);
    expect(out).toContain(`${join(d, "a.yaml")}: 1 rules`);
    expect(out).toContain(`${join(d, "b.yaml")}: 1 rules`);
  });
});
