// SPDX-License-Identifier: Apache-2.0
/**
 * What the collector's `k8s_audit` intake needs from the rules. The collector does not import the
 * rule engine (the layering keeps collector/ off rules/): the command line (agent/cli, the
 * composition root) loads the `k8s_audit` rules files and hands in an {@link AuditRules}.
 */
import type { AlertFieldValue, PriorityName } from "../../proto/index.js";

/** One rule that matched an audit event. */
export interface AuditRuleMatch {
  rule: string;
  priority: PriorityName;
  /** The rule's `source:` (`k8s_audit`). */
  source: string;
  tags: readonly string[];
  /** The rule's output, formatted (no time/priority prefix). */
  message: string;
  /** Typed output fields (`null` when missing). */
  fields: Record<string, AlertFieldValue>;
}

/** What each evaluation is told besides the event. */
export interface AuditEvalContext {
  /** The cluster the event came from (alerts' `hostname`, `ka.cluster.name`). */
  cluster: string;
}

/** A loaded `k8s_audit` rule set. */
export interface AuditRules {
  /** Enabled `k8s_audit` rules (0 is allowed: events are then counted, never alerted on). */
  readonly ruleCount: number;
  /** Runs the rules over one parsed audit.k8s.io Event object; the matches in rule order. */
  evaluate(event: Record<string, unknown>, ctx: AuditEvalContext): AuditRuleMatch[];
}

/** An {@link AuditRules} with no rule (no rules file yet). */
export const NO_AUDIT_RULES: AuditRules = Object.freeze({
  ruleCount: 0,
  evaluate: () => [],
});
