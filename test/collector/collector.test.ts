// SPDX-License-Identifier: Apache-2.0
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import WebSocket from "ws";
import { deflateSync, gzipSync } from "node:zlib";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { makeAlert, memoryLogger, ndjson, quiet, tempDir, waitFor } from "./helpers.js";
import { alertToProto, vigilProto, type Alert } from "../../proto/index.js";

const TOKEN = "s3cret-token";

describe("collector ingest (gRPC)", () => {
  let col: RunningCollector;
  let client: CollectorClient;
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), token: TOKEN, logger: quiet(), maxMessageBytes: 256 * 1024 });
    client = new CollectorClient({ address: col.address, token: TOKEN });
  });
  afterAll(async () => {
    client.close();
    await col.close();
  });

  it("stores a batch, acks by ID, and a resend never duplicates", async () => {
    const batch = Array.from({ length: 50 }, () => makeAlert());
    const r1 = await client.push(batch, []);
    expect(r1.ackedIds).toEqual(batch.map((a) => a.id));
    expect(r1.rejected).toEqual([]);
    const before = col.store.count();
    const r2 = await client.push(batch, []);
    expect(r2.ackedIds).toEqual(batch.map((a) => a.id));
    expect(col.store.count()).toBe(before);
    expect(col.stats()["alerts_duplicate"]).toBeGreaterThanOrEqual(50);
    const stored = col.store.query({}, 1000).map((s) => s.alert.id);
    for (const a of batch) expect(stored).toContain(a.id);
  });

  it("round-trips every output field type exactly", async () => {
    const a = makeAlert({ fields: { "x.num": 1.5, "x.neg": -7, "x.bool": false, "x.null": null, "x.str": "a\u0000b\u{1F600}" }, blocked: true });
    await client.push([a], []);
    const got = col.store.query({}, 100000).find((s) => s.alert.id === a.id)!.alert;
    expect(got).toEqual(a);
  });

  it.each([
    ["bad id", { id: "" }],
    ["bad id", { id: "x".repeat(65) }],
    ["bad time", { time: "yesterday" }],
    ["bad priority", { priority: "Severe" as Alert["priority"] }],
    ["bad rule", { rule: "" }],
    ["bad output", { output: "o".repeat(70 * 1024) }],
  ] as const)("rejects an invalid alert (%s) by ID and stores the rest", async (reason, over) => {
    const good = makeAlert();
    const bad = makeAlert(over as Partial<Alert>);
    const r = await client.push([bad, good], []);
    expect(r.ackedIds).toEqual([good.id]);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]!.reason).toBe(reason);
  });

  it.each([
    ["no token", undefined],
    ["wrong token", "nope"],
    ["token prefix", TOKEN.slice(0, 5)],
  ])("refuses %s with UNAUTHENTICATED and counts it", async (_name, tok) => {
    const before = col.stats()["refused_unauthenticated"]!;
    const c = new CollectorClient({ address: col.address, token: tok ?? "" });
    const saved = process.env["VIGIL_TOKEN"];
    delete process.env["VIGIL_TOKEN"];
    try {
      await expect(c.push([makeAlert()], [])).rejects.toMatchObject({ code: "unauthenticated", grpcCode: status.UNAUTHENTICATED });
    } finally {
      if (saved !== undefined) process.env["VIGIL_TOKEN"] = saved;
      c.close();
    }
    expect(col.stats()["refused_unauthenticated"]).toBe(before + 1);
  });

  it.each([
    ["garbage", Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
    [
      "truncated",
      Buffer.from(
        vigilProto()
          .PushRequest.encode({ alerts: [alertToProto(makeAlert())] })
          .finish(),
      ).subarray(0, 40),
    ],
    ["invalid wire type", Buffer.from([0x7f, 0x00])],
  ])("refuses a malformed request (%s) with INVALID_ARGUMENT", async (_n, body) => {
    const before = col.stats()["refused_malformed"]!;
    await expect(client.pushRaw(body)).rejects.toMatchObject({ grpcCode: status.INVALID_ARGUMENT });
    expect(col.stats()["refused_malformed"]).toBe(before + 1);
  });

  it.each([
    // the gRPC receive limit is max_message_bytes itself: grpc-js refuses on the length prefix, before buffering
    ["just over the limit", 300 * 1024, "refused_transport_or_cancelled"],
    ["twice the limit", 600 * 1024, "refused_transport_or_cancelled"],
  ])("refuses a request %s with RESOURCE_EXHAUSTED", async (_n, size, counter) => {
    const before = col.stats()[counter]!;
    const a = makeAlert({ fields: {} });
    const many = Array.from({ length: Math.ceil(size / 16000) }, () => ({ ...a, id: makeAlert().id, output: "x".repeat(16000) }));
    await expect(client.push(many, [])).rejects.toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED });
    await waitFor(() => col.stats()[counter] === before + 1, 2000, counter);
  });

  it("stores a capture with its alert, idempotently", async () => {
    const a = makeAlert();
    const data = Buffer.from("not really gzip but opaque bytes");
    const r = await client.push([a], [{ alertId: a.id, data, eventCount: 3, containerId: "abcdef123456" }]);
    expect(r.ackedCaptureIds).toEqual([a.id]);
    await client.push([a], [{ alertId: a.id, data, eventCount: 3, containerId: "abcdef123456" }]);
    expect(col.store.getCapture(a.id)).toMatchObject({ data, eventCount: 3 });
    expect(col.stats()["captures_duplicate"]).toBe(1);
  });
});

