// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { ParseError } from "../../rules/errors.js";
import type { Expr } from "../../rules/lang/ast.js";
import { parseCondition } from "../../rules/lang/parser.js";

/** Compact S-expression of a tree, for table comparisons. */
function sx(n: Expr): string {
  switch (n.kind) {
    case "and":
    case "or":
      return `(${n.kind} ${n.children.map(sx).join(" ")})`;
    case "not":
      return `(not ${sx(n.child)})`;
    case "ident":
      return n.name;
    case "bool":
      return String(n.value);
    case "check": {
      const f = n.field.kind === "field" ? (n.field.arg === undefined ? n.field.name : `${n.field.name}[${n.field.arg}]`) : `${n.field.name}(..)`;
      const v =
        n.value === undefined
          ? ""
          : n.value.kind === "value"
            ? ` '${n.value.value}'`
            : n.value.kind === "list"
              ? ` [${n.value.items.map((i) => i.value).join("|")}]`
              : " <field>";
      return `{${f} ${n.op}${n.modifier === undefined ? "" : " " + n.modifier}${v}}`;
    }
  }
}

const ACCEPT: [string, string][] = [
  ["proc.name = bash", "{proc.name = 'bash'}"],
  ["proc.name=bash", "{proc.name = 'bash'}"],
  ["proc.name==bash", "{proc.name = 'bash'}"],
  ["proc.name != bash", "{proc.name != 'bash'}"],
  ["fd.num>=0", "{fd.num >= '0'}"],
  ["fd.num<=0", "{fd.num <= '0'}"],
  ["fd.num<0", "{fd.num < '0'}"],
  ["fd.num>0", "{fd.num > '0'}"],
  ["fd.name contains /etc", "{fd.name contains '/etc'}"],
  ["fd.name icontains ETC", "{fd.name icontains 'ETC'}"],
  ["evt.buffer bcontains CAFE", "{evt.buffer bcontains 'CAFE'}"],
  ["evt.buffer bstartswith CAFE", "{evt.buffer bstartswith 'CAFE'}"],
  ["fd.name startswith '/etc/'", "{fd.name startswith '/etc/'}"],
  ["fd.name endswith .conf", "{fd.name endswith '.conf'}"],
  ["fd.name glob '/home/*/.ssh/*'", "{fd.name glob '/home/*/.ssh/*'}"],
  ["fd.name iglob '*.PEM'", "{fd.name iglob '*.PEM'}"],
  ["proc.name regex 'ba.*'", "{proc.name regex 'ba.*'}"],
  ["proc.name exists", "{proc.name exists}"],
  ["proc.name in (bash, sh)", "{proc.name in [bash|sh]}"],
  ["proc.name in(bash,sh)", "{proc.name in [bash|sh]}"],
  ["proc.name in ()", "{proc.name in []}"],
  ["proc.name in (\"a b\", 'c,d', e)", "{proc.name in [a b|c,d|e]}"],
  ["proc.name intersects (a)", "{proc.name intersects [a]}"],
  ["fd.name pmatch (/var/run, /tmp)", "{fd.name pmatch [/var/run|/tmp]}"],
  ["proc.pname in (runc:[0:PARENT], runc:[1:CHILD])", "{proc.pname in [runc:[0:PARENT]|runc:[1:CHILD]]}"],
  ["proc.name in (<NA>, N/A)", "{proc.name in [<NA>|N/A]}"],
  ["proc.aname[2] = sshd", "{proc.aname[2] = 'sshd'}"],
  ["container.label[io.kubernetes.pod.name] = x", "{container.label[io.kubernetes.pod.name] = 'x'}"],
  ["container.label['a b'] = x", "{container.label[a b] = 'x'}"],
  ["evt.arg.flags contains O_TRUNC", "{evt.arg.flags contains 'O_TRUNC'}"],
  ["evt.arg[0] = 3", "{evt.arg[0] = '3'}"],
  ["a and b or c", "(or (and a b) c)"],
  ["a or b and c", "(or a (and b c))"],
  ["not a and b", "(and (not a) b)"],
  ["not not a", "a"],
  ["not not not a", "(not a)"],
  ["not(a)", "(not a)"],
  ["a and(b or c)", "(and a (or b c))"],
  ["a or(b)", "(or a b)"],
  ["a and b and c", "(and a b c)"],
  ["((a))", "a"],
  ["proc.name = val(proc.pname)", "{proc.name = <field>}"],
  ["tolower(proc.name) = bash", "{tolower(..) = 'bash'}"],
  ["toupper(tolower(proc.name)) = BASH", "{toupper(..) = 'BASH'}"],
  ["len(proc.args) > 3", "{len(..) > '3'}"],
  ["proc.name = tolower(proc.pname)", "{proc.name = <field>}"],
  ["proc.name startswith oneof (a, b)", "{proc.name startswith oneof [a|b]}"],
  ["proc.name = anyof (a, b)", "{proc.name = anyof [a|b]}"],
  ["proc.name contains allof (a, b)", "{proc.name contains allof [a|b]}"],
  ["proc.name = oneof", "{proc.name = 'oneof'}"],
  ["fd.name = '/tmp/a\\tb'", "{fd.name = '/tmp/a\tb'}"],
  ['fd.name = "q\\"q"', "{fd.name = 'q\"q'}"],
  ["fd.name = 'x\\x41y'", "{fd.name = 'xAy'}"],
  ["evt.type in (open, openat) and fd.num >= 0", "(and {evt.type in [open|openat]} {fd.num >= '0'})"],
  ["  proc.name = bash  ", "{proc.name = 'bash'}"],
  ["andy", "andy"],
  ["notamacro or oreo", "(or notamacro oreo)"],
];

