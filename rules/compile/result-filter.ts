// SPDX-License-Identifier: Apache-2.0
/**
 * Result filters (issue 19, failed attempts): per event type outside the open family, whether
 * every rule that can match it needs a successful call, or every one needs a failed call. The
 * probe then drops the other outcome before it builds the frame (FORMAT.md "Result filters":
 * `mount:fail`, `chmod:ok` in the `syscalls` control line), so rules about refused attempts
 * cost nothing for the successful calls of a type nobody else looks at, and the reverse.
 *
 * Like the open family's push-down (pushdown.ts, whose filter already carries the result), the
 * derivation is an over-approximation: a rule's condition (macros expanded, `evt.type` leaves
 * folded for the one type) gives the outcomes under which it can be true, from the result atoms
 * alone — `evt.failed`, `evt.res` (SUCCESS or an errno name) and `evt.rawres` compared with a
 * number; every other leaf allows both. `and` intersects, `or` unites, `not` is pushed down to
 * the leaves, where only exact atoms negate (`not evt.res = EPERM` allows both outcomes).
 * A failed call is one whose result is negative, as `evt.failed` says.
 */
import { EVENTS } from "../event-table.js";
import type { CheckNode, Expr } from "../lang/ast.js";
import { simplifyForCodes, type CodeSet } from "./evttype.js";

/** What the probe is asked to keep of a type: only successful or only failed calls. */
export type ResultNeed = "ok" | "fail";

/** Per event name: the outcome the probe keeps (or "sock": calls on a socket fd only, socket-filter.ts); a type absent from the map is sent whole. */
export type ResultFilters = Map<string, ResultNeed | "sock" | "sockjson">;

/** What the derivation needs from a compiled rule. */
export interface ResultFilterableRule {
  readonly codes: CodeSet;
  readonly cond: Expr;
}

/** Outcome sets as bits. */
const OK = 1;
const FAIL = 2;
const BOTH = OK | FAIL;

/**
 * Derives the result filter of every type some rule matches. `stateNeeds` names what the
 * agent's own state needs of a type beyond the rules (exec and clone: successful calls); a type
 * in `exclude` (the open family, filtered by its push-down) gets none.
 */
export function deriveResultFilters(
  rules: readonly ResultFilterableRule[],
  stateNeeds: ReadonlyMap<string, ResultNeed> = new Map(),
  exclude: ReadonlySet<string> = new Set(),
): ResultFilters {
  const out: ResultFilters = new Map();
  const only = new Uint8Array(EVENTS.length);
  for (const spec of EVENTS) {
    if (spec.code === 0 || exclude.has(spec.name)) continue;
    let need = 0;
    let used = false;
    only.fill(0);
    only[spec.code] = 1;
    for (const r of rules) {
      if (r.codes !== null && r.codes[spec.code] !== 1) continue;
      used = true;
      need |= outcomes(simplifyForCodes(r.cond, only), false);
      if (need === BOTH) break;
    }
    if (!used) continue;
    const state = stateNeeds.get(spec.name);
    if (state !== undefined) need |= state === "ok" ? OK : FAIL;
    if (need === OK) out.set(spec.name, "ok");
    else if (need === FAIL) out.set(spec.name, "fail");
  }
  return out;
}

/** The outcomes under which one condition can be true: "ok", "fail", or undefined for both or none (exported for tests). */
export function conditionResult(cond: Expr): ResultNeed | undefined {
  const m = outcomes(cond, false);
  return m === OK ? "ok" : m === FAIL ? "fail" : undefined;
}

/** Outcomes (bits) under which `n` (negated when `neg`) can hold. */
function outcomes(n: Expr, neg: boolean): number {
  switch (n.kind) {
    case "bool":
      return n.value !== neg ? BOTH : 0;
    case "not":
      return outcomes(n.child, !neg);
    case "ident":
      return BOTH;
    case "and":
    case "or": {
      // De Morgan: a negated `and` is an `or` of negated children
      const conj = (n.kind === "and") !== neg;
      let m = conj ? BOTH : 0;
      for (const c of n.children) {
        const x = outcomes(c, neg);
        m = conj ? m & x : m | x;
        if (conj ? m === 0 : m === BOTH) break;
      }
      return m;
    }
    case "check":
      return leaf(n, neg);
  }
}

function leaf(n: CheckNode, neg: boolean): number {
  if (n.field.kind !== "field" || n.field.arg !== undefined || n.modifier !== undefined) return BOTH;
  const v = n.value;
  const scalar = v?.kind === "value" ? v.value : undefined;
  const items = v?.kind === "list" ? v.items.map((i) => i.value) : scalar !== undefined ? [scalar] : undefined;
  switch (n.field.name) {
    case "evt.failed": {
      if ((n.op !== "=" && n.op !== "!=") || (scalar !== "true" && scalar !== "false")) return BOTH;
      // true when the call failed: `= true`, `!= false`; the negation is exact
      const failed = ((scalar === "true") === (n.op === "=")) !== neg;
      return failed ? FAIL : OK;
    }
    case "evt.res": {
      if (items === undefined) return BOTH;
      if (n.op === "=" || n.op === "in" || n.op === "!=") {
        const hasOk = items.includes("SUCCESS");
        // every text but SUCCESS is a failure's (an errno name, or the number of an unknown one)
        const m = (hasOk ? OK : 0) | (items.some((x) => x !== "SUCCESS") ? FAIL : 0);
        const positive = n.op !== "!=";
        if (positive !== neg) return m;
        // not in the set: exact only for the set {SUCCESS} (any failure) and a set of errors (success or another error)
        if (m === OK) return FAIL;
        return BOTH;
      }
      if (n.op === "startswith" && scalar !== undefined && scalar.startsWith("E") && !neg) return FAIL;
      return BOTH;
    }
    case "evt.rawres": {
      if (items === undefined) return BOTH;
      const xs = items.map(Number);
      if (xs.some((x) => !Number.isFinite(x))) return BOTH;
      if (n.op === "in") return neg ? BOTH : xs.reduce((m, x) => m | numOutcomes("=", x, false), 0);
      if (xs.length !== 1) return BOTH;
      return numOutcomes(n.op, xs[0] as number, neg);
    }
    default:
      return BOTH;
  }
}

/**
 * Outcomes of `rawres op x` (negated when `neg`). Each side of the result is a half-line
 * (ok: 0 and up, fail: -1 and down) and the comparison holds on a half-line or a point, so
 * testing the points next to x and the far ends of each side is exact.
 */
function numOutcomes(op: string, x: number, neg: boolean): number {
  const test = (r: number): boolean | undefined => {
    switch (op) {
      case "=":
        return r === x;
      case "!=":
        return r !== x;
      case "<":
        return r < x;
      case "<=":
        return r <= x;
      case ">":
        return r > x;
      case ">=":
        return r >= x;
      default:
        return undefined;
    }
  };
  const base = Math.trunc(x);
  const points = [base - 1, base, base + 1, x, 0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  let m = 0;
  for (const r of points) {
    const t = test(r);
    if (t === undefined) return BOTH;
    if (t !== neg) m |= r >= 0 ? OK : FAIL;
  }
  return m;
}
