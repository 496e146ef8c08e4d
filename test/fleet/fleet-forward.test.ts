// SPDX-License-Identifier: Apache-2.0
/**
 * Forwarders on the fleet backend: two collectors share PostgreSQL and both configure the same
 * forwarder; one holds its lease and sends, the other stands by, so every alert goes out once
 * and in order (the stream's order); when the active one stops, the other takes the lease and
 * goes on from the shared cursor.
 */
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import type { Destination, DeliveryItem } from "../../collector/forward/destination.js";
import { HttpClient } from "../../collector/forward/http.js";
import { createCollectorSink } from "../../agent/sinks/collector-sink.js";
import type { Alert } from "../../proto/index.js";
import { fleetStreamSchema, natsConnectionSchema } from "../../proto/fleet-schema.js";
import { forwardersSchema } from "../../proto/forwarders.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";
import { postgresAvailable, startPostgres, type PgServer } from "../helpers/postgres.js";
import { outOfOrder, TOKEN, waitFor } from "./harness.js";

const silent = pino({ level: "silent" });

const alert = (id: string): Alert => ({
  id,
  time: new Date().toISOString(),
  rule: "Read Shadow File",
  priority: "Warning",
  source: "syscall",
  hostname: "node-fw",
  output: `alert ${id}`,
  output_fields: {},
  tags: ["fw"],
});

describe.skipIf(!postgresAvailable())("forwarders on the fleet backend", () => {
  let dir: string;
  let nats: NatsTestCluster;
  let pg: PgServer;
  let rx: Server;
  let rxUrl: string;
  const got: string[] = [];
  const cols: RunningCollector[] = [];

  const destination = (): Destination => {
    const http = new HttpClient(rxUrl, 2000);
    return {
      maxBatch: 50,
      async send(items: readonly DeliveryItem[], signal: AbortSignal) {
        await http.request(rxUrl, { body: JSON.stringify(items.map((i) => i.alert.id)), signal });
        return undefined;
      },
      close: () => http.close(),
    };
  };
  const startOne = () =>
    startCollector({
      listen: "127.0.0.1:0",
      dataDir: "",
      token: TOKEN,
      logger: silent,
      retentionMs: 0,
      fleet: {
        servers: nats.urls,
        nats: natsConnectionSchema.parse({ cluster: "fw" }),
        stream: fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024, ack_wait_ms: 3000 }),
        storeUrl: pg.url,
      },
      forwarders: forwardersSchema.parse([{ name: "siem", type: "webhook", url: "http://127.0.0.1:1/", start: "beginning", retry_min_ms: 50 }]),
      createDestination: async () => destination(),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fleet-fw-"));
    [nats, pg] = await Promise.all([startNats({ nodes: 1 }), startPostgres()]);
    rx = createServer((req, res) => {
      let b = "";
      req.on("data", (d: Buffer) => (b += d.toString()));
      req.on("end", () => {
        got.push(...(JSON.parse(b) as string[]));
        res.end("ok");
      });
    });
    await new Promise<void>((r) => rx.listen(0, "127.0.0.1", r));
    rxUrl = `http://127.0.0.1:${(rx.address() as { port: number }).port}/`;
    cols.push(await startOne(), await startOne());
  }, 120_000);

  afterAll(async () => {
    for (const c of cols) await c.close();
    rx?.closeAllConnections();
    await new Promise((r) => rx?.close(r));
    await nats?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const state = async (c: RunningCollector) =>
    (
      (await (await fetch(`http://${c.address}/api/v1/forwarders`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        forwarders: { state: string }[];
      }
    ).forwarders[0]!.state;

  it("sends every alert once from one replica, then from the other when the first stops", async () => {
    const sink = createCollectorSink({
      address: nats.urls[0]!,
      nats: natsConnectionSchema.parse({ cluster: "fw" }),
      spoolDir: join(dir, "spool"),
      hostname: "node-fw",
      logger: silent,
    });
    for (let k = 0; k < 200; k += 20) expect((await sink.export(Array.from({ length: 20 }, (_, i) => alert(`fw-${k + i}`)))).ok).toBe(true);
    await waitFor("200 forwarded", () => got.length >= 200, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toHaveLength(200);
    expect(outOfOrder(got)).toEqual([]);
    const states = await Promise.all(cols.map(state));
    expect(states.sort()).toEqual(["running", "standby"]);
    // the active one stops (its lease session ends); the other takes over from the shared cursor
    const now = await Promise.all(cols.map(state));
    const active = cols[now.indexOf("running")]!;
    const other = cols.find((c) => c !== active)!;
    await active.close();
    cols.splice(cols.indexOf(active), 1);
    for (let k = 200; k < 300; k += 20) expect((await sink.export(Array.from({ length: 20 }, (_, i) => alert(`fw-${k + i}`)))).ok).toBe(true);
    await waitFor("300 forwarded", () => got.length >= 300, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => `fw-${i}`));
    expect(await state(other)).toBe("running");
    await sink.shutdown();
  }, 90_000);
});
