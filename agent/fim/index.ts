// SPDX-License-Identifier: Apache-2.0
/** File integrity monitoring: SHA-256 before/after for alerts of rules tagged `fim`. */
export { FileIntegrity, FimOp, DEFAULT_SCAN_BYTES_PER_SECOND, DEFAULT_SCAN_CPU_PERCENT } from "./file-integrity.js";
export { ScanBudget, validateBudget } from "./budget.js";
export { WatchSet, DEFAULT_FIM_PATHS, DEFAULT_FIM_EXCLUDES } from "./watch-set.js";
export { Baseline, baselineKey, BASELINE_VERSION } from "./baseline.js";
export { hashFile } from "./hash.js";
export { rootLowerDirs, lowerDirsOf } from "./lower-layers.js";
export { FimError } from "./errors.js";
export type { FileIntegrityOptions, FimAction } from "./file-integrity.js";
export type { BaselineEntry } from "./baseline.js";
export type { HashResult } from "./hash.js";
export type { BudgetClock, ScanBudgetOptions } from "./budget.js";
export type { FimErrorCode } from "./errors.js";
