// SPDX-License-Identifier: Apache-2.0
/**
 * The built-in admission pack (rules/files/admission/): every policy fires on a recorded review
 * that breaks it and stays quiet on a near miss, over pods, workload templates, init and
 * ephemeral containers; the compliant pod matches nothing. Then how a policy's mode is decided
 * (--admission, admission.* tags, --policy-mode by name and tag, off) and how loading fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdmissionError, loadPolicies, parseModeOverride } from "../../agent/admission/index.js";
import { container, fixture, matched, request, spec, validator, variant, type Json } from "./helpers.js";

const POD = fixture("compliant-pod.json");
const enforce = validator({ mode: "enforce" });

/** The first container's securityContext of a pod. */
const sc = (pod: Json, list: "containers" | "initContainers" = "containers"): Json => container(pod, list)["securityContext"] as Json;

const DIGEST = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/** [policy, what the trigger does, trigger, what the near miss does, near miss]. */
const CASES: [string, string, Json, string, Json][] = [
  [
    "Privileged Container",
    "privileged: true",
    variant(POD, (p) => (sc(p).privileged = true)),
    "privileged: false",
    variant(POD, (p) => (sc(p).privileged = false)),
  ],
  [
    "Privileged Container",
    "a privileged init container",
    variant(POD, (p) => (sc(p, "initContainers").privileged = true)),
    "an unprivileged init container",
    variant(POD, (p) => (sc(p, "initContainers").privileged = false)),
  ],
  ["Host PID Namespace", "hostPID: true", variant(POD, (p) => (spec(p).hostPID = true)), "hostPID: false", variant(POD, (p) => (spec(p).hostPID = false))],
  ["Host IPC Namespace", "hostIPC: true", variant(POD, (p) => (spec(p).hostIPC = true)), "hostIPC: false", variant(POD, (p) => (spec(p).hostIPC = false))],
  [
    "Host Network Namespace",
    "hostNetwork: true",
    variant(POD, (p) => (spec(p).hostNetwork = true)),
    "hostNetwork: false",
    variant(POD, (p) => (spec(p).hostNetwork = false)),
  ],
  [
    "HostPath Volume",
    "a hostPath volume of the containerd socket",
    variant(POD, (p) => (spec(p).volumes as Json[]).push({ name: "sock", hostPath: { path: "/run/containerd/containerd.sock", type: "Socket" } })),
    "a configMap volume",
    variant(POD, (p) => (spec(p).volumes as Json[]).push({ name: "cfg", configMap: { name: "checkout" } })),
  ],
  [
    "Capability Beyond Baseline Added",
    "adds NET_ADMIN",
    variant(POD, (p) => ((sc(p).capabilities as Json).add = ["NET_ADMIN"])),
    "adds CHOWN and NET_BIND_SERVICE (baseline)",
    variant(POD, (p) => ((sc(p).capabilities as Json).add = ["CHOWN", "NET_BIND_SERVICE"])),
  ],
  [
    "Capability Beyond Baseline Added",
    "an init container adds SYS_ADMIN",
    variant(POD, (p) => ((sc(p, "initContainers").capabilities as Json).add = ["SYS_ADMIN"])),
    "an init container adds KILL",
    variant(POD, (p) => ((sc(p, "initContainers").capabilities as Json).add = ["KILL"])),
  ],
  [
    "Privilege Escalation Allowed",
    "allowPrivilegeEscalation unset (the default: true)",
    variant(POD, (p) => delete sc(p).allowPrivilegeEscalation),
    "allowPrivilegeEscalation: false",
    POD,
  ],
  [
    "Container May Run As Root",
    "runAsUser 0 without runAsNonRoot",
    variant(POD, (p) => {
      delete (spec(p).securityContext as Json).runAsNonRoot;
      delete sc(p).runAsNonRoot;
      sc(p).runAsUser = 0;
    }),
    "runAsUser 1000 without runAsNonRoot",
    variant(POD, (p) => {
      delete (spec(p).securityContext as Json).runAsNonRoot;
      delete sc(p).runAsNonRoot;
      sc(p).runAsUser = 1000;
    }),
  ],
  [
    "Container May Run As Root",
    "runAsNonRoot: false and no runAsUser anywhere (the image's USER decides)",
    variant(POD, (p) => {
      spec(p).securityContext = {};
      sc(p).runAsNonRoot = false;
      delete sc(p).runAsUser;
    }),
    "runAsNonRoot: true on the pod, no runAsUser anywhere",
    variant(POD, (p) => {
      spec(p).securityContext = { runAsNonRoot: true };
      delete sc(p).runAsNonRoot;
      delete sc(p).runAsUser;
    }),
  ],
  [
    "Image From Untrusted Registry",
    "an image from Docker Hub",
    variant(POD, (p) => (container(p).image = `nginx:1.27@${DIGEST}`)),
    "an image from registry.k8s.io",
    variant(POD, (p) => (container(p).image = `registry.k8s.io/pause:3.10@${DIGEST}`)),
  ],
  [
    "Image From Untrusted Registry",
    "an init container image from ghcr.io",
    variant(POD, (p) => (container(p, "initContainers").image = `ghcr.io/acme/migrate:1@${DIGEST}`)),
    "an init container image from public.ecr.aws",
    variant(POD, (p) => (container(p, "initContainers").image = `public.ecr.aws/acme/migrate:1@${DIGEST}`)),
  ],
  [
    "Image Not Pinned By Digest",
    "an image by tag only",
    variant(POD, (p) => (container(p).image = "public.ecr.aws/shop/checkout:2.0.1")),
    "an image by digest only",
    variant(POD, (p) => (container(p).image = `public.ecr.aws/shop/checkout@${DIGEST}`)),
  ],
  [
    "Image With Latest Or No Tag",
    "an image without tag or digest",
    variant(POD, (p) => (container(p).image = "public.ecr.aws/shop/checkout")),
    "an image tagged 2.0.1",
    variant(POD, (p) => (container(p).image = "public.ecr.aws/shop/checkout:2.0.1")),
  ],
  [
    "Image With Latest Or No Tag",
    "an image tagged latest",
    variant(POD, (p) => (container(p).image = "public.ecr.aws/shop/checkout:latest")),
    "latest pinned by a digest (the digest is what is pulled)",
    variant(POD, (p) => (container(p).image = `public.ecr.aws/shop/checkout:latest@${DIGEST}`)),
  ],
  [
    "Container Without Resource Limits",
    "no CPU limit",
    variant(POD, (p) => delete ((container(p).resources as Json).limits as Json).cpu),
    "CPU and memory limits",
    POD,
  ],
  [
    "Container Without Resource Limits",
    "an init container without limits",
    variant(POD, (p) => (container(p, "initContainers").resources = {})),
    "an init container with limits",
    POD,
  ],
  [
    "Service Account Token Automounted",
    "the default service account, automount left to it",
    variant(POD, (p) => delete spec(p).automountServiceAccountToken),
    "its own service account, automount left to it",
    variant(POD, (p) => {
      delete spec(p).automountServiceAccountToken;
      spec(p).serviceAccountName = "checkout";
      spec(p).serviceAccount = "checkout";
    }),
  ],
];

