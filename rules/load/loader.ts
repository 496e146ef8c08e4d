// SPDX-License-Identifier: Apache-2.0
/**
 * Loads rules files into a {@link RuleSet}: read (YAML) → collect (append/override) → expand
 * lists textually (as Falco does) → rewrite exceptions into the condition → parse → expand macros
 * on the tree → compile to closures → index by event type. A bad item is reported with
 * file:line:col and a code and skipped; loading never throws.
 */
import { EVENTS } from "../event-table.js";
import { compileExprFast, compileLeaves, leafCache, type LeafCache } from "../compile/compiler.js";
import { DEFAULT_FIELD_CONTEXT, type FieldContext, type FieldSource } from "../compile/fields.js";
import { codeCount, conditionCodes, simplifyForCodes } from "../compile/evttype.js";
import { compileFormat, type FormatWarnings } from "../compile/formatter.js";
import { IndexedRuleSet, Rule, type RuleSet } from "../engine.js";
import { CompileError, ParseError, RuleError, type TextPos } from "../errors.js";
import type { Expr } from "../lang/ast.js";
import { walk } from "../lang/ast.js";
import { isBlank } from "../lang/lexer.js";
import { DEFAULT_LIMITS, parseCondition, type ParseLimits } from "../lang/parser.js";
import { Budget, expansionLimits, type ExpansionLimits } from "./budget.js";
import { Collector, type PluginRequirement } from "./collector.js";
import { readRulesFile } from "./reader.js";
import { applySelection, type RuleSelectionOptions } from "./selection.js";
import {
  DiagCode,
  parsePriority,
  type CondText,
  type Diagnostic,
  type ExceptionInfo,
  type ListInfo,
  type Loc,
  type MacroInfo,
  type RuleInfo,
} from "./types.js";
import { PRIORITY_NAMES } from "../../proto/priority.js";

/** Options of a load. */
export interface LoadOptions {
  /** `first` (Falco's default): stop at the first matching rule; `all`: run every rule. */
  ruleMatching?: "first" | "all";
  /** Drop rules less severe than this Falco priority name (case-insensitive). */
  minPriority?: string;
  /** Parser limits (depth, nodes, list length). */
  limits?: ParseLimits;
  /** Expansion limits (lists, macros, exceptions; per item and per load); unset keys take the defaults. */
  expansion?: Partial<ExpansionLimits>;
  /** What fields take from the configuration (`evt.hostname`, IP names); default: none. */
  fields?: FieldContext;
  /**
   * Which rules run (Falco's `rules:` list, `-D`/`-T`/`-t`), applied after every file is loaded; it
   * overrides the files' `enabled:` (see selection.ts).
   */
  selection?: RuleSelectionOptions;
  /**
   * Field sources besides `syscall` (always known): a rule whose `source:` names one of them is
   * compiled against its fields into its own rule set (`LoadResult.rulesets`); a rule of any
   * other source is skipped with a warning, as Falco does for a source no plugin provides.
   */
  sources?: readonly FieldSource[];
}

/** Per-file summary. */
export interface FileSummary {
  file: string;
  rules: number;
  macros: number;
  lists: number;
  errors: number;
  warnings: number;
}

/** What a load produced. */
export interface LoadResult {
  /** The `syscall` rules. */
  ruleset: RuleSet;
  /** One rule set per known source (`syscall` and each of `LoadOptions.sources`), rules in definition order. */
  rulesets: ReadonlyMap<string, RuleSet>;
  diagnostics: Diagnostic[];
  files: FileSummary[];
  /** True when there is no error. */
  ok: boolean;
  /** `required_plugin_versions` entries, recorded. */
  requiredPlugins: PluginRequirement[];
  /** Milliseconds spent compiling. */
  compileMs: number;
}

