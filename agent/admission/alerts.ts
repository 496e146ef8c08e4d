// SPDX-License-Identifier: Apache-2.0
/**
 * Where the webhook's admission alerts go: Falco-shaped JSON lines on stdout (the webhook logs
 * on stderr) and, when configured, a collector through the same spooled, acknowledged sink the
 * agent uses (agent/sinks/collector-sink.ts), so they land in the store, `vigil tail` and the
 * forwarders with the runtime alerts. The decision path never waits for delivery: an alert is
 * queued (bounded; overflow dropped and counted, logged once per burst) and a drain loop hands
 * batches to the sinks.
 */
import type { Logger } from "pino";
import type { Alert } from "../../proto/index.js";
import { FanoutSink } from "../sinks/fanout-sink.js";
import type { Sink } from "../sinks/types.js";

/** Alerts queued at most before new ones are dropped. */
export const MAX_QUEUED_ALERTS = 10_000;
/** Alerts handed to the sinks at once. */
const BATCH = 256;

/** Counters of the shipper. */
export interface ShipperStats {
  accepted: number;
  shipped: number;
  dropped: number;
  failed_exports: number;
  queue_depth: number;
}

/** Queues alerts and ships them to sinks in the background. */
export class AlertShipper {
  private readonly queue: Alert[] = [];
  private readonly sink: FanoutSink;
  private readonly log: Logger;
  private draining: Promise<void> | undefined;
  private dropping = false;
  private closed = false;
  private readonly s = { accepted: 0, shipped: 0, dropped: 0, failed_exports: 0 };

  constructor(
    sinks: readonly Sink[],
    logger: Logger,
    private readonly maxQueued = MAX_QUEUED_ALERTS,
  ) {
    this.sink = new FanoutSink(sinks);
    this.log = logger.child({ component: "admission-alerts" });
  }

  /** Queues one alert; false when it was dropped (queue full or closed). */
  push(a: Alert): boolean {
    if (this.closed || this.queue.length >= this.maxQueued) {
      this.s.dropped++;
      if (!this.dropping) {
        this.dropping = true;
        this.log.warn({ queued: this.queue.length }, "admission alert queue full: dropping alerts");
      }
      return false;
    }
    if (this.dropping) {
      this.dropping = false;
      this.log.info({ dropped: this.s.dropped }, "admission alert queue has room again");
    }
    this.queue.push(a);
    this.s.accepted++;
    this.kick();
    return true;
  }

  /** Starts the drain loop unless it runs (it takes what is queued meanwhile too). */
  private kick(): void {
    if (this.draining !== undefined || this.closed) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      const r = await this.sink.export(batch);
      if (r.ok) this.s.shipped += batch.length;
      else {
        this.s.failed_exports++;
        this.log.warn({ err: r.error, alerts: batch.length }, "admission alerts not exported");
      }
    }
  }

  stats(): ShipperStats {
    return { ...this.s, queue_depth: this.queue.length };
  }

  /** Exports what is queued, then shuts the sinks down. */
  async close(): Promise<void> {
    await this.draining;
    if (this.queue.length > 0) await this.drain();
    this.closed = true;
    await this.sink.forceFlush();
    await this.sink.shutdown();
  }
}
