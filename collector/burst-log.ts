// SPDX-License-Identifier: Apache-2.0
/**
 * "Log once per burst with the count": the first hit of a cap logs a warning at once; further
 * hits are only counted, and when a quiet `gapMs` has passed since the last one, one line
 * reports how many there were in the burst. A flood thus costs two log lines, not one per hit.
 */
import type { Logger } from "pino";

/** One warning per burst of hits of the same cap. */
export class BurstLog {
  private inBurst = 0;
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly gapMs = 10_000,
  ) {}

  /** Records one hit; `detail` goes into the first line of a burst. */
  hit(detail: Record<string, unknown> = {}): void {
    this.last = Date.now();
    if (this.inBurst++ === 0) {
      this.logger.warn(detail, this.message);
      this.arm();
    }
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      const quiet = Date.now() - this.last;
      if (quiet < this.gapMs) return this.arm();
      this.logger.info({ count: this.inBurst }, `${this.message}: burst over`);
      this.inBurst = 0;
      this.timer = undefined;
    }, this.gapMs);
    this.timer.unref();
  }

  /** Stops the end-of-burst timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
