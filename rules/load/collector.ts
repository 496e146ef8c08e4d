// SPDX-License-Identifier: Apache-2.0
/**
 * Collects lists, macros and rules from raw items in load order, applying Falco's amendment
 * semantics: redefinition replaces in place (keeping the original position), `append: true`
 * (deprecated) and `override: {key: append|replace}` amend an earlier definition; append is
 * string concatenation with one space (tags: union; list items and exceptions: concatenation,
 * with exception values merged by name). Also checks `required_engine_version` and records
 * `required_plugin_versions`.
 */
import type { RawEntry, RawItem } from "./reader.js";
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

/** Vigil's rule engine version, Falco's scale (Falco 0.44.1 has engine 0.62.0). */
export const ENGINE_VERSION = "0.62.0";

/** A required plugin version recorded from a rules file. */
export interface PluginRequirement {
  name: string;
  version: string;
  alternatives: { name: string; version: string }[];
}

/** Per-file counts of items defined. */
export interface FileCounts {
  rules: number;
  macros: number;
  lists: number;
}

const LIST_KEYS = new Set(["list", "items", "append", "override"]);
const MACRO_KEYS = new Set(["macro", "condition", "append", "override"]);
const RULE_KEYS = new Set([
  "rule",
  "condition",
  "desc",
  "output",
  "priority",
  "source",
  "enabled",
  "tags",
  "exceptions",
  "capture",
  "capture_duration",
  "warn_evttypes",
  "skip-if-unknown-filter",
  "append",
  "override",
]);
const RULE_APPENDABLE = new Set(["condition", "output", "desc", "tags", "exceptions"]);
const RULE_REPLACEABLE = new Set([
  "condition",
  "output",
  "desc",
  "priority",
  "capture",
  "capture_duration",
  "tags",
  "exceptions",
  "enabled",
  "warn_evttypes",
  "skip-if-unknown-filter",
]);
const SEMVER = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

class ItemError extends Error {
  constructor(
    message: string,
    readonly loc: Loc,
    readonly code: string = DiagCode.YamlValidate,
  ) {
    super(message);
  }
}

/** The state built from all files. */
export class Collector {
  readonly lists = new Map<string, ListInfo>();
  readonly macros = new Map<string, MacroInfo>();
  readonly rules = new Map<string, RuleInfo>();
  readonly plugins: PluginRequirement[] = [];
  readonly counts = new Map<string, FileCounts>();
  private nextIndex = 0;

  constructor(private readonly diags: Diagnostic[]) {}

  private count(file: string): FileCounts {
    let c = this.counts.get(file);
    if (c === undefined) {
      c = { rules: 0, macros: 0, lists: 0 };
      this.counts.set(file, c);
    }
    return c;
  }

  private warn(code: string, message: string, loc: Loc, item?: string): void {
    this.diags.push({ severity: "warning", code, message, file: loc.file, line: loc.line, col: loc.col, ...(item === undefined ? {} : { item }) });
  }

  private error(code: string, message: string, loc: Loc, item?: string): void {
    this.diags.push({ severity: "error", code, message, file: loc.file, line: loc.line, col: loc.col, ...(item === undefined ? {} : { item }) });
  }

  /** Applies one raw item. Never throws. */
  add(it: RawItem): void {
    this.count(it.file);
    const e = it.entries;
    let label: string | undefined;
    try {
      if (e.has("required_engine_version")) this.engineVersion(it);
      else if (e.has("required_plugin_versions")) this.pluginVersions(it);
      else if (e.has("list")) {
        label = `list '${String(e.get("list")?.value)}'`;
        this.list(it);
      } else if (e.has("macro")) {
        label = `macro '${String(e.get("macro")?.value)}'`;
        this.macro(it);
      } else if (e.has("rule")) {
        label = `rule '${String(e.get("rule")?.value)}'`;
        this.rule(it);
      } else this.warn(DiagCode.UnknownItem, "Unknown top level item", it.loc);
    } catch (err) {
      if (err instanceof ItemError) this.error(err.code, err.message, err.loc, label);
      else this.error(DiagCode.Validate, `internal error: ${(err as Error).message}`, it.loc, label);
    }
  }

