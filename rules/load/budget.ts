// SPDX-License-Identifier: Apache-2.0
/**
 * The expansion budget of a load. Lists of lists, list names in a condition, exceptions and
 * macros referring to macros all multiply: a chain of macros each using the previous one twice
 * doubles at every link. Each stage counts what it produces as it produces it (sizes of macro
 * trees are memoized per shared subtree, so the count never walks the expanded tree) and stops
 * with an error at the item's position once a limit is passed.
 */
import { CompileError } from "../errors.js";
import type { Expr, Pos } from "../lang/ast.js";

/** Limits on what one load may expand to (beside the parser's `ParseLimits`). */
export interface ExpansionLimits {
  /**
   * Most nodes one list, condition or exception block may expand to: list items while lists of
   * lists expand and while list names are substituted into a condition; and/or/not/check nodes
   * plus list items of a condition with its macros resolved (the size of the compiled condition).
   */
  maxExpansionNodes: number;
  /** Most characters one list or condition may expand to as text (list names substituted, exceptions added). */
  maxExpansionChars: number;
  /** Deepest condition tree once macros are resolved. */
  maxExpansionDepth: number;
  /** Most nodes one load may expand and compile, summed over every list, condition and exception. */
  maxTotalNodes: number;
  /** Most characters one load may expand, summed over every list and condition text. */
  maxTotalChars: number;
  /**
   * Largest rules file, in characters. Parsing YAML costs about 190 bytes of heap per character
   * (a 1.7 MiB file of one flat list exhausted a 256 MiB heap), so this bounds the memory of a
   * load or reload whatever the file holds.
   */
  maxFileChars: number;
}

/**
 * Defaults: Falco's stable rules need at most 135 nodes plus 608 list items per rule and depth 9
 * (Vigil's packs: 135 + 608, depth 9), so the per-item limits leave two orders of magnitude for
 * users' own lists.
 */
export const DEFAULT_EXPANSION_LIMITS: Readonly<ExpansionLimits> = {
  maxExpansionNodes: 250_000,
  maxExpansionChars: 8 * 1024 * 1024,
  maxExpansionDepth: 1000,
  maxTotalNodes: 2_000_000,
  maxTotalChars: 64 * 1024 * 1024,
  // Falco's stable rules are 63 KiB, Vigil's largest pack 140 KiB
  maxFileChars: 1024 * 1024,
};

/** The defaults with the keys of `given` that are set (an undefined key keeps its default). */
export function expansionLimits(given: Partial<ExpansionLimits> | undefined): ExpansionLimits {
  const out: ExpansionLimits = { ...DEFAULT_EXPANSION_LIMITS };
  if (given !== undefined) for (const k of Object.keys(out) as (keyof ExpansionLimits)[]) if (typeof given[k] === "number") out[k] = given[k];
  return out;
}

/** Size and depth of an expanded (sub)tree. */
export interface Measure {
  nodes: number;
  depth: number;
}

/** The message of an exceeded node limit (tests and tools match on it). */
export function nodesExceeded(limit: number): string {
  return `expansion exceeds ${limit} nodes`;
}

/** Counts expansion against the per-item and per-load limits. */
export class Budget {
  /** Measures of resolved trees by node: macro trees are shared, each is measured once. */
  private readonly measures = new WeakMap<Expr, Measure>();
  private totalNodes = 0;
  private totalChars = 0;

  constructor(readonly limits: Readonly<ExpansionLimits>) {}

  /** Why `nodes`/`chars` of one item are over the per-item limits, or undefined when they are not. */
  overItem(nodes: number, chars: number): string | undefined {
    if (nodes > this.limits.maxExpansionNodes) return nodesExceeded(this.limits.maxExpansionNodes);
    if (chars > this.limits.maxExpansionChars) return `expansion exceeds ${this.limits.maxExpansionChars} characters`;
    return undefined;
  }

  /** Why charging `nodes`/`chars` more would pass the load's limits, or undefined when it would not. */
  overTotal(nodes: number, chars: number): string | undefined {
    if (this.totalNodes + nodes > this.limits.maxTotalNodes) return `${nodesExceeded(this.limits.maxTotalNodes)} in total for this load`;
    if (this.totalChars + chars > this.limits.maxTotalChars) return `expansion exceeds ${this.limits.maxTotalChars} characters in total for this load`;
    return undefined;
  }

  /** Checks an item against both limits; throws a CompileError at `pos` when over. */
  check(nodes: number, chars: number, pos?: Pos): void {
    const why = this.overItem(nodes, chars) ?? this.overTotal(nodes, chars);
    if (why !== undefined) throw new CompileError("MAX_EXPANSION", why, pos);
  }

  /** Charges an item's expansion to the load (checked first with {@link check} or {@link overTotal}). */
  charge(nodes: number, chars: number): void {
    this.totalNodes += nodes;
    this.totalChars += chars;
  }

  /** The recorded measure of a resolved tree (see {@link measure}). */
  get(n: Expr): Measure | undefined {
    return this.measures.get(n);
  }

  /**
   * Measures a resolved node whose children were measured already, records it and throws at
   * the node's position when it passes the node or depth limit.
   */
  measure(n: Expr): Measure {
    const known = this.measures.get(n);
    if (known !== undefined) return known;
    let nodes = 1;
    let depth = 1;
    switch (n.kind) {
      case "and":
      case "or":
        for (const c of n.children) {
          const m = this.measures.get(c) ?? this.measure(c);
          nodes += m.nodes;
          if (m.depth + 1 > depth) depth = m.depth + 1;
        }
        break;
      case "not": {
        const m = this.measures.get(n.child) ?? this.measure(n.child);
        nodes += m.nodes;
        depth = m.depth + 1;
        break;
      }
      case "check":
        if (n.value?.kind === "list") nodes += n.value.items.length;
        break;
      default:
        break;
    }
    if (depth > this.limits.maxExpansionDepth)
      throw new CompileError("MAX_DEPTH", `expanded condition exceeds max depth of ${this.limits.maxExpansionDepth}`, n.pos);
    const why = this.overItem(nodes, 0);
    if (why !== undefined) throw new CompileError("MAX_EXPANSION", why, n.pos);
    const m = { nodes, depth };
    this.measures.set(n, m);
    return m;
  }
}
