// SPDX-License-Identifier: Apache-2.0
/**
 * The shipped image, built by scripts/build-image.sh exactly as a user builds it (both
 * platforms, offline), then:
 *  - its layout: one tag (package.json's version) over linux/amd64 and linux/arm64, OCI labels,
 *    the image config the Dockerfile also writes, each platform's binaries built for it, no
 *    compilers, package managers or development dependencies, and a size kept small;
 *  - the arm64 image runs (`vigil --version`, a rules check) under qemu-user, on its own node,
 *    libraries and JavaScript;
 *  - the amd64 image runs on containerd as the manifests run it: daemonset.yaml's collector
 *    Deployment and agent DaemonSet pods, translated by a small kubelet (test/helpers/kubelet.ts:
 *    securityContext, capabilities, hostPID, mounts, read-only root, env, volumes); the agent
 *    attaches its probe, `cat /etc/shadow` on the host raises *Read Shadow File*, and the alert is
 *    in the collector.
 * VIGIL_TEST_IMAGE_TAR names an archive built beforehand (skips the build).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/agent.js";
import { containersAvailable, prepareRuntime, TEST_CONTAINERD_DIR } from "../helpers/containers.js";
import {
  capsOf,
  containerPid,
  daemonsetDocs,
  findDoc,
  httpRequestText,
  importVigilImage,
  makeTestTls,
  podOf,
  poll,
  procStatus,
  rootIsReadOnly,
  secretNames,
  serviceNames,
  type TestTls,
  VIGIL_IMAGE,
  vigilImageTar,
} from "../helpers/image-pods.js";
import { EM_AARCH64, EM_BPF, EM_X86_64 } from "../helpers/elf.js";
import { Kubelet, type RunningPod } from "../helpers/kubelet.js";
import { elfMachine, extractOciArchive, ociBlob, ociPlatforms, unpackOciPlatform, type OciDescriptor, type OciPlatform } from "../helpers/oci.js";

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
/** Compressed size per platform we keep the image under (BENCHMARKS.md/README state the figure). */
const MAX_COMPRESSED_BYTES = 100 * 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), "vigil-image-test-"));
let tarPath = "";
let indexDesc: OciDescriptor;
const platforms = new Map<string, OciPlatform>();

function walk(dir: string, out: string[] = [], base = dir): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out, base);
    else out.push(p.slice(base.length));
  }
  return out;
}

