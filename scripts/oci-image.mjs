#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Writes a multi-platform OCI image archive from prepared root-filesystem folders, one folder per
 * layer per platform (scripts/build-image.sh prepares them). The archive is an OCI image layout
 * (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) in a tar:
 *
 *   oci-layout, index.json  → one image index (the tag) → one manifest per platform
 *   blobs/sha256/…          → configs, manifests and gzip'd layer tars
 *
 * `ctr images import --all-platforms OUT.tar` loads it (containerd reads the image name from the
 * `io.containerd.image.name` annotation, registries' tools from `org.opencontainers.image.ref.name`).
 * Layers are reproducible: files sorted, owners 0:0 (or the numeric owner given), mtime fixed to
 * --created, gzip without a name or time stamp; the same inputs give the same digests.
 *
 *   node scripts/oci-image.mjs --out OUT.tar --name REF --created ISO8601 \
 *     --label k=v ... --config JSON --platform amd64=DIR,DIR,... --platform arm64=DIR,...
 *
 * Each DIR of a platform becomes one layer, in the order given. --config holds the image config's
 * `config` object (Entrypoint, Env, User, WorkingDir...); labels are merged into it.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";

const MT = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
};

function fail(msg) {
  process.stderr.write(`oci-image: ${msg}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(" ")} exited ${r.status}: ${String(r.stderr).trim()}`);
  return r;
}

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    name: { type: "string" },
    created: { type: "string" },
    label: { type: "string", multiple: true, default: [] },
    config: { type: "string", default: "{}" },
    platform: { type: "string", multiple: true, default: [] },
  },
  strict: true,
});
if (!values.out || !values.name || !values.created) fail("--out, --name and --created are required");
if (values.platform.length === 0) fail("at least one --platform ARCH=DIR[,DIR...] is required");
const created = new Date(values.created);
if (Number.isNaN(created.getTime())) fail(`--created: not a date: ${values.created}`);
const epoch = Math.floor(created.getTime() / 1000);
const labels = {};
for (const l of values.label) {
  const eq = l.indexOf("=");
  if (eq <= 0) fail(`--label: expected KEY=VALUE, got ${l}`);
  labels[l.slice(0, eq)] = l.slice(eq + 1);
}
const imageConfig = JSON.parse(values.config);
const tagAt = values.name.lastIndexOf(":");
if (tagAt < 0 || values.name.slice(tagAt).includes("/")) fail(`--name must carry a tag: ${values.name}`);
const tag = values.name.slice(tagAt + 1);

const work = mkdtempSync(join(tmpdir(), "vigil-oci-"));
const layout = join(work, "layout");
const blobs = join(layout, "blobs", "sha256");
mkdirSync(blobs, { recursive: true });

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

/** Stores bytes as a blob; returns its descriptor. */
function putBlob(mediaType, bytes, extra = {}) {
  const hex = sha256(bytes);
  writeFileSync(join(blobs, hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length, ...extra };
}

/** One layer from a folder: a sorted, owner- and time-normalised tar, gzip'd without a header time. */
function layer(dir) {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) fail(`layer folder ${dir} does not exist`);
  const tarFile = join(work, `${basename(dir)}-${sha256(dir).slice(0, 8)}.tar`);
  run("tar", [
    "--sort=name",
    `--mtime=@${epoch}`,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    "-C",
    dir,
    "-cf",
    tarFile,
    ".",
  ]);
  const tarBytes = readFileSync(tarFile);
  const gz = run("gzip", ["-n", "-6", "-c", tarFile]).stdout;
  rmSync(tarFile);
  return { diffId: `sha256:${sha256(tarBytes)}`, desc: putBlob(MT.layer, gz), unpacked: tarBytes.length };
}

const manifests = [];
const summary = [];
for (const p of values.platform) {
  const eq = p.indexOf("=");
  if (eq <= 0) fail(`--platform: expected ARCH=DIR[,DIR...], got ${p}`);
  const arch = p.slice(0, eq);
  if (arch !== "amd64" && arch !== "arm64") fail(`--platform: unsupported architecture ${arch}`);
  const dirs = p
    .slice(eq + 1)
    .split(",")
    .map((d) => resolve(d));
  const layers = dirs.map(layer);
  const config = Buffer.from(
    JSON.stringify({
      created: created.toISOString(),
      architecture: arch,
      ...(arch === "arm64" ? { variant: "v8" } : {}),
      os: "linux",
      config: { ...imageConfig, Labels: { ...(imageConfig.Labels ?? {}), ...labels } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: dirs.map((d) => ({ created: created.toISOString(), created_by: `scripts/build-image.sh: ${basename(d)}` })),
    }),
  );
  const configDesc = putBlob(MT.config, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: configDesc,
      layers: layers.map((l) => l.desc),
      annotations: { ...labels },
    }),
  );
  const platform = { architecture: arch, os: "linux", ...(arch === "arm64" ? { variant: "v8" } : {}) };
  manifests.push(putBlob(MT.manifest, manifest, { platform }));
  summary.push({
    platform: `linux/${arch}`,
    layers: layers.map((l, i) => ({ name: basename(dirs[i]), compressed: l.desc.size, unpacked: l.unpacked })),
    compressed: layers.reduce((s, l) => s + l.desc.size, 0),
    unpacked: layers.reduce((s, l) => s + l.unpacked, 0),
  });
}

const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests, annotations: { ...labels } }));
const indexDesc = putBlob(MT.index, index, {
  annotations: { "io.containerd.image.name": values.name, "org.opencontainers.image.ref.name": tag },
});
writeFileSync(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: [indexDesc] }));
writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));

const out = resolve(values.out);
mkdirSync(dirname(out), { recursive: true });
const tmpOut = `${out}.tmp-${process.pid}`;
run("tar", ["--sort=name", `--mtime=@${epoch}`, "--owner=0", "--group=0", "--numeric-owner", "-C", layout, "-cf", tmpOut, "oci-layout", "index.json", "blobs"]);
renameSync(tmpOut, out);
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ name: values.name, index: indexDesc.digest, platforms: summary })}\n`);
