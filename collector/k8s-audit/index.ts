// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's `k8s_audit` source: Kubernetes audit events from the API server's webhook
 * (`POST /k8s-audit`) and from an EKS cluster's CloudWatch Logs audit log group, evaluated by
 * `k8s_audit` rules handed in by the command line, stored as alerts.
 */
export { auditAlertId } from "./alert-id.js";
export { auditIntakeCounters, cloudwatchAuditCounters } from "./counters.js";
export { AuditPayloadError } from "./errors.js";
export { AuditIntake, auditAlert, CLUSTER_ANNOTATION, CLUSTER_NAME_RE, DEFAULT_CLUSTER } from "./intake.js";
export { AUDIT_API_VERSIONS, auditBatchOf, auditItem, parseAuditPayload } from "./parse.js";
export { MAX_PERSISTED_SEEN, readPosition, writePosition } from "./position.js";
export { NO_AUDIT_RULES } from "./types.js";
export { AUDIT_WEBHOOK_PATH, DEFAULT_AUDIT_MAX_BODY_BYTES, makeAuditWebhook } from "./webhook.js";
export type { AuditIntakeCounters, CloudWatchAuditCounters } from "./counters.js";
export type { AuditPayloadErrorCode } from "./errors.js";
export type { AuditBatchResult, AuditIngest, AuditIntakeOptions } from "./intake.js";
export type { AuditBatch, AuditItem, BadItem } from "./parse.js";
export type { ReadPosition } from "./position.js";
export type { AuditEvalContext, AuditRuleMatch, AuditRules } from "./types.js";
export type { AuditAnswer, AuditWebhook } from "./webhook.js";