  private unknownKeys(it: RawItem, allowed: ReadonlySet<string>, label: string): void {
    for (const [k, v] of it.entries) if (!allowed.has(k)) this.warn(DiagCode.UnknownKey, `Unexpected key '${k}'`, v.keyLoc, label);
  }

  private engineVersion(it: RawItem): void {
    const en = it.entries.get("required_engine_version") as RawEntry;
    let req: string;
    if (typeof en.value === "number" && Number.isInteger(en.value) && en.value >= 0) req = `0.${en.value}.0`;
    else if (typeof en.value === "string" && SEMVER.test(en.value.trim())) req = en.value.trim();
    else if (typeof en.value === "string" && /^[0-9]+$/.test(en.value.trim())) req = `0.${Number(en.value.trim())}.0`;
    else throw new ItemError(`Value of required_engine_version must be a number or a semver string, got '${String(en.value)}'`, en.valueLoc);
    const [rM, rm, rp] = req.split(/[.+-]/).map(Number) as [number, number, number];
    const [eM, em, ep] = ENGINE_VERSION.split(".").map(Number) as [number, number, number];
    const ok = rM === eM && (em > rm || (em === rm && ep >= rp));
    if (!ok) throw new ItemError(`Rules require engine version ${req}, but engine version is ${ENGINE_VERSION}`, en.valueLoc, DiagCode.Version);
  }

  private pluginVersions(it: RawItem): void {
    const en = it.entries.get("required_plugin_versions") as RawEntry;
    if (!Array.isArray(en.value)) throw new ItemError("Value of required_plugin_versions must be a sequence", en.valueLoc);
    for (const p of en.value as unknown[]) {
      const req = this.pluginReq(p, en.valueLoc);
      const alts: { name: string; version: string }[] = [];
      const rawAlts = (p as Record<string, unknown>)["alternatives"];
      if (rawAlts !== undefined) {
        if (!Array.isArray(rawAlts)) throw new ItemError("alternatives must be a sequence", en.valueLoc);
        const seen = new Set([req.name]);
        for (const a of rawAlts) {
          const r = this.pluginReq(a, en.valueLoc);
          if (seen.has(r.name)) throw new ItemError(`Multiple definitions of plugin with name ${r.name}`, en.valueLoc);
          seen.add(r.name);
          alts.push(r);
        }
      }
      this.plugins.push({ ...req, alternatives: alts });
    }
  }

  private pluginReq(p: unknown, loc: Loc): { name: string; version: string } {
    if (p === null || typeof p !== "object" || Array.isArray(p)) throw new ItemError("each required plugin must be a mapping with name and version", loc);
    const o = p as Record<string, unknown>;
    const name = o["name"];
    const version = typeof o["version"] === "number" ? String(o["version"]) : o["version"];
    if (typeof name !== "string" || name === "") throw new ItemError("required plugin has no name", loc);
    if (typeof version !== "string" || !SEMVER.test(version)) throw new ItemError(`required plugin ${name} has an invalid version '${String(version)}'`, loc);
    return { name, version };
  }