beforeAll(() => {
  tarPath = vigilImageTar(work, "amd64,arm64");
  const l = extractOciArchive(tarPath, join(work, "layout"));
  expect(l.top).toHaveLength(1);
  indexDesc = l.top[0] as OciDescriptor;
  for (const m of ociPlatforms(l, indexDesc)) {
    const p = unpackOciPlatform(l, m, join(work, `rootfs-${m.platform?.architecture ?? "?"}`));
    platforms.set(p.arch, p);
  }
}, 25 * 60_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("the image archive", () => {
  it("is one tag, package.json's version, over linux/amd64 and linux/arm64", () => {
    expect(indexDesc.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(indexDesc.annotations?.["io.containerd.image.name"]).toBe(VIGIL_IMAGE);
    expect(indexDesc.annotations?.["org.opencontainers.image.ref.name"]).toBe(pkg.version);
    expect([...platforms.keys()].sort()).toEqual(["amd64", "arm64"]);
    for (const p of platforms.values()) {
      expect(p.config.os).toBe("linux");
      expect(p.config.architecture).toBe(p.arch);
    }
  });

  it("carries the OCI labels: source, version, revision", () => {
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    for (const p of platforms.values()) {
      const l = p.config.config.Labels ?? {};
      expect(l["org.opencontainers.image.version"]).toBe(pkg.version);
      expect(l["org.opencontainers.image.source"]).toMatch(/^https:\/\/github\.com\//);
      expect(l["org.opencontainers.image.revision"]?.replace(/-dirty$/, "")).toBe(head);
      expect(p.manifest.annotations?.["org.opencontainers.image.version"]).toBe(pkg.version);
    }
  });

  it("has the image config the Dockerfile writes (user, entrypoint, workdir, env, labels, version)", () => {
    const df = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8").replace(/\\\n\s*/g, " ");
    const final = df.slice(df.lastIndexOf("FROM scratch"));
    const line = (kw: string) => new RegExp(`^${kw} (.+)$`, "m").exec(final)?.[1]?.trim();
    const cfg = (platforms.get("amd64") as OciPlatform).config.config;
    expect(line("USER")).toBe(cfg.User);
    expect(JSON.parse(line("ENTRYPOINT") ?? "null")).toEqual(cfg.Entrypoint);
    expect(JSON.parse(line("CMD") ?? "null")).toEqual(cfg.Cmd);
    expect(line("WORKDIR")).toBe(cfg.WorkingDir);
    const env = Object.fromEntries([...(line("ENV") ?? "").matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    expect(cfg.Env?.map((e) => e.split("=")[0]).sort()).toEqual(Object.keys(env).sort());
    for (const e of cfg.Env ?? []) expect(env[e.slice(0, e.indexOf("="))]).toBe(e.slice(e.indexOf("=") + 1));
    expect(/^ARG VERSION=(\S+)$/m.exec(final)?.[1]).toBe(pkg.version);
    const labels = [...(line("LABEL") ?? "").matchAll(/([\w.]+)="([^"]*)"/g)].map((m) => m[1]);
    for (const k of labels) expect(cfg.Labels, k).toHaveProperty([k as string]);
    // the non-root default user exists in the image
    const passwd = readFileSync(join((platforms.get("amd64") as OciPlatform).rootfs, "etc", "passwd"), "utf8");
    expect(passwd).toMatch(new RegExp(`^vigil:x:${cfg.User?.split(":")[0]}:`, "m"));
  });

  it("holds, for each platform, node, vigil-probe, vigil-trace, vigil-syslog, vigil-mem.node and the C runtime built for it, and the eBPF object", () => {
    for (const p of platforms.values()) {
      const em = p.arch === "amd64" ? EM_X86_64 : EM_AARCH64;
      const r = p.rootfs;
      expect(elfMachine(join(r, "usr/local/bin/node")), `${p.arch} node`).toBe(em);
      expect(elfMachine(join(r, "opt/vigil/native-bridge/build/vigil-probe")), `${p.arch} vigil-probe`).toBe(em);
      expect(elfMachine(join(r, "opt/vigil/native-bridge/build/vigil-trace")), `${p.arch} vigil-trace`).toBe(em);
      expect(elfMachine(join(r, "opt/vigil/native-bridge/build/vigil-syslog")), `${p.arch} vigil-syslog`).toBe(em);
      expect(statSync(join(r, "opt/vigil/native-bridge/build/vigil-syslog")).mode & 0o111).not.toBe(0);
      expect(elfMachine(join(r, "opt/vigil/native-bridge/build/vigil-mem.node")), `${p.arch} vigil-mem.node`).toBe(em);
      expect(elfMachine(join(r, "opt/vigil/native-bridge/build/probe.bpf.o")), `${p.arch} probe.bpf.o`).toBe(EM_BPF);
      const triplet = p.arch === "amd64" ? "x86_64-linux-gnu" : "aarch64-linux-gnu";
      expect(elfMachine(join(r, "lib", triplet, "libc.so.6"))).toBe(em);
      expect(readFileSync(join(r, "usr/local/bin/vigil"), "utf8")).toMatch(/^#!\/usr\/local\/bin\/node\n/);
      expect(statSync(join(r, "usr/local/bin/vigil")).mode & 0o111).not.toBe(0);
      expect(existsSync(join(r, "opt/vigil/dist/agent/cli/main.js"))).toBe(true);
      expect(existsSync(join(r, "opt/vigil/rules/files/30-ttp.yaml"))).toBe(true);
      expect(existsSync(join(r, "opt/vigil/proto/vigil/collector.proto"))).toBe(true);
    }
  });

  it("has no compilers, shells, package managers, caches or development dependencies, and stays small", () => {
    for (const p of platforms.values()) {
      const files = walk(p.rootfs);
      const names = new Set(files.map((f) => f.slice(f.lastIndexOf("/") + 1)));
      for (const tool of ["gcc", "cc", "g++", "clang", "make", "npm", "npx", "sh", "bash", "busybox", "apt", "dpkg"]) {
        expect(names.has(tool), `${p.arch}: ${tool} in the image`).toBe(false);
      }
      expect(files.filter((f) => f.endsWith(".a") || f.includes("/.npm/") || f.includes("/node-gyp/") || f.startsWith("/usr/share/"))).toEqual([]);
      // nothing package-lock.json marks as a development package (what only the tests and the build use)
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
      const devOnly = Object.entries(lock.packages).filter(([path, e]) => path.startsWith("node_modules/") && e.dev === true);
      expect(devOnly.length).toBeGreaterThan(0);
      for (const [path] of devOnly) expect(existsSync(join(p.rootfs, "opt/vigil", path)), `${p.arch}: development package ${path} in the image`).toBe(false);
      const modules = new Set(
        readdirSync(join(p.rootfs, "opt/vigil/node_modules")).flatMap((d) =>
          d.startsWith("@") ? readdirSync(join(p.rootfs, "opt/vigil/node_modules", d)).map((s) => `${d}/${s}`) : [d],
        ),
      );
      for (const dep of Object.keys(pkg.dependencies)) expect(modules.has(dep), `${p.arch}: dependency ${dep} missing`).toBe(true);
      console.log(`image linux/${p.arch}: ${(p.compressed / 1024 / 1024).toFixed(1)} MiB compressed, ${p.manifest.layers.length} layers`);
      expect(p.compressed).toBeLessThan(MAX_COMPRESSED_BYTES);
    }
  });
});

const qemu = ["/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-aarch64"].find((q) => existsSync(q));

describe("registry tooling", () => {
  it("skopeo reads the archive and copies both platforms, as `skopeo copy --all oci-archive:OUT.tar docker://REGISTRY/vigil:TAG` pushes them", () => {
    const dest = join(work, "skopeo");
    execFileSync("skopeo", ["copy", "--all", "-q", `oci-archive:${tarPath}`, `oci:${dest}:${pkg.version}`], { timeout: 120_000 });
    const top = JSON.parse(readFileSync(join(dest, "index.json"), "utf8")) as { manifests: OciDescriptor[] };
    const idx = JSON.parse(ociBlob(dest, (top.manifests[0] as OciDescriptor).digest).toString()) as { manifests: OciDescriptor[] };
    expect(idx.manifests.map((m) => m.platform?.architecture).sort()).toEqual(["amd64", "arm64"]);
  });
});

describe("the arm64 image", () => {
  it("runs its own node, libraries and JavaScript under qemu-user: vigil --version, vigil rules check", () => {
    expect(qemu, "qemu-user-static is installed by scripts/setup.sh").toBeDefined();
    const r = (platforms.get("arm64") as OciPlatform).rootfs;
    const run = (args: string[]) =>
      spawnSync(qemu as string, ["-L", r, join(r, "usr/local/bin/node"), join(r, "opt/vigil/dist/agent/cli/main.js"), ...args], {
        encoding: "utf8",
        timeout: 180_000,
        env: { PATH: "/usr/bin:/bin", NODE_ENV: "production" },
      });
    const v = run(["--version"]);
    expect(v.stderr).toBe("");
    expect(v.stdout.trim()).toBe(pkg.version);
    const files = readdirSync(join(r, "opt/vigil/rules/files")).map((f) => join(r, "opt/vigil/rules/files", f));
    const check = run(["rules", "check", ...files]);
    expect(check.status, check.stderr).toBe(0);
    // the arm64 node loads the arm64 code-page trim (memory.trim_code) and runs it
    const trim = spawnSync(
      qemu as string,
      [
        "-L",
        r,
        join(r, "usr/local/bin/node"),
        "-p",
        `JSON.stringify(require(${JSON.stringify(join(r, "opt/vigil/native-bridge/build/vigil-mem.node"))}).trimCode())`,
      ],
      { encoding: "utf8", timeout: 180_000, env: { PATH: "/usr/bin:/bin" } },
    );
    expect(trim.stderr).toBe("");
    expect(JSON.parse(trim.stdout) as { mappings: number }).toMatchObject({ mappings: expect.any(Number) as number, errno: 0 });
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------
// The amd64 image as daemonset.yaml runs it

const CAP = { DAC_READ_SEARCH: 2, SYS_PTRACE: 19, PERFMON: 38, BPF: 39 } as const;

describe.skipIf(!containersAvailable())("the image on containerd, as daemonset.yaml runs it", () => {
  let sock = "";
  let kubelet: Kubelet;
  let collector: RunningPod;
  let agent: RunningPod;
  const docs = daemonsetDocs();
  const kdir = join(work, "kubelet");
  const token = randomBytes(32).toString("hex");
  let tls: TestTls;
  const collectorDeployment = findDoc(docs, "Deployment", "vigil-collector", "daemonset.yaml");
  const collectorUrl = (collectorDeployment.spec?.template?.spec.containers[0]?.args ?? []).some((a) => a.startsWith("--tls"))
    ? "https://127.0.0.1:9377"
    : "http://127.0.0.1:9377";
  const http = (path: string, auth = false) =>
    httpRequestText(`${collectorUrl}${path}`, { ca: tls["ca.crt"], servername: "vigil-collector.vigil.svc", token: auth ? token : undefined });

  beforeAll(async () => {
    ({ sock } = prepareRuntime());
    importVigilImage(sock, tarPath);
    mkdirSync(kdir, { recursive: true });
    // what the operator creates before applying (README): the token and the collector's certificate
    tls = makeTestTls(join(kdir, "tls"), serviceNames("vigil-collector", "vigil"));
    const secrets: Record<string, Record<string, string>> = {};
    for (const n of secretNames(docs)) secrets[n] = { token, ...tls };
    const configMaps: Record<string, Record<string, string>> = {};
    for (const d of docs) if (d.kind === "ConfigMap" && d.data) configMaps[d.metadata.name] = d.data;
    const volumes: Record<string, string> = {};
    for (const d of docs) if (d.kind === "PersistentVolumeClaim") volumes[d.metadata.name] = join(kdir, "pv", d.metadata.name);
    kubelet = new Kubelet(sock, {
      nodeName: "vigil-e2e-node",
      configMaps,
      secrets,
      volumes,
      // the node's containerd is the test's
      hostPaths: { "/run/containerd/containerd.sock": `${TEST_CONTAINERD_DIR}/containerd.sock` },
      // the Service: pods share the node's network here, so its names lead to the node
      hosts: Object.fromEntries(serviceNames("vigil-collector", "vigil").map((n) => [n, "127.0.0.1"])),
      dir: kdir,
    });
  }, 600_000);

  afterAll(async () => {
    await kubelet?.removeAll();
    kubelet?.close();
  }, 120_000);

  it("the collector Deployment's pod starts from the image and answers /healthz", async () => {
    collector = await kubelet.run(podOf(collectorDeployment, "e2e"));
    await poll(
      "the collector answers /healthz",
      async () => (await http("/healthz")).status === 200,
      60_000,
      () => kubelet.logs(collector, "collector"),
    );
    const st = procStatus(containerPid(sock, collector.containers["collector"] as string));
    // non-root, no capabilities, no privilege escalation, the runtime's seccomp filter
    expect(st["Uid"]?.split(/\s+/)[0]).toBe("65532");
    expect(capsOf(st["CapEff"] as string)).toEqual([]);
    expect(st["NoNewPrivs"]).toBe("1");
    expect(st["Seccomp"]).toBe("2");
  }, 120_000);

  it("the agent DaemonSet's pod attaches the probe with only the listed capabilities", async () => {
    agent = await kubelet.run(podOf(findDoc(docs, "DaemonSet", "vigil-agent", "daemonset.yaml"), "e2e"));
    await poll(
      "the agent reports ready on /readyz",
      async () => (await httpRequestText("http://127.0.0.1:9376/readyz")).status === 200,
      120_000,
      () => kubelet.logs(agent, "agent"),
    );
    const pid = containerPid(sock, agent.containers["agent"] as string);
    const st = procStatus(pid);
    expect(st["Uid"]?.split(/\s+/)[0]).toBe("0");
    expect(capsOf(st["CapEff"] as string)).toEqual(Object.values(CAP).sort((a, b) => a - b));
    expect(st["NoNewPrivs"]).toBe("1");
    expect(st["Seccomp"]).toBe("0");
    expect(rootIsReadOnly(pid)).toBe(true);
    // the image's node loads the image's code-page trim (memory.trim_code)
    expect(kubelet.logs(agent, "agent")).not.toContain("no code-page trim");
  }, 180_000);

  it("`cat /etc/shadow` on the host is alerted and the alert reaches the collector", async () => {
    const r = spawnSync("cat", ["/etc/shadow"], { stdio: "ignore" });
    expect(r.status).toBe(0);
    let found = "";
    await poll(
      "a Read Shadow File alert in the collector",
      async () => {
        const q = await http(`/api/v1/alerts?rule=${encodeURIComponent("Read Shadow File")}`, true);
        found =
          q.body
            .split("\n")
            .filter(Boolean)
            .find((l) => l.includes("/etc/shadow") && l.includes('"cat"')) ?? "";
        return found !== "";
      },
      60_000,
      () => `agent log:\n${kubelet.logs(agent, "agent").slice(-4000)}\ncollector log:\n${kubelet.logs(collector, "collector").slice(-2000)}`,
    );
    const alert = JSON.parse(found) as { rule: string; hostname: string; output_fields: Record<string, unknown> };
    expect(alert.rule).toBe("Read Shadow File");
    // the node name from the downward API, as the manifest's env says
    expect(alert.hostname).toBe("vigil-e2e-node");
    expect(alert.output_fields["fd.name"]).toBe("/etc/shadow");
  }, 120_000);
});
