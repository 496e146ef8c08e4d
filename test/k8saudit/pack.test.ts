// SPDX-License-Identifier: Apache-2.0
/**
 * Vigil's k8s_audit pack (rules/files/k8s-audit/vigil-k8s-audit.yaml) against the recorded audit
 * events of test/fixtures/k8s-audit/: it loads with no error and no warning, every event of every
 * recording fires exactly the rules listed for it (most fire none), every rule has a recorded event
 * that triggers it and near misses that do not, and every rule is MITRE-tagged.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRuleFiles, type CompiledRule, type LoadResult, type RuleSet } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { AuditEvent, k8sAuditSource } from "../../rules/k8saudit/index.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { validateAuditEventList } from "../helpers/audit-schema.js";

const PACK = join(REPO_ROOT, "rules/files/k8s-audit/vigil-k8s-audit.yaml");
const FIXTURES = join(REPO_ROOT, "test/fixtures/k8s-audit");

/** Short keys of the pack's rules. */
const RULES = {
  exec: "K8s Exec Or Attach Into Pod",
  ephemeral: "K8s Ephemeral Debug Container Added",
  nodeproxy: "K8s Kubelet API Access Through Node Proxy",
  portforward: "K8s Port-Forward To Pod",
  secretread: "K8s Secret Read By Unexpected Identity",
  cmwrite: "K8s ConfigMap With Credentials Created Or Modified",
  cmread: "K8s ConfigMap With Credentials Read",
  token: "K8s Service Account Token Requested",
  tokensecret: "K8s Long-Lived Service Account Token Secret Created",
  csr: "K8s Certificate Signing Request Approved By User",
  privileged: "K8s Privileged Pod Created",
  hostns: "K8s Pod Created With Host Namespaces",
  hostpath: "K8s Pod Mounts Sensitive Host Path",
  caps: "K8s Pod With Dangerous Capabilities Created",
  psa: "K8s Pod Security Admission Violation",
  crbadmin: "K8s Binding To Cluster-Admin Created",
  anonbinding: "K8s Binding Grants Access To Anonymous Or All Users",
  wildcard: "K8s Role With Wildcard Permissions Created",
  escalating: "K8s Role Grants Escalating Permissions",
  awsauth: "K8s EKS aws-auth ConfigMap Modified",
  anonymous: "K8s Anonymous Request Allowed",
  impersonation: "K8s Impersonation Of Privileged Identity",
  forbidden: "K8s API Request Forbidden",
  admission: "K8s Admission Control Configuration Changed",
  secagent: "K8s Security Agent Workload Deleted",
  events: "K8s Events Deleted",
} as const;
type RuleKey = keyof typeof RULES;