  /** `override:` as a map key → append|replace; checks keys and the append/override mix. */
  private overrides(it: RawItem, label: string): Map<string, "append" | "replace"> | undefined {
    const ov = it.entries.get("override");
    if (ov === undefined) return undefined;
    if (it.entries.has("append"))
      throw new ItemError(
        "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.",
        ov.keyLoc,
        DiagCode.YamlValidate,
      );
    if (ov.value === null || typeof ov.value !== "object" || Array.isArray(ov.value)) throw new ItemError("Value of override must be a map", ov.valueLoc);
    const out = new Map<string, "append" | "replace">();
    for (const [k, v] of Object.entries(ov.value as Record<string, unknown>)) {
      if (v !== "append" && v !== "replace")
        throw new ItemError(`Invalid override operation for key '${k}': '${String(v)}'. Allowed values are: append, replace`, ov.valueLoc);
      if (!it.entries.has(k)) throw new ItemError(`An 'override' entry for key '${k}' must be accompanied by the key itself in ${label}`, ov.valueLoc);
      out.set(k, v);
    }
    for (const k of it.entries.keys()) {
      const head = label.split(" ")[0] as string;
      if (k === head || k === "override") continue;
      if (!out.has(k)) throw new ItemError(`Key '${k}' must be listed under 'override' when overriding ${label}`, (it.entries.get(k) as RawEntry).keyLoc);
    }
    return out;
  }

  private appendFlag(it: RawItem): boolean {
    const a = it.entries.get("append");
    if (a === undefined) return false;
    if (typeof a.value !== "boolean") throw new ItemError("Value of append must be a boolean", a.valueLoc);
    return a.value;
  }

  // ------------------------------------------------------------------ lists

