// SPDX-License-Identifier: Apache-2.0
/**
 * An alert rendered as Falco renders it for its outputs (falco `userspace/engine/formats.cpp`
 * `format_event`, Falco 0.44):
 *
 * - the text line `PREFIX: Priority MESSAGE`, PREFIX being `%evt.time` (time of day with
 *   nanoseconds, `21:28:33.123456789`) or, with `time_format_iso_8601`, `%evt.time.iso8601`
 *   (`2026-12-04T21:28:33.123456789+0000`: libsinsp `ts_to_iso_8601` prints strftime's `%z`
 *   of a UTC time). Falco prints the time of day in the host's zone; Vigil's `evt.time` is UTC
 *   (Falco's images run in UTC), so the line uses UTC too.
 * - the JSON object (`json_output`): `time` (ISO 8601, ns, `Z`), `rule`, `priority`, `source`,
 *   `hostname`, then `output` / `tags` / `message` / `output_fields` as the `json_include_*`
 *   options say. Falco builds it with nlohmann::json, whose objects are std::maps, so the keys,
 *   and the keys of `output_fields`, come out in byte order; so do they here. `output_fields`
 *   holds the prefix's field too (`evt.time`, or `evt.time.iso8601`), whose JSON value libsinsp
 *   gives as the raw timestamp in nanoseconds since the epoch (a 19-digit integer, written
 *   exactly). Falco's JSON has no `uuid` (falcosidekick adds one); {@link FalcoFormat.uuid} adds
 *   the alert's ID under that name for receivers that deduplicate resends (the HTTP output).
 *
 * `message` is the output without its time and priority prefix. A text line never holds a line
 * break: control characters are written as JSON escapes (`\n`, `\u001b`), so one alert is one line.
 */
import type { Alert } from "../../../proto/index.js";
import type { OutputConfig } from "../../config/outputs-schema.js";

/** The format options of {@link OutputConfig} that rendering uses. */
export type FalcoFormatOptions = Pick<
  OutputConfig,
  | "json"
  | "json_include_output_property"
  | "json_include_tags_property"
  | "json_include_message_property"
  | "json_include_output_fields_property"
  | "time_format_iso_8601"
>;

/** Falco's defaults (falco.yaml): text lines, JSON with output, tags and output_fields. */
export const FALCO_FORMAT_DEFAULTS: FalcoFormatOptions = {
  json: false,
  json_include_output_property: true,
  json_include_tags_property: true,
  json_include_message_property: false,
  json_include_output_fields_property: true,
  time_format_iso_8601: false,
};

// C0 controls, DEL, C1 controls and the Unicode line separators
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function escapeControl(c: string): string {
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  }
}

/** `s` with control characters as JSON escapes: one line whatever the alert holds. */
export function oneLine(s: string): string {
  CONTROL_RE.lastIndex = 0;
  return CONTROL_RE.test(s) ? s.replace(CONTROL_RE, escapeControl) : s;
}

/** The alert time as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn` (alerts carry it normalized: proto/alert.ts). */
function baseTime(a: Alert): string {
  const t = a.time;
  // normalized: 2026-12-04T21:28:33.123456789Z (30 characters)
  if (t.length === 30 && t.endsWith("Z")) return t.slice(0, 29);
  const frac = /\.(\d{1,9})/.exec(t)?.[1] ?? "";
  const ms = Date.parse(t);
  const iso = Number.isNaN(ms) ? "1970-01-01T00:00:00" : new Date(ms).toISOString().slice(0, 19);
  return `${iso}.${frac.padEnd(9, "0")}`;
}

/** `%evt.time`: time of day with nanoseconds (UTC). */
export function falcoTimeOfDay(a: Alert): string {
  return baseTime(a).slice(11);
}

/** `%evt.time.iso8601`: `2026-12-04T21:28:33.123456789+0000`. */
export function falcoIsoTime(a: Alert): string {
  return `${baseTime(a)}+0000`;
}

/** The JSON `time`: `2026-12-04T21:28:33.123456789Z`. */
export function falcoJsonTime(a: Alert): string {
  return `${baseTime(a)}Z`;
}

