// SPDX-License-Identifier: Apache-2.0
/** A real pino logger whose JSON lines are kept in memory for assertions. */
import { pino, type Logger } from "pino";

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Lines whose `msg` is exactly msg. */
  withMsg(msg: string): Record<string, unknown>[];
}

export function captureLogger(level = "debug"): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level },
    {
      write(s: string): void {
        for (const l of s.split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines, withMsg: (msg) => lines.filter((l) => l["msg"] === msg) };
}
