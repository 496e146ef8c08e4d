// SPDX-License-Identifier: Apache-2.0
/**
 * The collector: gRPC ingest, SQLite store, query API, WebSocket tail, Falco `http_output`
 * endpoint; and the clients `vigil alerts query` / `vigil tail` use.
 */
export { startCollector } from "./server.js";
export { AlertStore } from "./store.js";
export { TailClient, queryAlerts, fetchCapture, fetchForwarders } from "./tail-client.js";
export { compileFilter, filterToSql, normalizeFilter, parseTimeBound, parseDuration } from "./filter.js";
export { formatAlertLine } from "./alert-line.js";
export { CollectorError } from "./errors.js";
export type { CollectorOptions, RunningCollector } from "./server.js";
export type { StoredAlert, StoredCapture, InsertResult } from "./store.js";
export type { AlertKeys } from "./filter.js";
export type { ForwarderStatusLine, TailClientOptions } from "./tail-client.js";
export type { CollectorErrorCode } from "./errors.js";
