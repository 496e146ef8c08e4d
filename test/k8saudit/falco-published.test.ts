// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's published k8saudit rules (falcosecurity/plugins, plugins/k8saudit/rules/
 * k8s_audit_rules.yaml) on the recorded audit events of test/fixtures/k8s-audit/: each rule fires
 * where its description says it should. The file is not in ../shared/corpus and third-party rules
 * are not copied into this repository, so the test runs when VIGIL_FALCO_K8SAUDIT_RULES names a
 * copy (`VIGIL_FALCO_K8SAUDIT_RULES=/path/k8s_audit_rules.yaml npx vitest run test/k8saudit/falco-published.test.ts`).
 * Without it, rules-cmd.test.ts and rules.test.ts keep the fields and constructs the file uses
 * under test with rules of our own.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SyscallEvent } from "../../rules/event.js";
import { loadRuleFiles } from "../../rules/index.js";
import { AuditEvent, k8sAuditSource } from "../../rules/k8saudit/index.js";
import { REPO_ROOT } from "../helpers/agent.js";

const published = process.env.VIGIL_FALCO_K8SAUDIT_RULES;
const present = published !== undefined && existsSync(published);
const DIR = join(REPO_ROOT, "test/fixtures/k8s-audit");

/** Recorded event file → the published rules that must fire on it (from each rule's desc). */
const MUST_FIRE: Record<string, string[]> = {
  "pod-privileged.json": ["Create Privileged Pod"],
  "pod-host-pid.json": ["Create HostPid Pod"],
  "pod-host-root-mount.json": ["Create Sensitive Mount Pod"],
  "pod-eks-kube-proxy.json": ["Create Privileged Pod", "Create HostNetwork Pod", "Pod Created in Kube Namespace"],
  "attach-spdy.json": ["Attach/Exec Pod"],
  "crb-cluster-admin.json": ["Attach to cluster-admin Role", "K8s ClusterRoleBinding Created"],
  "clusterrole-wildcard.json": ["ClusterRole With Wildcard Created", "K8s ClusterRole Created"],
  "role-pod-exec.json": ["ClusterRole With Pod Exec Created", "ClusterRole With Write Privileges Created"],
  "anonymous-list-pods.json": ["Anonymous Request Allowed"],
  "ephemeral-debug.json": ["EphemeralContainers Created"],
  "sa-token-by-user.json": ["K8s Serviceaccount Created", "Service Account Created in Kube Namespace"],
  "secret-opaque-create.json": ["K8s Secret Created"],
  "forbidden-kubelet.json": ["K8s Secret Get Unsuccessfully Tried"],
  "configmap-plain-create.json": ["K8s ConfigMap Created"],
};
/** … and rules that must not (a compliant pod, a system component's routine reads). */
const MUST_NOT_FIRE: Record<string, string[]> = {
  "pod-restricted.json": ["Create Privileged Pod", "Create HostNetwork Pod", "Create HostPid Pod", "Create Sensitive Mount Pod", "Disallowed K8s User"],
  "secrets-kubelet.json": ["K8s Secret Get Unsuccessfully Tried", "Disallowed K8s User"],
  "crb-view-oncall.json": ["Attach to cluster-admin Role"],
  "clusterrole-readonly.json": ["ClusterRole With Wildcard Created", "ClusterRole With Write Privileges Created", "ClusterRole With Pod Exec Created"],
};

describe.runIf(present)("Falco's published k8saudit rules on the recorded events", () => {
  const res = loadRuleFiles([{ path: published as string, text: present ? readFileSync(published as string, "utf8") : "" }], {
    sources: [k8sAuditSource],
    ruleMatching: "all",
  });
  const set = res.rulesets.get("k8s_audit");

  function fired(file: string): Set<string> {
    const list = JSON.parse(readFileSync(join(DIR, file), "utf8")) as { items: Record<string, unknown>[] };
    const out = new Set<string>();
    for (const ev of list.items) set?.evaluate(AuditEvent.from(ev) as unknown as SyscallEvent, (r) => out.add(r.name));
    return out;
  }

  it("load with zero errors and zero warnings", () => {
    expect(res.diagnostics).toEqual([]);
    expect(set?.rules.length).toBeGreaterThan(40);
  });

  it.each(Object.entries(MUST_FIRE))("%s fires %j", (file, rules) => {
    const got = fired(file);
    for (const r of rules) expect(got, `${file}: ${[...got].join(", ")}`).toContain(r);
  });

  it.each(Object.entries(MUST_NOT_FIRE))("%s does not fire %j", (file, rules) => {
    const got = fired(file);
    for (const r of rules) expect(got).not.toContain(r);
  });
});
