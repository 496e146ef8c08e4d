// SPDX-License-Identifier: Apache-2.0
/**
 * Admission policies: rules with `source: k8s_audit` in the rule language, loaded from the
 * built-in pack (rules/files/admission/) and the operator's files, evaluated over the audit
 * Event of a request (audit-event.ts) with every rule run (`rule_matching: all`).
 *
 * Each policy has a mode:
 * - `enforce`: a request it matches is denied, with the policy's output as the message;
 * - `audit`: the request is allowed; the match is a warning to the client, an audit annotation,
 *   a log line and an alert;
 * - `off`: not evaluated.
 *
 * The mode of a policy is, first to last: a `--policy-mode NAME=MODE` naming it; the last
 * `--policy-mode tag:TAG=MODE` whose tag it has; its own tag `admission.enforce`,
 * `admission.audit` or `admission.off` (the rule language has no key for it, and tags survive
 * append/override); the webhook's `--admission` mode. The built-in pack tags the policies beyond
 * the Pod Security Standards' baseline profile `admission.audit`, so `--admission enforce`
 * enforces the baseline and reports the rest until an operator promotes them.
 */
import { existsSync, readFileSync } from "node:fs";
import type { CompiledRule, Diagnostic, RuleSet } from "../../rules/index.js";
import { loadRuleFiles } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { resolveRulesPaths } from "../../rules/load/files.js";
import { k8sAuditSource, type AuditEvent } from "../../rules/k8saudit/index.js";
import type { AlertFieldValue, PriorityName } from "../../proto/index.js";
import { packagePath } from "../paths.js";
import { AdmissionError } from "./errors.js";
import { admissionFieldSource } from "./fields.js";

/** What a policy does with a request it matches. */
export const POLICY_MODES = ["enforce", "audit", "off"] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];
/** The modes `--admission` takes (the default of every policy). */
export type DefaultMode = Exclude<PolicyMode, "off">;

/** Tags a policy sets its own mode with: `admission.enforce`, `admission.audit`, `admission.off`. */
export const MODE_TAG_PREFIX = "admission.";

/** One `--policy-mode` setting. */
export interface ModeOverride {
  /** A policy (rule) name, or `tag:TAG`. */
  selector: string;
  mode: PolicyMode;
}

/** Parses `NAME=MODE` or `tag:TAG=MODE` (the last `=` splits: rule names may hold one). */
export function parseModeOverride(s: string): ModeOverride {
  const eq = s.lastIndexOf("=");
  const selector = eq > 0 ? s.slice(0, eq).trim() : "";
  const mode = eq > 0 ? s.slice(eq + 1).trim() : "";
  if (selector === "" || selector === "tag:") throw new AdmissionError("INVALID_OPTION", `--policy-mode expects NAME=MODE or tag:TAG=MODE, got '${s}'`);
  if (!(POLICY_MODES as readonly string[]).includes(mode))
    throw new AdmissionError("INVALID_OPTION", `--policy-mode ${selector}: mode must be one of ${POLICY_MODES.join(", ")}, got '${mode}'`);
  return { selector, mode: mode as PolicyMode };
}

/** A loaded policy and the mode it runs in. */
export interface Policy {
  readonly rule: CompiledRule;
  readonly mode: PolicyMode;
  /** What set the mode: `option` (--policy-mode), `tag` (its admission.* tag) or `default` (--admission). */
  readonly modeFrom: "option" | "tag" | "default";
}

/** One policy that matched a request. */
export interface PolicyMatch {
  policy: string;
  mode: DefaultMode;
  priority: PriorityName;
  tags: readonly string[];
  /** The policy's output for the request. */
  message: string;
  fields: Record<string, AlertFieldValue>;
}

/** Options of {@link loadPolicies}. */
export interface PolicyLoadOptions {
  /** Policy files or folders (their *.yaml, *.yml), loaded after the built-in pack. */
  paths?: readonly string[];
  /** Load the built-in pack first (default true). */
  builtin?: boolean;
  /** Mode of a policy nothing else sets (`--admission`). */
  defaultMode: DefaultMode;
  overrides?: readonly ModeOverride[];
}

/** The built-in policy pack's folder. */
export function builtinPoliciesDir(): string {
  return packagePath("rules", "files", "admission");
}

/** The field source policies are compiled against: `k8s_audit` plus the admission fields. */
export const ADMISSION_SOURCE = admissionFieldSource(k8sAuditSource);

function modeTag(rule: CompiledRule): PolicyMode | undefined {
  let mode: PolicyMode | undefined;
  for (const t of rule.tags) {
    if (!t.startsWith(MODE_TAG_PREFIX)) continue;
    const m = t.slice(MODE_TAG_PREFIX.length);
    if (!(POLICY_MODES as readonly string[]).includes(m)) continue;
    if (mode !== undefined && mode !== m)
      throw new AdmissionError("POLICY_LOAD", `policy '${rule.name}' has conflicting mode tags ${MODE_TAG_PREFIX}${mode} and ${t}`);
    mode = m as PolicyMode;
  }
  return mode;
}

/** The loaded policies, ready to evaluate requests. */
export class PolicySet {
  /** Every loaded policy (`off` ones too), in load order. */
  readonly policies: readonly Policy[];
  private readonly modes: Map<CompiledRule, PolicyMode>;

