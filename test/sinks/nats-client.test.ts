// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's NATS JetStream transport against real nats-server processes: subjects, message IDs
 * and headers as proto/fleet.ts specifies them, resends dropped by the duplicate window, capture
 * chunks, authentication and TLS, and the collector sink over it when the server is down or the
 * stream is full (the spool keeps the alerts; each arrives once when the stream takes them again).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { jetstreamManager, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCollectorSink, type CollectorSink } from "../../agent/sinks/collector-sink.js";
import { SinkError } from "../../agent/sinks/errors.js";
import { NatsPushClient } from "../../agent/sinks/nats-client.js";
import { ensureConsumer, ensureStream } from "../../collector/fleet/stream.js";
import { decodeAlertMessage } from "../../proto/fleet-codec.js";
import { FLEET_HEADERS, parseNatsServers, type NatsConnectionConfig } from "../../proto/index.js";
import { fleetStreamSchema, natsConnectionSchema } from "../../proto/fleet-schema.js";
import { loadConfig } from "../../agent/config/index.js";
import { makeAlert, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { startAgent } from "../helpers/agent.js";
import { fakeFalco } from "./falco-interop.helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { freePort, startNats, type NatsTestCluster } from "../helpers/nats.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const natsCfg = (over: Record<string, unknown> = {}): NatsConnectionConfig => natsConnectionSchema.parse(over);

function client(servers: string[], nats: NatsConnectionConfig, timeoutMs = 5000): NatsPushClient {
  const c = new NatsPushClient({ servers, nats, timeoutMs, logger: quiet() });
  cleanups.push(() => c.close());
  return c;
}

async function manager(servers: string[], opts: Parameters<typeof connect>[0] = {}): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers, ...opts });
  cleanups.push(() => nc.close());
  return { nc, jsm: await jetstreamManager(nc) };
}

/** Every message of a stream, by sequence (a work queue keeps them until a consumer acks). */
async function storedMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m !== null) out.push(m);
  }
  return out;
}

