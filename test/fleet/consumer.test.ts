// SPDX-License-Identifier: Apache-2.0
/**
 * The collectors' consumer (collector/fleet/consumer.ts) against a real nats-server, with a store
 * that holds each batch until told: `store_concurrency` batches are stored at the same time and
 * never more, every message is stored once and acknowledged, and stop() waits for the batches in
 * flight.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetConsumer, type ConsumerCounters } from "../../collector/fleet/consumer.js";
import { ensureConsumer, ensureStream } from "../../collector/fleet/stream.js";
import type { PgAlertStore } from "../../collector/pg-store.js";
import { alertMessage } from "../../proto/fleet-codec.js";
import { fleetSubjects } from "../../proto/index.js";
import { fleetStreamSchema } from "../../proto/fleet-schema.js";
import { makeAlert, quiet } from "../collector/helpers.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";

const counters = (): ConsumerCounters => ({
  fleet_messages: 0,
  fleet_batches: 0,
  fleet_alerts_stored: 0,
  fleet_alerts_duplicate: 0,
  fleet_chunks_stored: 0,
  fleet_messages_bad: 0,
  fleet_redelivered: 0,
  fleet_store_errors: 0,
  fleet_consumer_errors: 0,
});

/**
 * A store whose storeBatch records how many batches are inside it at once and holds each one
 * until `target` are inside or `holdMs` passed (so a consumer allowed more never gets away with
 * fewer, and one allowed fewer cannot stall the test).
 */
function gatedStore(target: number, holdMs: number) {
  const state = { inside: 0, most: 0, seqs: [] as number[], batches: 0 };
  const held: (() => void)[] = [];
  const store = {
    async storeBatch(items: readonly { seq: number }[]) {
      state.inside++;
      state.batches++;
      state.most = Math.max(state.most, state.inside);
      await new Promise<void>((resolve) => {
        held.push(resolve);
        if (state.inside >= target) for (const r of held.splice(0)) r();
        setTimeout(resolve, holdMs);
      });
      state.inside--;
      for (const it of items) state.seqs.push(it.seq);
      return { inserted: items.map(() => ({})), duplicates: 0, chunksStored: 0 };
    },
  };
  return { store: store as unknown as PgAlertStore, state };
}

describe("fleet consumer: store_concurrency", () => {
  let nats: NatsTestCluster;
  let nc: NatsConnection;
  let n = 0;
  beforeAll(async () => {
    nats = await startNats({ nodes: 1 });
    nc = await connect({ servers: nats.urls });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.close();
  });

  /** A fresh stream holding `count` alerts; runs a consumer until all are acknowledged. */
  async function run(concurrency: number, count: number) {
    n++;
    const prefix = `c${n}`;
    const cfg = fleetStreamSchema.parse({
      stream: `S${n}`,
      consumer: `c${n}`,
      max_bytes: 64 * 1024 * 1024,
      batch: 10,
      store_concurrency: concurrency,
    });
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, cfg, prefix, quiet());
    await ensureConsumer(jsm, cfg, prefix, quiet());
    const subjects = fleetSubjects(prefix);
    const js = jetstream(nc);
    for (let i = 0; i < count; i++) {
      const m = alertMessage(subjects.alerts("t", "node-a"), makeAlert({ hostname: "node-a" }), "node-a");
      await js.publish(m.subject, m.data, { msgID: m.msgId, headers: m.headers });
    }
    const gated = gatedStore(concurrency, 300);
    const c = counters();
    const consumer = new FleetConsumer({
      nc,
      js,
      cfg,
      isCapture: subjects.isCapture,
      storedSubject: subjects.stored,
      store: gated.store,
      logger: quiet(),
      counters: c,
    });
    const end = Date.now() + 30_000;
    for (;;) {
      const ci = await jsm.consumers.info(cfg.stream, cfg.consumer);
      if (ci.num_pending === 0 && ci.num_ack_pending === 0 && c.fleet_alerts_stored >= count) break;
      if (Date.now() > end) throw new Error(`not drained: ${JSON.stringify({ ...c, pending: ci.num_pending, ackPending: ci.num_ack_pending })}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await consumer.stop();
    return { state: gated.state, counters: c };
  }

  it("stores one batch at a time with store_concurrency 1", async () => {
    const { state, counters: c } = await run(1, 60);
    expect(state.most).toBe(1);
    expect(c.fleet_alerts_stored).toBe(60);
    expect(new Set(state.seqs).size).toBe(60);
    expect(c.fleet_store_errors).toBe(0);
  });

  it("stores up to store_concurrency batches at once, each message once, all acknowledged", async () => {
    const { state, counters: c } = await run(3, 120);
    expect(state.most).toBe(3);
    expect(c.fleet_alerts_stored).toBe(120);
    expect(state.seqs.length).toBe(120);
    expect(new Set(state.seqs).size).toBe(120);
    expect(c.fleet_redelivered).toBe(0);
    expect(c.fleet_store_errors).toBe(0);
    // every batch within the batch size
    expect(state.batches).toBeGreaterThanOrEqual(12);
  });

  it("stop() waits for the batches in flight", async () => {
    n++;
    const prefix = `c${n}`;
    const cfg = fleetStreamSchema.parse({ stream: `S${n}`, consumer: `c${n}`, max_bytes: 64 * 1024 * 1024, batch: 5, store_concurrency: 2 });
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, cfg, prefix, quiet());
    await ensureConsumer(jsm, cfg, prefix, quiet());
    const subjects = fleetSubjects(prefix);
    const js = jetstream(nc);
    for (let i = 0; i < 10; i++) {
      const m = alertMessage(subjects.alerts("t", "node-a"), makeAlert({ hostname: "node-a" }), "node-a");
      await js.publish(m.subject, m.data, { msgID: m.msgId, headers: m.headers });
    }
    // each batch takes 1 s: stop() while two are inside must wait for both
    const gated = gatedStore(99, 1000);
    const c = counters();
    const consumer = new FleetConsumer({
      nc,
      js,
      cfg,
      isCapture: subjects.isCapture,
      storedSubject: subjects.stored,
      store: gated.store,
      logger: quiet(),
      counters: c,
    });
    const end = Date.now() + 10_000;
    while (gated.state.inside < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(gated.state.inside).toBe(2);
    await consumer.stop();
    // both finished (stored and counted) before stop() returned; what waited went back to JetStream
    expect(gated.state.inside).toBe(0);
    expect(c.fleet_batches).toBe(2);
    expect(c.fleet_alerts_stored).toBe(gated.state.seqs.length);
    expect(c.fleet_alerts_stored).toBeGreaterThanOrEqual(2);
  });
});
