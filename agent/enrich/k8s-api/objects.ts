// SPDX-License-Identifier: Apache-2.0
/**
 * The few facts the agent keeps of each Kubernetes object, read defensively from the API's JSON
 * (a full object or a PartialObjectMetadata: only `metadata` is read, plus a pod's spec and
 * status): name, namespace, UID, labels and the controller owner reference. Anything of the
 * wrong shape is missing, never a throw.
 */
import type { K8sObjectMeta } from "../../../rules/event.js";

/** An owner reference (`metadata.ownerReferences[]` with `controller: true`). */
export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** One object as the agent keeps it. Shared by reference with the pod metadata that names it. */
export interface ObjRecord extends K8sObjectMeta {
  readonly uid: string;
  readonly namespace: string;
  readonly resourceVersion: string;
  /** The managing controller (ownerReferences entry with controller=true), if any. */
  readonly controller: OwnerRef | undefined;
}

/** A pod as the agent keeps it. */
export interface PodRecord extends ObjRecord {
  readonly nodeName: string;
  readonly serviceAccount: string | undefined;
  readonly podIp: string | undefined;
}

type Obj = Record<string, unknown>;
const EMPTY: ReadonlyMap<string, string> = new Map();
/** Labels kept per object at most (Kubernetes bounds their total size to 256 KiB; this bounds the count). */
export const MAX_LABELS = 512;

function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** `metadata.resourceVersion` of an object (watch events, bookmarks, lists). */
export function resourceVersionOf(o: unknown): string | undefined {
  return str(obj(obj(o)?.["metadata"])?.["resourceVersion"]);
}

/** `metadata.uid`. */
export function uidOf(o: unknown): string | undefined {
  return str(obj(obj(o)?.["metadata"])?.["uid"]);
}

function labelsOf(meta: Obj): ReadonlyMap<string, string> {
  const l = obj(meta["labels"]);
  if (l === undefined) return EMPTY;
  const m = new Map<string, string>();
  for (const k in l) {
    const v = l[k];
    if (typeof v !== "string") continue;
    m.set(k, v);
    if (m.size >= MAX_LABELS) break;
  }
  return m.size === 0 ? EMPTY : m;
}

function controllerOf(meta: Obj): OwnerRef | undefined {
  const refs = meta["ownerReferences"];
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    const o = obj(r);
    if (o === undefined || o["controller"] !== true) continue;
    const kind = str(o["kind"]);
    const name = str(o["name"]);
    const uid = str(o["uid"]);
    if (kind !== undefined && name !== undefined && uid !== undefined) return { kind, name, uid };
  }
  return undefined;
}

/** The record of an object of `kind`; undefined when it has no name or UID. */
export function parseObject(kind: string, o: unknown): ObjRecord | undefined {
  const meta = obj(obj(o)?.["metadata"]);
  if (meta === undefined) return undefined;
  const name = str(meta["name"]);
  const uid = str(meta["uid"]);
  if (name === undefined || uid === undefined) return undefined;
  return {
    kind,
    name,
    uid,
    namespace: str(meta["namespace"]) ?? "",
    resourceVersion: str(meta["resourceVersion"]) ?? "",
    labels: labelsOf(meta),
    controller: controllerOf(meta),
  };
}

/** The record of a Pod (spec.nodeName, spec.serviceAccountName, status.podIP besides the metadata). */
export function parsePod(o: unknown): PodRecord | undefined {
  const base = parseObject("Pod", o);
  if (base === undefined) return undefined;
  const spec = obj(obj(o)?.["spec"]);
  const status = obj(obj(o)?.["status"]);
  return {
    ...base,
    nodeName: str(spec?.["nodeName"]) ?? "",
    serviceAccount: str(spec?.["serviceAccountName"]) ?? str(spec?.["serviceAccount"]),
    podIp: str(status?.["podIP"]),
  };
}

/** A stand-in for an object known only from a reference (its labels unread). */
export function fromRef(ref: OwnerRef): K8sObjectMeta {
  return { kind: ref.kind, name: ref.name, uid: ref.uid, labels: EMPTY };
}
