// SPDX-License-Identifier: Apache-2.0
/**
 * Injected sidecars shipping to a collector (`vigil webhook --collector`, `vigil inject ecs
 * --collector`): the patch adds the agent's collector settings, the per-namespace Secret and a
 * spool of its own, the sidecar's environment is real agent configuration (it loads into the
 * schema the agent reads), and without the options nothing about the collector appears. The
 * sidecar itself never needs a writable root: no embedded collector, no FIM state.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { Pod } from "kubernetes-models/v1/Pod";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { loadConfig } from "../../agent/config/index.js";
import { InjectError, patchPod, patchTaskDefinition, review, type CollectorShipping } from "../../agent/inject/index.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { applyJsonPatch } from "../helpers/json-patch.js";
import { writeLocalhostCert } from "./localhost-cert.js";

const FIX = join(REPO_ROOT, "test", "inject", "fixtures");
const IMAGE = "ghcr.io/vigil-security/vigil:0.1.0";
const images = { "envoyproxy/envoy:v1.31.0": { entrypoint: ["/docker-entrypoint.sh"], cmd: ["envoy", "-c", "/etc/envoy/envoy.yaml"] } };
const baseReview = JSON.parse(readFileSync(join(FIX, "pod-review.json"), "utf8")) as { request: { object: Json } };
const dir = mkdtempSync(join(tmpdir(), "vigil-shipping-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef: { fieldPath: string } };
}
const SHIP: CollectorShipping = { address: "vigil-collector.vigil.svc:9377", secret: "vigil-collector", tls: true };

function patched(collector?: CollectorShipping, pod: Json = baseReview.request.object): Json {
  const r = patchPod(pod, { image: IMAGE, images, ...(collector ? { collector } : {}) });
  return applyJsonPatch<Json>(pod, r.patch);
}
const spec = (p: Json) => p["spec"] as Json;
function sidecar(p: Json): Json {
  const c = (spec(p)["initContainers"] as Json[]).find((x) => x["name"] === "vigil-agent");
  if (!c) throw new Error("no vigil-agent");
  return c;
}
const envOf = (c: Json) => c["env"] as EnvVar[];
const envMap = (c: Json) => Object.fromEntries(envOf(c).map((e) => [e.name, e.value]));

/** What the agent reads from the sidecar's environment: the literal values, as the kubelet passes them. */
function agentConfigOf(c: Json) {
  const env: NodeJS.ProcessEnv = {};
  for (const e of envOf(c)) if (e.value !== undefined) env[e.name] = e.value;
  return loadConfig({ env });
}

describe("without --collector (the existing behaviour)", () => {
  const pod = patched();
  const agent = sidecar(pod);

  it("adds no collector settings, no Secret and no spool: alerts go to the sidecar's log", () => {
    expect(envOf(agent).filter((e) => e.name.startsWith("VIGIL_SINKS_COLLECTOR"))).toEqual([]);
    expect((spec(pod)["volumes"] as Json[]).map((v) => v["name"])).toEqual(["kube-api-access-x2x9z", "vigil-trace"]);
    expect(agent["volumeMounts"]).toEqual([{ name: "vigil-trace", mountPath: "/vigil" }]);
    const cfg = agentConfigOf(agent);
    expect(cfg.sinks.collector.enabled).toBe(false);
    expect(cfg.sinks.stdout).toEqual({ enabled: true, format: "json" });
  });

  it("the sidecar needs no writable root: no embedded collector, no FIM state", () => {
    expect(agent["args"]).toEqual(["agent", "--no-embedded-collector"]);
    expect((agent["securityContext"] as Json)["readOnlyRootFilesystem"]).toBe(true);
    const cfg = agentConfigOf(agent);
    expect(cfg.fim.enabled).toBe(false);
    expect(cfg.sources.ebpf.enabled).toBe(false);
    expect(cfg.sources.ptrace).toEqual({ enabled: true, socket: "/vigil/trace.sock" });
    expect(cfg.containerd.enabled).toBe(false);
  });

  it("tells the sidecar which pod it watches (downward API)", () => {
    const fields = Object.fromEntries(envOf(agent).flatMap((e) => (e.valueFrom ? [[e.name, e.valueFrom.fieldRef.fieldPath]] : [])));
    expect(fields).toEqual({ NODE_NAME: "spec.nodeName", POD_NAMESPACE: "metadata.namespace", POD_NAME: "metadata.name", POD_UID: "metadata.uid" });
  });

  it("wraps the workload exactly as with the collector (only the sidecar and its volumes differ)", () => {
    expect(spec(pod)["containers"]).toEqual(spec(patched(SHIP))["containers"]);
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });
});

