// SPDX-License-Identifier: Apache-2.0
/**
 * Reads one rules file: YAML (every document) → a list of raw items, each a map of key → value
 * with the positions of the item, of each key and of each value. Structural problems (not a
 * sequence, an item that is not a mapping) become diagnostics; nothing here throws.
 */
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import { DiagCode, type Diagnostic, type Loc } from "./types.js";

/** One key of a raw item. */
export interface RawEntry {
  value: unknown;
  keyLoc: Loc;
  valueLoc: Loc;
  /** True when the value is a plain or quoted scalar on one line (condition offsets map to columns). */
  singleLine: boolean;
  /** For plain scalars, the column offset of the value text = valueLoc.col. */
  plain: boolean;
}

/** One top-level item of a rules file. */
export interface RawItem {
  file: string;
  loc: Loc;
  entries: Map<string, RawEntry>;
}

/** Most aliases a document may expand (YAML bombs are refused). */
const MAX_ALIAS_COUNT = 100;
/** Largest rules file read, in characters. */
export const MAX_FILE_CHARS = 64 * 1024 * 1024;

/** Parses a rules file into raw items; problems are appended to `diags`. */
export function readRulesFile(file: string, text: string, diags: Diagnostic[]): RawItem[] {
  const items: RawItem[] = [];
  if (text.length > MAX_FILE_CHARS) {
    diags.push({ severity: "error", code: DiagCode.FileRead, message: `file is larger than ${MAX_FILE_CHARS} characters`, file, line: 1, col: 1 });
    return items;
  }
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
    for (const it of root.items) {
      if (it === null || (isScalar(it) && (it.value === null || it.value === undefined))) continue;
      const itemLoc = loc((it as Node).range?.[0]);
      if (!isMap(it)) {
        diags.push({ severity: "error", code: DiagCode.YamlValidate, message: "Unexpected element type. Each element should be a yaml associative array.", file, line: itemLoc.line, col: itemLoc.col });
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
        try {
          value = v === null ? null : v.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
        } catch (err) {
          diags.push({ severity: "error", code: DiagCode.YamlParse, message: oneLine((err as Error).message), file, line: keyLoc.line, col: keyLoc.col });
          bad = true;
          continue;
        }
        const valueLoc = v === null ? keyLoc : loc(v.range?.[0]);
        let singleLine = false;
        let plain = false;
        if (v !== null && isScalar(v) && typeof value === "string") {
          plain = v.type === "PLAIN";
          const src = text.slice(v.range?.[0] ?? 0, v.range?.[1] ?? 0);
          singleLine = plain && !src.includes("\n") && src === value;
        }
        entries.set(keyName, { value, keyLoc, valueLoc, singleLine, plain });
      }
      if (!bad) items.push({ file, loc: itemLoc, entries });
    }
  }
  return items;
}

/** First line of a message (YAML errors carry a source excerpt). */
export function oneLine(s: string): string {
  const first = s.split("\n")[0] ?? "";
  return first.replace(/ at line \d+, column \d+:?$/, "").trim();
}
