// SPDX-License-Identifier: Apache-2.0
/**
 * A container image reference split the way the container runtimes read it (the distribution
 * reference grammar): `[registry/]path[:tag][@digest]`. The first path component is a registry
 * when it has a `.` or a `:` or is `localhost`; otherwise the image is on Docker Hub
 * (`docker.io`). An image naming neither tag nor digest is pulled as `:latest`; one with a digest
 * is pulled by it, whatever its tag says.
 */

/** The parts of an image reference. */
export interface ImageRef {
  /** Registry host (and port), `docker.io` when the reference names none. */
  registry: string;
  /** Repository path inside the registry (`library/nginx` for Docker Hub's `nginx`). */
  path: string;
  /** The tag written in the reference, if any. */
  tag?: string;
  /** The digest (`sha256:...`), if any. */
  digest?: string;
}

const DOCKER_HUB = "docker.io";

/** Splits an image reference; never throws (an odd reference gives odd parts, not an error). */
export function parseImageRef(ref: string): ImageRef {
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    path = rest.slice(slash + 1);
  }
  // Docker Hub's index.docker.io is docker.io, and its official images live under library/
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  const r: ImageRef = { registry: registry.toLowerCase(), path };
  if (tag !== undefined && tag !== "") r.tag = tag;
  if (digest !== undefined && digest !== "") r.digest = digest;
  return r;
}

/** The tag an image is pulled by: its tag, `latest` when it names none, "" when pinned by digest. */
export function pullTag(r: ImageRef): string {
  if (r.digest !== undefined) return "";
  return r.tag ?? "latest";
}
