// SPDX-License-Identifier: Apache-2.0
/**
 * Result filters (issue 19): rule conditions → the outcome (success / failure) every rule of a
 * type needs, which the probe keeps alone (`mount:fail`, `chmod:ok`). Table cases per construct
 * (negations exact only where the atom is), per-type union over rules, the state's needs, the
 * open family left to its push-down, the `syscalls` line the source sends, and the packs.
 */
import { describe, expect, it } from "vitest";
import { probeSyscalls } from "../../agent/sources/ebpf-source.js";
import { conditionResult, deriveResultFilters, type ResultFilters } from "../../rules/compile/result-filter.js";
import { PUSHDOWN_EVENTS } from "../../rules/compile/pushdown.js";
import { loadRuleFiles, parseCondition } from "../../rules/index.js";
import { packFiles } from "../helpers/packs.js";

function need(cond: string): string {
  return conditionResult(parseCondition(cond)) ?? "both";
}

function rulesYaml(conds: string[]): string {
  return conds.map((c, i) => `- rule: r${i}\n  desc: d\n  condition: ${c}\n  output: o\n  priority: WARNING\n`).join("\n");
}

function filtersOf(conds: string[], state = new Map<string, "ok" | "fail">()): ResultFilters {
  const r = loadRuleFiles([{ path: "t.yaml", text: rulesYaml(conds) }]);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return deriveResultFilters(r.ruleset.rules, state, new Set(PUSHDOWN_EVENTS));
}

const CASES: [string, string][] = [
  ["evt.failed = true", "fail"],
  ["evt.failed = false", "ok"],
  ["evt.failed != true", "ok"],
  ["not evt.failed = true", "ok"],
  ["evt.res = SUCCESS", "ok"],
  ["evt.res != SUCCESS", "fail"],
  ["not evt.res = SUCCESS", "fail"],
  ["not evt.res != SUCCESS", "ok"],
  ["evt.res = EPERM", "fail"],
  ["evt.res in (EPERM, EACCES, EROFS)", "fail"],
  ["evt.res in (SUCCESS, EPERM)", "both"],
  // not one error: success or another error
  ["not evt.res = EPERM", "both"],
  ["evt.res != EPERM", "both"],
  ['evt.res startswith "E"', "fail"],
  ['not evt.res startswith "E"', "both"],
  ["evt.rawres = 0", "ok"],
  ["evt.rawres >= 0", "ok"],
  ["evt.rawres > 5", "ok"],
  ["evt.rawres < 0", "fail"],
  ["evt.rawres <= -1", "fail"],
  ["evt.rawres = -13", "fail"],
  ["evt.rawres in (-1, -13)", "fail"],
  ["evt.rawres in (0, -13)", "both"],
  ["evt.rawres != 0", "both"],
  ["not evt.rawres >= 0", "fail"],
  ["not evt.rawres < 0", "ok"],
  ["not evt.rawres = 0", "both"],
  ["evt.rawres < 3", "both"],
  // connectives
  ["evt.failed = true and proc.name = sh", "fail"],
  ["evt.failed = true or proc.name = sh", "both"],
  ["evt.rawres >= 0 or evt.res = EINPROGRESS", "both"],
  ["evt.res = EPERM or evt.res = EACCES", "fail"],
  ["evt.rawres >= 0 and evt.rawres < 0", "both"], // impossible: no outcome; the type is sent whole rather than guessed
  ["not (evt.failed = false or proc.name = sh)", "fail"],
  ["not (evt.failed = false and proc.name = sh)", "both"],
  // other fields say nothing about the result
  ["fd.num >= 0", "both"],
  ["proc.name = sh", "both"],
  ["evt.arg.res = EPERM", "both"],
];

describe("result filter of one condition", () => {
  it.each(CASES)("%s → %s", (cond, want) => {
    expect(need(cond)).toBe(want);
  });
});

describe("result filters per type", () => {
  it("unites the needs of every rule of a type; evt.type leaves folded per type", () => {
    const f = filtersOf([
      "evt.type = mount and evt.failed = true",
      "evt.type in (chmod, fchmod) and evt.rawres = 0",
      "evt.type = fchmod and evt.res = EPERM",
      "evt.type = unshare and proc.name = sh",
      "(evt.type = setns and evt.res in (EPERM, EACCES)) or (evt.type = bpf and evt.rawres >= 0)",
    ]);
    expect(f.get("mount")).toBe("fail");
    expect(f.get("chmod")).toBe("ok");
    expect(f.has("fchmod")).toBe(false);
    expect(f.has("unshare")).toBe(false);
    expect(f.get("setns")).toBe("fail");
    expect(f.get("bpf")).toBe("ok");
    // a type no rule names is not asked for at all
    expect(f.has("ptrace")).toBe(false);
  });

  it("a rule of every type turns every filter off", () => {
    const f = filtersOf(["evt.type = mount and evt.failed = true", "proc.name = sh"]);
    expect(f.size).toBe(0);
  });

  it("adds what the state needs: failed execs are kept only when a rule wants them", () => {
    const state = new Map([["execve", "ok" as const]]);
    expect(filtersOf(["evt.type = execve and evt.rawres = 0"], state).get("execve")).toBe("ok");
    expect(filtersOf(["evt.type = execve and evt.failed = true"], state).has("execve")).toBe(false);
  });

  it("leaves the open family to its pushed-down filter", () => {
    const f = filtersOf(["evt.type in (openat, open, openat2, creat) and evt.failed = true"]);
    expect(f.has("openat")).toBe(false);
    expect(f.get("creat")).toBe("fail");
  });
});

describe("the probe's syscalls line", () => {
  it("qualifies names with :ok / :fail; :child wins for state-only clones", () => {
    const f: ResultFilters = new Map([
      ["mount", "fail"],
      ["chmod", "ok"],
      ["clone", "ok"],
    ]);
    expect(probeSyscalls(["mount", "chmod", "clone", "execve", "nosuchcall"], ["clone"], f)).toEqual(["chmod:ok", "clone:child", "execve", "mount:fail"]);
    expect(probeSyscalls(["mount"], [], undefined)).toEqual(["mount"]);
  });
});

describe("with the built-in packs", () => {
  const r = loadRuleFiles(packFiles());
  const f = deriveResultFilters(r.ruleset.rules, new Map([["execve", "ok"]]), new Set(PUSHDOWN_EVENTS));

  it("keeps failed execs (refused exec rules) and failed attempts of the privileged calls", () => {
    expect(f.has("execve")).toBe(false);
    for (const n of ["mount", "unshare", "setns", "bpf", "ptrace", "init_module", "finit_module"]) expect(f.get(n), n).not.toBe("ok");
  });
});
