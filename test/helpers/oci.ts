// SPDX-License-Identifier: Apache-2.0
/**
 * Reading the image archives the tests build (scripts/build-image.sh, the Dockerfile through
 * buildah): an OCI image layout in a tar, its top index → an image index (or one manifest) → a
 * manifest per platform → config and gzip'd layer tars, unpacked in order into a folder.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { elfHeader } from "./elf.js";

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface OciImageConfig {
  architecture: string;
  os: string;
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string; Env?: string[]; Labels?: Record<string, string> } & Record<
    string,
    unknown
  >;
}

/** One platform of an archive, unpacked. */
export interface OciPlatform {
  arch: string;
  manifest: { layers: OciDescriptor[]; annotations?: Record<string, string> };
  config: OciImageConfig;
  rootfs: string;
  /** Sum of the compressed layer sizes. */
  compressed: number;
}

/** An archive's image layout, extracted into `layout`. */
export interface OciLayout {
  layout: string;
  /** The top index.json's entries. */
  top: OciDescriptor[];
}

/** Extracts the archive's layout (blobs, index.json) into `layout`. */
export function extractOciArchive(tar: string, layout: string): OciLayout {
  mkdirSync(layout, { recursive: true });
  execFileSync("tar", ["-xf", tar, "-C", layout]);
  const top = (JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: OciDescriptor[] }).manifests;
  return { layout, top };
}

/** A blob of the layout by digest. */
export function ociBlob(layout: string, digest: string): Buffer {
  return readFileSync(join(layout, "blobs", "sha256", digest.replace(/^sha256:/, "")));
}

/** The platform manifests an entry of the top index leads to (itself when it is a manifest). */
export function ociPlatforms(l: OciLayout, entry: OciDescriptor): OciDescriptor[] {
  if (!entry.mediaType.endsWith("image.index.v1+json")) return [entry];
  return (JSON.parse(ociBlob(l.layout, entry.digest).toString()) as { manifests: OciDescriptor[] }).manifests;
}

/** Unpacks one platform's layers in order into `rootfs` (owners kept); refuses whiteouts when asked, which neither build writes. */
export function unpackOciPlatform(l: OciLayout, desc: OciDescriptor, rootfs: string, opts: { refuseWhiteouts?: boolean } = {}): OciPlatform {
  const manifest = JSON.parse(ociBlob(l.layout, desc.digest).toString()) as OciPlatform["manifest"] & { config: OciDescriptor };
  const config = JSON.parse(ociBlob(l.layout, manifest.config.digest).toString()) as OciImageConfig;
  mkdirSync(rootfs, { recursive: true });
  for (const layer of manifest.layers) {
    const file = join(l.layout, "blobs", "sha256", layer.digest.slice(7));
    if (opts.refuseWhiteouts) {
      const names = execFileSync("tar", ["-tf", file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      if (/(^|\/)\.wh\./m.test(names)) throw new Error(`${desc.digest}: a layer deletes files (whiteouts), which neither build writes`);
    }
    execFileSync("tar", ["--numeric-owner", "-xpf", file, "-C", rootfs]);
  }
  const arch = desc.platform?.architecture ?? config.architecture;
  return { arch, manifest, config, rootfs, compressed: manifest.layers.reduce((s, x) => s + x.size, 0) };
}

/** e_machine of an ELF file (62 x86-64, 183 AArch64, 247 BPF). */
export function elfMachine(file: string): number {
  return elfHeader(readFileSync(file).subarray(0, 64)).machine;
}
