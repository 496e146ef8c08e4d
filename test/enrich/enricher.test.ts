// SPDX-License-Identifier: Apache-2.0
/**
 * ContainerEnricher against the real runtime: a test containerd (started here when needed), a
 * locally built busybox image, `ctr run` containers and CRI pods created like the kubelet does.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ContainerEnricher, HOST_CONTAINER } from "../../agent/enrich/index.js";
import type { ContainerInfo } from "../../rules/event.js";
import { captureLogger } from "../helpers/capture-logger.js";
import {
  BUSYBOX_IMAGE,
  CriClient,
  cgroupIdOf,
  cgroupProcs,
  containersAvailable,
  importImage,
  killContainerd,
  prepareRuntime,
  removeContainer,
  runContainer,
  startContainerd,
  stopContainerd,
  taskPid,
  unifiedCgroup,
  until,
  type BuiltImage,
  type CriPod,
  type PodSpec,
} from "../helpers/containers.js";

if (!containersAvailable()) throw new Error("containerd, ctr, runc and busybox-static are required (scripts/setup.sh installs them)");

const tag = `${process.pid}`;
let sock: string;
let busybox: BuiltImage;
let pause: BuiltImage;
const ctrIds: string[] = [];
let cri: CriClient;
const pods: string[] = [];
const mountSrc = mkdtempSync(join(tmpdir(), "vigil-enrich-mnt-"));

beforeAll(() => {
  ({ sock, busybox, pause } = prepareRuntime());
  cri = new CriClient(sock);
}, 120_000);

afterAll(async () => {
  for (const id of ctrIds) removeContainer(sock, "default", id);
  for (const p of pods) await cri.removePod(p);
  cri.close();
  rmSync(mountSrc, { recursive: true, force: true });
}, 120_000);

/**
 * SIGSTOPs a process and waits, synchronously (no event-loop turn), until every one of its
 * threads has actually stopped: on a loaded machine a thread may still finish a reply after kill().
 */
function freeze(pid: number): void {
  process.kill(pid, "SIGSTOP");
  const end = Date.now() + 5000;
  for (;;) {
    const stopped = readdirSync(`/proc/${pid}/task`).every((t) => {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      const state = stat.charAt(stat.lastIndexOf(")") + 2);
      return state === "T" || state === "t";
    });
    if (stopped) return;
    if (Date.now() > end) throw new Error("process did not stop");
  }
}

function resolvePid(en: ContainerEnricher, pid: number): ContainerInfo {
  const path = unifiedCgroup(pid);
  return en.resolve(path, cgroupIdOf(path), pid);
}

async function ready(en: ContainerEnricher, info: ContainerInfo): Promise<void> {
  await en.whenReady(info);
  await until(() => !info.metaMissing, 5000);
}

