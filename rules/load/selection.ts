// SPDX-License-Identifier: Apache-2.0
/**
 * Rule selection with Falco's semantics, applied to the compiled rules after every (re)load.
 *
 * Falco's falco.yaml `rules:` list (since 0.38; falco/userspace/falco/app/actions/load_rules_files.cpp,
 * docs "Controlling Rules"): entries `{enable|disable: {rule: PATTERN, tag: TAG}}` are commands run
 * in order over the loaded rules, so the last entry matching a rule decides its state, and they
 * override the rules files' `enabled:` value ("regardless of their enabled status in the files or any
 * override"): `enable` turns on a rule written `enabled: false`. An entry naming both `rule` and `tag`
 * applies the rule pattern first, then the tag, as Falco does. `rule` is a wildcard pattern where `*`
 * matches any run of characters (Falco `matches_wildcard`: only `*`, case-sensitive, whole name); `tag`
 * matches one tag exactly (Falco `enable_rule_by_tag`, no wildcard). Rules dropped by `priority` are not
 * loaded at all, so no entry brings them back.
 *
 * The command-line equivalents are applied after the list (Falco applies `-o rules[]...` options after
 * the file's list): `-D SUBSTRING` disables rules whose name contains SUBSTRING (a plain substring:
 * Falco's `enable_rule(substring, false)` with `match_type::substring`; `-D`, `-t`, `-T` were removed
 * from Falco in 0.39 in favour of `-o rules[]...`, so 0.38's semantics are the ones matched); `-T TAG`
 * disables rules having TAG; `-t TAG` first disables every rule then enables those having any of the
 * tags (Falco's own mapping: `rules[].disable.rule=*` then `rules[].enable.tag=TAG`). As in Falco, `-t`
 * cannot be combined with `-T` or `-D`.
 *
 * Matching is linear in the name per pattern segment (no regular expression, no backtracking beyond
 * the last `*`), and patterns and lists are bounded in length.
 */

/** What one selection entry targets: a rule name pattern, a tag, or both. */
export interface SelectionTarget {
  /** Rule name; `*` matches any run of characters. */
  rule?: string;
  /** One tag, matched exactly. */
  tag?: string;
}

/** One entry of Falco's `rules:` list. */
export type RuleSelection = { enable: SelectionTarget } | { disable: SelectionTarget };

/** Which rules run: the `rules:` list plus the `-D`/`-T`/`-t` equivalents. */
export interface RuleSelectionOptions {
  /** Falco's falco.yaml `rules:` list, applied in order. */
  selection?: readonly RuleSelection[];
  /** `-D`: disable rules whose name contains any of these substrings. */
  disableRules?: readonly string[];
  /** `-T`: disable rules having any of these tags. */
  disableTags?: readonly string[];
  /** `-t`: run only rules having any of these tags. */
  enableTags?: readonly string[];
}

/** Longest rule pattern, tag or substring accepted. */
export const MAX_SELECTION_PATTERN = 1024;
/** Most selection entries (list entries plus `-D`/`-T`/`-t` values). */
export const MAX_SELECTION_ENTRIES = 10_000;

/** A rule as selection sees it. */
export interface Selectable {
  readonly name: string;
  readonly tags: readonly string[];
}

/**
 * Whether `name` matches `pattern`, where `*` matches any run of characters (possibly empty) and every
 * other character matches itself. Greedy with one resume point: O(|pattern| × |name|) at worst.
 */
