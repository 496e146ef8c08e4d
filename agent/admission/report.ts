// SPDX-License-Identifier: Apache-2.0
/**
 * The dry-run report (`vigil webhook report FILE...`): what the policies would do to objects
 * that exist or are about to. It reads JSON or YAML files holding AdmissionReviews (recorded or
 * hand-made), manifests of pods and workloads (Pod, Deployment, ReplicaSet, StatefulSet,
 * DaemonSet, Job, CronJob, ReplicationController, PodTemplate) or lists of them (`kubectl get
 * pods -A -o json`), and decides each exactly as the running webhook would (the same
 * validator: exclusions, modes, pod templates), without alerting.
 *
 * A manifest is reviewed as its CREATE: operation CREATE, its own namespace (else the report's
 * `namespace`), no user. Objects of other kinds are listed as skipped.
 */
import { readFileSync, statSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { AdmissionError } from "./errors.js";
import { KIND_RESOURCES } from "./pod-view.js";
import type { PolicyMatch } from "./policies.js";
import { parseReview, type AdmissionRequest } from "./review.js";
import type { AdmissionValidator, DecisionKind } from "./validator.js";

/** Largest input file read. */
export const MAX_REPORT_FILE_BYTES = 64 * 1024 * 1024;
/** Most objects one report evaluates. */
export const MAX_REPORT_OBJECTS = 100_000;

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What the report says of one object. */
export interface ReportRow {
  /** `FILE` or `FILE#N` (the Nth document or list item, from 1). */
  source: string;
  kind: string;
  namespace: string | null;
  name: string | null;
  /** denied / allowed (possibly with audit matches) / excluded / unchanged / skipped (not a kind policies read). */
  result: DecisionKind | "skipped";
  dryRun: boolean;
  matches: { policy: string; mode: PolicyMatch["mode"]; priority: string; message: string }[];
  /** Why it was skipped. */
  reason?: string;
}

/** The whole report. */
export interface Report {
  rows: ReportRow[];
  summary: { objects: number; denied: number; audited: number; allowed: number; excluded: number; unchanged: number; skipped: number };
  /** Per policy: how many objects it would deny and audit. */
  policies: { policy: string; mode: PolicyMatch["mode"]; denied: number; audited: number }[];
}

/** Options of {@link buildReport}. */
export interface ReportOptions {
  /** Namespace of manifests that name none (default `default`). */
  namespace?: string;
}

/** The documents of one file: JSON (one value) or YAML (any number of documents). */
export function readDocuments(path: string): unknown[] {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new AdmissionError("INVALID_INPUT", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (size > MAX_REPORT_FILE_BYTES) throw new AdmissionError("INVALID_INPUT", `${path} is larger than ${MAX_REPORT_FILE_BYTES} bytes`);
  const text = readFileSync(path, "utf8");
  const t = text.trimStart();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return [JSON.parse(text)];
    } catch {
      // not JSON after all: YAML flow style reads it or says what is wrong
    }
  }
  const docs: unknown[] = [];
  for (const d of parseAllDocuments(text)) {
    const e = d.errors[0];
    if (e !== undefined) throw new AdmissionError("INVALID_INPUT", `${path}: ${e.message.split("\n")[0]}`);
    const v = d.toJS({ maxAliasCount: 100 }) as unknown;
    if (v !== null && v !== undefined) docs.push(v);
  }
  return docs;
}

let synthetic = 0;

/** The CREATE review of a manifest, or why it is not reviewed. */
function manifestRequest(o: Obj, namespace: string): AdmissionRequest | string {
  const apiVersion = typeof o["apiVersion"] === "string" ? o["apiVersion"] : "";
  const kind = typeof o["kind"] === "string" ? o["kind"] : "";
  const res = KIND_RESOURCES[`${apiVersion}/${kind}`];
  if (res === undefined) return `${apiVersion || "?"}/${kind || "?"} carries no pod`;
  const meta = isObj(o["metadata"]) ? o["metadata"] : {};
  const ns = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? meta["namespace"] : namespace;
  const name = typeof meta["name"] === "string" ? meta["name"] : undefined;
  synthetic++;
  const req: AdmissionRequest = {
    uid: `00000000-0000-4000-8000-${synthetic.toString(16).padStart(12, "0")}`,
    kind: { group: res.group, version: res.version, kind },
    resource: { group: res.group, version: res.version, resource: res.resource },
    namespace: ns,
    operation: "CREATE",
    userInfo: {},
    object: o,
  };
  if (name !== undefined) req.name = name;
  return req;
}

/** Every object of the documents: lists flattened, each with its place. */
function* objects(file: string, docs: unknown[]): Generator<{ source: string; value: unknown }> {
  let n = 0;
  for (const d of docs) {
    if (isObj(d) && Array.isArray(d["items"]) && typeof d["kind"] === "string" && d["kind"].endsWith("List")) {
      for (const item of d["items"]) yield { source: `${file}#${++n}`, value: item };
    } else if (Array.isArray(d)) {
      for (const item of d) yield { source: `${file}#${++n}`, value: item };
    } else yield { source: docs.length === 1 ? file : `${file}#${++n}`, value: d };
  }
}

