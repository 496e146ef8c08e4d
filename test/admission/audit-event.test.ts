// SPDX-License-Identifier: Apache-2.0
/**
 * admissionToAuditEvent: a recorded AdmissionReview becomes an audit.k8s.io/v1 Event (checked
 * against the audit schema) that the k8s_audit fields read as they read the API server's own:
 * verb, stage, URI (with a CONNECT's options as its query), objectRef, user, the request object
 * (a workload's as the pod of its template), and rules written the way Falco's k8saudit rules are
 * fire on it.
 */
import { describe, expect, it } from "vitest";
import {
  ADMISSION_SOURCE,
  AdmissionError,
  admissionToAuditEvent,
  admissionToAuditObject,
  auditVerb,
  podView,
  requestUri,
} from "../../agent/admission/index.js";
import { DEFAULT_FIELD_CONTEXT, loadRuleFiles } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import type { AuditEvent } from "../../rules/k8saudit/index.js";
import { validateAuditEvent } from "../helpers/audit-schema.js";
import { validateObject } from "../helpers/admission-schema.js";
import { fixture, request, type Json } from "./helpers.js";

const NOW = new Date("2026-11-28T12:30:00.123Z");

/** A field of the admission source, read from an event (lists as their values). */
function field(ev: AuditEvent, name: string, arg?: string): unknown {
  const r = ADMISSION_SOURCE.resolve(name, arg, DEFAULT_FIELD_CONTEXT);
  const e = ev as unknown as SyscallEvent;
  return r.list !== undefined ? r.list(e) : r.get(e);
}

const NAMES = [
  "compliant-pod.json",
  "privileged-pod.json",
  "label-update.json",
  "ephemeral-debug.json",
  "deployment.json",
  "cronjob.json",
  "exec-connect.json",
];

