// SPDX-License-Identifier: Apache-2.0
/** Drift prevention: the policy (scope + kinds) and the controller that arms the kernel probe. */
export { PreventionController, unifiedPathOf } from "./controller.js";
export { DRIFT_KINDS, DRIFT_KIND_NAMES, PreventionPolicy, kindBits, kindNames, parseSelector } from "./policy.js";
export { PreventionError } from "./errors.js";
export { PreventionRuntime, cgroup2RootUnder } from "./runtime.js";
export type { PreventionControllerOptions, PreventionTarget } from "./controller.js";
export type { DriftKind, PreventionPolicyOptions, Selector, SelectorInput } from "./policy.js";
export type { PreventionErrorCode } from "./errors.js";
export type { PreventionConfig, PreventingSource } from "./runtime.js";
