// SPDX-License-Identifier: Apache-2.0
/**
 * Conversions between the {@link Alert} record, its protobuf form, Falco's JSON alert (what
 * Falco 0.44's `http_output` posts) and Falco's gRPC `response`; plus the validation every
 * inbound alert passes before it is stored. Nothing here trusts its input.
 */
import { v7 as uuidv7 } from "uuid";
import type { Alert, PriorityName } from "../agent/sinks/types.js";

/** Priority names, most severe first (index = Falco's numeric priority). */
export const PRIORITIES: readonly PriorityName[] = [
  "Emergency",
  "Alert",
  "Critical",
  "Error",
  "Warning",
  "Notice",
  "Informational",
  "Debug",
];

const PRIORITY_BY_LOWER = new Map<string, number>(PRIORITIES.map((p, i) => [p.toLowerCase(), i]));
PRIORITY_BY_LOWER.set("info", 6);

/** Falco's numeric priority (0 = Emergency … 7 = Debug) for a name in any case; undefined if unknown. */
export function priorityNumber(name: string): number | undefined {
  return PRIORITY_BY_LOWER.get(name.toLowerCase());
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

type FieldValue = string | number | boolean | null;

/** Why an alert is refused (undefined when it is fine). Also normalizes `time` in place. */
export function validateAlert(a: Alert): string | undefined {
  if (typeof a.id !== "string" || a.id.length === 0 || a.id.length > ALERT_LIMITS.idLength || !ID_RE.test(a.id)) return "bad id";
  if (typeof a.time !== "string") return "bad time";
  const t = normalizeTime(a.time);
  if (t === undefined) return "bad time";
  a.time = t;
  if (typeof a.rule !== "string" || a.rule.length === 0 || a.rule.length > ALERT_LIMITS.ruleLength) return "bad rule";
  if (typeof a.priority !== "string" || !PRIORITIES.includes(a.priority)) return "bad priority";
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

/** Protobuf object form of an alert (vigil.collector.v1.Alert with keepCase). */
export interface ProtoAlert {
  id?: string;
  time?: string;
  rule?: string;
  priority?: string;
  source?: string;
  hostname?: string;
  output?: string;
  output_fields?: Record<string, { str?: string; num?: number; bool?: boolean; null?: boolean }>;
  tags?: string[];
  blocked?: boolean;
}

/** Alert → protobuf object. */
export function alertToProto(a: Alert): ProtoAlert {
  const fields: NonNullable<ProtoAlert["output_fields"]> = {};
  for (const k in a.output_fields) {
    const v = a.output_fields[k];
    if (v === null || v === undefined) fields[k] = { null: true };
    else if (typeof v === "string") fields[k] = { str: v };
    else if (typeof v === "number") fields[k] = { num: v };
    else fields[k] = { bool: v };
  }
  const o: ProtoAlert = {
    id: a.id,
    time: a.time,
    rule: a.rule,
    priority: a.priority,
    source: a.source,
    hostname: a.hostname,
    output: a.output,
    output_fields: fields,
    tags: a.tags,
  };
  if (a.blocked === true) o.blocked = true;
  return o;
}

/** Protobuf object → Alert (not yet validated). */
export function alertFromProto(p: ProtoAlert): Alert {
  const fields: Record<string, FieldValue> = {};
  const pf = p.output_fields ?? {};
  for (const k in pf) {
    const v = pf[k];
    if (v === undefined) continue;
    if (v.str !== undefined) fields[k] = v.str;
    else if (v.num !== undefined) fields[k] = v.num;
    else if (v.bool !== undefined) fields[k] = v.bool;
    else fields[k] = null;
  }
  const a: Alert = {
    id: p.id ?? "",
    time: p.time ?? "",
    rule: p.rule ?? "",
    priority: (p.priority ?? "") as PriorityName,
    source: p.source ?? "",
    hostname: p.hostname ?? "",
    output: p.output ?? "",
    output_fields: fields,
    tags: p.tags ?? [],
  };
  if (p.blocked === true) a.blocked = true;
  return a;
}

/** The Falco JSON shape (+ `id`) that query results, the tail stream and `--output json` use. */
export function alertToJson(a: Alert): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: a.id,
    uuid: a.id,
    output: a.output,
    priority: a.priority,
    rule: a.rule,
    time: a.time,
    output_fields: a.output_fields,
    source: a.source,
    tags: a.tags,
    hostname: a.hostname,
  };
  if (a.blocked === true) o["blocked"] = true;
  return o;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A Falco JSON alert (Falco 0.44 `http_output`/`json_output`, Falcosidekick's payload:
 * uuid, output, priority, rule, time, output_fields, source, tags, hostname) → Alert.
 * Falco's `uuid` becomes the ID when present, so a resend is idempotent; otherwise a new UUIDv7.
 * Throws a plain Error with the reason when the shape is wrong.
 */
export function alertFromFalcoJson(body: unknown, fallbackHost: string): Alert {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new Error("not a JSON object");
  const o = body as Record<string, unknown>;
  const str = (k: string, dflt?: string): string => {
    const v = o[k];
    if (typeof v === "string") return v;
    if (v === undefined && dflt !== undefined) return dflt;
    throw new Error(`field ${k} missing or not a string`);
  };
  const pn = priorityNumber(str("priority"));
  if (pn === undefined) throw new Error("unknown priority");
  const fields: Record<string, FieldValue> = {};
  const of = o["output_fields"];
  if (of !== undefined && of !== null) {
    if (typeof of !== "object" || Array.isArray(of)) throw new Error("output_fields is not an object");
    for (const [k, v] of Object.entries(of as Record<string, unknown>)) {
      if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") fields[k] = v;
      else fields[k] = JSON.stringify(v);
    }
  }
  const tagsRaw = o["tags"];
  const tags: string[] = [];
  if (Array.isArray(tagsRaw)) for (const t of tagsRaw) if (typeof t === "string") tags.push(t);
  const uuid = o["uuid"];
  return {
    id: typeof uuid === "string" && UUID_RE.test(uuid) ? uuid.toLowerCase() : uuidv7(),
    time: str("time"),
    rule: str("rule"),
    priority: PRIORITIES[pn]!,
    source: str("source", "syscall"),
    hostname: str("hostname", fallbackHost) || fallbackHost,
    output: str("output"),
    output_fields: fields,
    tags,
  };
}