/** The rejection of p (it must reject). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as Error,
  );
}

describe("NATS push client on one server", () => {
  let nats: NatsTestCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let n = 0;
  beforeAll(async () => {
    nats = await startNats({ nodes: 1 });
    // one connection for the whole describe (afterEach closes the per-test ones)
    nc = await connect({ servers: nats.urls });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.close();
  });
  /** A stream of its own per test (prefix and name). */
  async function stream(over: Record<string, unknown> = {}): Promise<{ prefix: string; name: string }> {
    n++;
    const prefix = `t${n}`;
    const name = `T${n}`;
    await ensureStream(jsm, fleetStreamSchema.parse({ stream: name, max_bytes: 64 * 1024 * 1024, ...over }), prefix, quiet());
    return { prefix, name };
  }

  it("publishes each alert on <prefix>.alerts.<cluster>.<node> with Nats-Msg-Id = its ID; a resend adds nothing", async () => {
    const { prefix, name } = await stream();
    const c = client(nats.urls, natsCfg({ cluster: "prod", subject_prefix: prefix }));
    const alerts = Array.from({ length: 20 }, () => makeAlert());
    const node = "ip-10-0-1-2.ec2.internal";
    const r = await c.push(alerts, [], node);
    expect(r).toEqual({ ackedIds: alerts.map((a) => a.id), ackedCaptureIds: [], rejected: [] });

    const stored = await storedMessages(jsm, name);
    expect(stored).toHaveLength(20);
    stored.forEach((m, i) => {
      const a = alerts[i]!;
      // stored in the order raised
      expect(m.subject).toBe(`${prefix}.alerts.prod.ip-10-0-1-2_ec2_internal`);
      expect(m.header.get(FLEET_HEADERS.msgId)).toBe(a.id);
      expect(m.header.get(FLEET_HEADERS.agent)).toBe(node);
      const d = decodeAlertMessage(m.data);
      expect(d).toEqual({ kind: "alert", alert: a });
    });

    // the sink retries a whole batch: every resend is a duplicate JetStream drops
    const again = await c.push(alerts, [], node);
    expect(again.ackedIds).toEqual(alerts.map((a) => a.id));
    expect((await jsm.streams.info(name)).state.messages).toBe(20);
    expect(c.stats()).toMatchObject({ published: 40, duplicates: 20, connected: 1 });
  });

  it("splits a capture into 256 KiB chunks with the fleet headers", async () => {
    const { prefix, name } = await stream();
    const c = client(nats.urls, natsCfg({ subject_prefix: prefix }));
    const alert = makeAlert();
    const data = randomBytes(600 * 1024);
    const r = await c.push([alert], [{ alertId: alert.id, data, eventCount: 4321, containerId: "abcdef123456" }], "node-a");
    expect(r).toEqual({ ackedIds: [alert.id], ackedCaptureIds: [alert.id], rejected: [] });
    const chunks = (await storedMessages(jsm, name)).filter((m) => m.subject === `${prefix}.captures.default.node-a`);
    expect(chunks).toHaveLength(3);
    const byIndex = new Map<number, StoredMsg>();
    for (const m of chunks) {
      const [i, count] = (m.header.get(FLEET_HEADERS.chunk) ?? "").split("/").map(Number);
      expect(count).toBe(3);
      expect(m.header.get(FLEET_HEADERS.msgId)).toBe(`${alert.id}/${i}`);
      expect(m.header.get(FLEET_HEADERS.capture)).toBe(alert.id);
      expect(m.header.get(FLEET_HEADERS.eventCount)).toBe("4321");
      expect(m.header.get(FLEET_HEADERS.containerId)).toBe("abcdef123456");
      byIndex.set(i!, m);
    }
    expect([0, 1, 2].map((i) => byIndex.get(i)!.data.length)).toEqual([256 * 1024, 256 * 1024, 88 * 1024]);
    expect(Buffer.concat([0, 1, 2].map((i) => byIndex.get(i)!.data)).equals(data)).toBe(true);
  });

  it("reports a record larger than the stream's max_msg_size as rejected and acks the rest", async () => {
    // below the schema's floor (which keeps every capture chunk storable), made by hand
    n++;
    const prefix = `small${n}`;
    const name = `SMALL${n}`;
    await jsm.streams.add({
      name,
      subjects: [`${prefix}.alerts.>`, `${prefix}.captures.>`],
      storage: "file",
      retention: "workqueue",
      discard: "new",
      max_msg_size: 64 * 1024,
      duplicate_window: 60e9,
    });
    const c = client(nats.urls, natsCfg({ subject_prefix: prefix }));
    const alerts = [makeAlert(), makeAlert()];
    const r = await c.push(alerts, [{ alertId: alerts[0]!.id, data: randomBytes(100 * 1024), eventCount: 1, containerId: "" }], "node-a");
    expect(r.ackedIds).toEqual(alerts.map((a) => a.id));
    expect(r.ackedCaptureIds).toEqual([]);
    expect(r.rejected).toEqual([{ id: alerts[0]!.id, reason: expect.stringContaining("larger than the stream's max_msg_size") }]);
    expect((await jsm.streams.info(name)).state.messages).toBe(2);
    expect(c.stats()["too_large"]).toBe(1);
  });

  it("fails at once when nothing listens, and when no stream takes the subject", async () => {
    const port = await freePort();
    const down = client([`nats://127.0.0.1:${port}`], natsCfg());
    const t0 = Date.now();
    const err = await rejection(down.push([makeAlert()], [], "node-a"));
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).code).toBe("send_failed");
    expect(err.message).toContain(`cannot connect to NATS (nats://127.0.0.1:${port})`);
    expect(Date.now() - t0).toBeLessThan(3000);

    const nostream = client(nats.urls, natsCfg({ subject_prefix: "nostream" }));
    const e2 = await rejection(nostream.push([makeAlert()], [], "node-a"));
    expect((e2 as SinkError).code).toBe("send_failed");
    expect(e2.message).toContain("no JetStream stream takes nostream.alerts.default.node-a");
  });

  it("the sink keeps alerts in its spool while the stream is full and delivers each once it drains", async () => {
    n++;
    const prefix = `full${n}`;
    const name = `FULL${n}`;
    // a stream far below the schema's minimum, made by hand: 8 KiB holds a dozen alerts
    await jsm.streams.add({
      name,
      subjects: [`${prefix}.alerts.>`, `${prefix}.captures.>`],
      storage: "file",
      retention: "workqueue",
      discard: "new",
      max_bytes: 8192,
      duplicate_window: 60e9,
    });
    const c = client(nats.urls, natsCfg({ subject_prefix: prefix }));
    const first = Array.from({ length: 100 }, () => makeAlert());
    const err = await rejection(c.push(first, [], "node-a"));
    expect((err as SinkError).code).toBe("send_failed");
    expect(err.message).toMatch(/NATS publish failed after \d+ of 100 alerts: the JetStream stream is full \(maximum bytes exceeded; discard new\)/);
    expect(c.stats()["stream_full"]).toBe(1);
    await jsm.streams.purge(name);

    const sink = createCollectorSink({
      address: nats.urls.join(","),
      nats: natsCfg({ subject_prefix: prefix }),
      spoolDir: tempDir(),
      hostname: "node-a",
      backoffMinMs: 20,
      backoffMaxMs: 200,
      logger: quiet(),
    });
    cleanups.push(() => sink.shutdown());
    const alerts = Array.from({ length: 60 }, () => makeAlert());
    expect(await sink.export(alerts)).toEqual({ ok: true });
    await waitFor(() => (sink.stats()["transport_stream_full"] ?? 0) > 0, 10_000, "the stream to fill");
    expect(sink.stats()["backlog"]).toBe(1);

    // a collector drains it: every alert arrives, each once, in order
    await ensureConsumer(jsm, fleetStreamSchema.parse({ stream: name, consumer: "drain" }), prefix, quiet());
    const consumer = await jsm.jetstream().consumers.get(name, "drain");
    const seen: string[] = [];
    await waitFor(
      async () => {
        const batch = await consumer.fetch({ max_messages: 50, expires: 1000 });
        for await (const m of batch) {
          seen.push(m.headers?.get(FLEET_HEADERS.msgId) ?? "");
          m.ack();
        }
        return seen.length >= alerts.length && sink.stats()["backlog"] === 0;
      },
      20_000,
      "the spool to drain into the stream",
    );
    expect(seen).toEqual(alerts.map((a) => a.id));
    expect(sink.stats()).toMatchObject({ acked: 60, backlog: 0 });
  });
});

