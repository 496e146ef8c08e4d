// SPDX-License-Identifier: Apache-2.0
/**
 * The decision on one AdmissionReview (`POST /validate`):
 *
 * 1. A request in an excluded namespace (`--exclude-namespace`; kube-system by default) is
 *    allowed unevaluated.
 * 2. An UPDATE that leaves the pod spec as it was (labels, annotations, finalizers, status; a
 *    workload's scale) is allowed unevaluated, as Pod Security Admission does: a running pod that
 *    a policy added later would deny must stay deletable and labelable.
 * 3. Otherwise the request becomes an audit Event (audit-event.ts) and every policy runs. Any
 *    `enforce` match denies it: `allowed: false`, `status.code` 403 and a message with each
 *    denying policy's output. Each `audit` match adds a warning (kubectl prints them) and the
 *    request is allowed. Both kinds are named in `auditAnnotations` (`denied-by`, `audited-by`;
 *    the API server prefixes them with the webhook's name in its audit log).
 *
 * A dry-run request (`kubectl apply --dry-run=server`) gets the same answer, so it shows what
 * would be denied; it is logged and counted as dry-run and raises no alert.
 *
 * Failure policy: when the evaluation itself fails (a bug, not a policy match), the request is
 * allowed with a warning (fail open) unless the validator is fail-closed, when it is denied
 * with `status.code` 500. Each decision is one log line and counted in /metrics per policy.
 */
import { Counter, type Registry } from "prom-client";
import type { Logger } from "pino";
import { uuidv7 } from "../../proto/uuid7.js";
import { hostname as osHostname } from "node:os";
import type { Alert } from "../../proto/index.js";
import { isoTimeNs } from "../engine/alert-builder.js";
import { admissionToAuditEvent } from "./audit-event.js";
import { carriesPod, podView } from "./pod-view.js";
import type { PolicyMatch, PolicySet } from "./policies.js";
import { parseReview, reviewError, reviewResponse, reviewUid, type AdmissionRequest, type ReviewOut, type ValidationResponse } from "./review.js";

/** Namespaces excluded unless told otherwise. */
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ["kube-system"];

/** The API server may cut warnings past 256 characters and long lists of them. */
const MAX_WARNING = 256;
const MAX_WARNINGS = 16;
const MAX_MESSAGE = 4096;
const MAX_ANNOTATION = 1024;
/** Deepest JSON compared when deciding whether an update changed the pod spec. */
const MAX_COMPARE_DEPTH = 64;

/** How the request was decided. */
export type DecisionKind = "allowed" | "denied" | "excluded" | "unchanged" | "error";

/** A decision on one request. */
export interface Decision {
  allowed: boolean;
  kind: DecisionKind;
  /** The policies that matched (enforce and audit), in load order. */
  matches: PolicyMatch[];
  dryRun: boolean;
}

export interface ValidatorCounters {
  reviews: number;
  allowed: number;
  denied: number;
  /** Allowed reviews with at least one audit-mode match. */
  audited: number;
  excluded: number;
  unchanged: number;
  dry_run: number;
  errors: number;
  bad_requests: number;
}

/** Options of {@link AdmissionValidator}. */
export interface ValidatorOptions {
  policies: PolicySet;
  /** Namespaces whose requests are allowed unevaluated. */
  excludeNamespaces?: Iterable<string>;
  /** Deny (500) instead of allowing when the evaluation itself fails. */
  failClosed?: boolean;
  logger: Logger;
  /** Where the per-policy counters are registered (a Metrics' registry); none: not exported. */
  registry?: Registry | undefined;
  /** Called with the alert of every match of a real (not dry-run) request. */
  onAlert?: ((a: Alert) => void) | undefined;
  /** The name alerts carry as their hostname; default os.hostname(). */
  hostname?: string;
  /** The clock (tests). */
  now?: () => Date;
}

/** `Name` of a counter, created once per registry. */
function counter<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[]): Counter<T> {
  const have = registry.getSingleMetric(name);
  if (have !== undefined) return have as Counter<T>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function cut(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

type Obj = Record<string, unknown>;

/** Structural equality of two JSON values (key order ignored); false past the depth limit. */
export function jsonEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > MAX_COMPARE_DEPTH || typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let k = 0; k < a.length; k++) if (!jsonEqual(a[k], bb[k], depth + 1)) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !jsonEqual((a as Obj)[k], (b as Obj)[k], depth + 1)) return false;
  return true;
}

