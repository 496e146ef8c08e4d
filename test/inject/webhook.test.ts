// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil webhook`: real AdmissionReview v1 documents over real TLS. The returned JSON Patch is
 * applied (RFC 6902) and the mutated pod must still validate against the Kubernetes schema;
 * malformed and hostile reviews never crash the server and never block a pod.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pod } from "kubernetes-models/v1/Pod";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { review, startWebhookServer, type JsonPatchOp, type WebhookServer } from "../../agent/inject/index.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { applyJsonPatch } from "../helpers/json-patch.js";
import { writeLocalhostCert } from "./localhost-cert.js";

const FIX = join(REPO_ROOT, "test", "inject", "fixtures");
const IMAGE = "ghcr.io/vigil-security/vigil:0.1.0";
const dir = mkdtempSync(join(tmpdir(), "vigil-webhook-"));
const logger = pino({ level: "silent" });
const baseReview = JSON.parse(readFileSync(join(FIX, "pod-review.json"), "utf8")) as {
  request: { uid: string; object: Record<string, unknown>; [k: string]: unknown };
  [k: string]: unknown;
};
const envoyImage = { "envoyproxy/envoy:v1.31.0": { entrypoint: ["/docker-entrypoint.sh"], cmd: ["envoy", "-c", "/etc/envoy/envoy.yaml"] } };

type Json = Record<string, unknown>;

function post(
  port: number,
  ca: string,
  body: string | Buffer,
  headers: Record<string, string> = { "content-type": "application/json" },
  path = "/mutate",
): Promise<{ status: number; json: Json }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", ca, servername: "localhost", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const t = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: t ? (JSON.parse(t) as Json) : {} });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

let srv: WebhookServer;
let ca = "";
beforeAll(async () => {
  writeLocalhostCert(dir);
  ca = readFileSync(join(dir, "cert.pem"), "utf8");
  srv = await startWebhookServer({
    port: 0,
    host: "127.0.0.1",
    cert: ca,
    key: readFileSync(join(dir, "key.pem")),
    logger,
    inject: { image: IMAGE, images: envoyImage },
  });
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a Fargate pod", () => {
  let resp: Json;
  let pod: Json;
  beforeAll(async () => {
    const r = await post(srv.port, ca, JSON.stringify(baseReview));
    expect(r.status).toBe(200);
    resp = r.json["response"] as Json;
    const patch = JSON.parse(Buffer.from(resp["patch"] as string, "base64").toString()) as JsonPatchOp[];
    pod = applyJsonPatch(baseReview.request.object, patch) as Json;
  });

  it("is admitted with a JSON Patch for its uid", () => {
    expect(resp["uid"]).toBe(baseReview.request.uid);
    expect(resp["allowed"]).toBe(true);
    expect(resp["patchType"]).toBe("JSONPatch");
  });

  it("still validates against the Kubernetes Pod schema after the patch", () => {
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });

  it("wraps each container keeping its argv", () => {
    const cs = (pod["spec"] as Json)["containers"] as Json[];
    const checkout = cs[0] as Json;
    expect(checkout["command"]).toEqual(["/vigil/bin/vigil-trace", "--socket", "/vigil/trace.sock", "--", "/app/checkout"]);
    expect(checkout["args"]).toEqual(["--listen", ":8080"]);
    // capabilities: drop ALL kept, SYS_PTRACE added
    expect((checkout["securityContext"] as Json)["capabilities"]).toEqual({ drop: ["ALL"], add: ["SYS_PTRACE"] });
    expect(checkout["volumeMounts"]).toContainEqual({ name: "vigil-trace", mountPath: "/vigil", readOnly: true });
    // envoy sets no command: the image's ENTRYPOINT and CMD from the webhook's image config
    const envoy = cs[1] as Json;
    expect(envoy["command"]).toEqual(["/vigil/bin/vigil-trace", "--socket", "/vigil/trace.sock", "--", "/docker-entrypoint.sh"]);
    expect(envoy["args"]).toEqual(["envoy", "-c", "/etc/envoy/envoy.yaml"]);
  });

  it("gets the installer and the agent as a native sidecar, and the injected annotation", () => {
    const init = (pod["spec"] as Json)["initContainers"] as Json[];
    expect(init.map((c) => c["name"])).toEqual(["vigil-install", "vigil-agent"]);
    expect((init[1] as Json)["restartPolicy"]).toBe("Always");
    expect(((pod["metadata"] as Json)["annotations"] as Json)["vigil.dev/injected"]).toBe("true");
    expect(((pod["metadata"] as Json)["annotations"] as Json)["kubernetes.io/psp"]).toBe("eks.privileged");
  });

  it("is left alone when reviewed again (reinvocation)", async () => {
    const again = structuredClone(baseReview);
    again.request.object = pod;
    const r = await post(srv.port, ca, JSON.stringify(again));
    expect((r.json["response"] as Json)["patch"]).toBeUndefined();
    expect((r.json["response"] as Json)["allowed"]).toBe(true);
  });
});

