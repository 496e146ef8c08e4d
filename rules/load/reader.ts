// SPDX-License-Identifier: Apache-2.0
/**
 * Reads one rules file: YAML (every document) → a list of raw items, each a map of key → value
 * with the positions of the item, of each key and of each value. Structural problems (not a
 * sequence, an item that is not a mapping) become diagnostics; nothing here throws.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import { DiagCode, type Diagnostic, type Loc } from "./types.js";

/** One key of a raw item. */
export interface RawEntry {
  value: unknown;
  keyLoc: Loc;
  valueLoc: Loc;
  /** For string scalars: the file position of an offset in the value text (folded, quoted or block). */
  locate: ((idx: number) => Loc | undefined) | undefined;
}

/** One top-level item of a rules file. */
export interface RawItem {
  file: string;
  loc: Loc;
  entries: Map<string, RawEntry>;
}

/** Most aliases a document may expand (YAML bombs are refused). */
const MAX_ALIAS_COUNT = 100;
/** Largest rules file read, in characters, whatever the configured budget says. */
export const MAX_FILE_CHARS = 64 * 1024 * 1024;
/**
 * The values of a file may expand (aliases) to at most this many nodes plus characters beyond
 * twice the file's length. The alias count alone does not bound it: one alias per item to a
 * large anchored sequence stays under any count and copies the sequence into every item.
 */
export const ALIAS_EXPANSION_ALLOWANCE = 1_000_000;

/** Parses a rules file into raw items; problems are appended to `diags`. */
export function readRulesFile(file: string, text: string, diags: Diagnostic[], maxChars: number = MAX_FILE_CHARS): RawItem[] {
  const items: RawItem[] = [];
  const limit = Math.min(maxChars, MAX_FILE_CHARS);
  if (text.length > limit) {
    diags.push({
      severity: "error",
      code: DiagCode.FileRead,
      message: `file of ${text.length} characters is larger than the limit of ${limit} (rules.limits.max_file_chars)`,
      file,
      line: 1,
      col: 1,
    });
    return items;
  }
  const budget = 2 * text.length + ALIAS_EXPANSION_ALLOWANCE;
  let spent = 0;
  const lc = new LineCounter();
  const loc = (offset: number | undefined): Loc => {
    const p = lc.linePos(offset ?? 0);
    return { file, line: p.line, col: p.col };
  };
  let docs: Document.Parsed[];
  try {
    const parsed = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    docs = Array.isArray(parsed) ? parsed : [];
  } catch (err) {
    diags.push({ severity: "error", code: DiagCode.YamlParse, message: oneLine((err as Error).message), file, line: 1, col: 1 });
    return items;
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const l = loc(e.pos[0]);
        diags.push({ severity: "error", code: DiagCode.YamlParse, message: oneLine(e.message), file, line: l.line, col: l.col });
      }
      continue;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) continue;
    if (!isSeq(root)) {
      const l = loc(root.range?.[0]);
      diags.push({ severity: "error", code: DiagCode.YamlValidate, message: "Rules content is not yaml array of objects", file, line: l.line, col: l.col });
      continue;
    }
    const sizes = new Map<unknown, number>();
    for (const it of root.items) {
      if (it === null || (isScalar(it) && (it.value === null || it.value === undefined))) continue;
      const itemLoc = loc((it as Node).range?.[0]);
      if (!isMap(it)) {
        diags.push({
          severity: "error",
          code: DiagCode.YamlValidate,
          message: "Unexpected element type. Each element should be a yaml associative array.",
          file,
          line: itemLoc.line,
          col: itemLoc.col,
        });
        continue;
      }
      const entries = new Map<string, RawEntry>();
      let bad = false;
      for (const pair of it.items) {
        const k = pair.key;
        const keyName = isScalar(k) ? k.value : undefined;
        const keyLoc = loc((k as Node | null)?.range?.[0] ?? it.range?.[0]);
        if (typeof keyName !== "string") {
          diags.push({ severity: "error", code: DiagCode.YamlValidate, message: "item keys must be strings", file, line: keyLoc.line, col: keyLoc.col });
          bad = true;
          continue;
        }
        const v = pair.value as Node | null;
        let value: unknown = null;
        // measured on the YAML tree before any of it is copied out
        let size: number;
        try {
          size = v === null ? 1 : expandedSize(v, doc, sizes);
        } catch (err) {
          // a stack overflow on absurd nesting: reported like any unreadable value
          diags.push({ severity: "error", code: DiagCode.YamlParse, message: oneLine((err as Error).message), file, line: keyLoc.line, col: keyLoc.col });
          bad = true;
          continue;
        }
        // a refused value is not charged: the items after it still load
        if (spent + size > budget) {
          diags.push({
            severity: "error",
            code: DiagCode.YamlParse,
            message: `YAML alias expansion exceeds ${budget} nodes and characters`,
            file,
            line: keyLoc.line,
            col: keyLoc.col,
          });
          bad = true;
          continue;
        }
        spent += size;
        try {
          value = v === null ? null : v.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
        } catch (err) {
          diags.push({ severity: "error", code: DiagCode.YamlParse, message: oneLine((err as Error).message), file, line: keyLoc.line, col: keyLoc.col });
          bad = true;
          continue;
        }
        const valueLoc = v === null ? keyLoc : loc(v.range?.[0]);
        let locate: RawEntry["locate"];
        if (v !== null && isScalar(v) && typeof value === "string" && v.range !== undefined && v.range !== null) {
          const start = v.range[0];
          const src = text.slice(start, v.range[1]);
          const block = v.type === "BLOCK_FOLDED" || v.type === "BLOCK_LITERAL";
          locate = locator(value, src, block, (off) => loc(start + off));
        }
        entries.set(keyName, { value, keyLoc, valueLoc, locate });
      }
      if (!bad) items.push({ file, loc: itemLoc, entries });
    }
  }
  return items;
}

