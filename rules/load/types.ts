// SPDX-License-Identifier: Apache-2.0
/** Types shared by the loader stages: locations, diagnostics and collected items. */
import { priorityNumber } from "../../proto/priority.js";

/** A place in a rules file (1-based line and column). */
export interface Loc {
  file: string;
  line: number;
  col: number;
}

/** One error or warning of a load, with its place and a stable code. */
export interface Diagnostic {
  severity: "error" | "warning";
  code: string;
  message: string;
  file: string;
  line: number;
  col: number;
  /** The list, macro or rule it concerns (`rule 'Name'`). */
  item?: string;
}

/** Diagnostic codes (Falco's load_result codes, plus Vigil's own where Falco has none). */
export const DiagCode = {
  FileRead: "LOAD_ERR_FILE_READ",
  YamlParse: "LOAD_ERR_YAML_PARSE",
  YamlValidate: "LOAD_ERR_YAML_VALIDATE",
  CompileCondition: "LOAD_ERR_COMPILE_CONDITION",
  CompileOutput: "LOAD_ERR_COMPILE_OUTPUT",
  Validate: "LOAD_ERR_VALIDATE",
  Version: "LOAD_ERR_VERSION",
  UnknownSource: "LOAD_UNKNOWN_SOURCE",
  UnknownItem: "LOAD_UNKNOWN_ITEM",
  UnknownKey: "LOAD_UNKNOWN_KEY",
  NoEvttype: "LOAD_NO_EVTTYPE",
  UnknownEvttype: "LOAD_UNKNOWN_EVTTYPE",
  UnusedMacro: "LOAD_UNUSED_MACRO",
  UnusedList: "LOAD_UNUSED_LIST",
  Deprecated: "LOAD_DEPRECATED_ITEM",
  AppendNoValues: "LOAD_APPEND_NO_VALUES",
  InvalidName: "LOAD_INVALID_NAME",
  UnknownFilter: "LOAD_UNKNOWN_FILTER",
  /** An invalid rule selection entry (Falco's `rules:` list, -D/-T/-t). */
  Selection: "LOAD_ERR_SELECTION",
  /** A rule selection entry that matched no loaded rule. */
  SelectionNoMatch: "LOAD_SELECTION_NO_MATCH",
} as const;
export type DiagCode = (typeof DiagCode)[keyof typeof DiagCode];

/** Parses a priority name case-insensitively (`info` is `Informational`); -1 if unknown. */
export function parsePriority(s: string): number {
  return priorityNumber(s.trim()) ?? -1;
}

/** An exception of a rule, as written. */
export interface ExceptionInfo {
  name: string;
  fields: string | string[] | undefined;
  comps: string | string[] | undefined;
  values: unknown[];
  loc: Loc;
}

export interface ListInfo {
  name: string;
  items: string[];
  index: number;
  loc: Loc;
  used: boolean;
}

/** A condition text and where it came from (for mapping error offsets). */
export interface CondText {
  text: string;
  loc: Loc;
  /** File position of an offset in `text`, when known. */
  locate: ((idx: number) => Loc | undefined) | undefined;
}

export interface MacroInfo {
  name: string;
  cond: CondText;
  index: number;
  loc: Loc;
  used: boolean;
}

export interface RuleInfo {
  name: string;
  cond: CondText;
  output: string;
  outputLoc: Loc;
  desc: string;
  priority: number;
  source: string;
  enabled: boolean;
  tags: string[];
  exceptions: ExceptionInfo[];
  capture: boolean;
  captureDuration: number;
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  index: number;
  loc: Loc;
}