function withPod(mut: (p: Json) => void, req: (r: Json) => void = () => undefined): unknown {
  const r = structuredClone(baseReview) as unknown as { request: Json & { object: Json } };
  mut(r.request.object);
  req(r.request);
  return r;
}
const labels = (p: Json) => (p["metadata"] as Json)["labels"] as Json;

// [name, review, expect a patch?, warning fragment or ""]
const CASES: [string, unknown, boolean, string][] = [
  ["opted out by label", withPod((p) => (labels(p)["vigil.dev/inject"] = "false")), false, ""],
  [
    "not on Fargate, no label",
    withPod((p) => {
      delete labels(p)["eks.amazonaws.com/fargate-profile"];
      delete (p["spec"] as Json)["schedulerName"];
    }),
    false,
    "",
  ],
  [
    "opted in by label off Fargate",
    withPod((p) => {
      delete labels(p)["eks.amazonaws.com/fargate-profile"];
      delete (p["spec"] as Json)["schedulerName"];
      labels(p)["vigil.dev/inject"] = "true";
    }),
    true,
    "",
  ],
  [
    "a DELETE",
    withPod(
      () => undefined,
      (r) => (r["operation"] = "DELETE"),
    ),
    false,
    "",
  ],
  [
    "a Deployment",
    withPod(
      () => undefined,
      (r) => (r["kind"] = { group: "apps", version: "v1", kind: "Deployment" }),
    ),
    false,
    "",
  ],
  ["a pod without spec", withPod((p) => delete p["spec"]), false, "pod.spec is missing"],
  ["containers not a list", withPod((p) => ((p["spec"] as Json)["containers"] = "nginx")), false, "must be a non-empty list"],
  [
    "command with numbers",
    withPod((p) => ((((p["spec"] as Json)["containers"] as Json[])[0] as Json)["command"] = ["/bin/x", 42])),
    false,
    "must be a list of strings",
  ],
  [
    "unknown image entrypoint",
    withPod((p) => ((((p["spec"] as Json)["containers"] as Json[])[1] as Json)["image"] = "unknown:1")),
    true,
    '"envoy" not instrumented',
  ],
  ["no container wrappable", withPod((p) => ((p["spec"] as Json)["containers"] = [{ name: "x", image: "unknown:1" }])), false, "no container could be wrapped"],
  [
    "a container named vigil-agent",
    withPod((p) => ((p["spec"] as Json)["containers"] = [{ name: "vigil-agent", image: "i", command: ["x"] }])),
    false,
    "already named vigil-agent",
  ],
  ["metadata without annotations", withPod((p) => delete (p["metadata"] as Json)["annotations"]), true, ""],
  [
    "image config from an annotation",
    withPod((p) => {
      (((p["spec"] as Json)["containers"] as Json[])[1] as Json)["image"] = "other:2";
      ((p["metadata"] as Json)["annotations"] as Json)["vigil.dev/image-config.envoy"] = '{"Entrypoint":["/e"],"Cmd":["run"]}';
    }),
    true,
    "",
  ],
  [
    "a broken image config annotation",
    withPod((p) => {
      (((p["spec"] as Json)["containers"] as Json[])[1] as Json)["image"] = "other:2";
      ((p["metadata"] as Json)["annotations"] as Json)["vigil.dev/image-config.envoy"] = "{not json";
    }),
    true,
    "not a valid image config",
  ],
];

