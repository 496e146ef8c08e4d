// SPDX-License-Identifier: Apache-2.0
/**
 * Kernel predicate push-down: from the rules loaded for an open-family event type, derives a
 * cheap condition that every event some rule can match satisfies, so the probe can drop the
 * others before it reads the file's path and copies the event out (issue 4, "Filter early").
 *
 * The derivation is an over-approximation: each rule's condition (macros expanded, exceptions
 * included, `evt.type` leaves folded for the one type) becomes a necessary condition over a few
 * atoms the probe evaluates in a handful of instructions:
 *
 * - result: success (`fd.num >= 0`, `evt.res = SUCCESS`...) or failure;
 * - access mode: `evt.is_open_read` (O_RDONLY, O_RDWR), `evt.is_open_write` (O_WRONLY, O_RDWR);
 * - flag bits that must be set (`evt.arg.flags contains O_TRUNC`, `evt.is_open_create`);
 * - the path argument contains `../` (`fd.nameraw contains "../"`);
 * - the path argument is one of a set (`evt.arg.name in (...)`, absolute paths only), or starts
 *   with `/<one of a set of names>/` (`evt.arg.name glob "/proc/..."`);
 * - the resolved file's last component (`fd.filename`, the last part of `fd.name`) and its
 *   directory's last component (`fd.directory`), as the probe's path walk names them; these two
 *   only constrain successful opens (a failed open has no file to look at).
 *
 * Negated leaves and every other field prove nothing and become `true`. `and` conjoins, `or`
 * disjoins; the result is a disjunction of at most {@link MAX_CLAUSES} conjunctive clauses
 * (merged into weaker ones past that). A rule whose condition proves nothing turns the filter off
 * for that type (`null`: send every event), as does any clause that ends up unconstrained.
 */
import { EVENT_CODE_LIMIT, EVENTS, eventByName } from "../event-table.js";
import type { CheckNode, Expr } from "../lang/ast.js";
import { simplifyForCodes, type CodeSet } from "./evttype.js";

/** Event types the probe can filter with a pushed-down predicate (the event table's `kernelFilter` rows). */
export const PUSHDOWN_EVENTS: readonly string[] = EVENTS.filter((e) => e.kernelFilter === true).map((e) => e.name);

/** Clauses per event type the probe evaluates (events.h `VIGIL_FILTER_CLAUSES`). */
export const MAX_CLAUSES = 8;
/** Longest name (bytes, without the NUL) a name set may hold (events.h `VIGIL_FNAME_MAX` - 1). */
export const MAX_NAME_BYTES = 59;
/** Most names in one clause's set; a bigger set is dropped (no constraint). */
export const MAX_NAMES = 256;

/** Result requirement of a clause. */
export const Res = { Any: 0, Ok: 1, Fail: 2 } as const;
export type Res = (typeof Res)[keyof typeof Res];

/** Access modes (flags & 3) a clause allows, as a bit per mode value. */
export const Acc = { Any: 0b1111, Read: 0b0101, Write: 0b0110 } as const;

/** One conjunctive clause: an event passes it when every part holds. */
export interface FilterClause {
  res: Res;
  /** Bit m set: access mode m (flags & 3) is allowed. */
  acc: number;
  /** Open flag bits that must all be set. */
  flagsAll: number;
  /** The path argument contains "../". */
  dotdot: boolean;
  /** The resolved file's last path component is one of these (success only); null: any. */
  leaf: ReadonlySet<string> | null;
  /** The resolved file's directory's last component is one of these (success only); null: any. */
  parent: ReadonlySet<string> | null;
  /** The path argument (absolute) is one of these; null: any. */
  raw: ReadonlySet<string> | null;
  /** The path argument is absolute and its first component is one of these; null: any. */
  rawTop: ReadonlySet<string> | null;
}

/** Per event name: the clauses (an event must pass one), or null to send every event. */
export type KernelFilters = Map<string, FilterClause[] | null>;

/** What the derivation needs from a compiled rule. */
export interface FilterableRule {
  readonly codes: CodeSet;
  readonly cond: Expr;
}

const TRUE_CLAUSE: FilterClause = { res: Res.Any, acc: Acc.Any, flagsAll: 0, dotdot: false, leaf: null, parent: null, raw: null, rawTop: null };

/** Flags whose name in `evt.arg.flags` text means exactly one bit (no other name contains it). */
const FLAG_BITS: Readonly<Record<string, number>> = { O_CREAT: 0o100, O_EXCL: 0o200, O_TRUNC: 0o1000, O_APPEND: 0o2000 };

