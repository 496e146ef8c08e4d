// SPDX-License-Identifier: Apache-2.0
/**
 * Compiles a macro-expanded condition tree into one closure `(e) => boolean`. Fields are
 * resolved to getters here, once; literals are converted by operators.ts. Evaluation allocates
 * nothing on its own: n-ary `and`/`or` loop over arrays of closures; `evt.type` checks become a
 * lookup in a per-code table.
 */
import { EVENT_CODE_LIMIT, eventByName } from "../event-table.js";
import type { SyscallEvent, ThreadInfo } from "../event.js";
import { CompileError } from "../errors.js";
import type { CheckNode, Expr, Op } from "../lang/ast.js";
import { walk } from "../lang/ast.js";
import { DEFAULT_FIELD_CONTEXT, FieldType, resolveField, type FieldContext, type FieldValue, type ListGetter } from "./fields.js";
import { checkOperator, fieldPred, literalPred, type ValuePred } from "./operators.js";
import { bindFieldExpr } from "./transformers.js";

/** A compiled condition. */
export type Pred = (e: SyscallEvent) => boolean;

const TRUE: Pred = () => true;
const FALSE: Pred = () => false;
const MAX_ANCESTORS = 256;

/** Compiles a tree (macros already expanded), fields taking `ctx`. Throws CompileError with the failing node's pos. */
export function compileExpr(n: Expr, ctx: FieldContext = DEFAULT_FIELD_CONTEXT): Pred {
  switch (n.kind) {
    case "bool":
      return n.value ? TRUE : FALSE;
    case "not": {
      const c = compileExpr(n.child, ctx);
      return (e) => !c(e);
    }
    case "and": {
      const cs = n.children.map((x) => compileExpr(x, ctx));
      if (cs.length === 2) {
        const [a, b] = cs as [Pred, Pred];
        return (e) => a(e) && b(e);
      }
      if (cs.length === 3) {
        const [a, b, c] = cs as [Pred, Pred, Pred];
        return (e) => a(e) && b(e) && c(e);
      }
      return (e) => {
        for (let k = 0; k < cs.length; k++) if (!(cs[k] as Pred)(e)) return false;
        return true;
      };
    }
    case "or": {
      const cs = n.children.map((x) => compileExpr(x, ctx));
      if (cs.length === 2) {
        const [a, b] = cs as [Pred, Pred];
        return (e) => a(e) || b(e);
      }
      if (cs.length === 3) {
        const [a, b, c] = cs as [Pred, Pred, Pred];
        return (e) => a(e) || b(e) || c(e);
      }
      return (e) => {
        for (let k = 0; k < cs.length; k++) if ((cs[k] as Pred)(e)) return true;
        return false;
      };
    }
    case "ident":
      throw new CompileError("UNDEFINED_MACRO", `Undefined macro '${n.name}' used in filter.`, n.pos);
    case "check":
      return leafPred(compileLeaf(n, ctx));
  }
}

/**
 * Compiled leaves by node, for one load and its field context: macro trees are shared, so each
 * of their checks compiles once per load.
 */
export interface LeafCache {
  readonly ctx: FieldContext;
  readonly leaves: Map<CheckNode, Leaf>;
}

/** An empty cache for a load whose fields take `ctx`. */
export function leafCache(ctx: FieldContext = DEFAULT_FIELD_CONTEXT): LeafCache {
  return { ctx, leaves: new Map() };
}

function cachedLeaf(x: CheckNode, cache: LeafCache | undefined): Leaf {
  if (cache === undefined) return compileLeaf(x, DEFAULT_FIELD_CONTEXT);
  let l = cache.leaves.get(x);
  if (l === undefined) {
    l = compileLeaf(x, cache.ctx);
    cache.leaves.set(x, l);
  }
  return l;
}

/** Compiles every check of a tree into the cache (validation: unknown fields, bad values...). */
export function compileLeaves(n: Expr, cache: LeafCache): void {
  walk(n, (x) => {
    if (x.kind === "check") cachedLeaf(x, cache);
    else if (x.kind === "ident") throw new CompileError("UNDEFINED_MACRO", `Undefined macro '${x.name}' used in filter.`, x.pos);
  });
}

