// SPDX-License-Identifier: Apache-2.0
/** The indexed rule set: rules meet only the events of their types, in definition order. */
import { describe, expect, it } from "vitest";
import { loadRuleFiles } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { execve, O, openat, proc } from "./event-builder.js";

function rules(...defs: [string, string][]): string {
  return defs.map(([n, c]) => `- rule: ${n}\n  desc: d\n  condition: ${c}\n  output: o\n  priority: INFO\n  warn_evttypes: false\n`).join("");
}
const noProc = (e: SyscallEvent): SyscallEvent => ({ ...e, proc: undefined }) as unknown as SyscallEvent;

describe("event type index", () => {
  it("a rule is never evaluated on events of other types", () => {
    const r = loadRuleFiles([{ path: "f", text: rules(["Exec", "evt.type = execve and proc.pname = x"], ["Open", "evt.type = openat and proc.pname = x"]) }]);
    // without a process every evaluated rule fails: the counters show which ones ran
    r.ruleset.evaluate(noProc(openat("/x", O.RDONLY)), () => undefined);
    const [exec, open] = r.ruleset.rules;
    expect(exec?.evalErrors).toBe(0);
    expect(open?.evalErrors).toBe(1);
  });
  it("rules without a type constraint run for every type, in definition order with the typed ones", () => {
    const r = loadRuleFiles(
      [{ path: "f", text: rules(["A", "evt.type = execve and proc.name = sh"], ["Any", "proc.name = sh"], ["B", "evt.type = execve"]) }],
      { ruleMatching: "all" },
    );
    const seen: string[] = [];
    r.ruleset.evaluate(execve(proc({ comm: "sh" })), (x) => seen.push(x.name));
    expect(seen).toEqual(["A", "Any", "B"]);
    seen.length = 0;
    r.ruleset.evaluate(openat("/x", O.RDONLY, proc({ comm: "sh" })), (x) => seen.push(x.name));
    expect(seen).toEqual(["Any"]);
  });
  it("matches are counted per rule", () => {
    const r = loadRuleFiles([{ path: "f", text: rules(["A", "evt.type = execve"]) }]);
    for (let i = 0; i < 5; i++) r.ruleset.evaluate(execve(proc()), () => undefined);
    expect(r.ruleset.rules[0]?.matches).toBe(5);
  });
  it("disabled rules and rules below the minimum priority are not in the syscall set", () => {
    const text = rules(["A", "evt.type = execve"], ["B", "evt.type = openat"]).replace(
      "  priority: INFO\n  warn_evttypes: false\n- rule: B",
      "  priority: INFO\n  warn_evttypes: false\n  enabled: false\n- rule: B",
    );
    const r = loadRuleFiles([{ path: "f", text }]);
    expect([...r.ruleset.eventTypes().names]).toEqual(["openat"]);
    const crit = loadRuleFiles([{ path: "f", text: rules(["A", "evt.type = execve"]) }], { minPriority: "critical" });
    expect(crit.ruleset.eventTypes()).toEqual({ names: new Set(), all: false });
  });
});
