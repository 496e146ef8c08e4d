// SPDX-License-Identifier: Apache-2.0
/**
 * The forwarder runner through a real collector (SQLite store) and a real HTTP receiver: order,
 * the persistent cursor across restarts, outages, Retry-After, a refused alert dead-lettered
 * while the rest flow, filters, grouping, the rate limit, and the status API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { DeliveryError, type DeliveryItem, type Destination } from "../../collector/forward/destination.js";
import { HttpClient } from "../../collector/forward/http.js";
import type { RetentionResult } from "../../collector/store-api.js";
import type { Alert, ForwarderConfig } from "../../proto/index.js";
import { forwardersSchema } from "../../proto/forwarders.js";
import { runCli } from "../sinks/helpers/run-ts.js";

const silent = pino({ level: "silent" });
const TOKEN = "runner-test-token";

/** The receiver: records IDs in arrival order; behaviour switchable per test. */
class Receiver {
  server!: Server;
  port = 0;
  ids: string[] = [];
  counts: number[] = [];
  requests = 0;
  /** Answer for the next requests: a status (and headers) instead of 200. */
  fail: { status: number; headers?: Record<string, string>; times: number } | undefined;
  /** IDs refused for good (400) whenever present in a batch. */
  refuse = new Set<string>();
  stamps: number[] = [];

  async start(port = 0): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        this.requests++;
        this.stamps.push(Date.now());
        if (this.fail !== undefined && this.fail.times > 0) {
          this.fail.times--;
          res.writeHead(this.fail.status, this.fail.headers ?? {});
          res.end("try later");
          return;
        }
        const items = JSON.parse(body) as { id: string; count: number }[];
        if (items.some((i) => this.refuse.has(i.id))) {
          res.writeHead(400);
          res.end("refused: bad alert");
          return;
        }
        for (const i of items) {
          this.ids.push(i.id);
          this.counts.push(i.count);
        }
        res.writeHead(200);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => this.server.listen(port, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** A destination speaking the receiver's protocol: a JSON array of {id, count} per batch. */
function testDestination(url: string, maxBatch: number): Destination {
  const http = new HttpClient(url, 2000);
  return {
    maxBatch,
    async send(items: readonly DeliveryItem[], signal: AbortSignal) {
      await http.request(url, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(items.map((i) => ({ id: i.alert.id, count: i.count }))),
        signal,
      });
      return undefined;
    },
    close: () => http.close(),
  };
}

function alert(id: string, o: Partial<Alert> & { ns?: string; container?: string } = {}): Alert {
  const { ns, container, ...rest } = o;
  return {
    id,
    time: new Date().toISOString(),
    rule: "Read Shadow File",
    priority: "Warning",
    source: "syscall",
    hostname: "node-1",
    output: `alert ${id}`,
    output_fields: { "k8s.ns.name": ns ?? "prod", "container.id": container ?? "c1" },
    tags: ["T1003"],
    ...rest,
  };
}

function fwd(over: Record<string, unknown>): ForwarderConfig {
  return forwardersSchema.parse([{ name: "test", type: "webhook", url: "http://127.0.0.1:1/", retry_min_ms: 50, retry_max_ms: 400, ...over }])[0]!;
}

describe("forwarder runner", () => {
  let dir: string;
  const rx = new Receiver();
  let col: RunningCollector | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-forward-"));
    await rx.start();
  });
  afterAll(async () => {
    await rx.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await col?.close();
    col = undefined;
    rx.ids = [];
    rx.counts = [];
    rx.fail = undefined;
    rx.refuse.clear();
    rx.requests = 0;
    rx.stamps = [];
  });

