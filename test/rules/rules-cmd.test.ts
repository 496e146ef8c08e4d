// SPDX-License-Identifier: Apache-2.0
/** `vigil rules check|fields` (agent/cli/rules-cmd.ts), in process and as the built CLI. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRulesCheck, runRulesFields } from "../../agent/cli/rules-cmd.js";
import { REPO_ROOT, STABLE_RULES } from "./stable-path.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-rules-cmd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = join(dir, "good.yaml");
writeFileSync(
  GOOD,
  "- list: l\n  items: [sh]\n- macro: m\n  condition: proc.name in (l)\n- rule: R\n  desc: d\n  condition: evt.type = execve and m\n  output: o %proc.name\n  priority: WARNING\n",
);
const BAD = join(dir, "bad.yaml");
writeFileSync(
  BAD,
  "- rule: B\n  desc: d\n  condition: evt.type = execve and proc.nmae = x\n  output: o\n  priority: WARNING\n- rule: C\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: WARNING\n",
);

function run(paths: string[], o: Parameters<typeof runRulesCheck>[1]): { code: number; out: string } {
  let out = "";
  const code = runRulesCheck(paths, o, (s) => (out += s));
  return { code, out };
}

describe("rules check", () => {
  it("a good file: summary line, exit 0", () => {
    const { code, out } = run([GOOD], { output: "text" });
    expect(code).toBe(0);
    expect(out).toBe(`${GOOD}: 1 rules, 1 macros, 1 lists, 0 errors, 0 warnings\n`);
  });
  it("errors and warnings carry file:line:col, a code and a reason; exit 1", () => {
    const { code, out } = run([GOOD, BAD], { output: "text" });
    expect(code).toBe(1);
    const lines = out.trimEnd().split("\n");
    expect(lines).toContain(`${BAD}:3:36: error LOAD_ERR_COMPILE_CONDITION: unknown field 'proc.nmae' (rule 'B')`);
    expect(lines).toContain(
      `${BAD}:8:14: warning LOAD_NO_EVTTYPE: Rule matches too many evt.type values. This has a significant performance penalty. (rule 'C')`,
    );
    expect(lines).toContain(`${BAD}: 2 rules, 0 macros, 0 lists, 1 errors, 1 warnings`);
  });
  it("--syscalls prints the syscall set", () => {
    const { out } = run([STABLE_RULES], { output: "text", syscalls: true });
    expect(out).toContain(
      "syscalls: connect dup dup2 dup3 execve execveat finit_module init_module link linkat open openat openat2 ptrace sendmsg sendto socket symlink symlinkat\n",
    );
    expect(out).toContain("falco_rules.yaml: 25 rules, 87 macros, 49 lists, 0 errors");
  });
  it("--output json gives the same facts", () => {
    const { code, out } = run([BAD], { output: "json", syscalls: true });
    expect(code).toBe(1);
    const j = JSON.parse(out) as { ok: boolean; files: unknown[]; diagnostics: { code: string; line: number; col: number }[]; syscalls: { all: boolean } };
    expect(j.ok).toBe(false);
    expect(j.files).toEqual([{ file: BAD, rules: 2, macros: 0, lists: 0, errors: 1, warnings: 1 }]);
    expect(j.diagnostics[0]).toMatchObject({ code: "LOAD_ERR_COMPILE_CONDITION", line: 3, col: 36 });
    expect(j.syscalls.all).toBe(true);
  });
  it("an unreadable file is an error", () => {
    const { code, out } = run([join(dir, "missing.yaml")], { output: "text" });
    expect(code).toBe(1);
    expect(out).toMatch(/missing.yaml:0:0: error LOAD_ERR_FILE_READ: cannot read file: ENOENT/);
  });
});

describe("rules fields", () => {
  it("lists fields as text and JSON", () => {
    let text = "";
    runRulesFields({ output: "text" }, (s) => (text += s));
    expect(text).toMatch(/^proc\.aname\[<arg>\]\?\s+string\s+name/m);
    let json = "";
    runRulesFields({ output: "json" }, (s) => (json += s));
    const fields = JSON.parse(json) as { name: string; type: string }[];
    expect(fields.find((f) => f.name === "fd.num")?.type).toBe("int");
  });
});

const CLI = join(REPO_ROOT, "dist", "agent", "cli", "main.js");
describe.runIf(existsSync(CLI))("built CLI", () => {
  it("vigil rules check exits 0 on the stable rules and 1 on a bad file", () => {
    const ok = spawnSync(process.execPath, [CLI, "rules", "check", "--syscalls", STABLE_RULES], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("25 rules, 87 macros, 49 lists, 0 errors");
    const bad = spawnSync(process.execPath, [CLI, "rules", "check", BAD], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("LOAD_ERR_COMPILE_CONDITION");
  });
});
