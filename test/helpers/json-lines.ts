// SPDX-License-Identifier: Apache-2.0
/**
 * JSON lines of a file another process is still writing (rsyslog's omfile, an output sink, a
 * program's stdout): only whole lines are parsed, since the last one may be half written.
 */
import { existsSync, readFileSync } from "node:fs";

/** The complete lines of `file` (none when it does not exist yet), each parsed as JSON. */
export function completeJsonLines<T = Record<string, unknown>>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}
