// SPDX-License-Identifier: Apache-2.0
/** The container every host process belongs to, and the default container resolver. */
import type { ContainerInfo } from "../../rules/event.js";

/** Resolves a process's container from its cgroup v2 path, cgroup id and pid. */
export type ContainerResolver = (cgroupPath: string, cgroupId: number, pid: number) => ContainerInfo;

/** The shared "host" container (Falco's `container.id = host`). */
export const HOST_CONTAINER: ContainerInfo = Object.freeze({
  id: "host",
  fullId: "host",
  name: "host",
  type: "host",
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
  labels: new Map<string, string>() as ReadonlyMap<string, string>,
  mounts: Object.freeze([]),
  startTs: undefined,
  k8s: undefined,
  metaMissing: false,
}) as ContainerInfo;

/** The default resolver: everything is the host. */
export const hostResolver: ContainerResolver = () => HOST_CONTAINER;
