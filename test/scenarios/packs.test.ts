// SPDX-License-Identifier: Apache-2.0
/**
 * The drift, FIM and TTP packs as files: they load without errors or warnings (together, and each
 * on its own with the base file, as a user may load them into Falco); every TTP rule carries a
 * MITRE tactic tag and a technique ID; every rule prints the standard evidence block; FIM rules are
 * tagged `fim`; and every rule has a scenario in table.ts that proves it in a real container.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadRuleFiles } from "../../rules/index.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { ATTACKS } from "./table.js";

const file = (n: string) => {
  const path = join(REPO_ROOT, "rules", "files", n);
  return { path, text: readFileSync(path, "utf8") };
};
const BASE = "00-vigil-base.yaml";
const PACKS = ["10-drift.yaml", "20-fim.yaml", "30-ttp.yaml"];
type Item = { rule?: string; output?: string; tags?: string[]; condition?: string };
const rulesOf = (n: string): Item[] => (parse(file(n).text) as Item[]).filter((i) => i.rule !== undefined);

const STANDARD_FIELDS = ["%proc.name", "%proc.cmdline", "%proc.pname", "%proc.pcmdline", "%proc.aname[2]", "%proc.aname[3]",
  "%user.name", "%container.id", "%container.name", "%container.image.repository", "%k8s.ns.name", "%k8s.pod.name"];

describe("rule packs", () => {
  it("load together without errors or warnings", () => {
    const r = loadRuleFiles([BASE, ...PACKS].map(file), {});
    expect(r.diagnostics.map((d) => `${d.file}:${d.line} ${d.code} ${d.message}`)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it.each(PACKS)("%s loads on its own with the base file", (p) => {
    const r = loadRuleFiles([file(BASE), file(p)], {});
    expect(r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line} ${d.message}`)).toEqual([]);
    expect(r.ruleset.rules.length).toBe(rulesOf(p).length + rulesOf(BASE).length);
  });

  it("the TTP pack has at least 40 rules, each with a MITRE tactic and technique", () => {
    const ttp = rulesOf("30-ttp.yaml");
    expect(ttp.length).toBeGreaterThanOrEqual(40);
    for (const r of ttp) {
      expect(r.tags?.some((t) => t.startsWith("mitre_")), r.rule).toBe(true);
      expect(r.tags?.some((t) => /^T\d{4}(\.\d{3})?$/.test(t)), r.rule).toBe(true);
    }
  });

  it.each(PACKS.flatMap((p) => rulesOf(p).map((r) => [p, r.rule as string, r] as const)))("%s: %s prints the evidence block and is proven by a scenario", (p, name, r) => {
    for (const f of STANDARD_FIELDS) expect(r.output, `${name} output lacks ${f}`).toContain(f);
    expect(r.tags?.some((t) => /^T\d{4}(\.\d{3})?$/.test(t))).toBe(true);
    if (p === "20-fim.yaml") expect(r.tags).toContain("fim");
    expect(ATTACKS.filter((s) => s.expect === name).length, `no scenario for ${name}`).toBeGreaterThan(0);
    expect(name).not.toBe("Read Shadow File");
  });

  it("no two rules share a name", () => {
    const names = [BASE, ...PACKS].flatMap((p) => rulesOf(p).map((r) => r.rule));
    expect(new Set(names).size).toBe(names.length);
  });
});
