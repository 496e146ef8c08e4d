// SPDX-License-Identifier: Apache-2.0
/**
 * Rules of a source other than `syscall` (Falco's plugin sources): compiled against that source's
 * fields into their own rule set, never indexed by event type, list fields compared the way
 * libsinsp compares them (`in` every value, `intersects` one, `exists`, nothing else). The source
 * here is a small one written for the test, so the loader's part is checked on its own.
 */
import { describe, expect, it } from "vitest";
import { CompileError } from "../../rules/errors.js";
import { type FieldInfo, type FieldSource, FieldType, type ResolvedField } from "../../rules/compile/fields.js";
import type { SyscallEvent } from "../../rules/event.js";
import { loadRuleFiles, type LoadResult } from "../../rules/index.js";
import { execve, proc } from "./event-builder.js";

interface Doc {
  type: number;
  sec: number;
  nsec: number;
  user?: string;
  images?: string[];
  privileged?: string[];
  ports?: string[];
}

const FIELDS: FieldInfo[] = [
  { name: "t.user", type: FieldType.String, desc: "user", arg: "none" },
  { name: "t.images", type: FieldType.String, desc: "images (list)", arg: "none" },
  { name: "t.privileged", type: FieldType.Bool, desc: "privileged flags (list)", arg: "none" },
  { name: "t.ports", type: FieldType.Uint, desc: "ports (list)", arg: "none" },
];

const asDoc = (e: SyscallEvent): Doc => e as unknown as Doc;
const listOf =
  (k: "images" | "privileged" | "ports") =>
  (e: SyscallEvent): readonly string[] | undefined =>
    asDoc(e)[k];

const testSource: FieldSource = {
  name: "test_src",
  resolve(name, arg): ResolvedField {
    const info = FIELDS.find((f) => f.name === name);
    if (info === undefined) throw new CompileError("UNKNOWN_FIELD", `unknown field '${name}'`);
    if (arg !== undefined) throw new CompileError("BAD_FIELD_ARG", `field '${name}' takes no argument`);
    if (name === "t.user") return { name, type: info.type, get: (e) => asDoc(e).user, ancestor: undefined, either: undefined };
    const list = listOf(name.slice(2) as "images" | "privileged" | "ports");
    return {
      name,
      type: info.type,
      list,
      get: (e) => {
        const vs = list(e);
        return vs === undefined || vs.length === 0 ? undefined : `(${vs.join(",")})`;
      },
      ancestor: undefined,
      either: undefined,
    };
  },
  has: (name) => FIELDS.some((f) => f.name === name),
  list: () => FIELDS,
};

function load(text: string): LoadResult {
  return loadRuleFiles([{ path: "s.yaml", text }], { sources: [testSource], ruleMatching: "all" });
}
function rule(name: string, cond: string, source = "test_src", output = "u=%t.user images=%t.images"): string {
  return `- rule: ${name}\n  desc: d\n  condition: ${cond}\n  output: "${output}"\n  priority: WARNING\n  source: ${source}\n`;
}
function fired(r: LoadResult, source: string, d: Partial<Doc>): string[] {
  const out: string[] = [];
  const e = { type: -1, sec: 1, nsec: 0, ...d } as unknown as SyscallEvent;
  r.rulesets.get(source)?.evaluate(e, (rule) => out.push(rule.name));
  return out;
}
const messages = (r: LoadResult, sev: "error" | "warning"): string[] =>
  r.diagnostics.filter((d) => d.severity === sev).map((d) => `${d.line}:${d.col} ${d.code}: ${d.message}`);

