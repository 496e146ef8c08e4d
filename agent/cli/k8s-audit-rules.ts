// SPDX-License-Identifier: Apache-2.0
/**
 * The `k8s_audit` rules of `vigil collector --rules FILE...` (default: the built-in pack,
 * rules/files/k8s-audit/), loaded with the `k8s_audit` field source and handed to the collector
 * as an {@link AuditRules}: the collector does not import the rule engine, the command line wires
 * the two. Rules of another source in those files are skipped (counted in the load summary).
 */
import { existsSync, readFileSync } from "node:fs";
import type { AuditRuleMatch, AuditRules } from "../../collector/k8s-audit/types.js";
import { loadRuleFiles, type Diagnostic, type FileSummary } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { resolveRulesPaths } from "../../rules/load/files.js";
import { AuditEvent, k8sAuditSource } from "../../rules/k8saudit/index.js";
import { packagePath } from "../paths.js";

/** The built-in `k8s_audit` pack's folder. */
export function builtinAuditRulesDir(): string {
  return packagePath("rules", "files", "k8s-audit");
}

/** What a load of `k8s_audit` rules came to. */
export interface AuditRulesLoad {
  rules: AuditRules;
  /** The files read, in load order. */
  files: string[];
  summaries: FileSummary[];
  diagnostics: Diagnostic[];
  /** No error among the diagnostics. */
  ok: boolean;
  /** Rules of other sources in the files (not run by the collector). */
  otherRules: number;
}

/** Options of {@link loadAuditRules}. */
export interface AuditRulesOptions {
  /** Falco's `rule_matching`: `first` (default) stops at the first matching rule, `all` runs every one. */
  ruleMatching?: "first" | "all" | undefined;
}

/**
 * Loads `k8s_audit` rules from files and directories (a directory: its *.yaml/*.yml files in byte
 * order). No path: the built-in pack, or no rule when it is absent. Throws an Error with one clear
 * line when a named path cannot be read; rule errors are diagnostics (the bad rule is skipped).
 */
export function loadAuditRules(paths: readonly string[], opts: AuditRulesOptions = {}): AuditRulesLoad {
  let use = paths;
  if (use.length === 0) {
    const dir = builtinAuditRulesDir();
    use = existsSync(dir) ? [dir] : [];
  }
  const files = resolveRulesPaths(use).files;
  const inputs = files.map((path) => {
    try {
      return { path, text: readFileSync(path, "utf8") };
    } catch (err) {
      throw new Error(`cannot read rules file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  });
  const res = loadRuleFiles(inputs, { sources: [k8sAuditSource], ruleMatching: opts.ruleMatching ?? "first" });
  const set = res.rulesets.get(k8sAuditSource.name);
  let otherRules = 0;
  for (const [name, rs] of res.rulesets) if (name !== k8sAuditSource.name) otherRules += rs.rules.length;
  const ruleCount = set?.rules.length ?? 0;
  const rules: AuditRules = {
    ruleCount,
    evaluate(event: Record<string, unknown>): AuditRuleMatch[] {
      const out: AuditRuleMatch[] = [];
      if (set === undefined) return out;
      const ev = AuditEvent.from(event);
      // the engine takes a source's events where a SyscallEvent goes; only k8s_audit getters read them
      set.evaluate(ev as unknown as SyscallEvent, (rule, e) => {
        const f = rule.format(e);
        out.push({ rule: rule.name, priority: rule.priorityName, source: rule.source, tags: rule.tags, message: f.message, fields: f.fields });
      });
      return out;
    },
  };
  return { rules, files, summaries: res.files, diagnostics: res.diagnostics, ok: res.ok, otherRules };
}
