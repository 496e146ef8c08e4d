// SPDX-License-Identifier: Apache-2.0
/**
 * Whether a rule set reads any of a behaviour stage's fields: the pipeline runs a stage on every
 * event only while some loaded rule's condition or output, or an `append_output` entry, reads one
 * of its fields (with Falco's stable rules neither stage runs: no state kept, no cost per event).
 */
import { fieldExprText, type Expr } from "../../rules/lang/ast.js";

/** A loaded rule as far as the gate reads it. */
export interface ReadingRule {
  readonly cond: Expr;
  /** The field expressions of the output (CompiledRule.outputFields). */
  readonly outputFields?: readonly string[] | undefined;
}

const SPLIT = /[^\w.]+/;

/** True when `text` (a field expression: `proc.aname[2]`, `tolower(vigil.exe.fetched_path)`) names one of `names`. */
function names(text: string, set: ReadonlySet<string>): boolean {
  for (const part of text.split(SPLIT)) if (set.has(part)) return true;
  return false;
}

function exprReads(x: Expr, set: ReadonlySet<string>): boolean {
  switch (x.kind) {
    case "and":
    case "or":
      return x.children.some((c) => exprReads(c, set));
    case "not":
      return exprReads(x.child, set);
    case "check":
      return names(fieldExprText(x.field), set) || (x.value?.kind === "fieldvalue" && names(fieldExprText(x.value.field), set));
    default:
      return false;
  }
}

/** Whether a rule (condition or output) or one of `extra` (append_output's field expressions) reads a field of `fields`. */
export function readsAnyField(rules: readonly ReadingRule[], fields: readonly string[], extra: readonly string[] = []): boolean {
  const set = new Set(fields);
  return extra.some((t) => names(t, set)) || rules.some((r) => exprReads(r.cond, set) || (r.outputFields ?? []).some((t) => names(t, set)));
}
