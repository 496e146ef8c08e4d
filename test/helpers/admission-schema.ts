// SPDX-License-Identifier: Apache-2.0
/**
 * Schemas of the admission API (`admission.k8s.io/v1` `AdmissionReview`, its `AdmissionRequest`
 * and `AdmissionResponse`), written from the API's Go types (k8s.io/api/admission/v1/types.go,
 * with meta/v1 `GroupVersionKind`, `GroupVersionResource`, `Status` and authentication/v1
 * `UserInfo`), so every recorded review and every answer in the tests is checked against what a
 * real API server sends and accepts. Every object is strict: an unknown key or a value of the
 * wrong type fails. The objects a request carries (`object`, `oldObject`) are checked against the
 * Kubernetes OpenAPI schemas (`kubernetes-models`) by their kind.
 */
import { z } from "zod";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Pod } from "kubernetes-models/v1/Pod";
import { PodTemplate } from "kubernetes-models/v1/PodTemplate";
import { ReplicationController } from "kubernetes-models/v1/ReplicationController";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { StatusSchema, UserInfoSchema } from "./audit-schema.js";

/** meta/v1 `GroupVersionKind` (no omitempty: every key is written, `group` empty for the core group). */
export const GroupVersionKindSchema = z.strictObject({ group: z.string(), version: z.string(), kind: z.string() });
/** meta/v1 `GroupVersionResource`. */
export const GroupVersionResourceSchema = z.strictObject({ group: z.string(), version: z.string(), resource: z.string() });

/** `runtime.RawExtension` as a review carries it: the object's JSON. */
const RawObjectSchema = z.record(z.string(), z.unknown());

/** admission/v1 `AdmissionRequest`. */
export const AdmissionRequestSchema = z.strictObject({
  uid: z.string().min(1),
  kind: GroupVersionKindSchema,
  resource: GroupVersionResourceSchema,
  subResource: z.string().optional(),
  requestKind: GroupVersionKindSchema.optional(),
  requestResource: GroupVersionResourceSchema.optional(),
  requestSubResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
  userInfo: UserInfoSchema,
  object: RawObjectSchema.optional(),
  oldObject: RawObjectSchema.optional(),
  dryRun: z.boolean().optional(),
  options: RawObjectSchema.optional(),
});

/**
 * An audit annotation key: the API server writes `<webhook name>/<key>` into the audit event,
 * which must be a qualified name, so the key is a name part (63 characters of [A-Za-z0-9-_.],
 * alphanumeric at both ends).
 */
const AUDIT_ANNOTATION_KEY = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** admission/v1 `AdmissionResponse`. */
export const AdmissionResponseSchema = z.strictObject({
  uid: z.string(),
  allowed: z.boolean(),
  status: StatusSchema.optional(),
  patch: z.base64().optional(),
  patchType: z.literal("JSONPatch").optional(),
  auditAnnotations: z.record(z.string().regex(AUDIT_ANNOTATION_KEY, "audit annotation keys are qualified-name parts"), z.string()).optional(),
  warnings: z.array(z.string()).optional(),
});

/** An AdmissionReview the API server sends (a request, no response). */
export const AdmissionReviewRequestSchema = z.strictObject({
  apiVersion: z.literal("admission.k8s.io/v1"),
  kind: z.literal("AdmissionReview"),
  request: AdmissionRequestSchema,
});

/** An AdmissionReview a webhook answers (a response; the API server ignores a request in it). */
export const AdmissionReviewResponseSchema = z
  .strictObject({
    apiVersion: z.literal("admission.k8s.io/v1"),
    kind: z.literal("AdmissionReview"),
    response: AdmissionResponseSchema,
  })
  .superRefine((r, ctx) => {
    // what the API server reads of a denial (webhook dispatcher: status.code and message)
    const s = r.response.status;
    if (s?.code !== undefined && (s.code < 100 || s.code > 599))
      ctx.addIssue({ code: "custom", path: ["response", "status", "code"], message: "not an HTTP status" });
    if (r.response.patch !== undefined && r.response.patchType === undefined)
      ctx.addIssue({ code: "custom", path: ["response", "patchType"], message: "a patch needs its patchType" });
  });

export type AdmissionReviewRequestJson = z.infer<typeof AdmissionReviewRequestSchema>;
export type AdmissionReviewResponseJson = z.infer<typeof AdmissionReviewResponseSchema>;

interface Validatable {
  validate(): void;
}
type Ctor = new (data: never) => Validatable;
const m = (c: unknown) => c as Ctor;

/** apiVersion/kind → the OpenAPI model of the objects reviews carry. */
const MODELS: Record<string, Ctor> = {
  "v1/Pod": m(Pod),
  "v1/PodTemplate": m(PodTemplate),
  "v1/ReplicationController": m(ReplicationController),
  "v1/ConfigMap": m(ConfigMap),
  "apps/v1/Deployment": m(Deployment),
  "apps/v1/ReplicaSet": m(ReplicaSet),
  "apps/v1/StatefulSet": m(StatefulSet),
  "apps/v1/DaemonSet": m(DaemonSet),
  "batch/v1/Job": m(Job),
  "batch/v1/CronJob": m(CronJob),
};