describe("NATS push client: server down and back", () => {
  it("push fails fast while the server is down; the sink's spool delivers everything once it is back", async () => {
    const nats = await startNats({ nodes: 1 });
    cleanups.push(() => nats.close());
    const { jsm } = await manager(nats.urls, { maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await ensureStream(jsm, fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024 }), "vigil", quiet());

    const probe = client(nats.urls, natsCfg(), 2000);
    const sink: CollectorSink = createCollectorSink({
      address: nats.urls[0]!,
      nats: natsCfg(),
      spoolDir: tempDir(),
      hostname: "node-b",
      backoffMinMs: 50,
      backoffMaxMs: 300,
      timeoutMs: 2000,
      logger: quiet(),
    });
    cleanups.push(() => sink.shutdown());
    const before = Array.from({ length: 10 }, () => makeAlert());
    await sink.export(before);
    expect((await probe.push([makeAlert()], [], "probe")).ackedIds).toHaveLength(1);
    await waitFor(() => sink.stats()["backlog"] === 0, 10_000, "first alerts delivered");

    await nats.servers[0]!.kill();
    await waitFor(() => !probe.isConnected, 5000, "the client to notice");
    const t0 = Date.now();
    const err = await rejection(probe.push([makeAlert()], [], "probe"));
    expect(Date.now() - t0).toBeLessThan(500);
    expect((err as SinkError).code).toBe("send_failed");
    expect(err.message).toContain("not connected to NATS");

    const during = Array.from({ length: 25 }, () => makeAlert());
    for (let i = 0; i < during.length; i += 5) expect(await sink.export(during.slice(i, i + 5))).toEqual({ ok: true });
    await waitFor(() => (sink.stats()["push_failures"] ?? 0) >= 2, 10_000, "failed pushes");
    expect(sink.stats()["backlog"]).toBe(1);

    await nats.servers[0]!.start();
    await waitFor(() => sink.stats()["backlog"] === 0, 20_000, "the spool to drain after the restart");
    // the test's own connection reconnects on its own schedule (CI saw its first request time out)
    let stored: StoredMsg[] = [];
    await waitFor(
      async () => {
        try {
          stored = await storedMessages(jsm, "VIGIL");
          return true;
        } catch {
          return false;
        }
      },
      20_000,
      "the stream to be readable again",
    );
    const ids = stored.filter((m) => m.subject === "vigil.alerts.default.node-b").map((m) => m.header.get(FLEET_HEADERS.msgId));
    expect(ids).toEqual([...before, ...during].map((a) => a.id));
  });
});