describe("with --collector, --collector-secret and --collector-tls", () => {
  const pod = patched(SHIP);
  const agent = sidecar(pod);

  it("configures the agent's collector sink through its VIGIL_* variables", () => {
    expect(envMap(agent)).toMatchObject({
      VIGIL_SINKS_COLLECTOR_ENABLED: "true",
      VIGIL_SINKS_COLLECTOR_ADDRESS: "vigil-collector.vigil.svc:9377",
      VIGIL_SINKS_COLLECTOR_TLS: "true",
      VIGIL_SINKS_COLLECTOR_TOKEN_FILE: "/var/run/secrets/vigil/token",
      VIGIL_SINKS_COLLECTOR_CA_FILE: "/var/run/secrets/vigil/ca.crt",
      VIGIL_SINKS_COLLECTOR_SPOOL_DIR: "/var/spool/vigil",
    });
    // every variable is a real configuration key: the agent's own loader takes them
    const cfg = agentConfigOf(agent);
    expect(cfg.sinks.collector).toMatchObject({
      enabled: true,
      address: "vigil-collector.vigil.svc:9377",
      tls: true,
      token_file: "/var/run/secrets/vigil/token",
      ca_file: "/var/run/secrets/vigil/ca.crt",
      spool: { dir: "/var/spool/vigil", max_bytes: 64 * 1024 * 1024 },
    });
  });

  it("mounts the namespace's Secret read-only (optional: a namespace without it still runs its pods) and a spool of its own", () => {
    const vols = spec(pod)["volumes"] as Json[];
    expect(vols).toContainEqual({ name: "vigil-collector", secret: { secretName: "vigil-collector", defaultMode: 0o444, optional: true } });
    const spool = vols.find((v) => v["name"] === "vigil-spool") as { emptyDir: { sizeLimit: string } };
    // the spool's own cap stays well under the emptyDir's limit (outgrowing it evicts the pod)
    expect(spool.emptyDir.sizeLimit).toBe("128Mi");
    expect(agent["volumeMounts"]).toEqual([
      { name: "vigil-trace", mountPath: "/vigil" },
      { name: "vigil-spool", mountPath: "/var/spool/vigil" },
      { name: "vigil-collector", mountPath: "/var/run/secrets/vigil", readOnly: true },
    ]);
    // only the sidecar sees the token
    for (const c of spec(pod)["containers"] as Json[]) expect(JSON.stringify(c)).not.toContain("vigil-collector");
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });

  it("without TLS: no CA file; without a Secret: no token file and no Secret volume", () => {
    const plain = sidecar(patched({ address: "10.0.0.5:9377", secret: "tok" }));
    expect(envMap(plain)["VIGIL_SINKS_COLLECTOR_TLS"]).toBeUndefined();
    expect(envMap(plain)["VIGIL_SINKS_COLLECTOR_CA_FILE"]).toBeUndefined();
    expect(envMap(plain)["VIGIL_SINKS_COLLECTOR_TOKEN_FILE"]).toBe("/var/run/secrets/vigil/token");
    const p = patched({ address: "10.0.0.5:9377" });
    expect(envMap(sidecar(p))["VIGIL_SINKS_COLLECTOR_TOKEN_FILE"]).toBeUndefined();
    expect((spec(p)["volumes"] as Json[]).map((v) => v["name"])).toEqual(["kube-api-access-x2x9z", "vigil-trace", "vigil-spool"]);
  });

  it("a pod without volumes gets them as one list", () => {
    const bare = structuredClone(baseReview.request.object);
    delete spec(bare)["volumes"];
    delete ((spec(bare)["containers"] as Json[])[0] as Json)["volumeMounts"];
    const p = patched(SHIP, bare);
    expect((spec(p)["volumes"] as Json[]).map((v) => v["name"])).toEqual(["vigil-trace", "vigil-spool", "vigil-collector"]);
    expect(() => new Pod(p as never).validate()).not.toThrow();
  });

  it("a pod that already has a volume of that name is admitted unchanged, with a warning", () => {
    const clash = structuredClone(baseReview) as { request: { object: Json } };
    (spec(clash.request.object)["volumes"] as Json[]).push({ name: "vigil-spool", emptyDir: {} });
    const r = review(clash, { image: IMAGE, images, collector: SHIP });
    const resp = (r.body as { response: Json }).response;
    expect(resp["allowed"]).toBe(true);
    expect(resp["patch"]).toBeUndefined();
    expect((resp["warnings"] as string[]).join()).toContain("a volume is already named vigil-spool");
  });
});

