// SPDX-License-Identifier: Apache-2.0
/**
 * `GET /api/v1/summary`: what the console's charts show, computed in the store (SQL on SQLite and
 * PostgreSQL alike), never by reading alerts into the collector.
 *
 * `?<the filter params of /api/v1/alerts>&buckets=N` →
 * `{from, to, bucketMs, buckets: [{t, counts: {Emergency..Debug}}], top: {rules, namespaces, images,
 * nodes: [{key, count}]}, total}`:
 * - the range is [since, until) cut to the millisecond; `until` defaults to now, `since` to 24 h
 *   before `until`; a range longer than `max_since_ms` is clamped (its start moved up) and the
 *   answer says the range it covers; `since` not before `until` is a 400;
 * - N buckets (1..{@link MAX_SUMMARY_BUCKETS}, default {@link DEFAULT_SUMMARY_BUCKETS}) of
 *   `bucketMs` = the range / N rounded up to a whole second (so fewer buckets when the range is
 *   short), from `from`; every bucket is listed, empty ones with zero counts;
 * - top: the {@link SUMMARY_TOP} most frequent rules, namespaces, images (the reference with its
 *   tag) and nodes in the range, count descending then key ascending; alerts without the key (no
 *   namespace, no image) are not listed;
 * - total: matching alerts in the range (the sum of the buckets).
 */
import { CollectorError } from "./errors.js";
import { normalizeFilter } from "./filter.js";
import { type AlertFilter, filterFromParams, isoFromMs, PRIORITY_NAMES, type PriorityName } from "../proto/index.js";

/** Most buckets a summary may ask for. */
export const MAX_SUMMARY_BUCKETS = 200;
/** Buckets when `buckets` is absent. */
export const DEFAULT_SUMMARY_BUCKETS = 60;
/** Entries of each top list. */
export const SUMMARY_TOP = 10;
/** Range when `since` is absent. */
export const DEFAULT_SUMMARY_RANGE_MS = 86_400_000;

/** What the store is asked: the filter (its time bounds = the range), the range and the buckets. */
export interface SummaryPlan {
  /** Normalized, with `since` = from and `until` = to. */
  filter: AlertFilter;
  fromMs: number;
  toMs: number;
  bucketMs: number;
  /** Number of buckets: ceil((to - from) / bucketMs), at most the N asked. */
  buckets: number;
}

/** One key of a top list. */
export interface TopEntry {
  key: string;
  count: number;
}

/** The top lists. */
export interface SummaryTop {
  rules: TopEntry[];
  namespaces: TopEntry[];
  images: TopEntry[];
  nodes: TopEntry[];
}

/** What the store computes: per (bucket, priority) counts and the top lists. */
export interface SummaryCounts {
  /** `b`: bucket index 0..buckets-1; `prio`: Falco's numeric priority; `n`: alerts. */
  cells: { b: number; prio: number; n: number }[];
  top: SummaryTop;
}

/** The answer of `GET /api/v1/summary`. */
export interface Summary {
  from: string;
  to: string;
  bucketMs: number;
  buckets: { t: string; counts: Record<PriorityName, number> }[];
  top: SummaryTop;
  total: number;
}

/**
 * Reads and bounds a summary request from URL parameters. Throws CollectorError("bad_filter") with
 * the reason for a bad filter, a bad `buckets` or an empty range.
 */
export function planSummary(p: URLSearchParams, opts: { now?: number; maxSinceMs: number }): SummaryPlan {
  const now = opts.now ?? Date.now();
  const nb = p.get("buckets");
  let n = DEFAULT_SUMMARY_BUCKETS;
  if (nb !== null) {
    n = /^\d{1,4}$/.test(nb) ? Number(nb) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_SUMMARY_BUCKETS) throw new CollectorError("bad_filter", `bad buckets (1..${MAX_SUMMARY_BUCKETS})`);
  }
  const f = normalizeFilter(filterFromParams(p), { now, maxSinceMs: opts.maxSinceMs });
  // normalized times are ISO strings with nanoseconds: the range is cut to whole milliseconds
  const toMs = f.until !== undefined ? Date.parse(f.until) : now;
  let fromMs = f.since !== undefined ? Date.parse(f.since) : toMs - DEFAULT_SUMMARY_RANGE_MS;
  if (!(fromMs < toMs)) throw new CollectorError("bad_filter", "empty range: since must be before until");
  if (toMs - fromMs > opts.maxSinceMs) fromMs = toMs - opts.maxSinceMs;
  fromMs = Math.max(0, fromMs);
  const bucketMs = Math.max(1000, Math.ceil((toMs - fromMs) / n / 1000) * 1000);
  const buckets = Math.ceil((toMs - fromMs) / bucketMs);
  return { filter: { ...f, since: isoFromMs(fromMs), until: isoFromMs(toMs) }, fromMs, toMs, bucketMs, buckets };
}

/** The answer from the plan and the store's counts (cells outside the buckets are a store bug: ignored). */
export function assembleSummary(plan: SummaryPlan, counts: SummaryCounts): Summary {
  const buckets: Summary["buckets"] = [];
  for (let i = 0; i < plan.buckets; i++) {
    const c = {} as Record<PriorityName, number>;
    for (const name of PRIORITY_NAMES) c[name] = 0;
    buckets.push({ t: new Date(plan.fromMs + i * plan.bucketMs).toISOString(), counts: c });
  }
  let total = 0;
  for (const cell of counts.cells) {
    const b = buckets[cell.b];
    const name = PRIORITY_NAMES[cell.prio];
    if (b === undefined || name === undefined) continue;
    b.counts[name] += cell.n;
    total += cell.n;
  }
  return {
    from: new Date(plan.fromMs).toISOString(),
    to: new Date(plan.toMs).toISOString(),
    bucketMs: plan.bucketMs,
    buckets,
    top: counts.top,
    total,
  };
}
