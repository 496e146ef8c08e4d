// SPDX-License-Identifier: Apache-2.0
/**
 * The bounds of Falco's gRPC outputs server (falco-outputs-server.ts) as a zod schema: what one
 * client can make it hold. The server takes its defaults from a plain object
 * (test/config/runtime-defaults.test.ts keeps the two equal), so the agent never loads zod.
 */
import { z } from "zod";

/** What one client can make the server hold; keys are snake_case like the other limits. */
export const falcoOutputsLimitsSchema = z.strictObject({
  /** Open connections at once; beyond it new ones are closed at accept (a log line, counted). */
  max_connections: z.number().int().min(1).max(100_000).default(64),
  /** Largest request message (Falco's requests are empty); the gRPC receive limit. */
  max_receive_bytes: z
    .number()
    .int()
    .min(64)
    .max(16 * 1024 * 1024)
    .default(4 * 1024),
  /** Concurrent calls on one HTTP/2 connection. */
  max_concurrent_streams: z.number().int().min(1).max(1000).default(8),
  /** Open `sub` calls in all; more are refused with RESOURCE_EXHAUSTED. */
  max_subscribers: z.number().int().min(1).max(10_000).default(16),
  /** Unsent bytes one subscriber may have; past it the subscriber is dropped (RESOURCE_EXHAUSTED, counted). */
  subscriber_queue_bytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 ** 3)
    .default(1024 * 1024),
  /** A connection with no call in flight is closed after this. */
  idle_timeout_ms: z.number().int().min(100).max(86_400_000).default(60_000),
  /** Keepalive pings every this; a peer that does not answer within keepalive_timeout_ms is dropped. */
  keepalive_time_ms: z.number().int().min(100).max(86_400_000).default(30_000),
  keepalive_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
  /** A TLS handshake (mTLS mode) must complete within this. */
  handshake_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
});
/** Limits after defaults. */
export type FalcoOutputsLimits = z.output<typeof falcoOutputsLimitsSchema>;
/** Limits as a caller gives them (every key optional). */
export type FalcoOutputsLimitsInput = z.input<typeof falcoOutputsLimitsSchema>;
