// SPDX-License-Identifier: Apache-2.0
/**
 * What every Falco-style output shares: its own bounded queue, its own worker and its own
 * counters, so that `export()` only enqueues and returns, and a slow or dead output never holds up
 * the event path or the other outputs.
 *
 * - The queue holds at most `capacity` alerts waiting (Falco's `outputs_queue.capacity`); past it
 *   the oldest waiting alert is dropped and counted. The batch being delivered is held apart from
 *   it (at most `maxBatch` alerts more).
 * - The worker delivers a batch at a time. A delivery that fails with a {@link RetryableError}
 *   (a network error, a 5xx, a dead program) is retried, the same batch, after a backoff doubled
 *   from `retryMinMs` up to `retryMaxMs` with ±25 % jitter (or the server's Retry-After when it
 *   asks for longer); meanwhile new alerts queue up and the oldest overflow. Any other error
 *   counts the batch as failed and moves on.
 * - Counters: `sent` and `failed` alerts, `dropped` (overflow, or still queued at shutdown),
 *   `retried` (alerts re-sent after a failed attempt).
 */
import type { Logger } from "pino";
import type { Alert } from "../../../proto/index.js";
import type { ExportResult, Sink } from "../types.js";

/** A failure worth trying again: the same batch is delivered again after a backoff. */
export class RetryableError extends Error {
  /** The server's Retry-After, ms. */
  retryAfterMs: number | undefined;
  constructor(message: string, opts?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = "RetryableError";
    this.retryAfterMs = opts?.retryAfterMs;
  }
}

/** Counters of one output. */
export interface OutputStats {
  /** Alerts waiting (queue plus the batch in delivery). */
  queued: number;
  sent: number;
  failed: number;
  dropped: number;
  retried: number;
}

export interface QueuedOutputOptions {
  capacity: number;
  maxBatch: number;
  /** Retry backoff; undefined: a failed batch is never retried. */
  retry?: { minMs: number; maxMs: number };
  /** Wait this long for more alerts before delivering a batch that is not full (buffered outputs). */
  lingerMs?: number;
  /** How long shutdown() goes on delivering what is queued. */
  drainMs?: number;
  logger: Logger;
}

/** How often one output logs the same kind of failure at most. */
const LOG_EVERY_MS = 30_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The base of file, program, syslog and HTTP outputs: a subclass only delivers a batch. */
export abstract class QueuedOutput implements Sink {
  abstract readonly name: string;
  protected readonly log: Logger;
  private readonly capacity: number;
  private readonly maxBatch: number;
  private readonly retry: { minMs: number; maxMs: number } | undefined;
  private readonly lingerMs: number;
  private readonly drainMs: number;

  // the queue: q[head..] are waiting, oldest first
  private q: Alert[] = [];
  private head = 0;
  private inflight: Alert[] | undefined;
  private running = false;
  private closed = false;
  private readonly stop = new AbortController();
  private wake: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private lastLog = new Map<string, number>();
  private readonly counters = { sent: 0, failed: 0, dropped: 0, retried: 0 };

  constructor(o: QueuedOutputOptions) {
    if (!(o.capacity >= 1)) throw new Error("output queue capacity must be at least 1");
    this.capacity = o.capacity;
    this.maxBatch = Math.max(1, o.maxBatch);
    this.retry = o.retry;
    this.lingerMs = o.lingerMs ?? 0;
    this.drainMs = o.drainMs ?? 5000;
    this.log = o.logger;
  }

  /** Delivers one batch; throws {@link RetryableError} for a failure worth retrying. */
  protected abstract deliver(batch: readonly Alert[], signal: AbortSignal): Promise<void>;
  /** Releases what the output holds open (files, children, connections). */
  protected abstract close(): Promise<void>;

