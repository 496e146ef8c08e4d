// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's limits at run time: their defaults and the overlay of what a caller gives. The
 * schema that validates them (bounds, unknown keys) is collector-limits-schema.ts, used where a
 * configuration is read (the agent's configuration worker, `vigil collector`): the running
 * collector takes the values it is given and never loads zod.
 */
import type { CollectorLimits, CollectorLimitsInput } from "./collector-limits-schema.js";
import { withDefaults } from "./with-defaults.js";

/** The defaults (collector-limits-schema.ts documents each key and its bounds). */
export const DEFAULT_COLLECTOR_LIMITS: Readonly<CollectorLimits> = Object.freeze({
  max_connections: 2048,
  max_connections_per_ip: 512,
  first_bytes_timeout_ms: 10_000,
  headers_timeout_ms: 10_000,
  request_timeout_ms: 30_000,
  keep_alive_timeout_ms: 5_000,
  max_body_bytes: 1024 * 1024,
  max_header_bytes: 16 * 1024,
  max_message_bytes: 8 * 1024 * 1024,
  max_concurrent_streams: 16,
  idle_timeout_ms: 60_000,
  keepalive_time_ms: 30_000,
  keepalive_timeout_ms: 10_000,
  inflight_bytes: 128 * 1024 * 1024,
  max_query_limit: 100_000,
  page_bytes: 1024 * 1024,
  max_since_ms: 400 * 86_400_000,
  max_tail_clients: 256,
  tail_queue_bytes: 8 * 1024 * 1024,
  ws_max_payload: 64 * 1024,
  auth_failures_per_minute: 30,
  orphan_captures: "refuse",
});

/**
 * The defaults overlaid with `partial` (keys left out or undefined keep their default). Not
 * validated here: the configuration's schema checked the values when it was read.
 */
export function collectorLimits(partial: CollectorLimitsInput | undefined): CollectorLimits {
  return withDefaults(DEFAULT_COLLECTOR_LIMITS, partial);
}

export type { CollectorLimits, CollectorLimitsInput } from "./collector-limits-schema.js";
