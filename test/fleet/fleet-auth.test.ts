// SPDX-License-Identifier: Apache-2.0
/**
 * NATS authentication and TLS on the fleet path, both ends: a NATS server that takes only TLS
 * clients holding a known NKey; the collector (fleet mode) and an agent's sink each sign the
 * server's nonce with their seed read from a file (a mounted Secret) and verify the server
 * against a CA file. Without the seed, or with another one, nothing connects, and the seed never
 * appears in an error or a log line.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { createCollectorSink } from "../../agent/sinks/collector-sink.js";
import type { Alert } from "../../proto/index.js";
import { fleetStreamSchema, natsConnectionSchema } from "../../proto/fleet-schema.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";
import { postgresAvailable, startPostgres, type PgServer } from "../helpers/postgres.js";
import { storedIds, TOKEN, waitFor } from "./harness.js";

const alert = (id: string): Alert => ({
  id,
  time: new Date().toISOString(),
  rule: "Read Shadow File",
  priority: "Warning",
  source: "syscall",
  hostname: "node-auth",
  output: "read of /etc/shadow",
  output_fields: { "proc.name": "cat" },
  tags: ["auth"],
});

describe.skipIf(!postgresAvailable())("fleet over NATS with NKey authentication and TLS", () => {
  let dir: string;
  let nats: NatsTestCluster;
  let pg: PgServer;
  let col: RunningCollector;
  let seedFile: string;
  let seed: string;
  let natsCfg: ReturnType<typeof natsConnectionSchema.parse>;
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (l: string) => void lines.push(l) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fleet-auth-"));
    const tls = makeTestTls(join(dir, "tls"), ["localhost"]);
    const user = createUser();
    seed = new TextDecoder().decode(user.getSeed());
    seedFile = join(dir, "nkey.seed");
    writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "ca.crt"), tls["ca.crt"]);
    [nats, pg] = await Promise.all([
      startNats({ nodes: 1, auth: { nkey: user.getPublicKey() }, tls: { cert: tls["tls.crt"], key: tls["tls.key"], ca: tls["ca.crt"] } }),
      startPostgres(),
    ]);
    natsCfg = natsConnectionSchema.parse({ cluster: "auth", nkey_seed_file: seedFile, tls: { ca_file: join(dir, "ca.crt") } });
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: "",
      token: TOKEN,
      fleet: { servers: nats.urls, nats: natsCfg, stream: fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024 }), storeUrl: pg.url },
      logger,
      retentionMs: 0,
    });
  }, 120_000);

  afterAll(async () => {
    await col?.close();
    await nats?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("stores an agent's alert when both ends hold a known NKey and verify the server", async () => {
    expect(nats.urls[0]).toMatch(/^tls:\/\//);
    const sink = createCollectorSink({
      address: nats.urls[0]!,
      nats: natsCfg,
      spoolDir: join(dir, "spool-ok"),
      hostname: "node-auth",
      logger: pino({ level: "silent" }),
    });
    expect((await sink.export([alert("auth-1")])).ok).toBe(true);
    await waitFor("the alert stored", async () => (await storedIds(col.address, "auth")).includes("auth-1"), 20_000);
    await sink.shutdown();
    expect(lines.join("\n")).not.toContain(seed);
  }, 60_000);

  it("keeps an agent with an unknown NKey out (its alert stays in its spool)", async () => {
    const other = createUser();
    const otherFile = join(dir, "other.seed");
    writeFileSync(otherFile, new TextDecoder().decode(other.getSeed()), { mode: 0o600 });
    const agentLines: string[] = [];
    const sink = createCollectorSink({
      address: nats.urls[0]!,
      nats: { ...natsCfg, nkey_seed_file: otherFile },
      spoolDir: join(dir, "spool-bad"),
      hostname: "node-auth",
      backoffMinMs: 50,
      backoffMaxMs: 200,
      logger: pino({ level: "debug" }, { write: (l: string) => void agentLines.push(l) }),
    });
    expect((await sink.export([alert("auth-denied")])).ok).toBe(true);
    await waitFor("push failures", () => (sink.stats()["push_failures"] ?? 0) >= 2, 20_000);
    expect(sink.stats()["backlog"]).toBe(1);
    expect(agentLines.join("\n")).toMatch(/authorization|Authorization/);
    expect(agentLines.join("\n")).not.toContain(new TextDecoder().decode(other.getSeed()));
    await sink.shutdown();
    expect(await storedIds(col.address, "auth")).not.toContain("auth-denied");
  }, 60_000);
});
