// SPDX-License-Identifier: Apache-2.0
/**
 * AdmissionReview v1 (admission.k8s.io/v1) in and out: {@link parseReview} checks a parsed JSON
 * body and returns the request in typed form (never throws); {@link reviewResponse} and
 * {@link reviewError} build the answers. The API server sends one review per call and reads
 * `response.uid`, `allowed`, `status`, `warnings` and `auditAnnotations` back.
 */

/** Group/version/kind as the API server writes it in a review. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** Group/version/resource as the API server writes it in a review. */
export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** The operations a review names. */
export const OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT"] as const;
export type Operation = (typeof OPERATIONS)[number];

/** The requesting user (authentication.k8s.io/v1 UserInfo). */
export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** An AdmissionRequest, checked. */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  object?: Record<string, unknown>;
  oldObject?: Record<string, unknown>;
  dryRun?: boolean;
  options?: Record<string, unknown>;
}

/** metav1.Status as a webhook answers it. */
export interface ReviewStatus {
  code: number;
  message: string;
  reason?: string;
}

/** An AdmissionResponse. */
export interface ValidationResponse {
  uid: string;
  allowed: boolean;
  status?: ReviewStatus;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

/** The AdmissionReview a webhook answers with. */
export interface ReviewOut {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  response: ValidationResponse;
}

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Kubernetes UIDs are UUIDs; anything past this shape is not from an API server. */
export const UID_RE = /^[A-Za-z0-9-]{1,128}$/;
/** Longest name, namespace, group, kind or resource accepted (DNS subdomains are 253). */
const MAX_NAME = 253;

/** The uid of a body that may be a review, when it has a well-formed one (for error answers). */
export function reviewUid(body: unknown): string {
  if (!isObj(body) || !isObj(body["request"])) return "";
  const uid = body["request"]["uid"];
  return typeof uid === "string" && UID_RE.test(uid) ? uid : "";
}

function str(v: unknown, what: string, errs: string[], required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) errs.push(`${what} is missing`);
    return undefined;
  }
  if (typeof v !== "string") {
    errs.push(`${what} must be a string`);
    return undefined;
  }
  if (v.length > MAX_NAME) {
    errs.push(`${what} is longer than ${MAX_NAME} characters`);
    return undefined;
  }
  return v;
}

function gvk(v: unknown, what: string, errs: string[], required: boolean): GroupVersionKind | undefined {
  if (v === undefined || v === null) {
    if (required) errs.push(`${what} is missing`);
    return undefined;
  }
  if (!isObj(v)) {
    errs.push(`${what} must be an object`);
    return undefined;
  }
  const kind = str(v["kind"], `${what}.kind`, errs, true);
  const group = str(v["group"], `${what}.group`, errs) ?? "";
  const version = str(v["version"], `${what}.version`, errs, true);
  return kind === undefined || version === undefined ? undefined : { group, version, kind };
}

function gvr(v: unknown, what: string, errs: string[], required: boolean): GroupVersionResource | undefined {
  if (v === undefined || v === null) {
    if (required) errs.push(`${what} is missing`);
    return undefined;
  }
  if (!isObj(v)) {
    errs.push(`${what} must be an object`);
    return undefined;
  }
  const resource = str(v["resource"], `${what}.resource`, errs, true);
  const group = str(v["group"], `${what}.group`, errs) ?? "";
  const version = str(v["version"], `${what}.version`, errs, true);
  return resource === undefined || version === undefined ? undefined : { group, version, resource };
}

function userInfo(v: unknown, errs: string[]): UserInfo {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    errs.push("request.userInfo must be an object");
    return {};
  }
  const u: UserInfo = {};
  const username = v["username"];
  if (typeof username === "string") u.username = username.slice(0, 1024);
  else if (username !== undefined) errs.push("request.userInfo.username must be a string");
  const uid = v["uid"];
  if (typeof uid === "string") u.uid = uid.slice(0, 256);
  else if (uid !== undefined) errs.push("request.userInfo.uid must be a string");
  const groups = v["groups"];
  if (Array.isArray(groups) && groups.every((g) => typeof g === "string")) u.groups = (groups as string[]).slice(0, 1024);
  else if (groups !== undefined && groups !== null) errs.push("request.userInfo.groups must be a list of strings");
  const extra = v["extra"];
  if (isObj(extra)) {
    const x: Record<string, string[]> = {};
    for (const [k, vs] of Object.entries(extra)) {
      if (!Array.isArray(vs) || !vs.every((s) => typeof s === "string")) {
        errs.push("request.userInfo.extra must map keys to lists of strings");
        break;
      }
      x[k] = vs as string[];
    }
    u.extra = x;
  } else if (extra !== undefined && extra !== null) errs.push("request.userInfo.extra must be an object");
  return u;
}

