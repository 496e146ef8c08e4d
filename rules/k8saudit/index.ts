// SPDX-License-Identifier: Apache-2.0
/**
 * The `k8s_audit` event source: Kubernetes audit events and Falco's k8saudit, json and generic
 * plugin-event fields over them.
 */
export { AuditEvent, parseRfc3339 } from "./event.js";
export { k8sAuditSource, listText, DESCRIPTION_OVER_CODE, K8S_AUDIT_SOURCE, K8S_AUDIT_PLUGIN, LIST_TEXT_MAX, MAX_POINTER_DEPTH } from "./fields.js";
export { MAX_NESTED_ARRAYS } from "./json.js";
export type { AuditEventOptions, AuditTimeSource } from "./event.js";
export type { K8sFieldInfo } from "./fields.js";