/** Options objects of CONNECT and other requests (no kubernetes-models class): their known keys. */
const OPTION_SCHEMAS: Record<string, z.ZodType> = {
  "v1/PodExecOptions": z.strictObject({
    kind: z.literal("PodExecOptions"),
    apiVersion: z.literal("v1"),
    stdin: z.boolean().optional(),
    stdout: z.boolean().optional(),
    stderr: z.boolean().optional(),
    tty: z.boolean().optional(),
    container: z.string().optional(),
    command: z.array(z.string()),
  }),
  "meta.k8s.io/v1/CreateOptions": z.strictObject({
    kind: z.literal("CreateOptions"),
    apiVersion: z.literal("meta.k8s.io/v1"),
    dryRun: z.array(z.string()).optional(),
    fieldManager: z.string().optional(),
    fieldValidation: z.string().optional(),
  }),
  "meta.k8s.io/v1/UpdateOptions": z.strictObject({
    kind: z.literal("UpdateOptions"),
    apiVersion: z.literal("meta.k8s.io/v1"),
    dryRun: z.array(z.string()).optional(),
    fieldManager: z.string().optional(),
    fieldValidation: z.string().optional(),
  }),
  "meta.k8s.io/v1/PatchOptions": z.strictObject({
    kind: z.literal("PatchOptions"),
    apiVersion: z.literal("meta.k8s.io/v1"),
    dryRun: z.array(z.string()).optional(),
    force: z.boolean().optional(),
    fieldManager: z.string().optional(),
    fieldValidation: z.string().optional(),
  }),
};

/** Error of a review that does not match the admission API; `issues` are `path: message` lines. */
export class AdmissionSchemaError extends Error {
  override readonly name = "AdmissionSchemaError";
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

/** Checks an embedded object by its apiVersion/kind (a kind without a model is an error). */
export function validateObject(obj: unknown, where: string): string[] {
  if (obj === undefined) return [];
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return [`${where}: not an object`];
  const o = obj as Record<string, unknown>;
  if (typeof o["apiVersion"] !== "string" || typeof o["kind"] !== "string") return [`${where}: no apiVersion/kind`];
  const key = `${o["apiVersion"]}/${o["kind"]}`;
  const opt = OPTION_SCHEMAS[key];
  if (opt !== undefined) {
    const r = opt.safeParse(o);
    return r.success ? [] : zodIssues(r.error, where);
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

/** Validates an AdmissionReview request (parsed JSON) and the objects it carries; returns it typed or throws. */
export function validateReviewRequest(obj: unknown, where = "review"): AdmissionReviewRequestJson {
  const r = AdmissionReviewRequestSchema.safeParse(obj);
  if (!r.success) throw new AdmissionSchemaError(`${where} is not an admission.k8s.io/v1 AdmissionReview request`, zodIssues(r.error, ""));
  const req = r.data.request;
  const issues = [
    ...validateObject(req.object, "request.object"),
    ...validateObject(req.oldObject, "request.oldObject"),
    ...validateObject(req.options, "request.options"),
  ];
  // what the API server puts where (admission/v1 types.go)
  if (req.operation === "DELETE" && req.object !== undefined) issues.push("request.object: a DELETE carries oldObject, not object");
  if (req.operation === "CREATE" && req.oldObject !== undefined) issues.push("request.oldObject: a CREATE has no old object");
  if (req.operation === "UPDATE" && (req.object === undefined || req.oldObject === undefined)) issues.push("request: an UPDATE carries object and oldObject");
  if (req.kind.kind !== (req.object as { kind?: unknown } | undefined)?.kind && req.object !== undefined)
    issues.push(`request.kind: ${req.kind.kind} but the object is a ${String((req.object as { kind?: unknown }).kind)}`);
  if (issues.length > 0) throw new AdmissionSchemaError(`${where} carries an invalid object`, issues);
  return r.data;
}

/** Validates an AdmissionReview answer; returns it typed or throws. */
export function validateReviewResponse(obj: unknown, where = "answer"): AdmissionReviewResponseJson {
  const r = AdmissionReviewResponseSchema.safeParse(obj);
  if (!r.success) throw new AdmissionSchemaError(`${where} is not an admission.k8s.io/v1 AdmissionReview response`, zodIssues(r.error, ""));
  return r.data;
}

/** Checks that a manifest is valid for its kind (kubernetes-models); throws with the issues. */
export function validateManifest(obj: unknown, where = "manifest"): void {
  const issues = validateObject(obj, where);
  if (issues.length > 0) throw new AdmissionSchemaError(`${where} is not a valid object`, issues);
}
