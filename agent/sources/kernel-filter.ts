// SPDX-License-Identifier: Apache-2.0
/**
 * The loader's control lines for the rule predicates pushed down into the probe (FORMAT.md
 * "Kernel filters"): per open-family event type, `filter-begin` (filter off, names cleared),
 * one `fname` line per name of a set, then `filter` with the clauses. Until the last line of a
 * type arrives, its events all pass: an update never hides an event a rule needs.
 */
import { PUSHDOWN_EVENTS, type FilterClause, type KernelFilters } from "../../rules/compile/pushdown.js";

/** events.h `enum vigil_filter_need`. */
const Need = { DotDot: 1, Leaf: 2, Parent: 4, Raw: 8, RawTop: 16 } as const;
/** events.h `enum vigil_fname_dim`. */
const Dim = { Leaf: 1, Parent: 2, Raw: 3, RawTop: 4 } as const;

/** Control lines installing `filters` (types absent from it are turned off). */
export function kernelFilterLines(filters: KernelFilters | undefined): string[] {
  const out: string[] = [];
  for (const ev of PUSHDOWN_EVENTS) {
    out.push(`filter-begin ${ev}`);
    const clauses = filters?.get(ev);
    if (clauses === undefined || clauses === null || clauses.length === 0) {
      out.push(`filter ${ev} off`);
      continue;
    }
    const names = new Map<string, number>();
    const add = (dim: number, set: ReadonlySet<string> | null, bit: number): void => {
      if (set === null) return;
      for (const n of set) {
        const key = `${dim} ${Buffer.from(n, "utf8").toString("hex")}`;
        names.set(key, (names.get(key) ?? 0) | bit);
      }
    };
    clauses.forEach((c, i) => {
      add(Dim.Leaf, c.leaf, 1 << i);
      add(Dim.Parent, c.parent, 1 << i);
      add(Dim.Raw, c.raw, 1 << i);
      add(Dim.RawTop, c.rawTop, 1 << i);
    });
    for (const [key, bits] of names) {
      const [dim, hex] = key.split(" ") as [string, string];
      out.push(`fname ${ev} ${dim} ${bits} ${hex}`);
    }
    out.push(`filter ${ev} ${clauses.map(clauseSpec).join(" ")}`);
  }
  return out;
}

function clauseSpec(c: FilterClause): string {
  const need =
    (c.dotdot ? Need.DotDot : 0) |
    (c.leaf !== null ? Need.Leaf : 0) |
    (c.parent !== null ? Need.Parent : 0) |
    (c.raw !== null ? Need.Raw : 0) |
    (c.rawTop !== null ? Need.RawTop : 0);
  return `${c.res},${c.acc},${c.flagsAll >>> 0},${need}`;
}