describe("bad collector options", () => {
  it.each([
    ["no port", { address: "vigil-collector" }, "is not HOST:PORT"],
    ["port 0", { address: "collector:0" }, "port must be 1..65535"],
    ["port too high", { address: "collector:70000" }, "port must be 1..65535"],
    ["a URL", { address: "https://collector:9377" }, "is not HOST:PORT"],
    ["spaces", { address: "col lector:9377" }, "is not HOST:PORT"],
    ["a secret name with capitals", { address: "c:1", secret: "Vigil" }, "not a Kubernetes object name"],
    ["a secret name with a slash", { address: "c:1", secret: "vigil/token" }, "not a Kubernetes object name"],
    ["TLS without the Secret's CA", { address: "c:1", tls: true }, "needs the collector secret"],
  ])("%s", (_n, c, msg) => {
    let err: unknown;
    try {
      patchPod(baseReview.request.object, { image: IMAGE, images, collector: c as CollectorShipping });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InjectError);
    expect((err as InjectError).code).toBe("INVALID_OPTION");
    expect((err as Error).message).toContain(msg);
  });

  it.each([["[fd00::5]:9377"], ["10.0.0.5:9377"], ["dns:///vigil-collector.vigil.svc:9377"], ["a:1"]])("accepts %s", (address) => {
    expect(() => patchPod(baseReview.request.object, { image: IMAGE, images, collector: { address } })).not.toThrow();
  });
});

describe("vigil webhook --collector (CLI)", () => {
  writeLocalhostCert(dir);
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, "webhook", ...args], { encoding: "utf8" });

  it("--print-config: the webhook Deployment runs with the same collector flags", () => {
    const r = run([
      "--print-config",
      "--ca-bundle",
      join(dir, "cert.pem"),
      "--collector",
      "vigil-collector.vigil.svc:9377",
      "--collector-secret",
      "vigil-collector",
      "--collector-tls",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const dep = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Json)
      .find((d) => d["kind"] === "Deployment") as Json;
    expect(() => new Deployment(dep as never).validate()).not.toThrow();
    const args = ((((dep["spec"] as Json)["template"] as Json)["spec"] as Json)["containers"] as Json[])[0]?.["args"] as string[];
    expect(args.slice(-5)).toEqual(["--collector", "vigil-collector.vigil.svc:9377", "--collector-secret", "vigil-collector", "--collector-tls"]);
  });

  it("the help says a Secret cannot be read across namespaces", () => {
    const r = run(["--help"]);
    expect(r.stdout.replace(/\s+/g, " ")).toContain("a pod can only mount Secrets of its own namespace");
  });

  it.each([
    [["--collector-secret", "x"], "need --collector HOST:PORT"],
    [["--collector", "c:9377", "--collector-tls"], "--collector-tls needs --collector-secret"],
    [["--collector", "nope"], "is not HOST:PORT"],
    [["--collector", "c:9377", "--collector-secret", "Bad_Name"], "not a Kubernetes object name"],
  ])("refuses %j with one line", (args, msg) => {
    const r = run([...args, "--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem"), "--port", "0", "--metrics-port", "0"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(msg);
  });
});

