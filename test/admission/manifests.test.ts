// SPDX-License-Identifier: Apache-2.0
/**
 * Admission control's manifests: `vigil webhook --print-config validating` prints valid objects
 * (kubernetes-models) with the documented failure policy; deploy/admission (rendered by kustomize)
 * is that output but for the differences its comments give; its Deployment's own args start the
 * real webhook; the serving certificate (gen-certs.sh, cert-manager) names its Service.
 */
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration";
import { admissionManifests, LOCAL_POLICIES } from "../../agent/admission/index.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { validateReviewResponse } from "../helpers/admission-schema.js";
import { writeLocalhostCert } from "../inject/localhost-cert.js";
import { type Doc, IMAGE, MODELS, parseDocs, renderDocs } from "../deploy/manifests.js";
import { fixture, type Json } from "./helpers.js";

type Ctor = new (d: never) => { validate(): void };
function validate(d: Doc): void {
  const key = `${d.apiVersion}/${d.kind}`;
  const Model = key === "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration" ? (ValidatingWebhookConfiguration as unknown as Ctor) : MODELS[key];
  if (Model === undefined) throw new Error(`no schema model for ${key}`);
  new Model(d as never).validate();
}

const tmp = mkdtempSync(join(tmpdir(), "vigil-adm-manifests-"));
let ca = "";
beforeAll(() => {
  writeLocalhostCert(tmp);
  ca = readFileSync(join(tmp, "cert.pem"), "utf8");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const printConfig = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, "webhook", "--print-config", "validating", "--ca-bundle", join(tmp, "cert.pem"), ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return parseDocs(r.stdout, "print-config");
};

interface Webhook {
  name: string;
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  admissionReviewVersions: string[];
  clientConfig: { caBundle?: string; service: { name: string; namespace: string; path: string; port: number } };
  rules: { operations: string[]; apiGroups: string[]; apiVersions: string[]; resources: string[]; scope: string }[];
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
  objectSelector: Json;
}
const webhookOf = (docs: Doc[]) => (docs.find((d) => d.kind === "ValidatingWebhookConfiguration") as unknown as { webhooks: Webhook[] }).webhooks[0] as Webhook;
interface PodSpec {
  containers: { args: string[]; image: string; resources: Json }[];
  volumes: Json[];
  nodeSelector?: Record<string, string>;
}
const deploymentOf = (docs: Doc[]) => (docs.find((d) => d.kind === "Deployment") as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

describe("vigil webhook --print-config validating", () => {
  it("prints valid objects: ServiceAccount, ConfigMap, Deployment, Service, PodDisruptionBudget, ValidatingWebhookConfiguration", () => {
    const docs = printConfig();
    expect(docs.map((d) => d.kind)).toEqual(["ServiceAccount", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "ValidatingWebhookConfiguration"]);
    for (const d of docs) expect(() => validate(d), d.kind).not.toThrow();
    // the validator of the test rejects a broken configuration
    const broken = structuredClone(docs[5]) as Doc & { webhooks: { sideEffects: unknown }[] };
    (broken.webhooks[0] as { sideEffects: unknown }).sideEffects = 7;
    expect(() => validate(broken)).toThrow();
  });

  it("the webhook configuration: /validate of vigil/vigil-admission, Ignore, None, 3 s, v1, pods and every workload template", () => {
    const w = webhookOf(printConfig());
    expect(w.name).toBe("validate.vigil.dev");
    expect(w.clientConfig.service).toEqual({ name: "vigil-admission", namespace: "vigil", path: "/validate", port: 443 });
    expect(Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString()).toBe(ca);
    expect([w.failurePolicy, w.sideEffects, w.timeoutSeconds, w.admissionReviewVersions]).toEqual(["Ignore", "NoneOnDryRun", 3, ["v1"]]);
    expect(w.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((x) => `${g}/${x}`))).sort()).toEqual(
      [
        "/pods",
        "/pods/ephemeralcontainers",
        "/replicationcontrollers",
        "/podtemplates",
        "apps/deployments",
        "apps/replicasets",
        "apps/statefulsets",
        "apps/daemonsets",
        "batch/jobs",
        "batch/cronjobs",
      ].sort(),
    );
    for (const r of w.rules) expect(r.operations).toEqual(["CREATE", "UPDATE"]);
    expect(w.namespaceSelector.matchExpressions).toEqual([
      { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "vigil"] },
      { key: "vigil.dev/admission", operator: "NotIn", values: ["disabled"] },
    ]);
    expect(w.objectSelector).toEqual({});
  });

  it("--fail-closed: failurePolicy Fail and a fail-closed webhook; --service and --admission carry over", () => {
    const docs = printConfig("--fail-closed", "--service", "security/gate", "--admission", "enforce");
    const w = webhookOf(docs);
    expect(w.failurePolicy).toBe("Fail");
    expect(w.clientConfig.service).toMatchObject({ namespace: "security", name: "gate" });
    expect(w.namespaceSelector.matchExpressions[0]?.values).toEqual(["kube-system", "security"]);
    const args = deploymentOf(docs).containers[0]?.args ?? [];
    expect(args).toContain("--fail-closed");
    expect(args.slice(args.indexOf("--admission"), args.indexOf("--admission") + 2)).toEqual(["--admission", "enforce"]);
  });

  it("runs least-privileged: no token, non-root, read-only, no capabilities, 0440 Secrets readable through fsGroup", () => {
    const [dep] = printConfig().filter((d) => d.kind === "Deployment") as unknown as { spec: { template: { spec: Json } } }[];
    const spec = dep?.spec.template.spec as Json;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
    const c = (spec.containers as Json[])[0] as Json;
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } });
  });
});

