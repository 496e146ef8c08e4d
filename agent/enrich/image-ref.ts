// SPDX-License-Identifier: Apache-2.0
/** Splits an image reference into repository, tag and digest (`container.image.*` fields). */

/** The parts of an image reference. */
export interface ImageRef {
  repository: string;
  tag: string | undefined;
  /** `sha256:<hex>` when the reference pins one. */
  digest: string | undefined;
}

/**
 * `registry.k8s.io/pause:3.6` → {repository `registry.k8s.io/pause`, tag `3.6`};
 * `nginx@sha256:…` → {repository `nginx`, digest}; a registry port (`host:5000/app`) is not a tag.
 */
export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1) || undefined;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1) || undefined;
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag, digest };
}