/** Decides every object of `files` with `validator`. Throws AdmissionError `INVALID_INPUT` for an unreadable file. */
export function buildReport(files: readonly string[], validator: AdmissionValidator, opts: ReportOptions = {}): Report {
  const rows: ReportRow[] = [];
  const ns = opts.namespace ?? "default";
  for (const file of files) {
    for (const { source, value } of objects(file, readDocuments(file))) {
      if (rows.length >= MAX_REPORT_OBJECTS) throw new AdmissionError("INVALID_INPUT", `more than ${MAX_REPORT_OBJECTS} objects`);
      const o = isObj(value) ? value : {};
      let req: AdmissionRequest | string;
      if (o["kind"] === "AdmissionReview") {
        const r = parseReview(o);
        req = r.ok ? r.request : `not a valid AdmissionReview: ${r.error}`;
      } else req = manifestRequest(o, ns);
      if (typeof req === "string") {
        const meta = isObj(o["metadata"]) ? o["metadata"] : {};
        rows.push({
          source,
          kind: typeof o["kind"] === "string" ? o["kind"] : "?",
          namespace: typeof meta["namespace"] === "string" ? meta["namespace"] : null,
          name: typeof meta["name"] === "string" ? meta["name"] : null,
          result: "skipped",
          dryRun: false,
          matches: [],
          reason: req,
        });
        continue;
      }
      const d = validator.decide(req);
      const objName = isObj(req.object?.["metadata"]) ? req.object["metadata"]["name"] : undefined;
      rows.push({
        source,
        kind: req.kind.kind,
        namespace: req.namespace ?? null,
        name: req.name ?? (typeof objName === "string" ? objName : null),
        result: d.kind,
        dryRun: d.dryRun,
        matches: d.matches.map((m) => ({ policy: m.policy, mode: m.mode, priority: m.priority, message: m.message })),
      });
    }
  }
  const summary = { objects: rows.length, denied: 0, audited: 0, allowed: 0, excluded: 0, unchanged: 0, skipped: 0 };
  const per = new Map<string, Report["policies"][number]>();
  for (const r of rows) {
    if (r.result === "denied") summary.denied++;
    else if (r.result === "allowed" && r.matches.length > 0) summary.audited++;
    else if (r.result === "allowed") summary.allowed++;
    else if (r.result === "excluded") summary.excluded++;
    else if (r.result === "unchanged") summary.unchanged++;
    else if (r.result === "skipped") summary.skipped++;
    for (const m of r.matches) {
      let p = per.get(m.policy);
      if (p === undefined) per.set(m.policy, (p = { policy: m.policy, mode: m.mode, denied: 0, audited: 0 }));
      if (m.mode === "enforce") p.denied++;
      else p.audited++;
    }
  }
  return { rows, summary, policies: [...per.values()].sort((a, b) => b.denied + b.audited - (a.denied + a.audited) || (a.policy < b.policy ? -1 : 1)) };
}

function where(r: ReportRow): string {
  const n = r.name ?? "(unnamed)";
  return r.namespace === null ? `${r.kind} ${n}` : `${r.kind} ${r.namespace}/${n}`;
}

/** The report as text: one block per object that a policy matched, a line per other object, then the totals. */
export function formatReport(rep: Report, opts: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  for (const r of rep.rows) {
    const dry = r.dryRun ? " (dry run)" : "";
    if (r.result === "denied" || r.matches.length > 0) {
      out.push(`${r.result === "denied" ? "DENY " : "AUDIT"}  ${where(r)}${dry}  [${r.source}]`);
      for (const m of r.matches) out.push(`    ${m.mode === "enforce" ? "deny " : "audit"}  ${m.policy} (${m.priority}): ${m.message}`);
    } else if (opts.verbose === true || r.result === "skipped") {
      const what = r.result === "skipped" ? `skip   ${where(r)}: ${r.reason ?? ""}` : `${r.result.padEnd(5)}  ${where(r)}${dry}`;
      out.push(`${what}  [${r.source}]`);
    }
  }
  const s = rep.summary;
  if (out.length > 0) out.push("");
  out.push(
    `${s.objects} object${s.objects === 1 ? "" : "s"}: ${s.denied} would be denied, ${s.audited} allowed with warnings, ${s.allowed} allowed` +
      `${s.excluded > 0 ? `, ${s.excluded} in excluded namespaces` : ""}${s.unchanged > 0 ? `, ${s.unchanged} unchanged updates` : ""}${s.skipped > 0 ? `, ${s.skipped} skipped` : ""}`,
  );
  if (rep.policies.length > 0) {
    const w = Math.max(...rep.policies.map((p) => p.policy.length));
    out.push("", `${"POLICY".padEnd(w)}  MODE     DENIED  AUDITED`);
    for (const p of rep.policies) out.push(`${p.policy.padEnd(w)}  ${p.mode.padEnd(7)}  ${String(p.denied).padStart(6)}  ${String(p.audited).padStart(7)}`);
  }
  return `${out.join("\n")}\n`;
}