/** For every recorded EventList, per event in order: the rules it must fire (and no others). */
const EXPECTED: Record<string, readonly (readonly RuleKey[])[]> = {
  "anonymous-forbidden.json": [[]],
  "anonymous-list-pods.json": [[], ["anonymous"]],
  "anonymous-livez.json": [[]],
  "attach-spdy.json": [[], ["exec"], []],
  "aws-auth-edit.json": [[], ["awsauth"]],
  "aws-auth-read.json": [[]],
  "clusterrole-aggregation-update.json": [[], []],
  "clusterrole-impersonator.json": [[], ["escalating"]],
  "clusterrole-readonly.json": [[], []],
  "clusterrole-wildcard.json": [[], ["wildcard"]],
  "configmap-credentials-create.json": [[], ["cmwrite"]],
  "configmap-credentials-read.json": [["cmread"]],
  "configmap-kubelet-read.json": [[]],
  "configmap-plain-create.json": [[]],
  "crb-anonymous.json": [[], ["anonbinding"]],
  "crb-bootstrap-reconcile.json": [[], []],
  "crb-cluster-admin.json": [[], ["crbadmin"]],
  "crb-view-oncall.json": [[], []],
  "csr-approve-by-eks.json": [[]],
  "csr-approve-by-user.json": [[], ["csr"]],
  "csr-deny-by-user.json": [[]],
  "daemonset-deleted-other.json": [[]],
  "ephemeral-debug-invalid.json": [[]],
  "ephemeral-debug.json": [[], ["ephemeral"]],
  "events-deleted.json": [[], ["events"]],
  "events-namespace-cleanup.json": [[]],
  "exec-forbidden.json": [[], [], ["forbidden"]],
  "exec-websocket.json": [[], ["exec"], []],
  "forbidden-kubelet.json": [[]],
  "forbidden-workload-token.json": [[], ["forbidden"]],
  "impersonate-developer.json": [[]],
  "impersonate-masters.json": [[], ["impersonation"]],
  "node-proxy-metrics.json": [[], []],
  "node-proxy-pods.json": [["nodeproxy"], []],
  "node-proxy-run.json": [[], ["nodeproxy"], []],
  "not-found.json": [[]],
  "pod-eks-kube-proxy.json": [[]],
  "pod-host-pid.json": [[], ["hostns"]],
  "pod-host-root-mount.json": [[], ["hostpath"]],
  "pod-log-shipper.json": [[]],
  "pod-net-bind.json": [[], []],
  "pod-privileged-init.json": [[], ["privileged"]],
  "pod-privileged.json": [[], ["privileged"]],
  "pod-restricted.json": [[], []],
  "pod-sys-admin.json": [[], ["caps"]],
  "pod-vigil-agent.json": [[]],
  "portforward.json": [[], ["portforward"], []],
  "psa-audit-violation.json": [["psa"]],
  "psa-enforce-denied.json": [[], ["psa"]],
  "role-pod-exec.json": [[], ["escalating"]],
  "sa-token-by-kubelet.json": [[]],
  "sa-token-by-user.json": [[], ["token"]],
  "secret-opaque-create.json": [[]],
  "secret-sa-token-create.json": [[], ["tokensecret"]],
  "secrets-helm-list.json": [[]],
  "secrets-kubelet.json": [[]],
  "secrets-list-by-workload.json": [[], ["secretread"]],
  "security-agent-deleted.json": [[], ["secagent"]],
  "webhook-config-cainjector.json": [[]],
  "webhook-config-deleted.json": [[], ["admission"]],
};

/**
 * Near misses per rule: recorded events that look like the rule's target (same resource, verb,
 * subresource or identity) and must not fire it: another stage of the same request, a denied or
 * failed request, an identity the rule expects, an object without the dangerous property.
 */
const NEAR_MISSES: Record<RuleKey, readonly (readonly [string, number])[]> = {
  exec: [
    ["exec-websocket.json", 2],
    ["exec-forbidden.json", 1],
    ["attach-spdy.json", 0],
  ],
  ephemeral: [
    ["ephemeral-debug-invalid.json", 0],
    ["ephemeral-debug.json", 0],
  ],
  nodeproxy: [
    ["node-proxy-metrics.json", 0],
    ["node-proxy-run.json", 2],
  ],
  portforward: [
    ["portforward.json", 2],
    ["portforward.json", 0],
  ],
  secretread: [
    ["secrets-kubelet.json", 0],
    ["secrets-helm-list.json", 0],
    ["forbidden-workload-token.json", 1],
  ],
  cmwrite: [
    ["configmap-plain-create.json", 0],
    ["aws-auth-edit.json", 1],
  ],
  cmread: [
    ["configmap-kubelet-read.json", 0],
    ["aws-auth-read.json", 0],
  ],
  token: [["sa-token-by-kubelet.json", 0]],
  tokensecret: [["secret-opaque-create.json", 0]],
  csr: [
    ["csr-approve-by-eks.json", 0],
    ["csr-deny-by-user.json", 0],
  ],
  privileged: [
    ["pod-restricted.json", 1],
    ["pod-eks-kube-proxy.json", 0],
    ["psa-enforce-denied.json", 1],
  ],
  hostns: [
    ["pod-vigil-agent.json", 0],
    ["pod-eks-kube-proxy.json", 0],
    ["pod-restricted.json", 1],
  ],
  hostpath: [
    ["pod-log-shipper.json", 0],
    ["pod-vigil-agent.json", 0],
    ["pod-eks-kube-proxy.json", 0],
  ],
  caps: [
    ["pod-net-bind.json", 1],
    ["pod-vigil-agent.json", 0],
  ],
  psa: [
    ["pod-restricted.json", 1],
    ["pod-privileged.json", 1],
  ],
  crbadmin: [
    ["crb-view-oncall.json", 1],
    ["crb-anonymous.json", 1],
  ],
  anonbinding: [
    ["crb-bootstrap-reconcile.json", 1],
    ["crb-view-oncall.json", 1],
  ],
  wildcard: [
    ["clusterrole-readonly.json", 1],
    ["clusterrole-impersonator.json", 1],
  ],
  escalating: [
    ["clusterrole-readonly.json", 1],
    ["clusterrole-aggregation-update.json", 1],
    ["clusterrole-wildcard.json", 1],
  ],
  awsauth: [["aws-auth-read.json", 0]],
  anonymous: [
    ["anonymous-livez.json", 0],
    ["anonymous-forbidden.json", 0],
  ],
  impersonation: [["impersonate-developer.json", 0]],
  forbidden: [
    ["forbidden-kubelet.json", 0],
    ["anonymous-forbidden.json", 0],
    ["not-found.json", 0],
    ["exec-forbidden.json", 1],
  ],
  admission: [["webhook-config-cainjector.json", 0]],
  secagent: [["daemonset-deleted-other.json", 0]],
  events: [["events-namespace-cleanup.json", 0]],
};

