// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's fleet mode (`vigil collector --nats ... --store postgres://...`): stateless
 * replicas between NATS JetStream and PostgreSQL.
 *
 * - At start: connect to NATS (reconnecting forever), create or validate the stream and the shared
 *   durable consumer (stream.ts), open PostgreSQL (migrations under a lock, partitions).
 * - Ingest that reaches this replica directly (gRPC pushes from agents still on the gRPC path,
 *   Falco's http_output, a Falco gRPC source) is published to JetStream like an agent's, and
 *   acknowledged to its sender once JetStream holds it: one way into the store for everything.
 * - The consumer (consumer.ts) stores what JetStream delivers; the feed (feed.ts) follows the
 *   ack floor for the live tail; queries read PostgreSQL.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { hostname as osHostname } from "node:os";
import { CollectorError } from "../errors.js";
import type { IngestCapture, IngestCounters, IngestOutcome, IngestTarget } from "../ingest.js";
import { PgAlertStore } from "../pg-store.js";
import { ackFloor, FleetFeed, type FeedCounters } from "./feed.js";
import { FleetConsumer, type ConsumerCounters } from "./consumer.js";
import { ensureConsumer, ensureStream } from "./stream.js";
import { publishBatch } from "../../proto/fleet-codec.js";
import { natsConnectOptions } from "../../proto/fleet-connect.js";
import { fleetSubjects, type Alert, type FleetStreamConfig, type NatsConnectionConfig } from "../../proto/index.js";

/** Options of {@link startFleet}. */
export interface FleetOptions {
  /** NATS servers (`nats://HOST:PORT` each). */
  servers: string[];
  nats: NatsConnectionConfig;
  stream: FleetStreamConfig;
  /** `postgres://USER@HOST:PORT/DB` (no password: it comes from `storePassword` or PGPASSWORD). */
  storeUrl: string;
  storePassword?: string | undefined;
  poolSize?: number | undefined;
  /** Retention (which day partitions to premake). */
  retentionMs: number;
  /** How long a publish waits for its PubAck (ms). Default 10 s. */
  publishTimeoutMs?: number;
  /** Floor poll period of the tail feed (ms). Default 500. */
  feedPollMs?: number;
  logger: Logger;
}

/** The fleet side of a running collector. */
export interface RunningFleet {
  store: PgAlertStore;
  /** The gRPC Push target: JetStream. */
  target: IngestTarget;
  /** Alerts from an in-process producer (Falco http_output, Falco gRPC source): to JetStream. */
  ingest(alerts: Alert[]): Promise<{ stored: number; duplicates: number }>;
  feed: FleetFeed;
  /** The settled watermark at start (the hub starts there). */
  floor: number;
  stats(): Record<string, number>;
  close(): Promise<void>;
}

async function retrying<T>(what: string, logger: Logger, fn: () => Promise<T>, isFatal: (err: unknown) => boolean): Promise<T> {
  let backoff = 500;
  let logged = false;
  for (;;) {
    try {
      const r = await fn();
      if (logged) logger.info(`${what}: ready`);
      return r;
    } catch (err) {
      if (isFatal(err)) throw err;
      if (!logged) {
        logged = true;
        logger.warn({ err }, `${what} failed, retrying until it succeeds`);
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(10_000, backoff * 2);
    }
  }
}

/** Connects, prepares the stream, the consumer and the store; starts consuming. */
export async function startFleet(o: FleetOptions): Promise<RunningFleet> {
  const logger = o.logger.child({ component: "fleet" });
  const subjects = fleetSubjects(o.nats.subject_prefix);
  const connectOpts = { ...natsConnectOptions(o.nats, o.servers, `vigil-collector ${osHostname()}`), waitOnFirstConnect: true };
  const nc: NatsConnection = await connect(connectOpts);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") logger.warn({ server: s.server }, "NATS connection lost, reconnecting");
      else if (s.type === "reconnect") logger.info({ server: s.server }, "NATS connection back");
    }
  })().catch(() => undefined);
  const conflict = (err: unknown) => err instanceof CollectorError && err.code !== "store_failed";
  const jsm = await jetstreamManager(nc);
  const js: JetStreamClient = jetstream(nc, { timeout: o.publishTimeoutMs ?? 10_000 });
  const { replicas } = await retrying("JetStream stream", logger, () => ensureStream(jsm, o.stream, o.nats.subject_prefix, logger), conflict);
  await retrying("JetStream consumer", logger, () => ensureConsumer(jsm, o.stream, o.nats.subject_prefix, logger), conflict);
  const store = await retrying(
    "PostgreSQL store",
    logger,
    () =>
      PgAlertStore.open({
        url: o.storeUrl,
        password: o.storePassword,
        ...(o.poolSize !== undefined ? { poolSize: o.poolSize } : {}),
        retentionMs: o.retentionMs,
        logger,
      }),
    () => false,
  );
  const { floor } = await retrying(
    "JetStream consumer info",
    logger,
    () => ackFloor(jsm, o.stream),
    () => false,
  );

  const consumerCounters: ConsumerCounters = {
    fleet_messages: 0,
    fleet_batches: 0,
    fleet_alerts_stored: 0,
    fleet_alerts_duplicate: 0,
    fleet_chunks_stored: 0,
    fleet_messages_bad: 0,
    fleet_redelivered: 0,
    fleet_store_errors: 0,
    fleet_consumer_errors: 0,
  };
  const feedCounters: FeedCounters = { feed_refreshes: 0, feed_alerts: 0, feed_errors: 0, fleet_pending: 0, fleet_ack_pending: 0, tail_watermark: floor };
  const pub = { fleet_published: 0, fleet_publish_duplicates: 0, fleet_publish_errors: 0 };
  const consumer = new FleetConsumer({
    nc,
    js,
    cfg: o.stream,
    isCapture: subjects.isCapture,
    storedSubject: subjects.stored,
    store,
    logger,
    counters: consumerCounters,
  });
  const feed = new FleetFeed({
    nc,
    jsm,
    cfg: o.stream,
    storedSubject: subjects.stored,
    store,
    logger,
    counters: feedCounters,
    ...(o.feedPollMs !== undefined ? { pollMs: o.feedPollMs } : {}),
  });
  const timeout = o.publishTimeoutMs ?? 10_000;
  const publish = async (node: string, alerts: Alert[], captures: IngestCapture[]) => {
    try {
      const r = await publishBatch(js, subjects.alerts(o.nats.cluster, node), subjects.captures(o.nats.cluster, node), alerts, captures, node, timeout);
      pub.fleet_published += alerts.length;
      pub.fleet_publish_duplicates += r.duplicates;
      return r;
    } catch (err) {
      pub.fleet_publish_errors++;
      throw new CollectorError("store_failed", "JetStream did not take the batch", { cause: err });
    }
  };
  const target: IngestTarget = {
    async accept(alerts: Alert[], captures: IngestCapture[], agent: string, c: IngestCounters): Promise<IngestOutcome> {
      const node = agent !== "" ? agent : (alerts[0]?.hostname ?? "_");
      const r = await publish(node, alerts, captures);
      c.captures_stored += r.ackedCaptures.length;
      return { stored: alerts.length - r.duplicates, duplicates: r.duplicates, ackedCaptures: r.ackedCaptures, rejected: [] };
    },
  };
  const ingest = async (alerts: Alert[]) => {
    const byNode = new Map<string, Alert[]>();
    for (const a of alerts) {
      const l = byNode.get(a.hostname);
      if (l) l.push(a);
      else byNode.set(a.hostname, [a]);
    }
    let stored = 0;
    let duplicates = 0;
    for (const [node, list] of byNode) {
      const r = await publish(node, list, []);
      stored += list.length - r.duplicates;
      duplicates += r.duplicates;
    }
    return { stored, duplicates };
  };
  const partitions = setInterval(
    () => void store.ensurePartitions().catch((err: unknown) => logger.warn({ err }, "premaking day partitions failed")),
    3_600_000,
  );
  partitions.unref();
  logger.info(
    { servers: o.servers, stream: o.stream.stream, consumer: o.stream.consumer, replicas, floor },
    "fleet mode: consuming from JetStream into PostgreSQL",
  );
  return {
    store,
    target,
    ingest,
    feed,
    floor,
    stats: () => ({ ...consumerCounters, ...feedCounters, ...pub }),
    close: async () => {
      clearInterval(partitions);
      feed.stop();
      await consumer.stop();
      try {
        await nc.drain();
      } catch {
        await nc.close().catch(() => undefined);
      }
      await store.close();
    },
  };
}