describe("NATS push client: authentication and TLS", () => {
  it("user and password (from a file); a wrong password fails with a clear message that holds no secret", async () => {
    const nats = await startNats({ nodes: 1, auth: { user: "agent", password: "s3cret-pass-word" } });
    cleanups.push(() => nats.close());
    const { jsm } = await manager(nats.urls, { user: "agent", pass: "s3cret-pass-word" });
    await ensureStream(jsm, fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024 }), "vigil", quiet());
    const dir = tempDir();
    writeFileSync(join(dir, "password"), "s3cret-pass-word\n", { mode: 0o600 });
    const ok = client(nats.urls, natsCfg({ user: "agent", password_file: join(dir, "password") }));
    expect((await ok.push([makeAlert()], [], "node-a")).ackedIds).toHaveLength(1);

    const bad = client(nats.urls, natsCfg({ user: "agent", password: "wrong-pass-word" }));
    const err = await rejection(bad.push([makeAlert()], [], "node-a"));
    expect((err as SinkError).code).toBe("send_failed");
    expect(err.message).toMatch(/cannot connect to NATS .*authorization violation/i);
    expect(err.message).not.toContain("wrong-pass-word");
    expect(err.message).not.toContain("s3cret");
  });

  it("token (from a file); a wrong token fails without showing it", async () => {
    const nats = await startNats({ nodes: 1, auth: { token: "tok-0123456789" } });
    cleanups.push(() => nats.close());
    const { jsm } = await manager(nats.urls, { token: "tok-0123456789" });
    await ensureStream(jsm, fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024 }), "vigil", quiet());
    const dir = tempDir();
    writeFileSync(join(dir, "token"), "tok-0123456789\n", { mode: 0o600 });
    const ok = client(nats.urls, natsCfg({ token_file: join(dir, "token") }));
    expect((await ok.push([makeAlert()], [], "node-a")).ackedIds).toHaveLength(1);
    const bad = client(nats.urls, natsCfg({ token: "tok-wrong-value" }));
    const err = await rejection(bad.push([makeAlert()], [], "node-a"));
    expect(err.message).toMatch(/authorization violation/i);
    expect(err.message).not.toContain("tok-");
  });

  it("TLS verified against a CA file; an unknown CA is refused", async () => {
    const dir = tempDir();
    const tls = makeTestTls(dir, ["localhost"]);
    const nats = await startNats({ nodes: 1, tls: { cert: tls["tls.crt"], key: tls["tls.key"], ca: tls["ca.crt"] } });
    cleanups.push(() => nats.close());
    expect(nats.urls[0]).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    const { jsm } = await manager(nats.urls, { tls: { caFile: join(dir, "ca.crt") } });
    await ensureStream(jsm, fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024 }), "vigil", quiet());

    const ok = client(parseNatsServers(nats.urls.join(",")), natsCfg({ tls: { ca_file: join(dir, "ca.crt") } }));
    expect((await ok.push([makeAlert()], [], "node-a")).ackedIds).toHaveLength(1);

    // the default roots do not know the test CA
    const unknown = client(nats.urls, natsCfg({ tls: { enabled: true } }));
    const err = await rejection(unknown.push([makeAlert()], [], "node-a"));
    expect((err as SinkError).code).toBe("send_failed");
    expect(err.message).toMatch(/cannot connect to NATS .*(certificate|self.signed|issuer)/i);
  });
});

