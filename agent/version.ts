// SPDX-License-Identifier: Apache-2.0
/**
 * The one version of Vigil: `version` in package.json. `vigil --version`, the Falco gRPC version
 * service, the default image the injectors put into pods, the image's labels and tag
 * (scripts/build-image.sh) and the manifests' image reference (deploy/) all come from it.
 */
import { readFileSync } from "node:fs";
import { packagePath } from "./paths.js";

/** Where release images are published; the tag is {@link VERSION}. */
export const IMAGE_REPOSITORY = "ghcr.io/vigil-security/vigil";

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version?: unknown };
  const v = pkg.version;
  // semver: MAJOR.MINOR.PATCH with an optional pre-release and build part
  if (typeof v !== "string" || !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(v)) {
    throw new Error(`package.json: "version" is not a semantic version: ${JSON.stringify(v)}`);
  }
  return v;
}

/** The package version, e.g. `0.2.0`. */
export const VERSION: string = readVersion();

/** The release image of this version, e.g. `ghcr.io/vigil-security/vigil:0.2.0`. */
export const DEFAULT_IMAGE = `${IMAGE_REPOSITORY}:${VERSION}`;

/** MAJOR, MINOR, PATCH and the pre-release part of {@link VERSION}. */
export function versionParts(): { major: number; minor: number; patch: number; prerelease: string } {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([^+]*))?/.exec(VERSION);
  if (m === null) throw new Error(`unparsable version ${VERSION}`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4] ?? "" };
}