  private list(it: RawItem): void {
    const name = str(it, "list", true) as string;
    const label = `list '${name}'`;
    this.unknownKeys(it, LIST_KEYS, label);
    if (!/^[^()"'\s=,]+$/.test(name)) this.warn(DiagCode.InvalidName, `List name '${name}' contains invalid characters`, it.loc, label);
    const itemsEntry = it.entries.get("items");
    if (itemsEntry === undefined) throw new ItemError(`Item has no mapping for key 'items'`, it.loc);
    const items = stringList(itemsEntry, "items");
    const ov = this.overrides(it, label);
    const append = this.appendFlag(it);
    const prev = this.lists.get(name);
    if (append || ov !== undefined) {
      if (append)
        this.warn(DiagCode.Deprecated, "'append' key is deprecated. Add an 'append' entry (e.g. 'items: append') under 'override' instead.", it.loc, label);
      if (prev === undefined) throw new ItemError(`List has 'append' or 'override' key but no previous list under this name`, it.loc, DiagCode.Validate);
      const op = append ? "append" : ov?.get("items");
      if (op === "append") prev.items = prev.items.concat(items);
      else if (op === "replace") prev.items = items;
      return;
    }
    this.count(it.file).lists++;
    if (prev !== undefined) {
      prev.items = items;
      return;
    }
    this.lists.set(name, { name, items, index: this.nextIndex++, loc: it.loc, used: false });
  }

  // ------------------------------------------------------------------ macros

  private macro(it: RawItem): void {
    const name = str(it, "macro", true) as string;
    const label = `macro '${name}'`;
    this.unknownKeys(it, MACRO_KEYS, label);
    if (!/^[a-zA-Z]+[a-zA-Z0-9_]*$/.test(name)) this.warn(DiagCode.InvalidName, `Macro name '${name}' is not a valid identifier`, it.loc, label);
    const condEntry = it.entries.get("condition");
    if (condEntry === undefined) throw new ItemError("Item has no mapping for key 'condition'", it.loc);
    const cond = condText(condEntry);
    const ov = this.overrides(it, label);
    const append = this.appendFlag(it);
    const prev = this.macros.get(name);
    if (append || ov !== undefined) {
      if (append)
        this.warn(DiagCode.Deprecated, "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.", it.loc, label);
      if (prev === undefined) throw new ItemError("Macro has 'append' or 'override' key but no previous macro under this name", it.loc, DiagCode.Validate);
      const op = append ? "append" : ov?.get("condition");
      if (op === "append") prev.cond = joinCond(prev.cond, cond);
      else if (op === "replace") prev.cond = cond;
      return;
    }
    this.count(it.file).macros++;
    if (prev !== undefined) {
      prev.cond = cond;
      return;
    }
    this.macros.set(name, { name, cond, index: this.nextIndex++, loc: it.loc, used: false });
  }

  // ------------------------------------------------------------------ rules

  private rule(it: RawItem): void {
    const name = str(it, "rule", true) as string;
    const label = `rule '${name}'`;
    this.unknownKeys(it, RULE_KEYS, label);
    const ov = this.overrides(it, label);
    const append = this.appendFlag(it);
    const prev = this.rules.get(name);
    const e = it.entries;
    if (append) {
      this.warn(DiagCode.Deprecated, "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.", it.loc, label);
      if (prev === undefined) throw new ItemError("Rule has 'append' key but no rule by that name already exists", it.loc, DiagCode.Validate);
      for (const k of e.keys()) {
        if (k === "rule" || k === "append") continue;
        if (!RULE_APPENDABLE.has(k))
          throw new ItemError(`Key '${k}' cannot be appended to, only ${[...RULE_APPENDABLE].join(", ")}`, (e.get(k) as RawEntry).keyLoc);
      }
      if (!e.has("condition") && !e.has("exceptions") && !e.has("output") && !e.has("desc") && !e.has("tags"))
        throw new ItemError("Appended rule must have exceptions or condition property", it.loc);
      this.appendRule(prev, it, new Set(e.keys()));
      return;
    }
    if (ov !== undefined) {
      if (prev === undefined) throw new ItemError("An override was specified but there is no rule by that name already", it.loc, DiagCode.Validate);
      const appendKeys = new Set<string>();
      for (const [k, op] of ov) {
        if (op === "append" && !RULE_APPENDABLE.has(k))
          throw new ItemError(`Key '${k}' cannot be appended to, only ${[...RULE_APPENDABLE].join(", ")}`, (e.get(k) as RawEntry).keyLoc);
        if (op === "replace" && !RULE_REPLACEABLE.has(k))
          throw new ItemError(`Key '${k}' cannot be replaced, only ${[...RULE_REPLACEABLE].join(", ")}`, (e.get(k) as RawEntry).keyLoc);
        if (op === "append") appendKeys.add(k);
      }
      this.appendRule(prev, it, appendKeys);
      const replaced = new Set([...ov].filter(([, op]) => op === "replace").map(([k]) => k));
      this.applyRuleKeys(prev, it, replaced);
      return;
    }
    // legacy "enable an existing rule": only `rule` and `enabled`
    if (!e.has("condition") && !e.has("output") && !e.has("desc") && !e.has("priority")) {
      if (e.has("enabled")) {
        if (prev === undefined) throw new ItemError("Rule has 'enabled' key but no rule by that name already exists", it.loc, DiagCode.Validate);
        this.warn(DiagCode.Deprecated, "The 'enabled' key without other rule keys is deprecated. Use 'override: {enabled: replace}' instead.", it.loc, label);
        prev.enabled = bool(e.get("enabled") as RawEntry, "enabled");
        return;
      }
    }
    for (const k of ["condition", "output", "desc", "priority"]) if (!e.has(k)) throw new ItemError(`Item has no mapping for key '${k}'`, it.loc);
    const info: RuleInfo = {
      name,
      cond: condText(e.get("condition") as RawEntry),
      output: "",
      outputLoc: it.loc,
      desc: "",
      priority: 0,
      source: "syscall",
      enabled: true,
      tags: [],
      exceptions: [],
      capture: false,
      captureDuration: 0,
      warnEvttypes: true,
      skipIfUnknownFilter: false,
      index: prev?.index ?? this.nextIndex++,
      loc: prev?.loc ?? it.loc,
    };
    const srcEntry = e.get("source");
    if (srcEntry !== undefined) {
      const s = str(it, "source", true) as string;
      if (prev !== undefined && s !== prev.source)
        throw new ItemError(`Rule '${name}' redefined with a different source (${s} vs ${prev.source})`, srcEntry.valueLoc, DiagCode.Validate);
      info.source = s;
    }
    this.applyRuleKeys(info, it, new Set(e.keys()));
    this.count(it.file).rules++;
    this.rules.set(name, info);
  }

  /** Sets (replaces) the given keys of a rule from an item. */
  private applyRuleKeys(r: RuleInfo, it: RawItem, keys: ReadonlySet<string>): void {
    const e = it.entries;
    for (const k of keys) {
      const en = e.get(k);
      if (en === undefined) continue;
      switch (k) {
        case "condition":
          r.cond = condText(en);
          break;
        case "output":
          r.output = (str(it, "output", false) ?? "").trim();
          r.outputLoc = en.valueLoc;
          break;
        case "desc":
          r.desc = str(it, "desc", false) ?? "";
          break;
        case "priority": {
          const p = parsePriority(typeof en.value === "string" ? en.value : "");
          if (p < 0) throw new ItemError(`Invalid priority '${String(en.value)}'`, en.valueLoc);
          r.priority = p;
          break;
        }
        case "enabled":
          r.enabled = bool(en, "enabled");
          break;
        case "tags":
          r.tags = [...new Set(stringList(en, "tags"))];
          break;
        case "exceptions":
          r.exceptions = exceptions(en, false);
          break;
        case "capture":
          r.capture = bool(en, "capture");
          break;
        case "capture_duration":
          if (typeof en.value !== "number" || !Number.isInteger(en.value) || en.value < 0)
            throw new ItemError("Value of capture_duration must be a non-negative integer (ms)", en.valueLoc);
          r.captureDuration = en.value;
          break;
        case "warn_evttypes":
          r.warnEvttypes = bool(en, "warn_evttypes");
          break;
        case "skip-if-unknown-filter":
          r.skipIfUnknownFilter = bool(en, "skip-if-unknown-filter");
          break;
        default:
          break;
      }
    }
  }

  /** Appends the given keys of an item to a rule. */
  private appendRule(r: RuleInfo, it: RawItem, keys: ReadonlySet<string>): void {
    const e = it.entries;
    for (const k of keys) {
      const en = e.get(k);
      if (en === undefined) continue;
      switch (k) {
        case "condition": {
          const c = condText(en);
          r.cond = joinCond(r.cond, c);
          break;
        }
        case "output":
          r.output = (r.output + " " + (str(it, "output", false) ?? "")).trim();
          break;
        case "desc":
          r.desc = r.desc + " " + (str(it, "desc", false) ?? "");
          break;
        case "tags":
          r.tags = [...new Set([...r.tags, ...stringList(en, "tags")])];
          break;
        case "exceptions":
          for (const x of exceptions(en, true)) {
            const old = r.exceptions.find((o) => o.name === x.name);
            if (old !== undefined) {
              if (x.fields !== undefined || x.comps !== undefined)
                throw new ItemError(`Can not append exception fields/comps to existing exception '${x.name}', only values`, x.loc);
              if (x.values.length === 0)
                this.warn(DiagCode.AppendNoValues, `Overriding/appending exception '${x.name}' with no values`, x.loc, `rule '${r.name}'`);
              old.values = old.values.concat(x.values);
            } else {
              if (x.fields === undefined) throw new ItemError(`Rule exception new item '${x.name}': must have fields property with a list of fields`, x.loc);
              if (x.values.length === 0) throw new ItemError(`Rule exception new item '${x.name}': must have values property with a list of values`, x.loc);
              r.exceptions.push(x);
            }
          }
          break;
        default:
          break;
      }
    }
  }
}

function str(it: RawItem, key: string, required: boolean): string | undefined {
  const en = it.entries.get(key);
  if (en === undefined || en.value === null || en.value === undefined) {
    if (required) throw new ItemError(`Item has no mapping for key '${key}'`, it.loc);
    return undefined;
  }
  if (typeof en.value === "number" || typeof en.value === "boolean") return String(en.value);
  if (typeof en.value !== "string") throw new ItemError(`Value of ${key} must be a string`, en.valueLoc);
  if (required && en.value === "") throw new ItemError(`Value of ${key} must not be empty`, en.valueLoc);
  return en.value;
}

function bool(en: RawEntry, key: string): boolean {
  if (typeof en.value !== "boolean") throw new ItemError(`Value of ${key} must be a boolean`, en.valueLoc);
  return en.value;
}

function stringList(en: RawEntry, key: string): string[] {
  if (en.value === null) return [];
  if (!Array.isArray(en.value)) throw new ItemError(`Value of ${key} must be a sequence`, en.valueLoc);
  const out: string[] = [];
  for (const v of en.value as unknown[]) {
    if (typeof v === "string") out.push(v);
    else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
    else throw new ItemError(`Items of ${key} must be scalars`, en.valueLoc);
  }
  return out;
}

function condText(en: RawEntry): CondText {
  if (typeof en.value === "number" || typeof en.value === "boolean") return { text: String(en.value), loc: en.valueLoc, locate: undefined };
  if (typeof en.value !== "string") throw new ItemError("Value of condition must be a string", en.valueLoc);
  return { text: en.value, loc: en.valueLoc, locate: en.locate };
}

/** Appended condition: `a + " " + b`, offsets mapped to whichever part they fall in. */
function joinCond(a: CondText, b: CondText): CondText {
  const cut = a.text.length + 1;
  return {
    text: a.text + " " + b.text,
    loc: a.loc,
    locate: (idx) => (idx < cut ? a.locate?.(idx) : b.locate?.(idx - cut)),
  };
}

function exceptions(en: RawEntry, appending: boolean): ExceptionInfo[] {
  if (en.value === null) return [];
  if (!Array.isArray(en.value)) throw new ItemError("Value of exceptions must be a sequence", en.valueLoc);
  const out: ExceptionInfo[] = [];
  for (const x of en.value as unknown[]) {
    if (x === null || typeof x !== "object" || Array.isArray(x)) throw new ItemError("Each exception must be a mapping", en.valueLoc);
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!["name", "fields", "comps", "values"].includes(k)) throw new ItemError(`Unexpected key '${k}' in exception`, en.valueLoc);
    const name = o["name"];
    if (typeof name !== "string" || name === "") throw new ItemError("Item has no mapping for key 'name' in exception", en.valueLoc);
    const fields = o["fields"];
    const comps = o["comps"];
    if (fields !== undefined && fields !== null && typeof fields !== "string" && !(Array.isArray(fields) && fields.every((f) => typeof f === "string")))
      throw new ItemError(`Rule exception '${name}': fields must be a field name or a list of field names`, en.valueLoc);
    if (comps !== undefined && comps !== null && typeof comps !== "string" && !(Array.isArray(comps) && comps.every((f) => typeof f === "string")))
      throw new ItemError(`Rule exception '${name}': comps must be an operator or a list of operators`, en.valueLoc);
    const values = o["values"];
    if (values !== undefined && values !== null && !Array.isArray(values))
      throw new ItemError(`Rule exception '${name}': values must be a sequence`, en.valueLoc);
    if (!appending && (fields === undefined || fields === null))
      throw new ItemError(`Rule exception '${name}': must have fields property with a list of fields`, en.valueLoc);
    out.push({
      name,
      fields: (fields ?? undefined) as string | string[] | undefined,
      comps: (comps ?? undefined) as string | string[] | undefined,
      values: (values ?? []) as unknown[],
      loc: en.valueLoc,
    });
  }
  const names = new Set<string>();
  for (const x of out) {
    if (names.has(x.name)) throw new ItemError(`Multiple definitions of exception '${x.name}' in the same rule`, x.loc);
    names.add(x.name);
  }
  return out;
}
