// SPDX-License-Identifier: Apache-2.0
/** The Kubernetes API context of the agent: pods of its node, namespaces, owners, the node. */
export { K8sApiContext, NODE_NAME_RE } from "./context.js";
export { K8sMetaStore, PodMeta, OwnerKind, OWNER_KINDS, DEFAULT_STORE_LIMITS } from "./store.js";
export { Reflector } from "./reflector.js";
export { KubeTransport, ACCEPT_META, ACCEPT_META_LIST } from "./transport.js";
export { AcceptingKubeConfig, DEFAULT_SERVICE_ACCOUNT_DIR, inCluster, loadAccess } from "./kubeconfig.js";
export { K8sApiError, K8sApiErrorCode, isGone } from "./errors.js";
export { parseObject, parsePod } from "./objects.js";
export type { K8sApiContextOptions } from "./context.js";
export type { StoreLimits, StoreStats } from "./store.js";
export type { ReflectorOptions, ReflectorSink, ReflectorStats, ResourceSpec } from "./reflector.js";
export type { Transport, TransportOptions, WatchHandle, WatchHandlers } from "./transport.js";
export type { KubeAccess } from "./kubeconfig.js";
export type { ObjRecord, OwnerRef, PodRecord } from "./objects.js";
