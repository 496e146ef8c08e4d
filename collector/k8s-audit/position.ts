// SPDX-License-Identifier: Apache-2.0
/**
 * The CloudWatch audit reader's read position, kept in a small JSON file (by default in the
 * collector's data directory) so a restart resumes where the last run stopped.
 *
 * It holds the newest event time read (`time`, epoch ms), the earliest time ever to read
 * (`since`: the start, `now` or `beginning`), and the IDs of the log events read within the
 * overlap window before `time` (`seen`): the next poll reads from `time - overlap` (late log
 * events are stamped with their own, earlier, time) and skips those. The file is replaced
 * atomically (write, fsync, rename). A replay beyond what it remembers is harmless: alert IDs are
 * deterministic, so the store keeps one copy.
 */
import { open, readFile, rename } from "node:fs/promises";

/** Most remembered event IDs written to the file (newest kept). */
export const MAX_PERSISTED_SEEN = 20_000;

/** A read position. */
export interface ReadPosition {
  /** The log group it belongs to (a position of another group is not used). */
  logGroup: string;
  /** Never read before this (epoch ms). */
  since: number;
  /** Newest event time read (epoch ms); undefined before the first event. */
  time: number | undefined;
  /** Log event ID → its timestamp, for events in the overlap window. */
  seen: Map<string, number>;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads a position file. Undefined when it does not exist; an Error (to log) when it cannot be
 * read or is not a position (a fresh start follows either way).
 */
export async function readPosition(file: string): Promise<ReadPosition | undefined | Error> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return err as Error;
  }
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o["version"] !== 1 || typeof o["log_group"] !== "string" || !isNum(o["since"])) throw new Error("not a read position");
    const time = o["time"];
    if (time !== null && !isNum(time)) throw new Error("bad time");
    const seen = new Map<string, number>();
    const list = o["seen"];
    if (Array.isArray(list)) for (const e of list) if (Array.isArray(e) && typeof e[0] === "string" && isNum(e[1])) seen.set(e[0], e[1]);
    return { logGroup: o["log_group"], since: o["since"], time: time === null ? undefined : time, seen };
  } catch (err) {
    return new Error(`read position ${file} is unreadable: ${(err as Error).message}`);
  }
}

/** Writes a position file atomically. */
export async function writePosition(file: string, p: ReadPosition): Promise<void> {
  let seen = [...p.seen];
  if (seen.length > MAX_PERSISTED_SEEN) seen = seen.slice(seen.length - MAX_PERSISTED_SEEN);
  const text = JSON.stringify({ version: 1, log_group: p.logGroup, since: p.since, time: p.time ?? null, seen });
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