const SYSCALL = "syscall";
const LIST_OPS = new Set(["in", "intersects", "pmatch"]);
const VALID_COMPS = new Set([
  "=",
  "==",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "contains",
  "icontains",
  "bcontains",
  "startswith",
  "bstartswith",
  "endswith",
  "glob",
  "iglob",
  "regex",
  "in",
  "intersects",
  "pmatch",
]);
const MODIFIED = /^(=|==|!=|contains|icontains|bcontains|startswith|bstartswith|endswith|glob|iglob)\s+(oneof|anyof|allof)$/;

/** Loads rules files in order; later files amend earlier ones. Never throws. */
export function loadRuleFiles(files: readonly { path: string; text: string }[], opts: LoadOptions = {}): LoadResult {
  const t0 = performance.now();
  const diags: Diagnostic[] = [];
  const collector = new Collector(diags);
  for (const f of files) {
    let items;
    try {
      items = readRulesFile(f.path, typeof f.text === "string" ? f.text : "", diags, expansionLimits(opts.expansion).maxFileChars);
    } catch (err) {
      diags.push({ severity: "error", code: DiagCode.YamlParse, message: `cannot read: ${(err as Error).message}`, file: f.path, line: 1, col: 1 });
      continue;
    }
    for (const it of items) collector.add(it);
  }
  const matching = opts.ruleMatching ?? "first";
  let minPriority = 7;
  if (opts.minPriority !== undefined) {
    const p = parsePriority(opts.minPriority);
    if (p < 0)
      diags.push({ severity: "error", code: DiagCode.Validate, message: `invalid minimum priority '${opts.minPriority}'`, file: "<config>", line: 1, col: 1 });
    else minPriority = p;
  }
  let rules: Rule[] = [];
  const sources = opts.sources ?? [];
  try {
    const budget = new Budget(expansionLimits(opts.expansion));
    rules = new Compilation(collector, diags, opts.limits ?? DEFAULT_LIMITS, budget, opts.fields ?? DEFAULT_FIELD_CONTEXT, sources).run(
      minPriority,
      opts.selection,
    );
  } catch (err) {
    diags.push({
      severity: "error",
      code: DiagCode.Validate,
      message: `internal error: ${(err as Error).message}`,
      file: files[0]?.path ?? "<none>",
      line: 1,
      col: 1,
    });
  }
  const summaries: FileSummary[] = files.map((f) => {
    const c = collector.counts.get(f.path) ?? { rules: 0, macros: 0, lists: 0 };
    const mine = diags.filter((d) => d.file === f.path);
    return { file: f.path, ...c, errors: mine.filter((d) => d.severity === "error").length, warnings: mine.filter((d) => d.severity === "warning").length };
  });
  const rulesets = new Map<string, RuleSet>();
  for (const name of [SYSCALL, ...sources.map((x) => x.name)])
    rulesets.set(
      name,
      new IndexedRuleSet(
        rules.filter((r) => r.source === name),
        matching,
      ),
    );
  return {
    ruleset: rulesets.get(SYSCALL) as RuleSet,
    rulesets,
    diagnostics: diags,
    files: summaries,
    ok: !diags.some((d) => d.severity === "error"),
    requiredPlugins: collector.plugins,
    compileMs: performance.now() - t0,
  };
}

function isDelim(c: number): boolean {
  return isBlank(c) || c === 40 || c === 41 || c === 44 || c === 61;
}

/** Quotes a list item that holds a blank and is not quoted yet (Falco `quote_item`). */
function quoteItem(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))) return s;
  for (let k = 0; k < s.length; k++) if (isBlank(s.charCodeAt(k))) return `"${s}"`;
  return s;
}