/** Intermediate clause lists past this are merged down to one clause. */
const MAX_WORK = 64;

/** Derives the filter of every push-down event type some rule can match. */
export function deriveKernelFilters(rules: readonly FilterableRule[]): KernelFilters {
  const out: KernelFilters = new Map();
  for (const name of PUSHDOWN_EVENTS) {
    const spec = eventByName(name);
    if (spec === undefined) continue;
    const only = new Uint8Array(EVENT_CODE_LIMIT);
    only[spec.code] = 1;
    let clauses: FilterClause[] | null = [];
    let any = false;
    for (const r of rules) {
      if (r.codes !== null && r.codes[spec.code] !== 1) continue;
      any = true;
      const d = derive(simplifyForCodes(r.cond, only), false);
      if (d.some(isTrue)) {
        clauses = null;
        break;
      }
      clauses.push(...d);
    }
    if (!any) continue;
    out.set(name, clauses === null ? null : finish(clauses));
  }
  return out;
}

/** Derives the clauses for one condition (exported for tests). */
export function conditionClauses(cond: Expr): FilterClause[] | null {
  const d = derive(cond, false);
  return d.some(isTrue) ? null : finish(d);
}

function finish(cs: FilterClause[]): FilterClause[] | null {
  let list = prune(cs);
  while (list.length > MAX_CLAUSES) list = mergeClosest(list);
  return list.some(isTrue) ? null : list;
}

/** Necessary condition of `n` (negated when `neg`) in disjunctive form; [] is false. */
function derive(n: Expr, neg: boolean): FilterClause[] {
  switch (n.kind) {
    case "bool":
      return n.value !== neg ? [TRUE_CLAUSE] : [];
    case "not":
      return derive(n.child, !neg);
    case "ident":
      return [TRUE_CLAUSE];
    case "and":
    case "or": {
      // De Morgan: a negated `and` is an `or` of negated children
      const conj = (n.kind === "and") !== neg;
      if (conj) {
        let acc: FilterClause[] = [TRUE_CLAUSE];
        for (const c of n.children) {
          acc = product(acc, derive(c, neg));
          if (acc.length === 0) return acc;
        }
        return acc;
      }
      let acc: FilterClause[] = [];
      for (const c of n.children) {
        const d = derive(c, neg);
        if (d.some(isTrue)) return [TRUE_CLAUSE];
        acc = prune(acc.concat(d));
        if (acc.length > MAX_WORK) acc = [acc.reduce(join)];
      }
      return acc;
    }
    case "check":
      return neg ? negCheck(n) : posCheck(n);
  }
}

function product(a: FilterClause[], b: FilterClause[]): FilterClause[] {
  const out: FilterClause[] = [];
  for (const x of a)
    for (const y of b) {
      const m = meet(x, y);
      if (m !== undefined) out.push(m);
    }
  const p = prune(out);
  return p.length > MAX_WORK ? [p.reduce(join)] : p;
}

/** A leaf under `not`: only `not <bool field> = false`-style checks prove anything. */
function negCheck(n: CheckNode): FilterClause[] {
  const f = fieldName(n);
  if (f === undefined || n.value?.kind !== "value") return [TRUE_CLAUSE];
  const v = n.value.value;
  if ((n.op === "=" || n.op === "!=") && (v === "true" || v === "false")) {
    // not (x = true) is x = false; not (x != true) is x = true
    const flipped = (n.op === "=") === (v === "true") ? "false" : "true";
    return boolField(f, flipped);
  }
  return [TRUE_CLAUSE];
}

