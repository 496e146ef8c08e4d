// SPDX-License-Identifier: Apache-2.0
/**
 * The kustomize layout in deploy/: every kustomization renders with the kubectl at hand and uses
 * only what kustomize v2.0.3 understands, every object of every one validates against its schema
 * (Kubernetes OpenAPI, cert-manager CRDs), the overlays compose as documented, the Fargate
 * overlay's webhook is what `vigil webhook --print-config` prints and starts from its own args, the
 * Falco drop-in overlay is the EKS one reading a falco.yaml the agent's own code accepts,
 * the certificates (gen-certs.sh, cert-manager) name what the clients dial, and
 * scripts/render-manifests.mjs keeps tags and daemonset.yaml in step.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { webhookManifests } from "../../agent/inject/index.js";
import { type AgentFlags, registerAgent } from "../../agent/cli/agent-cmd.js";
import { agentConfig } from "../../agent/cli/agent-config.js";
import { readFalcoYaml } from "../../agent/config/falco-yaml.js";
import { CLI } from "../helpers/agent.js";
import { type Doc, find, IMAGE, KUSTOMIZATIONS, MODELS, PACKAGE_VERSION, RENDER, REPO_ROOT, renderDocs, validate } from "./manifests.js";

/** Where the Fargate overlay's webhook has the sidecars ship (its --collector flags). */
const SHIPPING = { address: "vigil-collector.vigil.svc:9377", secret: "vigil-collector", tls: true };
const rendered = Object.fromEntries(KUSTOMIZATIONS.map((k) => [k, renderDocs(k)])) as Record<(typeof KUSTOMIZATIONS)[number], Doc[]>;
const id = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ""}/${d.metadata.name}`;
const podSpecs = (docs: Doc[]) =>
  docs
    .filter((d) => d.kind === "DaemonSet" || d.kind === "Deployment")
    .map((d) => [id(d), (d as unknown as { spec: { template: { spec: IPodSpec } } }).spec.template.spec] as const);

function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFilesUnder(p));
    else if (e.name.endsWith(".yaml")) out.push(p);
  }
  return out;
}

describe("kustomizations", () => {
  it.each(KUSTOMIZATIONS)("%s uses only fields kustomize v2.0.3 (kubectl 1.20) knows", (k) => {
    const kust = parse(readFileSync(join(REPO_ROOT, k, "kustomization.yaml"), "utf8")) as Record<string, unknown>;
    for (const key of Object.keys(kust)) expect(["resources", "bases", "patchesStrategicMerge"], `${k}: ${key}`).toContain(key);
    // v2.0.3 takes folders only under `bases`
    for (const r of (kust["resources"] as string[] | undefined) ?? []) expect(r, `${k}: resource ${r}`).toMatch(/\.yaml$/);
  });

  const all = KUSTOMIZATIONS.flatMap((k) => rendered[k].map((d) => [`${k}: ${d.kind}/${d.metadata.name}`, d] as const));
  it.each(all)("%s validates against its schema", (_n, d) => {
    expect(() => validate(d)).not.toThrow();
  });

  const kinds = [...new Map(KUSTOMIZATIONS.flatMap((k) => rendered[k]).map((d) => [`${d.apiVersion}/${d.kind}`, d])).entries()];
  it.each(kinds)("the %s validator rejects a broken object", (_k, d) => {
    const broken = structuredClone(d) as { metadata: { name: unknown } };
    broken.metadata.name = 42;
    expect(() => validate(broken as unknown as Doc)).toThrow();
  });

  it("knows a schema for every kind the manifests use, and no kind is left unvalidated", () => {
    for (const [k] of kinds) expect(MODELS[k], k).toBeDefined();
    expect(() => validate({ apiVersion: "example.com/v1", kind: "Gadget", metadata: { name: "x" } })).toThrow(/no schema model/);
  });

  it("the EKS overlay is the base plus a gp3 StorageClass that the collector's claim names", () => {
    const base = new Set(rendered["deploy/base"].map(id));
    const eks = rendered["deploy/overlays/eks"];
    expect(eks.map(id).filter((x) => !base.has(x))).toEqual(["StorageClass//vigil-gp3"]);
    const basePvc = find<{ spec: { storageClassName?: string } }>(rendered["deploy/base"], "PersistentVolumeClaim", "vigil-collector-data");
    expect(basePvc.spec.storageClassName).toBeUndefined(); // the base takes the cluster default
    const pvc = find<{ spec: { storageClassName?: string } }>(eks, "PersistentVolumeClaim", "vigil-collector-data");
    expect(pvc.spec.storageClassName).toBe("vigil-gp3");
    // nothing else differs
    const strip = (d: Doc) => {
      const c = structuredClone(d) as Doc & { spec?: { storageClassName?: string } };
      if (c.kind === "PersistentVolumeClaim") delete c.spec?.storageClassName;
      return c;
    };
    for (const d of rendered["deploy/base"]) expect(strip(eks.find((x) => id(x) === id(d)) as Doc), id(d)).toEqual(strip(d));
  });

  it("the Fargate overlay is the EKS overlay plus the webhook's objects", () => {
    const eks = rendered["deploy/overlays/eks"];
    const far = rendered["deploy/overlays/eks-fargate"];
    for (const d of eks)
      expect(
        far.find((x) => id(x) === id(d)),
        id(d),
      ).toEqual(d);
    expect(
      far
        .filter((d) => !eks.some((x) => id(x) === id(d)))
        .map(id)
        .sort(),
    ).toEqual([
      "Deployment/vigil/vigil-webhook",
      "MutatingWebhookConfiguration//vigil-inject",
      "NetworkPolicy/vigil/vigil-collector-sidecars",
      "PodDisruptionBudget/vigil/vigil-webhook",
      "Service/vigil/vigil-webhook",
      "ServiceAccount/vigil/vigil-webhook",
    ]);
  });

  it("every image is the release's, ghcr.io/vigil-security/vigil:<package.json version>, the webhook's sidecar too", () => {
    for (const k of KUSTOMIZATIONS)
      for (const [name, spec] of podSpecs(rendered[k])) {
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) expect(c.image, `${k} ${name} ${c.name}`).toBe(IMAGE);
      }
    const web = find<{ spec: { template: { spec: IPodSpec } } }>(rendered["deploy/overlays/eks-fargate"], "Deployment", "vigil-webhook");
    const args = web.spec.template.spec.containers[0]?.args ?? [];
    expect(args[args.indexOf("--image") + 1]).toBe(IMAGE);
    // and every reference in the sources (render-manifests.mjs sets them)
    for (const f of yamlFilesUnder("deploy"))
      for (const m of readFileSync(join(REPO_ROOT, f), "utf8").matchAll(/ghcr\.io\/vigil-security\/vigil:([^\s"',\]]+)/g))
        expect(m[1], f).toBe(PACKAGE_VERSION);
  });

  it.each(KUSTOMIZATIONS.flatMap((k) => podSpecs(rendered[k]).map(([n, s]) => [`${k} ${n}`, s] as const)))(
    "%s: every container has cpu and memory requests and a memory limit, and no API token but the agent's",
    (_n, spec) => {
      // the agent's Kubernetes API context reads with a read-only ClusterRole (base/agent.yaml)
      expect(spec.automountServiceAccountToken).toBe(_n.endsWith(" DaemonSet/vigil/vigil-agent"));
      for (const c of spec.containers as IContainer[]) {
        expect(c.resources?.requests?.["cpu"], c.name).toBeDefined();
        expect(c.resources?.requests?.["memory"], c.name).toBeDefined();
        expect(c.resources?.limits?.["memory"], c.name).toBeDefined();
        expect(c.securityContext?.allowPrivilegeEscalation, c.name).toBe(false);
        expect(c.securityContext?.capabilities?.drop, c.name).toEqual(["ALL"]);
      }
    },
  );
});

describe("RBAC", () => {
  const readme = readFileSync(join(REPO_ROOT, "deploy", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## RBAC"), readme.indexOf("\n## ", readme.indexOf("## RBAC") + 1));

  it("deploy/README.md explains, for every ServiceAccount of every overlay, what it may do and why", () => {
    expect(readme).toContain("## RBAC");
    const accounts = new Set(
      KUSTOMIZATIONS.flatMap((k) => rendered[k])
        .filter((d) => d.kind === "ServiceAccount")
        .map((d) => d.metadata.name),
    );
    expect([...accounts].sort()).toEqual(["vigil-agent", "vigil-collector", "vigil-webhook"]);
    for (const a of accounts) expect(section, a).toMatch(new RegExp(`\\| \`${a}\` \\|`));
  });

  it("binds only the agent's read-only ClusterRole; every Role must come with a comment above each rule", () => {
    for (const k of KUSTOMIZATIONS) {
      const agent = rendered[k].some((d) => d.kind === "DaemonSet" && d.metadata.name === "vigil-agent");
      expect(rendered[k].filter((d) => /Role/.test(d.kind)).map(id), k).toEqual(agent ? ["ClusterRole//vigil-agent", "ClusterRoleBinding//vigil-agent"] : []);
    }
    // the rule for later: any Role/ClusterRole source has a comment line above each `- apiGroups`
    for (const f of yamlFilesUnder("deploy")) {
      const t = readFileSync(join(REPO_ROOT, f), "utf8");
      if (!/^kind: (Cluster)?Role$/m.test(t)) continue;
      const lines = t.split("\n");
      lines.forEach((l, i) => {
        if (/^\s*- apiGroups:/.test(l)) expect(lines[i - 1]?.trim().startsWith("#"), `${f}:${i + 1}`).toBe(true);
      });
    }
  });
});