  constructor(
    private readonly ruleset: RuleSet,
    modes: ReadonlyMap<CompiledRule, Policy>,
    /** The files loaded, in order. */
    readonly files: readonly string[],
    /** The load's warnings (a rule of another source skipped, ...). */
    readonly warnings: readonly Diagnostic[],
  ) {
    this.policies = ruleset.rules.map((r) => modes.get(r) as Policy);
    this.modes = new Map(this.policies.map((p) => [p.rule, p.mode]));
  }

  /** Counts of policies per mode. */
  counts(): Record<PolicyMode, number> {
    const c: Record<PolicyMode, number> = { enforce: 0, audit: 0, off: 0 };
    for (const p of this.policies) c[p.mode]++;
    return c;
  }

  /** The policies (not `off`) the event matches, in load order. Never throws for a rule's error (counted on the rule). */
  evaluate(ev: AuditEvent): PolicyMatch[] {
    const out: PolicyMatch[] = [];
    // the engine takes a source's events where a SyscallEvent goes; only k8s_audit getters read them
    this.ruleset.evaluate(ev as unknown as SyscallEvent, (rule, e) => {
      const mode = this.modes.get(rule);
      if (mode === undefined || mode === "off") return;
      const f = rule.format(e);
      out.push({ policy: rule.name, mode, priority: rule.priorityName, tags: rule.tags, message: f.message, fields: f.fields });
    });
    return out;
  }
}

/**
 * Loads the policies. Throws AdmissionError `POLICY_LOAD` on the first error of any file (a
 * policy that does not load would be a hole in admission control, so the webhook does not start
 * without it) and `INVALID_OPTION` for a `--policy-mode` that names no policy.
 */
export function loadPolicies(opts: PolicyLoadOptions): PolicySet {
  const paths: string[] = [];
  if (opts.builtin !== false) {
    const dir = builtinPoliciesDir();
    if (!existsSync(dir)) throw new AdmissionError("POLICY_LOAD", `the built-in policy pack is missing (${dir})`);
    paths.push(dir);
  }
  paths.push(...(opts.paths ?? []));
  let files: string[];
  try {
    files = resolveRulesPaths(paths).files;
  } catch (err) {
    throw new AdmissionError("POLICY_LOAD", (err as Error).message, { cause: err });
  }
  if (files.length === 0) throw new AdmissionError("POLICY_LOAD", "no policy files (the built-in pack is off and no --policies given)");
  const inputs = files.map((path) => {
    try {
      return { path, text: readFileSync(path, "utf8") };
    } catch (err) {
      throw new AdmissionError("POLICY_LOAD", `cannot read policy file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        cause: err,
      });
    }
  });
  const res = loadRuleFiles(inputs, { sources: [ADMISSION_SOURCE], ruleMatching: "all" });
  const errors = res.diagnostics.filter((d) => d.severity === "error");
  const first = errors[0];
  if (first !== undefined) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
    throw new AdmissionError("POLICY_LOAD", `${first.file}:${first.line}:${first.col}: ${first.item ? `${first.item}: ` : ""}${first.message}${more}`);
  }
  const ruleset = res.rulesets.get(ADMISSION_SOURCE.name);
  if (ruleset === undefined || ruleset.rules.length === 0)
    throw new AdmissionError("POLICY_LOAD", "the policy files hold no enabled rule with source: k8s_audit");

  const overrides = opts.overrides ?? [];
  const used = new Set<number>();
  const modes = new Map<CompiledRule, Policy>();
  for (const rule of ruleset.rules) {
    let policy: Policy | undefined;
    // a name beats a tag; among each kind the last setting wins
    for (const pass of ["name", "tag"] as const) {
      for (let k = overrides.length - 1; k >= 0 && policy === undefined; k--) {
        const o = overrides[k] as ModeOverride;
        const isTag = o.selector.startsWith("tag:");
        if (pass === "name" ? isTag || o.selector !== rule.name : !isTag || !rule.tags.includes(o.selector.slice(4))) continue;
        used.add(k);
        policy = { rule, mode: o.mode, modeFrom: "option" };
      }
    }
    if (policy === undefined) {
      const tag = modeTag(rule);
      policy = tag !== undefined ? { rule, mode: tag, modeFrom: "tag" } : { rule, mode: opts.defaultMode, modeFrom: "default" };
    }
    modes.set(rule, policy);
  }
  for (let k = 0; k < overrides.length; k++) {
    const o = overrides[k] as ModeOverride;
    // a tag setting shadowed by name settings on every policy that has the tag still names something
    const names = o.selector.startsWith("tag:")
      ? ruleset.rules.some((r) => r.tags.includes(o.selector.slice(4)))
      : ruleset.rules.some((r) => r.name === o.selector);
    if (!used.has(k) && !names)
      throw new AdmissionError(
        "INVALID_OPTION",
        o.selector.startsWith("tag:") ? `--policy-mode: no policy has the tag '${o.selector.slice(4)}'` : `--policy-mode: no policy named '${o.selector}'`,
      );
  }
  return new PolicySet(
    ruleset,
    modes,
    files,
    res.diagnostics.filter((d) => d.severity === "warning"),
  );
}