export function matchesWildcard(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern.charCodeAt(p) !== 42 && pattern.charCodeAt(p) === name.charCodeAt(n)) {
      p++;
      n++;
    } else if (p < pattern.length && pattern.charCodeAt(p) === 42) {
      star = p++;
      resume = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

function describeEntry(i: number): string {
  return `rules selection entry ${i + 1}`;
}

function checkString(v: unknown, what: string, errors: string[]): v is string {
  if (typeof v !== "string" || v === "") {
    errors.push(`${what} must be a non-empty string`);
    return false;
  }
  if (v.length > MAX_SELECTION_PATTERN) {
    errors.push(`${what} is longer than ${MAX_SELECTION_PATTERN} characters`);
    return false;
  }
  return true;
}

/**
 * Checks selection options as they come from a configuration or the command line; returns one
 * message per problem (empty when valid). Entries with a problem are skipped by {@link applySelection}.
 */
export function checkSelection(o: RuleSelectionOptions | undefined): string[] {
  const errors: string[] = [];
  if (o === undefined) return errors;
  const list = o.selection ?? [];
  if (!Array.isArray(list)) return ["rules selection must be a list"];
  const total = list.length + (o.disableRules?.length ?? 0) + (o.disableTags?.length ?? 0) + (o.enableTags?.length ?? 0);
  if (total > MAX_SELECTION_ENTRIES) errors.push(`rules selection has ${total} entries; at most ${MAX_SELECTION_ENTRIES} are accepted`);
  for (let i = 0; i < list.length && i < MAX_SELECTION_ENTRIES; i++) entryErrors(list[i], i, errors);
  for (const s of o.disableRules ?? []) checkString(s, "-D (disable rules by name substring) value", errors);
  for (const s of o.disableTags ?? []) checkString(s, "-T (disable rules by tag) value", errors);
  for (const s of o.enableTags ?? []) checkString(s, "-t (only rules with tag) value", errors);
  if ((o.enableTags?.length ?? 0) > 0 && (o.disableTags?.length ?? 0) + (o.disableRules?.length ?? 0) > 0)
    errors.push("You can not specify both disabled (-D/-T) and enabled (-t) rules");
  return errors;
}

function entryErrors(e: unknown, i: number, errors: string[]): boolean {
  const what = describeEntry(i);
  if (e === null || typeof e !== "object" || Array.isArray(e)) {
    errors.push(`${what} must be a mapping with one key, enable or disable`);
    return false;
  }
  const keys = Object.keys(e);
  if (keys.length !== 1 || (keys[0] !== "enable" && keys[0] !== "disable")) {
    errors.push(`${what} must have exactly one key, enable or disable (got ${keys.map((k) => `'${k}'`).join(", ") || "none"})`);
    return false;
  }
  const op = keys[0] as "enable" | "disable";
  const t = (e as Record<string, unknown>)[op];
  if (t === null || typeof t !== "object" || Array.isArray(t)) {
    errors.push(`${what}: ${op} must be a mapping with rule and/or tag`);
    return false;
  }
  const tk = Object.keys(t);
  const unknown = tk.filter((k) => k !== "rule" && k !== "tag");
  if (unknown.length > 0) {
    errors.push(`${what}: unknown key(s) ${unknown.map((k) => `'${k}'`).join(", ")} under ${op} (allowed: rule, tag)`);
    return false;
  }
  const target = t as Record<string, unknown>;
  if (target["rule"] === undefined && target["tag"] === undefined) {
    errors.push(`${what}: ${op} needs a rule or a tag`);
    return false;
  }
  let ok = true;
  if (target["rule"] !== undefined) ok = checkString(target["rule"], `${what}: ${op}.rule`, errors) && ok;
  if (target["tag"] !== undefined) ok = checkString(target["tag"], `${what}: ${op}.tag`, errors) && ok;
  return ok;
}

/** What applying a selection did, for reports. */
export interface SelectionOutcome {
  /** Enabled state per rule, in the order given. */
  enabled: boolean[];
  /** Messages for invalid entries (skipped). */
  errors: string[];
  /** Descriptions of valid entries that matched no rule (likely a typo). */
  unmatched: string[];
}

/**
 * Applies selection to rules whose file-given state is `initial[i]`; returns the final state. Never
 * throws: invalid entries are reported in `errors` and skipped.
 */
export function applySelection(rules: readonly Selectable[], initial: readonly boolean[], o: RuleSelectionOptions | undefined): SelectionOutcome {
  const enabled = [...initial];
  const out: SelectionOutcome = { enabled, errors: [], unmatched: [] };
  if (o === undefined) return out;
  out.errors = checkSelection(o);
  const total =
    (Array.isArray(o.selection) ? o.selection.length : 0) + (o.disableRules?.length ?? 0) + (o.disableTags?.length ?? 0) + (o.enableTags?.length ?? 0);
  // over the bound, nothing is applied (the error says why)
  if (total > MAX_SELECTION_ENTRIES) return out;
  const setWhere = (on: boolean, pred: (r: Selectable) => boolean, label: string): void => {
    let hit = false;
    for (let i = 0; i < rules.length; i++) {
      if (pred(rules[i] as Selectable)) {
        enabled[i] = on;
        hit = true;
      }
    }
    if (!hit) out.unmatched.push(label);
  };
  const list = Array.isArray(o.selection) ? o.selection : [];
  list.forEach((e, i) => {
    if (!entryErrors(e, i, [])) return;
    const on = "enable" in e;
    const t = on ? (e as { enable: SelectionTarget }).enable : (e as { disable: SelectionTarget }).disable;
    const op = on ? "enable" : "disable";
    if (t.rule !== undefined) {
      const pattern = t.rule;
      setWhere(on, (r) => matchesWildcard(pattern, r.name), `${describeEntry(i)} (${op} rule '${pattern}')`);
    }
    if (t.tag !== undefined) {
      const tag = t.tag;
      setWhere(on, (r) => r.tags.includes(tag), `${describeEntry(i)} (${op} tag '${tag}')`);
    }
  });
  const valid = (s: unknown): s is string => typeof s === "string" && s !== "" && s.length <= MAX_SELECTION_PATTERN;
  for (const s of o.disableRules ?? []) if (valid(s)) setWhere(false, (r) => r.name.includes(s), `-D '${s}'`);
  const disableTags = (o.disableTags ?? []).filter(valid);
  if (disableTags.length > 0) setWhere(false, (r) => r.tags.some((t) => disableTags.includes(t)), `-T ${disableTags.map((t) => `'${t}'`).join(" ")}`);
  const enableTags = (o.enableTags ?? []).filter(valid);
  if (enableTags.length > 0) {
    enabled.fill(false);
    setWhere(true, (r) => r.tags.some((t) => enableTags.includes(t)), `-t ${enableTags.map((t) => `'${t}'`).join(" ")}`);
  }
  return out;
}
