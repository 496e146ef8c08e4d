// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil rules check [--syscalls] [--output json] PATH...`, `vigil rules list [--rules PATH]...
 * [-T TAG] [-t TAG] [-D SUBSTRING]` and `vigil rules fields [--output text|json|falco] [--source syscall|k8s_audit]`.
 * `check` and `list` take rules of both sources Vigil evaluates: `syscall` (the agent) and
 * `k8s_audit` (the collector's audit events, the admission webhook's policies).
 * A PATH is a rules file or a directory (its *.yaml/*.yml regular files in byte order, as Falco
 * loads `rules_files` directories: rules/load/files.ts).
 * `check` loads the files in order (later files amend earlier ones, as the agent does), prints
 * every diagnostic as `file:line:col: severity code: reason` and per file
 * `N rules, M macros, L lists, E errors, W warnings`; it exits 0 only when there is no error.
 * `list` prints the rules in force after selection as Falco's `-L` does; `fields --output falco`
 * prints the fields as Falco's `--list` does.
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { listFields, loadRuleFiles, type Diagnostic, type LoadResult } from "../../rules/index.js";
import type { FieldSource } from "../../rules/compile/fields.js";
import { k8sAuditSource } from "../../rules/k8saudit/index.js";
import { admissionFieldSource } from "../admission/index.js";
import type { ExpansionLimits } from "../../rules/load/budget.js";
import { describeRulesText, listFieldsText } from "../../rules/load/describe.js";
import { resolveRulesPaths } from "../../rules/load/files.js";
import { checkSelection, type RuleSelectionOptions } from "../../rules/load/selection.js";
import { loadConfig } from "../config/index.js";
import { builtinRuleFiles, ruleLimitsFromConfig } from "../engine/rule-engine.js";

interface CheckOptions {
  output: "text" | "json";
  syscalls?: boolean;
  ruleMatching?: "first" | "all";
  minPriority?: string;
  /** The rules compile budget (the agent's `rules.limits`); defaults when absent. */
  expansion?: Partial<ExpansionLimits>;
  config?: string;
}

function diagLine(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code}: ${d.message}${d.item === undefined ? "" : ` (${d.item})`}`;
}

function checkJson(res: LoadResult, syscalls: boolean): unknown {
  const et = res.ruleset.eventTypes();
  return {
    ok: res.ok,
    files: res.files,
    diagnostics: res.diagnostics,
    rules: res.ruleset.rules.map((r) => ({ name: r.name, priority: r.priorityName, file: r.file, line: r.line, tags: r.tags })),
    ...(syscalls ? { syscalls: { names: [...et.names].sort(), all: et.all } } : {}),
    requiredPlugins: res.requiredPlugins,
    compileMs: Math.round(res.compileMs * 100) / 100,
  };
}

/** Reads rules paths (files or directories) in load order; unreadable ones become read errors. */
function readRulesPaths(paths: readonly string[]): { inputs: { path: string; text: string }[]; readErrors: Diagnostic[] } {
  const inputs: { path: string; text: string }[] = [];
  const readErrors: Diagnostic[] = [];
  const files: string[] = [];
  for (const p of paths) {
    try {
      files.push(...resolveRulesPaths([p]).files);
    } catch (err) {
      readErrors.push({ severity: "error", code: "LOAD_ERR_FILE_READ", message: (err as Error).message, file: p, line: 0, col: 0 });
    }
  }
  for (const p of files) {
    try {
      inputs.push({ path: p, text: readFileSync(p, "utf8") });
    } catch (err) {
      readErrors.push({
        severity: "error",
        code: "LOAD_ERR_FILE_READ",
        message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        file: p,
        line: 0,
        col: 0,
      });
    }
  }
  return { inputs, readErrors };
}

/**
 * Sources besides syscall whose rules `rules check` and `rules list` compile: `k8s_audit` with the
 * admission fields added (the webhook's policies use them; an audit rule using one is reported by
 * the collector when it loads the file).
 */