  const start = async (cfg: ForwarderConfig, data: string, maxBatch = 10) => {
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: data,
      token: TOKEN,
      logger: silent,
      forwarders: [cfg],
      createDestination: async () => testDestination(`http://127.0.0.1:${rx.port}/`, maxBatch),
    });
    return col;
  };
  const until = async (what: string, fn: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const status = async (c: RunningCollector) =>
    (
      (await (await fetch(`http://${c.address}/api/v1/forwarders`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        forwarders: Record<string, unknown>[];
      }
    ).forwarders[0]!;

  it("delivers in order from where it stands, and resumes after a restart without losing or repeating", async () => {
    const data = join(dir, "resume");
    const c = await start(fwd({}), data);
    await c.ingest(Array.from({ length: 25 }, (_, i) => alert(`a-${i}`)));
    await until("25 delivered", () => rx.ids.length === 25);
    expect(rx.ids).toEqual(Array.from({ length: 25 }, (_, i) => `a-${i}`));
    await c.close();
    col = undefined;
    // stored while no collector ran the forwarder: delivered after the restart, nothing before again
    const c2 = await start(fwd({}), data);
    await c2.ingest(Array.from({ length: 5 }, (_, i) => alert(`b-${i}`)));
    await until("30 delivered", () => rx.ids.length === 30);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.ids.slice(25)).toEqual(Array.from({ length: 5 }, (_, i) => `b-${i}`));
    const s = await status(c2);
    expect(s["lagAlerts"]).toBe(0);
    expect(s["state"]).toBe("running");
  });

  it("starts at the end by default and at the beginning when asked", async () => {
    const data = join(dir, "start");
    const c = await start(fwd({ name: "late" }), data);
    await c.close();
    col = undefined;
    // alerts stored before these forwarders first ran
    const pre = await startCollector({ listen: "127.0.0.1:0", dataDir: data, token: TOKEN, logger: silent });
    await pre.ingest([alert("old-1"), alert("old-2")]);
    await pre.close();
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: data,
      token: TOKEN,
      logger: silent,
      forwarders: [fwd({ name: "fresh" }), fwd({ name: "replay", start: "beginning" })],
      createDestination: async () => testDestination(`http://127.0.0.1:${rx.port}/`, 10),
    });
    await until("replay of the old alerts", () => rx.ids.length >= 2);
    await col.ingest([alert("new-1")]);
    await until("new alert to both", () => rx.ids.filter((x) => x === "new-1").length === 2);
    expect(rx.ids.filter((x) => x.startsWith("old-"))).toEqual(["old-1", "old-2"]);
  });

  it("waits out an outage and a 429 with Retry-After, then delivers everything in order", async () => {
    const c = await start(fwd({}), ":memory:");
    rx.fail = { status: 503, times: 3 };
    await c.ingest([alert("o-1"), alert("o-2")]);
    await until("delivered after 503s", () => rx.ids.length === 2);
    rx.fail = { status: 429, headers: { "retry-after": "1" }, times: 1 };
    await c.ingest([alert("o-3")]);
    await until("delivered after 429", () => rx.ids.length === 3, 5000);
    const last = rx.stamps.length;
    expect(rx.stamps[last - 1]! - rx.stamps[last - 2]!).toBeGreaterThanOrEqual(950);
    expect(rx.ids).toEqual(["o-1", "o-2", "o-3"]);
    const s = await status(c);
    expect((s["counters"] as Record<string, number>)["retried"]).toBeGreaterThanOrEqual(4);
    expect(String(s["lastError"])).toContain("HTTP 429");
  });

  it("survives the destination going away entirely (connection refused) and coming back", async () => {
    const data = ":memory:";
    const c = await start(fwd({}), data);
    await rx.stop();
    await c.ingest(Array.from({ length: 10 }, (_, i) => alert(`down-${i}`)));
    await new Promise((r) => setTimeout(r, 600));
    const s = await status(c);
    expect(s["lagAlerts"]).toBe(10);
    expect(s["state"]).toBe("retrying");
    await rx.start(rx.port);
    await until("delivered after the outage", () => rx.ids.length === 10, 10_000);
    expect(rx.ids).toEqual(Array.from({ length: 10 }, (_, i) => `down-${i}`));
  });

  it("retries a refusal of the destination itself (401) instead of dead-lettering, showing it as the last error until fixed", async () => {
    const c = await start(fwd({}), ":memory:");
    rx.fail = { status: 401, times: 4 };
    await c.ingest([alert("w-1"), alert("w-2")]);
    await until("refused a few times", () => rx.requests >= 2);
    const s = await status(c);
    expect(s["state"]).toBe("retrying");
    expect(String(s["lastError"])).toContain("HTTP 401 (refused as configured: check the URL, credentials and permissions");
    expect(s["deadLetters"]).toBe(0);
    await until("delivered once the credentials are right", () => rx.ids.length === 2);
    expect(rx.ids).toEqual(["w-1", "w-2"]);
    expect((await status(c))["deadLetters"]).toBe(0);
  });

  it("dead-letters the one alert refused for good and delivers the rest in order", async () => {
    const c = await start(fwd({}), ":memory:", 8);
    rx.refuse.add("d-5");
    await c.ingest(Array.from({ length: 12 }, (_, i) => alert(`d-${i}`)));
    await until("11 delivered", () => rx.ids.length === 11);
    expect(rx.ids).toEqual(Array.from({ length: 12 }, (_, i) => `d-${i}`).filter((x) => x !== "d-5"));
    const r = await fetch(`http://${c.address}/api/v1/forwarders/test/dead-letters`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await r.json()) as { dead_letters: { alert_id: string; error: string }[] };
    expect(body.dead_letters.map((d) => d.alert_id)).toEqual(["d-5"]);
    expect(body.dead_letters[0]!.error).toContain("HTTP 400");
    expect((await status(c))["deadLetters"]).toBe(1);
    expect((await fetch(`http://${c.address}/api/v1/forwarders/nope/dead-letters`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });

  it("forwards only what its filters match", async () => {
    const c = await start(
      fwd({ min_priority: "error", rules: ["Terminal*"], namespaces: ["prod*"], tags: ["T1059", "shell"], sources: ["syscall"] }),
      ":memory:",
    );
    await c.ingest([
      alert("f-ok", { rule: "Terminal shell in container", priority: "Critical", tags: ["shell"] }),
      alert("f-prio", { rule: "Terminal shell in container", priority: "Warning", tags: ["shell"] }),
      alert("f-rule", { rule: "Read Shadow File", priority: "Critical", tags: ["shell"] }),
      alert("f-ns", { rule: "Terminal shell in container", priority: "Critical", tags: ["shell"], ns: "dev" }),
      alert("f-tag", { rule: "Terminal shell in container", priority: "Critical", tags: ["other"] }),
      alert("f-src", { rule: "Terminal shell in container", priority: "Critical", tags: ["shell"], source: "k8s_audit" }),
      alert("f-ok2", { rule: "Terminal shell in container", priority: "Error", tags: ["T1059"], ns: "prod-eu" }),
    ]);
    await until("two delivered", () => rx.ids.length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.ids).toEqual(["f-ok", "f-ok2"]);
    expect(((await status(c))["counters"] as Record<string, number>)["filtered"]).toBe(5);
  });

  it("groups repeats of a rule in one container within the window into one message with a count", async () => {
    const c = await start(fwd({ group_window_seconds: 60 }), ":memory:");
    await c.ingest([alert("g-1"), alert("g-2"), alert("g-3", { rule: "Other rule" }), alert("g-4"), alert("g-5", { container: "c2" }), alert("g-6")]);
    await until("three messages", () => rx.ids.length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.ids).toEqual(["g-1", "g-3", "g-5"]);
    expect(rx.counts).toEqual([4, 1, 1]);
  });

  it("paces to its rate limit without dropping", async () => {
    const c = await start(fwd({ rate_limit_per_minute: 600 }), ":memory:", 1);
    const t0 = Date.now();
    await c.ingest(Array.from({ length: 615 }, (_, i) => alert(`r-${i}`)));
    // the bucket starts full (600): the 15 beyond it come at 10/s
    await until("all delivered", () => rx.ids.length === 615, 20_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    expect(rx.ids).toEqual(Array.from({ length: 615 }, (_, i) => `r-${i}`));
  });

  it("shows each forwarder on /metrics and in vigil forwarders status", async () => {
    const c = await start(fwd({ name: "siem" }), ":memory:");
    rx.refuse.add("m-2");
    await c.ingest([alert("m-1"), alert("m-2"), alert("m-3")]);
    await until("two delivered", () => rx.ids.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    const text = await (await fetch(`http://${c.address}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).toContain('vigil_collector_forwarder_sent_total{forwarder="siem",type="webhook"} 2');
    expect(text).toContain('vigil_collector_forwarder_dead_lettered_total{forwarder="siem",type="webhook"} 1');
    expect(text).toContain('vigil_collector_forwarder_lag_alerts{forwarder="siem",type="webhook"} 0');
    expect(text).toContain('vigil_collector_forwarder_active{forwarder="siem",type="webhook"} 1');
    const json = await runCli(["forwarders", "status", "--collector", c.address, "--token", TOKEN, "--output", "json"]);
    expect(json.code).toBe(0);
    const list = (JSON.parse(json.stdout) as { forwarders: { name: string; deadLetters: number; counters: Record<string, number> }[] }).forwarders;
    expect(list).toHaveLength(1);
    expect(list[0]!.name).toBe("siem");
    expect(list[0]!.deadLetters).toBe(1);
    expect(list[0]!.counters["sent"]).toBe(2);
    const table = await runCli(["forwarders", "status", "--collector", c.address, "--token", TOKEN]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+TYPE\s+STATE\s+CURSOR\s+LAG/);
    expect(table.stdout).toMatch(/siem\s+webhook\s+running/);
    expect(table.stdout).toContain("HTTP 400");
    const denied = await runCli(["forwarders", "status", "--collector", c.address, "--token", "wrong"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("forwarders status failed: missing or bad bearer token");
  }, 60_000);

  it("counts the alerts retention deletes before a lagging forwarder reached them, and goes on", async () => {
    const c = await start(fwd({ name: "slow" }), ":memory:");
    rx.fail = { status: 503, times: 1_000_000 };
    // the forwarder holds x-0 (its page read) and retries; two old alerts come after it
    await c.ingest([alert("x-0")]);
    await until("a failed attempt", () => rx.requests > 0);
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    await c.ingest([alert("x-1", { time: old }), alert("x-2", { time: old }), alert("x-3")]);
    expect((c.store.applyRetention(7 * 86_400_000) as RetentionResult).unsent).toEqual([{ forwarder: "slow", alerts: 2 }]);
    rx.fail = undefined;
    await until("the kept alert delivered", () => rx.ids.includes("x-3"));
    expect(rx.ids).toEqual(["x-0", "x-3"]);
    const s = await status(c);
    expect(s["expired"]).toBe(2);
    expect(s["lagAlerts"]).toBe(0);
    const text = await (await fetch(`http://${c.address}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).toContain('vigil_collector_forwarder_expired_alerts{forwarder="slow",type="webhook"} 2');
    const table = await runCli(["forwarders", "status", "--collector", c.address, "--token", TOKEN]);
    expect(table.stdout.split("\n")[0]).toMatch(/\bDEAD\s+EXPIRED\s+LAST ERROR$/);
    expect(table.stdout).toMatch(/slow\s+webhook\s+\S+(\s+\S+){6}\s+0\s+2\b/);
  }, 60_000);

  it("serves one stored alert by ID (the link chat messages carry)", async () => {
    const c = await start(fwd({}), ":memory:");
    await c.ingest([alert("link-1")]);
    const r = await fetch(`http://${c.address}/api/v1/alerts/link-1`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { id: string }).id).toBe("link-1");
    expect((await fetch(`http://${c.address}/api/v1/alerts/none`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await fetch(`http://${c.address}/api/v1/alerts/link-1`)).status).toBe(401);
  });

  it("refuses to start with a destination it cannot make, naming the forwarder", async () => {
    await expect(
      startCollector({
        listen: "127.0.0.1:0",
        dataDir: ":memory:",
        logger: silent,
        forwarders: [fwd({ name: "broken" })],
        createDestination: async () => {
          throw new Error("token_file /nope: ENOENT");
        },
      }),
    ).rejects.toThrow("forwarder broken (webhook): token_file /nope: ENOENT");
  });

  it("a DeliveryError is retryable unless permanent", () => {
    expect(new DeliveryError("x").permanent).toBe(false);
    expect(new DeliveryError("x", { permanent: true, status: 400 }).status).toBe(400);
  });
});