describe("reviews: who is patched, and failures never block", () => {
  it.each(CASES)("%s", async (_n, body, patched, warning) => {
    const r = await post(srv.port, ca, JSON.stringify(body));
    expect(r.status).toBe(200);
    const resp = r.json["response"] as Json;
    expect(resp["allowed"]).toBe(true);
    expect(resp["uid"]).toBe(baseReview.request.uid);
    expect(resp["patch"] !== undefined).toBe(patched);
    if (warning) expect((resp["warnings"] as string[]).join("\n")).toContain(warning);
    if (patched) {
      const pod = applyJsonPatch(
        (body as { request: { object: unknown } }).request.object,
        JSON.parse(Buffer.from(resp["patch"] as string, "base64").toString()) as JsonPatchOp[],
      );
      expect(() => new Pod(pod as never).validate()).not.toThrow();
    }
  });
});

describe("syscall set", () => {
  it("wrapped containers get VIGIL_TRACE_SYSCALLS when the webhook knows the rules' set", () => {
    const r = review(baseReview, { image: IMAGE, images: envoyImage, syscalls: "execve,openat,procexit" });
    expect(r.status).toBe(200);
    const resp = (r.body as { response: Json }).response;
    const pod = applyJsonPatch(baseReview.request.object, JSON.parse(Buffer.from(resp["patch"] as string, "base64").toString()) as JsonPatchOp[]) as Json;
    for (const c of (pod["spec"] as Json)["containers"] as Json[])
      expect(c["env"]).toContainEqual({ name: "VIGIL_TRACE_SYSCALLS", value: "execve,openat,procexit" });
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });
});

describe("malformed requests", () => {
  it.each([
    ["not JSON", "{{{", 400],
    ["JSON but not a review", JSON.stringify({ hello: 1 }), 400],
    ["v1beta1 review", JSON.stringify({ ...baseReview, apiVersion: "admission.k8s.io/v1beta1" }), 400],
    ["no uid", JSON.stringify({ ...baseReview, request: { ...baseReview.request, uid: undefined } }), 400],
    ["hostile uid", JSON.stringify({ ...baseReview, request: { ...baseReview.request, uid: 'x\n"; rm -rf /' } }), 400],
    ["array", "[]", 400],
  ])("%s → %i", async (_n, body, status) => {
    expect((await post(srv.port, ca, body)).status).toBe(status);
  });

  it("a wrong content type is 415, a GET is 405, an unknown path 404", async () => {
    expect((await post(srv.port, ca, JSON.stringify(baseReview), { "content-type": "text/plain" })).status).toBe(415);
    expect((await post(srv.port, ca, "{}", { "content-type": "application/json" }, "/other")).status).toBe(404);
  });

  it("a huge review is refused with 413 and the server keeps serving", async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    const r = await post(srv.port, ca, big).catch(() => ({ status: 413, json: {} }));
    expect(r.status).toBe(413);
    expect((await post(srv.port, ca, JSON.stringify(baseReview))).status).toBe(200);
  });

  it("a deeply nested pod does not crash the pure reviewer", () => {
    let deep: unknown = {};
    for (let i = 0; i < 5000; i++) deep = { a: deep };
    const body = withPod((p) => ((p["spec"] as Json)["deep"] = deep));
    expect(() => review(body, { image: IMAGE })).not.toThrow();
  });

  it("counts what it did", () => {
    expect(srv.counters.reviews).toBeGreaterThan(5);
    expect(srv.counters.patched).toBeGreaterThan(2);
    expect(srv.counters.failed).toBeGreaterThan(2);
    expect(srv.counters.bad_requests).toBeGreaterThan(4);
  });
});

