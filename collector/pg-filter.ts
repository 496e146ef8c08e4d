// SPDX-License-Identifier: Apache-2.0
/**
 * Alert filters for the PostgreSQL store: an {@link AlertFilter} → a WHERE condition with `$n`
 * placeholders, with the semantics of `filterToSql` (SQLite) and `compileFilter` (the live tail):
 * priority at least as severe, `since` inclusive, `until` exclusive, `*` matching any run of
 * characters (nothing else special), `container` = ID or name, `image` = reference or repository,
 * `source` = the alert's event source, every tag given.
 *
 * Times: the store keeps an alert's normalized time (`…SS.nnnnnnnnnZ`) as a `timestamptz` cut to
 * the microsecond (`time`, the partition key) plus the nanoseconds beyond it (`time_ns`, 0..999),
 * so (time, time_ns) orders and compares exactly like the normalized string does in SQLite.
 *
 * Text: PostgreSQL's text cannot hold U+0000, which an alert's strings may; key columns and filter
 * patterns map it to U+FFFD alike ({@link pgText}), so a filter still finds the alert. (The alert
 * JSON keeps every character: JSON escapes it.)
 */
import { CollectorError } from "./errors.js";
import { type AlertFilter, normalizeTime, priorityNumber } from "../proto/index.js";

/** A normalized time split for the store: microsecond ISO (for `timestamptz`) and the nanoseconds beyond. */
export interface PgTime {
  /** `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`. */
  us: string;
  /** 0..999. */
  ns: number;
}

const NORMALIZED_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

/**
 * Splits a time (normalized, or any RFC 3339 time `normalizeTime` accepts) into the store's two
 * columns. Throws CollectorError("bad_filter") for anything else.
 */
export function splitTime(t: string): PgTime {
  const n = NORMALIZED_RE.test(t) ? t : normalizeTime(t);
  if (n === undefined) throw new CollectorError("bad_filter", `bad time "${String(t).slice(0, 40)}": not an RFC 3339 time in 1970..9999`);
  return { us: `${n.slice(0, 26)}Z`, ns: Number(n.slice(26, 29)) };
}

/** SQL giving a row's normalized time string back from its two columns (`alias` like `w.`). */
export function pgTimeText(alias = ""): string {
  return `to_char(${alias}time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || lpad(${alias}time_ns::text, 3, '0') || 'Z'`;
}

/** A string as a PostgreSQL text value: U+0000 (which text cannot hold) becomes U+FFFD. */
export function pgText(s: string): string {
  return s.includes("\0") ? s.replaceAll("\0", "\uFFFD") : s;
}

/** `pgText` for a nullable key. */
export function pgTextOrNull(s: string | null): string | null {
  return s === null ? null : pgText(s);
}

/**
 * A filter pattern as a LIKE pattern: LIKE's own metacharacters (`%`, `_` and the escape `\`)
 * escaped, then `*` turned into `%`.
 */
export function globToLike(pattern: string): string {
  return pgText(pattern)
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replaceAll("*", "%");
}

/** Collects conditions and their parameters; `$n` numbers follow the parameters already held. */
export class PgConditions {
  readonly conds: string[] = [];
  constructor(readonly params: unknown[] = []) {}

  /** Adds a parameter; returns its placeholder. */
  param(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }

  add(cond: string): void {
    this.conds.push(cond);
  }

  /** The conditions joined by AND (empty when there are none). */
  get sql(): string {
    return this.conds.join(" AND ");
  }

  /** ` WHERE …` or nothing. */
  get where(): string {
    return this.conds.length > 0 ? ` WHERE ${this.sql}` : "";
  }
}

/** `col = $n`, or `col LIKE $n` when the pattern has a `*`. */
function eqOrGlob(c: PgConditions, col: string, v: string): string {
  return v.includes("*") ? `${col} LIKE ${c.param(globToLike(v))}` : `${col} = ${c.param(pgText(v))}`;
}

/**
 * Adds the conditions of a (normalized) filter over the store's `alerts` table to `c`.
 * A time bound adds a plain `time` bound as well: implied by the exact one, it lets PostgreSQL
 * skip the day partitions outside the range.
 */
export function addFilterConditions(c: PgConditions, f: AlertFilter): PgConditions {
  if (f.since !== undefined) {
    const t = splitTime(f.since);
    const us = c.param(t.us);
    c.add(`time >= ${us}::timestamptz`);
    if (t.ns > 0) c.add(`(time, time_ns) >= (${us}::timestamptz, ${c.param(t.ns)}::smallint)`);
  }
  if (f.until !== undefined) {
    const t = splitTime(f.until);
    const us = c.param(t.us);
    if (t.ns > 0) {
      c.add(`time <= ${us}::timestamptz`);
      c.add(`(time, time_ns) < (${us}::timestamptz, ${c.param(t.ns)}::smallint)`);
    } else {
      c.add(`time < ${us}::timestamptz`);
    }
  }
  if (f.priority !== undefined) {
    const p = priorityNumber(f.priority);
    if (p === undefined) throw new CollectorError("bad_filter", `unknown priority "${String(f.priority).slice(0, 40)}"`);
    c.add(`prio <= ${c.param(p)}`);
  }
  if (f.rule !== undefined) c.add(eqOrGlob(c, "rule", f.rule));
  if (f.node !== undefined) c.add(eqOrGlob(c, "hostname", f.node));
  if (f.namespace !== undefined) c.add(eqOrGlob(c, "namespace", f.namespace));
  if (f.pod !== undefined) c.add(eqOrGlob(c, "pod", f.pod));
  if (f.container !== undefined) c.add(`(${eqOrGlob(c, "container_id", f.container)} OR ${eqOrGlob(c, "container_name", f.container)})`);
  if (f.image !== undefined) c.add(`(${eqOrGlob(c, "image", f.image)} OR ${eqOrGlob(c, "image_repo", f.image)})`);
  if (f.source !== undefined) c.add(eqOrGlob(c, "source", f.source));
  if (f.tags !== undefined && f.tags.length > 0) c.add(`tags @> ${c.param(f.tags.map(pgText))}::text[]`);
  return c;
}

/**
 * Compiles a (normalized) filter to a WHERE clause (`WHERE …`, or "" for no condition) over the
 * `alerts` table, with parameters `$1…` in `params`.
 */
export function filterToPg(f: AlertFilter): { where: string; params: unknown[] } {
  const c = addFilterConditions(new PgConditions(), f);
  return { where: c.where.trimStart(), params: c.params };
}
