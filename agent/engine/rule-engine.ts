// SPDX-License-Identifier: Apache-2.0
/**
 * Holds the rule set in force. Loads rules files (the built-in ones when none are given),
 * reports every diagnostic with file:line:col, and reloads on demand (SIGHUP or a change of a
 * rules file): the new set is built beside the old and swapped in one assignment; if the new set
 * has an error the old one stays in force. A rules path may be a directory (Falco's way, see
 * rules/load/files.ts): it is listed again on every load, so a reload sees files added or removed,
 * and the directory itself is watched. The rule selection (Falco's `rules:` list, -D/-T/-t) is
 * applied on every load, so the probe's syscall set (onSwap) follows the rules it leaves running.
 */
import { readdirSync, readFileSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { loadRuleFiles, type CompiledRule, type Diagnostic, type FieldContext, type LoadOptions, type LoadResult, type RuleSet } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import type { ExpansionLimits } from "../../rules/load/budget.js";
import { resolveRulesPaths, type ResolvedRulesPaths } from "../../rules/load/files.js";
import type { RuleSelectionOptions } from "../../rules/load/selection.js";
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { packagePath } from "../paths.js";
import { EngineError } from "./errors.js";

export interface RuleEngineOptions {
  /** Rules files or directories in load order; empty = the built-in files. */
  files: readonly string[];
  /** Files or directories loaded after `files` (or after the built-in ones). */
  extraFiles?: readonly string[];
  /** Which rules run (Falco's `rules:` list and -D/-T/-t), applied on every load and reload. */
  selection?: RuleSelectionOptions;
  ruleMatching?: "first" | "all";
  minPriority?: string;
  /** The rules compile budget (defaults: rules/load/budget.ts). */
  expansion?: Partial<ExpansionLimits>;
  /** What fields take from the configuration (`evt.hostname`, IP names), on every load and reload. */
  fields?: FieldContext;
  logger: Logger;
  /** Called after each successful swap (e.g. to retune the probe's syscall filter). */
  onSwap?: (rs: RuleSet) => void;
  /**
   * Awaited before a reload swaps the new set in (old and new rule sets given): e.g. to widen
   * the kernel filters to what both sets need, so no event the new rules match is dropped
   * while the probe catches up.
   */
  beforeSwap?: (next: RuleSet, prev: RuleSet | undefined) => Promise<void>;
}

/** The rules compile budget of the configuration, in the loader's terms. */
export function ruleLimitsFromConfig(l: Config["rules"]["limits"]): ExpansionLimits {
  return {
    maxExpansionNodes: l.max_expansion_nodes,
    maxExpansionChars: l.max_expansion_chars,
    maxExpansionDepth: l.max_expansion_depth,
    maxTotalNodes: l.max_total_nodes,
    maxTotalChars: l.max_total_chars,
    maxFileChars: l.max_file_chars,
  };
}

/** The built-in rules files, in name order. */
export function builtinRuleFiles(): string[] {
  const dir = packagePath("rules", "files");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((f) => join(dir, f));
}

function formatDiag(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code}: ${d.message}`;
}

export class RuleEngine {
  private current: RuleSet | undefined;
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  /** The configured rules paths (files or directories), in load order. */
  readonly files: readonly string[];
  /** The files and directories the last load resolved the paths to. */
  private resolved: ResolvedRulesPaths = { files: [], dirs: [] };
  reloads = 0;
  reloadFailures = 0;

  constructor(private readonly opts: RuleEngineOptions) {
    this.files = [...(opts.files.length > 0 ? opts.files : builtinRuleFiles()), ...(opts.extraFiles ?? [])];
  }

  /** The rule set in force. */
  get ruleset(): RuleSet {
    if (this.current === undefined) throw new EngineError("NOT_LOADED", "rules not loaded");
    return this.current;
  }

  /** The files the last load (or reload attempt) read, in order (directories expanded). */
  get loadedFiles(): readonly string[] {
    return this.resolved.files;
  }

  private build(): LoadResult {
    let resolved: ResolvedRulesPaths;
    try {
      resolved = resolveRulesPaths(this.files);
    } catch (err) {
      throw new EngineError("READ_FAILED", (err as Error).message, { cause: err });
    }
    this.resolved = resolved;
    const inputs = resolved.files.map((path) => {
      try {
        return { path, text: readFileSync(path, "utf8") };
      } catch (err) {
        throw new EngineError("READ_FAILED", `cannot read rules file ${path}: ${(err as Error).message}`, { cause: err });
      }
    });
    const opts: LoadOptions = {};
    if (this.opts.expansion !== undefined) opts.expansion = this.opts.expansion;
    if (this.opts.fields !== undefined) opts.fields = this.opts.fields;
    if (this.opts.ruleMatching !== undefined) opts.ruleMatching = this.opts.ruleMatching;
    if (this.opts.minPriority !== undefined) opts.minPriority = this.opts.minPriority;
    if (this.opts.selection !== undefined) opts.selection = this.opts.selection;
    return loadRuleFiles(inputs, opts);
  }

  private report(res: LoadResult): void {
    const log = this.opts.logger;
    for (const d of res.diagnostics) {
      if (d.severity === "error") log.error({ diag: { line: formatDiag(d), code: d.code } }, "rule error");
      else log.debug({ diag: { line: formatDiag(d), code: d.code } }, "rule warning");
    }
    for (const f of res.files) log.info({ rulesFile: f }, "rules file loaded");
  }

  /** First load: bad rules are reported and skipped; the good ones run. Throws only when no file can be read. */
  load(): RuleSet {
    const res = this.build();
    this.report(res);
    this.current = res.ruleset;
    this.opts.onSwap?.(res.ruleset);
    return res.ruleset;
  }

  /** Reload: swap only when the new set loads without errors. Resolves with whether it swapped. */
  async reload(): Promise<boolean> {
    let res: LoadResult;
    try {
      res = this.build();
    } catch (err) {
      this.reloadFailures++;
      this.opts.logger.error({ err }, "rules reload failed; previous rules stay in force");
      return false;
    }
    if (!res.ok) {
      this.reloadFailures++;
      for (const d of res.diagnostics) {
        if (d.severity === "error") this.opts.logger.error({ diag: { line: formatDiag(d), code: d.code } }, "rule error");
      }
      this.opts.logger.error({ errors: res.diagnostics.filter((d) => d.severity === "error").length }, "rules reload rejected; previous rules stay in force");
      return false;
    }
    try {
      await this.opts.beforeSwap?.(res.ruleset, this.current);
    } catch (err) {
      this.opts.logger.warn({ err }, "pre-swap step failed; swapping anyway");
    }
    this.current = res.ruleset;
    this.reloads++;
    this.opts.logger.info({ rules: res.ruleset.rules.length }, "rules reloaded");
    this.opts.onSwap?.(res.ruleset);
    return true;
  }

  /**
   * Watches the rules files and directories; a change triggers a debounced reload. A directory's
   * watch sees files added, removed, renamed or written in it; each loaded file is watched too
   * (a symlinked file changes outside the directory).
   */
  watch(): void {
    const targets = new Set<string>([...this.resolved.dirs, ...this.resolved.files]);
    if (this.resolved.files.length === 0 && this.resolved.dirs.length === 0) for (const f of this.files) targets.add(f);
    for (const f of targets) {
      try {
        const w = watch(f, () => this.scheduleReload());
        w.on("error", () => this.scheduleReload());
        this.watchers.push(w);
      } catch (err) {
        this.opts.logger.warn({ err, file: f }, "cannot watch rules file");
      }
    }
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.reload();
      // editors replace files (rename): re-arm the watchers on the new inodes
      this.unwatch();
      this.watch();
    }, 200);
    this.reloadTimer.unref();
  }

  private unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** Runs the rules in force on one event. */
  evaluate(e: SyscallEvent, onMatch: (rule: CompiledRule, e: SyscallEvent) => void): void {
    this.current?.evaluate(e, onMatch);
  }

  stop(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.unwatch();
  }

  stats(): Record<string, number> {
    return { reloads: this.reloads, reload_failures: this.reloadFailures, rules: this.current?.rules.length ?? 0 };
  }
}
