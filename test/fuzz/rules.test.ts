// SPDX-License-Identifier: Apache-2.0
/**
 * Property-based fuzzing of the rules loader and compiler (fast-check). Generated rules files
 * (lists, macros, rules, append/override, exceptions; conditions from the grammar with valid and
 * invalid fields and operators; random unicode and control characters; truncated documents)
 * never make the loader throw; every error has a file and a position (line, col >= 1); a load
 * finishes in bounded time. Rules generated valid load without an error, and compile, evaluate
 * and format on random events without throwing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadRuleFiles, type LoadResult } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { container, ev, execve, O, openat, proc, sockFd } from "../rules/event-builder.js";
import { fuzzRuns, fuzzSeed, fuzzTimeoutMs } from "./runs.js";

/** A load of a generated file must end within this (bombs are cut by the expansion budget). */
const LOAD_MS = 5000;

// ------------------------------------------------------------------ conditions

const MACROS = ["m_a", "m_b", "m_c", "never_true"] as const;
const LISTS = ["l_a", "l_b", "shell_binaries"] as const;
const STR_FIELDS = [
  "proc.name",
  "proc.exe",
  "proc.cmdline",
  "fd.name",
  "fd.directory",
  "user.name",
  "container.id",
  "proc.pname",
  "proc.aname[2]",
  "evt.arg.flags",
  "k8s.ns.name",
] as const;
const NUM_FIELDS = ["proc.pid", "fd.num", "evt.res", "user.uid", "proc.vpid"] as const;
const BAD_FIELDS = ["proc.nmae", "foo.bar", "proc.aname[", "evt.arg[x]", "x", "fd..name", "évt.type", "proc.name[", "proc.pid[3]"] as const;
const STR_OPS = ["=", "!=", "contains", "icontains", "startswith", "endswith", "glob"] as const;
const LIST_OPS = ["in", "pmatch", "intersects"] as const;
const NUM_OPS = ["=", "!=", "<", "<=", ">", ">="] as const;
const BAD_OPS = ["=~", "like", "=<", "<>", "===", "bcontains"] as const;
const EVT_TYPES = ["execve", "openat", "open", "connect", "clone", "nosuch"] as const;

const word = fc.stringMatching(/^[a-z0-9_/.-]{1,12}$/);
/** Any text: unicode, controls, quotes, YAML and condition punctuation. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: fc.constantFrom(..."()'\",=[]{}:#&*!|>%\\\t\n\r\u0000\u001b \u00e9\u2028\ud800"), maxLength: 12 }),
  word,
);
const quoted = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const scalar = (valid: boolean): fc.Arbitrary<string> => (valid ? word.map(quoted) : fc.oneof(word, anyText.map(quoted), anyText));
const listValue = (valid: boolean): fc.Arbitrary<string> =>
  fc.oneof(
    fc.array(scalar(valid), { minLength: 1, maxLength: 5 }).map((xs) => `(${xs.join(", ")})`),
    fc.constantFrom(...LISTS).map((l) => `(${l})`),
  );

/** One `field op value` check: valid (field, operator and value agree) or anything from the grammar's pieces. */
function check(valid: boolean): fc.Arbitrary<string> {
  const good = fc.oneof(
    fc.tuple(fc.constantFrom(...STR_FIELDS), fc.constantFrom(...STR_OPS), scalar(true)).map(([f, o, v]) => `${f} ${o} ${v}`),
    fc.tuple(fc.constantFrom(...STR_FIELDS), fc.constantFrom(...LIST_OPS), listValue(true)).map(([f, o, v]) => `${f} ${o} ${v}`),
    fc.tuple(fc.constantFrom(...NUM_FIELDS), fc.constantFrom(...NUM_OPS), fc.integer({ min: -5, max: 70000 })).map(([f, o, v]) => `${f} ${o} ${v}`),
    fc
      .tuple(fc.constantFrom("=", "!=", "in"), fc.subarray([...EVT_TYPES.slice(0, 5)], { minLength: 1 }))
      .map(([o, ts]) => (o === "in" ? `evt.type in (${ts.join(", ")})` : `evt.type ${o} ${ts[0]}`)),
    fc.constantFrom(...STR_FIELDS, ...NUM_FIELDS).map((f) => `${f} exists`),
    fc.constantFrom("tolower(proc.name) = bash", "proc.name = val(proc.pname)", "fd.name glob '/etc/*'", "proc.cmdline contains oneof (a, b)"),
  );
  if (valid) return good;
  return fc.oneof(
    good,
    fc
      .tuple(
        fc.constantFrom(...STR_FIELDS, ...NUM_FIELDS, ...BAD_FIELDS),
        fc.constantFrom(...STR_OPS, ...LIST_OPS, ...NUM_OPS, ...BAD_OPS, "exists", "regex"),
        fc.oneof(scalar(false), listValue(false), fc.constant("")),
      )
      .map(([f, o, v]) => `${f} ${o} ${v}`),
    anyText,
  );
}

