// SPDX-License-Identifier: Apache-2.0
/**
 * SHA-256 of one regular file, read with a size cap. The last path component is opened with
 * O_NOFOLLOW and O_NONBLOCK, and only regular files are read, so a symlink, FIFO or device planted
 * at a watched path can neither redirect nor stall the agent.
 */
import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { open } from "node:fs/promises";

/** Result of hashing one file. */
export type HashResult =
  | { kind: "ok"; sha256: string; size: number; mtimeMs: number; ino: number; dev: number; ctimeMs: number; mode: number }
  | { kind: "missing" }
  | { kind: "not_regular" }
  | { kind: "too_large"; size: number }
  | { kind: "error"; code: string };

const CHUNK = 256 * 1024;

/**
 * Hashes `path` if it is a regular file of at most `maxBytes` bytes. Never throws. `pace`, when
 * given, is awaited after each chunk read with its size (the baseline scan's byte budget).
 */
export async function hashFile(path: string, maxBytes: number, buf?: Buffer, pace?: (bytes: number) => Promise<void>): Promise<HashResult> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "EUNKNOWN";
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    if (code === "ELOOP") return { kind: "not_regular" };
    return { kind: "error", code };
  }
  try {
    const st: Stats = await fh.stat();
    if (!st.isFile()) return { kind: "not_regular" };
    if (st.size > maxBytes) return { kind: "too_large", size: st.size };
    const h = createHash("sha256");
    const b = buf ?? Buffer.allocUnsafe(CHUNK);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(b, 0, b.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      // the file grew past the cap while we read it
      if (total > maxBytes) return { kind: "too_large", size: total };
      h.update(bytesRead === b.length ? b : b.subarray(0, bytesRead));
      if (pace !== undefined) await pace(bytesRead);
    }
    return { kind: "ok", sha256: h.digest("hex"), size: total, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev, ctimeMs: st.ctimeMs, mode: st.mode };
  } catch (err) {
    return { kind: "error", code: (err as NodeJS.ErrnoException).code ?? "EUNKNOWN" };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
