// SPDX-License-Identifier: Apache-2.0
/**
 * The root pino logger. Logs go to stderr (stdout carries alerts); each stage takes a
 * `child({ component })`. Messages are constant strings; data goes in the object, and
 * attacker-controlled event fields go under a nested key, never spread at top level.
 */
import { pino, type Logger } from "pino";

export type { Logger };

/** Creates the root logger writing JSON lines to stderr. */
export function createLogger(level: string = process.env["VIGIL_LOG_LEVEL"] ?? "info"): Logger {
  return pino({ level, base: { app: "vigil" } }, pino.destination({ fd: 2, sync: true }));
}
