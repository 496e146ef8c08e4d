// SPDX-License-Identifier: Apache-2.0
/**
 * The `k8s_audit` intake: audit events (from the webhook or the CloudWatch reader) → the
 * `k8s_audit` rules → alerts stored through the collector's own ingest, the path every alert
 * takes (validation, idempotent insert by alert ID, the live tail, the forwarders).
 *
 * An alert is the rule's output as the agent makes one: `source` k8s_audit, the rule's priority
 * and tags, the formatted output and typed output_fields, `hostname` the cluster's name, `time`
 * the event's time, and a deterministic ID (alert-id.ts) so a resent batch stores nothing twice.
 * A field value or output over the alert limits is cut (with `…`), never a reason to lose the
 * alert (`ka.req.configmap.obj` can be a whole ConfigMap).
 *
 * The cluster of an event: the one its source names (the webhook's `?cluster=`, the EKS log
 * group's), else the configured one (`--cluster-name`), else the event's `cluster_name`
 * annotation (Falco's `ka.cluster.name`), else "kubernetes". An event without that annotation gets
 * it, so `ka.cluster.name` reads the cluster in every rule.
 */
import type { Logger } from "pino";
import { ALERT_LIMITS, validateAlert, type Alert, type AlertFieldValue } from "../../proto/index.js";
import type { MaybePromise } from "../store-api.js";
import { BurstLog } from "../burst-log.js";
import { auditAlertId } from "./alert-id.js";
import { auditIntakeCounters, type AuditIntakeCounters } from "./counters.js";
import type { AuditPayloadError } from "./errors.js";
import type { AuditBatch, AuditItem } from "./parse.js";
import { NO_AUDIT_RULES, type AuditRuleMatch, type AuditRules } from "./types.js";

/** Stores alerts like an ingest (the collector's `ingest`). */
export type AuditIngest = (alerts: Alert[]) => MaybePromise<{ stored: number; duplicates: number; invalid: number }>;

/** What one batch came to. */
export interface AuditBatchResult {
  /** Events evaluated. */
  events: number;
  /** Events skipped as bad. */
  bad: number;
  /** Alerts the rules raised. */
  alerts: number;
  /** Of those, newly stored. */
  stored: number;
  /** Of those, already stored. */
  duplicates: number;
}

/** Options of {@link AuditIntake}. */
export interface AuditIntakeOptions {
  rules?: AuditRules | undefined;
  ingest: AuditIngest;
  logger: Logger;
  /** The cluster name when the source names none (`--cluster-name`); else the event's annotation, else "kubernetes". */
  cluster?: string | undefined;
}

/** Valid cluster names (the `cluster` query parameter, configuration): a DNS-label-like word. */
export const CLUSTER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;

/** The annotation that names an event's cluster (Falco's `ka.cluster.name`). */
export const CLUSTER_ANNOTATION = "cluster_name";

/** The default cluster name. */
export const DEFAULT_CLUSTER = "kubernetes";

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The alert of one rule match on one event. */
export function auditAlert(item: AuditItem, m: AuditRuleMatch, cluster: string): Alert {
  const fields: Record<string, AlertFieldValue> = {};
  let n = 0;
  for (const [k, v] of Object.entries(m.fields)) {
    if (++n > ALERT_LIMITS.fields) break;
    fields[cut(k, ALERT_LIMITS.fieldNameLength)] = typeof v === "string" ? cut(v, ALERT_LIMITS.fieldValueLength) : v;
  }
  const alert: Alert = {
    id: auditAlertId(item.key, item.stage, m.rule, item.timeMs),
    time: item.time,
    rule: cut(m.rule, ALERT_LIMITS.ruleLength),
    priority: m.priority,
    source: cut(m.source || "k8s_audit", ALERT_LIMITS.sourceLength),
    hostname: cut(cluster, ALERT_LIMITS.hostnameLength),
    output: cut(`${item.time}: ${m.priority} ${m.message}`, ALERT_LIMITS.outputLength),
    output_fields: fields,
    tags: m.tags.slice(0, ALERT_LIMITS.tags).map((t) => cut(t.replaceAll("\x1f", " "), ALERT_LIMITS.tagLength)),
  };
  // many large fields together can pass the total limit: cut them harder until it fits
  for (const cap of [4096, 1024, 256]) {
    if (validateAlert(alert) === undefined) break;
    for (const k of Object.keys(fields)) {
      const v = fields[k];
      if (typeof v === "string") fields[k] = cut(v, cap);
    }
    alert.output = cut(alert.output, cap * 4);
  }
  return alert;
}