function optObject(v: unknown, what: string, errs: string[]): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    errs.push(`${what} must be an object`);
    return undefined;
  }
  return v;
}

/**
 * Checks a parsed body: an admission.k8s.io/v1 AdmissionReview with a request whose uid,
 * kind, resource and operation are well formed. The objects are passed on as they are (the
 * policies read them; a wrong shape inside is a missing field there, not an error here).
 */
export function parseReview(body: unknown): { ok: true; request: AdmissionRequest } | { ok: false; error: string } {
  if (!isObj(body) || body["kind"] !== "AdmissionReview") return { ok: false, error: "expected an AdmissionReview" };
  if (body["apiVersion"] !== "admission.k8s.io/v1") return { ok: false, error: "only admission.k8s.io/v1 AdmissionReview is supported" };
  const r = body["request"];
  if (!isObj(r)) return { ok: false, error: "the AdmissionReview has no request" };
  const uid = r["uid"];
  if (typeof uid !== "string" || !UID_RE.test(uid)) return { ok: false, error: "request.uid is missing or malformed" };
  const errs: string[] = [];
  const op = r["operation"];
  if (typeof op !== "string" || !(OPERATIONS as readonly string[]).includes(op)) errs.push(`request.operation must be one of ${OPERATIONS.join(", ")}`);
  const kind = gvk(r["kind"], "request.kind", errs, true);
  const resource = gvr(r["resource"], "request.resource", errs, true);
  const requestKind = gvk(r["requestKind"], "request.requestKind", errs, false);
  const requestResource = gvr(r["requestResource"], "request.requestResource", errs, false);
  const subResource = str(r["subResource"], "request.subResource", errs);
  const requestSubResource = str(r["requestSubResource"], "request.requestSubResource", errs);
  const name = str(r["name"], "request.name", errs);
  const namespace = str(r["namespace"], "request.namespace", errs);
  const user = userInfo(r["userInfo"], errs);
  const object = optObject(r["object"], "request.object", errs);
  const oldObject = optObject(r["oldObject"], "request.oldObject", errs);
  const options = optObject(r["options"], "request.options", errs);
  const dryRun = r["dryRun"];
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== "boolean") errs.push("request.dryRun must be a boolean");
  if (errs.length > 0 || kind === undefined || resource === undefined) return { ok: false, error: errs[0] ?? "malformed request" };
  const req: AdmissionRequest = { uid, kind, resource, operation: op as Operation, userInfo: user };
  if (subResource) req.subResource = subResource;
  if (requestKind) req.requestKind = requestKind;
  if (requestResource) req.requestResource = requestResource;
  if (requestSubResource) req.requestSubResource = requestSubResource;
  if (name) req.name = name;
  if (namespace) req.namespace = namespace;
  if (object) req.object = object;
  if (oldObject) req.oldObject = oldObject;
  if (options) req.options = options;
  if (dryRun === true) req.dryRun = true;
  return { ok: true, request: req };
}

/** Wraps a response in the AdmissionReview the API server expects. */
export function reviewResponse(response: ValidationResponse): ReviewOut {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

/**
 * The answer to a body that could not be reviewed (not JSON, not a review, too large): an
 * AdmissionReview with `allowed: false` and the HTTP status in `status.code`. The API server
 * treats any non-200 answer as a failed call and applies the configuration's failurePolicy.
 */
export function reviewError(uid: string, code: number, message: string): ReviewOut {
  return reviewResponse({ uid, allowed: false, status: { code, message: message.slice(0, 1024) } });
}