/** Quotes an exception value when it would not lex as one bare string. */
function quoteValue(s: string): string {
  if (/^[^()"'\s=,]+$/.test(s)) return s;
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A condition after list expansion, with the map back to the original offsets. */
interface Expanded {
  text: string;
  back: (idx: number) => number;
}

const identity = (idx: number): number => idx;

/** Offset, line and column of `idx` in `text`. */
function textPos(text: string, idx: number): TextPos {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf("\n"); k >= 0 && k < idx; k = text.indexOf("\n", k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { idx, line, col: idx - lineStart + 1 };
}

/** Checks a condition's text expansion; over a limit, a parse error at `idx` of the text (nothing is parsed yet). */
function textBudget(budget: Budget, nodes: number, chars: number, text: string, idx: number): void {
  const why = budget.overItem(nodes, chars) ?? budget.overTotal(nodes, chars);
  if (why !== undefined) throw new ParseError("MAX_EXPANSION", why, textPos(text, idx));
}

class Compilation {
  /** List name → its expanded text (items joined by ", "). */
  private readonly listText = new Map<string, string>();
  /** Lists with errors: a condition naming one fails. */
  private readonly failedLists = new Set<string>();
  /** List name → its number of items once expanded. */
  private readonly listItems = new Map<string, number>();
  /** Macro name → its resolved tree (undefined while failed). */
  private readonly macroTrees = new Map<string, Expr | undefined>();
  /** Which macro a node (by its pos object) was parsed from. */
  private readonly macroOrigin = new Map<object, { label: string; cond: CondText; back: (idx: number) => number }>();
  /** Compiled checks by source, shared by every rule of that source using the same macro. */
  private readonly leaves = new Map<string, LeafCache>();

  constructor(
    private readonly c: Collector,
    private readonly diags: Diagnostic[],
    private readonly limits: ParseLimits,
    private readonly budget: Budget,
    fields: FieldContext,
    sources: readonly FieldSource[],
  ) {
    this.leaves.set(SYSCALL, leafCache(fields));
    for (const src of sources) if (src.name !== SYSCALL) this.leaves.set(src.name, leafCache({ ...fields, source: src }));
  }

  private diag(severity: "error" | "warning", code: string, message: string, loc: Loc, item: string): void {
    this.diags.push({ severity, code, message, file: loc.file, line: loc.line, col: loc.col, item });
  }

  run(minPriority: number, selection: RuleSelectionOptions | undefined): Rule[] {
    this.compileLists();
    this.compileMacros();
    // rules written `enabled: false` are compiled too: a selection entry may enable them (Falco)
    const loaded: Rule[] = [];
    const initial: boolean[] = [];
    const ordered = [...this.c.rules.values()].sort((a, b) => a.index - b.index);
    for (const r of ordered) {
      const rule = this.compileRule(r);
      if (rule !== undefined && r.priority <= minPriority) {
        loaded.push(rule);
        initial.push(r.enabled);
      }
    }
    const sel = applySelection(loaded, initial, selection);
    const at = { file: "<config>", line: 1, col: 1 };
    for (const m of sel.errors) this.diags.push({ severity: "error", code: DiagCode.Selection, message: m, ...at });
    for (const m of sel.unmatched) this.diags.push({ severity: "warning", code: DiagCode.SelectionNoMatch, message: `${m} matches no loaded rule`, ...at });
    const out = loaded.filter((_, i) => sel.enabled[i]);
    for (const l of this.c.lists.values())
      if (!l.used) this.diag("warning", DiagCode.UnusedList, "List not referred to by any other rule/macro", l.loc, `list '${l.name}'`);
    for (const m of this.c.macros.values())
      if (!m.used) this.diag("warning", DiagCode.UnusedMacro, "Macro not referred to by any other rule/macro", m.loc, `macro '${m.name}'`);
    return out;
  }

  // ---------------------------------------------------------------- lists

  private compileLists(): void {
    const lists = [...this.c.lists.values()].sort((a, b) => a.index - b.index);
    // items undefined: the list has errors (reported), and so has any list or condition using it
    const expanded = new Map<string, { info: ListInfo; items: string[] | undefined; chars: number }>();
    for (const l of lists) {
      try {
        // size first, from the sizes of the lists it names, so a doubling chain stops before it is built
        let nodes = 0;
        let chars = 0;
        for (const it of l.items) {
          const ref = expanded.get(it);
          // only lists defined earlier are expanded inside a list
          if (ref !== undefined && ref.info.index < l.index) {
            ref.info.used = true;
            if (ref.items === undefined) throw new CompileError("UNDEFINED_MACRO", `list '${it}' used in list has errors`);
            nodes += ref.items.length;
            chars += ref.chars + 2;
          } else {
            nodes++;
            chars += it.length + 4;
          }
          this.budget.check(nodes, chars);
        }
        this.budget.charge(nodes, chars);
        const items: string[] = [];
        for (const it of l.items) {
          const ref = expanded.get(it);
          if (ref !== undefined && ref.info.index < l.index) for (const x of ref.items as string[]) items.push(x);
          else items.push(it);
        }
        const text = items.map(quoteItem).join(", ");
        expanded.set(l.name, { info: l, items, chars: text.length });
        this.listText.set(l.name, text);
        this.listItems.set(l.name, items.length);
      } catch (err) {
        expanded.set(l.name, { info: l, items: undefined, chars: 0 });
        this.failedLists.add(l.name);
        this.diag("error", DiagCode.Validate, (err as Error).message, l.loc, `list '${l.name}'`);
      }
    }
  }

  /**
   * Replaces list names delimited by blanks, `(`, `)`, `,`, `=` or the ends (Falco `resolve_list`).
   * Also returns `back`, which maps an offset in the result to the offset in `text` it came from
   * (the list name's start for offsets inside a substitution).
   */
  private expandLists(text: string): Expanded {
    textBudget(this.budget, 0, text.length, text, 0);
    if (this.listText.size === 0 && this.failedLists.size === 0) {
      this.budget.charge(0, text.length);
      return { text, back: identity };
    }
    // items and characters substituted so far, checked before each substitution is built
    let nodes = 0;
    let chars = text.length;
    let out = "";
    let last = 0;
    let i = 0;
    const n = text.length;
    // segments: [outStart, srcStart, copied (1) or substituted (0)]
    const segs: number[] = [];
    const copy = (from: number, to: number): void => {
      if (to > from) {
        segs.push(out.length, from, 1);
        out += text.slice(from, to);
      }
    };
    while (i < n) {
      while (i < n && isDelim(text.charCodeAt(i))) i++;
      const start = i;
      while (i < n && !isDelim(text.charCodeAt(i))) i++;
      if (i === start) break;
      const name = text.slice(start, i);
      const repl = this.listText.get(name);
      if (repl === undefined) {
        if (this.failedLists.has(name)) {
          (this.c.lists.get(name) as ListInfo).used = true;
          throw new ParseError("UNDEFINED_MACRO", `list '${name}' used in filter has errors`, textPos(text, start));
        }
        continue;
      }
      (this.c.lists.get(name) as ListInfo).used = true;
      nodes += this.listItems.get(name) ?? 1;
      chars += repl.length;
      textBudget(this.budget, nodes, chars, text, start);
      copy(last, start);
      last = i;
      if (repl !== "") {
        segs.push(out.length, start, 0);
        out += repl;
        continue;
      }
      // an empty list takes one adjacent comma with it
      let j = i;
      while (j < n && isBlank(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) === 44) {
        last = j + 1;
        i = j + 1;
      } else {
        const trimmed = out.trimEnd();
        if (trimmed.endsWith(",")) out = trimmed.slice(0, -1);
      }
    }
    copy(last, n);
    this.budget.charge(nodes, out.length);
    const back = (idx: number): number => {
      let lo = 0;
      let hi = segs.length / 3 - 1;
      if (hi < 0) return 0;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((segs[mid * 3] as number) <= idx) lo = mid;
        else hi = mid - 1;
      }
      const outStart = segs[lo * 3] as number;
      const srcStart = segs[lo * 3 + 1] as number;
      return segs[lo * 3 + 2] === 1 ? srcStart + Math.max(0, idx - outStart) : srcStart;
    };
    return { text: out, back };
  }

  // ---------------------------------------------------------------- macros

  private compileMacros(): void {
    const macros = [...this.c.macros.values()].sort((a, b) => a.index - b.index);
    for (const m of macros) {
      const label = `macro '${m.name}'`;
      const own = new Set<object>();
      let back = identity;
      try {
        const parsed = this.parse(m.cond);
        back = parsed.back;
        const origin = { label, cond: m.cond, back };
        walk(parsed.tree, (x) => {
          this.macroOrigin.set(x.pos, origin);
          own.add(x.pos);
        });
        this.macroTrees.set(m.name, this.resolveMacros(parsed.tree, m.index));
      } catch (err) {
        this.macroTrees.set(m.name, undefined);
        // an expansion limit passed in the macro's own tree is placed in its own condition
        this.reportCondError(err, m.cond, label, own, back);
      }
    }
  }

  /** Expands lists and parses; a parse error's offset is mapped back to the condition text. */
  private parse(cond: CondText): { tree: Expr; back: (idx: number) => number } {
    const ex = this.expandLists(cond.text);
    try {
      return { tree: parseCondition(ex.text, this.limits), back: ex.back };
    } catch (err) {
      if (err instanceof ParseError && err.pos !== undefined)
        throw new ParseError(err.code, err.message, { ...err.pos, idx: ex.back(err.pos.idx) }, { cause: err });
      throw err;
    }
  }

  /** Replaces identifiers with macro trees; `visibility` = only macros defined before it (rules: all). */
  private resolveMacros(n: Expr, visibility: number): Expr {
    switch (n.kind) {
      case "ident": {
        const m: MacroInfo | undefined = this.c.macros.get(n.name);
        if (m === undefined || m.index >= visibility) throw new CompileError("UNDEFINED_MACRO", `Undefined macro '${n.name}' used in filter.`, n.pos);
        m.used = true;
        const tree = this.macroTrees.get(n.name);
        if (tree === undefined) throw new CompileError("UNDEFINED_MACRO", `macro '${n.name}' used in filter has errors`, n.pos);
        return tree;
      }
      case "and":
      case "or": {
        let changed = false;
        const children = n.children.map((c) => {
          const r = this.resolveMacros(c, visibility);
          if (r !== c) changed = true;
          return r;
        });
        const out = changed ? { ...n, children } : n;
        // counted from the children's recorded sizes: the shared macro trees are never walked
        this.budget.measure(out);
        return out;
      }
      case "not": {
        const child = this.resolveMacros(n.child, visibility);
        const out = child === n.child ? n : { ...n, child };
        this.budget.measure(out);
        return out;
      }
      default:
        this.budget.measure(n);
        return n;
    }
  }

  // ---------------------------------------------------------------- rules

  private exceptionText(x: ExceptionInfo, spend: (nodes: number, chars: number) => void): string | undefined {
    if (x.values.length === 0) return undefined;
    if (typeof x.fields === "string") {
      const comp = typeof x.comps === "string" ? x.comps.trim() : "in";
      if (Array.isArray(x.comps))
        throw new CompileError("BAD_VALUE", `Rule exception '${x.name}': comps must be a single operator when fields is a single field`);
      if (!LIST_OPS.has(comp) && !MODIFIED.test(comp))
        throw new CompileError(
          "BAD_OPERATOR",
          `Rule exception '${x.name}': comps for a single field must be in, pmatch, intersects or a modifier operator, not '${comp}'`,
        );
      spend(2, x.fields.length + comp.length + 8);
      const vals = x.values.map((v) => {
        if (Array.isArray(v)) throw new CompileError("BAD_VALUE", `Rule exception '${x.name}': values must be a flat list when fields is a single field`);
        const q = quoteValue(String(v));
        spend(1, q.length + 2);
        return q;
      });
      return `(${x.fields} ${comp} (${vals.join(", ")}))`;
    }
    const fields = x.fields ?? [];
    if (fields.length === 0) throw new CompileError("BAD_VALUE", `Rule exception '${x.name}': fields must not be empty`);
    let comps: string[];
    if (x.comps === undefined) comps = fields.map(() => "=");
    else if (typeof x.comps === "string") throw new CompileError("BAD_VALUE", `Rule exception '${x.name}': comps must be a list when fields is a list`);
    else comps = x.comps.map((s) => s.trim());
    if (comps.length !== fields.length) throw new CompileError("BAD_VALUE", `Rule exception '${x.name}': fields and comps lists must have equal length`);
    for (const c of comps)
      if (!VALID_COMPS.has(c) && !MODIFIED.test(c))
        throw new CompileError("BAD_OPERATOR", `Rule exception '${x.name}': '${c}' is not a supported comparison operator`);
    const tuples = x.values.map((tuple) => {
      if (!Array.isArray(tuple) || tuple.length !== fields.length)
        throw new CompileError("BAD_VALUE", `Rule exception '${x.name}': each value must be a list of ${fields.length} items, one per field`);
      const parts = tuple.map((v: unknown, k: number) => {
        const comp = comps[k] as string;
        spend(3, (fields[k] as string).length + comp.length + 12);
        let val: string;
        const one = (i: unknown): string => {
          const q = quoteValue(String(i));
          spend(1, q.length + 2);
          return q;
        };
        if (Array.isArray(v)) val = `(${v.map(one).join(", ")})`;
        else if (LIST_OPS.has(comp) || MODIFIED.test(comp)) val = `(${one(v)})`;
        else if (this.listText.has(String(v)) || this.failedLists.has(String(v))) {
          // a single value compared with = (or startswith…) is a literal even when it spells a
          // list's name: quoted, list expansion leaves it alone (a list name belongs in `in`)
          val = `"${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
          spend(1, val.length + 2);
        } else val = one(v);
        return `${fields[k] as string} ${comp} ${val}`;
      });
      return `(${parts.join(" and ")})`;
    });
    return `(${tuples.join(" or ")})`;
  }

  private compileRule(r: RuleInfo): Rule | undefined {
    const label = `rule '${r.name}'`;
    const leaves = this.leaves.get(r.source);
    if (leaves === undefined) {
      this.diag("warning", DiagCode.UnknownSource, `Unknown source ${r.source}, skipping`, r.loc, label);
      return undefined;
    }
    // other sources' rules are not indexed by event type: each sees every event of its source
    const syscall = r.source === SYSCALL;
    let text = r.cond.text;
    // the exceptions' nodes and characters, counted as their text is built
    let nodes = 0;
    let chars = text.length;
    const spend = (n: number, c: number): void => {
      nodes += n;
      chars += c;
      this.budget.check(nodes, chars);
    };
    let at: ExceptionInfo | undefined;
    try {
      const parts: string[] = [];
      for (const x of r.exceptions) {
        at = x;
        const t = this.exceptionText(x, spend);
        if (t !== undefined) parts.push(t);
      }
      if (parts.length > 0) text = `(${text})` + parts.map((p) => ` and not ${p}`).join("");
    } catch (err) {
      this.diag("error", DiagCode.Validate, (err as Error).message, at?.loc ?? r.loc, label);
      return undefined;
    }
    const shift = text === r.cond.text ? 0 : 1;
    const inner = r.cond;
    const cond: CondText = { text, loc: r.cond.loc, locate: (idx) => inner.locate?.(idx - shift) };
    let tree: Expr;
    let pred;
    // positions of the rule's own nodes: errors there map to a column of the rule's condition
    const own = new Set<object>();
    let back = identity;
    try {
      const { tree: parsed, back: b } = this.parse(cond);
      back = b;
      walk(parsed, (x) => own.add(x.pos));
      tree = this.resolveMacros(parsed, Number.MAX_SAFE_INTEGER);
      const size = this.budget.get(tree)?.nodes ?? 0;
      const over = this.budget.overTotal(size, 0);
      if (over !== undefined) throw new CompileError("MAX_EXPANSION", over, parsed.pos);
      this.budget.charge(size, 0);
      // compile the full tree first so every field is checked, then the simplified one runs
      compileLeaves(tree, leaves);
      pred = compileExprFast(syscall ? simplifyForCodes(tree, conditionCodes(tree)) : tree, leaves);
    } catch (err) {
      if (r.skipIfUnknownFilter && err instanceof CompileError && (err.code === "UNKNOWN_FIELD" || err.code === "BAD_FIELD_ARG")) return undefined;
      this.reportCondError(err, cond, label, own, back);
      return undefined;
    }
    const unknownTypes = new Set<string>();
    // only syscall rules are indexed (and warned about) by event type
    const codes = syscall ? conditionCodes(tree, unknownTypes) : null;
    if (unknownTypes.size > 0)
      this.diag("warning", DiagCode.UnknownEvttype, `Unknown event type(s) ${[...unknownTypes].join(", ")}: they never match`, r.cond.loc, label);
    if (syscall && codes === null && r.warnEvttypes)
      this.diag("warning", DiagCode.NoEvttype, "Rule matches too many evt.type values. This has a significant performance penalty.", r.cond.loc, label);
    else if (codes !== null && codeCount(codes) === 0)
      this.diag("warning", DiagCode.NoEvttype, "Rule matches no event type: it can never fire", r.cond.loc, label);
    const fw: FormatWarnings = { deprecated: [] };
    let formatter;
    try {
      formatter = compileFormat(r.output, fw, leaves.ctx);
    } catch (err) {
      const e = err as RuleError;
      this.diag("error", DiagCode.CompileOutput, `${e.message}`, r.outputLoc, label);
      return undefined;
    }
    for (const d of fw.deprecated) this.diag("warning", DiagCode.Deprecated, `${d} is deprecated and rendered as an empty string`, r.outputLoc, label);
    return new Rule({
      name: r.name,
      desc: r.desc,
      priority: r.priority,
      priorityName: PRIORITY_NAMES[r.priority] ?? "Debug",
      // Falco keeps tags in a std::set: unique and sorted, as its alerts show them
      tags: Object.freeze([...new Set(r.tags)].sort()),
      source: r.source,
      capture: r.capture,
      captureDuration: r.captureDuration,
      file: r.loc.file,
      line: r.loc.line,
      pred,
      codes,
      cond: tree,
      formatter,
    });
  }

  /**
   * Reports a condition error at the file position of the failing token: errors in the item's own
   * text map through list expansion back to the YAML; errors inside a macro used by a rule name
   * the macro and its position.
   */
  private reportCondError(err: unknown, cond: CondText, label: string, ownPositions: ReadonlySet<object> | undefined, back: (idx: number) => number): void {
    if (!(err instanceof RuleError)) {
      this.diag("error", DiagCode.CompileCondition, `internal error: ${(err as Error)?.message ?? String(err)}`, cond.loc, label);
      return;
    }
    let loc: Loc = cond.loc;
    let msg = err.message;
    const p = err.pos;
    if (p !== undefined) {
      // parse errors were mapped already; node positions are in the expanded text
      const own = err instanceof ParseError || err.code === "UNDEFINED_MACRO" || ownPositions?.has(p) === true;
      const origin = own ? undefined : this.macroOrigin.get(p);
      if (own) {
        const idx = err instanceof ParseError ? p.idx : back(p.idx);
        const at = cond.locate?.(idx);
        if (at !== undefined) loc = at;
        else msg += ` (at condition offset ${idx})`;
      } else if (origin !== undefined) {
        const at = origin.cond.locate?.(origin.back(p.idx)) ?? origin.cond.loc;
        msg += ` (in ${origin.label} at ${at.file}:${at.line}:${at.col})`;
      }
    }
    this.diag("error", DiagCode.CompileCondition, msg, loc, label);
  }
}

/** Every Falco event name the engine knows. */
export function knownEventNames(): string[] {
  return EVENTS.slice(1).map((e) => e.name);
}

/** Walks a tree (re-exported for tooling). */
export { walk };