interface Recorded {
  file: string;
  index: number;
  obj: Record<string, unknown>;
}

/** Every recorded EventList, checked against the audit schema on the way in. */
function recordings(): Map<string, Recorded[]> {
  const out = new Map<string, Recorded[]>();
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith(".json"))) {
    const list = validateAuditEventList(JSON.parse(readFileSync(join(FIXTURES, file), "utf8")), file);
    out.set(
      file,
      list.items.map((obj, index) => ({ file, index, obj: obj as Record<string, unknown> })),
    );
  }
  return out;
}

function load(extra: { path: string; text: string }[] = []): LoadResult {
  return loadRuleFiles([{ path: PACK, text: readFileSync(PACK, "utf8") }, ...extra], { sources: [k8sAuditSource], ruleMatching: "all" });
}

function auditRules(result: LoadResult): RuleSet {
  const set = result.rulesets.get("k8s_audit");
  if (set === undefined) throw new Error("no k8s_audit rule set");
  return set;
}

/** The rules an event fires (sorted) and each one's output message. */
function fired(rs: RuleSet, obj: Record<string, unknown>): { rules: string[]; outputs: Map<string, string> } {
  const rules: string[] = [];
  const outputs = new Map<string, string>();
  rs.evaluate(AuditEvent.from(obj) as unknown as SyscallEvent, (rule: CompiledRule, e: SyscallEvent) => {
    rules.push(rule.name);
    outputs.set(rule.name, rule.format(e).message);
  });
  return { rules: rules.sort(), outputs };
}