describe("admissionToAuditObject", () => {
  it.each(NAMES)("%s becomes a valid audit.k8s.io/v1 Event", (name) => {
    const ev = admissionToAuditObject(request(fixture(name)), NOW);
    // oldObject is kept for policies on updates; the audit API has no such key
    const { oldObject: _old, ...audit } = ev;
    if (name === "exec-connect.json") {
      // a CONNECT's object is its PodExecOptions (no OpenAPI model: checked by the admission schema)
      const { requestObject, ...rest } = audit;
      expect(validateObject(requestObject, "requestObject")).toEqual([]);
      validateAuditEvent(rest, name);
    } else validateAuditEvent(audit, name);
    expect(ev.requestReceivedTimestamp).toBe("2026-11-28T12:30:00.123000Z");
    expect(ev.auditID).toBe((fixture(name)["request"] as Json)["uid"]);
    expect(ev.annotations).toEqual({ "authorization.k8s.io/decision": "allow" });
  });

  it.each([
    ["compliant-pod.json", "create", "ResponseComplete", "/api/v1/namespaces/shop/pods"],
    ["label-update.json", "patch", "ResponseComplete", "/api/v1/namespaces/dev/pods/debug-shell"],
    ["ephemeral-debug.json", "patch", "ResponseComplete", "/api/v1/namespaces/shop/pods/checkout-7d9c8b6f5-x2x9z/ephemeralcontainers"],
    ["deployment.json", "create", "ResponseComplete", "/apis/apps/v1/namespaces/monitoring/deployments"],
    ["cronjob.json", "create", "ResponseComplete", "/apis/batch/v1/namespaces/finance/cronjobs"],
    [
      "exec-connect.json",
      "create",
      "ResponseStarted",
      "/api/v1/namespaces/shop/pods/checkout-7d9c8b6f5-x2x9z/exec?stdin=true&stdout=true&tty=true&container=checkout&command=sh&command=-c&command=id%3B+cat+%2Fetc%2Fshadow",
    ],
  ])("%s: verb %s, stage %s, URI %s", (name, verb, stage, uri) => {
    const ev = admissionToAuditObject(request(fixture(name)), NOW);
    expect([ev.verb, ev.stage, ev.requestURI]).toEqual([verb, stage, uri]);
  });

  it("maps every operation to the audit verb the API server logs", () => {
    const r = request(fixture("label-update.json"));
    expect(auditVerb({ ...r, options: { kind: "UpdateOptions", apiVersion: "meta.k8s.io/v1" } })).toBe("update");
    expect(auditVerb({ ...r, options: { kind: "PatchOptions", apiVersion: "meta.k8s.io/v1" } })).toBe("patch");
    expect(auditVerb({ ...r, operation: "DELETE" })).toBe("delete");
    expect(auditVerb({ ...r, operation: "CREATE" })).toBe("create");
    expect(auditVerb({ ...r, operation: "CONNECT" })).toBe("create");
  });

  it("rebuilds the URI of a dry run, a cluster-scoped object and a named subresource create", () => {
    const r = request(fixture("compliant-pod.json"));
    expect(requestUri({ ...r, dryRun: true })).toBe("/api/v1/namespaces/shop/pods?dryRun=All");
    const { namespace: _ns, ...cluster } = r;
    expect(requestUri({ ...cluster, resource: { group: "", version: "v1", resource: "namespaces" }, name: "team-a" })).toBe("/api/v1/namespaces");
    expect(requestUri({ ...r, name: "web-0", subResource: "eviction" })).toBe("/api/v1/namespaces/shop/pods/web-0/eviction");
    expect(requestUri({ ...r, namespace: "a b/c" })).toBe("/api/v1/namespaces/a%20b%2Fc/pods");
  });

  it("objectRef and user come from the request; a generated pod name from the object", () => {
    const ev = admissionToAuditObject(request(fixture("compliant-pod.json")), NOW);
    expect(ev.objectRef).toEqual({ resource: "pods", namespace: "shop", name: "checkout-7d9c8b6f5-x2x9z", apiVersion: "v1" });
    expect(ev.user).toEqual({
      username: "system:serviceaccount:kube-system:replicaset-controller",
      uid: "6e0f4c52-8a3b-4b9e-9f1d-2c3b4a5d6e7f",
      groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
    });
    const dep = admissionToAuditObject(request(fixture("deployment.json")), NOW);
    expect(dep.objectRef).toEqual({ resource: "deployments", namespace: "monitoring", name: "node-agent", apiGroup: "apps", apiVersion: "v1" });
  });

  it("a workload's request object is the pod of its template, in the workload's namespace", () => {
    const cj = fixture("cronjob.json");
    const ev = admissionToAuditObject(request(cj), NOW);
    const obj = ev.requestObject as Json;
    expect(obj.kind).toBe("Pod");
    expect((obj.metadata as Json).namespace).toBe("finance");
    expect((obj.metadata as Json).labels).toEqual({ job: "nightly-report" });
    const tpl = ((((((cj.request as Json).object as Json).spec as Json).jobTemplate as Json).spec as Json).template as Json).spec;
    expect(obj.spec).toBe(tpl);
    // an object without a template is passed as it is; a pod without a spec has no view
    expect(podView({ kind: "Deployment", spec: {} }, "apps", "deployments")).toBeUndefined();
    expect(podView({ kind: "Pod" }, "", "pods")).toBeUndefined();
    expect(podView({ kind: "Pod", spec: {} }, "", "pods", "status")).toBeUndefined();
    expect(podView({ kind: "Foo", spec: { template: { spec: {} } } }, "example.com", "deployments")).toBeUndefined();
  });

  it("keeps the old object of an update (as a pod view)", () => {
    const ev = admissionToAuditObject(request(fixture("ephemeral-debug.json")), NOW);
    expect(((ev.oldObject as Json).spec as Json).ephemeralContainers).toBeUndefined();
    expect(((ev.requestObject as Json).spec as Json).ephemeralContainers).toHaveLength(1);
  });
});