/** Audit events → rules → stored alerts. */
export class AuditIntake {
  readonly counters: AuditIntakeCounters = auditIntakeCounters();
  private current: AuditRules;
  private readonly ingest: AuditIngest;
  private readonly logger: Logger;
  /** The configured cluster name, if any. */
  readonly configuredCluster: string | undefined;
  private readonly badPayloadLog: BurstLog;
  private readonly badEventLog: BurstLog;
  private evalErrorLogged = false;

  constructor(o: AuditIntakeOptions) {
    this.current = o.rules ?? NO_AUDIT_RULES;
    this.ingest = o.ingest;
    this.logger = o.logger;
    this.configuredCluster = o.cluster !== undefined && o.cluster !== "" ? o.cluster : undefined;
    if (this.configuredCluster !== undefined && !CLUSTER_NAME_RE.test(this.configuredCluster))
      throw new Error(`bad cluster name ${JSON.stringify(this.configuredCluster.slice(0, 64))}`);
    this.badPayloadLog = new BurstLog(o.logger, "malformed audit payloads refused");
    this.badEventLog = new BurstLog(o.logger, "malformed audit events skipped");
  }

  /**
   * The cluster of one event (see the module comment); writes the `cluster_name` annotation when
   * the event has none.
   */
  clusterOf(obj: Record<string, unknown>, named: string | undefined): string {
    let ann = obj["annotations"];
    const given = ann !== null && typeof ann === "object" && !Array.isArray(ann) ? (ann as Record<string, unknown>)[CLUSTER_ANNOTATION] : undefined;
    const fromEvent = typeof given === "string" && CLUSTER_NAME_RE.test(given) ? given : undefined;
    const cluster = named ?? this.configuredCluster ?? fromEvent ?? DEFAULT_CLUSTER;
    if (given === undefined && (ann === undefined || (ann !== null && typeof ann === "object" && !Array.isArray(ann)))) {
      ann = { ...(ann as Record<string, unknown> | undefined), [CLUSTER_ANNOTATION]: cluster };
      obj["annotations"] = ann;
    }
    return cluster;
  }

  /** The rules in force. */
  get rules(): AuditRules {
    return this.current;
  }

  /** Puts a new rule set in force (a reload); batches in progress finish with the old one. */
  setRules(r: AuditRules): void {
    this.current = r;
  }

  /** Counts and logs (once per burst) a payload refused whole. */
  refused(err: AuditPayloadError, from: string): void {
    this.counters.k8s_audit_batches_bad++;
    this.badPayloadLog.hit({ from, code: err.code, reason: err.message });
  }

  /**
   * Evaluates a batch and stores its alerts; resolves once they are stored (the webhook answers
   * 200 only then). Rejects when the store fails: nothing is lost, the sender retries.
   */
  async process(batch: AuditBatch, cluster: string | undefined, from: string): Promise<AuditBatchResult> {
    const c = this.counters;
    c.k8s_audit_events_received += batch.items.length + batch.bad.length;
    c.k8s_audit_events_parsed += batch.items.length;
    if (batch.bad.length > 0) {
      c.k8s_audit_events_bad += batch.bad.length;
      const first = batch.bad[0];
      this.badEventLog.hit({ from, skipped: batch.bad.length, index: first?.index, reason: first?.reason });
    }
    const rules = this.current;
    const alerts: Alert[] = [];
    if (rules.ruleCount > 0)
      for (const item of batch.items) {
        let matches: AuditRuleMatch[];
        const name = this.clusterOf(item.obj, cluster);
        try {
          matches = rules.evaluate(item.obj, { cluster: name });
        } catch (err) {
          c.k8s_audit_eval_errors++;
          if (!this.evalErrorLogged) {
            this.evalErrorLogged = true;
            this.logger.error({ err }, "audit event evaluation failed (logged once)");
          }
          continue;
        }
        for (const m of matches) alerts.push(auditAlert(item, m, name));
      }
    const result: AuditBatchResult = { events: batch.items.length, bad: batch.bad.length, alerts: alerts.length, stored: 0, duplicates: 0 };
    if (alerts.length === 0) return result;
    let r: { stored: number; duplicates: number; invalid: number };
    try {
      r = await this.ingest(alerts);
    } catch (err) {
      c.k8s_audit_store_errors++;
      throw err;
    }
    c.k8s_audit_alerts += r.stored;
    c.k8s_audit_alerts_duplicate += r.duplicates;
    c.k8s_audit_alerts_invalid += r.invalid;
    result.stored = r.stored;
    result.duplicates = r.duplicates;
    return result;
  }

  close(): void {
    this.badPayloadLog.close();
    this.badEventLog.close();
  }
}
