// SPDX-License-Identifier: Apache-2.0
/**
 * How an alert is written for a destination: texts made safe and bounded, Falco's priorities as
 * colours and severities, times, the link to an alert in the collector, JSON fitted under a size
 * limit, and, for the chat destinations (Slack, Teams), the facts of the default message layout
 * (title, priority colour, output, node, namespace, pod, container, time, count, link) and the
 * `template` option compiled once when the forwarder starts.
 *
 * Alert strings are attacker-controlled (a process names itself, a file path holds anything), so
 * every value shown to people is (1) sanitized: control characters become visible `\xNN` escapes
 * and the Unicode bidirectional and zero-width controls that make text read differently from what
 * it is are dropped; (2) bounded: cut to the destination's limit at a code point boundary, with
 * the cut stated in the text; (3) escaped for the target's markup by the destination, which
 * passes its escape function in the render context. Values sent as data (JSON documents, labels)
 * are only bounded ({@link truncateText}).
 */
import { Buffer } from "node:buffer";
import { normalizeTime, type Alert, type AlertFieldValue, type PriorityName } from "../../proto/index.js";
import { alertKeys } from "../filter.js";
import type { DeliveryItem } from "./destination.js";

/** Colour of each priority (`#rrggbb`): reds for the paging ones, amber for warnings, blue/green/grey below. */
export const PRIORITY_COLOURS: Readonly<Record<PriorityName, string>> = {
  Emergency: "#7b0000",
  Alert: "#b00020",
  Critical: "#d32f2f",
  Error: "#f4511e",
  Warning: "#f9a825",
  Notice: "#1e88e5",
  Informational: "#43a047",
  Debug: "#9e9e9e",
};

/** The colour of a priority (grey for an unknown one). */
export function priorityColour(p: string): string {
  return PRIORITY_COLOURS[p as PriorityName] ?? "#9e9e9e";
}

/** The four-level severity of PagerDuty (and of most Alertmanager routing trees). */
export type Severity = "critical" | "error" | "warning" | "info";

const SEVERITY: Readonly<Record<PriorityName, Severity>> = {
  Emergency: "critical",
  Alert: "critical",
  Critical: "critical",
  Error: "error",
  Warning: "warning",
  Notice: "info",
  Informational: "info",
  Debug: "info",
};

/** Falco's priority on the four-level scale: Emergency/Alert/Critical → critical, Error, Warning, and Notice/Informational/Debug → info. */
export function severityOf(p: PriorityName): Severity {
  return SEVERITY[p] ?? "info";
}

