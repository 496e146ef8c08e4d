// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { loadRuleFiles, type CompiledRule, type LoadOptions, type LoadResult } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { container, ev, execve, O, openat, proc } from "./event-builder.js";

function load(texts: string[], opts?: LoadOptions): LoadResult {
  return loadRuleFiles(
    texts.map((text, i) => ({ path: `f${i}.yaml`, text })),
    opts,
  );
}
function errors(r: LoadResult): string[] {
  return r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.file}:${d.line}:${d.col}: ${d.code}: ${d.message}`);
}
function warnings(r: LoadResult): string[] {
  return r.diagnostics.filter((d) => d.severity === "warning").map((d) => `${d.code}: ${d.message}`);
}
function fired(r: LoadResult, e: SyscallEvent): string[] {
  const out: string[] = [];
  r.ruleset.evaluate(e, (rule) => out.push(rule.name));
  return out;
}
function rule(name: string, cond: string, extra = ""): string {
  return `- rule: ${name}\n  desc: d\n  condition: ${cond}\n  output: "out %proc.name"\n  priority: WARNING\n${extra}`;
}

const shEvent = execve(proc({ comm: "sh", args: ["-c", "id"] }));
const bashEvent = execve(proc({ comm: "bash" }));

describe("lists", () => {
  it("substitute into conditions, lists of lists expand when defined earlier", () => {
    const r = load(
      [
        `- list: a\n  items: [sh, "my shell"]\n- list: b\n  items: [a, bash]\n- list: c\n  items: [d, zsh]\n- list: d\n  items: [ksh]\n` +
          rule("R", "evt.type = execve and proc.name in (b)") +
          rule("S", "evt.type = execve and proc.name in (c)"),
      ],
      { ruleMatching: "all" },
    );
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent)).toEqual(["R"]);
    expect(fired(r, bashEvent)).toEqual(["R"]);
    // `d` in list c is defined later: it stays the literal "d"
    expect(fired(r, execve(proc({ comm: "ksh" })))).toEqual([]);
    expect(fired(r, execve(proc({ comm: "d" })))).toEqual(["S"]);
    expect(fired(r, execve(proc({ comm: "my shell" })))).toEqual(["R"]);
  });
  it("an empty list removes one adjacent comma", () => {
    const r = load(
      [
        `- list: empty\n  items: []\n` +
          rule("R", "evt.type = execve and proc.name in (empty, sh)") +
          rule("S", "evt.type = execve and proc.name in (bash, empty)") +
          rule("T", "evt.type = execve and proc.name in (empty)"),
      ],
      { ruleMatching: "all" },
    );
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent)).toEqual(["R"]);
    expect(fired(r, bashEvent)).toEqual(["S"]);
  });
  it("list names are replaced only between delimiters, not inside quotes or longer words", () => {
    const r = load(
      [`- list: sh\n  items: [zsh]\n` + rule("R", "evt.type = execve and proc.name = 'sh'") + rule("S", "evt.type = execve and proc.cmdline startswith sh_x")],
      { ruleMatching: "all" },
    );
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent)).toEqual(["R"]);
  });
  it.each([
    ["append: true", "- list: a\n  items: [bash]\n  append: true\n", ["sh", "bash"], true],
    ["override append", "- list: a\n  items: [bash]\n  override:\n    items: append\n", ["sh", "bash"], false],
    ["override replace", "- list: a\n  items: [bash]\n  override:\n    items: replace\n", ["bash"], false],
    ["redefinition", "- list: a\n  items: [bash]\n", ["bash"], false],
  ])("%s", (_n, amend, want, deprecated) => {
    const r = load([`- list: a\n  items: [sh]\n` + rule("R", "evt.type = execve and proc.name in (a)"), amend]);
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent).length > 0).toBe(want.includes("sh"));
    expect(fired(r, bashEvent).length > 0).toBe(want.includes("bash"));
    expect(warnings(r).some((w) => w.startsWith("LOAD_DEPRECATED_ITEM"))).toBe(deprecated);
  });
  it("appending to a list that does not exist is an error", () => {
    expect(errors(load(["- list: nope\n  items: [x]\n  append: true\n"]))[0]).toMatch(/f0.yaml:1:3: LOAD_ERR_VALIDATE: .*no previous list/);
  });
  it("unused lists warn", () => {
    expect(warnings(load(["- list: lonely\n  items: [x]\n"]))).toContain("LOAD_UNUSED_LIST: List not referred to by any other rule/macro");
  });
  it("a 100000-item list loads and matches (a 2 MB file: the file-size budget raised)", () => {
    const items = Array.from({ length: 100_000 }, (_, i) => `/data/file-${i}`);
    const r = load([`- list: big\n  items: [${items.join(", ")}]\n` + rule("Big", "evt.type = openat and fd.name in (big)")], {
      expansion: { maxFileChars: 4 * 1024 * 1024 },
    });
    expect(errors(r)).toEqual([]);
    expect(fired(r, openat("/data/file-99999", O.RDONLY))).toEqual(["Big"]);
    expect(fired(r, openat("/data/file-100000", O.RDONLY))).toEqual([]);
  });
});

describe("macros", () => {
  it("expand on the tree; a macro sees only earlier macros, rules see all", () => {
    const r = load([rule("R", "is_exec and late") + "- macro: is_exec\n  condition: evt.type = execve\n- macro: late\n  condition: proc.name = sh\n"]);
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent)).toEqual(["R"]);
    const bad = load(["- macro: first\n  condition: second and proc.name = x\n- macro: second\n  condition: evt.type = execve\n"]);
    expect(errors(bad)).toEqual([expect.stringMatching(/^f0.yaml:2:14: LOAD_ERR_COMPILE_CONDITION: Undefined macro 'second' used in filter\./)]);
  });
  it("an undefined macro in a rule reports file:line:col of the identifier", () => {
    const r = load([rule("R", "evt.type = execve and nosuch")]);
    expect(errors(r)).toEqual(["f0.yaml:3:36: LOAD_ERR_COMPILE_CONDITION: Undefined macro 'nosuch' used in filter."]);
    expect(r.ok).toBe(false);
    expect(r.ruleset.rules).toHaveLength(0);
  });
  it.each([
    ["append: true", "- macro: m\n  condition: or proc.name = bash\n  append: true\n", true],
    ["override append", "- macro: m\n  condition: or proc.name = bash\n  override:\n    condition: append\n", true],
    ["override replace", "- macro: m\n  condition: proc.name = bash\n  override:\n    condition: replace\n", false],
  ])("%s", (_n, amend, shStill) => {
    const r = load(["- macro: m\n  condition: proc.name = sh\n" + rule("R", "evt.type = execve and (m)"), amend]);
    expect(errors(r)).toEqual([]);
    expect(fired(r, bashEvent)).toEqual(["R"]);
    expect(fired(r, shEvent)).toEqual(shStill ? ["R"] : []);
  });
  it("append is plain concatenation without parentheses (Falco's precedence caveat)", () => {
    const r = load([
      "- macro: m\n  condition: evt.type = execve and proc.name = sh\n" + rule("R", "m"),
      "- macro: m\n  condition: or proc.name = bash\n  append: true\n",
    ]);
    // (execve and sh) or bash: an openat by bash matches
    expect(fired(r, openat("/x", O.RDONLY, proc({ comm: "bash" })))).toEqual(["R"]);
  });
  it("a macro with a parse error is reported and rules using it fail", () => {
    const r = load(["- macro: broken\n  condition: proc.name = = x\n" + rule("R", "evt.type = execve and broken")]);
    const errs = errors(r);
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^f0.yaml:2:26: LOAD_ERR_COMPILE_CONDITION:/);
    expect(errs[1]).toMatch(/macro 'broken' used in filter has errors/);
  });
});

describe("rules", () => {
  it("priority is case-insensitive, info is Informational", () => {
    for (const [p, name, num] of [
      ["warning", "Warning", 4],
      ["CRITICAL", "Critical", 2],
      ["info", "Informational", 6],
      ["Informational", "Informational", 6],
      ["DEBUG", "Debug", 7],
      ["emergency", "Emergency", 0],
    ] as const) {
      const r = load([rule("R", "evt.type = execve").replace("WARNING", p)]);
      expect(r.ruleset.rules[0]?.priorityName).toBe(name);
      expect(r.ruleset.rules[0]?.priority).toBe(num);
    }
    expect(errors(load([rule("R", "evt.type = execve").replace("WARNING", "loud")]))[0]).toMatch(
      /f0.yaml:5:13: LOAD_ERR_YAML_VALIDATE: Invalid priority 'loud'/,
    );
  });
  it.each(["condition", "output", "desc", "priority"])("missing %s is an error", (key) => {
    const text = rule("R", "evt.type = execve")
      .split("\n")
      .filter((l) => !l.trimStart().startsWith(`${key}:`))
      .join("\n");
    expect(errors(load([text]))).toEqual([`f0.yaml:1:3: LOAD_ERR_YAML_VALIDATE: Item has no mapping for key '${key}'`]);
  });
  it("keys: source, enabled, tags, capture, capture_duration", () => {
    const r = load([
      rule("R", "evt.type = execve", "  tags: [b, a, b]\n  capture: true\n  capture_duration: 5000\n  source: syscall\n") +
        rule("Off", "evt.type = execve", "  enabled: false\n"),
    ]);
    expect(errors(r)).toEqual([]);
    const R = r.ruleset.rules[0] as CompiledRule;
    expect(r.ruleset.rules.map((x) => x.name)).toEqual(["R"]);
    expect(R.tags).toEqual(["a", "b"]);
    expect(R.capture).toBe(true);
    expect(R.captureDuration).toBe(5000);
    expect(R.source).toBe("syscall");
    expect(R.file).toBe("f0.yaml");
    expect(R.line).toBe(1);
  });
  it("unknown source: warning, rule skipped", () => {
    const r = load([rule("R", "ka.verb = get", "  source: k8s_audit\n")]);
    expect(errors(r)).toEqual([]);
    expect(warnings(r)).toContain("LOAD_UNKNOWN_SOURCE: Unknown source k8s_audit, skipping");
    expect(r.ruleset.rules).toHaveLength(0);
  });
  it("unknown field: error with the rule skipped; skip-if-unknown-filter skips silently", () => {
    const r = load([rule("R", "evt.type = execve and foo.bar = 1") + rule("Ok", "evt.type = execve")]);
    expect(errors(r)).toEqual([expect.stringMatching(/^f0.yaml:3:36: LOAD_ERR_COMPILE_CONDITION: unknown field 'foo.bar'/)]);
    expect(r.ruleset.rules.map((x) => x.name)).toEqual(["Ok"]);
    const s = load([rule("R", "evt.type = execve and foo.bar = 1", "  skip-if-unknown-filter: true\n")]);
    expect(s.diagnostics).toEqual([]);
    expect(s.ok).toBe(true);
    expect(s.ruleset.rules).toHaveLength(0);
  });
  it("warns for rules without evt.type unless warn_evttypes is false", () => {
    expect(warnings(load([rule("R", "proc.name = sh")]))).toEqual([expect.stringMatching(/^LOAD_NO_EVTTYPE/)]);
    expect(warnings(load([rule("R", "proc.name = sh", "  warn_evttypes: false\n")]))).toEqual([]);
  });
  it("unknown keys and unknown top-level items warn", () => {
    const r = load([rule("R", "evt.type = execve", "  colour: red\n") + "- whatever: 1\n"]);
    expect(warnings(r)).toEqual(["LOAD_UNKNOWN_KEY: Unexpected key 'colour'", "LOAD_UNKNOWN_ITEM: Unknown top level item"]);
  });
  it("redefinition replaces in place, keeping the original position", () => {
    const r = load([rule("A", "evt.type = execve") + rule("B", "evt.type = execve"), rule("A", "evt.type = execve and proc.name = sh")]);
    expect(r.ruleset.rules.map((x) => x.name)).toEqual(["A", "B"]);
    expect(fired(r, shEvent)).toEqual(["A"]);
    expect(fired(r, bashEvent)).toEqual(["B"]);
  });
  it("legacy enabled-only item toggles an existing rule", () => {
    const r = load([rule("A", "evt.type = execve", "  enabled: false\n"), "- rule: A\n  enabled: true\n"]);
    expect(errors(r)).toEqual([]);
    expect(r.ruleset.rules.map((x) => x.name)).toEqual(["A"]);
    expect(warnings(r).some((w) => w.startsWith("LOAD_DEPRECATED_ITEM"))).toBe(true);
  });
  it("rule_matching first stops at the first rule in definition order; all runs every rule", () => {
    const text =
      rule("Any", "proc.name = sh", "  warn_evttypes: false\n") + rule("Exec", "evt.type = execve and proc.name = sh") + rule("Exec2", "evt.type = execve");
    expect(fired(load([text]), shEvent)).toEqual(["Any"]);
    expect(fired(load([text], { ruleMatching: "all" }), shEvent)).toEqual(["Any", "Exec", "Exec2"]);
  });
  it("minimum priority drops less severe rules", () => {
    const text =
      rule("W", "evt.type = execve") +
      rule("D", "evt.type = execve").replace("WARNING", "DEBUG") +
      rule("C", "evt.type = execve").replace("WARNING", "CRITICAL");
    expect(load([text], { minPriority: "warning" }).ruleset.rules.map((r) => r.name)).toEqual(["W", "C"]);
    expect(load([text], { minPriority: "CRITICAL" }).ruleset.rules.map((r) => r.name)).toEqual(["C"]);
    expect(load([text]).ruleset.rules.map((r) => r.name)).toEqual(["W", "D", "C"]);
  });
  it("output errors are reported at the output", () => {
    const r = load([rule("R", "evt.type = execve").replace('"out %proc.name"', '"x %nosuch.field"')]);
    expect(errors(r)).toEqual([expect.stringMatching(/^f0.yaml:4:11: LOAD_ERR_COMPILE_OUTPUT: unknown field 'nosuch.field'/)]);
  });
  it("eventTypes gives the probe's syscall set", () => {
    expect(load([rule("R", "evt.type in (openat, execve)")]).ruleset.eventTypes()).toEqual({ names: new Set(["openat", "execve"]), all: false });
    expect(load([rule("R", "proc.name = x")]).ruleset.eventTypes().all).toBe(true);
  });
});

describe("append and override of rules", () => {
  const base = rule("R", "evt.type = execve and proc.name = sh", "  tags: [t1]\n");
  it.each([
    ["append: true condition", "- rule: R\n  condition: or proc.name = bash\n  append: true\n", ["sh", "bash"]],
    ["override condition append", "- rule: R\n  condition: or proc.name = bash\n  override:\n    condition: append\n", ["sh", "bash"]],
    ["override condition replace", "- rule: R\n  condition: evt.type = execve and proc.name = bash\n  override:\n    condition: replace\n", ["bash"]],
    ["override enabled replace", "- rule: R\n  enabled: false\n  override:\n    enabled: replace\n", []],
  ])("%s", (_n, amend, want) => {
    const r = load([base, amend]);
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent).length > 0).toBe(want.includes("sh"));
    expect(fired(r, bashEvent).length > 0).toBe(want.includes("bash"));
  });
  it("output, desc and tags append; priority and tags replace", () => {
    const r = load([
      base,
      "- rule: R\n  output: more=%proc.pid\n  desc: extra\n  tags: [t2]\n  override:\n    output: append\n    desc: append\n    tags: append\n",
    ]);
    expect(errors(r)).toEqual([]);
    const R = r.ruleset.rules[0] as CompiledRule;
    expect(R.format(shEvent).message).toBe(`out sh more=${shEvent.proc.pid}`);
    expect(R.desc).toBe("d extra");
    expect(R.tags).toEqual(["t1", "t2"]);
    const q = load([base, "- rule: R\n  priority: critical\n  tags: [only]\n  override:\n    priority: replace\n    tags: replace\n"]);
    expect(q.ruleset.rules[0]?.priorityName).toBe("Critical");
    expect(q.ruleset.rules[0]?.tags).toEqual(["only"]);
  });
  it.each([
    ["append and override together", "- rule: R\n  condition: and x\n  append: true\n  override:\n    condition: append\n", /cannot be used together/],
    ["override key missing from the item", "- rule: R\n  condition: and x\n  override:\n    output: append\n", /must be accompanied by the key/],
    [
      "item key not listed under override",
      "- rule: R\n  condition: and x\n  output: o\n  override:\n    condition: append\n",
      /must be listed under 'override'/,
    ],
    ["priority cannot be appended", "- rule: R\n  priority: debug\n  override:\n    priority: append\n", /cannot be appended/],
    ["source cannot be replaced", "- rule: R\n  source: syscall\n  override:\n    source: replace\n", /cannot be replaced/],
    ["bad override op", "- rule: R\n  condition: x\n  override:\n    condition: merge\n", /Invalid override operation/],
    ["override of a missing rule", "- rule: Nope\n  condition: x\n  override:\n    condition: append\n", /no rule by that name/],
    ["append to a missing rule", "- rule: Nope\n  condition: x\n  append: true\n", /no rule by that name/],
    ["append of a non-appendable key", "- rule: R\n  priority: debug\n  append: true\n", /cannot be appended/],
  ])("%s is an error", (_n, amend, re) => {
    const r = load([base, amend]);
    expect(errors(r).length).toBe(1);
    expect(errors(r)[0]).toMatch(re);
    expect(errors(r)[0]).toMatch(/^f1.yaml:\d+:\d+: /);
  });
});

describe("exceptions", () => {
  const p = (comm: string, pname: string, cmd: string[] = []): SyscallEvent => execve(proc({ comm, args: cmd, parents: [{ comm: pname }] }));
  const R = (exc: string): LoadResult => load([rule("R", "evt.type = execve", `  exceptions:\n${exc}`)]);
  it.each([
    [
      "fields list, default comps =",
      "  - name: e1\n    fields: [proc.name, proc.pname]\n    values:\n      - [sh, bash]\n      - [curl, cron]\n",
      [
        [p("sh", "bash"), false],
        [p("sh", "zsh"), true],
        [p("curl", "cron"), false],
        [p("curl", "bash"), true],
      ],
    ],
    [
      "fields list with comps",
      "  - name: e1\n    fields: [proc.name, proc.cmdline]\n    comps: [=, contains]\n    values:\n      - [sh, healthcheck]\n",
      [
        [p("sh", "x", ["-c", "healthcheck.sh"]), false],
        [p("sh", "x", ["-c", "id"]), true],
      ],
    ],
    [
      "tuple item that is a list, with in",
      "  - name: e1\n    fields: [proc.name, proc.pname]\n    comps: [in, =]\n    values:\n      - [[sh, bash], cron]\n",
      [
        [p("sh", "cron"), false],
        [p("bash", "cron"), false],
        [p("zsh", "cron"), true],
      ],
    ],
    [
      "list operator with a scalar item",
      "  - name: e1\n    fields: [proc.name]\n    comps: [in]\n    values:\n      - [sh]\n",
      [
        [p("sh", "x"), false],
        [p("bash", "x"), true],
      ],
    ],
    [
      "single field, default comps in",
      "  - name: e1\n    fields: proc.name\n    values: [sh, bash]\n",
      [
        [p("sh", "x"), false],
        [p("bash", "x"), false],
        [p("zsh", "x"), true],
      ],
    ],
    [
      "single field with pmatch",
      "  - name: e1\n    fields: proc.cwd\n    comps: pmatch\n    values: [/srv]\n",
      [
        [execve(proc({ cwd: "/srv/app" })), false],
        [execve(proc({ cwd: "/srvx" })), true],
      ],
    ],
    [
      "values with spaces and quotes",
      "  - name: e1\n    fields: [proc.cmdline]\n    values:\n      - ['sh -c \"id\"']\n",
      [
        [p("sh", "x", ["-c", '"id"']), false],
        [p("sh", "x", ["-c", "id"]), true],
      ],
    ],
    ["an exception without values contributes nothing", "  - name: e1\n    fields: [proc.name]\n", [[p("sh", "x"), true]]],
    [
      "modifier comparison",
      "  - name: e1\n    fields: [proc.name]\n    comps: [startswith anyof]\n    values:\n      - [[ba, zs]]\n",
      [
        [p("bash", "x"), false],
        [p("zsh", "x"), false],
        [p("sh", "x"), true],
      ],
    ],
  ] as [string, string, [SyscallEvent, boolean][]][])("%s", (_n, exc, cases) => {
    const r = R(exc);
    expect(errors(r)).toEqual([]);
    for (const [e, want] of cases) expect(fired(r, e).length > 0).toBe(want);
  });
  it("a list name works as an exception value", () => {
    const r = load([
      "- list: shells\n  items: [sh, bash]\n" +
        rule("R", "evt.type = execve", "  exceptions:\n  - name: e1\n    fields: [proc.name]\n    comps: [in]\n    values:\n      - [shells]\n"),
    ]);
    expect(errors(r)).toEqual([]);
    expect(fired(r, shEvent)).toEqual([]);
    expect(fired(r, execve(proc({ comm: "zsh" })))).toEqual(["R"]);
  });
  it("a value compared with = that spells a list's name is a literal, not the list (found by the long fuzz run)", () => {
    for (const items of ["[]", "[sh, bash]"]) {
      const r = load([
        `- list: shells\n  items: ${items}\n` +
          rule(
            "R",
            "evt.type = execve",
            "  exceptions:\n  - name: e1\n    fields: [proc.name, proc.name]\n    comps: [=, startswith]\n    values:\n      - [shells, shel]\n",
          ),
      ]);
      expect(errors(r)).toEqual([]);
      expect(fired(r, shEvent)).toEqual(["R"]);
      expect(fired(r, execve(proc({ comm: "shells", args: [] })))).toEqual([]);
    }
  });
  it("appending values to an existing exception, and a new exception", () => {
    const base = rule("R", "evt.type = execve", "  exceptions:\n  - name: e1\n    fields: [proc.name]\n    values:\n      - [sh]\n");
    for (const amend of [
      "- rule: R\n  exceptions:\n  - name: e1\n    values:\n      - [bash]\n  append: true\n",
      "- rule: R\n  exceptions:\n  - name: e1\n    values:\n      - [bash]\n  override:\n    exceptions: append\n",
      "- rule: R\n  exceptions:\n  - name: e2\n    fields: proc.name\n    values: [bash]\n  override:\n    exceptions: append\n",
    ]) {
      const r = load([base, amend]);
      expect(errors(r)).toEqual([]);
      expect(fired(r, shEvent)).toEqual([]);
      expect(fired(r, bashEvent)).toEqual([]);
      expect(fired(r, execve(proc({ comm: "zsh" })))).toEqual(["R"]);
    }
  });
  it("replacing exceptions", () => {
    const base = rule("R", "evt.type = execve", "  exceptions:\n  - name: e1\n    fields: [proc.name]\n    values:\n      - [sh]\n");
    const r = load([
      base,
      "- rule: R\n  exceptions:\n  - name: e9\n    fields: [proc.name]\n    values:\n      - [bash]\n  override:\n    exceptions: replace\n",
    ]);
    expect(fired(r, shEvent)).toEqual(["R"]);
    expect(fired(r, bashEvent)).toEqual([]);
  });
  it.each([
    ["fields and comps differ in length", "  - name: e1\n    fields: [proc.name, proc.pname]\n    comps: [=]\n    values:\n      - [a, b]\n", /equal length/],
    ["a value tuple of the wrong size", "  - name: e1\n    fields: [proc.name, proc.pname]\n    values:\n      - [a]\n", /list of 2 items/],
    ["an invalid comparison", "  - name: e1\n    fields: [proc.name]\n    comps: [like]\n    values:\n      - [a]\n", /not a supported comparison/],
    ["single field with =", "  - name: e1\n    fields: proc.name\n    comps: =\n    values: [a]\n", /must be in, pmatch, intersects/],
    ["no name", "  - fields: [proc.name]\n    values:\n      - [a]\n", /no mapping for key 'name'/],
    ["an unknown field", "  - name: e1\n    fields: [proc.nmae]\n    values:\n      - [a]\n", /unknown field 'proc.nmae'/],
    ["duplicate names", "  - name: e1\n    fields: [proc.name]\n  - name: e1\n    fields: [proc.name]\n", /Multiple definitions of exception/],
  ])("%s is an error", (_n, exc, re) => {
    const r = R(exc);
    expect(errors(r)).toHaveLength(1);
    expect(errors(r)[0]).toMatch(re);
  });
  it("appending fields to an existing exception is an error", () => {
    const base = rule("R", "evt.type = execve", "  exceptions:\n  - name: e1\n    fields: [proc.name]\n    values:\n      - [sh]\n");
    const r = load([base, "- rule: R\n  exceptions:\n  - name: e1\n    fields: [proc.pname]\n    values:\n      - [x]\n  append: true\n"]);
    expect(errors(r)[0]).toMatch(/only values/);
  });
});

describe("file-level items and YAML", () => {
  it.each([
    ["- required_engine_version: 57\n", true],
    ["- required_engine_version: 0.57.0\n", true],
    ["- required_engine_version: '0.62.0'\n", true],
    ["- required_engine_version: 0.99.0\n", false],
    ["- required_engine_version: 1.0.0\n", false],
    ["- required_engine_version: banana\n", false],
  ])("%j ok=%s", (text, ok) => {
    expect(load([text]).ok).toBe(ok);
  });
  it("required_plugin_versions are recorded and validated", () => {
    const r = load([
      "- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n    alternatives:\n      - name: k8smeta\n        version: 0.1.0\n",
    ]);
    expect(r.ok).toBe(true);
    expect(r.requiredPlugins).toEqual([{ name: "container", version: "0.4.0", alternatives: [{ name: "k8smeta", version: "0.1.0" }] }]);
    expect(load(["- required_plugin_versions:\n  - name: container\n    version: four\n"]).ok).toBe(false);
    expect(load(["- required_plugin_versions:\n  - name: a\n    version: 1.0.0\n    alternatives:\n      - name: a\n        version: 1.0.0\n"]).ok).toBe(false);
  });
  it.each([
    ["rule: x\n", /LOAD_ERR_YAML_VALIDATE: Rules content is not yaml array of objects/],
    ["- rule: [unclosed\n", /LOAD_ERR_YAML_PARSE/],
    ["- just a string\n", /LOAD_ERR_YAML_VALIDATE: Unexpected element type/],
    ["- rule: a\n  rule: b\n", /LOAD_ERR_YAML_PARSE/],
    ["- macro: m\n  condition: [1]\n", /Value of condition must be a string/],
    ["- list: l\n  items: notalist\n", /Value of items must be a sequence/],
  ])("%j is reported", (text, re) => {
    const r = load([text]);
    expect(r.ok).toBe(false);
    expect(errors(r).join("\n")).toMatch(re);
    for (const d of r.diagnostics) expect(d.line).toBeGreaterThanOrEqual(1);
  });
  it("empty files and null items are fine; several documents are read", () => {
    expect(load(["", "# only a comment\n", "-\n- ~\n"]).ok).toBe(true);
    const r = load([rule("A", "evt.type = execve") + "---\n" + rule("B", "evt.type = execve")]);
    expect(r.ruleset.rules.map((x) => x.name)).toEqual(["A", "B"]);
  });
  it("per-file summaries", () => {
    const r = load([
      "- list: l\n  items: [a]\n- macro: m\n  condition: proc.name in (l)\n" + rule("A", "evt.type = execve and m"),
      rule("B", "evt.type = execve and nosuch"),
    ]);
    expect(r.files).toEqual([
      { file: "f0.yaml", rules: 1, macros: 1, lists: 1, errors: 0, warnings: 0 },
      { file: "f1.yaml", rules: 1, macros: 0, lists: 0, errors: 1, warnings: 0 },
    ]);
  });
});

describe("evaluation", () => {
  it("never throws: a failing rule counts an evaluation error and the others still run", () => {
    const r = load([rule("A", "evt.type = execve and proc.pname = x") + rule("B", "evt.type = execve")], { ruleMatching: "all" });
    const broken = { ...shEvent, proc: undefined } as unknown as SyscallEvent;
    const names: string[] = [];
    expect(() => r.ruleset.evaluate(broken, (x) => names.push(x.name))).not.toThrow();
    expect(names).toEqual(["B"]);
    expect(r.ruleset.rules[0]?.evalErrors).toBe(1);
    expect(r.ruleset.rules[1]?.matches).toBe(1);
  });
  it("a throwing callback does not escape", () => {
    const r = load([rule("A", "evt.type = execve")]);
    expect(() =>
      r.ruleset.evaluate(shEvent, () => {
        throw new Error("sink down");
      }),
    ).not.toThrow();
  });
  it("unknown event codes only meet rules without a type constraint", () => {
    const r = load([rule("A", "evt.type = execve") + rule("Any", "proc.name = sh", "  warn_evttypes: false\n")]);
    expect(fired(r, { ...shEvent, type: 9999 })).toEqual(["Any"]);
  });
  it("format gives the message and typed fields with evt.time", () => {
    const r = load([
      rule("A", "evt.type = openat").replace('"out %proc.name"', '"%proc.name opened %fd.name (%container.id %container.image) in %k8s.ns.name"'),
    ]);
    const e = openat("/etc/shadow", O.RDONLY, proc({ comm: "cat", container: container({ k8s: { namespace: "prod" } }) }));
    const out = r.ruleset.rules[0]?.format(e);
    expect(out?.message).toBe("cat opened /etc/shadow (0123456789ab docker.io/library/nginx:1.25) in prod");
    expect(out?.fields).toEqual({
      "proc.name": "cat",
      "fd.name": "/etc/shadow",
      "container.id": "0123456789ab",
      "container.image": "docker.io/library/nginx:1.25",
      "k8s.ns.name": "prod",
      "evt.time": e.sec * 1e9 + e.nsec,
    });
  });
  it("ev builder sanity", () => {
    expect(ev({ type: "openat" }).type).toBe(4);
  });
});
