// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent` with Falco's command-line habits: -L lists the rules in force after the falco.yaml
 * `rules:` selection and -D/-T/-t, --list the fields, -o sets keys; a bad selection is refused
 * before anything starts. Falco's stable rules are read in place.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../sinks/helpers/run-ts.js";

const STABLE = join(__dirname, "..", "..", "..", "shared", "corpus", "falco", "falco_rules.yaml");
/** Rule names as -L prints them: one per entry, at the line start, after the two header lines. */
const names = (text: string) => [...text.matchAll(/^(\S.*?)\s{2,}/gm)].map((m) => m[1]).filter((n) => n !== "Rule" && n !== "----");

describe("vigil agent: Falco's flags", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-falco-flags-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("-L lists Falco's rules then Vigil's own, after the falco.yaml selection", async () => {
    const f = join(dir, "falco.yaml");
    writeFileSync(f, `rules_files:\n  - ${STABLE}\nrules:\n  - disable:\n      rule: "*"\n  - enable:\n      tag: T1611\n`);
    const r = await runCli(["agent", "--falco-config", f, "-L"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const listed = names(r.stdout);
    // disable all, then enable by tag: only rules (Falco's and Vigil's) tagged T1611 remain
    expect(listed.length).toBeGreaterThan(0);
    expect(listed).toContain("Debugfs Launched in Privileged Container");
    expect(listed).toContain("Detect release_agent File Container Escapes");
    expect(r.stdout).not.toContain("Read sensitive file untrusted");
    // Vigil's own rules come after Falco's (Falco's keep their first-match verdicts)
    const stable = readFileSync(STABLE, "utf8");
    const ours = listed.filter((n) => !stable.includes(`- rule: ${n}\n`));
    expect(ours.length).toBeGreaterThan(0);
    expect(listed.indexOf(ours[0]!)).toBe(listed.length - ours.length);
  });

  it("-T, -t and -D select as Falco's flags did; -t with -T is refused", async () => {
    const all = names((await runCli(["agent", "-r", STABLE, "-L"])).stdout);
    expect(all).toHaveLength(25);
    const noHost = names((await runCli(["agent", "-r", STABLE, "-T", "host", "-L"])).stdout);
    expect(noHost).toHaveLength(8);
    const only = names((await runCli(["agent", "-r", STABLE, "-t", "shell", "-t", "users", "-L"])).stdout);
    expect(only).toHaveLength(3);
    const noContainer = names((await runCli(["agent", "-r", STABLE, "-D", "Container", "-L"])).stdout);
    expect(noContainer).toHaveLength(20);
    const both = await runCli(["agent", "-r", STABLE, "-t", "shell", "-T", "host", "-L"]);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/rule selection: .*-t/);
  }, 60_000);

  it("--list prints the fields in Falco's layout", async () => {
    const r = await runCli(["agent", "--list"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("proc.name");
    expect(r.stdout).toContain("fd.name");
  });

  it("-o reaches the falco.yaml before it is translated", async () => {
    const f = join(dir, "o.yaml");
    writeFileSync(f, `rules_files:\n  - ${STABLE}\n`);
    const r = await runCli(["agent", "--falco-config", f, "-o", "rules[].disable.rule=*", "-o", "rules[].enable.rule=Search Private Keys or Passwords", "-L"]);
    expect(r.code).toBe(0);
    expect(names(r.stdout)).toEqual(["Search Private Keys or Passwords"]);
  });
});
