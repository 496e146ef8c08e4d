// SPDX-License-Identifier: Apache-2.0
/**
 * An AdmissionReview request as an audit.k8s.io/v1 Event, so that the `ka.*` fields of the
 * `k8s_audit` source (and Falco's published k8saudit rules) read it:
 *
 * | audit Event | from the AdmissionRequest |
 * | --- | --- |
 * | `auditID` | `uid` |
 * | `verb` | `operation` lower-cased; UPDATE from a PATCH (`options.kind: PatchOptions`) is `patch`; CONNECT is `create` (kubectl's POST) |
 * | `stage` | `ResponseComplete`; `ResponseStarted` for CONNECT (exec, attach, port-forward stream), as the audit log records them: Falco's rules select their events by stage |
 * | `requestURI` | rebuilt from resource, namespace, name and subresource; a CONNECT's options (command, container...) and `dryRun=All` as its query |
 * | `user` | `userInfo` |
 * | `objectRef` | `resource`, `namespace`, `name` (else `object.metadata.name`), `subResource`, group and version |
 * | `requestObject` | `object`; a workload's (Deployment, CronJob...) is the pod of its template (pod-view.ts) |
 * | `oldObject` | `oldObject`, the same way (not an audit field; kept for policies on updates) |
 * | `annotations` | `authorization.k8s.io/decision: allow` (admission runs after authorization) |
 * | `requestReceivedTimestamp`, `stageTimestamp` | the time of the review |
 *
 * `responseStatus` and `responseObject` are absent: no response exists yet.
 */
import { AuditEvent } from "../../rules/k8saudit/index.js";
import { AdmissionError } from "./errors.js";
import { podView } from "./pod-view.js";
import { parseReview, type AdmissionRequest } from "./review.js";

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Longest requestURI built (the API server's own limit on a URL is larger; outputs need less). */
const MAX_URI = 8192;

/** The audit verb of a request: its operation, lower-cased, as the audit log names it. */
export function auditVerb(req: AdmissionRequest): string {
  switch (req.operation) {
    case "CREATE":
      return "create";
    case "UPDATE":
      return req.options?.["kind"] === "PatchOptions" ? "patch" : "update";
    case "DELETE":
      return "delete";
    case "CONNECT":
      return "create";
  }
}

/** The request path (and query) the API server served. */
export function requestUri(req: AdmissionRequest): string {
  const { group, version, resource } = req.resource;
  let path = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  const seg = (s: string) => encodeURIComponent(s);
  if (req.namespace) path += `/namespaces/${seg(req.namespace)}`;
  path += `/${seg(resource)}`;
  // a create posts to the collection, unless it creates a subresource of a named object
  if (req.name && (req.operation !== "CREATE" || req.subResource)) path += `/${seg(req.name)}`;
  if (req.subResource) path += `/${req.subResource.split("/").map(seg).join("/")}`;
  const q = new URLSearchParams();
  if (req.operation === "CONNECT" && req.object) {
    for (const [k, v] of Object.entries(req.object)) {
      if (k === "kind" || k === "apiVersion") continue;
      for (const x of Array.isArray(v) ? v : [v]) if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") q.append(k, String(x));
    }
  }
  if (req.dryRun) q.append("dryRun", "All");
  const query = q.toString();
  const uri = query === "" ? path : `${path}?${query}`;
  return uri.length > MAX_URI ? uri.slice(0, MAX_URI) : uri;
}

/** RFC 3339 with microseconds, as the API server writes audit timestamps. */
function microTime(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000Z`;
}

/** The request's object as the policies see it: its pod view when it carries a pod. */
function viewOf(obj: Obj | undefined, req: AdmissionRequest): Obj | undefined {
  if (obj === undefined) return undefined;
  return podView(obj, req.resource.group, req.resource.resource, req.subResource ?? "") ?? obj;
}

/** The audit.k8s.io/v1 Event (a plain JSON object) for an admission request. */
export function admissionToAuditObject(req: AdmissionRequest, now: Date = new Date()): Obj {
  const objectRef: Obj = { resource: req.resource.resource };
  if (req.namespace) objectRef["namespace"] = req.namespace;
  const metaName = isObj(req.object?.["metadata"]) ? req.object["metadata"]["name"] : undefined;
  const name = req.name || (typeof metaName === "string" && metaName !== "" ? metaName : undefined);
  if (name) objectRef["name"] = name;
  if (req.resource.group !== "") objectRef["apiGroup"] = req.resource.group;
  objectRef["apiVersion"] = req.resource.version;
  if (req.subResource) objectRef["subresource"] = req.subResource;
  const user: Obj = {};
  if (req.userInfo.username !== undefined) user["username"] = req.userInfo.username;
  if (req.userInfo.uid !== undefined) user["uid"] = req.userInfo.uid;
  if (req.userInfo.groups !== undefined) user["groups"] = [...req.userInfo.groups];
  if (req.userInfo.extra !== undefined) user["extra"] = req.userInfo.extra;
  const t = microTime(now);
  const ev: Obj = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: req.uid,
    stage: req.operation === "CONNECT" ? "ResponseStarted" : "ResponseComplete",
    requestURI: requestUri(req),
    verb: auditVerb(req),
    user,
    objectRef,
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    annotations: { "authorization.k8s.io/decision": "allow" },
  };
  const obj = viewOf(req.object, req);
  if (obj !== undefined) ev["requestObject"] = obj;
  const old = viewOf(req.oldObject, req);
  if (old !== undefined) ev["oldObject"] = old;
  return ev;
}

/**
 * The {@link AuditEvent} of an admission request (or of a whole AdmissionReview, checked with
 * parseReview), read by the `k8s_audit` fields: see the module comment for the mapping. Throws
 * AdmissionError `INVALID_REVIEW` for a review that is not one.
 */
export function admissionToAuditEvent(review: AdmissionRequest | Record<string, unknown>, now: Date = new Date()): AuditEvent {
  let req: AdmissionRequest;
  if (review["kind"] === "AdmissionReview") {
    const r = parseReview(review);
    if (!r.ok) throw new AdmissionError("INVALID_REVIEW", r.error);
    req = r.request;
  } else req = review as AdmissionRequest;
  return AuditEvent.from(admissionToAuditObject(req, now));
}
