// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet mode's surface, unchanged for users: two collectors (in process) on one NATS server
 * with JetStream and PostgreSQL. Every way in (an agent's NATS sink with a capture, a gRPC push
 * relayed to JetStream, Falco's http_output) ends in the one store; `vigil alerts query`, the
 * captures endpoint and the tail answer the same on both replicas; a tail joins history and live
 * at one seq, and resumes on the other replica from a seq the first one gave.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COLLECTOR_METRICS } from "../../collector/metrics.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { createCollectorSink } from "../../agent/sinks/collector-sink.js";
import type { Alert } from "../../proto/index.js";
import { fleetStreamSchema, natsConnectionSchema } from "../../proto/fleet-schema.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";
import { postgresAvailable, startPostgres, type PgServer } from "../helpers/postgres.js";
import { runCli } from "../sinks/helpers/run-ts.js";
import { outOfOrder, storedIds, TOKEN, waitFor } from "./harness.js";

const silent = pino({ level: "silent" });

function alert(id: string, node = "node-a", extra: Partial<Alert> = {}): Alert {
  return {
    id,
    time: new Date().toISOString(),
    rule: "Read Shadow File",
    priority: "Warning",
    source: "syscall",
    hostname: node,
    output: `read of /etc/shadow (${id})`,
    output_fields: { "proc.name": "cat", "fd.name": "/etc/shadow", "k8s.ns.name": "prod", "k8s.pod.name": "web-1" },
    tags: ["api", "T1003"],
    ...extra,
  };
}

