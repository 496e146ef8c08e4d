// SPDX-License-Identifier: Apache-2.0
/**
 * Operators: given a field type, an operator and right-hand-side literals, builds a predicate on
 * one extracted value. Literals are converted once (numbers parsed, lists turned into Sets, globs
 * and regexes compiled, CIDRs parsed); the predicates allocate nothing for string and number
 * values.
 */
import type { Modifier, Op } from "../lang/ast.js";
import { CompileError } from "../errors.js";
import { FieldType, type FieldValue } from "./fields.js";
import { compileGlob, compilePathPrefixes } from "./glob.js";
import { compileIpMatcher } from "./ip.js";
import { compileRegex } from "./regex.js";
import { bytesText, numText } from "./text.js";

/** A predicate over a present (non-undefined) value. */
export type ValuePred = (v: NonNullable<FieldValue>) => boolean;

const NUMERIC: ReadonlySet<FieldType> = new Set<FieldType>([FieldType.Int, FieldType.Uint, FieldType.AbsTime, FieldType.RelTime, FieldType.Port]);

/** True for the numeric field types. */
export function isNumeric(t: FieldType): boolean {
  return NUMERIC.has(t);
}

/** Text of a non-string value without allocating for small integers and booleans. */
export function valueText(v: NonNullable<FieldValue>): string {
  if (typeof v === "string") return v;
  if (typeof v === "number") return numText(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  return bytesText(v);
}

/** Parses a numeric literal: decimal (signed, with fraction/exponent) or 0x hex. */
export function parseNumber(s: string): number | undefined {
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) {
    const neg = s.startsWith("-");
    const v = parseInt(s.replace(/^[+-]/, ""), 16);
    return neg ? -v : v;
  }
  if (/^[+-]?[0-9]+\.?[0-9]*([eE][+-]?[0-9]+)?$/.test(s)) return Number(s);
  return undefined;
}

function parseBool(s: string): boolean | undefined {
  const l = s.toLowerCase();
  if (l === "true") return true;
  if (l === "false") return false;
  return undefined;
}

function badValue(field: string, v: string, why: string): CompileError {
  return new CompileError("BAD_VALUE", `invalid value '${v}' for field '${field}': ${why}`);
}

function badOp(field: string, type: FieldType, op: Op): CompileError {
  return new CompileError("BAD_OPERATOR", `operator '${op}' is not supported on field '${field}' of type ${type}`);
}

/** Case-insensitive (ASCII) substring search; `needle` already lowercased. */
function includesCI(hay: string, needle: string): boolean {
  const n = needle.length;
  const h = hay.length;
  if (n === 0) return true;
  const first = needle.charCodeAt(0);
  outer: for (let i = 0; i + n <= h; i++) {
    let c = hay.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== first) continue;
    for (let k = 1; k < n; k++) {
      let d = hay.charCodeAt(i + k);
      if (d >= 65 && d <= 90) d += 32;
      if (d !== needle.charCodeAt(k)) continue outer;
    }
    return true;
  }
  return false;
}

