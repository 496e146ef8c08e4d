// SPDX-License-Identifier: Apache-2.0
/**
 * The k8s_audit deployment files (deploy/k8s-audit/): the audit Policy is an audit.k8s.io/v1
 * Policy (strict schema from the API's Go types) whose first-match levels are what the rules need
 * and never log credentials' bodies; the webhook kubeconfig, read by @kubernetes/client-node as
 * client-go reads it, reaches a real collector's `POST /k8s-audit` over TLS with its token and
 * names the cluster; the EKS IAM policy grants what the CloudWatch reader calls, on the log group
 * the reader names its cluster from.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { loadAuditRules } from "../../agent/cli/k8s-audit-rules.js";
import { clusterOfLogGroup } from "../../collector/k8s-audit/cloudwatch.js";
import { startCollector } from "../../collector/server.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { validateAuditEventList } from "../helpers/audit-schema.js";
import { makeMtlsFiles } from "../helpers/mtls-certs.js";
import { memoryLogger, tempDir } from "./helpers.js";
import { eventList, execEvent, writeAuditRules } from "./k8s-audit-helpers.js";

const DIR = join(REPO_ROOT, "deploy", "k8s-audit");
const tmp = tempDir("vigil-k8s-audit-deploy-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// audit/v1 Policy and PolicyRule (k8s.io/apiserver/pkg/apis/audit/v1/types.go)
const Level = z.enum(["None", "Metadata", "Request", "RequestResponse"]);
const Stage = z.enum(["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]);
const GroupResources = z.strictObject({
  group: z.string().optional(),
  resources: z.array(z.string()).optional(),
  resourceNames: z.array(z.string()).optional(),
});
const PolicyRule = z.strictObject({
  level: Level,
  users: z.array(z.string()).optional(),
  userGroups: z.array(z.string()).optional(),
  verbs: z.array(z.string()).optional(),
  resources: z.array(GroupResources).optional(),
  namespaces: z.array(z.string()).optional(),
  nonResourceURLs: z.array(z.string()).optional(),
  omitStages: z.array(Stage).optional(),
  omitManagedFields: z.boolean().optional(),
});
const Policy = z.strictObject({
  apiVersion: z.literal("audit.k8s.io/v1"),
  kind: z.literal("Policy"),
  metadata: z.object({}).passthrough().optional(),
  rules: z.array(PolicyRule).min(1),
  omitStages: z.array(Stage).optional(),
  omitManagedFields: z.boolean().optional(),
});
type PolicyRule = z.infer<typeof PolicyRule>;

interface Req {
  user?: string;
  groups?: string[];
  verb: string;
  group?: string;
  resource?: string;
  namespace?: string;
  path?: string;
}

/** The API server's policy checker (k8s.io/apiserver/pkg/audit/policy/checker.go): the first rule whose every set criterion matches. */
function levelOf(rules: readonly PolicyRule[], r: Req): string {
  const has = (list: string[] | undefined, v: string | undefined) => list === undefined || list.length === 0 || (v !== undefined && list.includes(v));
  for (const rule of rules) {
    if (!has(rule.users, r.user)) continue;
    if (rule.userGroups !== undefined && rule.userGroups.length > 0 && !(r.groups ?? []).some((g) => rule.userGroups!.includes(g))) continue;
    if (!has(rule.verbs, r.verb)) continue;
    if (r.path !== undefined) {
      // a non-resource request matches only rules without resources or namespaces, with a matching URL
      if ((rule.resources?.length ?? 0) > 0 || (rule.namespaces?.length ?? 0) > 0) continue;
      if ((rule.nonResourceURLs?.length ?? 0) > 0 && !rule.nonResourceURLs!.some((u) => (u.endsWith("*") ? r.path!.startsWith(u.slice(0, -1)) : u === r.path)))
        continue;
      return rule.level;
    }
    if ((rule.nonResourceURLs?.length ?? 0) > 0) continue;
    if (!has(rule.namespaces, r.namespace)) continue;
    if (rule.resources !== undefined && rule.resources.length > 0) {
      const ok = rule.resources.some(
        (gr) =>
          (gr.group ?? "") === (r.group ?? "") &&
          (gr.resources === undefined || gr.resources.length === 0 || gr.resources.includes(r.resource ?? "") || gr.resources.includes("*")),
      );
      if (!ok) continue;
    }
    return rule.level;
  }
  return "None";
}