describe("vigil webhook --print-config", () => {
  it("prints valid manifests: a webhook that never blocks pods, run least-privileged", () => {
    const r = spawnSync(process.execPath, [CLI, "webhook", "--print-config", "--service", "vigil/vigil-webhook", "--ca-bundle", join(dir, "cert.pem")], {
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; [k: string]: unknown });
    expect(docs.map((d) => d.kind)).toEqual(["ServiceAccount", "Deployment", "Service", "PodDisruptionBudget", "MutatingWebhookConfiguration"]);
    const models: Record<string, new (d: never) => { validate(): void }> = {
      ServiceAccount: ServiceAccount as never,
      Deployment: Deployment as never,
      Service: Service as never,
      PodDisruptionBudget: PodDisruptionBudget as never,
      MutatingWebhookConfiguration: MutatingWebhookConfiguration as never,
    };
    for (const d of docs) expect(() => new (models[d.kind] as new (d: never) => { validate(): void })(d as never).validate(), d.kind).not.toThrow();
    const mwc = docs[4] as unknown as {
      webhooks: {
        failurePolicy: string;
        admissionReviewVersions: string[];
        sideEffects: string;
        clientConfig: { caBundle: string; service: { name: string; namespace: string } };
      }[];
    };
    const w = mwc.webhooks[0];
    expect(w?.failurePolicy).toBe("Ignore");
    expect(w?.admissionReviewVersions).toEqual(["v1"]);
    expect(w?.sideEffects).toBe("None");
    expect(w?.clientConfig.service).toMatchObject({ name: "vigil-webhook", namespace: "vigil" });
    expect(Buffer.from(w?.clientConfig.caBundle ?? "", "base64").toString()).toBe(ca);
    const dep = docs[1] as unknown as {
      spec: {
        template: {
          spec: {
            automountServiceAccountToken: boolean;
            containers: { securityContext: { capabilities: { drop: string[] }; readOnlyRootFilesystem: boolean } }[];
          };
        };
      };
    };
    expect(dep.spec.template.spec.automountServiceAccountToken).toBe(false);
    // the TLS Secret's files are 0440 root:<fsGroup>: without the fsGroup, uid 65532 cannot read its key
    const podSpec = dep.spec.template.spec as unknown as {
      securityContext: { runAsUser: number; fsGroup?: number };
      volumes: { secret: { defaultMode: number } }[];
    };
    expect(podSpec.volumes[0]?.secret.defaultMode).toBe(0o440);
    expect(podSpec.securityContext.fsGroup).toBe(65532);
    expect(dep.spec.template.spec.containers[0]?.securityContext.capabilities.drop).toEqual(["ALL"]);
    expect(dep.spec.template.spec.containers[0]?.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it("vigil webhook serves reviews over TLS and stops on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [CLI, "webhook", "--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem"), "--port", "0", "--host", "127.0.0.1", "--metrics-port", "0"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const port = await new Promise<number>((resolve, reject) => {
      let buf = "";
      const t = setTimeout(() => reject(new Error(`no ready line: ${buf}`)), 10_000);
      child.stderr.on("data", (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split("\n")) {
          if (!line.includes("vigil webhook ready")) continue;
          clearTimeout(t);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
    });
    const r = await post(port, ca, JSON.stringify(baseReview));
    expect((r.json["response"] as Json)["patchType"]).toBe("JSONPatch");
    const code = await new Promise<number | null>((resolve) => {
      child.on("exit", (c) => resolve(c));
      child.kill("SIGTERM");
    });
    expect(code).toBe(0);
  });

  it("refuses to serve without TLS, with one line", () => {
    const r = spawnSync(process.execPath, [CLI, "webhook"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("--tls-cert");
  });
});
