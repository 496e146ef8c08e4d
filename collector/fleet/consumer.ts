// SPDX-License-Identifier: Apache-2.0
/**
 * The collectors' shared consumer: every replica pulls from one durable JetStream consumer, so a
 * message goes to one collector at a time; it is stored (alerts and capture chunks of a batch in
 * one PostgreSQL transaction) and acknowledged only after the commit. A collector that dies or
 * stalls mid-batch leaves its messages unacknowledged: after `ack_wait` JetStream redelivers them
 * to another replica, and the store's idempotence by alert ID (and by chunk) makes a second store
 * of the same alert a no-op. Nothing is ever dropped for being redelivered too often
 * (max_deliver is unlimited); a message that can never be stored (malformed, invalid alert) is
 * counted, logged once per burst and acknowledged like a stored one (a `term` instead left the
 * ack floor, which the live tail follows, behind it on nats-server 2.9 in one of five runs).
 *
 * Batching: messages are taken as they arrive and stored together while previous batches are in
 * flight (at most `store_concurrency` batches at a time, each at most `batch` messages in its own
 * transaction), so an idle collector stores a lone alert at once and a busy one amortizes a
 * transaction over many and overlaps one batch's commit and acknowledgement with the next one's
 * decoding and insert. The order in which batches commit does not matter: an alert's `seq` is its
 * stream sequence, and the tail follows the ack floor, not the commits. Memory is bounded: the
 * consumer stops reading while more than two batches (or 32 MiB) wait besides those in flight.
 *
 * After a batch is acknowledged (the last acknowledgement confirmed by the server, so the ack
 * floor has moved), the collector announces it on `<prefix>._stored`: the tails of every replica
 * then read what became settled (feed.ts).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { BurstLog } from "../burst-log.js";
import type { PgAlertStore } from "../pg-store.js";
import { decodeAlertMessage, decodeChunkMessage, type FleetCaptureChunk } from "../../proto/fleet-codec.js";
import type { Alert, FleetStreamConfig } from "../../proto/index.js";

/** Counters of the consumer. */
export interface ConsumerCounters {
  fleet_messages: number;
  fleet_batches: number;
  fleet_alerts_stored: number;
  fleet_alerts_duplicate: number;
  fleet_chunks_stored: number;
  fleet_messages_bad: number;
  fleet_redelivered: number;
  fleet_store_errors: number;
  fleet_consumer_errors: number;
}

/** Options of {@link FleetConsumer}. */
export interface FleetConsumerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  cfg: FleetStreamConfig;
  /** `fleetSubjects(prefix)`: which subjects carry captures, where to announce. */
  isCapture: (subject: string) => boolean;
  storedSubject: string;
  store: PgAlertStore;
  logger: Logger;
  counters: ConsumerCounters;
}

/** Most bytes waiting to be stored before the consumer stops reading. */
const MAX_WAITING_BYTES = 32 * 1024 * 1024;

/** Pulls, stores and acknowledges; `stop()` ends after the batches in flight. */
export class FleetConsumer {
  private stopped = false;
  private messages: ConsumerMessages | undefined;
  private readonly waiting: JsMsg[] = [];
  private waitingBytes = 0;
  /** Batches being stored. */
  private inFlight = 0;
  /** A batch is about to start (kick's setImmediate). */
  private scheduled = false;
  private resumeReading: (() => void) | undefined;
  private readonly done: Promise<void>;
  private readonly storeLog: BurstLog;
  private readonly badLog: BurstLog;
  private readonly log: Logger;
  private retryMs = 0;