/** Most leaves a generated function takes; larger trees use closures. */
const MAX_GENERATED_LEAVES = 20_000;

/**
 * Compiles a tree into one generated function per rule: the and/or/not structure becomes a
 * JavaScript expression whose every leaf call has its own call site, so V8 sees monomorphic calls
 * and can inline getters and predicates. No text from the rule enters the generated source: it
 * holds only operators and indexes into the array of compiled leaves. Falls back to closures
 * when code generation is unavailable or the tree is very large.
 */
export function compileExprFast(n: Expr, cache?: LeafCache): Pred {
  const consts: unknown[] = [];
  let leaves = 0;
  const gen = (x: Expr): string => {
    switch (x.kind) {
      case "bool":
        return x.value ? "true" : "false";
      case "not":
        return `!${gen(x.child)}`;
      case "and":
      case "or": {
        // checks of one text field OR-ed together (`a or b`), or negated and AND-ed together
        // (`not a and not b`, i.e. `not (a or b)`): one getter call, one combined predicate
        const neg = x.kind === "and";
        const parts: string[] = [];
        const groups = mergeGroups(x.children, neg, cache);
        for (let k = 0; k < x.children.length; k++) {
          const child = x.children[k] as Expr;
          const grp = groups.get(child);
          if (grp === undefined) {
            parts.push(gen(child));
          } else if (grp.first === child) {
            leaves += grp.checks.length;
            const first = cachedLeaf(grp.checks[0] as CheckNode, cache) as GpLeaf;
            const i = consts.length;
            consts.push(first.g, anyOfPred(grp.checks.map((c) => cachedLeaf(c, cache) as GpLeaf)));
            parts.push(`${neg ? "!" : ""}((v = c${i}(e)) !== undefined && c${i + 1}(v))`);
          }
        }
        return `(${parts.join(neg ? " && " : " || ")})`;
      }
      case "ident":
        throw new CompileError("UNDEFINED_MACRO", `Undefined macro '${x.name}' used in filter.`, x.pos);
      case "check": {
        leaves++;
        const l = cachedLeaf(x, cache);
        const i = consts.length;
        switch (l.kind) {
          case "gp":
            consts.push(l.g, l.p);
            return `((v = c${i}(e)) !== undefined && c${i + 1}(v))`;
          case "exists":
            consts.push(l.g);
            return `(c${i}(e) !== undefined)`;
          case "type":
            consts.push(l.table);
            return `(c${i}[e.type] === 1)`;
          case "fn":
            consts.push(l.f);
            return `c${i}(e)`;
        }
      }
    }
  };
  const src = gen(n);
  if (leaves > MAX_GENERATED_LEAVES) return compileExpr(n, cache?.ctx);
  const decls = consts.map((_, i) => `const c${i} = C[${i}];`).join("\n");
  try {
    const factory = new Function("C", `"use strict";\n${decls}\nreturn function rule(e) { let v; return ${src}; };`) as (c: unknown[]) => Pred;
    return factory(consts);
  } catch {
    return compileExpr(n, cache?.ctx);
  }
}

function literals(n: CheckNode): string[] {
  const v = n.value;
  if (v === undefined) return [];
  if (v.kind === "value") return [v.value];
  if (v.kind === "list") return v.items.map((i) => i.value);
  return [];
}

/** A compiled leaf: shapes the code generator inlines, or a closure. */
export type Leaf =
  | { kind: "gp"; g: (e: SyscallEvent) => FieldValue; p: ValuePred; m?: MergeInfo }
  | { kind: "exists"; g: (e: SyscallEvent) => FieldValue }
  | { kind: "type"; table: Uint8Array }
  | { kind: "fn"; f: Pred };

const fn = (f: Pred): Leaf => ({ kind: "fn", f });

