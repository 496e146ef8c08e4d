// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `file_output`: each alert appended to `filename` as one line (Falco's text line or JSON).
 * With `keep_alive` the file stays open between batches (a rotated file keeps being written through
 * the old descriptor, as with Falco); without it the file is opened, appended to and closed per
 * batch, so a logrotate move or copytruncate is seen at the next batch. A write that fails (the
 * directory is missing, the disk is full) is retried with backoff; alerts wait in the queue.
 * Unbuffered (Falco's default), a batch is written as soon as it is there; `buffered` gathers
 * alerts for up to a second (or a full batch) per write.
 */
import { type FileHandle, open } from "node:fs/promises";
import type { Logger } from "pino";
import type { Alert } from "../../../proto/index.js";
import type { FileSinkConfig, OutputConfig } from "../../config/outputs-schema.js";
import { formatFalco } from "./falco-format.js";
import { QueuedOutput, RetryableError } from "./queued-output.js";

/** How long a buffered output gathers alerts before writing. */
export const BUFFERED_LINGER_MS = 1000;

export class FileOutput extends QueuedOutput {
  readonly name = "file_output";
  private fh: FileHandle | undefined;

  constructor(
    private readonly cfg: Pick<FileSinkConfig, "filename" | "keep_alive">,
    private readonly output: OutputConfig,
    logger: Logger,
  ) {
    super({
      capacity: output.queue_capacity,
      maxBatch: 1000,
      retry: { minMs: 200, maxMs: 30_000 },
      lingerMs: output.buffered ? BUFFERED_LINGER_MS : 0,
      logger: logger.child({ output: "file_output" }),
    });
    if (!cfg.filename.startsWith("/")) throw new Error(`file_output filename ${JSON.stringify(cfg.filename)}: must be an absolute path`);
  }

  protected async deliver(batch: readonly Alert[]): Promise<void> {
    let text = "";
    for (const a of batch) text += `${formatFalco(a, this.output)}\n`;
    let fh = this.fh;
    try {
      fh ??= await open(this.cfg.filename, "a", 0o640);
      await fh.appendFile(text, "utf8");
    } catch (err) {
      const f = fh;
      this.fh = undefined;
      if (f !== undefined) await f.close().catch(() => undefined);
      throw new RetryableError(`${this.cfg.filename}: ${(err as Error).message}`, { cause: err });
    }
    if (this.cfg.keep_alive) this.fh = fh;
    else await fh.close();
  }

  protected async close(): Promise<void> {
    const f = this.fh;
    this.fh = undefined;
    await f?.close().catch(() => undefined);
  }
}