/** Decides AdmissionReviews with the loaded policies. */
export class AdmissionValidator {
  readonly counters: ValidatorCounters = { reviews: 0, allowed: 0, denied: 0, audited: 0, excluded: 0, unchanged: 0, dry_run: 0, errors: 0, bad_requests: 0 };
  private readonly excluded: ReadonlySet<string>;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly host: string;
  private readonly reviewsTotal: Counter<"result" | "dry_run"> | undefined;
  private readonly policyTotal: Counter<"policy" | "result" | "dry_run"> | undefined;

  constructor(private readonly o: ValidatorOptions) {
    this.excluded = new Set(o.excludeNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES);
    this.log = o.logger.child({ component: "admission" });
    this.now = o.now ?? (() => new Date());
    this.host = o.hostname ?? osHostname();
    if (o.registry !== undefined) {
      this.reviewsTotal = counter(
        o.registry,
        "vigil_admission_reviews_total",
        "AdmissionReviews answered on /validate, by result (allowed, denied, excluded, unchanged, error)",
        ["result", "dry_run"],
      );
      this.policyTotal = counter(
        o.registry,
        "vigil_admission_policy_evaluations_total",
        "Requests each admission policy evaluated, by result (allowed: no match, denied: enforce match, audited: audit match)",
        ["policy", "result", "dry_run"],
      );
    }
  }

  /** The decision on a checked request (no logging, counting or alerting: the dry-run report uses it too). */
  decide(req: AdmissionRequest): Decision {
    const dryRun = req.dryRun === true;
    if (req.namespace !== undefined && this.excluded.has(req.namespace)) return { allowed: true, kind: "excluded", matches: [], dryRun };
    if (req.operation === "UPDATE" && carriesPod(req.resource.group, req.resource.resource, req.subResource ?? "")) {
      const g = req.resource.group;
      const r = req.resource.resource;
      const s = req.subResource ?? "";
      const before = podView(req.oldObject, g, r, s);
      const after = podView(req.object, g, r, s);
      if (before !== undefined && after !== undefined && jsonEqual(before["spec"], after["spec"]))
        return { allowed: true, kind: "unchanged", matches: [], dryRun };
    }
    const matches = this.o.policies.evaluate(admissionToAuditEvent(req, this.now()));
    const denied = matches.some((m) => m.mode === "enforce");
    return { allowed: !denied, kind: denied ? "denied" : "allowed", matches, dryRun };
  }

  /** The AdmissionResponse of a decision. */
  static response(uid: string, d: Decision): ValidationResponse {
    const r: ValidationResponse = { uid, allowed: d.allowed };
    const deny = d.matches.filter((m) => m.mode === "enforce");
    const audit = d.matches.filter((m) => m.mode === "audit");
    if (deny.length > 0) {
      const msg = `vigil: denied by ${deny.length === 1 ? "policy" : `${deny.length} policies`}: ${deny.map((m) => `[${m.policy}] ${m.message}`).join("; ")}`;
      r.status = { code: 403, reason: "Forbidden", message: cut(msg, MAX_MESSAGE) };
    }
    if (audit.length > 0) r.warnings = audit.slice(0, MAX_WARNINGS).map((m) => cut(`vigil audit: [${m.policy}] ${m.message}`, MAX_WARNING));
    if (d.matches.length > 0) {
      const a: Record<string, string> = {};
      if (deny.length > 0) a["denied-by"] = cut(JSON.stringify(deny.map((m) => m.policy)), MAX_ANNOTATION);
      if (audit.length > 0) a["audited-by"] = cut(JSON.stringify(audit.map((m) => m.policy)), MAX_ANNOTATION);
      r.auditAnnotations = a;
    }
    return r;
  }