describe("rules of another source", () => {
  it("compile against that source's fields into their own rule set, with no event-type warning", () => {
    const r = load(rule("Admin", "t.user = admin") + rule("Shell", "evt.type = execve and proc.name = sh", "syscall", "%proc.name"));
    expect(messages(r, "error")).toEqual([]);
    expect(messages(r, "warning")).toEqual([]);
    expect(r.rulesets.get("test_src")?.rules.map((x) => x.name)).toEqual(["Admin"]);
    expect(r.ruleset.rules.map((x) => x.name)).toEqual(["Shell"]);
    expect(r.rulesets.get("syscall")).toBe(r.ruleset);
    expect(fired(r, "test_src", { user: "admin" })).toEqual(["Admin"]);
    expect(fired(r, "test_src", { user: "bob" })).toEqual([]);
    // the syscall rules never see the other source's rules
    const names: string[] = [];
    r.ruleset.evaluate(execve(proc({ comm: "sh" })), (x) => names.push(x.name));
    expect(names).toEqual(["Shell"]);
  });

  it("reject syscall fields in a rule of another source, and that source's fields in a syscall rule, at the field's column", () => {
    const r = load(rule("Bad", "t.user = a and proc.name = sh") + rule("Bad2", "evt.type = execve and t.user = a", "syscall"));
    expect(messages(r, "error")).toEqual([
      "3:29 LOAD_ERR_COMPILE_CONDITION: unknown field 'proc.name'",
      "9:36 LOAD_ERR_COMPILE_CONDITION: unknown field 't.user'",
    ]);
  });

  it("share macros and lists across sources, each rule compiling them with its own fields", () => {
    const text =
      "- list: admins\n  items: [root, admin]\n- macro: is_admin\n  condition: t.user in (admins)\n" +
      rule("Admin", "is_admin") +
      rule("Root shell", "evt.type = execve and proc.name in (admins)", "syscall", "%proc.name");
    const r = load(text);
    expect(messages(r, "error")).toEqual([]);
    expect(fired(r, "test_src", { user: "root" })).toEqual(["Admin"]);
  });

  it("skip a rule of a source no one provides, with Falco's warning", () => {
    const r = loadRuleFiles([{ path: "s.yaml", text: rule("Admin", "t.user = admin") }]);
    expect(messages(r, "warning")).toEqual(["1:3 LOAD_UNKNOWN_SOURCE: Unknown source test_src, skipping"]);
    expect(r.rulesets.has("test_src")).toBe(false);
  });

  it("format outputs with the source's fields, list fields as (a,b)", () => {
    const r = load(rule("Admin", "t.user = admin"));
    const ruleObj = r.rulesets.get("test_src")?.rules[0];
    const out = ruleObj?.format({ type: -1, sec: 2, nsec: 5, user: "admin", images: ["nginx", "redis:7"] } as unknown as SyscallEvent);
    expect(out?.message).toBe("u=admin images=(nginx,redis:7)");
    expect(out?.fields).toEqual({ "t.user": "admin", "t.images": "(nginx,redis:7)", "evt.time": 2_000_000_005 });
    const missing = ruleObj?.format({ type: -1, sec: 2, nsec: 5, images: [] } as unknown as SyscallEvent);
    expect(missing?.message).toBe("u=<NA> images=<NA>");
  });
});

describe("list fields", () => {
  const r = load(
    rule("In", "t.images in (nginx, redis)") +
      rule("Intersects", "t.images intersects (nginx)") +
      rule("Exists", "t.images exists") +
      rule("Priv", "t.privileged intersects (true)") +
      rule("Ports", "t.ports in (80, 443)"),
  );
  it("load", () => {
    expect(messages(r, "error")).toEqual([]);
  });
  it("in: every value is in the set; intersects: one is; exists: there is a value", () => {
    expect(fired(r, "test_src", { images: ["nginx", "redis"] })).toEqual(["In", "Intersects", "Exists"]);
    expect(fired(r, "test_src", { images: ["nginx", "evil"] })).toEqual(["Intersects", "Exists"]);
    expect(fired(r, "test_src", { images: ["evil"] })).toEqual(["Exists"]);
    // no values is missing: nothing holds, not even `in` (vacuously)
    expect(fired(r, "test_src", { images: [] })).toEqual([]);
    expect(fired(r, "test_src", {})).toEqual([]);
  });
  it("compare typed values: booleans and numbers", () => {
    expect(fired(r, "test_src", { privileged: ["false", "true"] })).toEqual(["Priv"]);
    expect(fired(r, "test_src", { privileged: ["false"] })).toEqual([]);
    expect(fired(r, "test_src", { ports: ["80", "443"] })).toEqual(["Ports"]);
    expect(fired(r, "test_src", { ports: ["80", "8080"] })).toEqual([]);
  });
  it("take only exists, in and intersects", () => {
    for (const cond of ["t.images = nginx", "t.images contains nginx", "t.images startswith ngi", "t.images != x"]) {
      const bad = load(rule("Bad", cond));
      expect(messages(bad, "error")).toEqual([
        "3:14 LOAD_ERR_COMPILE_CONDITION: list field 't.images' only supports operators 'exists', 'in' and 'intersects'",
      ]);
    }
  });
});