/** A leaf as a closure. */
function leafPred(l: Leaf): Pred {
  switch (l.kind) {
    case "fn":
      return l.f;
    case "type": {
      const t = l.table;
      return (e) => t[e.type] === 1;
    }
    case "exists": {
      const g = l.g;
      return (e) => g(e) !== undefined;
    }
    case "gp": {
      const { g, p } = l;
      return (e) => {
        const v = g(e);
        return v !== undefined && p(v);
      };
    }
  }
}

/** Compiles one check, mapping position-less errors to the node. */
function compileLeaf(n: CheckNode, ctx: FieldContext): Leaf {
  try {
    return compileCheck(n, ctx);
  } catch (err) {
    if (err instanceof CompileError && err.pos === undefined) throw new CompileError(err.code, err.message, n.pos, { cause: err });
    throw err;
  }
}

function compileCheck(n: CheckNode, ctx: FieldContext): Leaf {
  const f = n.field;
  // evt.type: a table lookup by event code (syscall fields only)
  if (
    ctx.source === undefined &&
    f.kind === "field" &&
    (f.name === "evt.type" || f.name === "syscall.type") &&
    f.arg === undefined &&
    n.modifier === undefined &&
    (n.op === "=" || n.op === "!=" || n.op === "in" || n.op === "intersects") &&
    n.value !== undefined &&
    n.value.kind !== "fieldvalue"
  ) {
    const table = new Uint8Array(EVENT_CODE_LIMIT);
    for (const name of literals(n)) {
      const spec = eventByName(name);
      if (spec !== undefined) table[spec.code] = 1;
    }
    if (n.op === "!=") for (let k = 0; k < table.length; k++) table[k] = table[k] === 1 ? 0 : 1;
    return { kind: "type", table };
  }

  if (f.kind === "transformer") {
    const b = bindFieldExpr(f, ctx);
    if (n.op === "exists") return { kind: "exists", g: b.get };
    if (n.value?.kind === "fieldvalue") {
      const rhs = bindFieldExpr(n.value.field, ctx);
      const cmp = fieldPred(b.name, b.type, n.op);
      const lg = b.get;
      const rg = rhs.get;
      return fn((e) => {
        const v = lg(e);
        if (v === undefined) return false;
        const w = rg(e);
        return w !== undefined && cmp(v, w);
      });
    }
    return withValue(b.get, undefined, undefined, rhsPred(n, b.name, b.type));
  }
  const r = resolveField(f.name, f.arg, ctx);
  if (r.list !== undefined) return listLeaf(n, r.name, r.type, r.list);
  if (n.op === "exists") {
    if (r.ancestor !== undefined) return fn((e) => e.proc.parent !== undefined);
    const g = r.get;
    const o = r.either;
    if (o !== undefined) return fn((e) => g(e) !== undefined || o(e) !== undefined);
    return { kind: "exists", g };
  }
  if (n.value?.kind === "fieldvalue") {
    if (n.op === "pmatch" || n.op === "regex") throw new CompileError("BAD_OPERATOR", `operator '${n.op}' cannot take a field on its right-hand side`, n.pos);
    const rhs = bindFieldExpr(n.value.field, ctx);
    checkOperator(r.name, r.type, n.op);
    const cmp = fieldPred(r.name, r.type, n.op);
    const rg = rhs.get;
    const pred = (e: SyscallEvent, v: NonNullable<FieldValue>): boolean => {
      const w = rg(e);
      return w !== undefined && cmp(v, w);
    };
    if (r.ancestor !== undefined) {
      const anc = r.ancestor;
      return fn((e) => {
        let t: ThreadInfo | undefined = e.proc.parent;
        for (let k = 0; k < MAX_ANCESTORS && t !== undefined; k++, t = t.parent) {
          const v = anc(t);
          if (v !== undefined && pred(e, v)) return true;
        }
        return false;
      });
    }
    const g = r.get;
    const o = r.either;
    return fn((e) => {
      const v = g(e);
      if (v !== undefined && pred(e, v)) return true;
      if (o === undefined) return false;
      const w = o(e);
      return w !== undefined && pred(e, w);
    });
  }
  const leaf = withValue(r.get, r.ancestor, r.either, rhsPred(n, r.name, r.type), n.op === "!=");
  if (leaf.kind === "gp" && r.type === FieldType.String && n.modifier === undefined && MERGE_OPS.has(n.op)) {
    leaf.m = { key: f.arg === undefined ? f.name : `${f.name}[${f.arg}]`, op: n.op, lits: literals(n) };
  }
  return leaf;
}