/** Reads a tail until `n` alerts came; `url` carries the query. */
function tailUntil(url: string, n: number, timeoutMs = 30_000): Promise<{ ids: string[]; seqs: number[]; liveSeq: number | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["vigil.v1", `vigil.bearer.${TOKEN}`]);
    const ids: string[] = [];
    const seqs: number[] = [];
    let liveSeq: number | undefined;
    const t = setTimeout(() => {
      ws.close();
      reject(new Error(`tail got ${ids.length} of ${n}`));
    }, timeoutMs);
    ws.on("message", (d: Buffer) => {
      for (const line of d.toString().split("\n")) {
        if (line === "") continue;
        const m = JSON.parse(line) as { type: string; seq: number; alert?: { id: string } };
        if (m.type === "live") liveSeq = m.seq;
        else {
          ids.push(m.alert!.id);
          seqs.push(m.seq);
        }
      }
      if (ids.length >= n) {
        clearTimeout(t);
        // a moment more: anything beyond n would be a duplicate
        setTimeout(() => {
          ws.close();
          resolve({ ids, seqs, liveSeq });
        }, 300);
      }
    });
    ws.on("error", (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}

describe.skipIf(!postgresAvailable())("fleet mode: the same API on every replica", () => {
  let dir: string;
  let nats: NatsTestCluster;
  let pg: PgServer;
  let a: RunningCollector;
  let b: RunningCollector;

  const fleet = () => ({
    servers: nats.urls,
    nats: natsConnectionSchema.parse({ cluster: "api" }),
    stream: fleetStreamSchema.parse({ max_bytes: 64 * 1024 * 1024, ack_wait_ms: 3000 }),
    storeUrl: pg.url,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fleet-api-"));
    [nats, pg] = await Promise.all([startNats({ nodes: 1 }), startPostgres()]);
    a = await startCollector({ listen: "127.0.0.1:0", dataDir: "", token: TOKEN, fleet: fleet(), logger: silent, retentionMs: 0 });
    b = await startCollector({ listen: "127.0.0.1:0", dataDir: "", token: TOKEN, fleet: fleet(), logger: silent, retentionMs: 0 });
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await nats?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("stores an agent's alerts and capture sent over NATS; both replicas serve them", async () => {
    const sink = createCollectorSink({
      address: nats.urls[0]!,
      nats: natsConnectionSchema.parse({ cluster: "api" }),
      spoolDir: join(dir, "spool-capture"),
      hostname: "node-cap",
      logger: silent,
    });
    const data = Buffer.alloc(600 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    expect((await sink.export([alert("cap-1", "node-cap")])).ok).toBe(true);
    expect(sink.exportCapture({ alertId: "cap-1", data, eventCount: 42, containerId: "c0ffee" })).toBe(true);
    await sink.forceFlush();
    await sink.shutdown();
    await waitFor(
      "the capture on replica b",
      async () => (await fetch(`http://${b.address}/api/v1/captures/cap-1`, { headers: { authorization: `Bearer ${TOKEN}` } })).status === 200,
      20_000,
    );
    for (const col of [a, b]) {
      const r = await fetch(`http://${col.address}/api/v1/captures/cap-1`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get("x-vigil-event-count")).toBe("42");
      expect(Buffer.from(await r.arrayBuffer()).equals(data)).toBe(true);
    }
    expect(await storedIds(a.address, "api")).toContain("cap-1");
  }, 60_000);

  it("relays a gRPC push and a Falco http_output post through JetStream into the store", async () => {
    const client = new CollectorClient({ address: a.address, token: TOKEN });
    const r = await client.push([alert("grpc-1", "node-grpc"), alert("grpc-2", "node-grpc")], [], "node-grpc");
    client.close();
    expect(r.ackedIds).toEqual(["grpc-1", "grpc-2"]);
    const falco = {
      uuid: "falco-http-1",
      output: "Falco says hello",
      priority: "Critical",
      rule: "Terminal shell in container",
      time: new Date().toISOString(),
      output_fields: { "proc.name": "bash" },
      hostname: "node-falco",
      source: "syscall",
      tags: ["api"],
    };
    const post = await fetch(`http://${b.address}/api/v1/falco`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(falco),
    });
    expect(post.status).toBe(200);
    const posted = (await post.json()) as { id: string; stored: boolean };
    expect(posted.stored).toBe(true);
    await waitFor(
      "relayed alerts stored",
      async () => {
        const ids = await storedIds(b.address, "api");
        return ["grpc-1", "grpc-2", posted.id].every((id) => ids.includes(id));
      },
      20_000,
    );
    // a resend of the same push is acknowledged again and stores nothing twice
    const again = new CollectorClient({ address: b.address, token: TOKEN });
    await again.push([alert("grpc-1", "node-grpc")], [], "node-grpc");
    again.close();
    await new Promise((r2) => setTimeout(r2, 500));
    const ids = await storedIds(a.address, "api");
    expect(ids.filter((id) => id === "grpc-1")).toHaveLength(1);
  }, 60_000);

  it("answers vigil alerts query --collector HOST:PORT --token T --output json the same on both replicas", async () => {
    const outs: string[] = [];
    for (const col of [a, b]) {
      const r = await runCli(["alerts", "query", "--collector", col.address, "--token", TOKEN, "--output", "json", "--tag", "api"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      outs.push(r.stdout);
    }
    expect(outs[0]).toBe(outs[1]);
    const lines = outs[0]!.trim().split("\n");
    const got = lines.map((l) => (JSON.parse(l) as { id: string; rule: string }).id);
    expect(got).toEqual(expect.arrayContaining(["cap-1", "grpc-1", "grpc-2"]));
    expect(new Set(got).size).toBe(got.length);
  }, 60_000);

  it("joins history and live at one seq while alerts stream in, and resumes on another replica", async () => {
    const sink = createCollectorSink({
      address: nats.urls[0]!,
      nats: natsConnectionSchema.parse({ cluster: "api" }),
      spoolDir: join(dir, "spool-seam"),
      hostname: "node-seam",
      logger: silent,
    });
    const total = 600;
    const first = 200;
    // history exists before the tail connects
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => alert(`seam-${from + i}`, "node-seam", { tags: ["seam"] }));
    expect((await sink.export(batch(0, first))).ok).toBe(true);
    await waitFor("the first alerts stored", async () => (await storedIds(a.address, "seam")).length === first, 20_000);
    // the tail replays history from the start while the rest streams in
    const tailing = tailUntil(`ws://${a.address}/api/v1/tail?after_seq=0&tag=seam`, total);
    for (let k = first; k < total; k += 20) {
      expect((await sink.export(batch(k, 20))).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 10));
    }
    const got = await tailing;
    expect(got.ids).toHaveLength(total);
    expect(new Set(got.ids).size).toBe(total);
    expect(outOfOrder(got.ids)).toEqual([]);
    // seqs are the stream's: strictly increasing
    for (let i = 1; i < got.seqs.length; i++) expect(got.seqs[i]).toBeGreaterThan(got.seqs[i - 1]!);
    // the other replica, asked to resume after the 300th alert's seq, sends exactly the rest
    const resumed = await tailUntil(`ws://${b.address}/api/v1/tail?after_seq=${got.seqs[299]}&tag=seam`, total - 300);
    expect(resumed.ids).toEqual(got.ids.slice(300));
    // and by ID (after=<alert id>)
    const byId = await tailUntil(`ws://${b.address}/api/v1/tail?after=seam-549&tag=seam`, 50);
    expect(byId.ids).toEqual(got.ids.slice(550));
    await sink.shutdown();
  }, 90_000);

  it("exports every fleet counter on /metrics with a name and help of its own", async () => {
    const keys = Object.keys(a.stats());
    expect(keys).toEqual(expect.arrayContaining(["fleet_alerts_stored", "fleet_redelivered", "feed_alerts", "fleet_pending", "tail_watermark"]));
    expect(keys.filter((k) => COLLECTOR_METRICS[k] === undefined)).toEqual([]);
    const text = await (await fetch(`http://${a.address}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).toContain("# TYPE vigil_collector_fleet_stream_pending gauge");
    const stored = Number(/^vigil_collector_fleet_alerts_stored_total (\d+)/m.exec(text)?.[1] ?? "0");
    const storedB = (b.stats()["fleet_alerts_stored"] ?? 0) as number;
    // the two replicas shared the work: together they stored every alert of this file once
    expect(stored + storedB).toBe(await a.store.count());
  });

  it("refuses a contradictory or unsafe command line with a clear message", async () => {
    const noStore = await runCli(["collector", "--listen", "127.0.0.1:0", "--nats", nats.urls[0]!]);
    expect(noStore.code).not.toBe(0);
    expect(noStore.stderr).toContain("--nats and --store go together");
    const pw = await runCli(["collector", "--listen", "127.0.0.1:0", "--nats", nats.urls[0]!, "--store", "postgres://vigil:s3cret@127.0.0.1:5432/vigil"]);
    expect(pw.code).not.toBe(0);
    expect(pw.stderr).toContain("a password in the --store URL is refused");
    expect(pw.stderr).not.toContain("s3cret");
    const natsCreds = await runCli(["collector", "--listen", "127.0.0.1:0", "--nats", "nats://u:hunter2@127.0.0.1:4222", "--store", pg.url]);
    expect(natsCreds.code).not.toBe(0);
    expect(natsCreds.stderr).toContain("credentials in a NATS URL are refused");
    expect(natsCreds.stderr).not.toContain("hunter2");
  }, 60_000);
});