describe("ContainerEnricher with containerd", () => {
  test("a ctr container: every container field, from cgroup2 path and from /proc fallback", async () => {
    const id = `vigil-enrich-${tag}-a`;
    ctrIds.push(id);
    removeContainer(sock, "default", id);
    const pid = runContainer(
      sock,
      "default",
      id,
      BUSYBOX_IMAGE,
      ["/bin/sleep", "600"],
      ["--label", "app=demo", "--mount", `type=bind,src=${mountSrc},dst=/data,options=rbind:ro`],
    );
    const before = Date.now();
    const log = captureLogger();
    const en = new ContainerEnricher({ socket: sock, logger: log.logger, waitMs: 2000 });
    await en.start();
    try {
      expect(unifiedCgroup(pid)).toBe(`/default/${id}`);
      const info = resolvePid(en, pid);
      expect(info.fullId).toBe(id);
      expect(info.id).toBe(id.slice(0, 12));
      await ready(en, info);
      expect(info.metaMissing).toBe(false);
      expect(info.type).toBe("containerd");
      expect(info.name).toBe(id);
      expect(info.image).toBe(BUSYBOX_IMAGE);
      expect(info.imageRepository).toBe("docker.io/vigil/busybox");
      expect(info.imageTag).toBe("1.0");
      expect(info.imageDigest).toBe(busybox.manifestDigest);
      expect(info.imageId).toBe(busybox.configDigest.slice(7, 19));
      expect(info.privileged).toBe(false);
      expect(info.hostPid).toBe(false);
      expect(info.hostNetwork).toBe(false);
      expect(info.hostIpc).toBe(false);
      expect(info.user).toBe("0");
      expect(info.labels.get("app")).toBe("demo");
      expect(info.labels.get("org.vigil.test")).toBe("busybox"); // from the image config
      expect(info.mounts).toEqual([{ source: mountSrc, dest: "/data", mode: "", rw: false, propagation: "" }]);
      expect(info.startTs).toBeGreaterThan((before - 60_000) * 1e6);
      expect(info.startTs).toBeLessThan((Date.now() + 1000) * 1e6);
      expect(info.k8s).toBeUndefined();
      // the same object on every later resolve, from any route
      expect(resolvePid(en, pid)).toBe(info);
      expect(en.resolve("/", 1, pid)).toBe(info); // cgroup2 path unknown → /proc/<pid>/cgroup
      expect(en.resolve(`/default/${id}`, 0, pid)).toBe(info); // no cgroup ID → by path
      // a process started inside the running container later (ctr task exec) resolves to it too
      const exec = spawn("ctr", ["-a", sock, "-n", "default", "tasks", "exec", "--exec-id", "probe1", id, "/bin/sleep", "30"], { stdio: "ignore" });
      try {
        const procs = (): number[] => cgroupProcs(`/default/${id}`);
        expect(await until(() => procs().length >= 2)).toBe(true);
        const execPid = procs().find((p) => p !== pid) as number;
        expect(resolvePid(en, execPid)).toBe(info);
        expect(en.resolve("/", 1, execPid)).toBe(info);
      } finally {
        exec.kill("SIGKILL");
      }
      // first met with a parent's host path but the container's cgroup ID, then with its own path
      const cgid = cgroupIdOf(`/default/${id}`);
      const en2 = new ContainerEnricher({ socket: sock, logger: captureLogger().logger, waitMs: 2000 });
      await en2.start();
      try {
        expect(en2.resolve("/system.slice/containerd.service", cgid, pid)).toBe(HOST_CONTAINER);
        const again = en2.resolve(`/default/${id}`, cgid, pid);
        expect(again.fullId).toBe(id);
        expect(en2.resolve("/system.slice/containerd.service", cgid, pid)).toBe(again); // the container sticks
      } finally {
        await en2.stop();
      }
      // host processes
      expect(en.resolve("/", 1, process.pid)).toBe(HOST_CONTAINER);
      expect(en.resolve("/process_api/fa0aeac39939d1faaec5d17953311bce", 99, process.pid)).toBe(HOST_CONTAINER);
      const s = en.stats();
      expect(s["hits"]).toBeGreaterThanOrEqual(2);
      expect(s["host"]).toBe(2);
      expect(s["connected"]).toBe(1);
      expect(log.withMsg("container runtime connected")).toHaveLength(1);
    } finally {
      await en.stop();
    }
  });

  test("a privileged host-network ctr container", async () => {
    const id = `vigil-enrich-${tag}-priv`;
    ctrIds.push(id);
    removeContainer(sock, "default", id);
    const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE, ["/bin/sleep", "600"], ["--privileged", "--net-host"]);
    const en = new ContainerEnricher({ socket: sock, logger: captureLogger().logger, waitMs: 2000 });
    await en.start();
    try {
      const info = resolvePid(en, pid);
      await ready(en, info);
      expect(info.privileged).toBe(true);
      expect(info.hostNetwork).toBe(true);
      expect(info.hostPid).toBe(false);
      expect(info.hostIpc).toBe(false);
    } finally {
      await en.stop();
    }
  });

  test("events prefetch a new container before its first lookup and evict it on delete", async () => {
    const log = captureLogger();
    const en = new ContainerEnricher({ socket: sock, logger: log.logger, waitMs: 2000 });
    await en.start();
    try {
      await until(() => en.stats()["connected"] === 1);
      // ctr runs synchronously below and blocks this loop: let the subscription reach containerd first
      await new Promise((r) => setTimeout(r, 300));
      const id = `vigil-enrich-${tag}-pre`;
      ctrIds.push(id);
      removeContainer(sock, "default", id);
      const events0 = en.stats()["events"] ?? 0;
      const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE);
      expect(await until(() => (en.stats()["events"] ?? 0) >= events0 + 2)).toBe(true);
      await new Promise((r) => setTimeout(r, 300)); // let the prefetch lookup answer
      const misses = en.stats()["misses"];
      const info = resolvePid(en, pid);
      expect(en.stats()["misses"]).toBe(misses); // known already: no miss
      expect(info.metaMissing).toBe(false);
      expect(info.image).toBe(BUSYBOX_IMAGE);
      const evictions = en.stats()["evictions"] ?? 0;
      removeContainer(sock, "default", id);
      expect(await until(() => (en.stats()["evictions"] ?? 0) > evictions)).toBe(true);
    } finally {
      await en.stop();
    }
  });

  test("a CRI pod (kubelet labels, host network): every k8s field, for the container and its sandbox", async () => {
    const p: PodSpec = {
      name: `web-${tag}`,
      namespace: "shop",
      uid: `0f3c2a1e-${tag.padStart(4, "0").slice(-4)}-4c5d-8e9f-0123456789ab`,
      labels: { app: "web", tier: "frontend" },
      privileged: true,
    };
    const pod: CriPod = await cri.runPod(p);
    pods.push(pod.id);
    const cid = await cri.runContainer(pod, p, { name: "nginx", image: BUSYBOX_IMAGE, command: ["/bin/sleep", "600"], privileged: true });
    const st = await cri.containerStatus(cid);
    expect(st.status?.labels["io.kubernetes.pod.name"]).toBe(p.name);
    const pid = taskPid(sock, "k8s.io", cid);
    const sandboxPid = taskPid(sock, "k8s.io", pod.id);
    expect(pid).toBeDefined();
    expect(sandboxPid).toBeDefined();
    const en = new ContainerEnricher({ socket: sock, logger: captureLogger().logger, waitMs: 2000 });
    await en.start();
    try {
      expect(unifiedCgroup(pid as number)).toBe(`/k8s.io/${cid}`);
      const info = resolvePid(en, pid as number);
      await ready(en, info);
      expect(info.fullId).toBe(cid);
      expect(info.id).toBe(cid.slice(0, 12));
      expect(info.type).toBe("containerd");
      expect(info.name).toBe("nginx");
      expect(info.image).toBe(BUSYBOX_IMAGE);
      expect(info.imageTag).toBe("1.0");
      expect(info.imageDigest).toBe(busybox.manifestDigest);
      expect(info.imageId).toBe(busybox.configDigest.slice(7, 19));
      expect(info.privileged).toBe(true);
      expect(info.hostNetwork).toBe(true);
      expect(info.hostPid).toBe(false);
      expect(info.labels.get("io.kubernetes.container.name")).toBe("nginx");
      expect(info.labels.get("io.cri-containerd.kind")).toBe("container");
      expect(info.mounts.map((m) => m.dest).sort()).toEqual(["/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]);
      expect(info.k8s).toEqual({
        podName: p.name,
        namespace: "shop",
        podUid: p.uid,
        sandboxId: pod.id,
        podLabels: new Map([
          ["app", "web"],
          ["tier", "frontend"],
        ]),
        podIp: undefined,
        containerName: "nginx",
      });
      const sb = resolvePid(en, sandboxPid as number);
      await ready(en, sb);
      expect(sb.fullId).toBe(pod.id);
      expect(sb.image).toBe(pause.name);
      expect(sb.name).toBe(p.name);
      expect(sb.k8s?.podName).toBe(p.name);
      expect(sb.k8s?.namespace).toBe("shop");
      expect(sb.k8s?.sandboxId).toBe(pod.id);
      expect(sb.k8s?.containerName).toBeUndefined();
      expect(sb.k8s?.podLabels.get("tier")).toBe("frontend");
    } finally {
      await en.stop();
    }
  });
});