/** A condition from the grammar: checks, macro names, and, or, not, parentheses. */
function condition(valid: boolean, macros: readonly string[]): fc.Arbitrary<string> {
  const { expr } = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      check(valid),
      ...(macros.length > 0 ? [fc.constantFrom(...macros)] : []),
      fc.tuple(tie("expr"), fc.constantFrom("and", "or"), tie("expr")).map(([a, op, b]) => `${a} ${op} ${b}`),
      tie("expr").map((a) => `not ${a}`),
      tie("expr").map((a) => `(${a})`),
    ),
  }));
  return expr;
}

// ------------------------------------------------------------------ YAML items

/** A YAML value for a string: JSON (a valid YAML double-quoted scalar), or plain, or a block. */
const yamlStr = (s: string, style: number): string => (style === 0 ? JSON.stringify(s) : style === 1 ? s : `|\n    ${s.replace(/\n/g, "\n    ")}`);

function listItem(valid: boolean): fc.Arbitrary<string> {
  return fc
    .record({
      name: fc.constantFrom(...LISTS),
      items: fc.array(valid ? word : fc.oneof(word, fc.constantFrom(...LISTS), anyText), { maxLength: 6 }),
      amend: valid ? fc.constant(0) : fc.integer({ min: 0, max: 3 }),
    })
    .map(({ name, items, amend }) => {
      const head = `- list: ${name}\n  items: [${items.map((i) => JSON.stringify(i)).join(", ")}]\n`;
      return (
        head + (amend === 1 ? "  append: true\n" : amend === 2 ? "  override:\n    items: append\n" : amend === 3 ? "  override:\n    items: replace\n" : "")
      );
    });
}

function macroItem(valid: boolean, name: string, uses: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(condition(valid, uses), fc.integer({ min: 0, max: valid ? 0 : 2 }), fc.integer({ min: 0, max: 2 })).map(([c, style, amend]) => {
    const amendText = valid || amend === 0 ? "" : amend === 1 ? "  append: true\n" : "  override:\n    condition: append\n";
    return `- macro: ${name}\n  condition: ${yamlStr(c, valid ? 0 : style)}\n${amendText}`;
  });
}

const exceptionBlock = (valid: boolean): fc.Arbitrary<string> =>
  fc.oneof(
    fc
      .array(word, { minLength: 1, maxLength: 4 })
      .map(
        (vs) =>
          `  exceptions:\n    - name: ex1\n      fields: [proc.name, fd.name]\n      comps: [=, startswith]\n      values:\n${vs.map((v) => `        - [${JSON.stringify(v)}, ${JSON.stringify("/" + v)}]`).join("\n")}\n`,
      ),
    fc
      .array(word, { minLength: 1, maxLength: 4 })
      .map(
        (vs) => `  exceptions:\n    - name: ex2\n      fields: proc.name\n      comps: in\n      values: [${vs.map((v) => JSON.stringify(v)).join(", ")}]\n`,
      ),
    ...(valid
      ? []
      : [
          fc
            .tuple(anyText, anyText, fc.constantFrom("=", "in", "bogus", "[=]", ""))
            .map(
              ([f, v, c]) =>
                `  exceptions:\n    - name: ${JSON.stringify(f)}\n      fields: [${JSON.stringify(f)}]\n      comps: [${c}]\n      values: [[${JSON.stringify(v)}]]\n`,
            ),
          fc.constant("  exceptions:\n    - name: ex1\n      values: [[x]]\n"),
          fc.constant("  exceptions: 7\n"),
        ]),
  );

