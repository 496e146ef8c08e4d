// SPDX-License-Identifier: Apache-2.0
/**
 * One forwarder at work: it reads the store in seq order from its persistent cursor, up to the
 * settled watermark (on one collector the highest stored seq; in a fleet the shared consumer's ack
 * floor, so an alert another replica commits later with a lower seq is never skipped), keeps the
 * alerts its filters match, groups repeats, paces to its rate limit, and hands the destination
 * one batch at a time, in order.
 *
 * Delivery is at-least-once: the cursor moves (and is written to the store) only after the
 * destination accepted a batch, so a collector that dies mid-batch resends it after a restart;
 * destinations that take an idempotency key (an alert ID as document ID, a dedup key) make the
 * resend a no-op. A retryable failure is retried with exponential backoff and jitter (a
 * destination's Retry-After wins when longer) for as long as it takes: the forwarder waits, the
 * alerts wait in the store, nothing is dropped. A refusal for good (`permanentStatus`: a 4xx
 * other than 408/425/429 and the destination-wide 401/403/404/407/410) of a batch is narrowed
 * down by halving until the refused alert is alone; it goes to the dead letters with its error
 * and the rest flow on.
 *
 * In a fleet every replica runs every forwarder's runner, but only the one holding the
 * forwarder's lease sends; the others check for the lease now and then and take over when its
 * holder dies.
 */
import type { Logger } from "pino";
import { compileStarGlob } from "../filter.js";
import type { StoredAlert } from "../store-api.js";
import { DeliveryError, type DeliveryItem, type Destination } from "./destination.js";
import type { ForwarderStore, Lease } from "./state.js";
import { priorityNumber, type ForwarderConfig } from "../../proto/index.js";

/** Counters of one forwarder. */
export interface ForwarderCounters {
  /** Alerts delivered (each grouped repeat counts). */
  sent: number;
  /** Requests (batches) delivered. */
  requests: number;
  /** Sends that failed (each attempt). */
  failed: number;
  /** Retries after a retryable failure. */
  retried: number;
  /** Alerts refused for good and kept as dead letters. */
  dead_lettered: number;
  /** Alerts read and not matched by the filters (passed by the cursor). */
  filtered: number;
  /** Alerts folded into a grouped message. */
  grouped: number;
}

/** A forwarder's state for the status API. */
export interface ForwarderStatus {
  name: string;
  type: string;
  /** `running` (holds the lease), `standby` (another collector runs it), `retrying`, `stopped`. */
  state: "running" | "standby" | "retrying" | "stopped";
  cursor: number | undefined;
  watermark: number;
  counters: ForwarderCounters;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  /** Time of the alert being delivered while retrying, or the last delivered. */
  lastDeliveredAt: string | undefined;
}

/** Options of {@link ForwarderRunner}. */
export interface ForwarderRunnerOptions {
  cfg: ForwarderConfig;
  destination: Destination;
  store: ForwarderStore;
  /** The settled watermark: alerts up to it are in the store and none below it can still appear. */
  watermark: () => number;
  logger: Logger;
  /** Page of alerts read per store call. Default 500. */
  pageSize?: number;
  /** How often a standby replica tries to take the lease (ms). Default 5 s. */
  leaseRetryMs?: number;
  /** Idle poll when nothing new (ms); `wake()` cuts it short. Default 1 s. */
  idleMs?: number;
}

type Matcher = (a: StoredAlert) => boolean;

function compileMatcher(cfg: ForwarderConfig): Matcher {
  const checks: Matcher[] = [];
  if (cfg.min_priority !== undefined) {
    const max = priorityNumber(cfg.min_priority)!;
    checks.push((s) => (priorityNumber(s.alert.priority) ?? 99) <= max);
  }
  const anyGlob = (globs: readonly string[], get: (s: StoredAlert) => string | null) => {
    if (globs.length === 0) return;
    const ms = globs.map(compileStarGlob);
    checks.push((s) => {
      const v = get(s);
      return v !== null && ms.some((m) => m(v));
    });
  };
  anyGlob(cfg.rules, (s) => s.alert.rule);
  anyGlob(cfg.namespaces, (s) => s.keys.namespace);
  anyGlob(cfg.sources, (s) => s.alert.source);
  if (cfg.tags.length > 0) {
    const want = new Set(cfg.tags);
    checks.push((s) => s.alert.tags.some((t) => want.has(t)));
  }
  return (s) => {
    for (const c of checks) if (!c(s)) return false;
    return true;
  };
}

