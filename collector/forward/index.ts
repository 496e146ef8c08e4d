// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's forwarders (`forwarders:` of `vigil collector --config FILE`): one
 * {@link ForwarderRunner} per enabled forwarder, woken whenever the store's settled watermark
 * moves, with the status the API and `vigil forwarders status` show (cursor, lag in alerts and
 * seconds, counters, last error, dead letters) and labelled metrics.
 */
import type { Logger } from "pino";
import type { Destination } from "./destination.js";
import { ForwarderRunner, type ForwarderCounters, type ForwarderStatus } from "./runner.js";
import type { DeadLetter, ForwarderStore } from "./state.js";
import type { ForwarderConfig } from "../../proto/index.js";

/** Makes a forwarder's destination (registry.ts in the collector; tests pass their own). */
export type DestinationFactory = (cfg: ForwarderConfig, ctx: { logger: Logger }) => Promise<Destination>;

/** A forwarder's status with its lag, as the API answers. */
export interface ForwarderReport extends ForwarderStatus {
  /** Alerts stored after the cursor, up to the watermark (matching or not). */
  lagAlerts: number;
  /** Age of the oldest alert after the cursor (seconds); 0 when none. */
  lagSeconds: number;
  deadLetters: number;
  /** Alerts retention deleted before this forwarder reached them (lost to it). */
  expired: number;
}

/** The running forwarders of a collector. */
export class ForwarderSet {
  private readonly runners: ForwarderRunner[] = [];

  private constructor(
    private readonly store: ForwarderStore,
    private readonly watermark: () => number,
  ) {}

  /** Creates every enabled forwarder's destination and starts its runner. A destination that cannot be made (a missing secret file) throws, naming the forwarder. */
  static async start(o: {
    forwarders: readonly ForwarderConfig[];
    store: ForwarderStore;
    watermark: () => number;
    createDestination: DestinationFactory;
    logger: Logger;
  }): Promise<ForwarderSet> {
    const set = new ForwarderSet(o.store, o.watermark);
    const log = o.logger.child({ component: "forwarders" });
    for (const cfg of o.forwarders) {
      if (!cfg.enabled) continue;
      let destination: Destination;
      try {
        destination = await o.createDestination(cfg, { logger: log.child({ forwarder: cfg.name }) });
      } catch (err) {
        await set.stop();
        throw new Error(`forwarder ${cfg.name} (${cfg.type}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      set.runners.push(new ForwarderRunner({ cfg, destination, store: o.store, watermark: o.watermark, logger: log }));
    }
    if (set.runners.length > 0) log.info({ forwarders: set.runners.map((r) => r.status().name) }, "forwarders started");
    return set;
  }

  /** New alerts are settled: every runner stops idling. */
  wake(): void {
    for (const r of this.runners) r.wake();
  }

  get size(): number {
    return this.runners.length;
  }

  /** Every forwarder's status with its lag read from the store. */
  async report(): Promise<ForwarderReport[]> {
    const out: ForwarderReport[] = [];
    const upTo = this.watermark();
    for (const r of this.runners) {
      const s = r.status();
      let lagAlerts = 0;
      let lagSeconds = 0;
      const cursor = s.cursor ?? (await this.store.getCursor(s.name));
      if (cursor !== undefined && upTo > cursor) {
        lagAlerts = await this.store.countRange(cursor, upTo);
        const next = (await this.store.range(cursor, upTo, 1))[0];
        if (next !== undefined) lagSeconds = Math.max(0, (Date.now() - Date.parse(next.alert.time)) / 1000);
      }
      out.push({
        ...s,
        cursor,
        lagAlerts,
        lagSeconds: Math.round(lagSeconds * 1000) / 1000,
        deadLetters: await this.store.deadLetterCount(s.name),
        expired: await this.store.expiredCount(s.name),
      });
    }
    return out;
  }

  /** A forwarder's newest dead letters; undefined for an unknown name. */
  async deadLetters(name: string, limit: number): Promise<DeadLetter[] | undefined> {
    if (!this.runners.some((r) => r.status().name === name)) return undefined;
    return this.store.deadLetters(name, limit);
  }

  /** Counters per forwarder (metrics). */
  counters(): { name: string; type: string; counters: ForwarderCounters; running: boolean }[] {
    return this.runners.map((r) => {
      const s = r.status();
      return { name: s.name, type: s.type, counters: s.counters, running: s.state === "running" || s.state === "retrying" };
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
  }
}