  /** Enqueues and returns at once: never waits for the output. */
  async export(batch: readonly Alert[]): Promise<ExportResult> {
    if (this.closed) return { ok: false, error: new Error(`${this.name}: shut down`) };
    for (const a of batch) {
      if (this.q.length - this.head >= this.capacity) {
        this.head++;
        this.counters.dropped++;
        this.warnOnce("overflow", { capacity: this.capacity }, "output queue full: dropping the oldest alerts");
      }
      this.q.push(a);
    }
    if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.head = 0;
    }
    this.kick();
    return { ok: true };
  }

  stats(): OutputStats {
    return { queued: this.q.length - this.head + (this.inflight?.length ?? 0), ...this.counters };
  }

  /** Resolves when everything queued was delivered (or given up), or after `timeoutMs`. */
  async forceFlush(timeoutMs = this.drainMs): Promise<void> {
    if (this.idle()) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(t);
        self.idleWaiters = self.idleWaiters.filter((w) => w !== done);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  /** Stops taking alerts, delivers what is queued for up to `drainMs`, counts the rest dropped, closes. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.forceFlush(this.drainMs);
    this.stop.abort();
    this.wake?.();
    // let the worker see the abort
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    const left = this.q.length - this.head + (this.inflight?.length ?? 0);
    if (left > 0) {
      this.counters.dropped += left;
      this.log.warn({ output: this.name, dropped: left }, "output shut down with alerts undelivered");
    }
    this.q = [];
    this.head = 0;
    this.inflight = undefined;
    await this.close();
  }

  private idle(): boolean {
    return this.inflight === undefined && this.q.length === this.head;
  }

  private kick(): void {
    if (this.wake !== undefined) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
    if (!this.running) {
      this.running = true;
      void this.run();
    }
  }

  /** Logs a warning of kind `key` at most once per {@link LOG_EVERY_MS}. */
  protected warnOnce(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const last = this.lastLog.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.lastLog.set(key, now);
    this.log.warn({ output: this.name, ...obj }, msg);
  }

  private take(): Alert[] {
    const n = Math.min(this.maxBatch, this.q.length - this.head);
    const b = this.q.slice(this.head, this.head + n);
    this.head += n;
    if (this.head === this.q.length) {
      this.q = [];
      this.head = 0;
    }
    return b;
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        if (this.inflight === undefined) {
          if (this.q.length === this.head) break;
          if (this.lingerMs > 0 && this.q.length - this.head < this.maxBatch && !this.closed) {
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, this.lingerMs);
              const fn = () => {
                if (this.q.length - this.head >= this.maxBatch || this.closed) {
                  clearTimeout(t);
                  resolve();
                } else this.wake = fn;
              };
              this.wake = fn;
            });
            this.wake = undefined;
          }
          this.inflight = this.take();
        }
        const batch = this.inflight;
        try {
          await this.deliver(batch, signal);
          this.counters.sent += batch.length;
          this.inflight = undefined;
          if (attempt > 0) this.log.info({ output: this.name, attempts: attempt + 1 }, "output delivering again");
          attempt = 0;
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err));
          if (signal.aborted) break;
          if (e instanceof RetryableError && this.retry !== undefined) {
            attempt++;
            this.warnOnce("retry", { err: e.message, attempt }, "output delivery failed: retrying with backoff");
            const base = Math.min(this.retry.maxMs, this.retry.minMs * 2 ** Math.min(attempt - 1, 30));
            const jittered = base * (0.75 + Math.random() * 0.5);
            const wait = Math.min(Math.max(jittered, e.retryAfterMs ?? 0), Math.max(this.retry.maxMs, this.retry.minMs));
            await sleep(wait, signal);
            if (!signal.aborted) this.counters.retried += batch.length;
          } else {
            this.counters.failed += batch.length;
            this.inflight = undefined;
            attempt = 0;
            this.warnOnce("failed", { err: e.message, alerts: batch.length }, "output delivery failed: alerts lost");
          }
        }
      }
    } finally {
      this.running = false;
      if (this.idle() || signal.aborted) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
      // alerts that came in as the loop ended
      if (!signal.aborted && !this.idle()) this.kick();
    }
  }
}
