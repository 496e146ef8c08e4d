// SPDX-License-Identifier: Apache-2.0
/** Fargate instrumentation: ECS task-definition patching and the Kubernetes admission webhook. */
export { patchTaskDefinition, checkEcsCollectorShipping, ecsTracerLocation, AGENT_NAME, INSTALL_NAME, ECS_SPOOL_DIR } from "./ecs.js";
export {
  patchPod,
  checkCollectorShipping,
  COLLECTOR_SECRET_DIR,
  SPOOL_DIR,
  wantsInjection,
  podTracerLocation,
  ptr,
  INJECT_LABEL,
  INJECTED_ANNOTATION,
  IMAGE_CONFIG_ANNOTATION_PREFIX,
  FARGATE_PROFILE_LABEL,
  FARGATE_SCHEDULER,
} from "./pod.js";
export { review, collectorArgs, startWebhookServer, webhookConfiguration, webhookManifests, MAX_REVIEW_BYTES } from "./webhook.js";
export { wrapProcess, effectiveArgv, parseImageConfig, tracerPrefix, isWrapped } from "./wrap.js";
export { InjectError } from "./errors.js";
export { startTraceSocket } from "./trace-socket.js";
export type { EcsCollectorShipping, EcsInjectOptions, EcsInjectResult } from "./ecs.js";
export type { CollectorShipping, JsonPatchOp, PodInjectOptions, PodInjectResult } from "./pod.js";
export type {
  AdmissionResponse,
  AdmissionReviewOut,
  WebhookConfigOptions,
  WebhookCounters,
  WebhookManifestOptions,
  ReviewHandler,
  WebhookServer,
  WebhookServerOptions,
} from "./webhook.js";
export type { ImageProcess, TracerLocation, Wrapped } from "./wrap.js";
export type { InjectErrorCode } from "./errors.js";
export type { TraceConnectionConsumer, TraceSocketOptions, TraceSocketServer } from "./trace-socket.js";
