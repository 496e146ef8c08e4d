// SPDX-License-Identifier: Apache-2.0
/** Admission control: `vigil webhook`'s `/validate`, its policies, the dry-run report and manifests. */
export { admissionToAuditEvent, admissionToAuditObject, auditVerb, requestUri } from "./audit-event.js";
export { AlertShipper, MAX_QUEUED_ALERTS } from "./alerts.js";
export { AdmissionError } from "./errors.js";
export { admissionFieldSource, ADMISSION_FIELD_NAMES, CONTAINER_LISTS } from "./fields.js";
export { parseImageRef, pullTag } from "./image-ref.js";
export {
  admissionManifests,
  alertArgs,
  validatingWebhookConfiguration,
  ADMISSION_NAMESPACE_LABEL,
  ADMISSION_NAMESPACE_OPT_OUT,
  LOCAL_POLICIES,
  VALIDATED_RULES,
  VALIDATING_WEBHOOK_NAME,
} from "./manifests.js";
export { carriesPod, podView, KIND_RESOURCES, TEMPLATE_PATHS } from "./pod-view.js";
export { builtinPoliciesDir, loadPolicies, parseModeOverride, PolicySet, ADMISSION_SOURCE, MODE_TAG_PREFIX, POLICY_MODES } from "./policies.js";
export { buildReport, formatReport, readDocuments, MAX_REPORT_FILE_BYTES, MAX_REPORT_OBJECTS } from "./report.js";
export { parseReview, reviewError, reviewResponse, reviewUid, OPERATIONS, UID_RE } from "./review.js";
export { AdmissionValidator, jsonEqual, DEFAULT_EXCLUDED_NAMESPACES } from "./validator.js";
export type { ShipperStats } from "./alerts.js";
export type { AdmissionErrorCode } from "./errors.js";
export type { ImageRef } from "./image-ref.js";
export type { AdmissionAlertShipping, AdmissionConfigOptions, AdmissionManifestOptions } from "./manifests.js";
export type { DefaultMode, ModeOverride, Policy, PolicyLoadOptions, PolicyMatch, PolicyMode } from "./policies.js";
export type { Report, ReportOptions, ReportRow } from "./report.js";
export type { AdmissionRequest, GroupVersionKind, GroupVersionResource, Operation, ReviewOut, ReviewStatus, UserInfo, ValidationResponse } from "./review.js";
export type { Decision, DecisionKind, ValidatorCounters, ValidatorOptions } from "./validator.js";
