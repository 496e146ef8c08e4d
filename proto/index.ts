// SPDX-License-Identifier: Apache-2.0
/**
 * The contracts: the shapes and wire formats shared by the agent, the collector and the tools.
 * This folder imports nothing else from the project (only node built-ins and npm packages);
 * `agent/`, `collector/` and `rules/` import it, never each other's internals for these.
 * The zod schemas of the settings (`*-schema.ts`, forwarders.ts) are re-exported as types only:
 * what validates a configuration imports them by path, and what runs (the agent) never loads zod.
 */
export { PRIORITY_NAMES, PRIORITY_WORDS, priorityName, priorityNumber } from "./priority.js";
export { ALERT_LIMITS, TIME_MAX_MS, TIME_MIN_MS, isAlertId, isoFromMs, normalizeTime, validateAlert } from "./alert.js";
export { alertFromFalcoJson, alertToFalcoJson, alertToJson } from "./falco-json.js";
export { alertFromProto, alertToProto } from "./ingest-codec.js";
export { FALCO_OUTPUTS_SERVICE, FALCO_VERSION_SERVICE, INGEST_SERVICE, falcoProto, vigilProto } from "./grpc.js";
export { countRefusal, statusCounter } from "./grpc-status-counter.js";
export { TokenCheck, isLoopbackHost, parseHostPort } from "./auth.js";
export { DEFAULT_DATA_DIR, LOCAL_TOKEN_FILE, clientToken, loadOrCreateLocalToken } from "./local-token.js";
export { DEFAULT_COLLECTOR_LIMITS, collectorLimits } from "./collector-limits.js";
export { WS_BEARER_PREFIX, WS_PROTOCOL, filterFromParams, filterToParams, tailAlertLine, tailLiveLine } from "./tail.js";
export { CaptureError, F, MAX_CAPTURE_BYTES, decodeCapture, encodeCapture } from "./capture.js";
export {
  CAPTURE_CHUNK_BYTES,
  DEFAULT_NATS_CONNECTION,
  FLEET_HEADERS,
  MAX_CAPTURE_CHUNKS,
  fleetSubjects,
  isNatsAddress,
  parseNatsServers,
  subjectToken,
} from "./fleet.js";
export type { PriorityName, PriorityWord } from "./priority.js";
export type { Alert, AlertFieldValue } from "./alert.js";
export type { ProtoAlert } from "./ingest-codec.js";
export type { FalcoProto, VigilProto } from "./grpc.js";
export type { RefusalCounters } from "./grpc-status-counter.js";
export type { CollectorLimits, CollectorLimitsInput } from "./collector-limits.js";
export type { AlertFilter, TailMessage } from "./tail.js";
export type { CaptureContainer, CaptureErrorCode, CaptureFile, EventTuple } from "./capture.js";
export type { FleetStreamConfig, NatsConnectionConfig } from "./fleet.js";
export type { ForwarderConfig, ForwarderOf, ForwarderType } from "./forwarders.js";
export type { ArgValue, SockTuple } from "./event-values.js";
// the schemas behind the settings' types, for the documentation: type-only, so nothing loads zod
export type { collectorLimitsSchema } from "./collector-limits-schema.js";
export type { fleetStreamSchema, natsConnectionSchema } from "./fleet-schema.js";
export type { forwarderSchema } from "./forwarders.js";