  constructor(private readonly o: FleetConsumerOptions) {
    this.log = o.logger;
    this.storeLog = new BurstLog(this.log, "store failed: the batch is left to JetStream's redelivery and retried");
    this.badLog = new BurstLog(this.log, "unusable stream message dropped (acknowledged without storing)");
    this.done = this.run();
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      try {
        const consumer = await this.o.js.consumers.get(this.o.cfg.stream, this.o.cfg.consumer);
        this.messages = await consumer.consume({ max_messages: this.o.cfg.batch });
        backoff = 200;
        for await (const m of this.messages) {
          this.waiting.push(m);
          this.waitingBytes += m.data.length;
          this.kick();
          if (this.waiting.length > 2 * this.o.cfg.batch || this.waitingBytes > MAX_WAITING_BYTES) {
            await new Promise<void>((resolve) => (this.resumeReading = resolve));
          }
          if (this.stopped) break;
        }
      } catch (err) {
        if (this.stopped) break;
        this.o.counters.fleet_consumer_errors++;
        this.log.warn({ err }, "JetStream consumer failed, retrying");
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(5000, backoff * 2);
      }
    }
  }

  /** Starts a batch while fewer than `store_concurrency` are in flight. */
  private kick(): void {
    if (this.scheduled || this.stopped || this.waiting.length === 0 || this.inFlight >= this.o.cfg.store_concurrency) return;
    this.scheduled = true;
    // on the next turn of the event loop: what arrived in the same read joins the batch
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.waiting.splice(0, this.o.cfg.batch);
      if (batch.length === 0) return;
      for (const m of batch) this.waitingBytes -= m.data.length;
      this.inFlight++;
      void this.storeNext(batch);
      this.kick();
    });
  }

  private async storeNext(batch: JsMsg[]): Promise<void> {
    if (this.resumeReading !== undefined && this.waiting.length <= this.o.cfg.batch) {
      const r = this.resumeReading;
      this.resumeReading = undefined;
      r();
    }
    try {
      await this.storeBatch(batch);
    } catch (err) {
      // not stored: JetStream redelivers after ack_wait (here or to another replica); a short
      // pause before the next batch so a store that is down is not hammered
      this.o.counters.fleet_store_errors++;
      this.storeLog.hit({ err });
      for (const m of batch) m.nak(Math.min(this.o.cfg.ack_wait_ms, 1000));
      this.retryMs = Math.min(5000, Math.max(200, this.retryMs * 2));
      await new Promise((r) => setTimeout(r, this.retryMs));
    } finally {
      this.inFlight--;
      this.kick();
    }
  }

  private async storeBatch(batch: JsMsg[]): Promise<void> {
    const c = this.o.counters;
    const items: { seq: number; alert: Alert }[] = [];
    const chunks: FleetCaptureChunk[] = [];
    for (const m of batch) {
      c.fleet_messages++;
      if (m.redelivered) c.fleet_redelivered++;
      const d = this.o.isCapture(m.subject) ? decodeChunkMessage(m.headers, m.data) : decodeAlertMessage(m.data);
      if (d.kind === "alert") items.push({ seq: m.seq, alert: d.alert });
      else if (d.kind === "chunk") chunks.push(d.chunk);
      else {
        c.fleet_messages_bad++;
        this.badLog.hit({ subject: m.subject.slice(0, 200), seq: m.seq, reason: d.reason });
      }
    }
    const r = await this.o.store.storeBatch(items, chunks);
    this.retryMs = 0;
    c.fleet_batches++;
    c.fleet_alerts_stored += r.inserted.length;
    c.fleet_alerts_duplicate += r.duplicates;
    c.fleet_chunks_stored += r.chunksStored;
    // acknowledgements travel in order to the consumer's leader: once the last one is confirmed,
    // the ack floor covers the whole batch, and the announcement lets every tail read it
    const last = batch[batch.length - 1]!;
    let top = 0;
    for (const m of batch) {
      if (m.seq > top) top = m.seq;
      if (m !== last) m.ack();
    }
    try {
      await last.ackAck({ timeout: 5000 });
    } catch (err) {
      // stored; the acknowledgement may still arrive, else a redelivery stores nothing twice
      this.log.debug({ err }, "acknowledgement not confirmed");
    }
    try {
      this.o.nc.publish(this.o.storedSubject, String(top));
    } catch {
      // closed or draining connection: tails poll anyway
    }
  }

  /** Stops reading; resolves once the batches in flight were stored (or failed). */
  async stop(): Promise<void> {
    this.stopped = true;
    // what waits was never stored: back to JetStream now rather than after ack_wait
    for (const m of this.waiting.splice(0)) m.nak();
    this.waitingBytes = 0;
    this.resumeReading?.();
    try {
      await this.messages?.close();
    } catch {
      // already closed
    }
    await this.done;
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
