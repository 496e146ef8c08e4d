// SPDX-License-Identifier: Apache-2.0
/**
 * End to end: the real agent (kernel probe, containerd enrichment, rules) with the Kubernetes API
 * context reading a test API server (test/helpers/fake-kube-api.ts). A CRI pod is created the way
 * the kubelet does (its CRI labels name the pod and its UID); the API server says that pod belongs
 * to ReplicaSet shop-7c9d8 of Deployment shop. A file opened in the pod's container must raise an
 * alert that names the Deployment; with the API server unreachable, the alert still carries the
 * CRI facts and the agent says once that it fell back to them.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";
import { BUSYBOX_IMAGE, CriClient, containersAvailable, prepareRuntime, type PodSpec } from "../helpers/containers.js";
import { FakeKubeApi } from "../helpers/fake-kube-api.js";
import * as k from "../helpers/k8s-objects.js";

if (!containersAvailable()) throw new Error("containerd, ctr, runc and busybox-static are required (scripts/setup.sh installs them)");

const tag = `${process.pid}`;
const NODE = `node-${tag}`;
const TOKEN = "e2e-token-1f2e3d";
const RULES = `
- rule: Vigil k8s API marker file
  desc: a marker file opened inside a pod's container (Kubernetes API end-to-end test)
  condition: evt.type in (open, openat, openat2) and fd.name startswith /tmp/vigil-k8s-marker- and container.id != host
  output: marker file=%fd.name pod=%k8s.pod.name deployment=%k8s.deployment.name rs=%k8s.rs.name sa=%k8s.pod.sa team=%k8s.ns.label[team] zone=%k8s.node.zone
  priority: NOTICE
`;

let sock: string;
let cri: CriClient;
let api: FakeKubeApi;
let podId: string | undefined;
let criId: string;
const dir = mkdtempSync(join(tmpdir(), "vigil-k8s-e2e-"));
const pod: PodSpec = {
  name: `shop-7c9d8-${tag.padStart(5, "0").slice(-5)}`,
  namespace: "payments",
  uid: `b1c2d3e4-${tag.padStart(4, "0").slice(-4)}-4000-8000-0000000000a1`,
  labels: { app: "shop" },
};
const agents: RunningAgent[] = [];

function kubeconfig(url: string): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
users: [{name: agent, user: {token: "${TOKEN}"}}]
contexts: [{name: test, context: {cluster: test, user: agent}}]
current-context: test
`,
  );
  return file;
}

function execIn(id: string, execId: string, args: string[]): void {
  const r = spawnSync("ctr", ["-a", sock, "-n", "k8s.io", "tasks", "exec", "--exec-id", execId, id, ...args], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`ctr exec failed: ${r.stderr}`);
}

beforeAll(async () => {
  ({ sock } = prepareRuntime());
  cri = new CriClient(sock);
  const p = await cri.runPod(pod);
  podId = p.id;
  criId = await cri.runContainer(p, pod, { name: "web", image: BUSYBOX_IMAGE, command: ["/bin/sleep", "600"] });
  api = await FakeKubeApi.start({ token: TOKEN });
  api.apply(k.namespace("payments", { team: "checkout-team" }));
  api.apply(k.node(NODE, { "topology.kubernetes.io/zone": "eu-central-1c" }));
  const dep = api.apply(k.deployment("payments", "shop"));
  const rs = api.apply(k.replicaSet(dep, "7c9d8"));
  api.apply(k.pod("payments", pod.name, NODE, { owner: rs, uid: pod.uid, labels: pod.labels, serviceAccount: "shop-sa" }));
  writeFileSync(join(dir, "rules.yaml"), RULES);
}, 180_000);

afterAll(async () => {
  for (const a of agents) await a.stop();
  await api?.stop();
  if (podId !== undefined) await cri.removePod(podId);
  cri?.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("vigil agent with the Kubernetes API", () => {
  test("an alert from a Deployment's pod names the Deployment", async () => {
    const agent = await startAgent([
      "--rules",
      join(dir, "rules.yaml"),
      "--containerd-socket",
      sock,
      "--stats-interval",
      "0",
      "--kubeconfig",
      kubeconfig(api.url),
      "--node-name",
      NODE,
    ]);
    agents.push(agent);
    await agent.waitForLog((l) => l["msg"] === "Kubernetes API context synced", 20_000);
    const file = `/tmp/vigil-k8s-marker-${tag}-a`;
    execIn(criId, "k1", ["/bin/touch", file]);
    const a = await agent.waitForAlert((x) => x.output_fields["fd.name"] === file, 15_000);
    const f = a.output_fields;
    expect(f["k8s.pod.name"]).toBe(pod.name); // from the CRI labels
    expect(f["k8s.deployment.name"]).toBe("shop");
    expect(f["k8s.rs.name"]).toBe("shop-7c9d8");
    expect(f["k8s.pod.sa"]).toBe("shop-sa");
    expect(f["k8s.ns.label[team]"]).toBe("checkout-team");
    expect(f["k8s.node.zone"]).toBe("eu-central-1c");
    // kubernetes.alert_fields: every syscall alert names the workload
    expect(f["k8s.workload.kind"]).toBe("Deployment");
    expect(f["k8s.workload.name"]).toBe("shop");
    expect(a.output).toContain("deployment=shop");
    expect(a.output).toContain("k8s_workload_kind=Deployment k8s_workload_name=shop");
    // the agent watched its node's pods only
    expect(api.seen("/api/v1/pods", "list")[0]?.query["fieldSelector"]).toBe(`spec.nodeName=${NODE}`);
    await agent.stop();
  });

  test("with the API server unreachable, the alert carries the CRI facts and the agent says so once", async () => {
    const dead = await FakeKubeApi.start({ token: TOKEN });
    const url = dead.url;
    await dead.stop();
    const agent = await startAgent(
      ["--rules", join(dir, "rules.yaml"), "--containerd-socket", sock, "--stats-interval", "0", "--kubeconfig", kubeconfig(url), "--node-name", NODE],
      60_000,
      { VIGIL_KUBERNETES_SYNC_WAIT_MS: "500" },
    );
    agents.push(agent);
    const file = `/tmp/vigil-k8s-marker-${tag}-b`;
    execIn(criId, "k2", ["/bin/touch", file]);
    const a = await agent.waitForAlert((x) => x.output_fields["fd.name"] === file, 15_000);
    const f = a.output_fields;
    expect(f["k8s.pod.name"]).toBe(pod.name);
    expect(f["k8s.ns.name"]).toBe("payments");
    expect(f["k8s.deployment.name"] ?? null).toBeNull();
    expect(f["k8s.workload.kind"] ?? null).toBeNull();
    // let it retry a few times: still one line
    await new Promise((r) => setTimeout(r, 1500));
    const down = agent.logs.filter((l) => typeof l["msg"] === "string" && (l["msg"] as string).startsWith("Kubernetes API unreachable"));
    expect(down.length).toBe(1);
    expect(agent.logs.some((l) => l["msg"] === "Kubernetes API not synced yet: starting anyway, workload metadata follows as it arrives")).toBe(true);
  });
});
