// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet stream and the collectors' shared consumer against real nats-server processes (one
 * server, and a 3-node cluster): creation with the configured settings, validation of what exists
 * (in-place updates, conflicts with a message per setting), replicas chosen from the cluster, and
 * collectors starting together.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureConsumer, ensureStream } from "../../collector/fleet/stream.js";
import { CollectorError } from "../../collector/errors.js";
import type { FleetStreamConfig } from "../../proto/index.js";
import { fleetStreamSchema } from "../../proto/fleet-schema.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";
import { memoryLogger, quiet } from "./helpers.js";

const fleet = (over: Partial<FleetStreamConfig> = {}): FleetStreamConfig => fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024, ...over });

const conns: NatsConnection[] = [];
async function manager(servers: string[]): Promise<JetStreamManager> {
  const nc = await connect({ servers });
  conns.push(nc);
  return jetstreamManager(nc);
}
afterEach(async () => {
  for (const nc of conns.splice(0)) await nc.close();
});

/** The rejection of p, which must be a stream_conflict CollectorError. */
async function conflictOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CollectorError);
  expect((err as CollectorError).code).toBe("stream_conflict");
  return (err as CollectorError).message;
}

describe("fleet stream on one server", () => {
  let nats: NatsTestCluster;
  let n = 0;
  beforeAll(async () => {
    nats = await startNats({ nodes: 1 });
  });
  afterAll(async () => {
    await nats?.close();
  });
  // a fresh stream and consumer name per test: one server for the whole file
  const names = () => {
    n++;
    return { stream: `S${n}`, consumer: `c${n}`, prefix: `p${n}` };
  };

  it("creates the stream and the consumer with the configured settings, then finds them unchanged", async () => {
    const jsm = await manager(nats.urls);
    const { stream, consumer, prefix } = names();
    const cfg = fleet({
      stream,
      consumer,
      max_age_seconds: 3600,
      duplicate_window_seconds: 120,
      max_msg_bytes: 512 * 1024,
      ack_wait_ms: 7000,
      max_ack_pending: 321,
    });
    const log = memoryLogger();
    expect(await ensureStream(jsm, cfg, prefix, log.logger)).toEqual({ replicas: 1, created: true, updated: [] });
    expect(log.lines.some((l) => l["msg"] === "single NATS server: JetStream stream created with 1 replica")).toBe(true);
    const si = await jsm.streams.info(stream);
    expect(si.config).toMatchObject({
      subjects: [`${prefix}.alerts.>`, `${prefix}.captures.>`],
      storage: "file",
      retention: "workqueue",
      discard: "new",
      max_age: 3600e9,
      max_bytes: 64 * 1024 * 1024,
      max_msg_size: 512 * 1024,
      duplicate_window: 120e9,
      num_replicas: 1,
    });
    expect(await ensureConsumer(jsm, cfg, prefix, quiet())).toEqual({ created: true, updated: [] });
    const ci = await jsm.consumers.info(stream, consumer);
    expect(ci.config).toMatchObject({
      durable_name: consumer,
      ack_policy: "explicit",
      deliver_policy: "all",
      ack_wait: 7000e6,
      max_ack_pending: 321,
      max_deliver: -1,
    });
    expect(ci.config.deliver_subject ?? "").toBe("");
    expect(ci.config.filter_subject ?? "").toBe("");
    // a second collector start: nothing to do
    expect(await ensureStream(jsm, cfg, prefix, quiet())).toEqual({ replicas: 1, created: false, updated: [] });
    expect(await ensureConsumer(jsm, cfg, prefix, quiet())).toEqual({ created: false, updated: [] });
  });

  it("updates in place what JetStream can change (limits, duplicate window, ack wait, pending, max deliver)", async () => {
    const jsm = await manager(nats.urls);
    const { stream, consumer, prefix } = names();
    await ensureStream(jsm, fleet({ stream, consumer }), prefix, quiet());
    await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: "explicit", deliver_policy: "all", max_deliver: 5, ack_wait: 30e9 });
    const cfg = fleet({
      stream,
      consumer,
      max_age_seconds: 7200,
      max_bytes: 32 * 1024 * 1024,
      duplicate_window_seconds: 60,
      ack_wait_ms: 5000,
      max_ack_pending: 99,
    });
    const r = await ensureStream(jsm, cfg, prefix, quiet());
    expect(r.created).toBe(false);
    expect(r.updated).toEqual(["max_age: 604800 s → 7200 s", `max_bytes: ${64 * 1024 * 1024} → ${32 * 1024 * 1024}`, "duplicate_window: 600 s → 60 s"]);
    expect((await jsm.streams.info(stream)).config).toMatchObject({ max_age: 7200e9, max_bytes: 32 * 1024 * 1024, duplicate_window: 60e9 });
    const c = await ensureConsumer(jsm, cfg, prefix, quiet());
    expect(c.updated).toEqual(["ack_wait: 30000 ms → 5000 ms", "max_ack_pending: 1000 → 99", "max_deliver: 5 → -1 (redeliver until stored)"]);
    expect((await jsm.consumers.info(stream, consumer)).config).toMatchObject({ ack_wait: 5000e6, max_ack_pending: 99, max_deliver: -1 });
  });

  it("refuses a stream whose storage, retention, discard policy or subjects differ, naming each", async () => {
    const jsm = await manager(nats.urls);
    const { stream, prefix } = names();
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], storage: "memory", retention: "limits", discard: "old" });
    const msg = await conflictOf(ensureStream(jsm, fleet({ stream }), prefix, quiet()));
    expect(msg).toContain(`the JetStream stream ${stream} exists with settings that conflict with collector.fleet`);
    expect(msg).toContain("storage: existing memory, configured file");
    expect(msg).toContain("retention: existing limits, configured workqueue");
    expect(msg).toContain("discard: existing old, configured new");
    expect(msg).toContain(`subjects: existing [${prefix}.>], configured [${prefix}.alerts.>, ${prefix}.captures.>]`);
    expect(msg).toContain(`nats stream rm ${stream}`);
    expect(msg).toContain("collector.fleet.stream");
    // nothing was changed
    expect((await jsm.streams.info(stream)).config).toMatchObject({ storage: "memory", retention: "limits", subjects: [`${prefix}.>`] });
  });

  it("refuses a consumer of another kind or filter, naming each", async () => {
    const jsm = await manager(nats.urls);
    const { stream, consumer, prefix } = names();
    const cfg = fleet({ stream, consumer });
    await ensureStream(jsm, cfg, prefix, quiet());
    // a work-queue stream takes explicit acks and deliver-all consumers only: those cannot differ here
    await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: "explicit", deliver_subject: "somewhere", filter_subject: `${prefix}.alerts.>` });
    const msg = await conflictOf(ensureConsumer(jsm, cfg, prefix, quiet()));
    expect(msg).toContain(`the JetStream consumer ${stream}/${consumer} exists with settings that conflict with collector.fleet`);
    expect(msg).toContain("kind: existing push (deliver_subject somewhere), configured pull");
    expect(msg).toContain(`filter: existing [${prefix}.alerts.>], configured none`);
    expect(msg).toContain(`nats consumer rm ${stream} ${consumer}`);
  });

  it("names the other unfiltered consumer of the work queue that keeps ours from being created", async () => {
    const jsm = await manager(nats.urls);
    const { stream, consumer, prefix } = names();
    const cfg = fleet({ stream, consumer });
    await ensureStream(jsm, cfg, prefix, quiet());
    await jsm.consumers.add(stream, { durable_name: "someone-else", ack_policy: "explicit" });
    const msg = await conflictOf(ensureConsumer(jsm, cfg, prefix, quiet()));
    expect(msg).toContain("already has an unfiltered consumer (someone-else)");
  });

  it("refuses more than one replica on a single server", async () => {
    const jsm = await manager(nats.urls);
    const { stream, prefix } = names();
    expect(await conflictOf(ensureStream(jsm, fleet({ stream, replicas: 3 }), prefix, quiet()))).toContain("replicas > 1 not supported in non-clustered mode");
    await ensureStream(jsm, fleet({ stream }), prefix, quiet());
    expect(await conflictOf(ensureStream(jsm, fleet({ stream, replicas: 3 }), prefix, quiet()))).toContain(
      "replicas: existing 1 on a single server (not clustered), configured 3",
    );
  });

  it("refuses a duplicate window longer than the max age, and a consumer before its stream", async () => {
    const jsm = await manager(nats.urls);
    const { stream, prefix } = names();
    expect(await conflictOf(ensureStream(jsm, fleet({ stream, max_age_seconds: 60, duplicate_window_seconds: 120 }), prefix, quiet()))).toContain(
      "duplicate_window_seconds (120) must not exceed max_age_seconds (60)",
    );
    expect(await conflictOf(ensureConsumer(jsm, fleet({ stream }), prefix, quiet()))).toContain(`the JetStream stream ${stream} does not exist`);
  });

  it("collectors starting together both succeed and leave one stream and one consumer", async () => {
    const { stream, consumer, prefix } = names();
    const cfg = fleet({ stream, consumer });
    const managers = await Promise.all([1, 2, 3, 4].map(() => manager(nats.urls)));
    const results = await Promise.all(
      managers.map(async (jsm) => {
        const s = await ensureStream(jsm, cfg, prefix, quiet());
        const c = await ensureConsumer(jsm, cfg, prefix, quiet());
        return { s, c };
      }),
    );
    for (const r of results) {
      expect(r.s.replicas).toBe(1);
      expect(r.s.updated).toEqual([]);
      expect(r.c.updated).toEqual([]);
    }
    expect(results.some((r) => r.s.created)).toBe(true);
    const jsm = managers[0]!;
    expect(await jsm.streams.names(`${prefix}.alerts.>`).next()).toEqual([stream]);
    expect((await jsm.consumers.list(stream).next()).map((c) => c.name)).toEqual([consumer]);
  });
});

