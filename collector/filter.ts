// SPDX-License-Identifier: Apache-2.0
/**
 * Alert filters shared by the query API (compiled to SQL) and the live tail (compiled once per
 * client to a predicate). Semantics, identical on both paths:
 * - `priority`: the alert is at least this severe (`warning` keeps Emergency..Warning);
 * - `rule`, `node`, `namespace`, `pod`, `container`, `image`, `source`: exact match, `*` matches any run
 *   of characters; `container` matches the container ID or name, `image` the repository or the
 *   full image reference;
 * - `tag`: the alert carries every tag given;
 * - `since`/`until`: alert time range (inclusive / exclusive).
 */
import { CollectorError } from "./errors.js";
import {
  ALERT_LIMITS,
  DEFAULT_COLLECTOR_LIMITS,
  type AlertFilter,
  isoFromMs,
  normalizeTime,
  priorityNumber,
  TIME_MAX_MS,
  TIME_MIN_MS,
  type Alert,
} from "../proto/index.js";

/** The columns an alert is filtered on, as the store keeps them. */
export interface AlertKeys {
  namespace: string | null;
  pod: string | null;
  containerId: string | null;
  containerName: string | null;
  image: string | null;
  imageRepo: string | null;
}

function fieldStr(a: Alert, k: string): string | null {
  const v = a.output_fields[k];
  return v === undefined || v === null ? null : String(v);
}

/** Extracts the filterable keys from an alert's output fields (Falco field names). */
export function alertKeys(a: Alert): AlertKeys {
  const repo = fieldStr(a, "container.image.repository");
  const tag = fieldStr(a, "container.image.tag");
  const image = fieldStr(a, "container.image") ?? (repo !== null ? (tag !== null ? `${repo}:${tag}` : repo) : null);
  let imageRepo = repo;
  if (imageRepo === null && image !== null) {
    // strip a tag or digest, but not a registry port
    const at = image.indexOf("@");
    const base = at >= 0 ? image.slice(0, at) : image;
    const colon = base.lastIndexOf(":");
    imageRepo = colon > base.lastIndexOf("/") ? base.slice(0, colon) : base;
  }
  return {
    namespace: fieldStr(a, "k8s.ns.name"),
    pod: fieldStr(a, "k8s.pod.name"),
    containerId: fieldStr(a, "container.id"),
    containerName: fieldStr(a, "container.name"),
    image,
    imageRepo,
  };
}

const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses a time bound: RFC 3339, a date (`2026-06-01`, midnight UTC), epoch seconds/milliseconds,
 * or a duration back from now (`30s`, `15m`, `2h`, `7d`). Returns the normalized ISO string.
 * Throws CollectorError("bad_filter") with the reason for anything else: an impossible date, a
 * time outside 1970..9999, or a duration longer than `maxBackMs` (limits.max_since_ms).
 */
export function parseTimeBound(v: string, now: number = Date.now(), maxBackMs: number = DEFAULT_COLLECTOR_LIMITS.max_since_ms): string {
  if (typeof v !== "string") throw new CollectorError("bad_filter", "bad time: not a string");
  const shown = v.length > 40 ? `${v.slice(0, 40)}…` : v;
  if (v.length > 40) throw new CollectorError("bad_filter", `bad time "${shown}": use RFC 3339, epoch seconds or a duration like 15m`);
  const d = /^(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h|d)$/.exec(v);
  if (d) {
    const back = Number(d[1]) * DURATION_MS[d[2] as keyof typeof DURATION_MS];
    if (!(back <= maxBackMs))
      throw new CollectorError("bad_filter", `duration "${shown}" reaches back more than ${Math.floor(maxBackMs / 86_400_000)} days (limits.max_since_ms)`);
    const ms = now - back;
    if (!(ms >= TIME_MIN_MS && ms <= TIME_MAX_MS)) throw new CollectorError("bad_filter", `duration "${shown}" reaches before 1970`);
    return isoFromMs(ms);
  }
  if (/^\d{9,13}$/.test(v)) return isoFromMs(v.length <= 10 ? Number(v) * 1000 : Number(v));
  const t = normalizeTime(v) ?? (/^\d{4}-\d{2}-\d{2}$/.test(v) ? normalizeTime(`${v}T00:00:00Z`) : undefined);
  if (t === undefined)
    throw new CollectorError("bad_filter", `bad time "${shown}": use RFC 3339 (a real date and time, 1970..9999), epoch seconds or a duration like 15m`);
  return t;
}