// C0 and C1 controls except tab and newline, plus the line/paragraph separators
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
// bidi embeddings, overrides and isolates (text that reads differently from what it is), the
// zero-width space, invisible operators and the BOM; ZWJ/ZWNJ and the direction marks stay (scripts need them)
const INVISIBLE = /[\u200b\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LINE_BREAKS = /\r\n?|\n|\t/g;
const visible = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
const visibleWide = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * The text with control characters shown as `\xNN` (`\u2028`...), invisible direction and
 * zero-width characters removed, and lone surrogates replaced; newlines and tabs kept, or with
 * `singleLine` turned into spaces.
 */
export function sanitizeText(s: string, singleLine = false): string {
  let out = s.replace(LINE_BREAKS, (m) => (singleLine || m === "\t" ? " " : "\n"));
  out = out.replace(CONTROLS, (c) => (c.charCodeAt(0) > 0xff ? visibleWide(c) : visible(c)));
  return out.replace(INVISIBLE, "").replace(LONE_SURROGATE, "\ufffd");
}

/** `s` cut to at most `n` UTF-16 units without splitting a surrogate pair. */
function cutAt(s: string, n: number): string {
  if (s.length <= n) return s;
  let end = Math.max(0, n);
  const c = s.charCodeAt(end - 1);
  if (end > 0 && c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end);
}

/** The sentence a cut text ends with. */
export function truncationNote(totalChars: number): string {
  return ` … [truncated: ${totalChars} characters in all]`;
}

/** Fewest characters of the text kept before the sentence; below that the cut ends in `…` alone. */
const MIN_KEPT = 16;

/** `head` cut to end within `max` units in the sentence about a text of `total` characters (or `…` when too short for it). */
function cutSaying(head: string, max: number, total: number): string {
  const note = truncationNote(total);
  if (max - note.length >= MIN_KEPT) return cutAt(head, max - note.length) + note;
  return max <= 0 ? "" : `${cutAt(head, max - 1)}…`;
}

/**
 * `s` at most `max` UTF-16 units: whole when it fits, else cut at a code point boundary and
 * ending in {@link truncationNote} (in `…` alone when `max` leaves too little room for it). For
 * values sent as data, and for text already escaped (a rendered template).
 */
export function truncateText(s: string, max: number): string {
  return s.length <= max ? s : cutSaying(s, max, s.length);
}

/**
 * A raw alert string made safe and bounded: sanitized ({@link sanitizeText}), escaped with
 * `escapeFn`, and at most `max` UTF-16 units after escaping. When it had to be cut, it ends with
 * {@link truncationNote}. Only the part that can be shown is processed (a 1 MiB output costs no
 * more than its first `max` characters).
 */
export function fitText(raw: string, max: number, escapeFn: (s: string) => string = (s) => s, singleLine = false): string {
  let budget = max;
  for (let attempt = 0; attempt < 8; attempt++) {
    const head = sanitizeText(raw.length > budget ? cutAt(raw, budget) : raw, singleLine);
    const text = raw.length <= budget && head.length <= budget ? head : cutSaying(head, budget, raw.length);
    const escaped = escapeFn(text);
    if (escaped.length <= max) return escaped;
    // escaping made it longer (`&` → `&amp;`): try again with a proportionally smaller budget
    budget = Math.max(0, Math.floor((budget * max) / escaped.length) - 1);
  }
  return escapeFn(cutAt(truncationNote(raw.length).trim(), max));
}

/** The alert's output and string output fields, each cut to `cap` characters ({@link truncateText}; at least `…` is kept). */
export function cutAlertStrings(a: Alert, cap: number): { output: string; output_fields: Record<string, AlertFieldValue> } {
  const cut = (s: string) => truncateText(s, Math.max(1, cap));
  const fields: Record<string, AlertFieldValue> = {};
  for (const [name, v] of Object.entries(a.output_fields)) fields[name] = typeof v === "string" ? cut(v) : v;
  return { output: cut(a.output), output_fields: fields };
}

/** The length of the alert's longest string among its output and output fields (the most {@link cutAlertStrings} can need). */
export function longestAlertString(a: Alert): number {
  let longest = a.output.length;
  for (const v of Object.values(a.output_fields)) if (typeof v === "string" && v.length > longest) longest = v.length;
  return longest;
}

/**
 * JSON of `build(cap)` within `maxBytes` (UTF-8). `build` returns the document with each long
 * string cut to `cap` characters ({@link truncateText}); the whole document is tried first, then
 * the largest cap that fits is found by halving (a dozen tries at most). Undefined when even
 * cap 0 does not fit.
 */
export function fitJson(build: (cap: number) => unknown, maxBytes: number, maxCap: number): { json: string; cut: boolean } | undefined {
  const whole = JSON.stringify(build(Number.POSITIVE_INFINITY));
  if (Buffer.byteLength(whole) <= maxBytes) return { json: whole, cut: false };
  let best = JSON.stringify(build(0));
  if (Buffer.byteLength(best) > maxBytes) return undefined;
  let lo = 0;
  let hi = maxCap;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const j = JSON.stringify(build(mid));
    if (Buffer.byteLength(j) <= maxBytes) {
      lo = mid;
      best = j;
    } else hi = mid - 1;
  }
  return { json: best, cut: true };
}

/** A normalized alert time (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, UTC) or undefined when it is not a time. */
export function alertTime(t: string): { iso: string; ms: number; ns: string } | undefined {
  const iso = normalizeTime(t);
  if (iso === undefined) return undefined;
  const sec = Date.parse(`${iso.slice(0, 19)}Z`) / 1000;
  const frac = iso.slice(20, 29);
  return { iso, ms: sec * 1000 + Number(frac.slice(0, 3)), ns: (BigInt(sec) * 1_000_000_000n + BigInt(frac)).toString() };
}

