// SPDX-License-Identifier: Apache-2.0
/** Health and Prometheus metrics of the agent. */
export { Metrics, metrics } from "./metrics.js";
export { startMetricsServer } from "./server.js";
export { CgroupResources } from "./cgroup-resources.js";
export { MetricsError } from "./errors.js";
export { DEFAULT_HTTP_LIMITS, guardHttpServer, httpLimits, httpServerOptions } from "./http-guard.js";
export type { LabeledContainer, MetricsOptions, RegisterStatsOptions } from "./metrics.js";
export type { MetricsServer, MetricsServerOptions } from "./server.js";
export type { CgroupResourceOptions, ContainerCgroup, ContainerResources } from "./cgroup-resources.js";
export type { MetricsErrorCode } from "./errors.js";
export type { GuardOptions, HttpGuard, HttpLimits, HttpLimitsInput } from "./http-guard.js";