describe("deploy/admission", () => {
  const docs = renderDocs("deploy/admission");

  it("validates against the Kubernetes schemas", () => {
    for (const d of docs) expect(() => validate(d), `${d.kind}/${d.metadata.name}`).not.toThrow();
  });

  it("is what --print-config validating --alert-collector prints, but for the differences its comments give", () => {
    const printed = admissionManifests({
      namespace: "vigil",
      service: "vigil-admission",
      image: IMAGE,
      tlsSecret: "vigil-webhook-tls",
      mode: "audit",
      alerts: { address: "vigil-collector.vigil.svc:9377", tokenSecret: "vigil-collector-token", caSecret: "vigil-collector-tls" },
    }) as unknown as Doc[];
    const id = (d: Doc) => `${d.kind}/${d.metadata.name}`;
    // the rendered one has the collector's NetworkPolicy besides
    expect(docs.map(id).sort()).toEqual([...printed.map(id), "NetworkPolicy/vigil-collector-admission"].sort());
    for (const p of printed) {
      const d = structuredClone(docs.find((x) => id(x) === id(p)) as Doc) as Doc & Json;
      if (d.kind === "ValidatingWebhookConfiguration") {
        // cert-manager's CA injector fills caBundle
        expect(d.metadata.annotations).toEqual({ "cert-manager.io/inject-ca-from": "vigil/vigil-webhook" });
        delete d.metadata.annotations;
      }
      if (d.kind === "Deployment") {
        expect((d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
        delete (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec.nodeSelector;
      }
      expect(d, id(p)).toEqual(JSON.parse(JSON.stringify(p)));
    }
    expect((docs.find((d) => d.kind === "ConfigMap") as unknown as { data: Record<string, string> }).data["local_policies.yaml"]).toBe(LOCAL_POLICIES);
  });

  it("the NetworkPolicy lets the admission pods reach the collector's port", () => {
    const np = docs.find((d) => d.kind === "NetworkPolicy") as unknown as {
      spec: { podSelector: Json; ingress: { from: { podSelector: Json }[]; ports: Json[] }[] };
    };
    expect(np.spec.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "vigil-collector" } });
    expect(np.spec.ingress[0]?.from[0]?.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "vigil-admission" } });
    expect(np.spec.ingress[0]?.ports).toEqual([{ port: 9377, protocol: "TCP" }]);
  });

  it("its serving certificate names its Service: cert-manager's Certificate and deploy/gen-certs.sh", () => {
    const certs = renderDocs("deploy/cert-manager").filter((d) => d.kind === "Certificate") as unknown as (Doc & {
      spec: { secretName: string; dnsNames?: string[] };
    })[];
    const webhookCert = certs.find((c) => c.spec.secretName === "vigil-webhook-tls");
    expect(webhookCert?.spec.dnsNames).toEqual(expect.arrayContaining(["vigil-admission.vigil.svc", "vigil-webhook.vigil.svc"]));
    expect(webhookCert?.metadata.name).toBe("vigil-webhook");
    const out = join(tmp, "certs");
    const r = spawnSync("bash", [join(REPO_ROOT, "deploy", "gen-certs.sh"), out, "security"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const crt = new X509Certificate(readFileSync(join(out, "webhook.crt")));
    for (const n of ["vigil-admission.security.svc", "vigil-admission.security.svc.cluster.local", "vigil-webhook.security.svc"])
      expect(crt.checkHost(n), n).toBeTruthy();
  });

  it("its Deployment's args start the real webhook, which answers /validate in audit mode", async () => {
    const c = deploymentOf(docs).containers[0] as { args: string[] };
    const dir = join(tmp, "run");
    mkdirSync(join(dir, "policies"), { recursive: true });
    writeFileSync(join(dir, "policies", "local_policies.yaml"), LOCAL_POLICIES);
    writeFileSync(join(dir, "token"), "t0k3n\n");
    const swap: Record<string, string> = {
      "/etc/vigil/tls/tls.crt": join(tmp, "cert.pem"),
      "/etc/vigil/tls/tls.key": join(tmp, "key.pem"),
      "/etc/vigil/admission": join(dir, "policies"),
      "/var/run/secrets/vigil/token": join(dir, "token"),
      "/var/run/secrets/vigil-collector-ca/ca.crt": join(tmp, "cert.pem"),
      "/var/spool/vigil": join(dir, "spool"),
      "vigil-collector.vigil.svc:9377": "127.0.0.1:1",
      "9443": "0",
    };
    const args = c.args.map((a) => swap[a] ?? a);
    expect(args[0]).toBe("webhook");
    const child = spawn(process.execPath, [CLI, ...args, "--host", "127.0.0.1", "--metrics-port", "0"], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, VIGIL_LOG_FORMAT: "json" },
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let buf = "";
        const t = setTimeout(() => reject(new Error(`no ready line: ${buf}`)), 20_000);
        child.stderr.on("data", (d: Buffer) => {
          buf += d.toString();
          const line = buf.split("\n").find((l) => l.includes("vigil webhook ready"));
          if (line !== undefined) {
            clearTimeout(t);
            resolve((JSON.parse(line) as { port: number }).port);
          }
        });
      });
      const body = JSON.stringify(fixture("privileged-pod.json"));
      const answer = await new Promise<Json>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: "127.0.0.1",
            port,
            path: "/validate",
            method: "POST",
            ca,
            servername: "localhost",
            headers: { "content-type": "application/json" },
            agent: false,
          },
          (res) => {
            let t = "";
            res.on("data", (d: Buffer) => (t += d.toString()));
            res.on("end", () => resolve(JSON.parse(t) as Json));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
      const a = validateReviewResponse(answer);
      expect(a.response.allowed).toBe(true);
      expect(a.response.warnings?.[0]).toMatch(/^vigil audit: \[Privileged Container\]/);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
