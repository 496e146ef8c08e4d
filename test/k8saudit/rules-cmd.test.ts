// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil rules check|list|fields` on k8s_audit rules: the built-in audit pack and the admission
 * policies check clean, a syscall field in an audit rule is an error at its file:line:col, and
 * `fields --source k8s_audit` lists Falco's k8saudit fields with the admission ones. Falco's own
 * published k8saudit rules file is checked too when VIGIL_FALCO_K8SAUDIT_RULES names a copy (it is
 * not in ../shared/corpus, and third-party rules are not copied into this repository).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRulesCheck, runRulesFields, runRulesList } from "../../agent/cli/rules-cmd.js";
import { packagePath } from "../../agent/paths.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-k8s-rules-cmd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(paths: string[]): { code: number; out: string } {
  let out = "";
  const code = runRulesCheck(paths, { output: "text" }, (s) => (out += s));
  return { code, out };
}

describe("vigil rules check on k8s_audit rules", () => {
  it("passes the built-in audit pack and admission policies with no error or warning", () => {
    const { code, out } = check([packagePath("rules", "files", "k8s-audit"), packagePath("rules", "files", "admission")]);
    expect(out).not.toMatch(/: (error|warning) /);
    expect(out).toMatch(/vigil-k8s-audit\.yaml: \d+ rules, \d+ macros, \d+ lists, 0 errors, 0 warnings/);
    expect(code).toBe(0);
  });

  it("reports a syscall field in an audit rule at its position, and an audit field in a syscall rule", () => {
    const f = join(dir, "mixed.yaml");
    writeFileSync(
      f,
      [
        "- rule: Exec by admin",
        "  desc: d",
        "  condition: ka.verb = create and proc.name = sh",
        "  output: x %ka.user.name",
        "  priority: WARNING",
        "  source: k8s_audit",
        "- rule: Shell",
        "  desc: d",
        "  condition: evt.type = execve and ka.verb = create",
        "  output: x %proc.name",
        "  priority: WARNING",
        "",
      ].join("\n"),
    );
    const { code, out } = check([f]);
    expect(code).toBe(1);
    expect(out).toContain(`${f}:3:35: error LOAD_ERR_COMPILE_CONDITION: unknown field 'proc.name' for source 'k8s_audit'`);
    expect(out).toContain(`${f}:9:36: error LOAD_ERR_COMPILE_CONDITION: unknown field 'ka.verb'`);
  });

  it("lists audit rules with their source", () => {
    let out = "";
    const code = runRulesList(
      { rules: [packagePath("rules", "files", "k8s-audit")], output: "json" },
      (s) => (out += s),
      () => {},
    );
    expect(code).toBe(0);
    const rules = JSON.parse(out) as { name: string; source: string }[];
    expect(rules.length).toBeGreaterThan(10);
    expect(new Set(rules.map((r) => r.source))).toEqual(new Set(["k8s_audit"]));
  });

  it("lists the k8s_audit fields with --source k8s_audit, the syscall ones by default", () => {
    let audit = "";
    runRulesFields({ output: "json", source: "k8s_audit" }, (s) => (audit += s));
    const names = (JSON.parse(audit) as { name: string }[]).map((f) => f.name);
    expect(names).toContain("ka.req.pod.containers.image");
    expect(names).toContain("ka.uri.param");
    expect(names).toContain("jevt.value");
    expect(names).not.toContain("proc.name");
    let sys = "";
    runRulesFields({ output: "json" }, (s) => (sys += s));
    const sysNames = (JSON.parse(sys) as { name: string }[]).map((f) => f.name);
    expect(sysNames).toContain("proc.name");
    expect(sysNames).not.toContain("ka.verb");
  });

  const published = process.env.VIGIL_FALCO_K8SAUDIT_RULES;
  it.runIf(published !== undefined && existsSync(published))("loads Falco's published k8s_audit_rules.yaml with zero errors", () => {
    const { code, out } = check([published as string]);
    expect(out).toMatch(/: 4\d rules, \d+ macros, \d+ lists, 0 errors, 0 warnings/);
    expect(code).toBe(0);
  });
});