/** The event time in nanoseconds since the epoch, as decimal digits (beyond a double's precision). */
export function falcoTimeNs(a: Alert): string {
  const b = baseTime(a);
  const sec = Math.floor(Date.parse(`${b.slice(0, 19)}Z`) / 1000);
  if (!(sec > 0)) return String(Number(b.slice(20)));
  return `${sec}${b.slice(20)}`;
}

/**
 * The rule's message: the alert's output without the `TIME: Priority ` prefix the engine put in
 * front of it (agent/engine/alert-builder.ts). An output without that prefix is the message whole.
 */
export function falcoMessage(a: Alert): string {
  const o = a.output;
  const p = a.priority;
  const colon = o.indexOf(": ");
  if (colon > 0 && colon <= 40 && o.startsWith(p, colon + 2) && o.charCodeAt(colon + 2 + p.length) === 32) {
    // the part before ": " is a time (digits, -, :, ., T, Z, +) and never a word
    const head = o.slice(0, colon);
    if (/^[0-9:.TZ+-]+$/.test(head)) return o.slice(colon + 3 + p.length);
  }
  return o;
}

/** Falco's text line: `21:28:33.123456789: Warning MESSAGE` (or the ISO 8601 prefix). */
export function falcoTextLine(a: Alert, o: Pick<FalcoFormatOptions, "time_format_iso_8601">): string {
  const t = o.time_format_iso_8601 ? falcoIsoTime(a) : falcoTimeOfDay(a);
  return oneLine(`${t}: ${a.priority} ${falcoMessage(a)}`);
}

function byteOrder(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `output_fields` as JSON, keys in byte order, the prefix field's raw nanoseconds written exactly. */
function outputFieldsJson(a: Alert, prefixField: string, ns: string): string {
  const f = a.output_fields;
  const keys = Object.keys(f);
  if (!Object.hasOwn(f, prefixField)) keys.push(prefixField);
  keys.sort(byteOrder);
  let s = "{";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0) s += ",";
    s += `${JSON.stringify(k)}:${k === prefixField ? ns : JSON.stringify(f[k] ?? null)}`;
  }
  return `${s}}`;
}

/** Options of {@link falcoJson} beyond Falco's. */
export interface FalcoFormat extends FalcoFormatOptions {
  /** Add the alert ID as `uuid` (falcosidekick's key; not in Falco's own JSON). */
  uuid?: boolean;
}

/** Falco's JSON object as one line (keys as Falco orders them: see the module comment). */
export function falcoJson(a: Alert, o: FalcoFormat): string {
  const message = falcoMessage(a);
  const prefixField = o.time_format_iso_8601 ? "evt.time.iso8601" : "evt.time";
  // the keys in byte order: hostname, message, output, output_fields, priority, rule, source, tags, time, uuid
  let s = `{"hostname":${JSON.stringify(a.hostname)}`;
  if (o.json_include_message_property) s += `,"message":${JSON.stringify(message)}`;
  if (o.json_include_output_property) {
    const t = o.time_format_iso_8601 ? falcoIsoTime(a) : falcoTimeOfDay(a);
    s += `,"output":${JSON.stringify(`${t}: ${a.priority} ${message}`)}`;
  }
  if (o.json_include_output_fields_property) s += `,"output_fields":${outputFieldsJson(a, prefixField, falcoTimeNs(a))}`;
  s += `,"priority":${JSON.stringify(a.priority)},"rule":${JSON.stringify(a.rule)},"source":${JSON.stringify(a.source)}`;
  if (o.json_include_tags_property) s += `,"tags":${JSON.stringify([...a.tags].sort(byteOrder))}`;
  s += `,"time":${JSON.stringify(falcoJsonTime(a))}`;
  if (o.uuid === true) s += `,"uuid":${JSON.stringify(a.id)}`;
  // JSON.stringify leaves U+2028/U+2029 raw; escaped, the line is safe for every line reader
  return oneLine(`${s}}`);
}

/** One alert as Falco's outputs write it: its JSON object or its text line (no trailing newline). */
export function formatFalco(a: Alert, o: FalcoFormat): string {
  return o.json ? falcoJson(a, o) : falcoTextLine(a, o);
}

/** The Content-Type Falco's http_output sends for the format. */
export function falcoContentType(o: Pick<FalcoFormatOptions, "json">): string {
  return o.json ? "application/json" : "text/plain";
}