/**
 * A check of a list field (Falco's EPF_IS_LIST, e.g. `ka.req.pod.containers.image`), as libsinsp
 * compares them: `exists` holds when the field has a value; `in` when every value is one of the
 * literals; `intersects` when one is; no other operator applies. No values is missing: false.
 */
function listLeaf(n: CheckNode, name: string, type: FieldType, list: ListGetter): Leaf {
  if (n.op === "exists") {
    return fn((e) => {
      const vs = list(e);
      return vs !== undefined && vs.length > 0;
    });
  }
  if ((n.op !== "in" && n.op !== "intersects") || n.modifier !== undefined)
    throw new CompileError("BAD_OPERATOR", `list field '${name}' only supports operators 'exists', 'in' and 'intersects'`, n.pos);
  if (n.value?.kind === "fieldvalue") throw new CompileError("BAD_OPERATOR", `list field '${name}' cannot be compared with a field`, n.pos);
  const member = literalPred(name, type, "in", undefined, literals(n));
  // list values are text; typed fields compare as their type
  const typed: (s: string) => NonNullable<FieldValue> =
    type === FieldType.Bool ? (s) => s === "true" : type === FieldType.String ? (s) => s : (s) => (s === "" ? Number.NaN : Number(s));
  if (n.op === "in") {
    return fn((e) => {
      const vs = list(e);
      if (vs === undefined || vs.length === 0) return false;
      for (let k = 0; k < vs.length; k++) if (!member(typed(vs[k] as string))) return false;
      return true;
    });
  }
  return fn((e) => {
    const vs = list(e);
    if (vs === undefined) return false;
    for (let k = 0; k < vs.length; k++) if (member(typed(vs[k] as string))) return true;
    return false;
  });
}

function rhsPred(n: CheckNode, name: string, type: Parameters<typeof literalPred>[1]): ValuePred {
  if (n.value?.kind === "fieldvalue") {
    throw new CompileError("UNSUPPORTED", "a transformer on the left cannot be compared with a field on the right", n.pos);
  }
  return literalPred(name, type, n.op, n.modifier, literals(n));
}

/**
 * A check of an extracted value. For a field naming either end of a connection (`fd.ip`,
 * `fd.port`, `fd.net`...) `=`-like checks hold when either end matches and `!=` when both ends
 * differ (libsinsp's compare_ip/compare_net/compare_port), so `fd.ip != "0.0.0.0"` is false for a
 * socket with one end at 0.0.0.0.
 */
function withValue(
  g: (e: SyscallEvent) => FieldValue,
  anc: ((t: ThreadInfo) => FieldValue) | undefined,
  either: ((e: SyscallEvent) => FieldValue) | undefined,
  p: ValuePred,
  bothEnds = false,
): Leaf {
  if (anc !== undefined) {
    return fn((e) => {
      let t: ThreadInfo | undefined = e.proc.parent;
      for (let k = 0; k < MAX_ANCESTORS && t !== undefined; k++, t = t.parent) {
        const v = anc(t);
        if (v !== undefined && p(v)) return true;
      }
      return false;
    });
  }
  if (either !== undefined && bothEnds) {
    return fn((e) => {
      const v = g(e);
      if (v === undefined || !p(v)) return false;
      const w = either(e);
      return w === undefined || p(w);
    });
  }
  if (either !== undefined) {
    return fn((e) => {
      const v = g(e);
      if (v !== undefined && p(v)) return true;
      const w = either(e);
      return w !== undefined && p(w);
    });
  }
  return { kind: "gp", g, p };
}