/** Options of {@link normalizeFilter}. */
export interface NormalizeOptions {
  /** The current time (epoch ms) durations count back from. */
  now?: number;
  /** How far back a duration may reach (limits.max_since_ms). */
  maxSinceMs?: number;
}

/** Longest filter pattern or tag (characters). */
const MAX_PATTERN_LENGTH = 1024;

/** Checks a filter and normalizes its time bounds and priority; throws CollectorError("bad_filter"). */
export function normalizeFilter(f: AlertFilter, opts: number | NormalizeOptions = {}): AlertFilter {
  const o: NormalizeOptions = typeof opts === "number" ? { now: opts } : opts;
  const out: AlertFilter = { ...f };
  if (f.since !== undefined) out.since = parseTimeBound(f.since, o.now, o.maxSinceMs);
  if (f.until !== undefined) out.until = parseTimeBound(f.until, o.now, o.maxSinceMs);
  if (f.priority !== undefined && (typeof f.priority !== "string" || priorityNumber(f.priority) === undefined))
    throw new CollectorError("bad_filter", `unknown priority "${String(f.priority).slice(0, 40)}"`);
  for (const k of ["rule", "node", "namespace", "pod", "container", "image", "source"] as const) {
    const v = f[k];
    if (v !== undefined && (typeof v !== "string" || v.length === 0 || v.length > MAX_PATTERN_LENGTH))
      throw new CollectorError("bad_filter", `bad ${k}: 1 to ${MAX_PATTERN_LENGTH} characters`);
  }
  if (f.tags !== undefined) {
    if (!Array.isArray(f.tags) || f.tags.length > 32) throw new CollectorError("bad_filter", "bad tag list: at most 32 tags");
    for (const t of f.tags)
      if (typeof t !== "string" || t.length === 0 || t.length > ALERT_LIMITS.tagLength)
        throw new CollectorError("bad_filter", `bad tag: 1 to ${ALERT_LIMITS.tagLength} characters`);
  }
  return out;
}

/**
 * Compiles a filter pattern where `*` matches any run of characters (and nothing else is special)
 * to a predicate. No backtracking: the text before the first `*` must start the value, the text
 * after the last `*` must end it, and the pieces between are found left to right, each at its
 * first occurrence after the previous one (taking the earliest occurrence never loses a match, so
 * one pass decides). Cost is at most O(value length × pattern length), whatever the pattern.
 */
export function compileStarGlob(pattern: string): (v: string) => boolean {
  if (!pattern.includes("*")) return (v) => v === pattern;
  const parts = pattern.split("*");
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const mids = parts.slice(1, -1).filter((p) => p !== "");
  let minLen = head.length + tail.length;
  for (const m of mids) minLen += m.length;
  return (v) => {
    if (v.length < minLen || !v.startsWith(head) || !v.endsWith(tail)) return false;
    const end = v.length - tail.length;
    let pos = head.length;
    for (const m of mids) {
      const i = v.indexOf(m, pos);
      if (i < 0 || i + m.length > end) return false;
      pos = i + m.length;
    }
    return true;
  };
}

type Matcher = (v: string | null) => boolean;
function matcher(pattern: string): Matcher {
  const g = compileStarGlob(pattern);
  return (v) => v !== null && g(v);
}

