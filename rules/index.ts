// SPDX-License-Identifier: Apache-2.0
/**
 * The Falco-compatible rule engine: load rules files, evaluate events, format alerts.
 */
export { loadRuleFiles, knownEventNames } from "./load/loader.js";
export { listFields, resolveField, kubernetesIpNames, DEFAULT_FIELD_CONTEXT, FieldType } from "./compile/fields.js";
export { parseCondition, DEFAULT_LIMITS } from "./lang/parser.js";
export { DEFAULT_EXPANSION_LIMITS } from "./load/budget.js";
export { compileExpr } from "./compile/compiler.js";
export { conditionCodes } from "./compile/evttype.js";
export { compileFormat } from "./compile/formatter.js";
export { compileGlob, compilePathPrefixes } from "./compile/glob.js";
export { ENGINE_VERSION } from "./load/collector.js";
export { DiagCode, parsePriority } from "./load/types.js";
export { RuleError, ParseError, CompileError } from "./errors.js";
export type { LoadOptions, LoadResult, FileSummary } from "./load/loader.js";
export type { Diagnostic } from "./load/types.js";
export type { RuleSet, CompiledRule } from "./engine.js";
export type { FieldContext, FieldInfo, FieldValue, Getter, IpNameResolver } from "./compile/fields.js";
export type { Expr, Op } from "./lang/ast.js";
export type { ParseLimits } from "./lang/parser.js";
export type { ExpansionLimits } from "./load/budget.js";
export type { PluginRequirement } from "./load/collector.js";
export type { RuleErrorCode, TextPos } from "./errors.js";