// ---------------------------------------------------------------- OR of checks on one text field

/** What lets checks on the same text field merge: the field (with its argument), operator and literals. */
export interface MergeInfo {
  key: string;
  op: Op;
  lits: readonly string[];
}
type GpLeaf = Extract<Leaf, { kind: "gp" }>;

/** Operators whose checks on one text field can be merged under an `or`. */
const MERGE_OPS: ReadonlySet<Op> = new Set<Op>(["=", "in", "startswith", "endswith", "contains", "glob", "pmatch"]);

/**
 * Children of an `or` that are mergeable checks on the same text field (two or more per field),
 * or, with `negated`, children of an `and` that are `not` of such checks; grouped by field in
 * their order, mapped from each child to its group's first member and checks. The checks are pure (getters
 * and predicates have no effects), so evaluating a group at the place of its first member gives
 * the same result.
 */
function mergeGroups(children: readonly Expr[], negated: boolean, cache: LeafCache | undefined): Map<Expr, { first: Expr; checks: CheckNode[] }> {
  const byKey = new Map<string, { members: Expr[]; checks: CheckNode[] }>();
  for (const c of children) {
    const check = negated ? (c.kind === "not" && c.child.kind === "check" ? c.child : undefined) : c.kind === "check" ? c : undefined;
    if (check === undefined) continue;
    const l = cachedLeaf(check, cache);
    if (l.kind !== "gp" || l.m === undefined) continue;
    const g = byKey.get(l.m.key);
    if (g === undefined) byKey.set(l.m.key, { members: [c], checks: [check] });
    else {
      g.members.push(c);
      g.checks.push(check);
    }
  }
  const out = new Map<Expr, { first: Expr; checks: CheckNode[] }>();
  for (const g of byKey.values()) {
    if (g.members.length < 2) continue;
    const v = { first: g.members[0] as Expr, checks: g.checks };
    for (const c of g.members) out.set(c, v);
  }
  return out;
}

/**
 * Literals bucketed by the character at one position, counted from the start (or, with `last`,
 * from the end): the position where they differ most, among those every literal reaches (paths
 * all start with `/`, so the first character would not split them). Index 128 of `buckets` holds
 * the literals to try for a non-ASCII character there. `at` is -1 when some literal is empty (no
 * bucketing: every value tries every literal).
 */
interface CharBuckets {
  at: number;
  buckets: string[][];
}

function charBuckets(lits: readonly string[], last: boolean): CharBuckets {
  const minLen = lits.reduce((m, s) => Math.min(m, s.length), Infinity);
  const charAt = (s: string, i: number): number => s.charCodeAt(last ? s.length - 1 - i : i);
  let at = -1;
  let best = 0;
  for (let i = 0; i < Math.min(minLen, 64); i++) {
    const n = new Set(lits.map((s) => charAt(s, i))).size;
    if (n > best) {
      best = n;
      at = i;
    }
  }
  const buckets: string[][] = Array.from({ length: 129 }, () => []);
  for (const s of lits) {
    const c = at < 0 ? -1 : charAt(s, at);
    if (c >= 0 && c < 128) (buckets[c] as string[]).push(s);
    else if (c >= 128) (buckets[128] as string[]).push(s);
    else for (const b of buckets) b.push(s);
  }
  return { at, buckets };
}

/** The literals of `b` worth trying on `v` (an empty list when `v` is too short for any). */
function bucketFor(b: CharBuckets, v: string, last: boolean): string[] {
  if (b.at < 0) return b.buckets[128] as string[];
  if (v.length <= b.at) return NONE;
  const c = v.charCodeAt(last ? v.length - 1 - b.at : b.at);
  return b.buckets[c < 128 ? c : 128] as string[];
}
const NONE: string[] = [];