describe("the Fargate webhook (deploy/overlays/eks-fargate)", () => {
  const far = rendered["deploy/overlays/eks-fargate"];
  const mine = (d: Doc) => d.metadata.name === "vigil-webhook" || d.kind === "MutatingWebhookConfiguration";

  it("is what `vigil webhook --print-config` prints, but for the differences its comments give", () => {
    const printed = webhookManifests({
      namespace: "vigil",
      service: "vigil-webhook",
      caBundle: "unused",
      image: IMAGE,
      tlsSecret: "vigil-webhook-tls",
      collector: SHIPPING,
    }) as unknown as Doc[];
    const ours = far.filter(mine).map((d) => structuredClone(d)) as (Doc & Record<string, never>)[];
    type Pod = { spec: { template: { spec: IPodSpec } } };
    type Mwc = { metadata: { annotations?: Record<string, string> }; webhooks: { clientConfig: { caBundle?: string } }[] };
    for (const d of ours) {
      if (d.kind === "MutatingWebhookConfiguration") {
        // 1. no caBundle: cert-manager's CA injector or a one-time patch sets it
        const m = d as unknown as Mwc;
        expect(m.webhooks[0]?.clientConfig.caBundle).toBeUndefined();
        // 2. the annotation the injector reads, naming the Certificate of deploy/cert-manager
        expect(m.metadata.annotations).toEqual({ "cert-manager.io/inject-ca-from": "vigil/vigil-webhook" });
        delete m.metadata.annotations;
      }
      if (d.kind === "Deployment") {
        const s = (d as unknown as Pod).spec.template.spec;
        // 3. Linux nodes only
        expect(s.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
        delete s.nodeSelector;
        // 4. the memory request is the measured working set (110 MiB idle), not 64Mi
        const r = s.containers[0]?.resources;
        expect(r?.requests?.["memory"]).toBe("128Mi");
        if (r?.requests) r.requests["memory"] = "64Mi";
      }
    }
    for (const p of printed) {
      if (p.kind === "MutatingWebhookConfiguration") delete (p as unknown as Mwc).webhooks[0]?.clientConfig.caBundle;
    }
    const byId = new Map(ours.map((d) => [id(d), d]));
    expect(ours.map(id).sort()).toEqual(printed.map(id).sort());
    for (const p of printed) expect(byId.get(id(p)), id(p)).toEqual(JSON.parse(JSON.stringify(p)));
  });

  it("sends the sidecars' alerts to the collector's Service over TLS, and the collector admits them", () => {
    const svc = find<{ metadata: { name: string; namespace: string }; spec: { ports: { port: number }[] } }>(far, "Service", "vigil-collector");
    expect(SHIPPING.address).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc:${svc.spec.ports[0]?.port}`);
    const np = find<{ spec: { podSelector: { matchLabels: Record<string, string> }; ingress: { from: unknown[]; ports: { port: number }[] }[] } }>(
      far,
      "NetworkPolicy",
      "vigil-collector-sidecars",
    );
    expect(np.spec.podSelector).toEqual(find<{ spec: { podSelector: unknown } }>(far, "NetworkPolicy", "vigil-collector").spec.podSelector);
    expect(np.spec.ingress).toEqual([
      {
        from: [
          { namespaceSelector: {}, podSelector: { matchExpressions: [{ key: "eks.amazonaws.com/fargate-profile", operator: "Exists" }] } },
          { namespaceSelector: {}, podSelector: { matchLabels: { "vigil.dev/inject": "true" } } },
        ],
        ports: [{ port: 9377, protocol: "TCP" }],
      },
    ]);
  });

  it("serves HTTPS on the Service's target port for the name the API server dials, with the TLS Secret's files", () => {
    const svc = find<{ spec: { ports: { port: number; targetPort: string }[] } }>(far, "Service", "vigil-webhook");
    const mwc = find<{ webhooks: { clientConfig: { service: { name: string; namespace: string; port: number; path: string } } }[] }>(
      far,
      "MutatingWebhookConfiguration",
      "vigil-inject",
    );
    const ref = mwc.webhooks[0]?.clientConfig.service;
    expect(ref).toEqual({ name: "vigil-webhook", namespace: "vigil", port: svc.spec.ports[0]?.port, path: "/mutate" });
    const dep = find<{ spec: { template: { spec: IPodSpec } } }>(far, "Deployment", "vigil-webhook");
    const c = dep.spec.template.spec.containers[0] as IContainer;
    const port = c.ports?.find((p) => p.name === svc.spec.ports[0]?.targetPort);
    const args = c.args ?? [];
    expect(String(port?.containerPort)).toBe(args[args.indexOf("--port") + 1]);
    const tlsVol = dep.spec.template.spec.volumes?.find((v) => v.secret?.secretName === "vigil-webhook-tls");
    const mount = c.volumeMounts?.find((m) => m.name === tlsVol?.name);
    expect(args[args.indexOf("--tls-cert") + 1]).toBe(`${mount?.mountPath}/tls.crt`);
    expect(args[args.indexOf("--tls-key") + 1]).toBe(`${mount?.mountPath}/tls.key`);
  });

  describe("its args start the real `vigil webhook` (certificates from deploy/gen-certs.sh)", () => {
    let tmp: string;
    let child: ChildProcess;
    let port = 0;
    let stderr = "";
    const file = (f: string) => join(tmp, "certs", f);

    beforeAll(async () => {
      tmp = mkdtempSync(join(tmpdir(), "vigil-deploy-webhook-"));
      execFileSync("bash", [join(REPO_ROOT, "deploy", "gen-certs.sh"), join(tmp, "certs")], { stdio: "ignore" });
      const dep = find<{ spec: { template: { spec: IPodSpec } } }>(far, "Deployment", "vigil-webhook");
      const swap: Record<string, string> = { "/etc/vigil/tls/tls.crt": file("webhook.crt"), "/etc/vigil/tls/tls.key": file("webhook.key"), "9443": "0" };
      const args = (dep.spec.template.spec.containers[0]?.args ?? []).map((a) => swap[a] ?? a);
      // loopback and no metrics port here: the rest is the manifest's
      child = spawn(process.execPath, [CLI, ...args, "--host", "127.0.0.1", "--metrics-port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
      const ready = await new Promise<boolean>((resolve) => {
        createInterface({ input: child.stderr! }).on("line", (l) => {
          stderr += `${l}\n`;
          if (l.includes("vigil webhook ready")) {
            port = (JSON.parse(l) as { port: number }).port;
            resolve(true);
          }
        });
        child.on("exit", () => resolve(false));
      });
      expect(ready, stderr).toBe(true);
    }, 60_000);

    afterAll(() => {
      child?.kill("SIGTERM");
      rmSync(tmp, { recursive: true, force: true });
    });

    const call = (method: string, path: string, body?: unknown) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          {
            host: "127.0.0.1",
            port,
            method,
            path,
            // what the API server does: verify against the CA for the Service's name
            ca: readFileSync(file("ca.crt")),
            servername: "vigil-webhook.vigil.svc",
            headers: s === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(s) },
          },
          (res) => {
            let t = "";
            res.on("data", (d: Buffer) => (t += d.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: t }));
          },
        );
        req.on("error", reject);
        req.end(s);
      });

    it("answers /healthz over TLS verified for vigil-webhook.vigil.svc", async () => {
      expect((await call("GET", "/healthz")).status).toBe(200);
    });

    it("instruments a Fargate pod with the release's image", async () => {
      const r = await call("POST", "/mutate", {
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid: "deploy-test-1",
          kind: { group: "", version: "v1", kind: "Pod" },
          operation: "CREATE",
          namespace: "shop",
          object: {
            metadata: { name: "web", labels: { "eks.amazonaws.com/fargate-profile": "fp-default" } },
            spec: { containers: [{ name: "web", image: "nginx", command: ["nginx", "-g", "daemon off;"] }] },
          },
        },
      });
      expect(r.status).toBe(200);
      const resp = (JSON.parse(r.body) as { response: { allowed: boolean; patch?: string } }).response;
      expect(resp.allowed).toBe(true);
      const patch = JSON.parse(Buffer.from(resp.patch ?? "", "base64").toString()) as { path: string; value: unknown }[];
      const images = JSON.stringify(patch).match(/"image":"[^"]+"/g) ?? [];
      expect(images.length).toBeGreaterThan(0);
      for (const i of images) expect(i).toBe(`"image":"${IMAGE}"`);
      expect(JSON.stringify(patch)).toContain(`{"name":"VIGIL_SINKS_COLLECTOR_ADDRESS","value":"${SHIPPING.address}"}`);
    });
  });
});

describe("the Falco drop-in (deploy/overlays/falco-dropin)", () => {
  const DROPIN = "deploy/overlays/falco-dropin";
  const EXAMPLE = join(REPO_ROOT, DROPIN, "falco.yaml");
  const eks = rendered["deploy/overlays/eks"];
  const dropin = rendered[DROPIN];
  type Ds = Doc & { spec: { template: { metadata?: { annotations?: Record<string, string> }; spec: IPodSpec } } };
  const agentDs = (docs: Doc[]) => find<Ds>(docs, "DaemonSet", "vigil-agent");
  const agentOf = (docs: Doc[]) => agentDs(docs).spec.template.spec.containers.find((c) => c.name === "agent") as IContainer;
  /** The volumes (and their mounts) the overlay adds. */
  const ADDED = ["falco-yaml", "falco-rules", "dev-log"];
  const spec = agentDs(dropin).spec.template.spec;
  const agent = agentOf(dropin);

  it("is the EKS overlay with nothing added (no ConfigMap generated: the user's own are mounted) and only the agent DaemonSet changed", () => {
    expect(dropin.map(id).sort()).toEqual(eks.map(id).sort());
    for (const d of eks)
      if (id(d) !== "DaemonSet/vigil/vigil-agent")
        expect(
          dropin.find((x) => id(x) === id(d)),
          id(d),
        ).toEqual(d);
  });

  it("changes the agent only by its args and three read-only mounts with their volumes (same capabilities, same everything else)", () => {
    const strip = (docs: Doc[]) => {
      const c = structuredClone(agentDs(docs));
      const s = c.spec.template.spec;
      const a = s.containers.find((x) => x.name === "agent") as IContainer;
      delete a.args;
      a.volumeMounts = a.volumeMounts?.filter((m) => !ADDED.includes(m.name));
      s.volumes = s.volumes?.filter((v) => !ADDED.includes(v.name));
      return c;
    };
    expect(strip(dropin)).toEqual(strip(eks));
    expect(agentOf(eks).args).toEqual(["agent"]);
    // every arg of the base kept, then the falco.yaml and the webserver pinned to the probes' port
    expect(agent.args).toEqual([
      "agent",
      "--falco-config",
      "/etc/falco/falco.yaml",
      "-o",
      "webserver.enabled=true",
      "-o",
      "webserver.listen_port=9376",
      "-o",
      "webserver.listen_address=0.0.0.0",
    ]);
    const added = (agent.volumeMounts ?? []).filter((m) => ADDED.includes(m.name));
    expect(added.map((m) => m.name).sort()).toEqual([...ADDED].sort());
    for (const m of added) expect(m.readOnly, m.name).toBe(true);
    expect(agent.securityContext?.capabilities?.add).toEqual(["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]);
  });

  it("--falco-config names key falco.yaml of the mounted ConfigMap `falco` (required, as in the chart); rules.d is the optional `falco-rules`", () => {
    const args = agent.args ?? [];
    const path = args[args.indexOf("--falco-config") + 1] ?? "";
    const mount = (agent.volumeMounts ?? []).find((m) => m.mountPath === path || path.startsWith(`${m.mountPath}/`));
    expect(mount, path).toBeDefined();
    const vol = spec.volumes?.find((v) => v.name === mount?.name);
    expect(vol?.configMap?.name).toBe("falco");
    expect(vol?.configMap?.optional).toBeUndefined();
    // the file at `path` inside the volume, and the key projected there
    const inVolume = mount?.subPath !== undefined && mount.mountPath === path ? mount.subPath : path.slice((mount?.mountPath.length ?? 0) + 1);
    const items = vol?.configMap?.items;
    const key = items === undefined ? inVolume : items.find((i) => i.path === inVolume)?.key;
    expect(key).toBe("falco.yaml");

    const rules = (agent.volumeMounts ?? []).find((m) => m.mountPath === "/etc/falco/rules.d");
    const rulesVol = spec.volumes?.find((v) => v.name === rules?.name);
    expect(rulesVol?.configMap).toEqual({ name: "falco-rules", optional: true });
    expect(rules?.subPath).toBeUndefined(); // the whole directory: edits reach the agent
  });

  it("mounts the node's /dev/log, a hostPath of type Socket, at /dev/log", () => {
    const m = (agent.volumeMounts ?? []).find((x) => x.mountPath === "/dev/log");
    const v = spec.volumes?.find((x) => x.name === m?.name);
    expect(v?.hostPath).toEqual({ path: "/dev/log", type: "Socket" });
  });

  describe("the example falco.yaml, read by the agent's own code", () => {
    let tmp: string;
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), "vigil-falco-dropin-"));
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    /** The DaemonSet's args parsed by `vigil agent`'s own command line, its falco.yaml the example. */
    function flagsOf(args: string[]): AgentFlags {
      const program = new Command().exitOverride();
      registerAgent(program);
      let flags: AgentFlags | undefined;
      program.commands
        .find((c) => c.name() === "agent")
        ?.exitOverride()
        .action((o: AgentFlags) => {
          flags = o;
        });
      program.parse(
        args.map((a) => (a === "/etc/falco/falco.yaml" ? EXAMPLE : a)),
        { from: "user" },
      );
      if (flags === undefined) throw new Error("vigil agent did not parse");
      return flags;
    }
    /** The container's environment, VIGIL_CONFIG the rendered vigil-config's config.yaml. */
    function envOf(): NodeJS.ProcessEnv {
      const cm = find<{ data: Record<string, string> }>(dropin, "ConfigMap", "vigil-config");
      const file = join(tmp, "config.yaml");
      writeFileSync(file, cm.data["config.yaml"] ?? "");
      const env: NodeJS.ProcessEnv = {};
      for (const e of agent.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
      expect(env["VIGIL_CONFIG"]).toBe("/etc/vigil/config.yaml");
      env["VIGIL_CONFIG"] = file;
      return env;
    }

    it("readFalcoYaml takes it without an error, and every key in it is one Vigil reads", () => {
      const f = readFalcoYaml(EXAMPLE);
      expect(f.ignored).toEqual([]);
      expect(f.config.sinks?.syslog).toEqual({ enabled: true });
      expect(f.config.rules?.selection).toHaveLength(2);
    });

    it("with the DaemonSet's args and env: Falco's outputs and rules settings, the collector as in the base, the endpoints on the probes' port", () => {
      const { cfg, falco } = agentConfig(flagsOf(agent.args ?? []), envOf());
      expect(falco?.ignored).toEqual([]);
      expect(cfg.rules).toMatchObject({ min_priority: "notice", matching: "first", builtin: true, builtin_last: true });
      expect(cfg.sinks.stdout).toMatchObject({ enabled: true, format: "falco" });
      expect(cfg.output.json).toBe(true);
      expect(cfg.sinks.syslog.enabled).toBe(true);
      expect(cfg.log.syslog).toBe(true);
      expect(cfg.sinks.collector).toMatchObject({
        enabled: true,
        address: "vigil-collector.vigil.svc:9377",
        tls: true,
        token_file: "/var/run/secrets/vigil/token",
        ca_file: "/var/run/secrets/vigil-collector-ca/ca.crt",
      });
      // the example says 8765 (Falco's default); the pins keep the probes' port
      const port = agent.ports?.find((p) => p.name === "metrics")?.containerPort;
      expect(port).toBe(9376);
      expect(cfg.metrics).toMatchObject({ enabled: true, port, host: "0.0.0.0" });
      for (const p of [agent.livenessProbe, agent.readinessProbe, agent.startupProbe]) expect(p?.httpGet?.port).toBe("metrics");
      expect(agentDs(dropin).spec.template.metadata?.annotations?.["prometheus.io/port"]).toBe(String(port));
    });

    it("without the args' -o pins, a falco.yaml's webserver would move the endpoints off the probes' port, or turn them off", () => {
      const bare = (agent.args ?? []).slice(0, 3);
      expect(agentConfig(flagsOf(bare), envOf()).cfg.metrics.port).toBe(8765);
      const off = join(tmp, "falco-off.yaml");
      writeFileSync(off, `${readFileSync(EXAMPLE, "utf8")}\n`.replace("webserver:\n  enabled: true", "webserver:\n  enabled: false"));
      const pinned = flagsOf((agent.args ?? []).map((a) => (a === "/etc/falco/falco.yaml" ? off : a)));
      pinned.falcoConfig = off;
      expect(agentConfig(pinned, envOf()).cfg.metrics).toMatchObject({ enabled: true, port: 9376 });
      expect(agentConfig({ ...pinned, option: [] }, envOf()).cfg.metrics.enabled).toBe(false);
    });
  });
});

describe("certificates", () => {
  const cm = rendered["deploy/cert-manager"];
  type Cert = { spec: { secretName: string; dnsNames?: string[]; isCA?: boolean; issuerRef: { name: string; kind: string } } };
  type Iss = { spec: { selfSigned?: object; ca?: { secretName: string } } };

  it("cert-manager issues the Secrets the overlays mount, for the names their clients dial", () => {
    const certs = cm.filter((d) => d.kind === "Certificate") as unknown as (Cert & Doc)[];
    const bySecret = new Map(certs.map((c) => [c.spec.secretName, c]));
    const far = rendered["deploy/overlays/eks-fargate"];
    const mounted = new Set(
      podSpecs(far).flatMap(([, s]) => (s.volumes ?? []).map((v) => v.secret?.secretName).filter((n): n is string => n?.endsWith("-tls") === true)),
    );
    expect([...mounted].sort()).toEqual(["vigil-collector-tls", "vigil-webhook-tls"]);
    for (const s of mounted) expect(bySecret.get(s), s).toBeDefined();
    expect(bySecret.get("vigil-collector-tls")?.spec.dnsNames).toEqual(expect.arrayContaining(["vigil-collector.vigil.svc", "localhost"]));
    expect(bySecret.get("vigil-webhook-tls")?.spec.dnsNames).toContain("vigil-webhook.vigil.svc");
    // the webhook configuration's CA injection names the webhook's Certificate
    const mwc = find<Doc>(far, "MutatingWebhookConfiguration", "vigil-inject");
    const [ns, name] = (mwc.metadata.annotations?.["cert-manager.io/inject-ca-from"] ?? "").split("/");
    expect(bySecret.get("vigil-webhook-tls")?.metadata).toMatchObject({ namespace: ns, name });
  });

  it("the leaves chain to a CA Certificate through a CA Issuer, and the CA to a self-signed Issuer", () => {
    const issuer = (n: string) => find<Iss>(cm, "Issuer", n);
    for (const c of cm.filter((d) => d.kind === "Certificate") as unknown as (Cert & Doc)[]) {
      expect(c.spec.issuerRef.kind).toBe("Issuer");
      const iss = issuer(c.spec.issuerRef.name);
      if (c.spec.isCA) expect(iss.spec.selfSigned).toEqual({});
      else expect(find<Cert>(cm, "Certificate", "vigil-ca").spec.secretName).toBe(iss.spec.ca?.secretName);
    }
  });

  it("deploy/gen-certs.sh makes a CA and serving certificates for the same names, and refuses to overwrite or a bad namespace", () => {
    const tmp = mkdtempSync(join(tmpdir(), "vigil-gen-certs-"));
    try {
      const out = join(tmp, "c");
      const r = spawnSync("bash", [join(REPO_ROOT, "deploy", "gen-certs.sh"), out, "security"], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain("kubectl -n security create secret generic vigil-collector-tls --type=kubernetes.io/tls");
      const ca = new X509Certificate(readFileSync(join(out, "ca.crt")));
      expect(ca.ca).toBe(true);
      for (const [leaf, names] of [
        ["collector", ["vigil-collector.security.svc", "vigil-collector.security.svc.cluster.local", "localhost"]],
        ["webhook", ["vigil-webhook.security.svc"]],
      ] as const) {
        const crt = new X509Certificate(readFileSync(join(out, `${leaf}.crt`)));
        expect(crt.ca).toBe(false);
        expect(crt.verify(ca.publicKey), leaf).toBe(true);
        expect(crt.checkIssued(ca), leaf).toBe(true);
        for (const n of names) expect(crt.checkHost(n), `${leaf} ${n}`).toBeTruthy();
        expect(crt.checkHost("vigil-collector.vigil.svc"), `${leaf} names another namespace`).toBeUndefined();
        expect(crt.keyUsage).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
      }
      const again = spawnSync("bash", [join(REPO_ROOT, "deploy", "gen-certs.sh"), out], { encoding: "utf8" });
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/refusing to overwrite/);
      const bad = spawnSync("bash", [join(REPO_ROOT, "deploy", "gen-certs.sh"), join(tmp, "d"), "Bad;ns"], { encoding: "utf8" });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/must be a DNS label/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("scripts/render-manifests.mjs (on a copy in a temporary folder)", () => {
  let tmp: string;
  const run = (...args: string[]) => spawnSync(process.execPath, [RENDER, ...args], { encoding: "utf8", env: { ...process.env, VIGIL_RENDER_ROOT: tmp } });

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "vigil-render-"));
    cpSync(join(REPO_ROOT, "deploy"), join(tmp, "deploy"), { recursive: true });
    for (const f of ["daemonset.yaml", "package.json"]) cpSync(join(REPO_ROOT, f), join(tmp, f));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("--check passes on the tree as committed, fails on an edited daemonset.yaml, and a render repairs it", () => {
    expect(run("--check").status).toBe(0);
    writeFileSync(join(tmp, "daemonset.yaml"), readFileSync(join(tmp, "daemonset.yaml"), "utf8").replace("memory: 768Mi", "memory: 2Gi"));
    const r = run("--check");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("daemonset.yaml differs from deploy/overlays/eks rendered");
    expect(run().status).toBe(0);
    expect(run("--check").status).toBe(0);
    expect(readFileSync(join(tmp, "daemonset.yaml"), "utf8")).toBe(readFileSync(join(REPO_ROOT, "daemonset.yaml"), "utf8"));
  });

  it("a new version in package.json makes --check name every stale image reference; a render moves them all", () => {
    const pkg = JSON.parse(readFileSync(join(tmp, "package.json"), "utf8")) as { version: string };
    writeFileSync(join(tmp, "package.json"), JSON.stringify({ ...pkg, version: "9.8.7" }));
    const r = run("--check");
    expect(r.status).toBe(1);
    for (const f of ["deploy/base/agent.yaml", "deploy/base/collector.yaml", "deploy/overlays/eks-fargate/webhook.yaml"])
      expect(r.stderr).toContain(`${f}: image`);
    expect(run().status).toBe(0);
    expect(run("--check").status).toBe(0);
    const text = readFileSync(join(tmp, "daemonset.yaml"), "utf8");
    expect(text).toContain("ghcr.io/vigil-security/vigil:9.8.7");
    expect(text).not.toContain(`vigil:${pkg.version}`);
    expect(readFileSync(join(tmp, "deploy/overlays/eks-fargate/webhook.yaml"), "utf8").match(/vigil:9\.8\.7/g)).toHaveLength(2);
  });

  it("says what is missing when there is no kubectl", () => {
    const r = spawnSync(process.execPath, [RENDER, "--check"], {
      encoding: "utf8",
      env: { ...process.env, VIGIL_RENDER_ROOT: tmp, KUBECTL: join(tmp, "no-kubectl") },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not found: scripts\/setup\.sh installs Debian's kubernetes-client/);
  });
});
