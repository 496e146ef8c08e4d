// SPDX-License-Identifier: Apache-2.0
/**
 * Drift prevention end to end: the real `vigil agent` (built CLI) with a prevention policy from
 * its environment, the real probe, real containers on the test containerd (Kubernetes pods
 * through the CRI, plain `ctr` containers). Each container waits for a go file, copies busybox
 * into /tmp (its overlayfs upper layer) and runs the copy, which would write a marker into a host
 * folder mounted at /out, then records the exit status.
 *
 * - in scope by Kubernetes namespace, and by image: no marker, status 137, the alert has
 *   `blocked: true` and says "(blocked)";
 * - out of scope (another namespace, another image): the marker appears, the alert is not blocked;
 * - a container that copies and runs the program at once (no go file) is blocked as well;
 * - host processes running programs from tmpfs are never killed.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type JsonAlert, type RunningAgent } from "../helpers/agent.js";
import {
  BUSYBOX_IMAGE,
  buildBusyboxImage,
  containersAvailable,
  CriClient,
  importImage,
  prepareRuntime,
  removeContainer,
  runContainer,
  until,
  type CriPod,
} from "../helpers/containers.js";

const RUN = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const NS_ON = `prevent-on-${RUN}`;
const NS_OFF = `prevent-off-${RUN}`;
const GUARDED_IMAGE = "docker.io/vigil/guarded:1.0";
const DRIFT =
  "until [ -e /out/go ]; do sleep 0.05; done; cp /bin/busybox /tmp/busybox; " + "/tmp/busybox sh -c 'echo ran > /out/marker'; echo $? > /out/status; sleep 600";

const skip = !containersAvailable() || process.getuid?.() !== 0;

describe.skipIf(skip)("vigil agent with drift prevention", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-prevent-agent-"));
  let sock = "";
  let agent: RunningAgent;
  let cri: CriClient;
  const pods: CriPod[] = [];
  const ctrIds: string[] = [];

  beforeAll(async () => {
    sock = prepareRuntime().sock;
    importImage(sock, "default", buildBusyboxImage(GUARDED_IMAGE, undefined, ["/bin/sh"]));
    const data = join(dir, "agent-data");
    mkdirSync(data, { recursive: true });
    agent = await startAgent(["--containerd-socket", sock, "--stats-interval", "0", "--data", data], 90_000, {
      VIGIL_PREVENTION_ENABLED: "true",
      VIGIL_PREVENTION_SCOPE: `namespace=${NS_ON},image=docker.io/vigil/guarded:*`,
    });
    cri = new CriClient(sock);
  }, 180_000);

  afterAll(async () => {
    for (const p of pods) await cri?.removePod(p.id);
    cri?.close();
    for (const id of ctrIds) removeContainer(sock, "default", id);
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  function outDir(name: string): string {
    const out = join(dir, name);
    mkdirSync(out, { recursive: true });
    chmodSync(out, 0o777);
    return out;
  }

  async function pod(name: string, ns: string): Promise<{ id: string; out: string }> {
    const out = outDir(name);
    const spec = { name: `${name}-${RUN}`, namespace: ns, uid: `uid-${name}-${RUN}`, labels: { app: name } };
    const p = await cri.runPod(spec);
    pods.push(p);
    const id = await cri.runContainer(p, spec, {
      name,
      image: BUSYBOX_IMAGE,
      command: ["/bin/sh", "-c", DRIFT],
      mounts: [{ containerPath: "/out", hostPath: out, readonly: false }],
    });
    return { id, out };
  }

  function ctrContainer(name: string, image: string): { id: string; out: string } {
    const out = outDir(name);
    // distinct within the 12 characters alerts and logs carry
    const id = `${name}-pv-${RUN}`;
    ctrIds.push(id);
    runContainer(sock, "default", id, image, ["/bin/sh", "-c", DRIFT], ["--mount", `type=bind,src=${out},dst=/out,options=rbind:rw`]);
    return { id, out };
  }

  const armedLog = (id: string) => (l: Record<string, unknown>) =>
    l["msg"] === "prevention armed" && (l["container"] as { id?: string } | undefined)?.id === id.slice(0, 12);

  /** Lets the container go and waits for its exit status; returns status and whether it ran. */
  async function go(out: string): Promise<{ status: string; ran: boolean }> {
    writeFileSync(join(out, "go"), "");
    expect(await until(() => existsSync(join(out, "status")), 20_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    return { status: readFileSync(join(out, "status"), "utf8").trim(), ran: existsSync(join(out, "marker")) };
  }

  const driftAlert = (id: string) => (a: JsonAlert) => a.output_fields["container.id"] === id.slice(0, 12) && /\/tmp\/busybox/.test(a.output);

  it("in scope by Kubernetes namespace: killed before it ran, alert blocked", async () => {
    const { id, out } = await pod("web", NS_ON);
    await agent.waitForLog(armedLog(id), 15_000);
    expect(await go(out)).toEqual({ status: "137", ran: false });
    const a = await agent.waitForAlert(driftAlert(id), 10_000);
    expect(a.blocked).toBe(true);
    expect(a.output.endsWith(" (blocked)")).toBe(true);
    expect(a.output_fields["k8s.ns.name"]).toBe(NS_ON);
  }, 90_000);

  it("out of scope (another namespace): runs, alert not blocked", async () => {
    const { id, out } = await pod("shop", NS_OFF);
    await until(() => agent.logs.some((l) => l["msg"] === "kernel probe attached"), 1000);
    // give the agent the same time it had to arm the first one
    await new Promise((r) => setTimeout(r, 1000));
    expect(agent.logs.some(armedLog(id))).toBe(false);
    expect(await go(out)).toEqual({ status: "0", ran: true });
    const a = await agent.waitForAlert(driftAlert(id), 10_000);
    expect(a.blocked).toBeUndefined();
    expect(a.output).not.toContain("(blocked)");
  }, 90_000);

  it("in scope by image: blocked; the same drift in another image runs", async () => {
    const guarded = ctrContainer("guarded", GUARDED_IMAGE);
    const plain = ctrContainer("plain", BUSYBOX_IMAGE);
    await agent.waitForLog(armedLog(guarded.id), 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.logs.some(armedLog(plain.id))).toBe(false);
    expect(await go(guarded.out)).toEqual({ status: "137", ran: false });
    expect(await go(plain.out)).toEqual({ status: "0", ran: true });
    expect((await agent.waitForAlert(driftAlert(guarded.id), 10_000)).blocked).toBe(true);
    expect((await agent.waitForAlert(driftAlert(plain.id), 10_000)).blocked).toBeUndefined();
  }, 90_000);

  it("no waiting: a container that copies and runs the program at once is blocked too", async () => {
    // armed from the runtime's task event or the entrypoint's exec, before the copy runs: the
    // agent hears of the container before its shell has copied and started the program
    const out = outDir("eager");
    const id = `eager-pv-${RUN}`;
    ctrIds.push(id);
    const script = DRIFT.replace("until [ -e /out/go ]; do sleep 0.05; done; ", "");
    runContainer(sock, "default", id, GUARDED_IMAGE, ["/bin/sh", "-c", script], ["--mount", `type=bind,src=${out},dst=/out,options=rbind:rw`]);
    expect(await until(() => existsSync(join(out, "status")), 20_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect({ status: readFileSync(join(out, "status"), "utf8").trim(), ran: existsSync(join(out, "marker")) }).toEqual({ status: "137", ran: false });
    expect((await agent.waitForAlert(driftAlert(id), 10_000)).blocked).toBe(true);
  }, 60_000);

  it("host processes are never killed", async () => {
    const shm = `/dev/shm/vigil-prevent-host-${RUN}`;
    const marker = join(outDir("host"), "marker");
    copyFileSync("/bin/busybox", shm);
    chmodSync(shm, 0o755);
    try {
      const r = spawnSync(shm, ["sh", "-c", `echo ran > ${marker}`], { timeout: 10_000, argv0: "busybox" });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      expect(readFileSync(marker, "utf8").trim()).toBe("ran");
    } finally {
      rmSync(shm, { force: true });
    }
    expect(agent.child.exitCode).toBeNull();
    expect(agent.alerts.filter((a) => a.blocked === true).every((a) => a.output_fields["container.id"] !== "host")).toBe(true);
  }, 30_000);
});
