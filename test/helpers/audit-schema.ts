// SPDX-License-Identifier: Apache-2.0
/**
 * Schemas of the Kubernetes audit API (`audit.k8s.io/v1` `Event` and `EventList`), written from the
 * API's Go types (k8s.io/apiserver/pkg/apis/audit/v1/types.go, with authentication/v1 `UserInfo` and
 * meta/v1 `Status`, `ListMeta`, `MicroTime`), so a recorded audit event in the tests is checked
 * against what a real API server can emit. Every object is strict: an unknown key or a value of the
 * wrong type fails validation. The objects a request or response carries (`requestObject`,
 * `responseObject`) are checked against the Kubernetes OpenAPI schemas (`kubernetes-models`) when
 * they name their kind, which is how the API server records them.
 */
import { z } from "zod";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Pod } from "kubernetes-models/v1/Pod";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Event as CoreEvent } from "kubernetes-models/v1/Event";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { TokenRequest } from "kubernetes-models/authentication.k8s.io/v1/TokenRequest";
import { CertificateSigningRequest } from "kubernetes-models/certificates.k8s.io/v1/CertificateSigningRequest";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { ValidatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration";
import { Event as EventsV1Event } from "kubernetes-models/events.k8s.io/v1/Event";

/** `metav1.MicroTime` as JSON: RFC 3339 in UTC with exactly six fraction digits (Go's RFC3339Micro after `.UTC()`). */
export const MICRO_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/;

const int32 = z.number().int().min(-2147483648).max(2147483647);
const int64 = z.number().int();

/** audit/v1 `Level`. */
export const LevelSchema = z.enum(["None", "Metadata", "Request", "RequestResponse"]);
/** audit/v1 `Stage`. */
export const StageSchema = z.enum(["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]);

/** authentication/v1 `UserInfo` (every field omitempty; `extra` values are `ExtraValue`, a string list). */
export const UserInfoSchema = z.strictObject({
  username: z.string().optional(),
  uid: z.string().optional(),
  groups: z.array(z.string()).optional(),
  extra: z.record(z.string(), z.array(z.string())).optional(),
});

/** audit/v1 `ObjectReference`. */
export const ObjectReferenceSchema = z.strictObject({
  resource: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiGroup: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  subresource: z.string().optional(),
});

/** meta/v1 `ListMeta`. */
export const ListMetaSchema = z.strictObject({
  selfLink: z.string().optional(),
  resourceVersion: z.string().optional(),
  continue: z.string().optional(),
  remainingItemCount: int64.optional(),
});

/** meta/v1 `StatusCause`. */
const StatusCauseSchema = z.strictObject({
  reason: z.string().optional(),
  message: z.string().optional(),
  field: z.string().optional(),
});

/** meta/v1 `StatusDetails`. */
const StatusDetailsSchema = z.strictObject({
  name: z.string().optional(),
  group: z.string().optional(),
  kind: z.string().optional(),
  uid: z.string().optional(),
  causes: z.array(StatusCauseSchema).optional(),
  retryAfterSeconds: int32.optional(),
});

/** meta/v1 `Status` (TypeMeta inline; `status` is "Success" or "Failure"). */
export const StatusSchema = z.strictObject({
  kind: z.string().optional(),
  apiVersion: z.string().optional(),
  metadata: ListMetaSchema.optional(),
  status: z.enum(["Success", "Failure"]).optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: StatusDetailsSchema.optional(),
  code: int32.optional(),
});

/** `runtime.Unknown` recorded as JSON: an object, or for a JSON patch request an array of operations. */
const RawObjectSchema = z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]);

/** A MicroTime field: Go writes a zero time as `null`. */
const MicroTimeSchema = z.union([z.string().regex(MICRO_TIME, "expected RFC 3339 UTC with microseconds"), z.null()]);

/** audit.k8s.io/v1 `Event`. */
export const AuditEventSchema = z
  .strictObject({
    kind: z.literal("Event").optional(),
    apiVersion: z.literal("audit.k8s.io/v1").optional(),
    level: LevelSchema,
    auditID: z.string().min(1),
    stage: StageSchema,
    requestURI: z.string(),
    verb: z.string(),
    user: UserInfoSchema,
    impersonatedUser: UserInfoSchema.optional(),
    sourceIPs: z.array(z.ipv4().or(z.ipv6())).optional(),
    userAgent: z.string().optional(),
    objectRef: ObjectReferenceSchema.optional(),
    responseStatus: StatusSchema.optional(),
    requestObject: RawObjectSchema.optional(),
    responseObject: RawObjectSchema.optional(),
    requestReceivedTimestamp: MicroTimeSchema,
    stageTimestamp: MicroTimeSchema,
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .superRefine((ev, ctx) => {
    // What the audit levels mean (types.go): request objects from Request up, response objects only at RequestResponse.
    if (ev.requestObject !== undefined && (ev.level === "Metadata" || ev.level === "None"))
      ctx.addIssue({ code: "custom", path: ["requestObject"], message: `requestObject is only logged at Request level and higher, not ${ev.level}` });
    if (ev.responseObject !== undefined && ev.level !== "RequestResponse")
      ctx.addIssue({ code: "custom", path: ["responseObject"], message: `responseObject is only logged at RequestResponse level, not ${ev.level}` });
    if (ev.stage === "RequestReceived" && ev.responseStatus !== undefined)
      ctx.addIssue({ code: "custom", path: ["responseStatus"], message: "no response status at stage RequestReceived" });
    const rr = ev.requestReceivedTimestamp;
    const st = ev.stageTimestamp;
    if (rr !== null && st !== null && st < rr)
      ctx.addIssue({ code: "custom", path: ["stageTimestamp"], message: "stageTimestamp is before requestReceivedTimestamp" });
  });

/** audit.k8s.io/v1 `EventList` (what the webhook backend POSTs). */
export const AuditEventListSchema = z.strictObject({
  kind: z.literal("EventList"),
  apiVersion: z.literal("audit.k8s.io/v1"),
  metadata: ListMetaSchema.optional(),
  items: z.array(AuditEventSchema),
});

export type AuditEventJson = z.infer<typeof AuditEventSchema>;
export type AuditEventListJson = z.infer<typeof AuditEventListSchema>;

/** meta/v1 `DeleteOptions`, the body kubectl and client-go send with a delete (no kubernetes-models class is a dependency). */
const DeleteOptionsSchema = z.strictObject({
  kind: z.literal("DeleteOptions"),
  apiVersion: z.enum(["meta.k8s.io/v1", "v1"]),
  gracePeriodSeconds: int64.optional(),
  preconditions: z.strictObject({ uid: z.string().optional(), resourceVersion: z.string().optional() }).optional(),
  orphanDependents: z.boolean().optional(),
  propagationPolicy: z.enum(["Orphan", "Background", "Foreground"]).optional(),
  dryRun: z.array(z.string()).optional(),
  ignoreStoreReadErrorWithClusterBreakingPotential: z.boolean().optional(),
});

interface Validatable {
  validate(): void;
}
type Ctor = new (data: never) => Validatable;
const m = (c: unknown) => c as Ctor;

/** apiVersion/kind → the OpenAPI model of the objects the recorded events carry. */
const MODELS: Record<string, Ctor> = {
  "v1/Pod": m(Pod),
  "v1/ConfigMap": m(ConfigMap),
  "v1/Secret": m(Secret),
  "v1/Service": m(Service),
  "v1/ServiceAccount": m(ServiceAccount),
  "v1/Namespace": m(Namespace),
  "v1/Event": m(CoreEvent),
  "events.k8s.io/v1/Event": m(EventsV1Event),
  "apps/v1/DaemonSet": m(DaemonSet),
  "apps/v1/Deployment": m(Deployment),
  "authentication.k8s.io/v1/TokenRequest": m(TokenRequest),
  "certificates.k8s.io/v1/CertificateSigningRequest": m(CertificateSigningRequest),
  "rbac.authorization.k8s.io/v1/Role": m(Role),
  "rbac.authorization.k8s.io/v1/RoleBinding": m(RoleBinding),
  "rbac.authorization.k8s.io/v1/ClusterRole": m(ClusterRole),
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": m(ClusterRoleBinding),
  "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": m(ValidatingWebhookConfiguration),
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": m(MutatingWebhookConfiguration),
};

/**
 * Kinds whose status is output only and which clients send with Go's zero values in it (a zero
 * metav1.Time is written `null`, which the OpenAPI schema, describing responses, does not allow):
 * in a request body their status is not checked.
 */
const REQUEST_STATUS_IGNORED = new Set(["authentication.k8s.io/v1/TokenRequest"]);

/** Kinds of list responses: each item is checked as the item kind. */
const LIST_ITEM_KIND: Record<string, string> = {
  "v1/SecretList": "v1/Secret",
  "v1/ConfigMapList": "v1/ConfigMap",
  "v1/PodList": "v1/Pod",
};

/** Error of a recorded event or list that does not match the audit API; `issues` are `path: message` lines. */
export class AuditSchemaError extends Error {
  override readonly name = "AuditSchemaError";
  constructor(
    message: string,
    readonly issues: readonly string[],
  ) {
    super(`${message}: ${issues.join("; ")}`);
  }
}

function zodIssues(err: z.ZodError, prefix: string): string[] {
  return err.issues.map((i) => `${[prefix, ...i.path.map(String)].filter((p) => p !== "").join(".")}: ${i.message}`);
}

/**
 * Checks an embedded API object (requestObject/responseObject). Objects that name a kind are
 * validated by that kind's OpenAPI model (a kind without a model is an error, so nothing goes
 * unchecked by accident); patches and other bodies without apiVersion/kind are left as they are.
 */
function validateEmbedded(obj: unknown, where: string): string[] {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return [];
  let o = obj as Record<string, unknown>;
  if (typeof o.apiVersion !== "string" || typeof o.kind !== "string") return [];
  const key = `${o.apiVersion}/${o.kind}`;
  if (o.kind === "DeleteOptions") {
    const r = DeleteOptionsSchema.safeParse(o);
    return r.success ? [] : zodIssues(r.error, where);
  }
  if (o.kind === "Status") {
    const r = StatusSchema.safeParse(o);
    return r.success ? [] : zodIssues(r.error, where);
  }
  const itemKey = LIST_ITEM_KIND[key];
  if (itemKey !== undefined) {
    if (!Array.isArray(o.items)) return [`${where}.items: a list response has items`];
    const cut = itemKey.lastIndexOf("/");
    const typeMeta = { apiVersion: itemKey.slice(0, cut), kind: itemKey.slice(cut + 1) };
    // Items of a list response carry no apiVersion/kind of their own: the list's item kind applies.
    return o.items.flatMap((it, i) => validateEmbedded({ ...typeMeta, ...(it as object) }, `${where}.items.${i}`));
  }
  if (where === "requestObject" && REQUEST_STATUS_IGNORED.has(key)) {
    const { status: _ignored, ...rest } = o;
    o = rest;
  }
  const Model = MODELS[key];
  if (Model === undefined) return [`${where}: no schema model for ${key}`];
  try {
    new Model(o as never).validate();
    return [];
  } catch (e) {
    return [`${where} (${key}): ${(e as Error).message}`];
  }
}

/** Validates one audit event (parsed JSON) and the objects it carries; returns it typed or throws AuditSchemaError. */
export function validateAuditEvent(obj: unknown, where = "event"): AuditEventJson {
  const r = AuditEventSchema.safeParse(obj);
  if (!r.success) throw new AuditSchemaError(`${where} is not an audit.k8s.io/v1 Event`, zodIssues(r.error, ""));
  const issues = [...validateEmbedded(r.data.requestObject, "requestObject"), ...validateEmbedded(r.data.responseObject, "responseObject")];
  if (issues.length > 0) throw new AuditSchemaError(`${where} carries an invalid object`, issues);
  return r.data;
}

/** Validates an EventList (the webhook backend's body) and every event in it; returns it typed or throws AuditSchemaError. */
export function validateAuditEventList(obj: unknown, where = "list"): AuditEventListJson {
  const r = AuditEventListSchema.safeParse(obj);
  if (!r.success) throw new AuditSchemaError(`${where} is not an audit.k8s.io/v1 EventList`, zodIssues(r.error, ""));
  for (const [i, ev] of r.data.items.entries()) validateAuditEvent(ev, `${where}.items[${i}]`);
  return r.data;
}