describe("fleet stream on a 3-node cluster", () => {
  let nats: NatsTestCluster;
  beforeAll(async () => {
    nats = await startNats({ nodes: 3 });
  });
  afterAll(async () => {
    await nats?.close();
  });

  it("auto replicas: 3 on a 3-node cluster; an explicit lower count conflicts", async () => {
    const jsm = await manager(nats.urls);
    const cfg = fleet({ stream: "R3", consumer: "c" });
    expect(await ensureStream(jsm, cfg, "r3", quiet())).toEqual({ replicas: 3, created: true, updated: [] });
    const si = await jsm.streams.info("R3");
    expect(si.config.num_replicas).toBe(3);
    expect(si.cluster?.replicas?.length).toBe(2);
    expect((await ensureConsumer(jsm, cfg, "r3", quiet())).created).toBe(true);
    const msg = await conflictOf(ensureStream(jsm, fleet({ stream: "R3", replicas: 1 }), "r3", quiet()));
    expect(msg).toContain("replicas: existing 3, configured 1 (fewer replicas are not applied automatically)");
  });

  it("auto replicas raise a stream created with 1 replica to 3; an explicit higher count is applied", async () => {
    const jsm = await manager(nats.urls);
    await jsm.streams.add({ name: "R1", subjects: ["r1.alerts.>", "r1.captures.>"], storage: "file", retention: "workqueue", discard: "new", num_replicas: 1 });
    const r = await ensureStream(jsm, fleet({ stream: "R1" }), "r1", quiet());
    expect(r.replicas).toBe(3);
    expect(r.updated).toContain("replicas: 1 → 3");
    expect((await jsm.streams.info("R1")).config.num_replicas).toBe(3);

    await jsm.streams.add({ name: "R2", subjects: ["r2.alerts.>", "r2.captures.>"], storage: "file", retention: "workqueue", discard: "new", num_replicas: 1 });
    const r2 = await ensureStream(jsm, fleet({ stream: "R2", replicas: 3 }), "r2", quiet());
    expect(r2.replicas).toBe(3);
    expect(r2.updated).toContain("replicas: 1 → 3");
  });

  it("a max_bytes larger than the servers' file store is an error naming the setting, not a stream with 1 replica", async () => {
    const jsm = await manager(nats.urls);
    // the helper's servers have 1 GiB of JetStream file store each
    const msg = await conflictOf(ensureStream(jsm, fleet({ stream: "BIG", max_bytes: 2 * 1024 ** 3 }), "big", quiet()));
    expect(msg).toContain("cannot create the JetStream stream BIG: no suitable peers for placement, insufficient storage");
    expect(msg).toContain(`collector.fleet.max_bytes ${2 * 1024 ** 3} must fit in the JetStream max_file_store`);
    expect(await jsm.streams.names("big.alerts.>").next()).toEqual([]);
  });

  it("collectors on different servers starting together both succeed", async () => {
    const cfg = fleet({ stream: "RACE", consumer: "shared" });
    const managers = await Promise.all(nats.urls.map((u) => manager([u])));
    const results = await Promise.all(
      managers.map(async (jsm) => ({ s: await ensureStream(jsm, cfg, "race", quiet()), c: await ensureConsumer(jsm, cfg, "race", quiet()) })),
    );
    for (const r of results) expect(r.s.replicas).toBe(3);
    const ci = await managers[0]!.consumers.info("RACE", "shared");
    expect(ci.config.ack_policy).toBe("explicit");
  });
});
