// SPDX-License-Identifier: Apache-2.0
/**
 * The alert record every program exchanges (agent, collector, `vigil tail`, forwarders), and the
 * validation every inbound alert passes before it is stored. Nothing here trusts its input.
 */
import { PRIORITY_NAMES, type PriorityName } from "./priority.js";

/** A value of an alert's output field. */
export type AlertFieldValue = string | number | boolean | null;

/** One alert, in Falco's JSON alert shape plus Vigil's own keys. */
export interface Alert {
  /** UUIDv7: unique and time-sortable, given when the alert is raised. */
  id: string;
  /** ISO 8601 with nanoseconds, UTC (`2026-11-28T12:00:00.123456789Z`). */
  time: string;
  rule: string;
  priority: PriorityName;
  source: string;
  hostname: string;
  /** The full text line: `<time>: <Priority> <message>`. */
  output: string;
  /** Field name → typed value (`null` when missing). */
  output_fields: Record<string, AlertFieldValue>;
  tags: string[];
  /** Set when a drift/prevention rule stopped the action (the process was killed in the kernel). */
  blocked?: boolean;
}

/** Limits on one inbound alert; beyond them the alert is rejected, not truncated. */
export const ALERT_LIMITS = {
  idLength: 64,
  ruleLength: 1024,
  outputLength: 64 * 1024,
  fields: 512,
  fieldNameLength: 256,
  fieldValueLength: 16 * 1024,
  tags: 128,
  tagLength: 256,
  hostnameLength: 256,
  sourceLength: 128,
  /**
   * All of the alert's text together (ID, rule, output, source, hostname, tags, field names and
   * values), in characters: each part within its own limit is not enough, since 512 fields of
   * 16 KiB would make one alert 8 MiB.
   */
  totalLength: 1024 * 1024,
} as const;

const ID_RE = /^[0-9A-Za-z][0-9A-Za-z._:-]*$/;
/** Whether `s` can be an alert ID: `[0-9A-Za-z][0-9A-Za-z._:-]*`, at most ALERT_LIMITS.idLength characters. */
export function isAlertId(s: string): boolean {
  return s.length > 0 && s.length <= ALERT_LIMITS.idLength && ID_RE.test(s);
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/** Earliest and latest instants a normalized time may name (epoch ms): 1970 to the end of 9999. */
export const TIME_MIN_MS = 0;
export const TIME_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Normalizes an RFC 3339 time to `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC, 9 digits), which sorts
 * lexicographically in time order. Undefined when it is not a valid time: every field is checked
 * against its range (Date.parse would roll `2024-02-30` over to March), offsets too, and the UTC
 * result must lie in 1970..9999. A leap second (`:60`) is accepted where one can occur, at 23:59
 * UTC, and kept inside its minute as `23:59:59.999999999Z` (RFC 3339 allows it; refusing it would
 * lose a real alert, and no sortable UTC string can name it otherwise).
 */
export function normalizeTime(t: string): string | undefined {
  if (t.length > 40) return undefined;
  const m = TIME_RE.exec(t);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const sec = Number(m[6]);
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 60) return undefined;
  let offsetMin = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  let frac = (m[7] ?? "").padEnd(9, "0");
  const leap = sec === 60;
  const ms = Date.UTC(y, mo - 1, d, h, mi, leap ? 59 : sec) - offsetMin * 60_000;
  if (!(ms >= TIME_MIN_MS && ms <= TIME_MAX_MS)) return undefined;
  const iso = new Date(ms).toISOString();
  if (leap) {
    if (iso.slice(11, 19) !== "23:59:59") return undefined;
    frac = "999999999";
  }
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/** ISO time with 9 fractional digits from epoch ms. */
export function isoFromMs(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000000Z`;
}

/** Why an alert is refused (undefined when it is fine). Also normalizes `time` in place. */
export function validateAlert(a: Alert): string | undefined {
  if (typeof a.id !== "string" || !isAlertId(a.id)) return "bad id";
  if (typeof a.time !== "string") return "bad time";
  const t = normalizeTime(a.time);
  if (t === undefined) return "bad time";
  a.time = t;
  if (typeof a.rule !== "string" || a.rule.length === 0 || a.rule.length > ALERT_LIMITS.ruleLength) return "bad rule";
  if (typeof a.priority !== "string" || !(PRIORITY_NAMES as readonly string[]).includes(a.priority)) return "bad priority";
  if (typeof a.source !== "string" || a.source.length > ALERT_LIMITS.sourceLength) return "bad source";
  if (typeof a.hostname !== "string" || a.hostname.length > ALERT_LIMITS.hostnameLength) return "bad hostname";
  if (typeof a.output !== "string" || a.output.length > ALERT_LIMITS.outputLength) return "bad output";
  if (!Array.isArray(a.tags) || a.tags.length > ALERT_LIMITS.tags) return "bad tags";
  for (const tag of a.tags) if (typeof tag !== "string" || tag.length > ALERT_LIMITS.tagLength || tag.includes("\x1f")) return "bad tags";
  const f = a.output_fields;
  if (f === null || typeof f !== "object" || Array.isArray(f)) return "bad output_fields";
  let total = a.id.length + a.rule.length + a.output.length + a.source.length + a.hostname.length;
  for (const tag of a.tags) total += tag.length;
  let n = 0;
  for (const k in f) {
    if (!Object.hasOwn(f, k)) continue;
    if (++n > ALERT_LIMITS.fields || k.length > ALERT_LIMITS.fieldNameLength) return "bad output_fields";
    const v: unknown = f[k];
    // a number, boolean or null is at most 24 characters of JSON
    total += k.length + (typeof v === "string" ? v.length : 24);
    if (v === null || typeof v === "number" || typeof v === "boolean") continue;
    if (typeof v !== "string" || v.length > ALERT_LIMITS.fieldValueLength) return "bad output_fields";
  }
  if (total > ALERT_LIMITS.totalLength) return `alert too large (${total} characters, limit ${ALERT_LIMITS.totalLength})`;
  if (a.blocked !== undefined && typeof a.blocked !== "boolean") return "bad blocked";
  return undefined;
}