function posCheck(n: CheckNode): FilterClause[] {
  const f = fieldName(n);
  if (f === undefined || n.modifier !== undefined) return [TRUE_CLAUSE];
  const v = n.value;
  const scalar = v?.kind === "value" ? v.value : undefined;
  const items = v?.kind === "list" ? v.items.map((i) => i.value) : scalar !== undefined ? [scalar] : undefined;
  switch (f) {
    case "evt.is_open_read":
    case "evt.is_open_write":
    case "evt.is_open_create":
    case "evt.failed":
      if (scalar === undefined) return [TRUE_CLAUSE];
      if (n.op === "=") return boolField(f, scalar);
      if (n.op === "!=" && (scalar === "true" || scalar === "false")) return boolField(f, scalar === "true" ? "false" : "true");
      return [TRUE_CLAUSE];
    case "fd.num":
    case "evt.rawres":
      return scalar === undefined ? [TRUE_CLAUSE] : numRes(n.op, Number(scalar));
    case "evt.res":
      if (scalar === undefined) return [TRUE_CLAUSE];
      if (n.op === "=" && scalar === "SUCCESS") return [{ ...TRUE_CLAUSE, res: Res.Ok }];
      // errno names start with E; the text of a successful result never does
      if ((n.op === "startswith" && scalar.startsWith("E")) || (n.op === "!=" && scalar === "SUCCESS")) return [{ ...TRUE_CLAUSE, res: Res.Fail }];
      return [TRUE_CLAUSE];
    case "evt.arg.flags":
      if (n.op === "contains" && scalar !== undefined) {
        const bit = FLAG_BITS[scalar];
        if (bit !== undefined) return [{ ...TRUE_CLAUSE, flagsAll: bit }];
      }
      return [TRUE_CLAUSE];
    case "fd.name":
      return nameClauses(n.op, items, scalar);
    case "fd.filename":
      if ((n.op === "=" || n.op === "in") && items !== undefined)
        return nameSet(
          "leaf",
          items.filter((x) => !x.includes("/")),
        );
      return [TRUE_CLAUSE];
    case "fd.directory":
      if ((n.op === "=" || n.op === "in") && items !== undefined) return dirClauses(items);
      return [TRUE_CLAUSE];
    case "fd.nameraw":
    case "evt.arg.name":
      return rawClauses(f, n.op, items, scalar);
    default:
      return [TRUE_CLAUSE];
  }
}

function fieldName(n: CheckNode): string | undefined {
  if (n.field.kind !== "field") return undefined;
  const { name, arg } = n.field;
  if (arg === undefined) return name;
  // evt.arg[flags] is evt.arg.flags; by index the param differs per event type
  return name === "evt.arg" && !/^[0-9]+$/.test(arg) ? `evt.arg.${arg}` : `${name}[${arg}]`;
}

function boolField(f: string, v: string): FilterClause[] {
  if (v !== "true" && v !== "false") return [TRUE_CLAUSE];
  const t = v === "true";
  switch (f) {
    case "evt.is_open_read":
      return [{ ...TRUE_CLAUSE, acc: t ? Acc.Read : Acc.Any & ~Acc.Read }];
    case "evt.is_open_write":
      return [{ ...TRUE_CLAUSE, acc: t ? Acc.Write : Acc.Any & ~Acc.Write }];
    case "evt.is_open_create":
      return t ? [{ ...TRUE_CLAUSE, flagsAll: FLAG_BITS["O_CREAT"] as number }] : [TRUE_CLAUSE];
    case "evt.failed":
      return [{ ...TRUE_CLAUSE, res: t ? Res.Fail : Res.Ok }];
    default:
      return [TRUE_CLAUSE];
  }
}

/** `fd.num` / `evt.rawres` compared with a number: the sign of the result. */
function numRes(op: string, x: number): FilterClause[] {
  if (!Number.isFinite(x)) return [TRUE_CLAUSE];
  const ok = [{ ...TRUE_CLAUSE, res: Res.Ok }];
  const fail = [{ ...TRUE_CLAUSE, res: Res.Fail }];
  switch (op) {
    case "=":
      return x >= 0 ? ok : fail;
    case ">=":
      return x >= 0 ? ok : [TRUE_CLAUSE];
    case ">":
      return x >= -1 ? ok : [TRUE_CLAUSE];
    case "<":
      return x <= 0 ? fail : [TRUE_CLAUSE];
    case "<=":
      return x < 0 ? fail : [TRUE_CLAUSE];
    default:
      return [TRUE_CLAUSE];
  }
}

