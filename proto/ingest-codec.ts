// SPDX-License-Identifier: Apache-2.0
/**
 * The ingest codec: an {@link Alert} to and from its protobuf object form
 * (`vigil.collector.v1.Alert` in proto/vigil/collector.proto, loaded with keepCase).
 */
import type { Alert, AlertFieldValue } from "./alert.js";
import type { PriorityName } from "./priority.js";

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
  const fields: Record<string, AlertFieldValue> = {};
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