describe("agent configuration and command line", () => {
  it("sinks.collector.address takes a nats:// or tls:// server list; credentials in it are refused", () => {
    const cfg = loadConfig({
      env: {},
      text: "sinks:\n  collector:\n    enabled: true\n    address: nats://a:4222,nats://b:4222\n    nats:\n      cluster: prod\n      token_file: /run/secrets/nats-token\n",
    });
    expect(cfg.sinks.collector.address).toBe("nats://a:4222,nats://b:4222");
    expect(cfg.sinks.collector.nats).toMatchObject({ cluster: "prod", subject_prefix: "vigil", token_file: "/run/secrets/nats-token" });
    expect(loadConfig({ env: {}, overrides: { sinks: { collector: { address: "tls://nats.example:4222" } } } }).sinks.collector.address).toBe(
      "tls://nats.example:4222",
    );
    expect(loadConfig({ env: {}, overrides: { sinks: { collector: { address: "collector:9377" } } } }).sinks.collector.address).toBe("collector:9377");
    expect(() => loadConfig({ env: {}, overrides: { sinks: { collector: { address: "nats://u:pw@a:4222" } } } })).toThrow(
      /credentials in a NATS URL are refused/,
    );
    expect(() => loadConfig({ env: {}, overrides: { sinks: { collector: { address: "http://a:80" } } } })).toThrow(/expected host:port, or nats:\/\/HOST:PORT/);
  });

  it("`vigil agent --collector nats://HOST:PORT` publishes the alerts it raises (no embedded collector)", async () => {
    const nats = await startNats({ nodes: 1 });
    cleanups.push(() => nats.close());
    const { jsm } = await manager(nats.urls);
    await ensureStream(jsm, fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024 }), "vigil", quiet());
    const dir = tempDir();
    const falco = await fakeFalco(`unix://${join(dir, "falco.sock")}`);
    cleanups.push(() => falco.server.forceShutdown());
    falco.push({
      time: { seconds: 1795000000, nanos: 5 },
      priority: "CRITICAL",
      source_deprecated: "SYSCALL",
      rule: "Terminal shell in container",
      output: "12:00:00.000000005: Critical A shell was spawned in a container (proc.name=bash)",
      output_fields: { "proc.name": "bash", "container.id": "abcdef012345" },
      hostname: "falco-node",
      tags: ["T1059", "container"],
      source: "syscall",
    });
    const agent = await startAgent(
      ["--source", "", "--falco-grpc", falco.address, "--no-containerd", "--stats-interval", "0", "--collector", nats.urls[0]!, "--spool", join(dir, "spool")],
      60_000,
      { NODE_NAME: "e2e.node" },
      ["--no-metrics", "--no-fim-scan"],
    );
    cleanups.push(async () => {
      await agent.stop();
    });
    const local = await agent.waitForAlert((a) => a.rule === "Terminal shell in container", 5000);
    await waitFor(async () => (await jsm.streams.info("VIGIL")).state.messages === 1, 10_000, "the alert in the stream");
    const [m] = await storedMessages(jsm, "VIGIL");
    expect(m!.subject).toBe("vigil.alerts.default.e2e_node");
    expect(m!.header.get(FLEET_HEADERS.msgId)).toBe(local.uuid);
    expect(m!.header.get(FLEET_HEADERS.agent)).toBe("e2e.node");
    const d = decodeAlertMessage(m!.data);
    expect(d.kind === "alert" && d.alert.rule).toBe("Terminal shell in container");
    expect(agent.logs.some((l) => l["msg"] === "embedded collector listening (vigil tail follows it)")).toBe(false);
  }, 90_000);
});