/** Runs one forwarder until stopped. */
export class ForwarderRunner {
  readonly counters: ForwarderCounters = { sent: 0, requests: 0, failed: 0, retried: 0, dead_lettered: 0, filtered: 0, grouped: 0 };
  private state: ForwarderStatus["state"] = "standby";
  private cursor: number | undefined;
  private lastError: string | undefined;
  private lastErrorAt: string | undefined;
  private lastDeliveredAt: string | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  private readonly done: Promise<void>;
  private readonly match: Matcher;
  private readonly log: Logger;
  private readonly maxBatch: number;
  private lease: Lease | undefined;
  /** Token bucket of the rate limit (messages). */
  private tokens: number;
  private refilledAt = Date.now();

  constructor(private readonly o: ForwarderRunnerOptions) {
    this.log = o.logger.child({ forwarder: o.cfg.name, type: o.cfg.type });
    this.match = compileMatcher(o.cfg);
    this.maxBatch = Math.max(1, o.cfg.batch_size > 0 ? Math.min(o.cfg.batch_size, o.destination.maxBatch) : o.destination.maxBatch);
    this.tokens = o.cfg.rate_limit_per_minute;
    this.done = this.run();
  }

  /** New alerts may be there: stop idling. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  status(): ForwarderStatus {
    return {
      name: this.o.cfg.name,
      type: this.o.cfg.type,
      state: this.state,
      cursor: this.cursor,
      watermark: this.o.watermark(),
      counters: { ...this.counters },
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastDeliveredAt: this.lastDeliveredAt,
    };
  }

  private noteError(err: unknown): void {
    this.lastError = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    this.lastErrorAt = new Date().toISOString();
  }

  private async run(): Promise<void> {
    let logged = false;
    while (!this.stopped) {
      try {
        if (this.lease === undefined || this.lease.lost) {
          this.state = "standby";
          await this.lease?.release();
          this.lease = await this.o.store.tryLease(this.o.cfg.name);
          if (this.lease === undefined) {
            await this.sleep(this.o.leaseRetryMs ?? 5000);
            continue;
          }
          this.log.info("forwarder running (lease taken)");
          this.cursor = undefined;
        }
        this.state = "running";
        if (this.cursor === undefined) {
          let c = await this.o.store.getCursor(this.o.cfg.name);
          if (c === undefined) {
            c = this.o.cfg.start === "beginning" ? 0 : this.o.watermark();
            await this.o.store.setCursor(this.o.cfg.name, c);
          }
          this.cursor = c;
        }
        const moved = await this.step();
        logged = false;
        if (!moved) await this.sleep(this.o.idleMs ?? 1000);
      } catch (err) {
        if (this.stopped) break;
        // a store failure (or a lost lease): retried after a pause, the cursor read again
        this.noteError(err);
        if (!logged) {
          logged = true;
          this.log.warn({ err }, "forwarder paused: store unavailable, retrying");
        }
        this.cursor = undefined;
        await this.sleep(2000);
      }
    }
    this.state = "stopped";
    await this.lease?.release();
  }

  /** Reads and delivers one page; false when there was nothing new. */
  private async step(): Promise<boolean> {
    const from = this.cursor!;
    const upTo = this.o.watermark();
    if (upTo <= from) return false;
    const rows = await this.o.store.range(from, upTo, this.o.pageSize ?? 500);
    if (rows.length === 0) {
      // nothing stored in (from, upTo]: the cursor moves past the gap (captures, invalid messages)
      await this.advance(upTo);
      return false;
    }
    const items = this.group(rows.filter((r) => this.match(r)));
    this.counters.filtered += rows.length - items.reduce((n, i) => n + i.count, 0);
    // grouped items stand for alerts spread over the page: the cursor moves at its end only
    const grouping = this.o.cfg.group_window_seconds > 0;
    for (let i = 0; i < items.length && !this.stopped; i += this.maxBatch) {
      const batch = items.slice(i, i + this.maxBatch);
      await this.deliver(batch);
      if (this.stopped || this.lease?.lost === true) return true;
      if (!grouping) await this.advance(batch[batch.length - 1]!.seq);
    }
    if (!this.stopped && this.lease?.lost !== true) await this.advance(rows.length < (this.o.pageSize ?? 500) ? upTo : rows[rows.length - 1]!.seq);
    return true;
  }

  private async advance(seq: number): Promise<void> {
    if (this.cursor !== undefined && seq <= this.cursor) return;
    await this.o.store.setCursor(this.o.cfg.name, seq);
    this.cursor = seq;
  }

