// SPDX-License-Identifier: Apache-2.0
/**
 * The Fargate path with the shipped image on containerd, end to end:
 *  1. the collector runs as daemonset.yaml's Deployment runs it;
 *  2. `vigil webhook` runs as the EKS Fargate overlay's Deployment runs it (deploy/overlays/
 *     eks-fargate rendered by `kubectl kustomize`; `vigil webhook --print-config` when the overlay
 *     is absent), with the flags that make sidecars ship to that collector;
 *  3. a real admission.k8s.io/v1 AdmissionReview for a pod on a Fargate profile is POSTed to it
 *     over TLS, and its JSON Patch is applied to the pod (RFC 6902, test/helpers/json-patch.ts);
 *  4. the patched pod runs through the test kubelet (test/helpers/kubelet.ts): the installer
 *     copies vigil-trace out of the image, the agent runs as a native sidecar under a read-only
 *     root, and the busybox workload runs under vigil-trace;
 *  5. the workload writes and reads /etc/shadow, and the *Read Shadow File* alert reaches the
 *     collector from the sidecar, with the pod's namespace and name.
 * Pods share the node's network here (no CNI): Service names resolve to 127.0.0.1 through the
 * kubelet's hosts entries, and ports 9376, 9377 and 9443 are the host's, so this file runs alone
 * (scripts/test.sh). VIGIL_TEST_IMAGE_TAR names an archive built beforehand (skips the build).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { REPO_ROOT } from "../helpers/agent.js";
import { BUSYBOX_IMAGE, containersAvailable, prepareRuntime, TEST_CONTAINERD_DIR } from "../helpers/containers.js";
import {
  capsOf,
  containerPid,
  daemonsetDocs,
  findDoc,
  httpRequestText,
  importVigilImage,
  kustomizeDocs,
  makeTestTls,
  manifestDocs,
  type ManifestDoc,
  podOf,
  poll,
  procStatus,
  rootIsReadOnly,
  secretNames,
  serviceNames,
  VIGIL_IMAGE,
  vigilImageTar,
} from "../helpers/image-pods.js";
import { applyAdmissionPatch } from "../helpers/json-patch.js";
import { Kubelet, type RunningPod } from "../helpers/kubelet.js";

const OVERLAY = join(REPO_ROOT, "deploy", "overlays", "eks-fargate");
const COLLECTOR_SERVICE = "vigil-collector.vigil.svc";
const WEBHOOK_SERVICE = "vigil-webhook.vigil.svc";
/** The Secret the operator creates in each instrumented namespace (README, "Fargate"). */
const NAMESPACE_SECRET = "vigil-collector";
const WORKLOAD_NS = "shop";
const WORKLOAD_POD = "checkout-5d8f7c9b6-x2x9z";
/**
 * busybox has no /etc/shadow: the workload writes one and reads it, then reads it again each time
 * the test drops /tmp/again into its root (a read whose alert latency is measured once the
 * sidecar is up).
 */
const WORKLOAD_SCRIPT = [
  "echo 'root:*:19000:0:99999:7:::' > /etc/shadow",
  "cat /etc/shadow",
  "while :; do if [ -e /tmp/again ]; then busybox rm -f /tmp/again; cat /etc/shadow; fi; sleep 1; done",
].join("; ");

const work = mkdtempSync(join(tmpdir(), "vigil-fargate-e2e-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Json = Record<string, unknown>;
interface StoredAlert {
  id: string;
  time: string;
  rule: string;
  hostname: string;
  output: string;
  output_fields: Record<string, unknown>;
}

/** ISO time with up to nanoseconds → ms since the epoch. */
function isoMs(t: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
  if (!m) throw new Error(`bad alert time ${t}`);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}

/** The webhook Deployment as the Fargate overlay ships it (or as --print-config prints it). */
function webhookDeployment(): { doc: ManifestDoc; from: string } {
  if (existsSync(join(OVERLAY, "kustomization.yaml"))) {
    return { doc: findDoc(kustomizeDocs(OVERLAY), "Deployment", "vigil-webhook", "deploy/overlays/eks-fargate"), from: "deploy/overlays/eks-fargate" };
  }
  const ca = join(work, "print-config-ca.pem");
  writeFileSync(ca, makeTestTls(join(work, "print-config"), [WEBHOOK_SERVICE])["ca.crt"]);
  const r = spawnSync(process.execPath, [join(REPO_ROOT, "dist", "agent", "cli", "main.js"), "webhook", "--print-config", "--ca-bundle", ca], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`vigil webhook --print-config failed: ${r.stderr}`);
  return { doc: findDoc(manifestDocs(r.stdout), "Deployment", "vigil-webhook", "vigil webhook --print-config"), from: "vigil webhook --print-config" };
}

/** The Fargate pod as the API server hands it to mutating webhooks (after EKS's own Fargate webhook). */
function fargatePod(): Json {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: WORKLOAD_POD,
      generateName: "checkout-5d8f7c9b6-",
      namespace: WORKLOAD_NS,
      labels: { app: "checkout", "pod-template-hash": "5d8f7c9b6", "eks.amazonaws.com/fargate-profile": "shop" },
    },
    spec: {
      schedulerName: "fargate-scheduler",
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 5,
      containers: [{ name: "app", image: BUSYBOX_IMAGE, command: ["sh", "-c", WORKLOAD_SCRIPT], imagePullPolicy: "IfNotPresent", resources: {} }],
    },
  };
}