function hexBytes(field: string, s: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw badValue(field, s, "expected an even-length hex string");
  const out = new Uint8Array(s.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(s.slice(2 * k, 2 * k + 2), 16);
  return out;
}

function byteAt(v: NonNullable<FieldValue>, i: number): number {
  return typeof v === "string" ? v.charCodeAt(i) & 0xff : ((v as Uint8Array)[i] as number);
}
function byteLen(v: NonNullable<FieldValue>): number {
  return typeof v === "string" || v instanceof Uint8Array ? v.length : 0;
}

/** Predicate for a string operator and one literal. */
function stringPred(field: string, type: FieldType, op: Op, lit: string): ValuePred {
  switch (op) {
    case "=":
      return (v) => (typeof v === "string" ? v === lit : valueText(v) === lit);
    case "!=":
      return (v) => (typeof v === "string" ? v !== lit : valueText(v) !== lit);
    case "<":
      return (v) => valueText(v) < lit;
    case "<=":
      return (v) => valueText(v) <= lit;
    case ">":
      return (v) => valueText(v) > lit;
    case ">=":
      return (v) => valueText(v) >= lit;
    case "contains":
      return (v) => (typeof v === "string" ? v.includes(lit) : valueText(v).includes(lit));
    case "icontains": {
      const low = lit.toLowerCase();
      return (v) => includesCI(typeof v === "string" ? v : valueText(v), low);
    }
    case "startswith":
      return (v) => (typeof v === "string" ? v.startsWith(lit) : valueText(v).startsWith(lit));
    case "endswith":
      return (v) => (typeof v === "string" ? v.endsWith(lit) : valueText(v).endsWith(lit));
    case "glob":
    case "iglob": {
      const g = compileGlob(op === "iglob" ? lit.toLowerCase() : lit, op === "iglob");
      return (v) => g.match(typeof v === "string" ? v : valueText(v));
    }
    case "regex": {
      const r = compileRegex(field, lit);
      return (v) => r(typeof v === "string" ? v : valueText(v));
    }
    case "bcontains":
    case "bstartswith": {
      const b = hexBytes(field, lit);
      if (op === "bstartswith") {
        return (v) => {
          if (byteLen(v) < b.length) return false;
          for (let k = 0; k < b.length; k++) if (byteAt(v, k) !== b[k]) return false;
          return true;
        };
      }
      return (v) => {
        const n = byteLen(v);
        outer: for (let i = 0; i + b.length <= n; i++) {
          for (let k = 0; k < b.length; k++) if (byteAt(v, i + k) !== b[k]) continue outer;
          return true;
        }
        return false;
      };
    }
    default:
      throw badOp(field, type, op);
  }
}

const STRING_OPS: ReadonlySet<Op> = new Set<Op>([
  "=",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "contains",
  "icontains",
  "startswith",
  "endswith",
  "glob",
  "iglob",
  "regex",
  "bcontains",
  "bstartswith",
  "in",
  "intersects",
  "pmatch",
]);
const NUMERIC_OPS: ReadonlySet<Op> = new Set<Op>(["=", "!=", "<", "<=", ">", ">=", "in", "intersects"]);
const EQ_OPS: ReadonlySet<Op> = new Set<Op>(["=", "!=", "in", "intersects"]);
const BYTES_OPS: ReadonlySet<Op> = new Set<Op>(["=", "!=", "contains", "startswith", "bcontains", "bstartswith", "in", "intersects"]);

/** Checks that an operator applies to a field type; throws BAD_OPERATOR otherwise. */
export function checkOperator(field: string, type: FieldType, op: Op): void {
  if (op === "exists") return;
  let ok: boolean;
  if (isNumeric(type)) ok = NUMERIC_OPS.has(op);
  else if (type === FieldType.Bool || type === FieldType.IpAddr || type === FieldType.IpNet) ok = EQ_OPS.has(op);
  else if (type === FieldType.Bytes) ok = BYTES_OPS.has(op);
  else ok = STRING_OPS.has(op);
  if (!ok) throw badOp(field, type, op);
}

/**
 * Predicate for `field op literal(s)`. `values` has one item for scalar operators; for `in`,
 * `intersects`, `pmatch` and modifiers it is the list.
 */
export function literalPred(field: string, type: FieldType, op: Op, modifier: Modifier | undefined, values: readonly string[]): ValuePred {
  checkOperator(field, type, op);
  if (op === "pmatch") {
    if (isNumeric(type) || type === FieldType.Bool) throw badOp(field, type, op);
    const m = compilePathPrefixes(values);
    return (v) => m(typeof v === "string" ? v : valueText(v));
  }
  if (modifier !== undefined) {
    const preds = values.map((x) => scalarPred(field, type, op, x));
    const n = preds.length;
    if (modifier === "anyof") {
      return (v) => {
        for (let k = 0; k < n; k++) if ((preds[k] as ValuePred)(v)) return true;
        return false;
      };
    }
    if (modifier === "allof") {
      return (v) => {
        for (let k = 0; k < n; k++) if (!(preds[k] as ValuePred)(v)) return false;
        return true;
      };
    }
    return (v) => {
      let hits = 0;
      for (let k = 0; k < n; k++) if ((preds[k] as ValuePred)(v) && ++hits > 1) return false;
      return hits === 1;
    };
  }
  if (op === "in" || op === "intersects") return setPred(field, type, values);
  if (values.length !== 1) throw badValue(field, values.join(","), `operator '${op}' takes one value`);
  return scalarPred(field, type, op, values[0] as string);
}

function scalarPred(field: string, type: FieldType, op: Op, lit: string): ValuePred {
  if (isNumeric(type)) {
    const n = parseNumber(lit);
    if (n === undefined) throw badValue(field, lit, "expected a number");
    switch (op) {
      case "=":
        return (v) => v === n;
      case "!=":
        return (v) => v !== n;
      case "<":
        return (v) => (v as number) < n;
      case "<=":
        return (v) => (v as number) <= n;
      case ">":
        return (v) => (v as number) > n;
      case ">=":
        return (v) => (v as number) >= n;
      default:
        throw badOp(field, type, op);
    }
  }
  if (type === FieldType.Bool) {
    const b = parseBool(lit);
    if (b === undefined) throw badValue(field, lit, "expected true or false");
    if (op === "=") return (v) => v === b;
    if (op === "!=") return (v) => v !== b;
    throw badOp(field, type, op);
  }
  if (type === FieldType.IpAddr || type === FieldType.IpNet) {
    const m = compileIpMatcher(lit);
    if (m === undefined) throw badValue(field, lit, "expected an IP address or CIDR");
    if (op === "=") return (v) => typeof v === "string" && m(v);
    if (op === "!=") return (v) => typeof v === "string" && !m(v);
    throw badOp(field, type, op);
  }
  return stringPred(field, type, op, lit);
}

function setPred(field: string, type: FieldType, values: readonly string[]): ValuePred {
  if (isNumeric(type)) {
    const set = new Set<number>();
    for (const x of values) {
      const n = parseNumber(x);
      if (n === undefined) throw badValue(field, x, "expected a number");
      set.add(n);
    }
    return (v) => set.has(v as number);
  }
  if (type === FieldType.Bool) {
    const set = new Set<boolean>();
    for (const x of values) {
      const b = parseBool(x);
      if (b === undefined) throw badValue(field, x, "expected true or false");
      set.add(b);
    }
    return (v) => set.has(v as boolean);
  }
  if (type === FieldType.IpAddr || type === FieldType.IpNet) {
    const ms = values.map((x) => {
      const m = compileIpMatcher(x);
      if (m === undefined) throw badValue(field, x, "expected an IP address or CIDR");
      return m;
    });
    return (v) => {
      if (typeof v !== "string") return false;
      for (let k = 0; k < ms.length; k++) if ((ms[k] as (s: string) => boolean)(v)) return true;
      return false;
    };
  }
  const set = new Set<string>(values);
  return (v) => set.has(typeof v === "string" ? v : valueText(v));
}

/** Predicate comparing two extracted values (`val(field)` / transformer on the right). */
export function fieldPred(field: string, type: FieldType, op: Op): (a: NonNullable<FieldValue>, b: NonNullable<FieldValue>) => boolean {
  checkOperator(field, type, op);
  const num = isNumeric(type);
  switch (op) {
    case "=":
    case "in":
    case "intersects":
      return (a, b) => (num || typeof a === typeof b ? a === b : valueText(a) === valueText(b));
    case "!=":
      return (a, b) => (num || typeof a === typeof b ? a !== b : valueText(a) !== valueText(b));
    case "<":
      return (a, b) => (num ? (a as number) < (b as number) : valueText(a) < valueText(b));
    case "<=":
      return (a, b) => (num ? (a as number) <= (b as number) : valueText(a) <= valueText(b));
    case ">":
      return (a, b) => (num ? (a as number) > (b as number) : valueText(a) > valueText(b));
    case ">=":
      return (a, b) => (num ? (a as number) >= (b as number) : valueText(a) >= valueText(b));
    case "contains":
      return (a, b) => valueText(a).includes(valueText(b));
    case "icontains":
      return (a, b) => includesCI(valueText(a), valueText(b).toLowerCase());
    case "startswith":
      return (a, b) => valueText(a).startsWith(valueText(b));
    case "endswith":
      return (a, b) => valueText(a).endsWith(valueText(b));
    case "glob":
    case "iglob": {
      // the pattern comes from the event: keep the last compiled one (usually the same)
      const ci = op === "iglob";
      let lastPat: string | undefined;
      let last = compileGlob("");
      return (a, b) => {
        const pat = valueText(b);
        if (pat !== lastPat) {
          lastPat = pat;
          last = compileGlob(ci ? pat.toLowerCase() : pat, ci);
        }
        return last.match(valueText(a));
      };
    }
    default:
      throw new CompileError("BAD_OPERATOR", `operator '${op}' cannot take a field on its right-hand side`);
  }
}
