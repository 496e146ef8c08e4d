// SPDX-License-Identifier: Apache-2.0
/**
 * Every HTTP destination (Slack, Teams, webhook, Alertmanager, PagerDuty, Loki, Elasticsearch)
 * and NATS down for a minute while alerts keep flowing into the collector, then back: each
 * receives every alert, in order of first arrival, and nothing was lost while it was away. One
 * collector, one receiver per destination, all stopped and started together (one minute in all,
 * not one per destination).
 */
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { forwardersSchema, type Alert } from "../../proto/index.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";

const TOKEN = "outage-token";
const HTTP_TYPES = ["slack", "teams", "webhook", "alertmanager", "pagerduty", "loki", "elasticsearch"] as const;
const ID_RE = /out-\d{4}/g;

/** A receiver that can be stopped and started on the same port; records alert IDs in arrival order. */
class Receiver {
  ids: string[] = [];
  port = 0;
  private server: Server | undefined;
  constructor(private readonly type: string) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        // IDs in the order the payload carries them, each once per request (chat layouts repeat it)
        const seen = new Set<string>();
        for (const m of body.matchAll(ID_RE)) if (!seen.has(m[0])) seen.add(m[0]);
        this.ids.push(...seen);
        res.writeHead(this.type === "pagerduty" ? 202 : 200, { "content-type": "application/json" });
        // Elasticsearch: every item created; PagerDuty: accepted
        if (this.type === "elasticsearch") {
          const items = body
            .split("\n")
            .filter((l) => l.startsWith('{"create"'))
            .map(() => ({ create: { status: 201 } }));
          res.end(JSON.stringify({ errors: false, items }));
        } else if (this.type === "pagerduty") res.end('{"status":"success","message":"Event processed","dedup_key":"x"}');
        else res.end(this.type === "teams" ? "1" : "ok");
      });
    });
    await new Promise<void>((r) => server.listen(this.port, "127.0.0.1", r));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server!;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

const alert = (n: number): Alert => ({
  id: `out-${String(n).padStart(4, "0")}`,
  time: new Date().toISOString(),
  rule: "Terminal shell in container",
  priority: "Critical",
  source: "syscall",
  hostname: "node-o",
  // the ID in the output too: every layout shows the output (Teams' card shows no ID without a link)
  output: `A shell was spawned (out-${String(n).padStart(4, "0")})`,
  output_fields: { "k8s.ns.name": "prod", "k8s.pod.name": "api-1", "container.id": `c${n % 3}`, "proc.name": "bash" },
  tags: ["shell", "T1059"],
});

describe("forwarders through a one-minute outage of every destination", () => {
  let dir: string;
  let nats: NatsTestCluster;
  let natsSub: NatsConnection;

  /** The alert IDs the NATS forwarder stored in the test's stream (JetStream confirms each publish). */
  const natsIds = async (): Promise<string[]> => {
    const js = jetstream(natsSub);
    const c = await js.consumers.get("OUTAGE");
    const ids: string[] = [];
    const info = await (await jetstreamManager(natsSub)).streams.info("OUTAGE");
    if (info.state.messages === 0) return ids;
    const it = await c.fetch({ max_messages: info.state.messages, expires: 3000 });
    for await (const m of it) {
      const id = /out-\d{4}/.exec(m.string())?.[0];
      if (id !== undefined) ids.push(id);
      if (ids.length >= info.state.messages) break;
    }
    return ids;
  };
  const rx = new Map<string, Receiver>();
  let col: RunningCollector;

  beforeAll(async () => {
    process.env["OUTAGE_TEST_ROUTING_KEY"] = "R0123456789abcdef0123456789abcdef";
    dir = mkdtempSync(join(tmpdir(), "vigil-outage-"));
    for (const t of HTTP_TYPES) {
      const r = new Receiver(t);
      await r.start();
      rx.set(t, r);
    }
    nats = await startNats({ nodes: 1 });
    natsSub = await connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await (await jetstreamManager(natsSub)).streams.add({ name: "OUTAGE", subjects: ["outage.>"], storage: StorageType.File });
    const common = { retry_min_ms: 100, retry_max_ms: 2000, timeout_ms: 2000 };
    const url = (t: string) => rx.get(t)!.url;
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      token: TOKEN,
      logger: pino({ level: "silent" }),
      forwarders: forwardersSchema.parse([
        { name: "chat", type: "slack", url: `${url("slack")}/services/a/b/c`, ...common },
        { name: "teams", type: "teams", url: `${url("teams")}/webhookb2/x`, ...common },
        { name: "siem", type: "webhook", url: `${url("webhook")}/ingest`, ...common },
        { name: "am", type: "alertmanager", url: url("alertmanager"), ...common },
        { name: "pager", type: "pagerduty", url: `${url("pagerduty")}/v2/enqueue`, routing_key_env: "OUTAGE_TEST_ROUTING_KEY", ...common },
        { name: "loki", type: "loki", url: url("loki"), ...common },
        { name: "es", type: "elasticsearch", url: url("elasticsearch"), ...common },
        { name: "bus", type: "nats", servers: nats.urls[0]!, subject_prefix: "outage", ...common },
      ]),
    });
  }, 60_000);

  afterAll(async () => {
    await col?.close();
    await natsSub?.close();
    await nats?.close();
    for (const r of rx.values()) await r.stop().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("delivers every alert to every destination, in order, after a minute away", async () => {
    let n = 0;
    const flow = setInterval(() => void col.ingest([alert(n++)]), 250);
    try {
      await new Promise((r) => setTimeout(r, 5000));
      for (const r of rx.values()) await r.stop();
      // NATS goes too: the forwarder's publishes fail until it is back (core NATS has no queue of ours)
      await nats.stopAll();
      const downAt = n;
      await new Promise((r) => setTimeout(r, 60_000));
      expect(n - downAt).toBeGreaterThan(200);
      for (const r of rx.values()) await r.start();
      await nats.startAll();
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      clearInterval(flow);
    }
    const expected = Array.from({ length: n }, (_, i) => alert(i).id);
    const firsts = (ids: string[]) => ids.filter((id, i) => ids.indexOf(id) === i);
    const deadline = Date.now() + 60_000;
    let natsGot: string[] = [];
    for (;;) {
      const behind = [...rx.entries()].filter(([, r]) => firsts(r.ids).length < n).map(([t]) => t);
      natsGot = await natsIds().catch(() => []);
      if (firsts(natsGot).length < n) behind.push("nats");
      if (behind.length === 0) break;
      if (Date.now() > deadline) throw new Error(`still behind after the outage: ${behind.join(", ")}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const [t, r] of rx) expect(firsts(r.ids), t).toEqual(expected);
    expect(firsts(natsGot), "nats").toEqual(expected);
    // JetStream dropped resends by Nats-Msg-Id: every alert stored once
    expect(natsGot, "nats, no duplicate").toEqual(expected);
    const status = (await (await fetch(`http://${col.address}/api/v1/forwarders`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      forwarders: { name: string; lagAlerts: number; deadLetters: number; counters: Record<string, number> }[];
    };
    for (const f of status.forwarders) {
      expect(f.deadLetters, f.name).toBe(0);
      expect(f.counters["retried"], f.name).toBeGreaterThan(0);
    }
  }, 240_000);
});
