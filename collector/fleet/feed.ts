// SPDX-License-Identifier: Apache-2.0
/**
 * The live tail across replicas. Every alert has the JetStream stream sequence of its message as
 * its `seq`: one order that all replicas agree on, and each node's publish order. The shared
 * consumer's ack floor is the settled watermark: every message at or below it was acknowledged,
 * and a collector acknowledges only after its store commit, so every alert at or below it is in
 * PostgreSQL, whichever replica stored it, and nothing below it can still appear.
 *
 * Each collector's feed follows the floor (on every `_stored` announcement, on a short retry
 * while an announced batch is not yet under the floor, and every `pollMs` in any case) and
 * hands the hub, in seq order, the alerts between its watermark and the new floor, read from
 * PostgreSQL once per replica, not per client. Tail clients therefore see every alert stored by
 * any replica, exactly once, in the same order on every replica, with history (PostgreSQL up to
 * the watermark) and live (above it) joined at one number.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { BurstLog } from "../burst-log.js";
import type { PgAlertStore } from "../pg-store.js";
import type { TailHub } from "../tail-hub.js";
import type { FleetStreamConfig } from "../../proto/index.js";

/** Counters of the feed. */
export interface FeedCounters {
  feed_refreshes: number;
  feed_alerts: number;
  feed_errors: number;
  /** Gauges from the last consumer info: the backlog, the unacknowledged, the watermark. */
  fleet_pending: number;
  fleet_ack_pending: number;
  tail_watermark: number;
}

/** Options of {@link FleetFeed}. */
export interface FleetFeedOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  cfg: FleetStreamConfig;
  storedSubject: string;
  store: PgAlertStore;
  logger: Logger;
  counters: FeedCounters;
  /** Floor checked at least this often (ms). Default 500. */
  pollMs?: number;
}

/** Alerts read from the store per page. */
const PAGE = 500;
/** Retry delay while an announced batch is not under the floor yet (another replica holds an earlier message). */
const CHASE_MS = 20;

/** The shared consumer's ack floor (the settled watermark), backlog and unacknowledged count. */
export async function ackFloor(jsm: JetStreamManager, cfg: FleetStreamConfig): Promise<{ floor: number; pending: number; ackPending: number }> {
  const info = await jsm.consumers.info(cfg.stream, cfg.consumer);
  return { floor: info.ack_floor.stream_seq, pending: info.num_pending, ackPending: info.num_ack_pending };
}

/** Follows the ack floor and feeds a hub. */
export class FleetFeed {
  private hub: TailHub | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  /** The highest seq announced: chased until the floor reaches it. */
  private announced = 0;
  private chase: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout;
  private readonly sub: Subscription;
  private readonly errLog: BurstLog;

  constructor(private readonly o: FleetFeedOptions) {
    this.errLog = new BurstLog(o.logger, "tail feed failed: live alerts wait for the next try");
    this.sub = o.nc.subscribe(o.storedSubject, {
      callback: (_err, msg) => {
        const top = Number(msg?.string() ?? "");
        if (Number.isSafeInteger(top) && top > this.announced) this.announced = top;
        void this.refresh();
      },
    });
    this.poll = setInterval(() => void this.refresh(), o.pollMs ?? 500);
    this.poll.unref();
  }

  /** Starts feeding `hub` (whose watermark was set to the floor when it was made). */
  attach(hub: TailHub): void {
    this.hub = hub;
    void this.refresh();
  }

  private async refresh(): Promise<void> {
    const hub = this.hub;
    if (hub === undefined || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        this.o.counters.feed_refreshes++;
        const { floor, pending, ackPending } = await ackFloor(this.o.jsm, this.o.cfg);
        this.o.counters.fleet_pending = pending;
        this.o.counters.fleet_ack_pending = ackPending;
        await this.deliverUpTo(hub, floor);
        this.o.counters.tail_watermark = hub.watermark;
        if (floor < this.announced && this.chase === undefined && !this.stopped) {
          this.chase = setTimeout(() => {
            this.chase = undefined;
            void this.refresh();
          }, CHASE_MS);
          this.chase.unref();
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.o.counters.feed_errors++;
      this.errLog.hit({ err });
    } finally {
      this.running = false;
    }
  }

  /** Hands the hub every alert with watermark < seq <= floor, in seq order. */
  private async deliverUpTo(hub: TailHub, floor: number): Promise<void> {
    while (hub.watermark < floor && !this.stopped) {
      // no client: nothing to read, only the watermark to move (a later client starts there)
      if (hub.counters.clients === 0) return hub.advance(floor);
      const rows = await this.o.store.range(hub.watermark, floor, PAGE);
      hub.publish(rows);
      this.o.counters.feed_alerts += rows.length;
      if (rows.length < PAGE) return hub.advance(floor);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    if (this.chase !== undefined) clearTimeout(this.chase);
    try {
      this.sub.unsubscribe();
    } catch {
      // connection already closed
    }
  }
}
