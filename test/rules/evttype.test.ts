// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { codeCount, conditionCodes, simplifyForCodes } from "../../rules/compile/evttype.js";
import { EVENTS } from "../../rules/event-table.js";
import { parseCondition } from "../../rules/lang/parser.js";

const ALL = EVENTS.slice(1).map((e) => e.name);
function names(cond: string): string[] | "all" {
  const s = conditionCodes(parseCondition(cond));
  if (s === null) return "all";
  return EVENTS.filter((e) => s[e.code] === 1)
    .map((e) => e.name)
    .sort();
}
const except = (...n: string[]): string[] => ALL.filter((x) => !n.includes(x)).sort();

// The expression → event-type facts of falco's filter_ppm_codes tests, on Vigil's event table.
const CASES: [string, string[] | "all"][] = [
  ["evt.type = open", ["open"]],
  ["evt.type == open", ["open"]],
  ["evt.type in (open, execve)", ["execve", "open"]],
  ["evt.type intersects (open, execve)", ["execve", "open"]],
  ["evt.type != open", except("open")],
  ["not evt.type = open", except("open")],
  ["not evt.type != open", ["open"]],
  ["not not evt.type = open", ["open"]],
  ["evt.type = open and proc.name = x", ["open"]],
  ["evt.type = open or proc.name = x", "all"],
  ["evt.type = open and evt.type = close", []],
  ["evt.type = open or evt.type = close", ["close", "open"]],
  ["evt.type in (open, close) and evt.type in (close, dup)", ["close"]],
  ["not (evt.type = open or evt.type = close)", except("open", "close")],
  ["not (evt.type = open and proc.name = x)", "all"],
  ["not (evt.type = open and evt.type = close)", "all"],
  ["proc.name = bash", "all"],
  ["not proc.name = bash", "all"],
  ["evt.type exists", "all"],
  ["evt.num = 0", []],
  ["evt.num = 0 and evt.type = open", []],
  ["not evt.num = 0", "all"],
  ["evt.type = open and not evt.num = 0", ["open"]],
  ["(evt.type = open and fd.num >= 0) or (evt.type = execve and proc.name = x)", ["execve", "open"]],
  ["evt.type = nosuchevent", []],
  ["evt.type startswith open", "all"],
];

describe("event types from the condition tree", () => {
  it.each(CASES)("%s", (cond, want) => {
    expect(names(cond)).toEqual(want);
  });
  it("collects unknown event type names", () => {
    const u = new Set<string>();
    conditionCodes(parseCondition("evt.type in (open, bogus, nosuchcall)"), u);
    expect([...u].sort()).toEqual(["bogus", "nosuchcall"]);
  });
  it("Falco's event names are known: recvfrom, userfaultfd, the generated calls, exit_group (never returns), the meta event container", () => {
    const u = new Set<string>();
    const codes = conditionCodes(
      parseCondition("evt.type in (recvfrom, recvmsg, userfaultfd, container, exit_group, brk, epoll_ctl, close_range, socketcall, stat64)"),
      u,
    );
    expect([...u]).toEqual([]);
    expect(codeCount(codes)).toBe(10);
  });
});

describe("simplification under the rule's own event types", () => {
  function simplified(cond: string): string {
    const t = parseCondition(cond);
    const s = simplifyForCodes(t, conditionCodes(t));
    return JSON.stringify(s, (k, v: unknown) => (k === "pos" ? undefined : v));
  }
  it.each([
    ["evt.type = openat and proc.name = x", "proc.name"],
    ["(evt.type in (open, openat) and proc.name = x) and evt.type = openat", "proc.name"],
    ["evt.type = openat and (evt.type = execve or proc.name = x)", "proc.name"],
  ])("%s keeps only the non-type checks", (cond, field) => {
    const s = simplified(cond);
    expect(s).not.toContain("evt.type");
    expect(s).toContain(field);
  });
  it("keeps a type check that splits the rule's types", () => {
    expect(simplified("evt.type in (open, openat) and (evt.type = open or proc.name = x)")).toContain("evt.type");
  });
  it("rules without a type constraint are unchanged", () => {
    const t = parseCondition("proc.name = x or evt.type = open");
    expect(simplifyForCodes(t, conditionCodes(t))).toBe(t);
  });
});