describe("ContainerEnricher cache lifetime", () => {
  test("stale metadata is refreshed in the background, in place", async () => {
    const id = `vigil-enrich-${tag}-ttl`;
    ctrIds.push(id);
    removeContainer(sock, "default", id);
    const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE);
    const en = new ContainerEnricher({ socket: sock, logger: captureLogger().logger, waitMs: 2000, ttlMs: 50 });
    await en.start();
    try {
      const info = resolvePid(en, pid);
      await ready(en, info);
      const lookups = en.stats()["lookups"] ?? 0;
      await new Promise((r) => setTimeout(r, 1200)); // past the TTL and a tick of the coarse clock
      expect(resolvePid(en, pid)).toBe(info); // stale: still answered at once, same object
      expect(await until(() => (en.stats()["lookups"] ?? 0) > lookups)).toBe(true);
      expect(info.metaMissing).toBe(false);
      expect(info.image).toBe(BUSYBOX_IMAGE);
    } finally {
      await en.stop();
    }
  });
});

describe("ContainerEnricher without a runtime", () => {
  test("no socket: starts, says so once, and names containers from cgroups only", async () => {
    const id = `vigil-enrich-${tag}-nosock`;
    ctrIds.push(id);
    removeContainer(sock, "default", id);
    const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE);
    const log = captureLogger();
    const en = new ContainerEnricher({ socket: join(tmpdir(), `vigil-absent-${tag}`, "containerd.sock"), logger: log.logger, waitMs: 2000 });
    await en.start();
    try {
      await new Promise((r) => setTimeout(r, 1200)); // a few reconnect attempts
      expect(log.withMsg("no container runtime")).toHaveLength(1);
      const info = resolvePid(en, pid);
      expect(info.fullId).toBe(id);
      expect(info.type).toBe("containerd");
      expect(info.metaMissing).toBe(true);
      expect(info.image).toBeUndefined();
      const t0 = performance.now();
      await en.whenReady(info); // nothing to wait for
      expect(performance.now() - t0).toBeLessThan(50);
      const criId = "7a071ba1cddbeff9055de6191f51fe2d33d5676b43cd158405d42dee795fbb42";
      const k = en.resolve(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podx.slice/cri-containerd-${criId}.scope`, 424242, 1);
      expect(k.id).toBe(criId.slice(0, 12));
      expect(k.fullId).toBe(criId);
      expect(en.resolve("/", 1, process.pid)).toBe(HOST_CONTAINER);
      expect(en.stats()["connected"]).toBe(0);
    } finally {
      await en.stop();
    }
  });

  test("containerd killed mid-stream: keeps answering from cache and cgroups, recovers after restart", async () => {
    const dir = mkdtempSync(join("/run", "vigil-ctd-kill-"));
    const ksock = startContainerd(dir);
    const ids: string[] = [];
    const log = captureLogger();
    const en = new ContainerEnricher({ socket: ksock, logger: log.logger, waitMs: 50 });
    try {
      importImage(ksock, "default", busybox);
      const a = `vigil-kill-${tag}-a`;
      ids.push(a);
      const pidA = runContainer(ksock, "default", a, BUSYBOX_IMAGE);
      await en.start();
      const infoA = resolvePid(en, pidA);
      await ready(en, infoA);
      expect(infoA.image).toBe(BUSYBOX_IMAGE);

      killContainerd(dir);
      expect(await until(() => en.stats()["connected"] === 0)).toBe(true);
      expect(log.withMsg("container runtime connection lost")).toHaveLength(1);
      // known container: still fully described
      expect(resolvePid(en, pidA)).toBe(infoA);
      expect(infoA.metaMissing).toBe(false);
      // unknown container while the runtime is down: cgroup-only, and no waiting
      const ghost = en.resolve(`/default/ghost-${tag}`, 9_000_000_001, 1);
      expect(ghost.fullId).toBe(`ghost-${tag}`);
      expect(ghost.metaMissing).toBe(true);
      const t0 = performance.now();
      await en.whenReady(ghost);
      expect(performance.now() - t0).toBeLessThan(60);

      startContainerd(dir);
      expect(await until(() => en.stats()["connected"] === 1, 15_000)).toBe(true);
      expect(log.withMsg("container runtime connected")).toHaveLength(2);
      const b = `vigil-kill-${tag}-b`;
      ids.push(b);
      const pidB = runContainer(ksock, "default", b, BUSYBOX_IMAGE);
      const infoB = resolvePid(en, pidB);
      await ready(en, infoB);
      expect(infoB.metaMissing).toBe(false);
      expect(infoB.image).toBe(BUSYBOX_IMAGE);
      expect(infoB.imageDigest).toBe(busybox.manifestDigest);
      expect(en.stats()["disconnects"]).toBe(1);
      expect(en.stats()["connects"]).toBe(2);
    } finally {
      await en.stop();
      startContainerd(dir);
      for (const id of ids) removeContainer(ksock, "default", id);
      stopContainerd(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test("a frozen runtime: whenReady gives up after waitMs, the metadata lands later (late_metadata)", async () => {
    const dir = mkdtempSync(join("/run", "vigil-ctd-slow-"));
    const ssock = startContainerd(dir);
    const id = `vigil-slow-${tag}`;
    const log = captureLogger();
    const en = new ContainerEnricher({ socket: ssock, logger: log.logger, waitMs: 30 });
    const ctdPid = Number(readFileSync(join(dir, "containerd.pid"), "utf8"));
    try {
      importImage(ssock, "default", busybox);
      await en.start();
      await new Promise((r) => setTimeout(r, 300)); // warm-up listing done
      expect(en.stats()["connected"], JSON.stringify(log.lines)).toBe(1);
      freeze(ctdPid);
      // a container the enricher has never seen, in a cgroup named as containerd would
      const lookups0 = en.stats()["lookups"] ?? 0;
      const info = en.resolve(`/default/${id}`, 0, 1);
      expect(info.metaMissing).toBe(true);
      // one in-flight lookup per ID, whichever route reaches it
      expect(en.resolve(`default/${id}`, 0, 2)).toBe(info);
      expect(en.resolve(`/default/${id}`, 777_000_001, 3)).toBe(info);
      expect(en.stats()["lookups"]).toBe(lookups0 + 1);
      const t0 = performance.now();
      await en.whenReady(info);
      const waited = performance.now() - t0;
      expect(waited, JSON.stringify({ stats: en.stats(), logs: log.lines })).toBeGreaterThanOrEqual(25);
      expect(waited).toBeLessThan(500);
      expect(en.stats()["wait_timeouts"]).toBe(1);
      process.kill(ctdPid, "SIGCONT");
      // the runtime answers "not found" for this name; now create it and look again
      expect(await until(() => en.stats()["not_found"] === 1)).toBe(true);
      expect(en.stats()["late_metadata"]).toBe(0);

      await new Promise((r) => setTimeout(r, 100));
      const pid = runContainer(ssock, "default", id, BUSYBOX_IMAGE);
      // freeze again before the enricher's event-driven lookup can finish, then release it
      freeze(ctdPid);
      // (no loop turn since ctr returned, so no event has been handled yet)
      const info2 = resolvePid(en, pid);
      expect(info2).toBe(info); // the same container, asked again because a new cgroup appeared
      expect(info2.metaMissing).toBe(true);
      await en.whenReady(info2);
      expect(en.stats()["wait_timeouts"]).toBe(2);
      process.kill(ctdPid, "SIGCONT");
      expect(await until(() => !info2.metaMissing)).toBe(true);
      expect(en.stats()["late_metadata"]).toBe(1);
      expect(info2.image).toBe(BUSYBOX_IMAGE);
    } finally {
      try {
        process.kill(ctdPid, "SIGCONT");
      } catch {
        // already gone
      }
      await en.stop();
      removeContainer(ssock, "default", id);
      stopContainerd(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
