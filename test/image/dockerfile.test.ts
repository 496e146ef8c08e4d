// SPDX-License-Identifier: Apache-2.0
/**
 * The Dockerfile builds the image it promises: the same files as the offline build
 * (scripts/build-image.sh), for linux/amd64, with no registry and no Docker engine. A local
 * stand-in for node:24-bookworm is made first (Debian 12 by debootstrap from this machine's own
 * Debian apt source, the project's pinned Node.js, this machine's npm), then `buildah build` runs
 * the Dockerfile unchanged with NODE_IMAGE pointing at it, in a buildah storage of its own under
 * a temporary folder. Its RUN steps reach Debian's archive and the npm registry, as a user's do.
 *
 * Compared with the offline image, path by path: type, mode, owner, symlink target; and the bytes
 * of every file but the C runtime (Debian's packages as of the day each build fetched them) and
 * the three native build outputs (the build folder's path is in their debug info: /src here, the
 * checkout offline), which must be built for the same machine. Also: the image config, the
 * Dockerfile's own check of the builder kernel (no BTF, not x86_64: a clear error at once), and
 * that only the last build step depends on the target architecture.
 *
 * About two to three minutes (the base ~40-60 s, the build ~60-110 s). It needs root, buildah and
 * debootstrap (scripts/setup.sh installs them), and an x86_64 kernel with BTF, as the Dockerfile's
 * build stage does; skipped on another architecture. VIGIL_TEST_IMAGE_TAR names the offline
 * archive if it is built already (scripts/test.sh).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/agent.js";
import { EM_BPF, EM_X86_64 } from "../helpers/elf.js";
import { vigilImageTar } from "../helpers/image-pods.js";
import { elfMachine, extractOciArchive, ociPlatforms, unpackOciPlatform, type OciImageConfig } from "../helpers/oci.js";

const DEBIAN_SUITES = new Set(["bookworm", "bookworm-updates", "bookworm-security"]);
const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const BASE_IMAGE = "localhost/vigil-test/node:24-bookworm";
const IMAGE = "localhost/vigil-test/vigil:dockerfile";
/** Built in the image with the build folder's path in their debug info (see the top). */
const NATIVE = [
  "/opt/vigil/native-bridge/build/vigil-probe",
  "/opt/vigil/native-bridge/build/vigil-trace",
  "/opt/vigil/native-bridge/build/vigil-syslog",
  "/opt/vigil/native-bridge/build/vigil-mem.node",
  "/opt/vigil/native-bridge/build/probe.bpf.o",
];
/** The C runtime: Debian's packages of the day, from the machine's cache offline and from the archive in the Dockerfile. */
const C_RUNTIME = /^\/(lib|lib64|usr\/lib|usr\/lib64)\//;

interface Entry {
  type: "dir" | "file" | "symlink" | "other";
  mode: number;
  owner: string;
  target?: string;
  sha256?: string;
}

interface Image {
  config: OciImageConfig;
  files: Map<string, Entry>;
  rootfs: string;
}

interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
}

const runnable = process.arch === "x64";
const work = runnable ? mkdtempSync(join(tmpdir(), "vigil-dockerfile-test-")) : "";
const storage = ["--root", join(work, "storage"), "--runroot", join(work, "run"), "--storage-driver", "overlay"];
let built: Image;
let offline: Image;
let buildSeconds = 0;

