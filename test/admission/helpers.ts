// SPDX-License-Identifier: Apache-2.0
/** Shared by the admission tests: the recorded reviews, variants of them, a validator over the built-in pack. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import {
  AdmissionValidator,
  loadPolicies,
  parseReview,
  type AdmissionRequest,
  type DefaultMode,
  type ModeOverride,
  type ValidatorOptions,
} from "../../agent/admission/index.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { validateReviewRequest } from "../helpers/admission-schema.js";

export const FIXTURES = join(REPO_ROOT, "test", "admission", "fixtures");

export type Json = Record<string, unknown>;

/** A recorded AdmissionReview (checked against the admission.k8s.io/v1 schema and the object's OpenAPI model). */
export function fixture(name: string): Json {
  const r = JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as Json;
  validateReviewRequest(r, name);
  return r;
}

/** A copy of a review whose request object (and old object, if any) `edit` changes; checked against the schemas again. */
export function variant(review: Json, edit: (obj: Json, req: Json) => void): Json {
  const r = structuredClone(review);
  const req = r["request"] as Json;
  edit(req["object"] as Json, req);
  validateReviewRequest(r, "variant");
  return r;
}

/** The pod spec of a Pod object. */
export function spec(pod: Json): Json {
  return pod["spec"] as Json;
}

/** The first container of a pod spec. */
export function container(pod: Json, list: "containers" | "initContainers" | "ephemeralContainers" = "containers", k = 0): Json {
  return (spec(pod)[list] as Json[])[k] as Json;
}

/** The request of a review, parsed as the webhook parses it. */
export function request(review: Json): AdmissionRequest {
  const r = parseReview(review);
  if (!r.ok) throw new Error(r.error);
  return r.request;
}

export const silent = pino({ level: "silent" });

/** A validator over the built-in pack (and `paths`), with the given default mode and settings. */
export function validator(
  opts: { mode?: DefaultMode; overrides?: ModeOverride[]; paths?: string[]; builtin?: boolean } & Partial<Omit<ValidatorOptions, "policies">> = {},
): AdmissionValidator {
  const policies = loadPolicies({
    defaultMode: opts.mode ?? "enforce",
    overrides: opts.overrides ?? [],
    paths: opts.paths ?? [],
    builtin: opts.builtin ?? true,
  });
  return new AdmissionValidator({ logger: silent, ...opts, policies });
}

/** Names of the policies a review matches (every mode). */
export function matched(v: AdmissionValidator, review: Json): string[] {
  return v.decide(request(review)).matches.map((m) => m.policy);
}
