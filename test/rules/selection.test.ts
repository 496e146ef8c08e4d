// SPDX-License-Identifier: Apache-2.0
/** Rule selection with Falco's semantics (rules/load/selection.ts), through the loader and on Falco's stable rules. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRuleFiles } from "../../rules/index.js";
import { applySelection, checkSelection, matchesWildcard, MAX_SELECTION_PATTERN, type RuleSelectionOptions } from "../../rules/load/selection.js";
import { syscallsFor } from "../../agent/pipeline.js";
import { STABLE_RULES } from "./stable-path.js";

function rule(name: string, tags: string[], enabled = true, evt = "open"): string {
  return `- rule: ${name}
  desc: ${name} description
  condition: evt.type = ${evt}
  output: "${name} %proc.name"
  priority: WARNING
  tags: [${tags.join(", ")}]
  enabled: ${enabled}
`;
}

const FILE = {
  path: "/rules/sel.yaml",
  text: [
    rule("Shell in container", ["shell", "container"]),
    rule("Shell on host", ["shell", "host"], true, "execve"),
    rule("Read secrets", ["filesystem"], true, "openat"),
    rule("Write below etc", ["filesystem", "host"], false, "unlink"),
    rule("Netcat in container", ["network", "container"], true, "connect"),
  ].join("\n"),
};

function names(selection: RuleSelectionOptions | undefined): string[] {
  const res = loadRuleFiles([FILE], selection === undefined ? {} : { selection });
  return res.ruleset.rules.map((r) => r.name);
}

describe("matchesWildcard", () => {
  it("matches * as any run, other characters literally, the whole name", () => {
    expect(matchesWildcard("*", "anything")).toBe(true);
    expect(matchesWildcard("*", "")).toBe(true);
    expect(matchesWildcard("Shell*", "Shell in container")).toBe(true);
    expect(matchesWildcard("*container", "Shell in container")).toBe(true);
    expect(matchesWildcard("*in*", "Shell in container")).toBe(true);
    expect(matchesWildcard("Shell", "Shell in container")).toBe(false);
    expect(matchesWildcard("shell*", "Shell in container")).toBe(false);
    // a literal after * found first too early must be retried later in the name
    expect(matchesWildcard("*a", "aba")).toBe(true);
    expect(matchesWildcard("a*b*c", "axbxbxc")).toBe(true);
    expect(matchesWildcard("a*b*c", "axbxbx")).toBe(false);
    // regex metacharacters are literal
    expect(matchesWildcard("a.c", "abc")).toBe(false);
    expect(matchesWildcard("STDOUT/STDIN*", "STDOUT/STDIN to x")).toBe(true);
  });
  it("stays fast on adversarial patterns (no exponential backtracking)", () => {
    const name = "a".repeat(5000);
    const pattern = `${"*a".repeat(500)}b`;
    const t0 = performance.now();
    expect(matchesWildcard(pattern, name)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("selection list (falco.yaml rules:)", () => {
  it("without selection, enabled: false rules stay off", () => {
    expect(names(undefined)).toEqual(["Shell in container", "Shell on host", "Read secrets", "Netcat in container"]);
  });
  it("applies entries in order: the last matching entry wins", () => {
    expect(names({ selection: [{ disable: { rule: "*" } }, { enable: { rule: "Shell*" } }] })).toEqual(["Shell in container", "Shell on host"]);
    // same entries reversed: everything is disabled last
    expect(names({ selection: [{ enable: { rule: "Shell*" } }, { disable: { rule: "*" } }] })).toEqual([]);
    expect(names({ selection: [{ disable: { tag: "shell" } }, { enable: { rule: "Shell on host" } }] })).toEqual([
      "Shell on host",
      "Read secrets",
      "Netcat in container",
    ]);
    expect(names({ selection: [{ enable: { rule: "Shell on host" } }, { disable: { tag: "shell" } }] })).toEqual(["Read secrets", "Netcat in container"]);
  });
  it("enable overrides a rule written enabled: false (Falco: regardless of the files' enabled status)", () => {
    expect(names({ selection: [{ enable: { tag: "filesystem" } }] })).toContain("Write below etc");
    expect(names({ selection: [{ disable: { rule: "*" } }, { enable: { rule: "Write below etc" } }] })).toEqual(["Write below etc"]);
  });
  it("tags match exactly, rule names by wildcard, case-sensitive", () => {
    expect(names({ selection: [{ disable: { tag: "contain*" } }] })).toHaveLength(4);
    expect(names({ selection: [{ disable: { tag: "container" } }] })).toEqual(["Shell on host", "Read secrets"]);
    expect(names({ selection: [{ disable: { rule: "*IN CONTAINER" } }] })).toHaveLength(4);
    expect(names({ selection: [{ disable: { rule: "*in container" } }] })).toEqual(["Shell on host", "Read secrets"]);
  });
  it("an entry with both rule and tag applies both", () => {
    expect(names({ selection: [{ disable: { rule: "Read secrets", tag: "network" } }] })).toEqual(["Shell in container", "Shell on host"]);
  });
  it("an entry that matches nothing is a warning; an invalid entry is an error naming it", () => {
    const res = loadRuleFiles([FILE], { selection: { selection: [{ disable: { rule: "No such rule" } }] } });
    expect(res.ok).toBe(true);
    expect(res.diagnostics).toContainEqual(expect.objectContaining({ code: "LOAD_SELECTION_NO_MATCH", severity: "warning" }));
    const bad = loadRuleFiles([FILE], {
      selection: { selection: [{ enable: {} }, { toggle: { rule: "x" } } as never, { disable: { rule: "Shell*" } }] },
    });
    expect(bad.ok).toBe(false);
    const msgs = bad.diagnostics.filter((d) => d.code === "LOAD_ERR_SELECTION").map((d) => d.message);
    expect(msgs).toEqual([expect.stringMatching(/entry 1: enable needs a rule or a tag/), expect.stringMatching(/entry 2 must have exactly one key/)]);
    // the valid entry still applied
    expect(bad.ruleset.rules.map((r) => r.name)).toEqual(["Read secrets", "Netcat in container"]);
    expect(checkSelection({ selection: [{ enable: { rule: "x".repeat(MAX_SELECTION_PATTERN + 1) } }] })[0]).toMatch(/longer than/);
  });
  it("selection decides the probe's syscall set: disabled rules do not keep their event types", () => {
    const all = loadRuleFiles([FILE]).ruleset;
    expect(all.eventTypes().names).toEqual(new Set(["open", "execve", "openat", "connect"]));
    const some = loadRuleFiles([FILE], { selection: { selection: [{ disable: { tag: "container" } }, { disable: { rule: "Read*" } }] } }).ruleset;
    expect(some.eventTypes().names).toEqual(new Set(["execve"]));
    expect(syscallsFor(all)).toContain("connect");
    expect(syscallsFor(some)).not.toContain("connect");
    expect(syscallsFor(some)).not.toContain("openat");
  });
});

describe("-D / -T / -t equivalents", () => {
  it("-D disables by plain substring (not a glob or regex)", () => {
    expect(names({ disableRules: ["in container"] })).toEqual(["Shell on host", "Read secrets"]);
    expect(names({ disableRules: ["Shell*"] })).toHaveLength(4);
    expect(names({ disableRules: ["S.ell"] })).toHaveLength(4);
  });
  it("-T disables rules having any of the tags", () => {
    expect(names({ disableTags: ["shell", "network"] })).toEqual(["Read secrets"]);
  });
  it("-t runs only rules with one of the tags, including ones written enabled: false", () => {
    expect(names({ enableTags: ["host"] })).toEqual(["Shell on host", "Write below etc"]);
    // after the selection list, as Falco applies command-line options last
    expect(names({ selection: [{ enable: { rule: "Read secrets" } }], enableTags: ["network"] })).toEqual(["Netcat in container"]);
  });
  it("-t cannot be mixed with -T or -D", () => {
    expect(checkSelection({ enableTags: ["a"], disableTags: ["b"] })).toEqual(["You can not specify both disabled (-D/-T) and enabled (-t) rules"]);
    expect(checkSelection({ enableTags: ["a"], disableRules: ["b"] })).toHaveLength(1);
    expect(checkSelection({ disableTags: ["a"], disableRules: ["b"] })).toEqual([]);
  });
  it("applySelection leaves the initial state when no option is given", () => {
    const out = applySelection([{ name: "a", tags: [] }], [false], {});
    expect(out.enabled).toEqual([false]);
  });
});

describe("Falco's stable rules with a selection", () => {
  const stable = [{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }];
  const load = (selection?: RuleSelectionOptions) => loadRuleFiles(stable, selection === undefined ? {} : { selection });
  it("loads 25 rules without selection", () => {
    expect(load().ruleset.rules).toHaveLength(25);
  });
  it("disable all, enable a tag, disable a glob", () => {
    const res = load({ selection: [{ disable: { rule: "*" } }, { enable: { tag: "network" } }, { disable: { rule: "*in container" } }] });
    expect(res.ok).toBe(true);
    expect(res.ruleset.rules.map((r) => r.name)).toEqual([
      "Contact K8S API Server From Container",
      "Netcat Remote Code Execution in Container",
      "Redirect STDOUT/STDIN to Network Connection in Container",
      "Disallowed SSH Connection Non Standard Port",
    ]);
  });
  it("-T host leaves 8, -t shell -t users leaves 3, -D Container leaves 20", () => {
    expect(load({ disableTags: ["host"] }).ruleset.rules).toHaveLength(8);
    expect(load({ enableTags: ["shell", "users"] }).ruleset.rules.map((r) => r.name)).toEqual([
      "Run shell untrusted",
      "System user interactive",
      "Terminal shell in container",
    ]);
    expect(load({ disableRules: ["Container"] }).ruleset.rules).toHaveLength(20);
  });
  it("only the PTRACE rules: the syscall set shrinks to ptrace plus state", () => {
    const rs = load({ selection: [{ disable: { rule: "*" } }, { enable: { rule: "PTRACE*" } }] }).ruleset;
    expect(rs.rules).toHaveLength(2);
    expect([...rs.eventTypes().names]).toEqual(["ptrace"]);
    expect(syscallsFor(rs)).not.toContain("connect");
    expect(syscallsFor(load().ruleset)).toContain("connect");
  });
});