const RULE_SOURCES: readonly FieldSource[] = [admissionFieldSource(k8sAuditSource)];

/** Runs `rules check`; returns the exit code. */
export function runRulesCheck(paths: readonly string[], o: CheckOptions, out: (s: string) => void): number {
  const { inputs, readErrors } = readRulesPaths(paths);
  const opts: { ruleMatching?: "first" | "all"; minPriority?: string; expansion?: Partial<ExpansionLimits> } = {};
  if (o.expansion !== undefined) opts.expansion = o.expansion;
  if (o.ruleMatching !== undefined) opts.ruleMatching = o.ruleMatching;
  if (o.minPriority !== undefined) opts.minPriority = o.minPriority;
  // every source Vigil evaluates: syscall rules (the agent) and k8s_audit rules (collector, webhook)
  const res = loadRuleFiles(inputs, { ...opts, sources: RULE_SOURCES });
  res.diagnostics.unshift(...readErrors);
  for (const d of readErrors) res.files.push({ file: d.file, rules: 0, macros: 0, lists: 0, errors: 1, warnings: 0 });
  const ok = res.ok && readErrors.length === 0;
  res.ok = ok;
  if (o.output === "json") {
    out(JSON.stringify(checkJson(res, o.syscalls === true), null, 2) + "\n");
  } else {
    for (const d of res.diagnostics) out(diagLine(d) + "\n");
    for (const f of res.files) out(`${f.file}: ${f.rules} rules, ${f.macros} macros, ${f.lists} lists, ${f.errors} errors, ${f.warnings} warnings\n`);
    if (o.syscalls === true) {
      const et = res.ruleset.eventTypes();
      out(et.all ? "syscalls: all (some rule has no evt.type constraint)\n" : `syscalls: ${[...et.names].sort().join(" ")}\n`);
    }
  }
  return ok ? 0 : 1;
}

/** Options of `rules list`. */
export interface ListOptions {
  /** Rules files or directories in load order; empty: the built-in rules. */
  rules?: string[];
  output: "text" | "json";
  minPriority?: string;
  /** Falco's `rules:` list (from a configuration). */
  selection?: RuleSelectionOptions["selection"];
  /** `-D`, `-T`, `-t`. */
  disableRule?: string[];
  disableTag?: string[];
  enableTag?: string[];
}

/**
 * Runs `rules list`: the rules in force after selection, as Falco's `-L` prints them (or as JSON);
 * diagnostics with errors go to `err`. Returns the exit code: 1 when the rules or the selection have
 * an error (the rules that loaded are listed anyway).
 */
export function runRulesList(o: ListOptions, out: (s: string) => void, err: (s: string) => void): number {
  const paths = o.rules !== undefined && o.rules.length > 0 ? o.rules : builtinRuleFiles();
  const { inputs, readErrors } = readRulesPaths(paths);
  const selection: RuleSelectionOptions = {};
  if (o.selection !== undefined) selection.selection = o.selection;
  if (o.disableRule !== undefined) selection.disableRules = o.disableRule;
  if (o.disableTag !== undefined) selection.disableTags = o.disableTag;
  if (o.enableTag !== undefined) selection.enableTags = o.enableTag;
  const bad = checkSelection(selection);
  for (const m of bad) err(`error: ${m}\n`);
  if (bad.length > 0) return 1;
  const res = loadRuleFiles(inputs, { selection, sources: RULE_SOURCES, ...(o.minPriority === undefined ? {} : { minPriority: o.minPriority }) });
  const errors = [...readErrors, ...res.diagnostics.filter((d) => d.severity === "error")];
  for (const d of errors) err(diagLine(d) + "\n");
  const rules = [...res.rulesets.values()].flatMap((set) => set.rules);
  if (o.output === "json")
    out(
      JSON.stringify(
        rules.map((r) => ({ name: r.name, desc: r.desc, priority: r.priorityName, source: r.source, tags: r.tags, file: r.file, line: r.line })),
        null,
        2,
      ) + "\n",
    );
  else out(describeRulesText(rules));
  return errors.length === 0 ? 0 : 1;
}

