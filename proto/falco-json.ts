// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's JSON alert (what Falco 0.44's `http_output`/`json_output` write and Falcosidekick
 * posts): an {@link Alert} to that shape and back.
 */
import { uuidv7 } from "./uuid7.js";
import type { Alert, AlertFieldValue } from "./alert.js";
import { PRIORITY_NAMES, priorityNumber } from "./priority.js";

/** An alert in Falco's JSON shape, keys in Falco's order (`uuid` is the alert ID). */
export function alertToFalcoJson(a: Alert): Record<string, unknown> {
  const o: Record<string, unknown> = {
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

/** The Falco JSON shape with `id` first: what query results, the tail stream and `--output json` carry. */
export function alertToJson(a: Alert): Record<string, unknown> {
  return { id: a.id, ...alertToFalcoJson(a) };
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
  const fields: Record<string, AlertFieldValue> = {};
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
    priority: PRIORITY_NAMES[pn]!,
    source: str("source", "syscall"),
    hostname: str("hostname", fallbackHost) || fallbackHost,
    output: str("output"),
    output_fields: fields,
    tags,
  };
}
