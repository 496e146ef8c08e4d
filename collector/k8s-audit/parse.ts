// SPDX-License-Identifier: Apache-2.0
/**
 * Kubernetes audit payloads → events the rules can read.
 *
 * What arrives: the API server's webhook backend posts `audit.k8s.io/v1` `EventList` batches
 * (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#webhook-backend); a single `Event`
 * and a JSON array of Events are taken too (Falco's k8saudit plugin takes both). CloudWatch Logs
 * holds one Event per log line. `audit.k8s.io/v1beta1` has the same shape for every field the
 * rules read, so it is accepted as well.
 *
 * A payload that is not JSON, or whose top level is not one of those kinds, is refused as a whole
 * ({@link AuditPayloadError}). Inside a good payload each item is checked on its own: one that is
 * not an object, names another kind or apiVersion, or has no readable time (`stageTimestamp`,
 * else `requestReceivedTimestamp`) is counted bad and skipped, and the rest go on.
 */
import { createHash } from "node:crypto";
import { normalizeTime } from "../../proto/index.js";
import { AuditPayloadError } from "./errors.js";

/** The audit API versions whose Events the rules read. */
export const AUDIT_API_VERSIONS: ReadonlySet<string> = new Set(["audit.k8s.io/v1", "audit.k8s.io/v1beta1"]);

/** One audit event, ready for the rules. */
export interface AuditItem {
  /** The parsed Event object, as the rules read it. */
  obj: Record<string, unknown>;
  /**
   * What identifies the request: its `auditID`, else a hash of the event's JSON (the same event
   * resent hashes the same). With the stage, it makes alert IDs deterministic (alert-id.ts).
   */
  key: string;
  /** `stage` (RequestReceived, ResponseStarted, ResponseComplete, Panic), "" when absent. */
  stage: string;
  /** The event's time, normalized (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`): stageTimestamp, else requestReceivedTimestamp. */
  time: string;
  /** The same in epoch milliseconds. */
  timeMs: number;
}

/** An item that was skipped, and why. */
export interface BadItem {
  index: number;
  reason: string;
}

/** What one payload held. */
export interface AuditBatch {
  items: AuditItem[];
  bad: BadItem[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** A short, printable rendering of an untrusted value for an error message. */
function shown(v: unknown): string {
  const s = typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** Checks one Event object; an {@link AuditItem} or the reason it is skipped. */
export function auditItem(v: unknown): AuditItem | string {
  if (!isObject(v)) return "not a JSON object";
  const kind = v["kind"];
  if (kind !== undefined && kind !== "Event") return `kind ${shown(kind)}, not Event`;
  const api = v["apiVersion"];
  if (api !== undefined && (typeof api !== "string" || !AUDIT_API_VERSIONS.has(api))) return `apiVersion ${shown(api)}, not audit.k8s.io/v1`;
  let time: string | undefined;
  for (const k of ["stageTimestamp", "requestReceivedTimestamp"]) {
    const t = v[k];
    if (typeof t === "string") time = normalizeTime(t);
    if (time !== undefined) break;
  }
  if (time === undefined) return "no valid stageTimestamp or requestReceivedTimestamp";
  const id = v["auditID"];
  let key: string;
  if (typeof id === "string" && id !== "" && id.length <= 256) key = id;
  else
    try {
      key = `sha256:${createHash("sha256").update(JSON.stringify(v)).digest("hex")}`;
    } catch {
      // JSON.stringify recurses: nesting deep enough overflows the stack
      return "no auditID, and too deeply nested to identify";
    }
  const stage = v["stage"];
  return {
    obj: v,
    key,
    stage: typeof stage === "string" ? stage.slice(0, 64) : "",
    time,
    timeMs: Date.parse(time),
  };
}

function collect(list: readonly unknown[], out: AuditBatch): void {
  for (let i = 0; i < list.length; i++) {
    const r = auditItem(list[i]);
    if (typeof r === "string") out.bad.push({ index: i, reason: r });
    else out.items.push(r);
  }
}

/** The events of a parsed payload (EventList, Event, or an array of Events). Throws {@link AuditPayloadError}. */
export function auditBatchOf(body: unknown): AuditBatch {
  const out: AuditBatch = { items: [], bad: [] };
  if (Array.isArray(body)) {
    collect(body, out);
    return out;
  }
  if (!isObject(body)) throw new AuditPayloadError("bad_kind", "not an audit.k8s.io EventList or Event: the body is not a JSON object");
  const kind = body["kind"];
  const api = body["apiVersion"];
  if (kind !== "EventList" && kind !== "Event")
    throw new AuditPayloadError("bad_kind", `not an audit.k8s.io EventList or Event: kind ${kind === undefined ? "missing" : shown(kind)}`);
  if (api !== undefined && (typeof api !== "string" || !AUDIT_API_VERSIONS.has(api)))
    throw new AuditPayloadError("bad_api_version", `apiVersion ${shown(api)} is not audit.k8s.io/v1 (or v1beta1)`);
  if (kind === "Event") {
    collect([body], out);
    return out;
  }
  const items = body["items"];
  // an EventList with no events serializes `items` as null or leaves it out
  if (items === undefined || items === null) return out;
  if (!Array.isArray(items)) throw new AuditPayloadError("bad_kind", "EventList items is not an array");
  collect(items, out);
  return out;
}

/** Parses a payload's text. Throws {@link AuditPayloadError}. */
export function parseAuditPayload(text: string): AuditBatch {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new AuditPayloadError("bad_json", `body is not JSON: ${(err as Error).message.slice(0, 120)}`, { cause: err });
  }
  return auditBatchOf(body);
}