function need(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(`dockerfile test: ${msg}`);
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** Runs a command with its output in `log` (appended); on failure throws with the log's tail. */
function run(cmd: string, args: string[], log: string, timeoutMs: number, cwd = work): void {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  writeFileSync(log, `$ ${cmd} ${args.join(" ")}\n${r.stdout ?? ""}${r.stderr ?? ""}\n`, { flag: "a" });
  if (r.status !== 0) {
    const tail = readFileSync(log, "utf8").split("\n").slice(-40).join("\n");
    throw new Error(`${cmd} ${args.slice(0, 3).join(" ")}… failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
}

/** `buildah build` of the Dockerfile; returns its exit status and output. */
function buildahBuild(args: string[], timeoutMs: number): { status: number | null; out: string } {
  const r = spawnSync("buildah", [...storage, "build", "--pull=never", "--build-arg", `NODE_IMAGE=${BASE_IMAGE}`, ...args, REPO_ROOT], {
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** This machine's Debian 12 apt sources (the ones a node:24-bookworm image has: main, updates, security). */
function debianSources(): AptSource[] {
  const out: AptSource[] = [];
  const stanzas: Record<string, string>[] = [];
  const dir = "/etc/apt/sources.list.d";
  for (const f of existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".sources")) : []) {
    for (const block of readFileSync(join(dir, f), "utf8").split(/\n\s*\n/)) {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (m) fields[(m[1] as string).toLowerCase()] = (m[2] as string).trim();
      }
      stanzas.push(fields);
    }
  }
  for (const s of stanzas) {
    if (s["enabled"] === "no" || !(s["types"] ?? "").split(/\s+/).includes("deb")) continue;
    if (s["signed-by"] && s["signed-by"] !== DEBIAN_KEYRING) continue;
    out.push({ uris: (s["uris"] ?? "").split(/\s+/), suites: (s["suites"] ?? "").split(/\s+/), components: (s["components"] ?? "").split(/\s+/) });
  }
  const lists = ["/etc/apt/sources.list", ...(existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".list")) : []).map((n) => join(dir, n))];
  for (const f of lists.filter((l) => existsSync(l))) {
    for (const line of readFileSync(f, "utf8").split("\n")) {
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line.trim());
      if (!m) continue;
      const signedBy = /signed-by=(\S+)/.exec(m[1] ?? "")?.[1];
      if (signedBy && signedBy !== DEBIAN_KEYRING) continue;
      out.push({ uris: [m[2] as string], suites: [m[3] as string], components: (m[4] as string).split(/\s+/) });
    }
  }
  return out
    .map((s) => ({ ...s, suites: s.suites.filter((x) => DEBIAN_SUITES.has(x)), components: s.components.filter((c) => c === "main") }))
    .filter((s) => s.uris.every((u) => /^https?:\/\//.test(u)) && s.suites.length > 0 && s.components.length > 0);
}

/** The stand-in for node:24-bookworm, committed into this test's buildah storage. */
function makeBase(log: string): void {
  const sources = debianSources();
  const main = sources.find((s) => s.suites.includes("bookworm"));
  need(main !== undefined, "no Debian 12 (bookworm main) apt source on this machine to make the base image from");
  const rootfs = join(work, "base");
  run("debootstrap", ["--variant=minbase", "--include=ca-certificates", "bookworm", rootfs, main.uris[0] as string], log, 6 * 60_000);
  // Node.js as pinned (scripts/setup.sh fetched the official build), npm as this machine has it
  const version = readFileSync(join(REPO_ROOT, ".node-version"), "utf8").trim();
  const node = join(REPO_ROOT, ".node", `v${version}-linux-x64`, "bin", "node");
  need(existsSync(node), `${node} is missing (scripts/setup.sh fetches it)`);
  cpSync(node, join(rootfs, "usr/local/bin/node"));
  const npmBin = onPath("npm");
  need(npmBin !== undefined, "no npm on PATH");
  const npmDir = join(realpathSync(npmBin), "..", "..");
  need(existsSync(join(npmDir, "bin", "npx-cli.js")), `${npmDir} is not npm's package folder`);
  cpSync(npmDir, join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true, verbatimSymlinks: true });
  for (const b of ["npm", "npx"]) symlinkSync(`../lib/node_modules/npm/bin/${b}-cli.js`, join(rootfs, "usr/local/bin", b));
  // the archive as node:24-bookworm names it (main, updates, security), through this machine's sources
  rmSync(join(rootfs, "etc/apt/sources.list"), { force: true });
  const deb822 = sources.map((s) => `Types: deb\nURIs: ${s.uris.join(" ")}\nSuites: ${s.suites.join(" ")}\nComponents: main\nSigned-By: ${DEBIAN_KEYRING}\n`);
  writeFileSync(join(rootfs, "etc/apt/sources.list.d/debian.sources"), deb822.join("\n"));
  // the base trusts what this machine trusts (a TLS-inspecting proxy's CA, where there is one);
  // node reads only its own CA list unless NODE_EXTRA_CA_CERTS adds these
  cpSync("/etc/ssl/certs/ca-certificates.crt", join(rootfs, "etc/ssl/certs/ca-certificates.crt"));
  rmSync(join(rootfs, "var/lib/apt/lists"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "var/lib/apt/lists/partial"), { recursive: true });
  const ctr = execFileSync("buildah", [...storage, "from", "scratch"], { encoding: "utf8" }).trim();
  const mnt = execFileSync("buildah", [...storage, "mount", ctr], { encoding: "utf8" }).trim();
  run("cp", ["-a", `${rootfs}/.`, `${mnt}/`], log, 5 * 60_000);
  run("buildah", [...storage, "umount", ctr], log, 60_000);
  run(
    "buildah",
    [
      ...storage,
      "config",
      "--arch",
      "amd64",
      "--os",
      "linux",
      "--env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--env",
      "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
      "--cmd",
      "node",
      ctr,
    ],
    log,
    60_000,
  );
  run("buildah", [...storage, "commit", "--rm", ctr, BASE_IMAGE], log, 5 * 60_000);
  rmSync(rootfs, { recursive: true, force: true });
}

/** Unpacks the `arch` platform of an OCI archive: its config and every path of its layers, applied in order. */
function readImage(tar: string, arch: string, dir: string): Image {
  const layout = join(dir, "layout");
  const rootfs = join(dir, "rootfs");
  const l = extractOciArchive(tar, layout);
  const desc = l.top.flatMap((e) => ociPlatforms(l, e)).find((m) => m.platform === undefined || m.platform.architecture === arch);
  need(desc !== undefined, `${tar} has no ${arch} image`);
  const { config } = unpackOciPlatform(l, desc, rootfs, { refuseWhiteouts: true });
  rmSync(layout, { recursive: true, force: true });
  const files = new Map<string, Entry>();
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs)) {
      const p = join(abs, name);
      const r = `${rel}/${name}`;
      const st = lstatSync(p);
      const base = { mode: st.mode & 0o7777, owner: `${st.uid}:${st.gid}` };
      if (st.isDirectory()) {
        files.set(r, { type: "dir", ...base });
        walk(p, r);
      } else if (st.isSymbolicLink()) files.set(r, { type: "symlink", ...base, target: readlinkSync(p) });
      else if (st.isFile()) files.set(r, { type: "file", ...base, sha256: createHash("sha256").update(readFileSync(p)).digest("hex") });
      else files.set(r, { type: "other", ...base });
    }
  };
  walk(rootfs, "");
  return { config, files, rootfs };
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync("umount", ["-l", m]);
}