describe("the built-in admission pack", () => {
  it("loads 13 policies, each tagged with a MITRE technique, a tactic and a CIS recommendation or PSS profile", () => {
    const p = loadPolicies({ defaultMode: "audit" });
    expect(p.policies).toHaveLength(13);
    for (const { rule } of p.policies) {
      expect(rule.source, rule.name).toBe("k8s_audit");
      expect(
        rule.tags.some((t) => /^T\d{4}(\.\d{3})?$/.test(t)),
        rule.name,
      ).toBe(true);
      expect(
        rule.tags.some((t) => t.startsWith("mitre_")),
        rule.name,
      ).toBe(true);
      expect(rule.tags.some((t) => t.startsWith("CIS-K8S-") || t.startsWith("pss.")) || rule.tags.includes("resources"), rule.name).toBe(true);
    }
    // every policy of the pack has a case here
    expect(new Set(CASES.map((c) => c[0]))).toEqual(new Set(p.policies.map((x) => x.rule.name)));
  });

  it("the compliant pod (recorded) matches no policy", () => {
    expect(matched(enforce, POD)).toEqual([]);
  });

  it.each(CASES)("%s: fires on %s, not on %s", (policy, _t, trigger, _n, miss) => {
    expect(matched(enforce, trigger)).toContain(policy);
    expect(matched(enforce, miss)).not.toContain(policy);
  });

  it("reads a Deployment's pod template: host network, a hostPath, an image from Docker Hub by :latest", () => {
    expect(matched(enforce, fixture("deployment.json")).sort()).toEqual(
      [
        "Container May Run As Root",
        "Container Without Resource Limits",
        "Host Network Namespace",
        "HostPath Volume",
        "Image From Untrusted Registry",
        "Image Not Pinned By Digest",
        "Image With Latest Or No Tag",
        "Privilege Escalation Allowed",
        "Service Account Token Automounted",
      ].sort(),
    );
  });

  it("reads a CronJob's job template: its privileged init container adding SYS_ADMIN", () => {
    const m = matched(enforce, fixture("cronjob.json"));
    expect(m).toContain("Privileged Container");
    expect(m).toContain("Capability Beyond Baseline Added");
    expect(m).not.toContain("Image From Untrusted Registry");
  });

  it("reads ephemeral containers (kubectl debug --profile=sysadmin adds a privileged one)", () => {
    const m = matched(enforce, fixture("ephemeral-debug.json"));
    expect(m).toContain("Privileged Container");
    expect(m).toContain("Image From Untrusted Registry");
  });

  it("ignores what carries no pod: exec (CONNECT), a ConfigMap", () => {
    expect(matched(enforce, fixture("exec-connect.json"))).toEqual([]);
    const cm = variant(POD, (_o, req) => {
      req.kind = { group: "", version: "v1", kind: "ConfigMap" };
      req.resource = { group: "", version: "v1", resource: "configmaps" };
      req.requestKind = req.kind;
      req.requestResource = req.resource;
      req.object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "shop" }, data: { privileged: "true" } };
    });
    expect(matched(enforce, cm)).toEqual([]);
  });

  it("the tuning lists work: a namespace exemption, an allowed host path, a replaced registry list", () => {
    const tmp = mkdtempSync(join(tmpdir(), "vigil-adm-tune-"));
    try {
      const local = join(tmp, "local.yaml");
      writeFileSync(
        local,
        [
          "- list: admission_privileged_namespaces",
          "  items: [dev]",
          "  override: { items: append }",
          "- list: admission_allowed_host_paths",
          "  items: [/run/containerd/containerd.sock]",
          "  override: { items: append }",
          "- list: admission_allowed_registries",
          "  items: [docker.io]",
          "  override: { items: replace }",
          "",
        ].join("\n"),
      );
      const tuned = validator({ mode: "enforce", paths: [local] });
      expect(matched(enforce, fixture("privileged-pod.json"))).toContain("Privileged Container");
      expect(matched(tuned, fixture("privileged-pod.json"))).not.toContain("Privileged Container");
      const dep = fixture("deployment.json");
      expect(matched(tuned, dep)).not.toContain("HostPath Volume");
      expect(matched(tuned, dep)).not.toContain("Image From Untrusted Registry");
      // public.ecr.aws is no longer allowed
      expect(matched(tuned, POD)).toEqual(["Image From Untrusted Registry"]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("policy modes", () => {
  const modes = (v: ReturnType<typeof loadPolicies>) => Object.fromEntries(v.policies.map((p) => [p.rule.name, p.mode]));

  it("--admission is the mode of untagged policies; admission.audit-tagged ones stay audit", () => {
    const e = modes(loadPolicies({ defaultMode: "enforce" }));
    expect(e["Privileged Container"]).toBe("enforce");
    expect(e["HostPath Volume"]).toBe("enforce");
    expect(e["Container May Run As Root"]).toBe("audit");
    expect(e["Image From Untrusted Registry"]).toBe("audit");
    const a = modes(loadPolicies({ defaultMode: "audit" }));
    expect(new Set(Object.values(a))).toEqual(new Set(["audit"]));
  });

  it("--policy-mode by name beats one by tag, which beats the policy's tag; the last of a kind wins", () => {
    const m = modes(
      loadPolicies({
        defaultMode: "audit",
        overrides: [
          "tag:pss.restricted=enforce",
          "Container May Run As Root=off",
          "tag:pss.baseline=enforce",
          "Host IPC Namespace=audit",
          "Host IPC Namespace=off",
        ].map(parseModeOverride),
      }),
    );
    expect(m["Privilege Escalation Allowed"]).toBe("enforce");
    expect(m["Container May Run As Root"]).toBe("off");
    expect(m["Privileged Container"]).toBe("enforce");
    expect(m["Host IPC Namespace"]).toBe("off");
    expect(m["Image Not Pinned By Digest"]).toBe("audit");
  });

  it("an off policy is not reported; an enforce one denies, an audit one only reports", () => {
    const v = validator({ mode: "enforce", overrides: [parseModeOverride("Privileged Container=off")] });
    const d = v.decide(request(fixture("privileged-pod.json")));
    expect(d.matches.map((x) => x.policy)).not.toContain("Privileged Container");
    expect(d.matches.length).toBeGreaterThan(0);
    expect(d.matches.every((x) => x.mode === "audit")).toBe(true);
    expect(d.allowed).toBe(true);
    expect(validator({ mode: "enforce" }).decide(request(fixture("privileged-pod.json"))).allowed).toBe(false);
  });

  it("a policy's own admission.enforce tag enforces it under --admission audit", () => {
    const tmp = mkdtempSync(join(tmpdir(), "vigil-adm-tag-"));
    try {
      const f = join(tmp, "mine.yaml");
      writeFileSync(
        f,
        [
          "- rule: No Pods In Default",
          "  desc: pods go in their team's namespace",
          "  condition: admission_pod_request and ka.target.namespace = default",
          "  output: pod in the default namespace (user=%ka.user.name)",
          "  priority: WARNING",
          "  source: k8s_audit",
          "  tags: [admission.enforce, T1610]",
          "",
        ].join("\n"),
      );
      const p = loadPolicies({ defaultMode: "audit", paths: [f] });
      expect(p.policies.find((x) => x.rule.name === "No Pods In Default")).toMatchObject({ mode: "enforce", modeFrom: "tag" });
      expect(p.policies.find((x) => x.rule.name === "Privileged Container")).toMatchObject({ mode: "audit", modeFrom: "default" });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.each([
    ["Privileged Container", /expects NAME=MODE/],
    ["=enforce", /expects NAME=MODE/],
    ["tag:=audit", /expects NAME=MODE/],
    ["Privileged Container=deny", /mode must be one of enforce, audit, off/],
  ])("--policy-mode %j is refused", (s, re) => {
    expect(() => parseModeOverride(s)).toThrow(re);
  });

  it("a --policy-mode that names no policy or no tag is an error, not a silent no-op", () => {
    expect(() => loadPolicies({ defaultMode: "audit", overrides: [parseModeOverride("Privileged Containers=off")] })).toThrow(
      /no policy named 'Privileged Containers'/,
    );
    expect(() => loadPolicies({ defaultMode: "audit", overrides: [parseModeOverride("tag:pss.restrictd=enforce")] })).toThrow(
      /no policy has the tag 'pss.restrictd'/,
    );
    // a name with '=' in it splits at the last one
    expect(parseModeOverride("a=b=enforce")).toEqual({ selector: "a=b", mode: "enforce" });
  });
});

describe("loading", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vigil-adm-load-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("a policy with an unknown field stops the load with file:line:col (a hole in admission control is not skipped)", () => {
    const f = join(tmp, "bad.yaml");
    writeFileSync(
      f,
      "- rule: Bad\n  desc: d\n  condition: ka.req.pod.containers.imagez intersects (x)\n  output: o\n  priority: WARNING\n  source: k8s_audit\n",
    );
    let err: unknown;
    try {
      loadPolicies({ defaultMode: "audit", paths: [f] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdmissionError);
    expect((err as AdmissionError).code).toBe("POLICY_LOAD");
    expect((err as Error).message).toMatch(new RegExp(`^${f}:3:\\d+: rule 'Bad': .*ka\\.req\\.pod\\.containers\\.imagez`));
  });

  it("conflicting mode tags on one policy are refused", () => {
    const f = join(tmp, "conflict.yaml");
    writeFileSync(
      f,
      "- rule: Both\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: WARNING\n  source: k8s_audit\n  tags: [admission.enforce, admission.audit]\n",
    );
    expect(() => loadPolicies({ defaultMode: "audit", paths: [f], builtin: false })).toThrow(/conflicting mode tags/);
  });

  it("files without a k8s_audit rule, or a missing file, are load errors", () => {
    const f = join(tmp, "syscall.yaml");
    writeFileSync(f, "- rule: S\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: WARNING\n");
    expect(() => loadPolicies({ defaultMode: "audit", paths: [f], builtin: false })).toThrow(/no enabled rule with source: k8s_audit/);
    expect(() => loadPolicies({ defaultMode: "audit", paths: [join(tmp, "nope.yaml")] })).toThrow(/nope\.yaml/);
    expect(() => loadPolicies({ defaultMode: "audit", builtin: false })).toThrow(/no policy files/);
  });
});
