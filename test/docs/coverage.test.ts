// SPDX-License-Identifier: Apache-2.0
/**
 * docs/coverage.md cannot drift from the rules: every ATT&CK technique a rule of Vigil's packs is
 * tagged with has a row in the table naming that rule, every rule the table names carries that
 * technique, every row without a rule says why, and the file is exactly what scripts/coverage.mjs
 * generates from the rule files, the scenario table and the recorded audit events.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
// @ts-expect-error plain ESM script without type declarations
import { renderCoverage } from "../../scripts/coverage.mjs";
import { REPO_ROOT } from "../helpers/agent.js";

const DOC = readFileSync(join(REPO_ROOT, "docs", "coverage.md"), "utf8");
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;

interface Row {
  rules: string;
  proof: string;
  note: string;
}

/** Table rows by technique ID, parsed from the Markdown. */
function rows(md: string): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const line of md.split("\n")) {
    const m = /^\| \[(T\d{4}(?:\.\d{3})?)\]\([^)]+\) \| [^|]+ \| (.*?) \| (.*?) \| (.*?) \|$/.exec(line);
    if (!m) continue;
    expect(out.has(m[1] as string), `${m[1]} listed twice`).toBe(false);
    out.set(m[1] as string, { rules: m[2] as string, proof: m[3] as string, note: m[4] as string });
  }
  return out;
}

/** Rules of every pack, read straight from the YAML: name -> technique tags. */
function ruleTechniques(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const dir of ["rules/files", "rules/files/k8s-audit", "rules/files/admission"]) {
    for (const f of readdirSync(join(REPO_ROOT, dir)).filter((n) => n.endsWith(".yaml"))) {
      const doc = parse(readFileSync(join(REPO_ROOT, dir, f), "utf8")) as Array<Record<string, unknown>>;
      for (const item of doc) {
        if (typeof item.rule !== "string" || !Array.isArray(item.tags)) continue;
        out.set(
          item.rule,
          (item.tags as unknown[]).map(String).filter((t) => TECHNIQUE.test(t)),
        );
      }
    }
  }
  return out;
}

describe("docs/coverage.md", () => {
  const table = rows(DOC);
  const rules = ruleTechniques();

  it("has a row for the Containers matrix techniques and the Linux ones", () => {
    for (const id of ["T1609", "T1610", "T1611", "T1613", "T1098.006", "T1496.001", "T1552.007", "T1612", "T1053.007", "T1003.008"]) {
      expect(table.has(id), id).toBe(true);
    }
    expect(table.size).toBeGreaterThan(100);
  });

  it("names every rule in the row of every technique the rule is tagged with", () => {
    let pairs = 0;
    for (const [name, techniques] of rules) {
      expect(techniques.length, `${name} has no technique tag`).toBeGreaterThan(0);
      for (const t of techniques) {
        const row = table.get(t);
        expect(row, `${t} (tagged by "${name}") has no row`).toBeDefined();
        expect(
          row?.rules.split("<br>").map((c) => c.replace(/ \([^)]*\)$/, "")),
          `${t} row lacks "${name}"`,
        ).toContain(name);
        pairs++;
      }
    }
    expect(pairs).toBeGreaterThan(150);
  });

  it("names only rules that exist and carry the row's technique", () => {
    for (const [id, row] of table) {
      if (row.rules === "—" || row.rules.startsWith("via ")) continue;
      for (const c of row.rules.split("<br>")) {
        const name = c.replace(/ \([^)]*\)$/, "");
        expect(rules.get(name), `${id}: "${name}"`).toContain(id);
      }
    }
  });

  it("says why for every technique no rule carries", () => {
    for (const [id, row] of table) {
      if (row.rules === "—") expect(row.note.length, `${id} has no rule and no reason`).toBeGreaterThan(20);
    }
  });

  it("shows a live scenario or recorded audit event for the techniques the scenarios prove", () => {
    expect(table.get("T1003.008")?.proof).toContain('scenario "read the shadow file"');
    expect(table.get("T1098.006")?.proof).toContain("audit event crb-cluster-admin.json");
    expect(table.get("T1496.001")?.proof).toContain("scenario");
  });

  it("gives each live scenario a technique its expected rule is tagged with", () => {
    const text = readFileSync(join(REPO_ROOT, "test", "scenarios", "table.ts"), "utf8");
    let n = 0;
    for (const m of text.matchAll(/\{ name: "((?:[^"\\]|\\.)*)", technique: "([^"]*)", pod: "\w+", expect: "([^"]+)"/g)) {
      expect(rules.get(m[3] as string), `scenario "${m[1]}": ${m[3]} must carry ${m[2]}`).toContain(m[2]);
      n++;
    }
    expect(n).toBeGreaterThan(80);
  });

  it("is what scripts/coverage.mjs generates (regenerate with node scripts/coverage.mjs)", () => {
    expect(renderCoverage(REPO_ROOT)).toBe(DOC);
  });
});

describe("scripts/coverage.mjs", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-coverage-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  cpSync(join(REPO_ROOT, "rules", "files"), join(dir, "rules", "files"), { recursive: true });
  write("test/scenarios/table.ts", "export const ATTACKS = [\n];\nexport const BENIGN = [];\n");
  write("test/k8saudit/pack.test.ts", "const RULES = {\n} as const;\nconst EXPECTED = {\n};\nconst NEAR_MISSES = {};\n");

  it("refuses a rule tagged with a technique the table does not list", () => {
    write(
      "rules/files/x.yaml",
      "- rule: New Thing\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: WARNING\n  tags: [mitre_execution, T1059.999]\n",
    );
    expect(() => renderCoverage(dir)).toThrow(/missing from CATALOGUE: T1059\.999/);
  });

  it("puts a tagged rule and its scenario in the technique's row", () => {
    write(
      "rules/files/x.yaml",
      "- rule: New Thing\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: WARNING\n  tags: [mitre_execution, T1059.004]\n",
    );
    write(
      "test/scenarios/table.ts",
      'export const ATTACKS = [\n  { name: "run sh", technique: "T1059.004", pod: "web", expect: "New Thing", cmd: "sh" },\n];\nexport const BENIGN = [];\n',
    );
    const md = renderCoverage(dir) as string;
    const row = md.split("\n").find((l) => l.startsWith("| [T1059.004]"));
    expect(row).toContain("New Thing (syscall x.yaml)");
    expect(row).toContain('scenario "run sh"');
  });
});