describe("k8s_audit pack", () => {
  let result: LoadResult;
  let rs: RuleSet;
  let recorded: Map<string, Recorded[]>;
  const event = (file: string, index: number): Record<string, unknown> => {
    const ev = recorded.get(file)?.[index];
    if (ev === undefined) throw new Error(`no recorded event ${file}#${index}`);
    return ev.obj;
  };
  beforeAll(() => {
    result = load();
    rs = auditRules(result);
    recorded = recordings();
  });

  it("loads with zero errors and zero warnings", () => {
    expect(result.diagnostics).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.ruleset.rules).toHaveLength(0);
    expect(rs.rules.map((r) => r.name).sort()).toEqual(Object.values(RULES).sort());
  });

  it("tags every rule with a MITRE tactic and technique and gives it the k8s_audit source, a desc and a priority", () => {
    for (const r of rs.rules) {
      expect(r.source, r.name).toBe("k8s_audit");
      expect(
        r.tags.filter((t) => /^T\d{4}(\.\d{3})?$/.test(t)),
        r.name,
      ).toHaveLength(1);
      expect(
        r.tags.some((t) => t.startsWith("mitre_")),
        r.name,
      ).toBe(true);
      expect(r.tags, r.name).toEqual(expect.arrayContaining(["k8s", "k8s_audit"]));
      expect(r.desc.length, r.name).toBeGreaterThan(40);
      expect(r.priority, r.name).toBeLessThanOrEqual(5);
    }
  });

  it("has an expectation for every recorded file and event", () => {
    expect([...recorded.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [file, events] of recorded) expect(events.length, file).toBe(EXPECTED[file]?.length);
  });

  it("fires on every recorded event exactly the expected rules", () => {
    const problems: string[] = [];
    for (const [file, events] of recorded) {
      for (const ev of events) {
        const want = (EXPECTED[file]?.[ev.index] ?? []).map((k) => RULES[k]).sort();
        const got = fired(rs, ev.obj).rules;
        if (JSON.stringify(got) !== JSON.stringify(want))
          problems.push(`${file}#${ev.index} (${String(ev.obj.stage)}): fired [${got.join(", ")}], expected [${want.join(", ")}]`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(Object.keys(RULES) as RuleKey[])("%s: a recorded event triggers it and near misses do not", (key) => {
    const name = RULES[key];
    const triggers = [...recorded.values()].flat().filter((ev) => EXPECTED[ev.file]?.[ev.index]?.includes(key));
    expect(triggers.length, `no recorded trigger for ${name}`).toBeGreaterThan(0);
    for (const ev of triggers) {
      const { rules, outputs } = fired(rs, ev.obj);
      expect(rules, `${ev.file}#${ev.index}`).toContain(name);
      // the output names the identity and the audit record it came from
      const out = outputs.get(name) ?? "";
      const user = (ev.obj.user as { username?: string }).username ?? "";
      expect(out).toContain(`user=${user} `);
      expect(out).toContain(`auditid=${String(ev.obj.auditID)}`);
    }
    const misses = NEAR_MISSES[key];
    expect(misses.length).toBeGreaterThan(0);
    for (const [file, index] of misses) {
      expect(EXPECTED[file]?.[index], `${file}#${index} is listed as a trigger`).not.toContain(key);
      expect(fired(rs, event(file, index)).rules, `${file}#${index}`).not.toContain(name);
    }
  });

  it("renders the fields an analyst needs in the outputs", () => {
    const exec = fired(rs, event("exec-websocket.json", 1)).outputs.get(RULES.exec) ?? "";
    expect(exec).toMatch(/^Exec or attach into a pod \| /);
    expect(exec).toContain("action=exec pod=api-7d9f8b6c5-x2x9k ns=payments container=api command=sh ");
    expect(exec).toContain('sourceips=["203.0.113.45"]');
    const priv = fired(rs, event("pod-privileged.json", 1)).outputs.get(RULES.privileged) ?? "";
    expect(priv).toContain("images=(docker.io/nicolaka/netshoot:v0.13) privileged=(true) init=<NA> ");
    const init = fired(rs, event("pod-privileged-init.json", 1)).outputs.get(RULES.privileged) ?? "";
    expect(init).toContain("images=(docker.io/library/opensearch:2.17.1) privileged=<NA> init=sysctl ");
    const crb = fired(rs, event("crb-cluster-admin.json", 1)).outputs.get(RULES.crbadmin) ?? "";
    expect(crb).toContain("user=system:serviceaccount:payments:api verb=create binding=payments-api-admin");
    expect(crb).toContain("role=cluster-admin");
    const hp = fired(rs, event("pod-host-root-mount.json", 1)).outputs.get(RULES.hostpath) ?? "";
    expect(hp).toContain("hostpaths=(/)");
  });

  it("is tuned by appending to its lists and exceptions", () => {
    const tuning = `
- list: vigil_ka_exec_allowed_users
  items: [arn:aws:sts::111122223333:assumed-role/platform-admin/alice]
  override:
    items: append
- rule: K8s Secret Read By Unexpected Identity
  exceptions:
    - name: user_in_namespace
      values:
        - [system:serviceaccount:payments:api, payments]
  override:
    exceptions: append
- rule: K8s Privileged Pod Created
  exceptions:
    - name: namespace_images
      values:
        - [default, [docker.io/nicolaka/netshoot]]
  override:
    exceptions: append
`;
    const tuned = load([{ path: "/etc/vigil/rules.d/tuning.yaml", text: tuning }]);
    expect(tuned.diagnostics).toEqual([]);
    const t = auditRules(tuned);
    expect(fired(t, event("exec-websocket.json", 1)).rules).toEqual([]);
    // bob's attach is still reported: the list names alice only
    expect(fired(t, event("attach-spdy.json", 1)).rules).toEqual([RULES.exec]);
    expect(fired(t, event("pod-privileged.json", 1)).rules).toEqual([]);
    // the exception pairs identity and namespace: the cluster-wide list is not in namespace payments
    expect(fired(t, event("secrets-list-by-workload.json", 1)).rules).toEqual([RULES.secretread]);
    const inNs = structuredClone(event("secrets-list-by-workload.json", 1)) as Record<string, unknown> & { objectRef: Record<string, unknown> };
    inNs.objectRef.namespace = "payments";
    expect(fired(rs, inNs).rules).toEqual([RULES.secretread]);
    expect(fired(t, inNs).rules).toEqual([]);
  });
});
