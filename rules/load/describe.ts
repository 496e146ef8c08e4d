// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's listings: `falco -L` (each rule's name and description) and `falco --list` (the fields of
 * the syscall source, grouped by field class). Layouts follow Falco 0.44 and libsinsp:
 *  - `-L` (falco/userspace/falco/app/actions/helpers_generic.cpp `format_described_rules_as_text`):
 *    rows printed as `%-50s %s`, a `Rule`/`Description` header and a `----`/`-----------` rule, the
 *    description word-wrapped (`falco::utils::wrap_text(desc, 51, 110)`: words joined by one space,
 *    each followed by a space, a new line indented by 51 spaces once a line would pass 59 characters)
 *    and followed by an empty line;
 *  - `--list` (libsinsp `filter_fieldclass_info::as_string`): per class a 31-dash line, `Field Class:`,
 *    `Description:` and `Event Sources:` labels padded to 30 columns, an empty line, then each field's
 *    name padded to 30 columns (a longer name on its own line) and its description wrapped at 90
 *    characters (width 120 less the 30-column block), continuation lines indented by 30 spaces.
 * Vigil's field table has no class metadata, so fields are grouped by name prefix into Falco's classes
 * (proc.* and thread.* are Falco's `process` class, fs.path.* is `fs.path`).
 */
import type { FieldInfo } from "../compile/fields.js";

/** A rule as the `-L` listing needs it. */
export interface DescribedRule {
  readonly name: string;
  readonly desc: string;
}

function twoColumns(l: string, r: string): string {
  return `${l.padEnd(50)} ${r}\n`;
}

/** Falco's `wrap_text`: words separated by blanks, each written with a trailing space. */
function wrapText(text: string, indent: number, lineLen: number): string {
  let out = "";
  let len = 0;
  for (const word of text.split(/\s+/)) {
    if (word === "") continue;
    if (len + word.length + 1 <= lineLen - indent) len += word.length + 1;
    else {
      out += `\n${" ".repeat(indent)}`;
      len = word.length + 1;
    }
    out += `${word} `;
  }
  return out;
}

/** `falco -L`: every rule given (the rules in force, after selection) with its description. */
export function describeRulesText(rules: readonly DescribedRule[]): string {
  let out = twoColumns("Rule", "Description") + twoColumns("----", "-----------");
  for (const r of rules) out += twoColumns(r.name, `${wrapText(r.desc, 51, 110)}\n`);
  return out;
}

/** Falco's field classes of the syscall source, in Falco's order, with the prefixes they hold. */
const FIELD_CLASSES: readonly { name: string; prefixes: readonly string[]; desc: string }[] = [
  { name: "evt", prefixes: ["evt."], desc: "These fields can be used for all event types" },
  { name: "process", prefixes: ["proc.", "thread."], desc: "Additional information about the process and thread executing the syscall event." },
  { name: "user", prefixes: ["user."], desc: "Information about the user executing the specific event." },
  { name: "group", prefixes: ["group."], desc: "Information about the user group." },
  {
    name: "container",
    prefixes: ["container."],
    desc: "Container information. If the event is not happening inside a container, both id and name will be set to 'host'.",
  },
  {
    name: "fd",
    prefixes: ["fd."],
    desc: "Every syscall that has a file descriptor in its arguments has these fields set with information related to the file.",
  },
  {
    name: "fs.path",
    prefixes: ["fs.path."],
    desc: "Every syscall that has a filesystem path in its arguments has these fields set with information related to the path arguments.",
  },
  { name: "k8s", prefixes: ["k8s."], desc: "Kubernetes context about pods and namespace name." },
];

const RIGHT_BLOCK = 30;
const WIDTH = 120;

/** libsinsp `wrapstring`: like wrap_text, at width 120 with the 30-column left block. */
function wrapString(text: string): string {
  return wrapText(text, RIGHT_BLOCK, WIDTH);
}

function classOf(name: string): string {
  for (const c of FIELD_CLASSES) if (c.prefixes.some((p) => name.startsWith(p))) return c.name;
  const dot = name.indexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

/** Options of {@link listFieldsText}. */
export interface ListFieldsOptions {
  /** Falco's `-v` with `--list`: each description starts with `(Type: T)`. */
  verbose?: boolean;
  /** Falco's `-N`: only the field names, one a line. */
  namesOnly?: boolean;
}

/** `falco --list` (the syscall source): every field given, grouped by field class. */
export function listFieldsText(fields: readonly FieldInfo[], o: ListFieldsOptions = {}): string {
  if (o.namesOnly === true) return fields.map((f) => `${f.name}\n`).join("");
  const groups = new Map<string, FieldInfo[]>();
  for (const c of FIELD_CLASSES) groups.set(c.name, []);
  for (const f of fields) {
    const c = classOf(f.name);
    let g = groups.get(c);
    if (g === undefined) {
      g = [];
      groups.set(c, g);
    }
    g.push(f);
  }
  let out = "";
  for (const [name, list] of groups) {
    if (list.length === 0) continue;
    const desc = FIELD_CLASSES.find((c) => c.name === name)?.desc ?? "";
    out += `${"-".repeat(31)}\n`;
    out += `${"Field Class:".padEnd(RIGHT_BLOCK)}${name}\n`;
    if (desc !== "") out += `${"Description:".padEnd(RIGHT_BLOCK)}${wrapString(desc)}\n`;
    out += `${"Event Sources:".padEnd(RIGHT_BLOCK)}syscall \n\n`;
    for (const f of list) {
      out += f.name.length > RIGHT_BLOCK ? `${f.name}\n${" ".repeat(RIGHT_BLOCK)}` : f.name.padEnd(RIGHT_BLOCK);
      let d = f.desc;
      if (f.arg !== "none") d = `(${f.arg === "required" ? "argument required" : "argument allowed"}${f.argDesc === undefined ? "" : `: ${f.argDesc}`}) ${d}`;
      if (o.verbose === true) d = `(Type: ${f.type}) ${d}`;
      out += `${wrapString(d)}\n`;
    }
    out += "\n";
  }
  return out;
}