/** Runs `rules fields`: `falco` prints Falco's `--list` layout. */
export function runRulesFields(o: { output: "text" | "json" | "falco"; verbose?: boolean; source?: string }, out: (s: string) => void): void {
  const src = RULE_SOURCES.find((x) => x.name === o.source);
  const fields = src === undefined ? listFields() : src.list();
  if (o.output === "json") {
    out(JSON.stringify(fields, null, 2) + "\n");
    return;
  }
  if (o.output === "falco") {
    out(listFieldsText(fields, { verbose: o.verbose === true }));
    return;
  }
  const w = Math.max(...fields.map((f) => f.name.length + (f.arg === "none" ? 0 : f.arg === "required" ? 7 : 8)));
  for (const f of fields) {
    const name = f.arg === "none" ? f.name : f.arg === "required" ? `${f.name}[<arg>]` : `${f.name}[<arg>]?`;
    out(`${name.padEnd(w + 1)} ${f.type.padEnd(8)} ${f.desc}\n`);
  }
}

/** Writes all output at once; a closed pipe (`| head`) ends the command quietly. */
function writeOut(text: string): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.stdout.write(text);
}

/** Adds `vigil rules` to the program. */
export function registerRules(program: Command): void {
  const rules = program.command("rules").description("check rules files and list the fields rules can use");
  rules
    .command("check")
    .description("load rules files (in order) and report every error and warning with file:line:col")
    .argument("<files...>", "rules files or directories, loaded in order")
    .addOption(new Option("--output <format>", "output format").choices(["text", "json"]).default("text"))
    .option("--syscalls", "print the syscalls the rules need (the probe's kernel filter)")
    .addOption(new Option("--rule-matching <mode>", "first or all").choices(["first", "all"]))
    .option("--min-priority <name>", "drop rules below this priority")
    .option("--config <file>", "check with the compile budget (rules.limits) of this agent configuration file")
    .action((files: string[], o: CheckOptions) => {
      let out = "";
      if (o.config !== undefined) o.expansion = ruleLimitsFromConfig(loadConfig({ file: o.config, env: process.env }).rules.limits);
      process.exitCode = runRulesCheck(files, o, (s) => (out += s));
      writeOut(out);
    });
  const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];
  rules
    .command("list")
    .description("list the rules in force after selection, with their descriptions (Falco's -L)")
    .option("--rules <path>", "rules file or directory, loaded in order (repeatable; default: the built-in rules)", collect)
    .option("-D, --disable-rule <substring>", "disable rules whose name contains this (repeatable)", collect)
    .option("-T, --disable-tag <tag>", "disable rules with this tag (repeatable)", collect)
    .option("-t, --enable-tag <tag>", "run only rules with one of these tags (repeatable)", collect)
    .option("--min-priority <name>", "drop rules below this priority")
    .addOption(new Option("--output <format>", "output format").choices(["text", "json"]).default("text"))
    .action((o: ListOptions) => {
      let out = "";
      let err = "";
      process.exitCode = runRulesList(
        o,
        (s) => (out += s),
        (s) => (err += s),
      );
      if (err !== "") process.stderr.write(err);
      writeOut(out);
    });
  rules
    .command("fields")
    .description("list every field the rule engine knows, with type and description (--output falco: Falco's --list)")
    .addOption(new Option("--output <format>", "output format").choices(["text", "json", "falco"]).default("text"))
    .option("-v, --verbose", "with --output falco, show each field's type")
    .addOption(
      new Option("--source <name>", "the event source whose fields to list (Falco's --list=SOURCE)")
        .choices(["syscall", ...RULE_SOURCES.map((x) => x.name)])
        .default("syscall"),
    )
    .action((o: { output: "text" | "json" | "falco"; verbose?: boolean; source: string }) => {
      let out = "";
      runRulesFields(o, (s) => (out += s));
      writeOut(out);
    });
}
