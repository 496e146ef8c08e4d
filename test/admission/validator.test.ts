// SPDX-License-Identifier: Apache-2.0
/**
 * The decision on one review (AdmissionValidator.handle), every answer checked against the
 * admission.k8s.io/v1 response schema: denials with the policy's output, audit warnings and
 * annotations, exclusions, unchanged updates, dry runs (same answer, no alert), malformed
 * reviews (400), the failure policy (fail open, or closed), bounded answers, alerts and the
 * per-policy counters in /metrics.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AdmissionValidator, jsonEqual, parseModeOverride, type PolicySet } from "../../agent/admission/index.js";
import { Metrics } from "../../agent/metrics/index.js";
import { validateAlert, type Alert } from "../../proto/index.js";
import { validateReviewResponse } from "../helpers/admission-schema.js";
import { container, fixture, silent, spec, validator, variant, type Json } from "./helpers.js";

const POD = fixture("compliant-pod.json");
const PRIV = fixture("privileged-pod.json");

function answer(v: AdmissionValidator, body: unknown) {
  const r = v.handle(body);
  return { status: r.status, ...validateReviewResponse(r.body) };
}

async function metric(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  for (const line of (await m.registry.metrics()).split("\n")) {
    if (line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

describe("AdmissionValidator.handle", () => {
  it("enforce: denies the privileged pod with 403 and the policy's output; the compliant pod is allowed clean", () => {
    const v = validator({ mode: "enforce" });
    const d = answer(v, PRIV);
    expect(d.status).toBe(200);
    expect(d.response.uid).toBe("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    expect(d.response.allowed).toBe(false);
    expect(d.response.status?.code).toBe(403);
    expect(d.response.status?.reason).toBe("Forbidden");
    expect(d.response.status?.message).toMatch(
      /^vigil: denied by policy: \[Privileged Container\] Privileged container \(user=kubernetes-admin verb=create resource=pods ns=dev name=debug-shell privileged=\(true\)/,
    );
    expect(JSON.parse(d.response.auditAnnotations?.["denied-by"] ?? "[]")).toEqual(["Privileged Container"]);
    // the audit-mode policies it also breaks are warnings
    expect(d.response.warnings?.some((w) => w.startsWith("vigil audit: [Container May Run As Root]"))).toBe(true);
    const ok = answer(v, POD);
    expect(ok.response).toEqual({ uid: "3f6c2a1e-9d4b-4c1a-8e2f-5b7a9c0d1e2f", allowed: true });
    expect(v.counters).toMatchObject({ reviews: 2, denied: 1, allowed: 1, audited: 0 });
  });

  it("audit: allows the privileged pod, with a warning and an audit annotation per match", () => {
    const v = validator({ mode: "audit" });
    const d = answer(v, PRIV);
    expect(d.response.allowed).toBe(true);
    expect(d.response.status).toBeUndefined();
    expect(d.response.warnings?.[0]).toMatch(/^vigil audit: \[Privileged Container\] Privileged container/);
    const audited = JSON.parse(d.response.auditAnnotations?.["audited-by"] ?? "[]") as string[];
    expect(audited).toContain("Privileged Container");
    expect(d.response.auditAnnotations?.["denied-by"]).toBeUndefined();
    expect(v.counters).toMatchObject({ allowed: 1, audited: 1, denied: 0 });
  });

  it("excluded namespaces are allowed unevaluated: kube-system by default, others when told", () => {
    const inKs = variant(PRIV, (o, req) => {
      req.namespace = "kube-system";
      (o.metadata as Json).namespace = "kube-system";
    });
    expect(answer(validator({ mode: "enforce" }), inKs).response).toEqual({ uid: "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", allowed: true });
    const v = validator({ mode: "enforce", excludeNamespaces: ["dev"] });
    expect(answer(v, PRIV).response.allowed).toBe(true);
    expect(answer(v, inKs).response.allowed).toBe(false);
    expect(v.counters.excluded).toBe(1);
  });

  it("an update that leaves the pod spec alone (kubectl label) is allowed; one that changes it is decided", () => {
    const v = validator({ mode: "enforce" });
    expect(answer(v, fixture("label-update.json")).response.allowed).toBe(true);
    expect(v.counters.unchanged).toBe(1);
    const changed = variant(fixture("label-update.json"), (o) => (container(o).image = "busybox:1.37"));
    expect(answer(v, changed).response.allowed).toBe(false);
    // kubectl debug adds a privileged ephemeral container to a compliant pod: denied
    const dbg = answer(v, fixture("ephemeral-debug.json"));
    expect(dbg.response.allowed).toBe(false);
    expect(dbg.response.status?.message).toContain("[Privileged Container]");
  });

  it("a dry run gets the real answer, is counted as one, and raises no alert", async () => {
    const alerts: Alert[] = [];
    const m = new Metrics({ cgroups: false });
    const v = validator({ mode: "enforce", onAlert: (a) => alerts.push(a), registry: m.registry });
    const dry = variant(PRIV, (_o, req) => {
      req.dryRun = true;
      req.options = { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1", dryRun: ["All"] };
    });
    const d = answer(v, dry);
    expect(d.response.allowed).toBe(false);
    expect(alerts).toEqual([]);
    expect(v.counters.dry_run).toBe(1);
    expect(await metric(m, "vigil_admission_reviews_total", { result: "denied", dry_run: "true" })).toBe(1);
    expect(await metric(m, "vigil_admission_policy_evaluations_total", { policy: "Privileged Container", result: "denied", dry_run: "true" })).toBe(1);
    answer(v, PRIV);
    expect(alerts.length).toBeGreaterThan(1);
  });

  it("alerts: one per match of a real request, valid alerts of source k8s_audit saying what the webhook did", () => {
    const alerts: Alert[] = [];
    const v = validator({ mode: "enforce", onAlert: (a) => alerts.push(a), hostname: "vigil-admission-0", now: () => new Date("2026-11-28T12:00:00.5Z") });
    const d = answer(v, PRIV);
    const names = [...JSON.parse(d.response.auditAnnotations?.["denied-by"] ?? "[]"), ...JSON.parse(d.response.auditAnnotations?.["audited-by"] ?? "[]")];
    expect(alerts.map((a) => a.rule).sort()).toEqual(names.sort());
    for (const a of alerts) expect(validateAlert(a), a.rule).toBeUndefined();
    const priv = alerts.find((a) => a.rule === "Privileged Container") as Alert;
    expect(priv).toMatchObject({ priority: "Critical", source: "k8s_audit", hostname: "vigil-admission-0", time: "2026-11-28T12:00:00.500000000Z" });
    expect(priv.output).toMatch(/^2026-11-28T12:00:00\.500000000Z: Critical Privileged container \(user=kubernetes-admin .*\) \(admission denied\)$/);
    expect(priv.output_fields).toMatchObject({
      "ka.user.name": "kubernetes-admin",
      "ka.target.namespace": "dev",
      "admission.action": "denied",
      "admission.uid": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    });
    expect(priv.tags).toContain("T1611");
    expect(alerts.find((a) => a.rule === "Container May Run As Root")?.output_fields["admission.action"]).toBe("audited");
    // an alert callback that throws changes nothing in the answer
    const bad = validator({
      mode: "enforce",
      onAlert: () => {
        throw new Error("sink down");
      },
    });
    expect(answer(bad, PRIV).response.allowed).toBe(false);
  });

  it("counts every policy's result per review in /metrics", async () => {
    const m = new Metrics({ cgroups: false });
    const v = validator({ mode: "enforce", registry: m.registry });
    answer(v, PRIV);
    answer(v, POD);
    answer(v, fixture("label-update.json"));
    expect(await metric(m, "vigil_admission_reviews_total", { result: "denied", dry_run: "false" })).toBe(1);
    expect(await metric(m, "vigil_admission_reviews_total", { result: "allowed", dry_run: "false" })).toBe(1);
    expect(await metric(m, "vigil_admission_reviews_total", { result: "unchanged", dry_run: "false" })).toBe(1);
    expect(await metric(m, "vigil_admission_policy_evaluations_total", { policy: "Privileged Container", result: "denied" })).toBe(1);
    expect(await metric(m, "vigil_admission_policy_evaluations_total", { policy: "Privileged Container", result: "allowed" })).toBe(1);
    expect(await metric(m, "vigil_admission_policy_evaluations_total", { policy: "Container May Run As Root", result: "audited" })).toBe(1);
    // a second validator on the same registry shares the counters instead of failing to register
    validator({ mode: "audit", registry: m.registry });
  });

  it.each([
    ["not an object", 42, ""],
    ["not a review", { kind: "Pod" }, ""],
    ["another version", { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1beta1", request: { uid: "a" } }, "a"],
    ["no request", { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1" }, ""],
    ["a bad uid", variant(POD, (_o, r) => (r.uid = "a b")), ""],
    ["an unknown operation", { ...POD, request: { ...(POD.request as Json), operation: "PATCH" } }, "3f6c2a1e-9d4b-4c1a-8e2f-5b7a9c0d1e2f"],
    ["no kind", { ...POD, request: { ...(POD.request as Json), kind: undefined } }, "3f6c2a1e-9d4b-4c1a-8e2f-5b7a9c0d1e2f"],
    ["groups that are not strings", { ...POD, request: { ...(POD.request as Json), userInfo: { groups: [1] } } }, "3f6c2a1e-9d4b-4c1a-8e2f-5b7a9c0d1e2f"],
    ["an object that is a list", { ...POD, request: { ...(POD.request as Json), object: [] } }, "3f6c2a1e-9d4b-4c1a-8e2f-5b7a9c0d1e2f"],
    ["dryRun that is a string", { ...POD, request: { ...(POD.request as Json), dryRun: "true" } }, "3f6c2a1e-9d4b-4c1a-8e2f-5b7a9c0d1e2f"],
  ])("a review with %s is a 400 AdmissionReview", (_what, body, uid) => {
    const v = validator({ mode: "enforce" });
    const r = v.handle(body);
    expect(r.status).toBe(400);
    const out = validateReviewResponse(r.body);
    expect(out.response).toMatchObject({ uid, allowed: false, status: { code: 400 } });
    expect(out.response.status?.message?.length).toBeGreaterThan(5);
    expect(v.counters.bad_requests).toBe(1);
  });

  it("fails open when the evaluation itself fails, or closed when told", () => {
    const broken = {
      policies: [],
      evaluate() {
        throw new Error("boom");
      },
    } as unknown as PolicySet;
    const open = new AdmissionValidator({ policies: broken, logger: silent });
    const o = answer(open, PRIV);
    expect(o.response.allowed).toBe(true);
    expect(o.response.warnings?.[0]).toMatch(/evaluation failed; admitted unchecked/);
    expect(open.counters.errors).toBe(1);
    const closed = new AdmissionValidator({ policies: broken, logger: silent, failClosed: true });
    const c = answer(closed, PRIV);
    expect(c.response).toMatchObject({ allowed: false, status: { code: 500 } });
  });

  it("keeps answers within the API server's limits: 16 warnings of 256 characters, a 4 KiB message", () => {
    const v = validator({ mode: "audit" });
    const many = variant(PRIV, (o) => {
      const cs = spec(o).containers as Json[];
      for (let k = 0; k < 300; k++) cs.push({ ...(cs[0] as Json), name: `c${k}`, image: `docker.io/acme/${"x".repeat(40)}-${k}` });
    });
    const d = answer(v, many);
    expect(d.response.warnings?.length).toBeLessThanOrEqual(16);
    for (const w of d.response.warnings ?? []) expect(w.length).toBeLessThanOrEqual(256);
    const e = answer(validator({ mode: "enforce", overrides: [parseModeOverride("tag:admission=enforce")] }), many);
    expect(e.response.status?.message?.length).toBeLessThanOrEqual(4096);
    for (const a of Object.values(e.response.auditAnnotations ?? {})) expect(a.length).toBeLessThanOrEqual(1024);
  });
});

describe("handle is total", () => {
  const v = validator({ mode: "enforce" });
  const answerOk = (body: unknown) => {
    const r = v.handle(body);
    expect([200, 400]).toContain(r.status);
    validateReviewResponse(r.body);
  };

  it("any JSON value gets a 200 or a 400 AdmissionReview, never a throw", () => {
    fc.assert(fc.property(fc.jsonValue(), answerOk), { numRuns: 500 });
  });

  it("a recorded review with any of its values replaced by any JSON value gets an answer", () => {
    const reviews = ["privileged-pod.json", "deployment.json", "cronjob.json", "ephemeral-debug.json", "exec-connect.json"].map((n) => fixture(n));
    // every path into a review, to a depth of 8
    const paths = (o: unknown, at: (string | number)[] = []): (string | number)[][] =>
      o === null || typeof o !== "object" || at.length > 8
        ? [at]
        : [at, ...Object.entries(o as object).flatMap(([k, x]) => paths(x, [...at, Array.isArray(o) ? Number(k) : k]))];
    const all = reviews.flatMap((r, i) => paths(r).map((p) => [i, p] as const));
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.jsonValue(), ([i, path], value) => {
        const r = structuredClone(reviews[i]) as Record<string | number, unknown>;
        if (path.length === 0) return answerOk(value);
        let o: Record<string | number, unknown> = r;
        for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[path[path.length - 1] as string | number] = value;
        answerOk(r);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("jsonEqual", () => {
  it("compares JSON structurally, key order aside; past 64 levels it says different", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: [] }, { a: {} })).toBe(false);
    let deep: unknown = 1;
    for (let k = 0; k < 100; k++) deep = [deep];
    expect(jsonEqual(deep, structuredClone(deep))).toBe(false);
  });
});
