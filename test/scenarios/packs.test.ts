// SPDX-License-Identifier: Apache-2.0
/**
 * The rule packs as files (every rules file of rules/files, so a new pack is covered as soon as it
 * lands): they load without errors or warnings (together, and each on its own with the base file,
 * as a user may load them into Falco); every rule carries a MITRE tactic tag and a technique ID;
 * every rule prints the standard evidence block; FIM rules are tagged `fim`; every rule has a
 * scenario in table.ts that proves it in a real container, and that scenario's technique is one of
 * the rule's tags (the live harness checks the alert's tags for it too).
 */
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadRuleFiles } from "../../rules/index.js";
import { BASE_PACK, packFile, packNames } from "../helpers/packs.js";
import { ATTACKS } from "./table.js";
import { execve, proc } from "../rules/event-builder.js";

const file = packFile;
const BASE = BASE_PACK;
const PACKS = packNames().filter((n) => n !== BASE);
type Item = { rule?: string; output?: string; tags?: string[]; condition?: string };
const rulesOf = (n: string): Item[] => (parse(file(n).text) as Item[]).filter((i) => i.rule !== undefined);
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;

const STANDARD_FIELDS = ["%proc.name", "%proc.cmdline", "%proc.pname", "%proc.pcmdline", "%proc.aname[2]", "%proc.aname[3]", "%user.name"];
/**
 * The container and pod come from Falco 0.44's suggested output fields, appended to every rule's
 * output (agent/engine/append-output.ts, Falco's default `append_output`): a rule printing them
 * too would show them twice, in Vigil and in Falco alike.
 */
const SUGGESTED_FIELDS = ["%container.id", "%container.name", "%container.image.repository", "%container.image.tag", "%k8s.ns.name", "%k8s.pod.name"];

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

  it("the packs are the base file, drift, FIM, TTP and whatever else rules/files holds", () => {
    expect(PACKS.slice(0, 3)).toEqual(["10-drift.yaml", "20-fim.yaml", "30-ttp.yaml"]);
  });

  it("the TTP pack has at least 40 rules; every rule of every pack has a MITRE tactic and technique", () => {
    expect(rulesOf("30-ttp.yaml").length).toBeGreaterThanOrEqual(40);
    for (const r of PACKS.flatMap(rulesOf)) {
      expect(
        r.tags?.some((t) => t.startsWith("mitre_")),
        r.rule,
      ).toBe(true);
      expect(
        r.tags?.some((t) => TECHNIQUE.test(t)),
        r.rule,
      ).toBe(true);
    }
  });

  it("every attack scenario's technique is one of its rule's tags", () => {
    const tags = new Map([BASE, ...PACKS].flatMap(rulesOf).map((r) => [r.rule as string, r.tags ?? []]));
    const wrong = ATTACKS.filter((s) => !(tags.get(s.expect as string) ?? []).includes(s.technique)).map(
      (s) =>
        `${s.name}: ${s.technique} not in "${s.expect}" [${(tags.get(s.expect as string) ?? ["no such rule"]).filter((t) => TECHNIQUE.test(t) || t === "no such rule").join(", ")}]`,
    );
    expect(wrong).toEqual([]);
  });

  it.each(PACKS.flatMap((p) => rulesOf(p).map((r) => [p, r.rule as string, r] as const)))(
    "%s: %s prints the evidence block and is proven by a scenario",
    (p, name, r) => {
      for (const f of STANDARD_FIELDS) expect(r.output, `${name} output lacks ${f}`).toContain(f);
      for (const f of SUGGESTED_FIELDS)
        expect(r.output, `${name} output repeats the suggested field ${f}`).not.toMatch(new RegExp(`${f.replaceAll(".", "\\.")}\\b`));
      expect(r.tags?.some((t) => TECHNIQUE.test(t))).toBe(true);
      if (p === "20-fim.yaml") expect(r.tags).toContain("fim");
      expect(ATTACKS.filter((s) => s.expect === name).length, `no scenario for ${name}`).toBeGreaterThan(0);
      expect(name).not.toBe("Read Shadow File");
    },
  );

  it("no two rules share a name", () => {
    const names = [BASE, ...PACKS].flatMap((p) => rulesOf(p).map((r) => r.rule));
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("System Program Name Run From Writable Location on the user's own toolchains", () => {
  const rs = loadRuleFiles([BASE, ...PACKS].map(file), {}).ruleset;
  const fired = (exepath: string, comm: string, exe = comm): string[] => {
    const init = proc({ comm: "bash" });
    const p = proc({ comm, exe, exepath, args: ["-c", "1"] });
    p.parent = init;
    const out: string[] = [];
    rs.evaluate(execve(p), (r) => out.push(r.name));
    return out;
  };
  it.each([
    ["/root/.pyenv/versions/3.11.9/bin/python3.11", "python3"],
    ["/home/dev/.pyenv/versions/3.12.1/bin/python3.12", "python3"],
    ["/root/.nvm/versions/node/v20.11.0/bin/node", "node"],
    ["/home/dev/.asdf/installs/java/21/bin/java", "java"],
  ])("%s (%s) raises nothing", (exepath, comm) => {
    expect(fired(exepath, comm)).toEqual([]);
  });
  it.each([
    ["/root/.cache/sshd", "sshd"],
    ["/home/dev/.local/bin/.x/python3", "python3"],
    ["/tmp/.pyenv/versions/3/bin/python3", "python3"],
    ["/root/.pyenvx/versions/3/bin/sshd", "sshd"],
  ])("%s (%s) is still detected", (exepath, comm) => {
    expect(fired(exepath, comm)).toContain("System Program Name Run From Writable Location");
  });
});
