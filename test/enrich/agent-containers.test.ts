// SPDX-License-Identifier: Apache-2.0
/**
 * End to end: the real agent (kernel probe, state, enrichment, rules) with the test containerd.
 * A file is created inside a `ctr run` container and inside a CRI pod's container; each alert must
 * name the container, image and (for the pod) the Kubernetes pod, namespace and labels.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";
import { fakeFalco, type FakeFalco } from "../sinks/falco-interop.helpers.js";
import {
  BUSYBOX_IMAGE,
  CriClient,
  containersAvailable,
  prepareRuntime,
  removeContainer,
  runContainer,
  type BuiltImage,
  type PodSpec,
} from "../helpers/containers.js";

if (!containersAvailable()) throw new Error("containerd, ctr, runc and busybox-static are required (scripts/setup.sh installs them)");

const tag = `${process.pid}`;
const FIELDS = [
  "fd.name",
  "container.id",
  "container.full_id",
  "container.name",
  "container.type",
  "container.image",
  "container.image.repository",
  "container.image.tag",
  "container.image.digest",
  "container.image.id",
  "container.privileged",
  "container.host_network",
  "container.user",
  "container.label[app]",
  "container.meta_missing",
  "k8s.pod.name",
  "k8s.ns.name",
  "k8s.pod.uid",
  "k8s.pod.sandbox_id",
  "k8s.pod.label[tier]",
  "k8s.container.name",
];
const RULES = `
- rule: Vigil test marker file in a container
  desc: a marker file created inside a container (enrichment end-to-end test)
  condition: evt.type in (open, openat, openat2) and fd.name startswith /tmp/vigil-marker- and container.id != host
  output: marker ${FIELDS.map((f) => `${f}=%${f}`).join(" ")}
  priority: NOTICE
`;

let sock: string;
let busybox: BuiltImage;
let agent: RunningAgent | undefined;
let cri: CriClient;
let falco: FakeFalco;
const dir = mkdtempSync(join(tmpdir(), "vigil-enrich-e2e-"));
const ctrId = `vigil-e2e-${tag}`;
let podId: string | undefined;
let criId: string;
const pod: PodSpec = {
  name: `shop-${tag}`,
  namespace: "payments",
  uid: `a1b2c3d4-${tag.padStart(4, "0").slice(-4)}-4000-8000-00000000e2e0`,
  labels: { app: "shop", tier: "backend" },
};

beforeAll(async () => {
  ({ sock, busybox } = prepareRuntime());
  cri = new CriClient(sock);
  removeContainer(sock, "default", ctrId);
  runContainer(sock, "default", ctrId, BUSYBOX_IMAGE, ["/bin/sleep", "600"], ["--label", "app=e2e"]);
  const p = await cri.runPod(pod);
  podId = p.id;
  criId = await cri.runContainer(p, pod, { name: "api", image: BUSYBOX_IMAGE, command: ["/bin/sleep", "600"] });
  const rules = join(dir, "rules.yaml");
  writeFileSync(rules, RULES);
  falco = await fakeFalco(`unix://${join(dir, "falco.sock")}`);
  agent = await startAgent(["--rules", rules, "--containerd-socket", sock, "--stats-interval", "0", "--falco-grpc", falco.address]);
}, 180_000);

afterAll(async () => {
  await agent?.stop();
  falco?.server.forceShutdown();
  removeContainer(sock, "default", ctrId);
  if (podId !== undefined) await cri.removePod(podId);
  cri.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

function execIn(ns: string, id: string, execId: string, args: string[]): void {
  const r = spawnSync("ctr", ["-a", sock, "-n", ns, "tasks", "exec", "--exec-id", execId, id, ...args], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`ctr exec failed: ${r.stderr}`);
}

describe("vigil agent with containerd", () => {
  test("an event inside a ctr container carries every container field", async () => {
    const file = `/tmp/vigil-marker-${tag}-ctr`;
    execIn("default", ctrId, "m1", ["/bin/touch", file]);
    const a = await (agent as RunningAgent).waitForAlert((x) => x.output_fields["fd.name"] === file, 10_000);
    const f = a.output_fields;
    expect(f["container.id"]).toBe(ctrId.slice(0, 12));
    expect(f["container.full_id"]).toBe(ctrId);
    expect(f["container.name"]).toBe(ctrId);
    expect(f["container.type"]).toBe("containerd");
    expect(f["container.image"]).toBe(BUSYBOX_IMAGE);
    expect(f["container.image.repository"]).toBe("docker.io/vigil/busybox");
    expect(f["container.image.tag"]).toBe("1.0");
    expect(f["container.image.digest"]).toBe(busybox.manifestDigest);
    expect(f["container.image.id"]).toBe(busybox.configDigest.slice(7, 19));
    expect(String(f["container.privileged"])).toBe("false");
    expect(String(f["container.host_network"])).toBe("false");
    expect(String(f["container.user"])).toBe("0");
    expect(f["container.label[app]"]).toBe("e2e");
    expect(String(f["container.meta_missing"])).toBe("false");
    expect(f["k8s.pod.name"] ?? "<NA>").toBe("<NA>");
  });

  test("an event inside a CRI pod's container carries the k8s fields", async () => {
    const file = `/tmp/vigil-marker-${tag}-cri`;
    execIn("k8s.io", criId, "m2", ["/bin/touch", file]);
    const a = await (agent as RunningAgent).waitForAlert((x) => x.output_fields["fd.name"] === file, 10_000);
    const f = a.output_fields;
    expect(f["container.id"]).toBe(criId.slice(0, 12));
    expect(f["container.full_id"]).toBe(criId);
    expect(f["container.name"]).toBe("api");
    expect(f["container.image"]).toBe(BUSYBOX_IMAGE);
    expect(f["k8s.pod.name"]).toBe(pod.name);
    expect(f["k8s.ns.name"]).toBe("payments");
    expect(f["k8s.pod.uid"]).toBe(pod.uid);
    expect(f["k8s.pod.sandbox_id"]).toBe(podId?.slice(0, 12));
    expect(f["k8s.pod.label[tier]"]).toBe("backend");
    expect(f["k8s.container.name"]).toBe("api");
    expect(String(f["container.host_network"])).toBe("true");
    expect(String(f["container.meta_missing"])).toBe("false");
  });

  test("a Falco alert naming a container this node knows gets its container and k8s fields", async () => {
    // the CRI container is known from the test above; Falco sends only its short ID
    falco.push({
      time: { seconds: Math.floor(Date.now() / 1000), nanos: 1 },
      priority: "NOTICE",
      rule: `Falco rule for ${tag}`,
      output: "Notice something in a container",
      output_fields: { "container.id": criId.slice(0, 12), "proc.name": "touch" },
      hostname: "node-1",
      tags: ["container"],
      source: "syscall",
    });
    const a = await (agent as RunningAgent).waitForAlert((x) => x.rule === `Falco rule for ${tag}`, 10_000);
    const f = a.output_fields;
    expect(f["k8s.ns.name"]).toBe("payments");
    expect(f["k8s.pod.name"]).toBe(pod.name);
    expect(f["container.name"]).toBe("api");
    expect(f["container.image.repository"]).toBe("docker.io/vigil/busybox");
    expect(f["proc.name"]).toBe("touch"); // Falco's own fields are kept as they came
  });
});