describe("collector HTTP side", () => {
  let col: RunningCollector;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const mem = memoryLogger();
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), token: TOKEN, logger: mem.logger });
    base = `http://${col.address}`;
  });
  afterAll(() => col.close());

  it("answers /healthz without a token", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it.each([
    ["GET", "/api/v1/alerts"],
    ["GET", "/api/v1/stats"],
    ["GET", "/metrics"],
    ["GET", "/api/v1/captures/x"],
    ["POST", "/"],
    ["POST", "/api/v1/falco"],
  ])("refuses %s %s without a token (401)", async (method, path) => {
    for (const h of [{}, { authorization: "Bearer wrong" }, { authorization: TOKEN + "x" }]) {
      const r = await fetch(base + path, { method, headers: h, ...(method === "POST" ? { body: "{}" } : {}) });
      expect(r.status).toBe(401);
    }
  });

  it("refuses a WebSocket upgrade without a token, and on an unknown path", async () => {
    for (const [url, code, authz] of [
      [`ws://${col.address}/api/v1/tail`, 401, undefined],
      [`ws://${col.address}/api/v1/tail`, 401, "Bearer bad"],
      [`ws://${col.address}/nope`, 404, `Bearer ${TOKEN}`],
      [`ws://${col.address}/api/v1/tail?priority=loud`, 400, `Bearer ${TOKEN}`],
      [`ws://${col.address}/api/v1/tail?after=not-stored`, 400, `Bearer ${TOKEN}`],
    ] as const) {
      const ws = new WebSocket(url, authz === undefined ? {} : { headers: { authorization: authz } });
      const got = await new Promise<number>((resolve) => {
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => resolve(101));
        ws.on("error", () => undefined);
      });
      expect(got, url).toBe(code);
      ws.terminate();
    }
  });

  const falcoAlert = (over: Record<string, unknown> = {}) => ({
    uuid: "0f8e7c52-7b7c-4f3e-9b5e-2a9f0d3c1a11",
    output: "12:00:00.000000000: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow)",
    priority: "Warning",
    rule: "Read sensitive file untrusted",
    time: "2026-11-28T12:00:00.123456789Z",
    output_fields: { "fd.name": "/etc/shadow", "proc.pid": 42, "k8s.ns.name": "prod", "evt.is_open_read": true, "user.name": null },
    source: "syscall",
    tags: ["T1555", "filesystem", "mitre_credential_access"],
    hostname: "falco-node",
    ...over,
  });

  it("accepts a Falco 0.44 http_output post, idempotently by uuid", async () => {
    const body = JSON.stringify(falcoAlert());
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${base}/`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ id: "0f8e7c52-7b7c-4f3e-9b5e-2a9f0d3c1a11", stored: i === 0 });
    }
    const q = ndjson(await (await fetch(`${base}/api/v1/alerts?rule=Read+sensitive+file+untrusted`, { headers: auth })).text()) as Record<string, unknown>[];
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ id: "0f8e7c52-7b7c-4f3e-9b5e-2a9f0d3c1a11", priority: "Warning", hostname: "falco-node" });
    expect((q[0]!["output_fields"] as Record<string, unknown>)["proc.pid"]).toBe(42);
  });

  it.each([
    ["gzip", "gzip"],
    ["deflate", "deflate"],
  ])("accepts a %s-compressed Falco post (http_output.compress_uploads)", async (_n, enc) => {
    const uuid = enc === "gzip" ? "0f8e7c52-7b7c-4f3e-9b5e-2a9f0d3c1a12" : "0f8e7c52-7b7c-4f3e-9b5e-2a9f0d3c1a13";
    const json = Buffer.from(JSON.stringify(falcoAlert({ uuid })));
    const body = enc === "gzip" ? gzipSync(json) : deflateSync(json);
    const r = await fetch(`${base}/`, { method: "POST", headers: { ...auth, "content-encoding": enc }, body });
    expect(r.status).toBe(200);
    expect(col.store.seqOf(uuid)).toBeDefined();
  });

  it("refuses a compressed bomb and an unknown encoding with 400", async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect((await fetch(`${base}/`, { method: "POST", headers: { ...auth, "content-encoding": "gzip" }, body: bomb })).status).toBe(400);
    expect((await fetch(`${base}/`, { method: "POST", headers: { ...auth, "content-encoding": "br" }, body: "{}" })).status).toBe(400);
  });

  it.each([
    ["not JSON", "{nope"],
    ["an array", "[]"],
    ["no rule", JSON.stringify(falcoAlert({ rule: undefined }))],
    ["bad priority", JSON.stringify(falcoAlert({ priority: "LOUD" }))],
    ["bad time", JSON.stringify(falcoAlert({ time: "noon" }))],
    ["huge rule", JSON.stringify(falcoAlert({ rule: "r".repeat(5000) }))],
  ])("refuses a malformed Falco post (%s) with 400", async (_n, body) => {
    const before = col.stats()["http_bad_request"]!;
    const r = await fetch(`${base}/api/v1/falco`, { method: "POST", headers: auth, body });
    expect(r.status).toBe(400);
    expect(col.stats()["http_bad_request"]).toBe(before + 1);
  });

  it("exposes its counters for Prometheus", async () => {
    const r = await fetch(`${base}/metrics`, { headers: auth });
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^vigil_collector_http_unauthenticated_total \d+$/m);
  });

  it("refuses an oversized body with 413", async () => {
    const r = await fetch(`${base}/api/v1/falco`, { method: "POST", headers: auth, body: "x".repeat(2 * 1024 * 1024) }).catch(() => undefined);
    // the server answers 413 and closes; fetch may see the answer or a reset
    if (r) expect(r.status).toBe(413);
    await waitFor(() => col.stats()["http_too_large"] === 1, 5000, "too-large counter");
  });

  it("logs a bad post once, with the reason, not the body at top level", () => {
    const l = mem.lines.filter((x) => x["msg"] === "bad Falco alert post refused (logged once)");
    expect(l).toHaveLength(1);
  });
});

describe("collector query filters", () => {
  let col: RunningCollector;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", logger: quiet(), retentionMs: 0 });
    const mk = (name: string, over: Partial<Alert>, fields: Alert["output_fields"] = {}) => {
      const a = makeAlert({ ...over, fields });
      ids[name] = a.id;
      return a;
    };
    col.ingest([
      mk("old", { time: "2026-01-01T00:00:00.000000001Z", rule: "Old rule", priority: "Critical" }),
      mk(
        "shadow",
        { time: "2026-06-01T00:00:00Z", rule: "Read shadow", priority: "Error", hostname: "node-b" },
        { "k8s.ns.name": "prod", "k8s.pod.name": "api-7" },
      ),
      mk(
        "shell",
        { time: "2026-06-02T00:00:00Z", rule: "Shell in container", priority: "Notice", tags: ["T1059", "shell"] },
        { "container.name": "sidecar", "container.id": "0123456789ab" },
      ),
      mk(
        "debug",
        { time: "2026-06-03T00:00:00Z", rule: "Debug thing", priority: "Debug", tags: ["T1059"] },
        { "container.image.repository": "quay.io/x/busybox", "container.image.tag": "1" },
      ),
    ]);
  });
  afterAll(() => col.close());

  const q = async (qs: string) => {
    const r = await fetch(`http://${col.address}/api/v1/alerts?${qs}`);
    expect(r.status).toBe(200);
    return (ndjson(await r.text()) as { id: string }[]).map((a) => Object.entries(ids).find(([, v]) => v === a.id)?.[0]);
  };

  it.each([
    ["", ["old", "shadow", "shell", "debug"]],
    ["since=2026-06-01T00:00:00Z", ["shadow", "shell", "debug"]],
    ["until=2026-06-02T00:00:00Z", ["old", "shadow"]],
    ["since=2026-06-01&until=2026-06-03", ["shadow", "shell"]],
    ["rule=Read%20shadow", ["shadow"]],
    ["rule=Shell*", ["shell"]],
    ["priority=error", ["old", "shadow"]],
    ["priority=NOTICE", ["old", "shadow", "shell"]],
    ["tag=T1059", ["shell", "debug"]],
    ["tag=T1059&tag=shell", ["shell"]],
    ["node=node-b", ["shadow"]],
    ["namespace=prod", ["shadow"]],
    ["pod=api-*", ["shadow"]],
    ["container=sidecar", ["shell"]],
    ["container=0123456789ab", ["shell"]],
    ["image=quay.io/x/busybox", ["debug"]],
    ["image=quay.io/x/busybox:1", ["debug"]],
    ["image=*nginx*", ["old", "shadow", "shell"]],
    ["namespace=prod&priority=critical", []],
    ["limit=2", ["old", "shadow"]],
  ])("?%s", async (qs, want) => {
    expect(await q(qs)).toEqual(want);
  });

  it.each(["priority=loud", "since=tomorrow", "limit=0", "limit=x", "until=2026-13-45"])("refuses ?%s with 400", async (qs) => {
    expect((await fetch(`http://${col.address}/api/v1/alerts?${qs}`)).status).toBe(400);
  });

  it("applies retention by alert time", () => {
    const r = col.store.applyRetention(30 * 86_400_000, Date.parse("2026-06-02T12:00:00Z"));
    expect(r).toEqual({ removed: 1, unsent: [] });
    expect(col.store.count()).toBe(3);
  });
});

describe("collector bind rules", () => {
  it("refuses a non-loopback bind without a token", async () => {
    const saved = process.env["VIGIL_TOKEN"];
    delete process.env["VIGIL_TOKEN"];
    try {
      await expect(startCollector({ listen: "0.0.0.0:0", dataDir: ":memory:", logger: quiet() })).rejects.toThrow(/token is required/);
    } finally {
      if (saved !== undefined) process.env["VIGIL_TOKEN"] = saved;
    }
  });

  it("takes its token only from its options: VIGIL_TOKEN is read by the command line, not here", async () => {
    process.env["VIGIL_TOKEN"] = "from-env";
    try {
      await expect(startCollector({ listen: "0.0.0.0:0", dataDir: ":memory:", logger: quiet() })).rejects.toThrow(/token is required/);
      const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", logger: quiet() });
      expect((await fetch(`http://${col.address}/api/v1/stats`)).status).toBe(200);
      await col.close();
    } finally {
      delete process.env["VIGIL_TOKEN"];
    }
  });
});
