// SPDX-License-Identifier: Apache-2.0
/** Container and Kubernetes enrichment: cgroup → container → containerd/CRI → Kubernetes. */
export { ContainerEnricher, DEFAULT_CONTAINERD_SOCKET } from "./enricher.js";
export { HOST_CONTAINER } from "./container-info.js";
export { containerFromCgroupPath, containerFromProcCgroup, DEFAULT_NAMESPACES, Runtime } from "./cgroup.js";
export { ContainerdClient } from "./containerd-client.js";
export { parseImageRef } from "./image-ref.js";
export { specFacts } from "./oci-spec.js";
export { EnrichError, EnrichErrorCode, RpcError, ProtoLoadError } from "./errors.js";
export type { ContainerEnricherOptions } from "./enricher.js";
export type { CgroupMatch } from "./cgroup.js";
export type { ContainerRecord, ImageRecord, RuntimeEvent } from "./containerd-client.js";
export type { ImageRef } from "./image-ref.js";
export type { SpecFacts } from "./oci-spec.js";