function ruleItem(valid: boolean, name: string, macros: readonly string[]): fc.Arbitrary<string> {
  return fc
    .record({
      cond: condition(valid, macros),
      typed: fc.constantFrom("execve", "openat", "connect"),
      prio: valid ? fc.constantFrom("WARNING", "notice", "Critical", "info") : fc.oneof(fc.constantFrom("WARNING", "bogus", "", "7"), anyText),
      output: valid
        ? fc.constantFrom("out %proc.name %fd.name", "x %evt.type %proc.aname[2] %user.name")
        : fc.oneof(
            fc.constant("%proc.name"),
            anyText.map((s) => `o ${s} %${s}`),
          ),
      exc: fc.option(exceptionBlock(valid), { nil: undefined }),
      extra: valid
        ? fc.constant("")
        : fc.constantFrom(
            "",
            "  enabled: false\n",
            "  append: true\n",
            "  override:\n    condition: append\n",
            "  tags: [a, b]\n",
            "  source: k8s_audit\n",
            "  warn_evttypes: nope\n",
            "  bogus_key: 1\n",
          ),
    })
    .map(({ cond, typed, prio, output, exc, extra }) => {
      const c = valid ? `evt.type = ${typed} and (${cond})` : cond;
      return `- rule: ${JSON.stringify(name)}\n  desc: d\n  condition: ${JSON.stringify(c)}\n  output: ${JSON.stringify(output)}\n  priority: ${JSON.stringify(prio)}\n${exc ?? ""}${extra}`;
    });
}

/** A whole file: lists, macros (each using only earlier ones when valid), rules. */
function rulesFile(valid: boolean): fc.Arbitrary<{ text: string; rules: string[] }> {
  const macros = ["m_a", "m_b", "m_c"];
  return fc
    .tuple(
      fc.array(listItem(valid), { minLength: valid ? 3 : 0, maxLength: 4 }),
      macroItem(valid, "m_a", valid ? [] : MACROS),
      macroItem(valid, "m_b", valid ? ["m_a"] : MACROS),
      macroItem(valid, "m_c", valid ? ["m_a", "m_b"] : MACROS),
      fc
        .array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 5 })
        .chain((ids) => fc.tuple(...[...new Set(ids)].map((id) => ruleItem(valid, `R${id}`, macros).map((t) => ({ id, t }))))),
      fc.array(
        fc.constantFrom(
          "- required_engine_version: 0.26.0\n",
          "- {}\n",
          "- 7\n",
          "- bogus: x\n",
          "---\n",
          "- required_plugin_versions: [{name: x, version: 1.0.0}]\n",
        ),
        { maxLength: valid ? 0 : 2 },
      ),
    )
    .map(([lists, ma, mb, mc, rules, junk]) => {
      // valid files define every list the conditions may name, so no name is a bare word by accident
      const defs = valid ? LISTS.map((l) => `- list: ${l}\n  items: [a, b, "c d"]\n`).join("") : "";
      return { text: defs + lists.join("") + ma + mb + mc + junk.join("") + rules.map((r) => r.t).join(""), rules: rules.map((r) => `R${r.id}`) };
    });
}

/** A hostile file: a generated one, truncated, with characters spliced in, or another document appended. */
const hostileFile = fc.tuple(rulesFile(false), fc.integer({ min: 0, max: 4 }), fc.nat(), anyText, rulesFile(false)).map(([f, how, at, junk, other]) => {
  const t = f.text;
  const cut = t.length === 0 ? 0 : at % (t.length + 1);
  switch (how) {
    case 0:
      return t;
    case 1:
      return t.slice(0, cut);
    case 2:
      return t.slice(0, cut) + junk + t.slice(cut);
    case 3:
      return t + "---\n" + other.text;
    default:
      return t.replace(/\n/g, (m) => (junk.length > 0 && cut % 3 === 0 ? m + junk : m));
  }
});

