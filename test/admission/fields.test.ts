// SPDX-License-Identifier: Apache-2.0
/**
 * Vigil's admission fields over the k8s_audit source: image references split as the runtimes
 * read them, the effective securityContext of each container (the container's over the pod's),
 * limits, the service account and its token; one value per container of each list, an index
 * argument, missing lists missing; the source delegates every other field to k8s_audit.
 */
import { describe, expect, it } from "vitest";
import { ADMISSION_FIELD_NAMES, ADMISSION_SOURCE, admissionToAuditEvent, parseImageRef, pullTag } from "../../agent/admission/index.js";
import { CompileError, DEFAULT_FIELD_CONTEXT } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { k8sAuditSource } from "../../rules/k8saudit/index.js";
import { container, fixture, request, spec, variant, type Json } from "./helpers.js";

const POD = fixture("compliant-pod.json");

function values(review: Json, name: string, arg?: string): unknown {
  const ev = admissionToAuditEvent(request(review)) as unknown as SyscallEvent;
  const r = ADMISSION_SOURCE.resolve(name, arg, DEFAULT_FIELD_CONTEXT);
  return r.list !== undefined ? r.list(ev) : r.get(ev);
}

function rendered(review: Json, name: string): unknown {
  const ev = admissionToAuditEvent(request(review)) as unknown as SyscallEvent;
  return ADMISSION_SOURCE.resolve(name, undefined, DEFAULT_FIELD_CONTEXT).get(ev);
}

