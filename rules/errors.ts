// SPDX-License-Identifier: Apache-2.0
/**
 * Errors of the rule engine. Each carries a stable `code` usable as a metrics label and, when
 * it concerns a place in a condition or output, the offset into that text.
 */

/** Codes of rule-language errors (parse, compile and load). */
export type RuleErrorCode =
  | "PARSE"
  | "MAX_DEPTH"
  | "MAX_NODES"
  | "MAX_LIST"
  | "MAX_EXPANSION"
  | "UNKNOWN_FIELD"
  | "BAD_FIELD_ARG"
  | "BAD_OPERATOR"
  | "BAD_VALUE"
  | "BAD_REGEX"
  | "UNDEFINED_MACRO"
  | "BAD_FORMAT"
  | "UNSUPPORTED";

/** A position in a condition or output text: offset, 1-based line and column. */
export interface TextPos {
  idx: number;
  line: number;
  col: number;
}

/** An error in a condition or output string; `pos` is inside that string. */
export class RuleError extends Error {
  override readonly name: string = "RuleError";
  constructor(
    readonly code: RuleErrorCode,
    message: string,
    readonly pos: TextPos | undefined = undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Parse errors (the lexer and parser raise these). */
export class ParseError extends RuleError {
  override readonly name = "ParseError";
}

/** Compile errors (fields, operators, values). */
export class CompileError extends RuleError {
  override readonly name = "CompileError";
}
