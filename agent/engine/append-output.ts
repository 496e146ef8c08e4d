// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `append_output` and the suggested output fields, applied to rule alerts.
 *
 * What Falco 0.44 does (read in falcosecurity/falco and falcosecurity/plugins):
 * - `userspace/falco/configuration.h` (`convert<append_output_config>::decode`): an entry has
 *   `match: {source, tags, rule}`, `extra_output`, `extra_fields` (a bare field name, or a
 *   one-key map `name: format`; redefining a key of the entry is a config error) and
 *   `suggested_output`. No other key is read: there is no `suppress_output_format` in 0.44, so an
 *   entry carrying it gets a warning here (never silently ignored) and nothing else.
 * - `userspace/falco/app/actions/init_falco_engine.cpp` (`configure_output_format`): entries in
 *   config order; per entry its `extra_output` first, then (with `suggested_output`) one
 *   `name_with_underscores=%name` per field the plugins mark "suggested", for every loaded source
 *   when `match.source` is empty, else for that source only; then its fields.
 * - `userspace/engine/rule_loader_compiler.cpp` (`compile_rule_infos`): an extra format applies
 *   to a rule when its source is empty or equal to the rule's, every one of its tags is among
 *   the rule's (`std::includes`: all, not any), and its rule is empty or equal to the rule's
 *   name; it is appended as `output + " " + extra`, with no check for fields the output already
 *   has (a field named twice prints twice; output_fields has it once). Extra fields go to
 *   `extra_output_fields[key]` (a later entry's key replaces an earlier one), never to the text.
 *   Everything is validated when rules load: a bad format is a load error.
 * - `userspace/engine/falco_common.h`, `falco_outputs.cpp`: a bare field is a "raw" field,
 *   keyed by its name with its typed value; a `name: format` field is the formatted string.
 * - plugins `plugins/container/src/caps/extract/extract.cpp`: the container plugin marks
 *   `container.id`, `container.name`, `container.image.repository`, `container.image.tag`,
 *   `k8s.pod.name`, `k8s.ns.name` (in that order) "use as suggested output format"; it extracts
 *   for the `syscall` source only. Rule output is rendered with a leading `*`, so a missing
 *   value prints `<NA>` (and is `null` in output_fields).
 * - falco.yaml's default `append_output: [{suggested_output: true}]`; with no `append_output`
 *   key at all, Falco appends nothing.
 *
 * The entries' shape (keys, types, one-key maps, a field defined twice) is append-output-schema.ts's,
 * checked when the configuration is read (in the agent's configuration worker, so the agent never
 * loads zod); this module takes entries of that shape and compiles their formats.
 *
 * Formats are compiled once, when the options are compiled (config load); per rule, the entries
 * that match are found once (on the rule's first alert, a few string compares, cached per rule
 * object so a reload's new rules get their own); per alert, only the compiled formats run.
 */
import type { SyscallEvent } from "../../rules/event.js";
import type { CompiledRule } from "../../rules/index.js";
import { compileFormat, type Formatter, type FormatWarnings } from "../../rules/compile/formatter.js";
import { DEFAULT_FIELD_CONTEXT, type FieldContext } from "../../rules/compile/fields.js";
import type { AppendOutputEntry } from "./append-output-schema.js";

/** The fields the container plugin suggests, in Falco's order. */
export const SUGGESTED_FIELDS: readonly string[] = Object.freeze([
  "container.id",
  "container.name",
  "container.image.repository",
  "container.image.tag",
  "k8s.pod.name",
  "k8s.ns.name",
]);

/** Sources whose events the suggested fields are extracted from (the container plugin's). */
export const SUGGESTED_SOURCES: ReadonlySet<string> = new Set(["syscall"]);

/** The text Falco appends for the suggested fields: `container_id=%container.id ...`. */
export const SUGGESTED_FORMAT = SUGGESTED_FIELDS.map((f) => `${f.replaceAll(".", "_")}=%${f}`).join(" ");

/** What the alert builder takes: the suggested fields switch and the `append_output` entries. */
export interface OutputOptions {
  /**
   * Falco's default `- suggested_output: true` entry, placed before `append` (where falco.yaml
   * has it). When mapping a falco.yaml, set false and copy its `append_output` entries as they
   * are: they carry their own `suggested_output`.
   */
  suggestedFields: boolean;
  append: readonly AppendOutputEntry[];
}

/** Falco 0.44's defaults: suggested fields on, no other entry. */
export const DEFAULT_OUTPUT_OPTIONS: OutputOptions = Object.freeze({ suggestedFields: true, append: Object.freeze([]) as readonly AppendOutputEntry[] });

/** A bad `append_output` entry: names the entry (`output.append[2].extra_output: ...`). */
export class AppendOutputError extends Error {
  override readonly name = "AppendOutputError";
}

type JsonValue = string | number | boolean | null;

interface ExtraField {
  key: string;
  fmt: Formatter;
  /** A bare field: its typed value (under `key`); else the formatted string. */
  raw: boolean;
}

interface CompiledEntry {
  source: string;
  tags: readonly string[];
  rule: string;
  /** extra_output, plus the suggested fields when the entry asks for them: for sources with suggested fields. */
  textSuggested: Formatter | undefined;
  /** extra_output alone: for other sources. */
  textPlain: Formatter | undefined;
  fields: readonly ExtraField[];
}

/** What applies to one rule. */
interface RulePlan {
  texts: readonly Formatter[];
  fields: readonly ExtraField[];
}

const EMPTY_PLAN: RulePlan = Object.freeze({ texts: [], fields: [] });

export interface CompileOutputOptions {
  /** The field context the rules are compiled with (`evt.hostname`, IP names). */
  fields?: FieldContext;
  /** How entries are named in errors and warnings (default `output.append`; falco.yaml: `append_output`). */
  path?: string;
}

/**
 * The compiled options: adds what the matching entries say to a rule alert's message and
 * output_fields. Build with {@link compileOutputOptions}.
 */
export class OutputAppender {
  private readonly plans = new WeakMap<CompiledRule, RulePlan>();

  /** @internal use compileOutputOptions */
  constructor(
    private readonly entries: readonly CompiledEntry[],
    /** The suggested fields format alone (for alerts no rule raised), when enabled. */
    readonly suggested: Formatter | undefined,
  ) {}

  /** True when no entry can ever add anything. */
  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** Every field expression some entry reads (its extra_output and extra_fields; the suggested fields are Falco's own). */
  get readNames(): readonly string[] {
    const out = new Set<string>();
    for (const x of this.entries) {
      for (const f of [x.textSuggested, x.textPlain, ...x.fields.map((y) => y.fmt)]) for (const n of f?.readNames ?? []) out.add(n);
    }
    return [...out];
  }

  private planFor(rule: CompiledRule): RulePlan {
    let plan = this.plans.get(rule);
    if (plan !== undefined) return plan;
    const texts: Formatter[] = [];
    const fields = new Map<string, ExtraField>();
    for (const x of this.entries) {
      if (x.source !== "" && x.source !== rule.source) continue;
      if (!x.tags.every((t) => rule.tags.includes(t))) continue;
      if (x.rule !== "" && x.rule !== rule.name) continue;
      const text = SUGGESTED_SOURCES.has(rule.source) ? x.textSuggested : x.textPlain;
      if (text !== undefined) texts.push(text);
      for (const f of x.fields) {
        fields.delete(f.key); // a later entry's key replaces an earlier one
        fields.set(f.key, f);
      }
    }
    plan = texts.length === 0 && fields.size === 0 ? EMPTY_PLAN : { texts, fields: [...fields.values()] };
    this.plans.set(rule, plan);
    return plan;
  }

  /**
   * Appends the matching entries' text to `message` (returned) and their fields to `fields`
   * (in place). Values that cannot be read render `<NA>` / `null`, as in the rule's own output.
   */
  apply(rule: CompiledRule, e: SyscallEvent, message: string, fields: Record<string, JsonValue>): string {
    const plan = this.planFor(rule);
    if (plan === EMPTY_PLAN) return message;
    let out = message;
    for (const t of plan.texts) {
      const r = t.format(e);
      out += ` ${r.message}`;
      for (const k in r.fields) fields[k] = r.fields[k] as JsonValue;
    }
    for (const f of plan.fields) {
      const r = f.fmt.format(e);
      fields[f.key] = f.raw ? (r.fields[f.key] ?? null) : r.message;
    }
    return out;
  }
}

function compileOne(fmt: string, where: string, ctx: FieldContext, warnings: string[]): Formatter {
  const fw: FormatWarnings = { deprecated: [] };
  let f: Formatter;
  try {
    f = compileFormat(fmt, fw, ctx);
  } catch (err) {
    throw new AppendOutputError(`${where}: ${(err as Error).message} (in '${fmt.length > 80 ? `${fmt.slice(0, 80)}…` : fmt}')`, { cause: err });
  }
  for (const d of fw.deprecated) warnings.push(`${where}: ${d} is deprecated and rendered as an empty string`);
  return f;
}

/**
 * Compiles the options once: every format is parsed and its fields bound here. The entries are
 * of the schema's shape (append-output-schema.ts, checked with the configuration). Throws
 * {@link AppendOutputError} naming the entry (`output.append[1].extra_fields[0]: ...`) for a bad
 * format or field; returns warnings for what is accepted but has no effect.
 */
export function compileOutputOptions(opts: OutputOptions, o: CompileOutputOptions = {}): { appender: OutputAppender; warnings: string[] } {
  const ctx = o.fields ?? DEFAULT_FIELD_CONTEXT;
  const path = o.path ?? "output.append";
  const warnings: string[] = [];
  const entries: CompiledEntry[] = [];
  const suggested = opts.suggestedFields || opts.append.length > 0 ? compileOne(SUGGESTED_FORMAT, "suggested fields", ctx, warnings) : undefined;
  if (opts.suggestedFields) entries.push({ source: "", tags: [], rule: "", textSuggested: suggested, textPlain: undefined, fields: [] });
  let anySuggested = opts.suggestedFields;
  opts.append.forEach((x, i) => {
    const where = `${path}[${i}]`;
    if (x.suppress_output_format !== undefined)
      warnings.push(
        `${where}.suppress_output_format: not an append_output key in Falco 0.44 (it reads match, extra_output, extra_fields, suggested_output); it has no effect`,
      );
    const plain = x.extra_output !== undefined && x.extra_output !== "" ? x.extra_output : undefined;
    const textPlain = plain === undefined ? undefined : compileOne(plain, `${where}.extra_output`, ctx, warnings);
    let textSuggested = textPlain; // used for rules of a source with suggested fields (syscall)
    if (x.suggested_output === true) {
      anySuggested = true;
      textSuggested = plain === undefined ? suggested : compileOne(`${plain} ${SUGGESTED_FORMAT}`, `${where}.extra_output`, ctx, warnings);
    }
    const fields: ExtraField[] = [];
    const formatted: ExtraField[] = [];
    (x.extra_fields ?? []).forEach((f, j) => {
      const fwhere = `${where}.extra_fields[${j}]`;
      if (typeof f === "string") {
        const fmt = compileOne(`%${f}`, fwhere, ctx, warnings);
        if (fmt.fieldNames.length !== 1 || fmt.fieldNames[0] !== f)
          throw new AppendOutputError(`${fwhere}: '${f}' is not a field name (use {name: format} for a format)`);
        if (!fields.some((g) => g.key === f)) fields.push({ key: f, fmt, raw: true });
        return;
      }
      const [key, format] = Object.entries(f)[0] as [string, string];
      formatted.push({ key, fmt: compileOne(format, fwhere, ctx, warnings), raw: false });
    });
    entries.push({
      source: x.match?.source ?? "",
      tags: [...new Set(x.match?.tags ?? [])],
      rule: x.match?.rule ?? "",
      textSuggested,
      textPlain,
      // Falco adds an entry's formatted fields, then its bare ones
      fields: [...formatted, ...fields],
    });
  });
  return { appender: new OutputAppender(entries, anySuggested ? suggested : undefined), warnings };
}

export type { AppendOutputEntry } from "./append-output-schema.js";
