// SPDX-License-Identifier: Apache-2.0
/**
 * The rule set in force: compiled rules grouped by event code (falco `indexable_ruleset`). Rules
 * that match every type are merged into every code's list in definition order, so one array is
 * walked per event and `first` matching stops at the first matching rule in definition order.
 */
import { EVENT_CODE_LIMIT, EVENTS } from "./event-table.js";
import type { SyscallEvent } from "./event.js";
import type { Pred } from "./compile/compiler.js";
import type { Expr } from "./lang/ast.js";
import type { CodeSet } from "./compile/evttype.js";
import type { Formatter } from "./compile/formatter.js";
import type { PriorityName } from "../proto/index.js";

/** One compiled, enabled rule. */
export interface CompiledRule {
  readonly name: string;
  readonly desc: string;
  /** 0 emergency .. 7 debug. */
  readonly priority: number;
  readonly priorityName: PriorityName;
  readonly tags: readonly string[];
  readonly source: string;
  readonly capture: boolean;
  readonly captureDuration: number;
  readonly file: string;
  readonly line: number;
  /** Event codes the rule is indexed under (`null`: every type). */
  readonly codes: CodeSet;
  /** The condition after macro expansion and exceptions (what the rule evaluates). */
  readonly cond: Expr;
  /** The message (without time/priority prefix) and typed output_fields (null when missing; includes evt.time). */
  format(e: SyscallEvent): { message: string; fields: Record<string, string | number | boolean | null> };
  /** Every field expression the output reads (its `%field` references, transformers included). */
  readonly outputFields: readonly string[];
  matches: number;
  evalErrors: number;
}

/** A loaded rule set. */
export interface RuleSet {
  /** Enabled, compiled rules in definition order. */
  readonly rules: readonly CompiledRule[];
  /** Runs the rules indexed for e.type; calls onMatch per match (first-match stops unless "all"). Never throws. */
  evaluate(e: SyscallEvent, onMatch: (rule: CompiledRule, e: SyscallEvent) => void): void;
  /** Falco event names the rules can match; `all` when some rule has no evt.type constraint. */
  eventTypes(): { names: Set<string>; all: boolean };
}

/** Fields of a rule the engine needs besides the public ones. */
export interface RuleParts {
  name: string;
  desc: string;
  priority: number;
  priorityName: PriorityName;
  tags: readonly string[];
  source: string;
  capture: boolean;
  captureDuration: number;
  file: string;
  line: number;
  pred: Pred;
  codes: CodeSet;
  /** The condition after macro expansion and exceptions (what `pred` was compiled from). */
  cond: Expr;
  formatter: Formatter;
}

/** A compiled rule: the condition closure, its event codes and its output formatter. */
export class Rule implements CompiledRule {
  readonly name: string;
  readonly desc: string;
  readonly priority: number;
  readonly priorityName: PriorityName;
  readonly tags: readonly string[];
  readonly source: string;
  readonly capture: boolean;
  readonly captureDuration: number;
  readonly file: string;
  readonly line: number;
  readonly pred: Pred;
  readonly codes: CodeSet;
  readonly cond: Expr;
  private readonly formatter: Formatter;
  matches = 0;
  evalErrors = 0;

  constructor(p: RuleParts) {
    this.name = p.name;
    this.desc = p.desc;
    this.priority = p.priority;
    this.priorityName = p.priorityName;
    this.tags = p.tags;
    this.source = p.source;
    this.capture = p.capture;
    this.captureDuration = p.captureDuration;
    this.file = p.file;
    this.line = p.line;
    this.pred = p.pred;
    this.codes = p.codes;
    this.cond = p.cond;
    this.formatter = p.formatter;
  }

  get outputFields(): readonly string[] {
    return this.formatter.readNames;
  }

  format(e: SyscallEvent): { message: string; fields: Record<string, string | number | boolean | null> } {
    const out = this.formatter.format(e);
    // Falco adds the time of its "%evt.time" prefix to output_fields: ns since the epoch
    out.fields["evt.time"] = e.sec * 1e9 + e.nsec;
    return out;
  }

  /** Runs the condition; an exception counts as an evaluation error and a non-match. */
  test(e: SyscallEvent): boolean {
    try {
      return this.pred(e);
    } catch {
      this.evalErrors++;
      return false;
    }
  }
}

const EMPTY: readonly Rule[] = [];

/** Builds the indexed rule set. */
export class IndexedRuleSet implements RuleSet {
  readonly rules: readonly Rule[];
  private readonly byCode: (readonly Rule[])[];
  private readonly anyType: readonly Rule[];
  private readonly first: boolean;
  /** Exceptions thrown by the onMatch callback (counted, never propagated). */
  callbackErrors = 0;

  constructor(rules: readonly Rule[], matching: "first" | "all") {
    this.rules = rules;
    this.first = matching === "first";
    this.anyType = rules.filter((r) => r.codes === null);
    this.byCode = [];
    for (let c = 0; c < EVENT_CODE_LIMIT; c++) {
      const list = rules.filter((r) => r.codes === null || r.codes[c] === 1);
      this.byCode.push(list.length === 0 ? EMPTY : list);
    }
  }

  evaluate(e: SyscallEvent, onMatch: (rule: CompiledRule, e: SyscallEvent) => void): void {
    const t = e.type;
    const list = t >= 0 && t < this.byCode.length ? (this.byCode[t] as readonly Rule[]) : this.anyType;
    for (let k = 0; k < list.length; k++) {
      const r = list[k] as Rule;
      if (!r.test(e)) continue;
      r.matches++;
      try {
        onMatch(r, e);
      } catch {
        this.callbackErrors++;
      }
      if (this.first) return;
    }
  }

  eventTypes(): { names: Set<string>; all: boolean } {
    const names = new Set<string>();
    let all = false;
    for (const r of this.rules) {
      if (r.codes === null) {
        all = true;
        continue;
      }
      for (let c = 0; c < r.codes.length; c++) if (r.codes[c] === 1) names.add((EVENTS[c] as (typeof EVENTS)[number]).name);
    }
    return { names, all };
  }
}