const GLOB_META = /[*?[\\]/;

/**
 * What a check on `fd.name` proves about its last two components. `=`/`in` give both (the
 * directory only when it is not `/`); `endswith` and `glob` give the components of their literal
 * tail after a `/` (a glob's `*` crosses `/`, so only the text after its last wildcard counts).
 */
function nameClauses(op: string, items: string[] | undefined, scalar: string | undefined): FilterClause[] {
  let tails: string[] | undefined;
  if ((op === "=" || op === "in") && items !== undefined) {
    if (items.some((x) => !x.startsWith("/"))) return [TRUE_CLAUSE];
    tails = items;
  } else if (op === "endswith" && scalar !== undefined) tails = [scalar];
  else if (op === "glob" && scalar !== undefined) {
    let k = scalar.length;
    while (k > 0 && !GLOB_META.test(scalar.charAt(k - 1))) k--;
    tails = [scalar.slice(k)];
  }
  if (tails === undefined) return [TRUE_CLAUSE];
  const leaves: string[] = [];
  const parents: string[] = [];
  let parentKnown = true;
  for (const t of tails) {
    const parts = t.split("/");
    // a tail without "/" ("x.php") is only a suffix of the last component
    if (parts.length < 2) return [TRUE_CLAUSE];
    const leaf = parts[parts.length - 1] as string;
    if (leaf === "" || leaf === "." || leaf === "..") return [TRUE_CLAUSE];
    leaves.push(leaf);
    // "/a/b/leaf" or "x/b/leaf": b is the directory's last component; "/leaf" or "b/leaf" (b may be partial) is not
    const p = parts.length >= 3 ? (parts[parts.length - 2] as string) : undefined;
    if (p === undefined || p === "" || p === "." || p === "..") parentKnown = false;
    else parents.push(p);
  }
  const c = toClause("leaf", leaves);
  if (c === undefined) return [TRUE_CLAUSE];
  if (!parentKnown) return [c];
  const pc = toClause("parent", parents);
  return [pc === undefined ? c : { ...c, parent: pc.parent }];
}

/** `fd.directory in (...)`: the directory's last component, for directories other than `/`. */
function dirClauses(items: string[]): FilterClause[] {
  const names: string[] = [];
  for (const d of items) {
    if (!d.startsWith("/") || d.endsWith("/")) return [TRUE_CLAUSE];
    const last = d.slice(d.lastIndexOf("/") + 1);
    if (last === "." || last === "..") return [TRUE_CLAUSE];
    names.push(last);
  }
  return nameSet("parent", names);
}

/** Checks on the path argument: "../" inside it, its exact (absolute) value, its first component. */
function rawClauses(f: string, op: string, items: string[] | undefined, scalar: string | undefined): FilterClause[] {
  const DD = "../";
  if ((op === "contains" || op === "startswith" || op === "endswith") && scalar?.includes(DD)) return [{ ...TRUE_CLAUSE, dotdot: true }];
  if (op === "glob" && scalar !== undefined && scalar.split(/[*?]|\[[^\]]*\]/).some((lit) => lit.replace(/\\(.)/g, "$1").includes(DD))) {
    return [{ ...TRUE_CLAUSE, dotdot: true }];
  }
  // the probe sends every event whose argument it cannot read, so fd.nameraw's fallback to
  // fd.name (argument missing) never meets these checks
  if ((op === "=" || op === "in") && items !== undefined) {
    if (items.every((x) => x.includes(DD))) return [{ ...TRUE_CLAUSE, dotdot: true }];
    if (items.some((x) => !x.startsWith("/"))) return [TRUE_CLAUSE];
    return nameSet("raw", items);
  }
  if ((op === "startswith" || op === "glob") && scalar !== undefined) {
    const top = /^\/([^/*?[\\]+)\//.exec(scalar)?.[1];
    if (top !== undefined && top !== "." && top !== "..") return nameSet("rawTop", [top]);
  }
  return [TRUE_CLAUSE];
}

type Dim = "leaf" | "parent" | "raw" | "rawTop";

function nameSet(dim: Dim, names: string[]): FilterClause[] {
  const c = toClause(dim, names);
  return c === undefined ? [TRUE_CLAUSE] : [c];
}

function toClause(dim: Dim, names: string[]): FilterClause | undefined {
  if (names.length === 0) return undefined;
  if (names.length > MAX_NAMES || names.some((x) => Buffer.byteLength(x) > MAX_NAME_BYTES || x.includes("\0") || x === "")) return undefined;
  return { ...TRUE_CLAUSE, [dim]: new Set(names) };
}

// ---------------------------------------------------------------- clause algebra

function isTrue(c: FilterClause): boolean {
  return c.res === Res.Any && c.acc === Acc.Any && c.flagsAll === 0 && !c.dotdot && c.leaf === null && c.parent === null && c.raw === null && c.rawTop === null;
}

function meetSet(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): ReadonlySet<string> | null | undefined {
  if (a === null) return b;
  if (b === null) return a;
  const out = new Set<string>();
  for (const x of a) if (b.has(x)) out.add(x);
  return out.size === 0 ? undefined : out;
}

/** Both clauses hold; undefined when they cannot. */
function meet(a: FilterClause, b: FilterClause): FilterClause | undefined {
  if (a.res !== Res.Any && b.res !== Res.Any && a.res !== b.res) return undefined;
  const acc = a.acc & b.acc;
  if (acc === 0) return undefined;
  const leaf = meetSet(a.leaf, b.leaf);
  const parent = meetSet(a.parent, b.parent);
  const raw = meetSet(a.raw, b.raw);
  const rawTop = meetSet(a.rawTop, b.rawTop);
  if (leaf === undefined || parent === undefined || raw === undefined || rawTop === undefined) return undefined;
  return { res: a.res === Res.Any ? b.res : a.res, acc, flagsAll: a.flagsAll | b.flagsAll, dotdot: a.dotdot || b.dotdot, leaf, parent, raw, rawTop };
}

function joinSet(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): ReadonlySet<string> | null {
  if (a === null || b === null) return null;
  const out = new Set([...a, ...b]);
  return out.size > MAX_NAMES ? null : out;
}

/** A clause implied by either (weaker than both). */
function join(a: FilterClause, b: FilterClause): FilterClause {
  return {
    res: a.res === b.res ? a.res : Res.Any,
    acc: a.acc | b.acc,
    flagsAll: a.flagsAll & b.flagsAll,
    dotdot: a.dotdot && b.dotdot,
    leaf: joinSet(a.leaf, b.leaf),
    parent: joinSet(a.parent, b.parent),
    raw: joinSet(a.raw, b.raw),
    rawTop: joinSet(a.rawTop, b.rawTop),
  };
}

function subset(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): boolean {
  if (b === null) return true;
  if (a === null) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Every event passing `a` passes `b`. */
function implies(a: FilterClause, b: FilterClause): boolean {
  return (
    (b.res === Res.Any || a.res === b.res) &&
    (a.acc & ~b.acc) === 0 &&
    (a.flagsAll & b.flagsAll) === b.flagsAll &&
    (!b.dotdot || a.dotdot) &&
    subset(a.leaf, b.leaf) &&
    subset(a.parent, b.parent) &&
    subset(a.raw, b.raw) &&
    subset(a.rawTop, b.rawTop)
  );
}

/** Drops clauses implied by another one (keeping the first of equal ones). */
function prune(cs: FilterClause[]): FilterClause[] {
  const out: FilterClause[] = [];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i] as FilterClause;
    let redundant = false;
    for (let j = 0; j < cs.length && !redundant; j++) {
      if (j === i) continue;
      const o = cs[j] as FilterClause;
      if (implies(c, o) && (!implies(o, c) || j < i)) redundant = true;
    }
    if (!redundant) out.push(c);
  }
  return out;
}

/** Replaces the two clauses whose join loses least by that join. */
function mergeClosest(cs: FilterClause[]): FilterClause[] {
  let best = [0, 1];
  let bestScore = -1;
  for (let i = 0; i < cs.length; i++)
    for (let j = i + 1; j < cs.length; j++) {
      const s = strength(join(cs[i] as FilterClause, cs[j] as FilterClause));
      if (s > bestScore) {
        bestScore = s;
        best = [i, j];
      }
    }
  const [i, j] = best as [number, number];
  const merged = join(cs[i] as FilterClause, cs[j] as FilterClause);
  return prune([...cs.filter((_, k) => k !== i && k !== j), merged]);
}

/** A rough measure of how much a clause constrains (higher: fewer events pass). */
function strength(c: FilterClause): number {
  let s = 0;
  if (c.res !== Res.Any) s += 1;
  if (c.acc !== Acc.Any) s += 1;
  if (c.flagsAll !== 0) s += 2;
  if (c.dotdot) s += 4;
  if (c.leaf !== null) s += 4;
  if (c.parent !== null) s += 3;
  if (c.raw !== null) s += 4;
  if (c.rawTop !== null) s += 2;
  return s;
}

/** Short text of a clause (logs, `vigil rules check`). */
export function clauseText(c: FilterClause): string {
  const parts: string[] = [];
  if (c.res !== Res.Any) parts.push(c.res === Res.Ok ? "ok" : "failed");
  if (c.acc !== Acc.Any) parts.push(c.acc === Acc.Read ? "read" : c.acc === Acc.Write ? "write" : `acc=${c.acc.toString(2)}`);
  if (c.flagsAll !== 0) parts.push(`flags&0${c.flagsAll.toString(8)}`);
  if (c.dotdot) parts.push('raw~"../"');
  if (c.leaf !== null) parts.push(`leaf∈{${[...c.leaf].join(",")}}`);
  if (c.parent !== null) parts.push(`dir∈{${[...c.parent].join(",")}}`);
  if (c.raw !== null) parts.push(`raw∈{${[...c.raw].join(",")}}`);
  if (c.rawTop !== null) parts.push(`raw∈{${[...c.rawTop].map((t) => `/${t}/…`).join(",")}}`);
  return parts.join(" ∧ ");
}
