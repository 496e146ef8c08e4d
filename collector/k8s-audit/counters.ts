// SPDX-License-Identifier: Apache-2.0
/**
 * Counters of the `k8s_audit` source. The collector reports them whether the source runs or not
 * (zeros), so /metrics always has the same families.
 */

/** Counters of the intake (in the collector's stats and /metrics). */
export interface AuditIntakeCounters {
  /** Events in accepted payloads, good or bad. */
  k8s_audit_events_received: number;
  /** Events that were read and evaluated. */
  k8s_audit_events_parsed: number;
  /** Events skipped (not an Event object, another kind or version, no readable time). */
  k8s_audit_events_bad: number;
  /** Payloads refused whole (not JSON, not an EventList/Event). */
  k8s_audit_batches_bad: number;
  /** Alerts newly stored. */
  k8s_audit_alerts: number;
  /** Alerts that were already stored (a resent batch, a re-read window). */
  k8s_audit_alerts_duplicate: number;
  /** Alerts the store refused as invalid (should stay 0: they are bounded first). */
  k8s_audit_alerts_invalid: number;
  /** Evaluations that threw (the event counts as matching nothing). */
  k8s_audit_eval_errors: number;
  /** Batches whose alerts could not be stored (the sender is told to retry). */
  k8s_audit_store_errors: number;
}

/** Fresh intake counters. */
export function auditIntakeCounters(): AuditIntakeCounters {
  return {
    k8s_audit_events_received: 0,
    k8s_audit_events_parsed: 0,
    k8s_audit_events_bad: 0,
    k8s_audit_batches_bad: 0,
    k8s_audit_alerts: 0,
    k8s_audit_alerts_duplicate: 0,
    k8s_audit_alerts_invalid: 0,
    k8s_audit_eval_errors: 0,
    k8s_audit_store_errors: 0,
  };
}

/** Counters of the reader. */
export interface CloudWatchAuditCounters {
  k8s_audit_cloudwatch_polls: number;
  k8s_audit_cloudwatch_pages: number;
  /** Log events received. */
  k8s_audit_cloudwatch_events: number;
  /** Log events skipped because they were read before (the overlap window). */
  k8s_audit_cloudwatch_duplicates: number;
  /** Requests throttled (retried after a backoff). */
  k8s_audit_cloudwatch_throttled: number;
  /** Polls that failed for another reason. */
  k8s_audit_cloudwatch_errors: number;
  /** Position saves that failed. */
  k8s_audit_cloudwatch_position_errors: number;
}

/** Fresh reader counters. */
export function cloudwatchAuditCounters(): CloudWatchAuditCounters {
  return {
    k8s_audit_cloudwatch_polls: 0,
    k8s_audit_cloudwatch_pages: 0,
    k8s_audit_cloudwatch_events: 0,
    k8s_audit_cloudwatch_duplicates: 0,
    k8s_audit_cloudwatch_throttled: 0,
    k8s_audit_cloudwatch_errors: 0,
    k8s_audit_cloudwatch_position_errors: 0,
  };
}