  /**
   * Answers one parsed body: 400 (an AdmissionReview whose response carries the reason) when it
   * is not a well-formed review, else 200 with the decision. Never throws.
   */
  handle(body: unknown): { status: number; body: ReviewOut } {
    const parsed = parseReview(body);
    if (!parsed.ok) {
      this.counters.bad_requests++;
      return { status: 400, body: reviewError(reviewUid(body), 400, parsed.error) };
    }
    const req = parsed.request;
    this.counters.reviews++;
    const dry = req.dryRun === true ? "true" : "false";
    if (req.dryRun === true) this.counters.dry_run++;
    let d: Decision;
    try {
      d = this.decide(req);
    } catch (err) {
      this.counters.errors++;
      this.reviewsTotal?.inc({ result: "error", dry_run: dry });
      const failClosed = this.o.failClosed === true;
      this.log.error({ err, decision: { uid: req.uid, allowed: !failClosed, failClosed }, request: this.requestLog(req) }, "admission evaluation failed");
      const r: ValidationResponse = failClosed
        ? {
            uid: req.uid,
            allowed: false,
            status: { code: 500, reason: "InternalError", message: "vigil: policy evaluation failed; denied (the webhook is fail-closed)" },
          }
        : { uid: req.uid, allowed: true, warnings: ["vigil: policy evaluation failed; admitted unchecked (the webhook fails open)"] };
      return { status: 200, body: reviewResponse(r) };
    }
    this.count(d, dry);
    this.logDecision(req, d);
    if (!d.dryRun && this.o.onAlert !== undefined) for (const m of d.matches) this.alert(req, m);
    return { status: 200, body: reviewResponse(AdmissionValidator.response(req.uid, d)) };
  }

  private count(d: Decision, dry: string): void {
    const c = this.counters;
    if (d.kind === "excluded") c.excluded++;
    else if (d.kind === "unchanged") c.unchanged++;
    if (d.allowed) c.allowed++;
    else c.denied++;
    if (d.allowed && d.matches.length > 0) c.audited++;
    this.reviewsTotal?.inc({ result: d.kind, dry_run: dry });
    if (this.policyTotal === undefined || (d.kind !== "allowed" && d.kind !== "denied")) return;
    const hit = new Map(d.matches.map((m) => [m.policy, m.mode]));
    for (const p of this.o.policies.policies) {
      if (p.mode === "off") continue;
      const m = hit.get(p.rule.name);
      this.policyTotal.inc({ policy: p.rule.name, result: m === undefined ? "allowed" : m === "enforce" ? "denied" : "audited", dry_run: dry });
    }
  }

  /** What the log says of a request: everything here is the requester's, so it goes under one key. */
  private requestLog(req: AdmissionRequest): Record<string, unknown> {
    return {
      namespace: req.namespace ?? null,
      name: req.name ?? null,
      kind: req.kind.kind,
      resource: req.subResource ? `${req.resource.resource}/${req.subResource}` : req.resource.resource,
      operation: req.operation,
      user: req.userInfo.username ?? null,
    };
  }

  private logDecision(req: AdmissionRequest, d: Decision): void {
    const decision = {
      uid: req.uid,
      allowed: d.allowed,
      result: d.kind,
      dryRun: d.dryRun,
      denied: d.matches.filter((m) => m.mode === "enforce").map((m) => m.policy),
      audited: d.matches.filter((m) => m.mode === "audit").map((m) => m.policy),
    };
    const line = { decision, request: this.requestLog(req) };
    if (d.kind === "excluded" || d.kind === "unchanged") this.log.debug(line, "admission decision");
    else if (d.matches.length > 0) this.log.warn(line, "admission decision");
    else this.log.info(line, "admission decision");
  }

  /** The alert of one match: the policy's output, and what the webhook did about it. */
  private alert(req: AdmissionRequest, m: PolicyMatch): void {
    const ms = this.now().getTime();
    const sec = Math.floor(ms / 1000);
    const time = isoTimeNs(sec, (ms - sec * 1000) * 1_000_000);
    const action = m.mode === "enforce" ? "denied" : "audited";
    const a: Alert = {
      id: uuidv7(),
      time,
      rule: m.policy,
      priority: m.priority,
      source: "k8s_audit",
      hostname: this.host,
      output: `${time}: ${m.priority} ${m.message} (admission ${action})`,
      output_fields: { ...m.fields, "admission.action": action, "admission.uid": req.uid },
      tags: [...m.tags],
    };
    try {
      this.o.onAlert?.(a);
    } catch (err) {
      this.log.warn({ err }, "admission alert not delivered");
    }
  }
}