describe("parseImageRef", () => {
  it.each([
    ["nginx", { registry: "docker.io", path: "library/nginx" }, "latest"],
    ["nginx:1.27", { registry: "docker.io", path: "library/nginx", tag: "1.27" }, "1.27"],
    ["acme/app:v2", { registry: "docker.io", path: "acme/app", tag: "v2" }, "v2"],
    ["docker.io/library/nginx:latest", { registry: "docker.io", path: "library/nginx", tag: "latest" }, "latest"],
    ["index.docker.io/acme/app", { registry: "docker.io", path: "acme/app" }, "latest"],
    ["localhost/app", { registry: "localhost", path: "app" }, "latest"],
    ["localhost:5000/team/app:1", { registry: "localhost:5000", path: "team/app", tag: "1" }, "1"],
    ["Registry.Example.com:443/a/b/c@sha256:abc", { registry: "registry.example.com:443", path: "a/b/c", digest: "sha256:abc" }, ""],
    [
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:2.0.1@sha256:def",
      { registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", path: "checkout", tag: "2.0.1", digest: "sha256:def" },
      "",
    ],
    ["", { registry: "docker.io", path: "library/" }, "latest"],
  ])("%j", (ref, parts, tag) => {
    const r = parseImageRef(ref);
    expect(r).toEqual(parts);
    expect(pullTag(r)).toBe(tag);
  });
});

describe("the admission fields", () => {
  it("are listed with the k8s_audit source's own, and other names resolve there", () => {
    const names = ADMISSION_SOURCE.list().map((f) => f.name);
    for (const n of ADMISSION_FIELD_NAMES) expect(names).toContain(n);
    expect(names).toContain("ka.req.pod.containers.privileged");
    expect(names.length).toBe(new Set(names).size);
    expect([...names].sort()).toEqual(names);
    for (const n of ADMISSION_FIELD_NAMES) expect(k8sAuditSource.has(n), `${n} is Vigil's, not the k8s_audit source's`).toBe(false);
    expect(ADMISSION_SOURCE.has("ka.verb")).toBe(true);
    expect(ADMISSION_SOURCE.name).toBe("k8s_audit");
  });

  it("image registry, tag and digest per container", () => {
    const r = variant(POD, (p) => {
      (spec(p).containers as Json[]).push({ name: "sidecar", image: "envoyproxy/envoy:v1.31.0" }, { name: "pause", image: "registry.k8s.io/pause" });
    });
    expect(values(r, "ka.req.pod.containers.image.registry")).toEqual(["public.ecr.aws", "docker.io", "registry.k8s.io"]);
    expect(values(r, "ka.req.pod.containers.image.tag")).toEqual(["", "v1.31.0", "latest"]);
    expect(values(r, "ka.req.pod.containers.image.digest")).toEqual(["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "", ""]);
    expect(values(r, "ka.req.pod.containers.image.registry", "1")).toEqual(["docker.io"]);
    expect(values(r, "ka.req.pod.containers.image.registry", "3")).toBeUndefined();
    expect(rendered(r, "ka.req.pod.containers.image.tag")).toBe("(,v1.31.0,latest)");
  });

  it("eff_run_as_non_root: the container's securityContext over the pod's; a non-zero uid counts", () => {
    const cases: [Json, Json, string][] = [
      [{ runAsNonRoot: true }, {}, "true"],
      [{ runAsNonRoot: true }, { runAsNonRoot: false }, "false"],
      [{}, { runAsUser: 1000 }, "true"],
      [{ runAsUser: 1000 }, { runAsUser: 0 }, "false"],
      [{ runAsUser: 0, runAsNonRoot: true }, {}, "true"],
      [{}, {}, "false"],
      [{ runAsUser: 0 }, {}, "false"],
    ];
    for (const [podSc, cSc, want] of cases) {
      const r = variant(POD, (p) => {
        spec(p).securityContext = podSc;
        container(p).securityContext = cSc;
      });
      expect(values(r, "ka.req.pod.containers.eff_run_as_non_root"), JSON.stringify([podSc, cSc])).toEqual([want]);
    }
  });

  it("eff_allow_privilege_escalation: true unless set false, and always for privileged or CAP_SYS_ADMIN", () => {
    const cases: [Json, string][] = [
      [{ allowPrivilegeEscalation: false }, "false"],
      [{ allowPrivilegeEscalation: true }, "true"],
      [{}, "true"],
      [{ allowPrivilegeEscalation: false, privileged: true }, "true"],
      [{ allowPrivilegeEscalation: false, capabilities: { add: ["SYS_ADMIN"] } }, "true"],
      [{ allowPrivilegeEscalation: false, capabilities: { add: ["CAP_SYS_ADMIN"] } }, "true"],
      [{ allowPrivilegeEscalation: false, capabilities: { add: ["NET_ADMIN"] } }, "false"],
    ];
    for (const [cSc, want] of cases) {
      // a privileged container may not say false (the API server refuses); the field is checked apart from validation here
      const r = structuredClone(POD);
      container((r.request as Json).object as Json).securityContext = cSc;
      expect(values(r, "ka.req.pod.containers.eff_allow_privilege_escalation"), JSON.stringify(cSc)).toEqual([want]);
    }
  });

  it("limits and requests, empty when unset; init containers have their own list, ephemeral ones none here", () => {
    const r = variant(POD, (p) => (container(p, "initContainers").resources = { requests: { memory: "64Mi" } }));
    expect(values(r, "ka.req.pod.containers.limits.memory")).toEqual(["256Mi"]);
    expect(values(r, "ka.req.pod.containers.limits.cpu")).toEqual(["500m"]);
    expect(values(r, "ka.req.pod.containers.requests.cpu")).toEqual(["250m"]);
    expect(values(r, "ka.req.pod.initContainers.limits.memory")).toEqual([""]);
    expect(values(r, "ka.req.pod.initContainers.requests.memory")).toEqual(["64Mi"]);
    expect(values(r, "ka.req.pod.ephemeralContainers.limits.memory")).toBeUndefined();
    expect(values(fixture("ephemeral-debug.json"), "ka.req.pod.ephemeralContainers.image.registry")).toEqual(["docker.io"]);
  });

  it("service account (default when unset) and the pod's automount setting (missing when unset)", () => {
    expect(values(POD, "ka.req.pod.service_account")).toBe("default");
    expect(values(POD, "ka.req.pod.automount_service_account_token")).toBe("false");
    const r = variant(POD, (p) => {
      delete spec(p).serviceAccountName;
      delete spec(p).serviceAccount;
      delete spec(p).automountServiceAccountToken;
    });
    expect(values(r, "ka.req.pod.service_account")).toBe("default");
    expect(values(r, "ka.req.pod.automount_service_account_token")).toBeUndefined();
    // not a pod: missing
    expect(values(fixture("exec-connect.json"), "ka.req.pod.service_account")).toBeUndefined();
  });

  it("bad arguments fail compilation; shapes that are not objects read as missing or empty, never throw", () => {
    expect(() => ADMISSION_SOURCE.resolve("ka.req.pod.containers.limits.cpu", "x", DEFAULT_FIELD_CONTEXT)).toThrow(CompileError);
    expect(() => ADMISSION_SOURCE.resolve("ka.req.pod.service_account", "0", DEFAULT_FIELD_CONTEXT)).toThrow(CompileError);
    const odd = structuredClone(POD);
    const spec0 = ((odd.request as Json).object as Json).spec as Json;
    spec0.containers = ["not a container", null, { name: 7, image: 8, securityContext: "x", resources: [] }];
    spec0.securityContext = "nope";
    expect(values(odd, "ka.req.pod.containers.image.registry")).toEqual(["docker.io", "docker.io", "docker.io"]);
    expect(values(odd, "ka.req.pod.containers.eff_run_as_non_root")).toEqual(["false", "false", "false"]);
    expect(values(odd, "ka.req.pod.containers.limits.cpu")).toEqual(["", "", ""]);
  });
});