/** Compiles a (normalized) filter to a predicate over an alert and its keys. */
export function compileFilter(f: AlertFilter): (a: Alert, k: AlertKeys) => boolean {
  const checks: ((a: Alert, k: AlertKeys) => boolean)[] = [];
  if (f.since !== undefined) {
    const s = f.since;
    checks.push((a) => a.time >= s);
  }
  if (f.until !== undefined) {
    const u = f.until;
    checks.push((a) => a.time < u);
  }
  if (f.priority !== undefined) {
    const max = priorityNumber(f.priority)!;
    checks.push((a) => (priorityNumber(a.priority) ?? 99) <= max);
  }
  if (f.rule !== undefined) {
    const m = matcher(f.rule);
    checks.push((a) => m(a.rule));
  }
  if (f.node !== undefined) {
    const m = matcher(f.node);
    checks.push((a) => m(a.hostname));
  }
  if (f.namespace !== undefined) {
    const m = matcher(f.namespace);
    checks.push((_a, k) => m(k.namespace));
  }
  if (f.pod !== undefined) {
    const m = matcher(f.pod);
    checks.push((_a, k) => m(k.pod));
  }
  if (f.container !== undefined) {
    const m = matcher(f.container);
    checks.push((_a, k) => m(k.containerId) || m(k.containerName));
  }
  if (f.image !== undefined) {
    const m = matcher(f.image);
    checks.push((_a, k) => m(k.image) || m(k.imageRepo));
  }
  if (f.source !== undefined) {
    const m = matcher(f.source);
    checks.push((a) => m(a.source));
  }
  if (f.tags !== undefined && f.tags.length > 0) {
    const want = f.tags;
    checks.push((a) => want.every((t) => a.tags.includes(t)));
  }
  return (a, k) => {
    for (const c of checks) if (!c(a, k)) return false;
    return true;
  };
}

/** Compiles a (normalized) filter to a SQL WHERE clause over the store's `alerts` table. */
export function filterToSql(f: AlertFilter): { where: string; params: (string | number)[] } {
  const w: string[] = [];
  const params: (string | number)[] = [];
  const eqOrGlob = (col: string, v: string) => {
    if (v.includes("*")) {
      // GLOB: escape its own metacharacters, then turn * back into a wildcard
      w.push(`${col} GLOB ?`);
      params.push(v.replace(/[[\]?]/g, (c) => `[${c}]`));
    } else {
      w.push(`${col} = ?`);
      params.push(v);
    }
  };
  if (f.since !== undefined) {
    w.push("time >= ?");
    params.push(f.since);
  }
  if (f.until !== undefined) {
    w.push("time < ?");
    params.push(f.until);
  }
  if (f.priority !== undefined) {
    w.push("prio <= ?");
    params.push(priorityNumber(f.priority)!);
  }
  if (f.rule !== undefined) eqOrGlob("rule", f.rule);
  if (f.node !== undefined) eqOrGlob("hostname", f.node);
  if (f.namespace !== undefined) eqOrGlob("namespace", f.namespace);
  if (f.pod !== undefined) eqOrGlob("pod", f.pod);
  if (f.container !== undefined) {
    const before = w.length;
    eqOrGlob("container_id", f.container);
    eqOrGlob("container_name", f.container);
    const b = w.splice(before, 2);
    w.push(`(${b.join(" OR ")})`);
  }
  if (f.image !== undefined) {
    const before = w.length;
    eqOrGlob("image", f.image);
    eqOrGlob("image_repo", f.image);
    const b = w.splice(before, 2);
    w.push(`(${b.join(" OR ")})`);
  }
  if (f.source !== undefined) eqOrGlob("source", f.source);
  for (const t of f.tags ?? []) {
    w.push("instr(tags, ?) > 0");
    params.push(`\x1f${t}\x1f`);
  }
  return { where: w.length > 0 ? `WHERE ${w.join(" AND ")}` : "", params };
}

/** Parses `500ms`, `30s`, `15m`, `12h`, `7d` (or plain milliseconds) into milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) throw new CollectorError("bad_filter", `bad duration "${v}" (use e.g. 30s, 15m, 12h, 7d)`);
  const ms = Number(m[1]) * DURATION_MS[(m[2] ?? "ms") as keyof typeof DURATION_MS];
  if (!(ms <= Number.MAX_SAFE_INTEGER)) throw new CollectorError("bad_filter", `duration "${v.slice(0, 40)}" is too long`);
  return ms;
}
