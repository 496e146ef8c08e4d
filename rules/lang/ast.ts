// SPDX-License-Identifier: Apache-2.0
/**
 * The condition AST: a discriminated union on `kind`; every node carries `pos` (offset, line,
 * column in the condition text it was parsed from). Nodes are immutable once built, so a macro's
 * tree can be shared by every rule that uses it.
 */
import type { TextPos } from "../errors.js";

export type Pos = TextPos;

/** Comparison operators of the language. */
export const Op = {
  Eq: "=",
  Ne: "!=",
  Lt: "<",
  Le: "<=",
  Gt: ">",
  Ge: ">=",
  Contains: "contains",
  IContains: "icontains",
  BContains: "bcontains",
  StartsWith: "startswith",
  BStartsWith: "bstartswith",
  EndsWith: "endswith",
  Glob: "glob",
  IGlob: "iglob",
  Regex: "regex",
  In: "in",
  Intersects: "intersects",
  PMatch: "pmatch",
  Exists: "exists",
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** String operator modifiers over a list (libs ≥ 0.25). */
export type Modifier = "oneof" | "anyof" | "allof";

/** Names of field transformers. */
export const TRANSFORMERS = ["tolower", "toupper", "b64", "basename", "len", "concat", "join", "getopt"] as const;
export type TransformerName = (typeof TRANSFORMERS)[number];

/** `proc.name`, `proc.aname[2]`, `evt.arg.flags`, `container.label[app]`. */
export interface FieldRef {
  kind: "field";
  name: string;
  arg: string | undefined;
  pos: Pos;
}

/** `tolower(proc.name)`, nested. */
export interface TransformerRef {
  kind: "transformer";
  name: TransformerName;
  args: FieldExpr[];
  pos: Pos;
}

export type FieldExpr = FieldRef | TransformerRef;

/** One literal value (quoted or bare; the text after unescaping). */
export interface ScalarValue {
  kind: "value";
  value: string;
  pos: Pos;
}

/** `(a, "b c", d)` */
export interface ListValue {
  kind: "list";
  items: ScalarValue[];
  pos: Pos;
}

/** `val(proc.pname)` or a transformer on the right-hand side. */
export interface FieldValue {
  kind: "fieldvalue";
  field: FieldExpr;
  pos: Pos;
}

export type Value = ScalarValue | ListValue | FieldValue;

export interface AndNode {
  kind: "and";
  children: Expr[];
  pos: Pos;
}
export interface OrNode {
  kind: "or";
  children: Expr[];
  pos: Pos;
}
export interface NotNode {
  kind: "not";
  child: Expr;
  pos: Pos;
}
/** `field op value` or `field exists`. */
export interface CheckNode {
  kind: "check";
  field: FieldExpr;
  op: Op;
  modifier: Modifier | undefined;
  value: Value | undefined;
  pos: Pos;
}
/** A bare identifier: a macro reference, replaced by the macro's tree before compiling. */
export interface IdentNode {
  kind: "ident";
  name: string;
  pos: Pos;
}
/** Constant (used after macro expansion of an always-true/false tree; never parsed). */
export interface BoolNode {
  kind: "bool";
  value: boolean;
  pos: Pos;
}

export type Expr = AndNode | OrNode | NotNode | CheckNode | IdentNode | BoolNode;

/** Renders a field expression back to its text (`proc.aname[2]`, `tolower(proc.name)`). */
export function fieldExprText(f: FieldExpr): string {
  if (f.kind === "field") return f.arg === undefined ? f.name : `${f.name}[${f.arg}]`;
  return `${f.name}(${f.args.map(fieldExprText).join(", ")})`;
}

/** Visits every node of a tree (iteratively; trees may be deep). */
export function walk(root: Expr, fn: (n: Expr) => void): void {
  const stack: Expr[] = [root];
  while (stack.length > 0) {
    const n = stack.pop() as Expr;
    fn(n);
    if (n.kind === "and" || n.kind === "or") for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i] as Expr);
    else if (n.kind === "not") stack.push(n.child);
  }
}