describe("vigil inject ecs --collector", () => {
  const webApp = JSON.parse(readFileSync(join(FIX, "web-app.json"), "utf8")) as Json;
  const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:vigil/collector-token-AbCdEf";
  const agentOf = (td: Json) => (td["containerDefinitions"] as Json[]).find((c) => c["name"] === "vigil-agent") as Json;
  const ecsEnv = (c: Json) => Object.fromEntries((c["environment"] as { name: string; value: string }[]).map((e) => [e.name, e.value]));

  it("ships through a spool in the sidecar's own /tmp, the token from Secrets Manager", () => {
    const td = patchTaskDefinition(webApp, {
      image: IMAGE,
      skipUnwrappable: true,
      collector: { address: "collector.internal:9377", tokenSecretArn: ARN },
    }).taskDefinition;
    const agent = agentOf(td);
    expect(agent["command"]).toEqual(["agent", "--no-embedded-collector"]);
    expect(agent["secrets"]).toEqual([{ name: "VIGIL_SINKS_COLLECTOR_TOKEN", valueFrom: ARN }]);
    const cfg = loadConfig({ env: { ...ecsEnv(agent), VIGIL_SINKS_COLLECTOR_TOKEN: "t" } });
    expect(cfg.sinks.collector).toMatchObject({ enabled: true, address: "collector.internal:9377", token: "t", spool: { dir: "/tmp/vigil-spool" } });
    expect(cfg.fim.enabled).toBe(false);
    // the workload mounts the shared volume; the spool is not in it
    expect(JSON.stringify(td["volumes"])).not.toContain("spool");
  });

  it("without --collector: no collector settings, no secrets", () => {
    const agent = agentOf(patchTaskDefinition(webApp, { image: IMAGE, skipUnwrappable: true }).taskDefinition);
    expect(Object.keys(ecsEnv(agent)).filter((k) => k.startsWith("VIGIL_SINKS_COLLECTOR"))).toEqual([]);
    expect(agent["secrets"]).toBeUndefined();
    expect(loadConfig({ env: ecsEnv(agent) }).sinks.collector.enabled).toBe(false);
  });

  it.each([
    ["not an ARN", { address: "c:1", tokenSecretArn: "my-token" }, "is not a Secrets Manager secret or SSM parameter ARN"],
    ["bad address", { address: "c" }, "is not HOST:PORT"],
  ])("refuses %s", (_n, c, msg) => {
    expect(() => patchTaskDefinition(webApp, { image: IMAGE, skipUnwrappable: true, collector: c })).toThrow(msg);
  });

  it("a token secret needs the task execution role", () => {
    const noRole = structuredClone(webApp);
    delete (noRole["taskDefinition"] as Json | undefined)?.["executionRoleArn"];
    delete noRole["executionRoleArn"];
    expect(() => patchTaskDefinition(noRole, { image: IMAGE, skipUnwrappable: true, collector: { address: "c:1", tokenSecretArn: ARN } })).toThrow(
      "executionRoleArn",
    );
  });

  it("the CLI takes --collector and --collector-token-secret", () => {
    const r = spawnSync(
      process.execPath,
      [CLI, "inject", "ecs", join(FIX, "web-app.json"), "--skip-unwrappable", "--collector", "collector.internal:9377", "--collector-token-secret", ARN],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(agentOf(JSON.parse(r.stdout) as Json)["secrets"]).toEqual([{ name: "VIGIL_SINKS_COLLECTOR_TOKEN", valueFrom: ARN }]);
    const bad = spawnSync(process.execPath, [CLI, "inject", "ecs", join(FIX, "web-app.json"), "--collector-token-secret", ARN], { encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("needs --collector");
  });
});
