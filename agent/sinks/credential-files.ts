// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's token and CA certificate read from files before each push. A Secret mounted
 * after the agent started (an `optional` Secret volume, which the kubelet fills once the Secret
 * exists) or rotated in place is picked up without a restart; while a file cannot be read, pushes
 * fail (without a token the collector refuses them; without the CA there is no connection, never
 * a plaintext one) and the alerts wait in the spool: nothing is lost and the agent keeps alerting
 * on its other sinks. A file is re-read only when its size or modification time change, and
 * read only up to a bound.
 */
import { readFileSync, statSync } from "node:fs";
import type { Logger } from "pino";

/** A token file larger than this is refused (a token is a few dozen bytes). */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;
/** A CA file larger than this is refused (a bundle of a few hundred certificates fits). */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

/** A function returning the bytes of `file` now, or undefined; a failing spell is logged once. */
export function watchedFile(file: string, logger: Logger, what: string, maxBytes: number): () => Buffer | undefined {
  let cached: { mtimeMs: number; size: number; bytes: Buffer } | undefined;
  let failing = false;
  return () => {
    try {
      const st = statSync(file);
      if (st.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      if (cached === undefined || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
        cached = { mtimeMs: st.mtimeMs, size: st.size, bytes: readFileSync(file) };
      }
      if (failing) {
        logger.info({ file }, `${what} readable again: delivery resumes`);
        failing = false;
      }
      return cached.bytes;
    } catch (err) {
      cached = undefined;
      if (!failing) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        logger.error({ file, reason }, `cannot read the ${what}: alerts wait in the spool until it can be read`);
        failing = true;
      }
      return undefined;
    }
  };
}

/** The collector token in `file` (trimmed), read before each push. */
export function tokenFileSource(file: string, logger: Logger): () => string | undefined {
  const read = watchedFile(file, logger, "collector token file", MAX_TOKEN_FILE_BYTES);
  return () => read()?.toString("utf8").trim();
}

/** The collector's CA certificate(s) in `file`, read before each push. */
export function caFileSource(file: string, logger: Logger): () => Buffer | undefined {
  return watchedFile(file, logger, "collector CA file", MAX_CA_FILE_BYTES);
}