describe.skipIf(!runnable)("the Dockerfile, built by buildah from a local node:24-bookworm stand-in", () => {
  beforeAll(() => {
    need(process.getuid?.() === 0, "needs root (debootstrap, buildah's storage)");
    for (const tool of ["buildah", "debootstrap"]) need(onPath(tool) !== undefined, `${tool} is not installed (scripts/setup.sh installs it)`);
    need(existsSync("/sys/kernel/btf/vmlinux"), "this kernel has no BTF (/sys/kernel/btf/vmlinux), which the Dockerfile's build stage needs");
    const log = join(work, "base.log");
    makeBase(log);
    const t0 = Date.now();
    const r = buildahBuild(["--platform", "linux/amd64", "-t", IMAGE], 10 * 60_000);
    buildSeconds = (Date.now() - t0) / 1000;
    writeFileSync(join(work, "build.log"), r.out);
    need(r.status === 0, `buildah build failed (exit ${r.status}):\n${r.out.split("\n").slice(-40).join("\n")}`);
    run("buildah", [...storage, "push", IMAGE, `oci-archive:${join(work, "dockerfile.tar")}`], log, 5 * 60_000);
    built = readImage(join(work, "dockerfile.tar"), "amd64", join(work, "built"));
    offline = readImage(vigilImageTar(work, "amd64"), "amd64", join(work, "offline"));
  }, 20 * 60_000);

  afterAll(() => {
    if (!work) return;
    spawnSync("buildah", [...storage, "rmi", "--all", "--force"], { timeout: 120_000 });
    unmountUnder(work);
    rmSync(work, { recursive: true, force: true });
  });

  it("builds the linux/amd64 image with the image config of the offline build", () => {
    console.log(`dockerfile test: buildah build ${buildSeconds.toFixed(0)} s`);
    expect(built.config.architecture).toBe("amd64");
    expect(built.config.os).toBe("linux");
    for (const k of ["User", "Entrypoint", "Cmd", "WorkingDir", "Env"]) expect(built.config.config[k], k).toEqual(offline.config.config[k]);
    const labels = offline.config.config.Labels ?? {};
    for (const k of ["title", "description", "source", "version", "licenses"].map((n) => `org.opencontainers.image.${n}`)) {
      expect(built.config.config.Labels?.[k], k).toBe(labels[k]);
    }
  });

  it("holds the same paths as the offline build, each with the same type, mode, owner and link target", () => {
    const a = [...built.files.keys()].sort();
    const b = [...offline.files.keys()].sort();
    expect(
      a.filter((p) => !offline.files.has(p)),
      "only in the Dockerfile's image",
    ).toEqual([]);
    expect(
      b.filter((p) => !built.files.has(p)),
      "only in the offline image",
    ).toEqual([]);
    expect(a.length).toBeGreaterThan(1000);
    const differ = a.filter((p) => {
      const x = built.files.get(p) as Entry;
      const y = offline.files.get(p) as Entry;
      return x.type !== y.type || x.mode !== y.mode || x.owner !== y.owner || x.target !== y.target;
    });
    expect(differ.map((p) => `${p}: ${JSON.stringify(built.files.get(p))} vs ${JSON.stringify(offline.files.get(p))}`)).toEqual([]);
  });

  it("holds the same bytes in every file but the C runtime and the native build outputs, which are built for the same machine", () => {
    let compared = 0;
    const differ: string[] = [];
    for (const [p, e] of built.files) {
      if (e.type !== "file" || C_RUNTIME.test(p) || NATIVE.includes(p)) continue;
      compared++;
      if (e.sha256 !== offline.files.get(p)?.sha256) differ.push(p);
    }
    expect(differ).toEqual([]);
    // node, the JavaScript, rules, protocol files, production node_modules, /etc and the launcher
    expect(compared).toBeGreaterThan(1000);
    for (const p of ["/usr/local/bin/node", "/opt/vigil/dist/agent/cli/main.js", "/usr/local/bin/vigil", "/etc/passwd"]) {
      expect(built.files.get(p)?.sha256, p).toBe(offline.files.get(p)?.sha256);
    }
    for (const p of NATIVE) {
      const want = p.endsWith(".bpf.o") ? EM_BPF : EM_X86_64;
      expect(elfMachine(join(built.rootfs, p)), p).toBe(want);
      expect(elfMachine(join(offline.rootfs, p)), p).toBe(want);
    }
  });

  it("stops at its first step with a clear error on a builder kernel without BTF or not x86_64", () => {
    const empty = join(work, "no-btf");
    mkdirSync(empty);
    const noBtf = buildahBuild(["--platform", "linux/amd64", "-v", `${empty}:/sys/kernel/btf:ro`, "-t", "localhost/vigil-test/vigil:no-btf"], 5 * 60_000);
    expect(noBtf.status).not.toBe(0);
    expect(noBtf.out).toMatch(/Dockerfile: the builder's kernel has no \/sys\/kernel\/btf\/vmlinux/);
    expect(noBtf.out).not.toMatch(/^\[1\/2\] STEP 4\//m);
    // BTF of another architecture's kernel (as on an arm64 builder, emulating amd64 or not)
    const arm = join(work, "arm64-btf");
    writeFileSync(arm, Buffer.concat([Buffer.from([0x9f, 0xeb, 0x01, 0x00]), Buffer.from("user_pt_regs\0cpuinfo_arm64\0")]));
    const notX86 = buildahBuild(
      ["--platform", "linux/amd64", "-v", `${arm}:/sys/kernel/btf/vmlinux:ro`, "-t", "localhost/vigil-test/vigil:arm-btf"],
      5 * 60_000,
    );
    expect(notX86.status).not.toBe(0);
    expect(notX86.out).toMatch(/Dockerfile: the builder's kernel is not x86_64/);
    expect(notX86.out).not.toMatch(/^\[1\/2\] STEP 4\//m);
  });

  it("declares TARGETARCH only for its last build step, so both platforms share the steps before it", () => {
    const df = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
    const stage = df.slice(df.indexOf(" AS build"), df.indexOf("FROM scratch"));
    const lines = stage.split("\n").filter((l) => /^(ARG|RUN|COPY|ENV|WORKDIR)\b/.test(l));
    const arg = lines.findIndex((l) => /^ARG TARGETARCH\b/.test(l));
    const runs = lines.flatMap((l, i) => (l.startsWith("RUN") ? [i] : []));
    expect(arg).toBeGreaterThan(-1);
    expect(runs.filter((i) => i > arg)).toEqual([runs[runs.length - 1]]);
    expect(lines.slice(0, arg).some((l) => l.includes("TARGETARCH"))).toBe(false);
  });
});