const TRAILING_SLASHES = /\/+$/;
const RESERVED_IN_PATH = /[!'()*]/g;

/** `<base>` without trailing slashes, then `path` (which starts with `/`). */
export function joinUrl(base: string, path: string): string {
  return base.replace(TRAILING_SLASHES, "") + path;
}

/** The alert's page in the collector, `<collector_url>/api/v1/alerts/<id>` (ID percent-encoded, `!'()*` too); `""` without a collector URL. */
export function alertLink(collectorUrl: string, id: string): string {
  if (collectorUrl === "") return "";
  const seg = encodeURIComponent(id).replace(RESERVED_IN_PATH, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return joinUrl(collectorUrl, `/api/v1/alerts/${seg}`);
}

/** The default layout's facts of one delivered item (raw strings: sanitize and escape before use). */
export interface ChatFacts {
  priority: PriorityName;
  colour: string;
  rule: string;
  /** `Critical: Terminal shell in container ×3 [blocked]` (sanitized, one line). */
  title: string;
  output: string;
  count: number;
  blocked: boolean;
  time: string;
  id: string;
  link: string;
  /** Labelled facts in display order, only those present (at most 10: Slack's limit on section fields). */
  fields: ChatField[];
}

/** One labelled fact of the default layout. */
export interface ChatField {
  key: "node" | "namespace" | "pod" | "container" | "image" | "time" | "count" | "action" | "tags" | "source";
  label: string;
  /** Raw (sanitize and escape before use). */
  value: string;
}

/** Longest fact value shown (a pod name or hostname is far shorter; a hostile one is cut). */
export const MAX_FACT_CHARS = 500;

/** The title line: priority, rule, the repeat count when grouped, and whether the action was blocked. */
export function chatTitle(a: Alert, count: number): string {
  const rule = fitText(a.rule, 200, undefined, true);
  return `${a.priority}: ${rule}${count > 1 ? ` ×${count}` : ""}${a.blocked === true ? " [blocked]" : ""}`;
}

/** The facts of the default chat layout. */
export function chatFacts(item: DeliveryItem, collectorUrl: string): ChatFacts {
  const a = item.alert;
  const k = alertKeys(a);
  const fields: ChatField[] = [];
  const add = (key: ChatField["key"], label: string, v: string | null | undefined) => {
    if (v !== null && v !== undefined && v !== "") fields.push({ key, label, value: v });
  };
  add("node", "Node", a.hostname);
  add("namespace", "Namespace", k.namespace);
  add("pod", "Pod", k.pod);
  add(
    "container",
    "Container",
    k.containerName !== null && k.containerId !== null ? `${k.containerName} (${k.containerId})` : (k.containerName ?? k.containerId),
  );
  add("image", "Image", k.image);
  add("time", "Time", a.time);
  if (item.count > 1) add("count", "Repeats", `×${item.count} (grouped)`);
  if (a.blocked === true) add("action", "Action", "blocked (the process was stopped)");
  add("tags", "Tags", a.tags.join(", "));
  add("source", "Source", a.source);
  return {
    priority: a.priority,
    colour: priorityColour(a.priority),
    rule: a.rule,
    title: chatTitle(a, item.count),
    output: a.output,
    count: item.count,
    blocked: a.blocked === true,
    time: a.time,
    id: a.id,
    link: alertLink(collectorUrl, a.id),
    fields: fields.slice(0, 10),
  };
}

/** Placeholders of the `template` option. */
export const TEMPLATE_PLACEHOLDERS = ["rule", "priority", "output", "node", "namespace", "pod", "container", "time", "id", "count", "link"] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];
const IS_PLACEHOLDER = new Set<string>(TEMPLATE_PLACEHOLDERS);

/** A `template` parsed once: literal text and placeholders in order. */
export interface CompiledTemplate {
  readonly source: string;
  readonly parts: readonly (string | { readonly name: TemplatePlaceholder })[];
}

/** How a template renders for one destination. */
export interface RenderContext {
  /** Escapes a (sanitized) value for the destination's markup; the template's own text is not escaped. */
  escape: (value: string) => string;
  /** Base URL of the collector for `{{link}}` (`""`: empty link). */
  collectorUrl: string;
  /** Longest value before escaping (longer ones are cut, saying so); default 3000. */
  maxValueChars?: number;
}

/**
 * Parses a template once (at the forwarder's creation): `{{name}}` (spaces inside allowed) for
 * the placeholders in {@link TEMPLATE_PLACEHOLDERS}; anything else, unknown names and unclosed
 * braces included, is literal text kept as written.
 */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: (string | { name: TemplatePlaceholder })[] = [];
  let literal = "";
  let i = 0;
  for (;;) {
    const open = source.indexOf("{{", i);
    if (open < 0) break;
    const close = source.indexOf("}}", open + 2);
    if (close < 0) break;
    const name = source.slice(open + 2, close).trim();
    if (IS_PLACEHOLDER.has(name)) {
      literal += source.slice(i, open);
      if (literal !== "") parts.push(literal);
      literal = "";
      parts.push({ name: name as TemplatePlaceholder });
      i = close + 2;
    } else {
      // not a placeholder: keep the first brace as text and look again from the next one ({{{rule}}})
      literal += source.slice(i, open + 1);
      i = open + 1;
    }
  }
  literal += source.slice(i);
  if (literal !== "") parts.push(literal);
  return Object.freeze({ source, parts: Object.freeze(parts) });
}

/** The raw value of a placeholder for an item. */
function placeholderValue(name: TemplatePlaceholder, item: DeliveryItem, ctx: RenderContext, keys: () => ReturnType<typeof alertKeys>): string {
  const a = item.alert;
  switch (name) {
    case "rule":
      return a.rule;
    case "priority":
      return a.priority;
    case "output":
      return a.output;
    case "node":
      return a.hostname;
    case "namespace":
      return keys().namespace ?? "";
    case "pod":
      return keys().pod ?? "";
    case "container": {
      const k = keys();
      return k.containerName ?? k.containerId ?? "";
    }
    case "time":
      return a.time;
    case "id":
      return a.id;
    case "count":
      return String(item.count);
    case "link":
      return alertLink(ctx.collectorUrl, a.id);
  }
}

/**
 * A compiled template filled in for one item: each value sanitized, bounded and escaped with
 * `ctx.escape`; missing Kubernetes values are empty. The caller bounds the whole result
 * ({@link truncateText}).
 */
export function renderTemplate(template: CompiledTemplate, item: DeliveryItem, ctx: RenderContext): string {
  let keys: ReturnType<typeof alertKeys> | undefined;
  const getKeys = () => {
    keys ??= alertKeys(item.alert);
    return keys;
  };
  const max = ctx.maxValueChars ?? 3000;
  let out = "";
  for (const p of template.parts) {
    if (typeof p === "string") out += p;
    else out += fitText(placeholderValue(p.name, item, ctx, getKeys), max, ctx.escape, p.name !== "output");
  }
  return out;
}