describe.skipIf(!containersAvailable())("the Fargate sidecar path with the image on containerd", () => {
  let sock = "";
  let kubelet: Kubelet;
  let collector: RunningPod;
  let webhook: RunningPod | undefined;
  let workload: RunningPod;
  let patched: Json;
  let collectorTls = false;
  let tls: ReturnType<typeof makeTestTls>;
  const token = randomBytes(32).toString("hex");
  const collectorDocs = daemonsetDocs();
  const kdir = join(work, "kubelet");

  const collectorUrl = () => `${collectorTls ? "https" : "http"}://127.0.0.1:9377`;
  const queryAlerts = async (query: string): Promise<StoredAlert[]> => {
    const r = await httpRequestText(`${collectorUrl()}/api/v1/alerts?${query}`, { token, ca: tls["ca.crt"], servername: COLLECTOR_SERVICE });
    if (r.status !== 200) return [];
    return r.body
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StoredAlert);
  };
  const shadowAlerts = () =>
    queryAlerts(new URLSearchParams({ rule: "Read Shadow File", namespace: WORKLOAD_NS, pod: WORKLOAD_POD }).toString()).then((l) =>
      l.filter((a) => a.output_fields["fd.name"] === "/etc/shadow"),
    );
  const sidecarLog = () => (workload ? kubelet.logs(workload, "vigil-agent") : "(not started)");
  const diag = () =>
    `sidecar log:\n${sidecarLog().slice(-6000)}\nworkload log:\n${workload ? kubelet.logs(workload, "app").slice(-2000) : ""}\ncollector log:\n${kubelet.logs(collector, "collector").slice(-3000)}`;

  beforeAll(async () => {
    ({ sock } = prepareRuntime());
    importVigilImage(sock, vigilImageTar(work));
    mkdirSync(kdir, { recursive: true });
    tls = makeTestTls(join(kdir, "tls"), [...serviceNames("vigil-collector", "vigil"), ...serviceNames("vigil-webhook", "vigil")]);
    const { doc } = webhookDeployment();
    // what the operator creates before applying (README): every Secret the pods mount holds the
    // token and the TLS material; the instrumented namespace gets the token and the CA
    const secrets: Record<string, Record<string, string>> = {};
    for (const n of secretNames([...collectorDocs, doc])) secrets[n] = { token, ...tls };
    secrets[NAMESPACE_SECRET] = { token, "ca.crt": tls["ca.crt"] };
    const volumes: Record<string, string> = {};
    for (const d of collectorDocs) if (d.kind === "PersistentVolumeClaim") volumes[d.metadata.name] = join(kdir, "pv", d.metadata.name);
    kubelet = new Kubelet(sock, {
      nodeName: "fargate-ip-192-168-7-21.eu-west-1.compute.internal",
      secrets,
      volumes,
      hostPaths: { "/run/containerd/containerd.sock": `${TEST_CONTAINERD_DIR}/containerd.sock` },
      hosts: Object.fromEntries([...serviceNames("vigil-collector", "vigil"), ...serviceNames("vigil-webhook", "vigil")].map((n) => [n, "127.0.0.1"])),
      dir: kdir,
    });
  }, 900_000);

  afterAll(async () => {
    await kubelet?.removeAll();
    kubelet?.close();
  }, 120_000);

  it("the collector runs as daemonset.yaml's Deployment runs it", async () => {
    const dep = findDoc(collectorDocs, "Deployment", "vigil-collector", "daemonset.yaml");
    collectorTls = (dep.spec?.template?.spec.containers[0]?.args ?? []).some((a) => a.startsWith("--tls"));
    collector = await kubelet.run(podOf(dep, "e2e"));
    await poll(
      "the collector answers /healthz",
      async () => (await httpRequestText(`${collectorUrl()}/healthz`, { ca: tls["ca.crt"], servername: COLLECTOR_SERVICE })).status === 200,
      60_000,
      () => kubelet.logs(collector, "collector"),
    );
  }, 120_000);

  it("the webhook runs as the Fargate overlay's Deployment runs it and patches a Fargate pod", async () => {
    const { doc, from } = webhookDeployment();
    const pod = podOf(doc, "e2e");
    const c = pod.spec.containers[0] as NonNullable<IPodSpec["containers"][0]>;
    const args = c.args ?? [];
    expect(args.slice(args.indexOf("--image"), args.indexOf("--image") + 2)).toEqual(["--image", VIGIL_IMAGE]);
    if (!args.includes("--collector")) {
      // the manifest as shipped does not turn shipping on: do what the README tells operators to
      const extra = ["--collector", `${COLLECTOR_SERVICE}:9377`, "--collector-secret", NAMESPACE_SECRET, ...(collectorTls ? ["--collector-tls"] : [])];
      console.log(`fargate e2e: ${from} runs vigil webhook without --collector; adding ${extra.join(" ")}`);
      c.args = [...args, ...extra];
    }
    webhook = await kubelet.run(pod);
    const url = "https://127.0.0.1:9443";
    await poll(
      "the webhook answers /healthz over TLS",
      async () => (await httpRequestText(`${url}/healthz`, { ca: tls["ca.crt"], servername: WEBHOOK_SERVICE })).status === 200,
      60_000,
      () => kubelet.logs(webhook as RunningPod, "webhook"),
    );
    const object = fargatePod();
    const review = {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: randomUUID(),
        kind: { group: "", version: "v1", kind: "Pod" },
        resource: { group: "", version: "v1", resource: "pods" },
        requestKind: { group: "", version: "v1", kind: "Pod" },
        requestResource: { group: "", version: "v1", resource: "pods" },
        namespace: WORKLOAD_NS,
        operation: "CREATE",
        userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller", groups: ["system:serviceaccounts", "system:authenticated"] },
        object,
        oldObject: null,
        dryRun: false,
        options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
      },
    };
    const r = await httpRequestText(`${url}/mutate`, {
      method: "POST",
      ca: tls["ca.crt"],
      servername: WEBHOOK_SERVICE,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(review),
    });
    expect(r.status, r.body).toBe(200);
    const response = (JSON.parse(r.body) as { response: Json }).response;
    expect(response["uid"]).toBe(review.request.uid);
    expect(response["allowed"]).toBe(true);
    expect(response["warnings"]).toBeUndefined();
    patched = applyAdmissionPatch<Json>(object, response as { patchType?: unknown; patch?: unknown });
    const spec = patched["spec"] as IPodSpec;
    expect(spec.initContainers?.map((x) => x.name)).toEqual(["vigil-install", "vigil-agent"]);
    expect(spec.containers[0]?.command?.slice(0, 4)).toEqual(["/vigil/bin/vigil-trace", "--socket", "/vigil/trace.sock", "--"]);
    const env = Object.fromEntries((spec.initContainers?.[1]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env["VIGIL_SINKS_COLLECTOR_ADDRESS"]).toBe(`${COLLECTOR_SERVICE}:9377`);
    // the webhook's metrics port is the sidecar's too (one network namespace here): it is done
    await kubelet.remove(webhook);
    webhook = undefined;
  }, 180_000);

  it("the patched pod runs: vigil-trace installed from the image, the agent sidecar read-only and unprivileged, the workload under vigil-trace", async () => {
    const meta = patched["metadata"] as { labels: Record<string, string>; annotations: Record<string, string> };
    const t0 = Date.now();
    workload = await kubelet.run({
      name: WORKLOAD_POD,
      namespace: WORKLOAD_NS,
      labels: meta.labels,
      annotations: meta.annotations,
      spec: patched["spec"] as IPodSpec,
    });
    await poll("the sidecar agent is ready", async () => sidecarLog().includes("vigil agent ready"), 120_000, diag, 50);
    const readyMs = Date.now() - t0;
    const sidecarPid = containerPid(sock, workload.containers["vigil-agent"] as string);
    const st = procStatus(sidecarPid);
    console.log(`fargate e2e: pod run → sidecar ready ${readyMs} ms; sidecar RSS ${st["VmRSS"]} (limit 256Mi)`);
    expect(st["Uid"]?.split(/\s+/)[0]).toBe("65532");
    expect(capsOf(st["CapEff"] as string)).toEqual([]);
    expect(st["NoNewPrivs"]).toBe("1");
    expect(rootIsReadOnly(sidecarPid)).toBe(true);
    // the workload's first process is the tracer from the shared volume
    const appPid = containerPid(sock, workload.containers["app"] as string);
    const argv = readFileSync(`/proc/${appPid}/cmdline`, "utf8").split("\0");
    expect(argv.slice(0, 5)).toEqual(["/vigil/bin/vigil-trace", "--socket", "/vigil/trace.sock", "--", "sh"]);
  }, 180_000);

  it("the workload's read of /etc/shadow reaches the collector from the sidecar, with the pod's namespace and name", async () => {
    let first: StoredAlert | undefined;
    await poll(
      "a Read Shadow File alert of the workload in the collector",
      async () => {
        first = (await shadowAlerts())[0];
        return first !== undefined;
      },
      90_000,
      diag,
    );
    const a = first as StoredAlert;
    expect(a.rule).toBe("Read Shadow File");
    // busybox's sh runs its applets through /proc/self/exe: the kernel names the process "exe"
    expect(a.output_fields["proc.exepath"]).toBe("/bin/busybox");
    expect(a.output_fields["proc.cmdline"]).toBe("exe /etc/shadow");
    expect(a.output_fields["proc.pname"]).toBe("sh");
    expect(a.output_fields["evt.arg.flags"]).toBe("O_RDONLY");
    expect(a.output_fields["k8s.ns.name"]).toBe(WORKLOAD_NS);
    expect(a.output_fields["k8s.pod.name"]).toBe(WORKLOAD_POD);
    // the container of a traced pod is named after the pod's UID, not the host
    expect(a.output_fields["container.id"]).toBe(workload.uid.replace(/-/g, "").slice(0, 12));
    // the sidecar's node (downward API)
    expect(a.hostname).toBe("fargate-ip-192-168-7-21.eu-west-1.compute.internal");
    // it came through vigil-trace: the sidecar (whose only source is the tracer socket) printed it
    expect(sidecarLog()).toContain(a.id);
    // ... and shipped it: its /metrics (the pod's port 9376) count the alert and the collector's
    // acknowledgement. The collector stores a batch before it answers, so the alert can be
    // queryable a moment before the sidecar has read the acknowledgement: wait for it.
    let m = "";
    const metric = (re: RegExp) => Number(re.exec(m)?.[1] ?? "0");
    const acked = /^vigil_delivery_acked(?:_total)? (\d+)/m;
    await poll(
      "the sidecar's count of acknowledged alerts",
      async () => {
        m = (await httpRequestText("http://127.0.0.1:9376/metrics")).body;
        return metric(acked) >= 1;
      },
      10_000,
      () => `${diag()}\n${m}`,
      50,
    );
    expect(metric(/^vigil_alerts_total\{[^}]*rule="Read Shadow File"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(metric(acked)).toBeGreaterThanOrEqual(1);

    // the first read happened as the pod started, before the agent listened: the tracer kept the
    // frames, and the sidecar raised the alert (its CRI log line's time) once it was up
    const line = sidecarLog()
      .split("\n")
      .find((l) => l.includes(a.id));
    const raisedAfter = isoMs(line?.split(" ")[0] ?? a.time) - isoMs(a.time);

    // once the sidecar is up: from the read to the alert in the collector
    const appPid = containerPid(sock, workload.containers["app"] as string);
    const seen = new Set((await shadowAlerts()).map((x) => x.id));
    writeFileSync(`/proc/${appPid}/root/tmp/again`, "");
    let again: StoredAlert | undefined;
    let storedAt = 0;
    await poll(
      "the second read's alert in the collector",
      async () => {
        again = (await shadowAlerts()).find((x) => !seen.has(x.id));
        storedAt = Date.now();
        return again !== undefined;
      },
      30_000,
      diag,
      25,
    );
    const latency = storedAt - isoMs((again as StoredAlert).time);
    console.log(
      `fargate e2e: read at pod start → raised by the starting sidecar ${raisedAfter.toFixed(0)} ms later; read → alert in the collector once the sidecar is up: ${latency.toFixed(0)} ms (polled every 25 ms)`,
    );
    expect(latency).toBeGreaterThanOrEqual(0);
    expect(latency).toBeLessThan(5000);
  }, 150_000);
});