const REJECT: [string, RegExp][] = [
  ["", /empty/],
  ["   ", /empty/],
  ["proc.name", /operator/],
  ["proc.name =", /value/],
  ["proc.name = bash and", /unexpected end|expecting/],
  ["proc.name = bash or", /unexpected end|expecting/],
  ["(proc.name = bash", /expected '\)'/],
  ["proc.name = bash)", /unexpected token/],
  ["proc.name in (a, b", /expected ',' or '\)'/],
  ["proc.name in a b", /unexpected token/],
  ["proc.name = 'abc", /unterminated/],
  ["proc.name = 'a\\qb'", /escape/],
  ["proc.name containsx a", /operator/],
  ["proc.name bogus a", /operator/],
  ["a andb", /unexpected token/],
  ["proc.name[ = 3", /argument/],
  ["proc.aname[2 = x", /\]/],
  ["tolower(proc.name = x", /expected ',' or '\)'/],
  ["tolower() = x", /expected a field/],
  ["proc.name = val(bash)", /field inside val/],
  ["= bash", /unexpected character/],
  ["a b", /unexpected token/],
];

describe("parser accepts", () => {
  it.each(ACCEPT)("%s", (src, want) => {
    expect(sx(parseCondition(src))).toBe(want);
  });
  it.each(ACCEPT.filter(([s]) => !s.includes("'") && !s.includes('"')))("%s (blanks as newlines and tabs)", (src, want) => {
    expect(sx(parseCondition(src.replace(/ /g, "\n")))).toBe(want);
    expect(sx(parseCondition(src.replace(/ /g, "\t")))).toBe(want);
  });
});

describe("parser rejects", () => {
  it.each(REJECT)("%j", (src, re) => {
    let err: unknown;
    try {
      parseCondition(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).message).toMatch(re);
    expect((err as ParseError).pos).toBeDefined();
  });
});

describe("positions", () => {
  it("every node carries line and column", () => {
    const t = parseCondition("a and\n  proc.name = x");
    expect(t.kind).toBe("and");
    if (t.kind !== "and") return;
    expect(t.children[0]?.pos).toEqual({ idx: 0, line: 1, col: 1 });
    expect(t.children[1]?.pos).toEqual({ idx: 8, line: 2, col: 3 });
  });
  it("errors point at the offending character", () => {
    try {
      parseCondition("proc.name = a and\n (b or");
      expect.unreachable();
    } catch (e) {
      expect((e as ParseError).pos?.line).toBe(2);
    }
  });
});

describe("limits", () => {
  it("100000 nested '(' give a max depth error, not a stack overflow", () => {
    const src = "(".repeat(100_000) + "proc.name = a" + ")".repeat(100_000);
    let err: unknown;
    try {
      parseCondition(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).code).toBe("MAX_DEPTH");
    expect((err as ParseError).message).toMatch(/exceeded max depth/);
  });
  it("100000 nested 'not (' give a max depth error", () => {
    expect(() => parseCondition("not (".repeat(100_000) + "a")).toThrow(/exceeded max depth/);
  });
  it("deep nesting under the limit parses", () => {
    expect(sx(parseCondition("(".repeat(900) + "a" + ")".repeat(900)))).toBe("a");
  });
  it("list length limit", () => {
    const items = Array.from({ length: 50 }, (_, i) => `x${i}`).join(",");
    expect(() => parseCondition(`proc.name in (${items})`, { maxDepth: 10, maxNodes: 1000, maxListItems: 10 })).toThrow(/max list length/);
  });
  it("node count limit", () => {
    const src = Array.from({ length: 100 }, (_, i) => `m${i}`).join(" or ");
    expect(() => parseCondition(src, { maxDepth: 10, maxNodes: 50, maxListItems: 10 })).toThrow(/max node count/);
  });
  it("a 100000-item list parses", () => {
    const items = Array.from({ length: 100_000 }, (_, i) => `/p/${i}`).join(", ");
    const t = parseCondition(`fd.name in (${items})`);
    expect(t.kind === "check" && t.value?.kind === "list" ? t.value.items.length : 0).toBe(100_000);
  });
});
