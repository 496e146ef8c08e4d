// SPDX-License-Identifier: Apache-2.0
/**
 * The contracts: the shapes and wire formats shared by the agent, the collector and the tools.
 * This folder imports nothing else from the project (only node built-ins and npm packages);
 * `agent/`, `collector/` and `rules/` import it, never each other's internals for these.
 */
export { PRIORITY_NAMES, PRIORITY_WORDS, priorityName, priorityNumber } from "./priority.js";
export { ALERT_LIMITS, TIME_MAX_MS, TIME_MIN_MS, isoFromMs, normalizeTime, validateAlert } from "./alert.js";
export { alertFromFalcoJson, alertToFalcoJson, alertToJson } from "./falco-json.js";
export { alertFromProto, alertToProto } from "./ingest-codec.js";
export type { PriorityName, PriorityWord } from "./priority.js";
export type { Alert, AlertFieldValue } from "./alert.js";
export type { ProtoAlert } from "./ingest-codec.js";