// ------------------------------------------------------------------ events

const events: fc.Arbitrary<SyscallEvent> = fc
  .record({
    kind: fc.integer({ min: 0, max: 2 }),
    comm: fc.oneof(word, anyText),
    path: fc.oneof(
      word.map((w) => `/etc/${w}`),
      anyText,
    ),
    pid: fc.integer({ min: 1, max: 70000 }),
    inCtr: fc.boolean(),
    flags: fc.constantFrom(O.RDONLY, O.WRONLY | O.CREAT, O.RDWR | O.TRUNC),
  })
  .map(({ kind, comm, path, pid, inCtr, flags }) => {
    const p = proc({
      comm,
      pid,
      exe: `/bin/${comm}`,
      args: [path],
      parents: [{ comm: "bash" }, { comm: "sshd" }],
      ...(inCtr ? { container: container() } : {}),
    });
    if (kind === 0) return execve(p);
    if (kind === 1) return openat(path, flags, p);
    return ev({ type: "connect", res: 0, args: { fd: 3 }, proc: p, fd: sockFd("10.0.0.2", 40000, "1.2.3.4", 443) });
  });

// ------------------------------------------------------------------ properties

function loadTimed(texts: string[]): LoadResult {
  const t0 = performance.now();
  const res = loadRuleFiles(
    texts.map((text, i) => ({ path: `fuzz${i}.yaml`, text })),
    { ruleMatching: "all" },
  );
  expect(performance.now() - t0).toBeLessThan(LOAD_MS);
  return res;
}

function report(target: string, runs: number): void {
  if (process.env["FUZZ_RUNS"] !== undefined && process.env["FUZZ_RUNS"] !== "") console.log(`FUZZ ${target} cases=${runs} failures=0`);
}

describe("fuzz: rules loader and compiler", () => {
  const hostileRuns = fuzzRuns(300, 0.02);
  it(
    "hostile files: the loader never throws, every error has file:line:col, loads end in bounded time",
    () => {
      fc.assert(
        fc.property(fc.array(hostileFile, { minLength: 1, maxLength: 2 }), events, (texts, e) => {
          const res = loadTimed(texts);
          expect(typeof res.ok).toBe("boolean");
          for (const d of res.diagnostics) {
            expect(d.file).toMatch(/^fuzz\d\.yaml$/);
            expect(d.line).toBeGreaterThanOrEqual(1);
            expect(d.col).toBeGreaterThanOrEqual(1);
            expect(typeof d.message).toBe("string");
          }
          for (const r of res.ruleset.rules) {
            r.test(e);
            r.format(e);
          }
          res.ruleset.evaluate(e, () => undefined);
        }),
        { numRuns: hostileRuns, seed: fuzzSeed() },
      );
      report("rules.hostile", hostileRuns);
    },
    fuzzTimeoutMs(60_000),
  );

  const validRuns = fuzzRuns(200, 0.01);
  it(
    "valid files: every rule loads, then compiles, evaluates and formats on random events without an error",
    () => {
      fc.assert(
        fc.property(rulesFile(true), fc.array(events, { minLength: 1, maxLength: 4 }), (f, evs) => {
          const res = loadTimed([f.text]);
          const errors = res.diagnostics.filter((d) => d.severity === "error");
          expect(errors).toEqual([]);
          expect(res.ruleset.rules.map((r) => r.name).sort()).toEqual([...f.rules].sort());
          for (const e of evs) {
            for (const r of res.ruleset.rules) {
              expect(typeof r.test(e)).toBe("boolean");
              r.format(e);
            }
            res.ruleset.evaluate(e, () => undefined);
          }
          for (const r of res.ruleset.rules) expect(r.evalErrors).toBe(0);
        }),
        { numRuns: validRuns, seed: fuzzSeed() },
      );
      report("rules.valid", validRuns);
    },
    fuzzTimeoutMs(60_000),
  );
});
