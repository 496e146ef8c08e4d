// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet path end to end with real servers: a 3-node NATS cluster with JetStream (stream R3),
 * PostgreSQL 15, three `vigil collector --nats --store postgres://` replicas (real processes) and
 * simulated agents (real processes: the agent's spool and NATS transport). Each test raises its
 * own alerts (a prefix of its own, also their tag) while one fault happens mid-stream, then
 * checks: every raised alert stored exactly once (stored IDs = raised IDs, no duplicate), and
 * tail clients on two replicas (C1, C2, which the faults spare) each received every alert once,
 * in order per node, in the same order as each other.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";
import { postgresAvailable, startPostgres, type PgServer } from "../helpers/postgres.js";
import {
  outOfOrder,
  startAgents,
  statsOf,
  startCollectorProc,
  startTail,
  storedIds,
  waitFor,
  writeCollectorConfig,
  type AgentsProc,
  type CollectorProc,
  type TailProc,
} from "./harness.js";

const CONFIG = `collector:
  fleet:
    ack_wait_ms: 3000
    batch: 200
    max_bytes: 268435456
  nats:
    cluster: test
`;

describe.skipIf(!postgresAvailable())("fleet: agents → NATS JetStream (R3) → collectors → PostgreSQL", () => {
  let dir: string;
  let nats: NatsTestCluster;
  let pg: PgServer;
  let config: string;
  const collectors: CollectorProc[] = [];
  const running: AgentsProc[] = [];

  const startCollector = (name: string) => startCollectorProc({ name, natsUrls: nats.urls, pgUrl: pg.url, config });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fleet-"));
    [nats, pg] = await Promise.all([startNats({ nodes: 3 }), startPostgres()]);
    config = writeCollectorConfig(dir, "collector", CONFIG);
    // one first, so the stream and the consumer exist before the others validate them
    collectors.push(await startCollector("c1"));
    collectors.push(...(await Promise.all([startCollector("c2"), startCollector("c3")])));
  }, 180_000);

  afterAll(async () => {
    for (const a of running) await a.kill();
    await Promise.all(collectors.map((c) => c.stop()));
    await nats?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const c = (name: string) => collectors.find((x) => x.name === name)!;
  const replace = async (name: string) => {
    const i = collectors.findIndex((x) => x.name === name);
    await collectors[i]!.stop();
    collectors[i] = await startCollector(name);
  };

  /**
   * Raises `agents` × `count` alerts at `rate` per agent while `fault` runs (started after
   * `faultAfterMs`), then checks stored = raised with no duplicate, and both tails.
   */
  async function scenario(
    prefix: string,
    o: { agents: number; count: number; rate: number; faultAfterMs: number; settleMs?: number },
    fault: (ctx: { agents: AgentsProc; raised: Set<string>; spool: string; restartAgents: (p: AgentsProc) => void }) => Promise<void>,
  ): Promise<void> {
    const tails: TailProc[] = await Promise.all([startTail(c("c1").address), startTail(c("c2").address)]);
    const spool = join(dir, prefix);
    const raised = new Set<string>();
    let agents = startAgents({ natsUrls: nats.urls, spool, agents: o.agents, count: o.count, rate: o.rate, prefix, raised });
    running.push(agents);
    await new Promise((r) => setTimeout(r, o.faultAfterMs));
    await fault({
      agents,
      raised,
      spool,
      restartAgents: (p) => {
        agents = p;
        running.push(p);
      },
    });
    await agents.drained;
    const expected = o.agents * o.count;
    expect(raised.size).toBe(expected);
    let stored: string[] = [];
    await waitFor(
      `${expected} stored alerts of ${prefix}`,
      async () => {
        stored = await storedIds(c("c1").address, prefix);
        return stored.length >= expected;
      },
      o.settleMs ?? 60_000,
      500,
    );
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored.length).toBe(expected);
    expect([...raised].filter((id) => !stored.includes(id))).toEqual([]);
    // every replica answers the same
    expect((await storedIds(c("c2").address, prefix)).length).toBe(expected);
    await waitFor(
      `both tails to get ${expected} alerts`,
      () => tails.every((t) => t.ids.filter((id) => id.startsWith(`${prefix}-`)).length >= expected),
      30_000,
    );
    for (const t of tails) {
      const mine = t.ids.filter((id) => id.startsWith(`${prefix}-`));
      expect(mine.length).toBe(expected);
      expect(new Set(mine).size).toBe(expected);
      expect(outOfOrder(mine)).toEqual([]);
      expect(t.closed).toBe(false);
    }
    expect(tails[0]!.ids.filter((id) => id.startsWith(`${prefix}-`))).toEqual(tails[1]!.ids.filter((id) => id.startsWith(`${prefix}-`)));
    for (const t of tails) t.close();
    await agents.kill();
  }

  it("delivers every alert once with no fault", async () => {
    await scenario("healthy", { agents: 20, count: 100, rate: 50, faultAfterMs: 0 }, async () => undefined);
  }, 120_000);

  it("survives a NATS node killed with SIGKILL mid-stream", async () => {
    await scenario("natskill", { agents: 20, count: 150, rate: 30, faultAfterMs: 2000 }, async () => {
      await nats.servers[0]!.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 3000));
      await nats.servers[0]!.start();
    });
  }, 180_000);

  /** Messages the live replicas got again (another replica had them when it died or stalled). */
  const redelivered = async () => {
    let n = 0;
    for (const x of collectors) n += (await statsOf(x.address))["fleet_redelivered"] ?? 0;
    return n;
  };

  /**
   * Until the shared consumer shows a message delivered at least `heldMs` ago and still not
   * acknowledged, the sign that a frozen replica holds it (the running ones acknowledge within
   * milliseconds of their commit). A fixed pause is not enough: JetStream serves the waiting pull
   * requests in turn, so a replica frozen for a moment may have been handed nothing (CI saw it).
   */
  const untilHeld = async (heldMs: number, timeoutMs: number) => {
    const nc = await connect({ servers: nats.urls });
    try {
      const jsm = await jetstreamManager(nc);
      const samples: { at: number; delivered: number }[] = [];
      const t0 = performance.now();
      for (;;) {
        const ci = await jsm.consumers.info("VIGIL", "vigil-collectors");
        const now = performance.now();
        samples.push({ at: now, delivered: ci.delivered.stream_seq });
        const old = samples.filter((s) => now - s.at >= heldMs).at(-1);
        if (old !== undefined && ci.num_ack_pending > 0 && ci.ack_floor.stream_seq < old.delivered) return;
        if (now - t0 > timeoutMs) throw new Error(`no message held unacknowledged after ${timeoutMs} ms: ${JSON.stringify(ci)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await nc.close();
    }
  };

  /**
   * Freezes a collector until it holds a delivered, unacknowledged message. A replica frozen just
   * after its pull request was served (or once it expired) is handed nothing while it is frozen
   * (CI saw 20 s of it, every message going to the others), so it is thawed to pull again and
   * frozen anew, up to four times; the scenarios publish for about 13 s, long enough for all four.
   * Thawed before the error, so a failure here does not leave it stopped for the next test.
   */
  const freezeHolding = async (name: string) => {
    for (let attempt = 1; ; attempt++) {
      c(name).signal("SIGSTOP");
      try {
        await untilHeld(1000, 2500);
        return;
      } catch (err) {
        c(name).signal("SIGCONT");
        if (attempt === 4) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  };

  it("survives a collector killed mid-batch", async () => {
    const before = await redelivered();
    await scenario("colkill", { agents: 20, count: 400, rate: 30, faultAfterMs: 2000 }, async () => {
      // frozen first, until it surely holds delivered, unacknowledged messages, then killed
      await freezeHolding("c3");
      c("c3").signal("SIGKILL");
      await new Promise((r) => setTimeout(r, 1000));
      await replace("c3");
    });
    // the fault hit mid-stream: what c3 held unacknowledged is redelivered to the others (the
    // stored IDs can be complete before that when c3 died between its commit and its ack)
    await waitFor("a redelivery of what c3 held", async () => (await redelivered()) > before, 20_000, 250);
  }, 180_000);

  it("survives a collector stopped (SIGSTOP) past the ack wait and resumed", async () => {
    const before = await redelivered();
    await scenario("colstop", { agents: 20, count: 400, rate: 30, faultAfterMs: 2000 }, async () => {
      await freezeHolding("c3");
      // then past the ack wait (3 s): what it holds goes to another replica meanwhile
      await new Promise((r) => setTimeout(r, 4000));
      c("c3").signal("SIGCONT");
    });
    await waitFor("a redelivery of what c3 held", async () => (await redelivered()) > before, 20_000, 250);
  }, 180_000);

  it("survives PostgreSQL restarted", async () => {
    await scenario("pgrestart", { agents: 20, count: 150, rate: 30, faultAfterMs: 2000 }, async () => {
      await pg.restart();
    });
  }, 180_000);

  it("survives an agent killed and restarted (its spool resends, nothing twice)", async () => {
    await scenario("agentkill", { agents: 10, count: 200, rate: 40, faultAfterMs: 2000 }, async ({ agents, raised, spool, restartAgents }) => {
      await agents.kill();
      // each agent goes on from its next alert; what was spooled but not delivered is resent
      // (agents ahead of `from` raise some IDs again: the same alerts, stored once)
      const from = Math.min(...Array.from({ length: 10 }, (_, i) => agents.lastRaised(i) + 1));
      restartAgents(startAgents({ natsUrls: nats.urls, spool, agents: 10, count: 200, from, rate: 40, prefix: "agentkill", raised }));
    });
  }, 180_000);

  it("survives the whole NATS cluster down for a minute", async () => {
    await scenario("natsdown", { agents: 20, count: 200, rate: 2, faultAfterMs: 5000, settleMs: 120_000 }, async () => {
      await nats.stopAll();
      await new Promise((r) => setTimeout(r, 60_000));
      await nats.startAll();
    });
  }, 300_000);
});
