// SPDX-License-Identifier: Apache-2.0
/**
 * One Kubernetes audit event (an `audit.k8s.io/v1` Event object) as the rule engine sees it: the
 * parsed JSON, its time and sequence number, and a per-event cache that the field getters of
 * every rule share (the container list, the effective run-as users, JSON text of a sub-object
 * are each derived once per event, not once per rule).
 *
 * Any JSON value is accepted: a field of the wrong shape reads as missing in the getters, never
 * as a throw here.
 */
import { compactJson, indentedJson, isObject, type Json } from "./json.js";

/** Options of {@link AuditEvent.from}. */
export interface AuditEventOptions {
  /** The event's sequence number (`evt.num`); default: the next of a process-wide counter. */
  readonly num?: number;
  /** Time to use when the event has no valid stageTimestamp or requestReceivedTimestamp (ms since the epoch; default now). */
  readonly fallbackMs?: number;
}

/** Where an event's time came from. */
export type AuditTimeSource = "stageTimestamp" | "requestReceivedTimestamp" | "fallback";

let nextNum = 1;

/** Result of a derivation that found nothing (cached like a value). */
const NONE: unique symbol = Symbol("none");

/**
 * A Kubernetes audit event for the `k8s_audit` source. The engine passes it where a SyscallEvent
 * goes (`type` -1: no event-type index); only this folder's getters read it.
 */
export class AuditEvent {
  /** Never a syscall event type: rules of this source are not indexed by type. */
  readonly type = -1;
  /** Event time, seconds since the epoch (stageTimestamp, else requestReceivedTimestamp). */
  readonly sec: number;
  /** Nanoseconds within {@link sec}. */
  readonly nsec: number;
  /** Sequence number (`evt.num`). */
  readonly num: number;
  /** The parsed audit Event (any JSON value). */
  readonly obj: Json;
  /** Which timestamp {@link sec}/{@link nsec} come from. */
  readonly timeSource: AuditTimeSource;
  /** The event source name (`evt.source`). */
  readonly source = "k8s_audit";

  private derived: Map<number, unknown> | undefined;
  private jsonText: Map<object, string | typeof NONE> | undefined;
  private pretty: string | typeof NONE | undefined;

  private constructor(obj: Json, sec: number, nsec: number, num: number, timeSource: AuditTimeSource) {
    this.obj = obj;
    this.sec = sec;
    this.nsec = nsec;
    this.num = num;
    this.timeSource = timeSource;
  }

  /** Wraps a parsed audit Event; never throws. */
  static from(obj: Json, opts: AuditEventOptions = {}): AuditEvent {
    const num = opts.num ?? nextNum++;
    for (const key of ["stageTimestamp", "requestReceivedTimestamp"] as const) {
      const v = isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
      const t = typeof v === "string" ? parseRfc3339(v) : undefined;
      if (t !== undefined) return new AuditEvent(obj, t.sec, t.nsec, num, key);
    }
    const ms = opts.fallbackMs ?? Date.now();
    const sec = Math.floor(ms / 1000);
    return new AuditEvent(obj, sec, Math.round((ms - sec * 1000) * 1e6), num, "fallback");
  }

  /**
   * The value derived for cache slot `slot` (one slot per field and argument, shared by every
   * rule that uses it), computing it on first use. `undefined` results are cached too.
   * @internal for the field getters of this folder.
   */
  derive<T>(slot: number, compute: (e: AuditEvent) => T | undefined): T | undefined {
    let m = this.derived;
    if (m === undefined) m = this.derived = new Map();
    const hit = m.get(slot);
    if (hit !== undefined) return hit === NONE ? undefined : (hit as T);
    const v = compute(this);
    m.set(slot, v === undefined ? NONE : v);
    return v;
  }

  /** Compact JSON text of a sub-object of this event, written once per event; undefined if it cannot be written. */
  jsonOf(v: object): string | undefined {
    let m = this.jsonText;
    if (m === undefined) m = this.jsonText = new Map();
    const hit = m.get(v);
    if (hit !== undefined) return hit === NONE ? undefined : hit;
    const s = compactJson(v);
    m.set(v, s === undefined ? NONE : s);
    return s;
  }

  /** The whole event as JSON indented by two spaces (`jevt.obj`), written once. */
  indented(): string | undefined {
    if (this.pretty === undefined) this.pretty = indentedJson(this.obj) ?? NONE;
    return this.pretty === NONE ? undefined : this.pretty;
  }
}

const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,64}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses an RFC 3339 time (`2024-05-01T10:00:00.123456Z`, `...+02:00`) as Go's time.RFC3339Nano
 * does: a fraction of any length, digits past the ninth dropped; undefined when it is not one or a
 * part is out of range.
 */
export function parseRfc3339(s: string): { sec: number; nsec: number } | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const [year, month, day, hour, min, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 && leap ? 29 : (DAYS[month - 1] as number);
  if (day < 1 || day > maxDay) return undefined;
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[9] === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const frac = (m[7] ?? "").slice(0, 9);
  return { sec: daysFromCivil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset, nsec: frac === "" ? 0 : Number(frac.padEnd(9, "0")) };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (any year 0-9999; Date.UTC maps 0-99 to 19xx). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
