// SPDX-License-Identifier: Apache-2.0
/**
 * The schema of the limits of the agent's own HTTP(S) servers (http-guard.ts applies them):
 * `metrics.limits` of the configuration, the admission webhook's. Only what validates a
 * configuration imports this; the defaults are also http-guard.ts's plain object
 * (test/config/runtime-defaults.test.ts keeps the two equal).
 */
import { z } from "zod";

const ms = (dflt: number, min = 100, max = 3_600_000) => z.number().int().min(min).max(max).default(dflt);

/** Limits of one agent HTTP(S) server; keys are snake_case as in the configuration file. */
export const httpLimitsSchema = z.strictObject({
  /** Open connections at once; beyond it new ones are closed at accept (`vigil_server_connections_refused_total`). */
  max_connections: z.number().int().min(1).max(100_000).default(256),
  /** All request headers must arrive within this (408, `vigil_server_connections_timed_out_total`). */
  headers_timeout_ms: ms(5_000),
  /** The whole request, body included, must arrive within this (408). */
  request_timeout_ms: ms(10_000),
  /** A kept-alive connection with no request in flight is closed after this. */
  keep_alive_timeout_ms: ms(5_000),
  /** A connection with no traffic either way is closed after this. */
  idle_timeout_ms: ms(30_000),
  /** Largest request header block (431). */
  max_header_bytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(8 * 1024),
});

/** Limits after defaults. */
export type HttpLimits = z.output<typeof httpLimitsSchema>;
/** Limits as written in a file or passed by a caller (every key optional). */
export type HttpLimitsInput = z.input<typeof httpLimitsSchema>;
