// SPDX-License-Identifier: Apache-2.0
/**
 * The event types a condition can match, computed from its tree (falco `filter/ppm_codes.cpp`):
 * `and` intersects, `or` unites, negation is pushed to the leaves with De Morgan, and only
 * `evt.type` leaves (`=`, `!=`, `in`) constrain; every other leaf is neutral (all types).
 * `evt.num = 0` (the `never_true` macro) matches nothing.
 */
import { EVENT_CODE_LIMIT, eventByName } from "../event-table.js";
import type { Expr } from "../lang/ast.js";

/** A set of event codes, or `null` for "every type". */
export type CodeSet = Uint8Array | null;

function union(a: CodeSet, b: CodeSet): CodeSet {
  if (a === null || b === null) return null;
  const out = new Uint8Array(EVENT_CODE_LIMIT);
  for (let k = 0; k < out.length; k++) out[k] = (a[k] as number) | (b[k] as number);
  return out;
}

function intersect(a: CodeSet, b: CodeSet): CodeSet {
  if (a === null) return b;
  if (b === null) return a;
  const out = new Uint8Array(EVENT_CODE_LIMIT);
  for (let k = 0; k < out.length; k++) out[k] = (a[k] as number) & (b[k] as number);
  return out;
}

function complement(a: Uint8Array): Uint8Array {
  const out = new Uint8Array(EVENT_CODE_LIMIT);
  // code 0 is "unknown": never produced, never matched by a type constraint
  for (let k = 1; k < out.length; k++) out[k] = a[k] === 1 ? 0 : 1;
  return out;
}

/** Codes a condition can match; also collects evt.type names that no known event has. */
export function conditionCodes(n: Expr, unknownNames?: Set<string>): CodeSet {
  const s = codes(n, false, unknownNames);
  // a set holding every known code is no constraint at all
  return s !== null && codeCount(s) >= EVENT_CODE_LIMIT - 1 ? null : s;
}

function codes(n: Expr, neg: boolean, unknown: Set<string> | undefined): CodeSet {
  switch (n.kind) {
    case "and": {
      let acc: CodeSet = neg ? new Uint8Array(EVENT_CODE_LIMIT) : null;
      for (const c of n.children) acc = neg ? union(acc, codes(c, true, unknown)) : intersect(acc, codes(c, false, unknown));
      return acc;
    }
    case "or": {
      let acc: CodeSet = neg ? null : new Uint8Array(EVENT_CODE_LIMIT);
      for (const c of n.children) acc = neg ? intersect(acc, codes(c, true, unknown)) : union(acc, codes(c, false, unknown));
      return acc;
    }
    case "not":
      return codes(n.child, !neg, unknown);
    case "bool":
      return n.value !== neg ? null : new Uint8Array(EVENT_CODE_LIMIT);
    case "ident":
      return null;
    case "check": {
      const f = n.field;
      if (f.kind !== "field" || f.arg !== undefined || n.modifier !== undefined) return null;
      if (f.name === "evt.num" && n.op === "=" && n.value?.kind === "value" && Number(n.value.value) === 0) {
        return neg ? null : new Uint8Array(EVENT_CODE_LIMIT);
      }
      if (f.name !== "evt.type" && f.name !== "syscall.type") return null;
      if (n.op !== "=" && n.op !== "!=" && n.op !== "in" && n.op !== "intersects") return null;
      const v = n.value;
      if (v === undefined || v.kind === "fieldvalue") return null;
      const set = new Uint8Array(EVENT_CODE_LIMIT);
      for (const name of v.kind === "value" ? [v.value] : v.items.map((i) => i.value)) {
        const spec = eventByName(name);
        if (spec === undefined) unknown?.add(name);
        else set[spec.code] = 1;
      }
      const positive = n.op !== "!=";
      return positive !== neg ? set : complement(set);
    }
  }
}

/** Number of codes in a set (EVENT_CODE_LIMIT - 1 for `null`). */
export function codeCount(s: CodeSet): number {
  if (s === null) return EVENT_CODE_LIMIT - 1;
  let c = 0;
  for (let k = 0; k < s.length; k++) c += s[k] as number;
  return c;
}

/** The code set of one `evt.type` leaf (`=`, `!=`, `in`), or undefined for any other node. */
function leafCodes(n: Expr): Uint8Array | undefined {
  if (n.kind !== "check") return undefined;
  const f = n.field;
  if (f.kind !== "field" || f.arg !== undefined || n.modifier !== undefined) return undefined;
  if (f.name !== "evt.type" && f.name !== "syscall.type") return undefined;
  if (n.op !== "=" && n.op !== "!=" && n.op !== "in" && n.op !== "intersects") return undefined;
  const v = n.value;
  if (v === undefined || v.kind === "fieldvalue") return undefined;
  const set = new Uint8Array(EVENT_CODE_LIMIT);
  for (const name of v.kind === "value" ? [v.value] : v.items.map((i) => i.value)) {
    const spec = eventByName(name);
    if (spec !== undefined) set[spec.code] = 1;
  }
  return n.op === "!=" ? complement(set) : set;
}

/**
 * Given the codes a rule is indexed under, replaces `evt.type` leaves whose value is the same for
 * every one of those codes by a constant and folds the constants away: the index already
 * guarantees them (`open_read`'s `evt.type in (open, openat, openat2)` in an openat-only rule).
 */
export function simplifyForCodes(n: Expr, codes: CodeSet): Expr {
  if (codes === null) return n;
  const fold = (x: Expr): Expr => {
    switch (x.kind) {
      case "check": {
        const s = leafCodes(x);
        if (s === undefined) return x;
        let all = true;
        let none = true;
        for (let k = 0; k < codes.length; k++) {
          if (codes[k] !== 1) continue;
          if (s[k] === 1) none = false;
          else all = false;
        }
        if (all) return { kind: "bool", value: true, pos: x.pos };
        if (none) return { kind: "bool", value: false, pos: x.pos };
        return x;
      }
      case "not": {
        const c = fold(x.child);
        if (c.kind === "bool") return { kind: "bool", value: !c.value, pos: x.pos };
        return c === x.child ? x : { ...x, child: c };
      }
      case "and":
      case "or": {
        const isAnd = x.kind === "and";
        const kept: Expr[] = [];
        for (const c0 of x.children) {
          const c = fold(c0);
          if (c.kind === "bool") {
            if (c.value !== isAnd) return { kind: "bool", value: !isAnd, pos: x.pos };
            continue;
          }
          kept.push(c);
        }
        if (kept.length === 0) return { kind: "bool", value: isAnd, pos: x.pos };
        if (kept.length === 1) return kept[0] as Expr;
        return { ...x, children: kept };
      }
      default:
        return x;
    }
  };
  return fold(n);
}