/**
 * Nodes plus string characters of a YAML value with its aliases expanded, memoized per node so
 * an alias is measured once however often it is used (an alias of its own ancestor counts 1).
 */
function expandedSize(n: unknown, doc: Document.Parsed, memo: Map<unknown, number>): number {
  const known = memo.get(n);
  if (known !== undefined) return known;
  memo.set(n, 1);
  let size = 1;
  if (isAlias(n)) {
    const src = n.resolve(doc);
    size = src === undefined ? 1 : expandedSize(src, doc, memo);
  } else if (isScalar(n)) {
    const v = n.value;
    size += typeof v === "string" ? v.length : 8;
  } else if (isMap(n) || isSeq(n)) {
    for (const it of n.items as unknown[]) size += expandedSize(it, doc, memo);
  } else if (isPair(n)) {
    size += expandedSize(n.key, doc, memo) + expandedSize(n.value, doc, memo);
  }
  // one number is enough: sizes past any budget need not be exact
  memo.set(n, Math.min(size, Number.MAX_SAFE_INTEGER));
  return size;
}

/** First line of a message (YAML errors carry a source excerpt). */
export function oneLine(s: string): string {
  const first = s.split("\n")[0] ?? "";
  return first.replace(/ at line \d+, column \d+:?$/, "").trim();
}

/**
 * Maps offsets in a scalar's value back to its source text. The value's characters appear in
 * the source in order; folding, indentation, quotes and escapes only add source characters, so a
 * greedy alignment (advance the source until it holds the value's next character; a blank in the
 * value may stand for a line break and indentation) recovers each character's place. The table
 * is built on the first call (only when there is an error to place).
 */
export function locator(value: string, src: string, block: boolean, at: (srcOffset: number) => Loc): (idx: number) => Loc | undefined {
  let table: Int32Array | undefined | null;
  const build = (): Int32Array | null => {
    const map = new Int32Array(value.length + 1);
    let j = 0;
    if (block) {
      const nl = src.indexOf("\n");
      j = nl < 0 ? src.length : nl + 1;
    } else if (src.startsWith('"') || src.startsWith("'")) j = 1;
    for (let i = 0; i < value.length; i++) {
      const c = value[i] as string;
      const blank = c === " " || c === "\n" || c === "\t";
      while (j < src.length && src[j] !== c && !(blank && /\s/.test(src[j] as string))) j++;
      if (j >= src.length) return null;
      map[i] = j;
      j++;
      const next = value[i + 1];
      if (blank && next !== undefined && !/\s/.test(next)) while (j < src.length && /\s/.test(src[j] as string) && src[j] !== next) j++;
    }
    map[value.length] = j;
    return map;
  };
  return (idx) => {
    if (table === undefined) table = build();
    if (table === null || idx < 0 || idx > value.length) return undefined;
    return at(table[idx] as number);
  };
}
