// SPDX-License-Identifier: Apache-2.0
/** The ContainerInfo objects the enricher hands out: the shared host one and placeholders. */
import type { ContainerInfo } from "../../rules/event.js";

/** A ContainerInfo the enricher may fill in place. */
export type MutableContainerInfo = { -readonly [K in keyof ContainerInfo]: ContainerInfo[K] };

const EMPTY_LABELS: ReadonlyMap<string, string> = new Map();

/** The one ContainerInfo of every host process (shared with the process table's default). */
export { HOST_CONTAINER } from "../state/host-container.js";

/** A container known only by its cgroup: ID and runtime, metadata missing. */
export function placeholder(fullId: string, type: string): MutableContainerInfo {
  return {
    id: fullId.slice(0, 12),
    fullId,
    name: undefined,
    type,
    image: undefined,
    imageRepository: undefined,
    imageTag: undefined,
    imageDigest: undefined,
    imageId: undefined,
    privileged: undefined,
    hostPid: undefined,
    hostNetwork: undefined,
    hostIpc: undefined,
    user: undefined,
    labels: EMPTY_LABELS,
    mounts: [],
    startTs: undefined,
    k8s: undefined,
    metaMissing: true,
  };
}
