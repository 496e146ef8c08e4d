// SPDX-License-Identifier: Apache-2.0
/**
 * Output formats: `%field`, `%field[arg]`, `%transformer(field)` and `%N<field>` (fixed width:
 * padded with spaces or truncated to N). The format is parsed once; a field token ends at the
 * longest prefix that names a known field. Missing values render `<NA>`. `output_fields` holds
 * every plain field token with its typed value (numbers, booleans, strings; `null` when missing),
 * transformer tokens excluded, as Falco's JSON output does.
 */
import type { SyscallEvent } from "../event.js";
import { CompileError } from "../errors.js";
import type { FieldExpr } from "../lang/ast.js";
import { parseFieldPrefix } from "../lang/parser.js";
import { DEFAULT_FIELD_CONTEXT, type FieldType, hasField, type FieldContext, type FieldValue, type Getter } from "./fields.js";
import { isNumeric, valueText } from "./operators.js";
import { bindFieldExpr } from "./transformers.js";

type JsonValue = string | number | boolean | null;

interface Token {
  /** Literal text before the field. */
  text: string;
  name: string;
  type: FieldType;
  get: Getter | undefined;
  width: number;
  inFields: boolean;
}

/** A compiled output format. */
export interface Formatter {
  /** Field names that go to output_fields, in order. */
  readonly fieldNames: readonly string[];
  /** Every field expression the format reads, transformers included (`tolower(proc.name)`), as bound. */
  readonly readNames: readonly string[];
  format(e: SyscallEvent): { message: string; fields: Record<string, JsonValue> };
}

/** Warnings found while compiling a format (e.g. deprecated `%container.info`). */
export interface FormatWarnings {
  deprecated: string[];
}

function jsonValue(type: FieldType, v: FieldValue): JsonValue {
  if (v === undefined) return null;
  if (typeof v === "number") return isNumeric(type) ? v : String(v);
  if (typeof v === "boolean") return v;
  return valueText(v);
}

/** Compiles an output format. Throws CompileError (BAD_FORMAT, UNKNOWN_FIELD...) with the offset. */
export function compileFormat(fmt: string, warnings?: FormatWarnings, ctx: FieldContext = DEFAULT_FIELD_CONTEXT): Formatter {
  const tokens: Token[] = [];
  let text = "";
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const c = fmt.charCodeAt(i);
    if (c !== 37) {
      const next = fmt.indexOf("%", i);
      const end = next < 0 ? n : next;
      text += fmt.slice(i, end);
      i = end;
      continue;
    }
    const at = i;
    i++;
    let width = 0;
    while (i < n && fmt.charCodeAt(i) >= 48 && fmt.charCodeAt(i) <= 57) width = width * 10 + (fmt.charCodeAt(i++) - 48);
    if (i >= n) throw new CompileError("BAD_FORMAT", "invalid formatting token: the format ends with '%'", { idx: at, line: 1, col: at + 1 });
    const rest = fmt.slice(i);
    const parsed = longestField(rest, ctx);
    if (parsed === undefined)
      throw new CompileError("BAD_FORMAT", `invalid formatting token at '${fmt.slice(at, at + 20)}'`, { idx: at, line: 1, col: at + 1 });
    i += parsed.length;
    const f = parsed.field;
    if (f.kind === "field" && f.name === "container.info") {
      warnings?.deprecated.push("%container.info");
      continue;
    }
    let b;
    try {
      b = bindFieldExpr(f, ctx);
    } catch (err) {
      if (err instanceof CompileError) throw new CompileError(err.code, err.message, { idx: at, line: 1, col: at + 1 }, { cause: err });
      throw err;
    }
    tokens.push({ text, name: b.name, type: b.type, get: b.get, width, inFields: !b.isTransformer });
    text = "";
  }
  const tail = text;
  const fieldNames = [...new Set(tokens.filter((t) => t.inFields).map((t) => t.name))];
  return {
    fieldNames,
    readNames: [...new Set(tokens.map((t) => t.name))],
    format(e) {
      let message = "";
      const fields: Record<string, JsonValue> = {};
      for (const t of tokens) {
        let v: FieldValue;
        try {
          v = t.get === undefined ? undefined : t.get(e);
        } catch {
          // a value that cannot be rendered (e.g. an out-of-range time) is missing, never a crash
          v = undefined;
        }
        let s = v === undefined ? "<NA>" : valueText(v);
        if (t.width > 0) s = s.length > t.width ? s.slice(0, t.width) : s.padEnd(t.width, " ");
        message += t.text + s;
        if (t.inFields) fields[t.name] = jsonValue(t.type, v);
      }
      return { message: message + tail, fields };
    },
  };
}

/**
 * The longest prefix of `s` that parses as a known field or a transformer. A field token may be
 * followed by text starting with a dot (`%evt.type.`), so unknown names are shortened at dots.
 */
function longestField(s: string, ctx: FieldContext): { field: FieldExpr; length: number } | undefined {
  const p = parseFieldPrefix(s);
  if (p === undefined) return undefined;
  if (p.field.kind === "transformer") return p;
  let name = p.field.name;
  if (hasField(name, ctx)) return p;
  while (name.lastIndexOf(".") > 0) {
    name = name.slice(0, name.lastIndexOf("."));
    if (hasField(name, ctx)) return { field: { kind: "field", name, arg: undefined, pos: p.field.pos }, length: name.length };
  }
  return p;
}