  /** Repeats of a rule in one container within the window become one item with a count. */
  private group(rows: StoredAlert[]): DeliveryItem[] {
    const windowMs = this.o.cfg.group_window_seconds * 1000;
    if (windowMs === 0) return rows.map((s) => ({ seq: s.seq, alert: s.alert, count: 1 }));
    const out: DeliveryItem[] = [];
    const open = new Map<string, { item: DeliveryItem; startMs: number }>();
    for (const s of rows) {
      const key = `${s.alert.rule}\u0000${s.keys.containerId ?? s.alert.hostname}`;
      const t = Date.parse(s.alert.time);
      const g = open.get(key);
      if (g !== undefined && t - g.startMs <= windowMs) {
        // delivered at its first alert's place in the order, counting the repeats
        g.item.count++;
        this.counters.grouped++;
        continue;
      }
      const item: DeliveryItem = { seq: s.seq, alert: s.alert, count: 1 };
      open.set(key, { item, startMs: t });
      out.push(item);
    }
    return out;
  }

  private async takeTokens(n: number): Promise<void> {
    const perMin = this.o.cfg.rate_limit_per_minute;
    if (perMin === 0) return;
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(perMin, this.tokens + ((now - this.refilledAt) / 60_000) * perMin);
      this.refilledAt = now;
      if (this.tokens >= Math.min(n, perMin) || this.stopped) {
        this.tokens -= n;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((Math.min(n, perMin) - this.tokens) / perMin) * 60_000)));
    }
  }

  /** Delivers a batch: retries what fails for now, dead-letters what is refused for good. */
  private async deliver(batch: DeliveryItem[]): Promise<void> {
    let pending = batch;
    let backoff = this.o.cfg.retry_min_ms;
    while (pending.length > 0 && !this.stopped && this.lease?.lost !== true) {
      await this.takeTokens(pending.length);
      let retry: DeliveryItem[] = [];
      let wait: number | undefined;
      try {
        const r = await this.o.destination.send(pending, this.abort.signal);
        const failed = r?.failed ?? [];
        const bad = new Set<number>();
        for (const f of failed) {
          bad.add(f.index);
          const item = pending[f.index];
          if (item === undefined) continue;
          if (f.permanent) await this.deadLetter(item, f.error);
          else retry.push(item);
        }
        const ok = pending.filter((_, i) => !bad.has(i));
        this.delivered(ok);
        if (retry.length > 0) {
          this.counters.failed++;
          this.noteError(new Error(failed.find((f) => !f.permanent)?.error ?? "partial failure"));
        }
      } catch (err) {
        if (this.stopped) return;
        this.counters.failed++;
        this.noteError(err);
        if (err instanceof DeliveryError && err.permanent) {
          if (pending.length === 1) {
            await this.deadLetter(pending[0]!, err.message);
            pending = [];
            continue;
          }
          // which one? halves, each delivered (or narrowed down) in order
          const mid = Math.ceil(pending.length / 2);
          await this.deliver(pending.slice(0, mid));
          await this.deliver(pending.slice(mid));
          return;
        }
        retry = pending;
        wait = err instanceof DeliveryError ? err.retryAfterMs : undefined;
      }
      if (retry.length === 0) return;
      this.state = "retrying";
      this.counters.retried++;
      const jittered = backoff * (0.75 + Math.random() * 0.5);
      await this.sleepNoWake(Math.max(jittered, wait ?? 0));
      backoff = Math.min(this.o.cfg.retry_max_ms, backoff * 2);
      this.state = "running";
      pending = retry;
    }
  }

  /** A backoff pause that only stop() cuts short (its abort listener goes with it: a long outage retries thousands of times). */
  private sleepNoWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const signal = this.abort.signal;
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private delivered(items: readonly DeliveryItem[]): void {
    if (items.length === 0) return;
    this.counters.requests++;
    for (const it of items) this.counters.sent += it.count;
    this.lastDeliveredAt = items[items.length - 1]!.alert.time;
  }

  private async deadLetter(item: DeliveryItem, error: string): Promise<void> {
    this.counters.dead_lettered += item.count;
    this.log.warn({ alertId: item.alert.id, error: error.slice(0, 300) }, "alert refused for good by the destination: dead-lettered");
    await this.o.store.addDeadLetter({ forwarder: this.o.cfg.name, seq: item.seq, alertId: item.alert.id, error, atMs: Date.now() });
  }

  /** Stops after the request in flight (aborted); the cursor stays where the last delivery left it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake();
    await this.done;
    await this.o.destination.close?.();
  }
}