describe("admissionToAuditEvent: the k8s_audit fields read it", () => {
  it("ka.* fields of a pod creation", () => {
    const ev = admissionToAuditEvent(request(fixture("privileged-pod.json")), NOW);
    expect(ev.sec).toBe(Math.floor(NOW.getTime() / 1000));
    expect(field(ev, "ka.verb")).toBe("create");
    expect(field(ev, "ka.stage")).toBe("ResponseComplete");
    expect(field(ev, "ka.target.resource")).toBe("pods");
    expect(field(ev, "ka.target.namespace")).toBe("dev");
    expect(field(ev, "ka.target.name")).toBe("debug-shell");
    expect(field(ev, "ka.target.subresource")).toBeUndefined();
    expect(field(ev, "ka.user.name")).toBe("kubernetes-admin");
    expect(field(ev, "ka.user.groups")).toEqual(["system:masters", "system:authenticated"]);
    expect(field(ev, "ka.auth.decision")).toBe("allow");
    expect(field(ev, "ka.req.pod.containers.privileged")).toEqual(["true"]);
    expect(field(ev, "ka.req.pod.containers.image")).toEqual(["busybox:1.36"]);
    expect(field(ev, "jevt.value", "/requestObject/metadata/labels/run")).toBe("debug-shell");
  });

  it("ka.* fields of a Deployment read its template; ka.uri.param of an exec its command", () => {
    const dep = admissionToAuditEvent(request(fixture("deployment.json")), NOW);
    expect(field(dep, "ka.req.pod.host_network")).toBe("true");
    expect(field(dep, "ka.req.pod.volumes.hostpath")).toEqual(["/run/containerd/containerd.sock"]);
    expect(field(dep, "ka.req.pod.containers.image")).toEqual(["docker.io/acme/node-agent:latest"]);
    const exec = admissionToAuditEvent(request(fixture("exec-connect.json")), NOW);
    expect(field(exec, "ka.target.subresource")).toBe("exec");
    expect(field(exec, "ka.uri.param", "command")).toBe("sh");
    expect(field(exec, "ka.uri.param", "container")).toBe("checkout");
  });

  it("takes a whole AdmissionReview too, and refuses one that is not", () => {
    const ev = admissionToAuditEvent(fixture("cronjob.json"), NOW);
    expect(field(ev, "ka.req.pod.initContainers.privileged")).toEqual(["true"]);
    expect(() => admissionToAuditEvent({ kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", request: { uid: "x y" } })).toThrow(AdmissionError);
  });

  it("rules written as Falco's k8saudit rules are (events selected by stage) fire on admission requests", () => {
    const rules = [
      "- macro: completed",
      "  condition: jevt.value[/stage] in (ResponseComplete)",
      "- macro: started",
      "  condition: jevt.value[/stage] = ResponseStarted",
      "- rule: Privileged pod",
      "  desc: d",
      "  condition: completed and ka.target.resource = pods and not ka.target.subresource exists and ka.verb = create and ka.req.pod.containers.privileged intersects (true)",
      "  output: privileged (user=%ka.user.name pod=%ka.target.name)",
      "  priority: WARNING",
      "  source: k8s_audit",
      "- rule: Exec into pod",
      "  desc: d",
      "  condition: started and ka.target.subresource in (exec, attach) and ka.verb in (create, get)",
      "  output: exec (user=%ka.user.name pod=%ka.target.name command=%ka.uri.param[command])",
      "  priority: NOTICE",
      "  source: k8s_audit",
      "",
    ].join("\n");
    const res = loadRuleFiles([{ path: "falco-like.yaml", text: rules }], { sources: [ADMISSION_SOURCE], ruleMatching: "all" });
    expect(res.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const set = res.rulesets.get("k8s_audit");
    const fire = (name: string) => {
      const out: string[] = [];
      set?.evaluate(admissionToAuditEvent(request(fixture(name)), NOW) as unknown as SyscallEvent, (r, e) => out.push(`${r.name}: ${r.format(e).message}`));
      return out;
    };
    expect(fire("privileged-pod.json")).toEqual(["Privileged pod: privileged (user=kubernetes-admin pod=debug-shell)"]);
    expect(fire("compliant-pod.json")).toEqual([]);
    expect(fire("exec-connect.json")).toEqual(["Exec into pod: exec (user=kubernetes-admin pod=checkout-7d9c8b6f5-x2x9z command=sh)"]);
    // an update of the privileged pod is no creation
    expect(fire("label-update.json")).toEqual([]);
  });
});