/**
 * One predicate true when any of the merged checks is: equality and `in` become one Set lookup,
 * `startswith` and `endswith` test only the literals that have the value's character at the
 * position where the literals differ most, the other operators run their own compiled predicate. Values that are not
 * strings take every check's own predicate, exactly as unmerged.
 */
function anyOfPred(leaves: readonly GpLeaf[]): ValuePred {
  const all = leaves.map((l) => l.p);
  const eq = new Set<string>();
  const starts: string[] = [];
  const ends: string[] = [];
  const subs: string[] = [];
  const rest: ValuePred[] = [];
  for (const l of leaves) {
    const m = l.m as MergeInfo;
    if (m.op === "=" || m.op === "in") for (const x of m.lits) eq.add(x);
    else if (m.op === "startswith" && m.lits.length === 1) starts.push(m.lits[0] as string);
    else if (m.op === "endswith" && m.lits.length === 1) ends.push(m.lits[0] as string);
    else if (m.op === "contains" && m.lits.length === 1) subs.push(m.lits[0] as string);
    else rest.push(l.p);
  }
  const sb = charBuckets(starts, false);
  const eb = charBuckets(ends, true);
  const subMasks = new Uint32Array(subs.length * 4);
  subs.forEach((x, k) => {
    asciiMask(x, subMasks, k * 4);
  });
  const hasEq = eq.size > 0;
  const hasStarts = starts.length > 0;
  const hasEnds = ends.length > 0;
  const nSubs = subs.length;
  return (v) => {
    if (typeof v !== "string") {
      for (let k = 0; k < all.length; k++) if ((all[k] as ValuePred)(v)) return true;
      return false;
    }
    if (hasEq && eq.has(v)) return true;
    if (hasStarts) {
      const list = bucketFor(sb, v, false);
      for (let k = 0; k < list.length; k++) if (v.startsWith(list[k] as string)) return true;
    }
    if (hasEnds) {
      const list = bucketFor(eb, v, true);
      for (let k = 0; k < list.length; k++) if (v.endsWith(list[k] as string)) return true;
    }
    if (nSubs > 0) {
      // a literal holding an ASCII character the value lacks cannot be in it: skip its search
      const o = valueMask(v);
      const m0 = masks[o] as number;
      const m1 = masks[o + 1] as number;
      const m2 = masks[o + 2] as number;
      const m3 = masks[o + 3] as number;
      for (let k = 0; k < nSubs; k++) {
        const b = k * 4;
        if (
          ((subMasks[b] as number) & ~m0) !== 0 ||
          ((subMasks[b + 1] as number) & ~m1) !== 0 ||
          ((subMasks[b + 2] as number) & ~m2) !== 0 ||
          ((subMasks[b + 3] as number) & ~m3) !== 0
        )
          continue;
        if (v.includes(subs[k] as string)) return true;
      }
    }
    for (let k = 0; k < rest.length; k++) if ((rest[k] as ValuePred)(v)) return true;
    return false;
  };
}

/** Sets in `out[at..at+4)` one bit per ASCII character of `s` (other characters set none). */
function asciiMask(s: string, out: Uint32Array, at: number): void {
  out.fill(0, at, at + 4);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) out[at + (c >>> 5)] = ((out[at + (c >>> 5)] as number) | (1 << (c & 31))) >>> 0;
  }
}

// Character masks of the last few values searched: one event's command line or path is searched
// by the merged checks of many rules, so its mask is computed once per event.
const MASK_SLOTS = 8;
const masks = new Uint32Array(MASK_SLOTS * 4);
const maskOf: (string | undefined)[] = new Array<string | undefined>(MASK_SLOTS).fill(undefined);
let maskNext = 0;

/** Offset in `masks` of the ASCII character mask of `v`. */
function valueMask(v: string): number {
  for (let k = 0; k < MASK_SLOTS; k++) if (maskOf[k] === v) return k * 4;
  const slot = maskNext;
  maskNext = (maskNext + 1) % MASK_SLOTS;
  asciiMask(v, masks, slot * 4);
  maskOf[slot] = v;
  return slot * 4;
}