describe("deploy/k8s-audit/audit-policy.yaml", () => {
  const policy = Policy.parse(parse(readFileSync(join(DIR, "audit-policy.yaml"), "utf8")));

  it("is an audit.k8s.io/v1 Policy that drops RequestReceived and keeps ResponseStarted (exec/attach rules match it)", () => {
    expect(policy.omitStages).toEqual(["RequestReceived"]);
    for (const r of policy.rules) expect(r.omitStages ?? []).not.toContain("ResponseStarted");
  });

  it.each(
    (
      [
        ["a secret read", { user: "system:serviceaccount:payments:batch", verb: "get", resource: "secrets", namespace: "payments" }, "Metadata"],
        ["a secret written", { user: "alice", verb: "update", resource: "secrets", namespace: "payments" }, "Metadata"],
        ["a service-account token request", { user: "alice", verb: "create", resource: "serviceaccounts/token", namespace: "default" }, "Request"],
        ["a token review", { user: "system:kube-controller-manager", verb: "create", group: "authentication.k8s.io", resource: "tokenreviews" }, "Metadata"],
        ["a pod created", { user: "alice", verb: "create", resource: "pods", namespace: "default" }, "Request"],
        ["an exec", { user: "alice", verb: "create", resource: "pods/exec", namespace: "default" }, "Request"],
        ["a port-forward", { user: "alice", verb: "create", resource: "pods/portforward", namespace: "default" }, "Request"],
        ["a ClusterRoleBinding created", { user: "alice", verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings" }, "Request"],
        [
          "a webhook configuration changed",
          { user: "alice", verb: "patch", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" },
          "Request",
        ],
        ["a ConfigMap changed", { user: "alice", verb: "update", resource: "configmaps", namespace: "default" }, "RequestResponse"],
        ["a ConfigMap read", { user: "alice", verb: "get", resource: "configmaps", namespace: "default" }, "RequestResponse"],
        [
          "a lease renewed",
          { user: "system:kube-scheduler", verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "kube-system" },
          "None",
        ],
        ["an event written", { user: "system:node:ip-10-0-1-2", verb: "create", resource: "events", namespace: "default" }, "None"],
        ["events deleted", { user: "alice", verb: "deletecollection", resource: "events", namespace: "default" }, "Metadata"],
        ["a secret created", { user: "alice", verb: "create", resource: "secrets", namespace: "default" }, "Metadata"],
        ["a CSR approved", { user: "alice", verb: "update", group: "certificates.k8s.io", resource: "certificatesigningrequests/approval" }, "Request"],
        ["a kubelet reached through nodes/proxy", { user: "alice", verb: "get", resource: "nodes/proxy" }, "Metadata"],
        ["a DaemonSet deleted", { user: "alice", verb: "delete", group: "apps", resource: "daemonsets", namespace: "vigil" }, "Request"],
        ["kube-proxy watching", { user: "system:kube-proxy", verb: "watch", resource: "endpoints" }, "None"],
        ["a health check", { user: "system:anonymous", verb: "get", path: "/readyz" }, "None"],
        ["an anonymous API discovery", { user: "system:anonymous", verb: "get", path: "/api/v1" }, "Metadata"],
      ] as [string, Req, string][]
    ).map(([what, req, level]) => [`${what}: ${level}`, req, level] as const),
  )("%s", (_what, req, level) => {
    expect(levelOf(policy.rules, req)).toBe(level);
  });

  it("never logs the bodies of secrets or the tokens the API server issues", () => {
    for (const verb of ["create", "update", "patch", "get", "list", "delete"]) {
      expect(["None", "Metadata"], `${verb} secrets`).toContain(levelOf(policy.rules, { user: "u", verb, resource: "secrets", namespace: "ns" }));
      // a TokenRequest's response holds the token: never RequestResponse
      expect(levelOf(policy.rules, { user: "u", verb, resource: "serviceaccounts/token", namespace: "ns" }), verb).not.toBe("RequestResponse");
      expect(["None", "Metadata"], `${verb} tokenreviews`).toContain(
        levelOf(policy.rules, { user: "u", verb, group: "authentication.k8s.io", resource: "tokenreviews" }),
      );
    }
  });
});

describe("deploy/k8s-audit/audit-policy.yaml and the recorded events of the k8s_audit pack", () => {
  const policy = Policy.parse(parse(readFileSync(join(DIR, "audit-policy.yaml"), "utf8")));
  const RANK: Record<string, number> = { None: 0, Metadata: 1, Request: 2, RequestResponse: 3 };
  const FIXTURES = join(REPO_ROOT, "test", "fixtures", "k8s-audit");
  const events = existsSync(FIXTURES)
    ? readdirSync(FIXTURES)
        .filter((f) => f.endsWith(".json"))
        .flatMap((f) => {
          const o = JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as { items?: Record<string, unknown>[] };
          return (o.items ?? [o]).map((e, i) => [`${f}#${i}`, e] as const);
        })
    : [];

  const pack = loadAuditRules([]);

  it("the built-in pack loads", () => {
    expect(pack.ok).toBe(true);
  });

  /** What the API server would log of the event under the policy: undefined at None, objects dropped below their levels. */
  function underPolicy(e: Record<string, unknown>): Record<string, unknown> | undefined {
    const ref = e["objectRef"] as { apiGroup?: string; resource?: string; subresource?: string; namespace?: string } | undefined;
    const user = e["user"] as { username?: string; groups?: string[] };
    const req: Req = {
      verb: String(e["verb"]),
      ...(user.username !== undefined ? { user: user.username } : {}),
      ...(user.groups !== undefined ? { groups: user.groups } : {}),
      ...(ref === undefined
        ? { path: String(e["requestURI"]).split("?")[0] }
        : {
            group: ref.apiGroup ?? "",
            resource: ref.subresource !== undefined ? `${ref.resource}/${ref.subresource}` : (ref.resource ?? ""),
            ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}),
          }),
    };
    const level = levelOf(policy.rules, req);
    if (level === "None") return undefined;
    const out: Record<string, unknown> = { ...e, level };
    if (RANK[level]! < RANK["Request"]!) delete out["requestObject"];
    if (RANK[level]! < RANK["RequestResponse"]!) delete out["responseObject"];
    return out;
  }

  it.each(events)("%s: the pack's rules fire on it as logged under the policy as on the recording", (_name, e) => {
    const fired = (ev: Record<string, unknown> | undefined) => (ev === undefined ? [] : pack.rules.evaluate(ev, { cluster: "c" }).map((m) => m.rule));
    const logged = underPolicy(e);
    // the one rule the policy gives up on purpose (secret values stay out of the log): see its header
    const want = fired(e).filter((r) => r !== "K8s Long-Lived Service Account Token Secret Created");
    expect(fired(logged)).toEqual(want);
  });
});

describe("deploy/k8s-audit/audit-webhook-kubeconfig.yaml", () => {
  it("read as client-go reads it, reaches POST /k8s-audit over TLS with the token, and names the cluster", async () => {
    mkdirSync(join(tmp, "certs"));
    const certs = makeMtlsFiles(join(tmp, "certs"));
    const token = "kubeconfig-token-0123456789";
    const col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token,
      tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
      k8sAudit: { rules: loadAuditRules([writeAuditRules(tmp)]).rules },
      logger: memoryLogger().logger,
    });
    try {
      const port = col.address.slice(col.address.lastIndexOf(":") + 1);
      const text = readFileSync(join(DIR, "audit-webhook-kubeconfig.yaml"), "utf8")
        .replace("COLLECTOR_ADDRESS:9377", `localhost:${port}`)
        .replace("?cluster=CLUSTER_NAME", "?cluster=self-managed-1")
        .replace("certificate-authority-data: CA_BASE64", `certificate-authority-data: ${readFileSync(certs.caCert).toString("base64")}`)
        .replace("token: TOKEN", `token: ${token}`);
      // every placeholder of the settings (the comments name them too) was filled in
      const settings = text
        .split("\n")
        .filter((l) => !l.trimStart().startsWith("#"))
        .join("\n");
      expect(settings).not.toMatch(/COLLECTOR_ADDRESS|CLUSTER_NAME|CA_BASE64|TOKEN/);
      const kc = new KubeConfig();
      kc.loadFromString(text);
      const server = new URL(kc.getCurrentCluster()!.server);
      expect(server.pathname).toBe("/k8s-audit");
      const opts: import("node:https").RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      const list = eventList([execEvent({ pod: "via-kubeconfig" })]);
      validateAuditEventList(list);
      const body = JSON.stringify(list);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          server,
          {
            ...opts,
            method: "POST",
            headers: { ...(opts.headers ?? {}), "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
      expect(status).toBe(200);
      const stored = await col.store.query({}, 10);
      expect(stored.map((s) => [s.alert.rule, s.alert.hostname])).toEqual([["Test Exec Into Pod", "self-managed-1"]]);
    } finally {
      await col.close();
    }
  });
});

describe("deploy/k8s-audit/eks-audit-reader-iam-policy.json", () => {
  it("allows FilterLogEvents and DescribeLogStreams on the EKS cluster's log group the reader names its cluster from", () => {
    const doc = JSON.parse(readFileSync(join(DIR, "eks-audit-reader-iam-policy.json"), "utf8")) as {
      Version: string;
      Statement: { Effect: string; Action: string[]; Resource: string[] }[];
    };
    expect(doc.Version).toBe("2012-10-17");
    const st = doc.Statement[0]!;
    expect(st.Effect).toBe("Allow");
    expect(st.Action.sort()).toEqual(["logs:DescribeLogStreams", "logs:FilterLogEvents"]);
    for (const arn of st.Resource) {
      const m = /^arn:aws:logs:REGION:ACCOUNT_ID:log-group:(\/aws\/eks\/CLUSTER_NAME\/cluster)(:\*)?$/.exec(arn);
      expect(m, arn).not.toBeNull();
      expect(clusterOfLogGroup(m![1]!)).toBe("CLUSTER_NAME");
    }
  });
});
