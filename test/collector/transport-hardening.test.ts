// SPDX-License-Identifier: Apache-2.0
/**
 * Attacks on the collector's transport (issue 13, findings 1, 4, 5, 7): each test attacks a
 * real collector on 127.0.0.1 (in this process, or in a child process where its memory is
 * measured) and checks it stays up, refuses at the right place and serves others afterwards.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as h2connect, constants as h2c, type ClientHttp2Session } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import WebSocket from "ws";
import { startCollector, type CollectorOptions, type RunningCollector } from "../../collector/server.js";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { AuthFailureLimiter } from "../../collector/auth-limiter.js";
import { makeAlert, memoryLogger, quiet, tempDir, waitFor } from "./helpers.js";
import { REPO } from "../sinks/helpers/run-ts.js";

const TOKEN = "hardening-token";
const PUSH_PATH = "/vigil.collector.v1.Ingest/Push";

const started: RunningCollector[] = [];
async function collector(over: Partial<CollectorOptions> = {}): Promise<RunningCollector> {
  const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, logger: quiet(), ...over });
  started.push(col);
  return col;
}
afterEach(async () => {
  for (const c of started.splice(0)) await c.close();
});

const get = (col: RunningCollector, path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
  fetch(`http://${col.address}${path}`, { headers, signal: AbortSignal.timeout(5000) });

/** Opens a raw TCP connection; resolves once connected. */
function open(address: string): Promise<Socket> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const s = netConnect(port, host, () => resolve(s));
    s.on("error", reject);
  });
}

/** Resolves with the ms until `s` is closed by the peer (or rejects after `ms`). */
function closedWithin(s: Socket, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve(0);
    const t = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
    s.on("error", () => undefined);
    s.once("close", () => {
      clearTimeout(t);
      resolve(Date.now() - t0);
    });
    s.resume();
  });
}

/**
 * A gRPC Push of `total` bytes sent as an attacker would over raw HTTP/2: the body is written
 * whatever the server answers (from one shared chunk, so the attacker holds little). Resolves
 * with the grpc-status the server gave (-1 if none).
 */
function rawPush(session: ClientHttp2Session, total: number, chunk: Buffer, authz?: string): Promise<number> {
  return new Promise((resolve) => {
    let code = -1;
    const req = session.request({
      ":method": "POST",
      ":path": PUSH_PATH,
      "content-type": "application/grpc",
      te: "trailers",
      ...(authz !== undefined ? { authorization: authz } : {}),
    });
    const take = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) code = Number(h["grpc-status"]);
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("error", () => undefined);
    req.on("close", () => resolve(code));
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(total, 1);
    let sent = 0;
    const pump = () => {
      while (sent < total && !req.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once("drain", pump);
      }
      if (!req.destroyed) req.end();
    };
    req.write(prefix);
    pump();
    req.resume();
  });
}

describe("every handler is total", () => {
  it("a malformed escape in a capture path is a 400 and the collector stays up", async () => {
    const col = await collector();
    for (const path of ["/api/v1/captures/%E0%A4%A", "/api/v1/captures/%", "/api/v1/captures/%ZZ", "/api/v1/captures/%C0%AF"]) {
      const r = await get(col, path);
      expect(r.status, path).toBe(400);
      expect(await r.json()).toEqual({ error: "bad alert ID" });
    }
    // IDs are checked against the alert ID charset (path tricks, control characters, too long)
    for (const id of ["..%2F..%2Fetc%2Fpasswd", "a%00b", "x".repeat(65), "%20a"]) expect((await get(col, `/api/v1/captures/${id}`)).status, id).toBe(400);
    expect((await get(col, "/api/v1/captures/0192f0c4-aaaa-7bbb-8ccc-123456789abc")).status).toBe(404);
    expect((await get(col, "/healthz", {})).status).toBe(200);
    expect(col.stats()["http_bad_request"]).toBeGreaterThanOrEqual(8);
  });

  it("a handler that throws answers 500 'internal error', counted and logged once, and the process stays up", async () => {
    const mem = memoryLogger();
    const col = await collector({ logger: mem.logger });
    // a closed store makes every store call throw inside the handlers
    col.store.close();
    for (let i = 0; i < 3; i++) {
      const r = await get(col, "/api/v1/captures/some-alert-id");
      expect(r.status).toBe(500);
      expect(await r.json()).toEqual({ error: "internal error" });
    }
    expect(col.stats()["http_internal_errors"]).toBe(3);
    expect(mem.lines.filter((l) => l["msg"] === "HTTP handler failed (logged once per kind)")).toHaveLength(1);
    expect((await get(col, "/healthz", {})).status).toBe(200);
  });
});

describe("gRPC: refused on the metadata, before the message is read", () => {
  it("an unauthenticated push of 16 MiB is refused UNAUTHENTICATED without being buffered", async () => {
    const col = await collector({ limits: { max_message_bytes: 32 * 1024 * 1024 } });
    const session = h2connect(`http://${col.address}`);
    session.on("error", () => undefined);
    const code = await rawPush(session, 16 * 1024 * 1024, Buffer.alloc(1024 * 1024, 7));
    session.destroy();
    expect(code).toBe(status.UNAUTHENTICATED);
    expect(col.stats()["refused_unauthenticated"]).toBe(1);
    expect(col.stats()["requests"]).toBe(0);
    // nothing was reserved for it
    expect(col.stats()["inflight_bytes_high_water"]).toBe(0);
  });

  it("the receive limit is max_message_bytes itself, and an accepted call reserves it from the in-flight budget", async () => {
    const col = await collector({ limits: { max_message_bytes: 64 * 1024, inflight_bytes: 128 * 1024 } });
    const client = new CollectorClient({ address: col.address, token: TOKEN });
    try {
      const a = makeAlert({ fields: {} });
      const big = Array.from({ length: 6 }, () => ({ ...a, id: makeAlert().id, output: "x".repeat(16_000) }));
      await expect(client.push(big, [])).rejects.toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED });
      expect((await client.push([makeAlert()], [])).ackedIds).toHaveLength(1);
      expect(col.stats()["inflight_bytes_high_water"]).toBe(64 * 1024);
      expect(col.stats()["inflight_bytes_in_use"]).toBe(0);
    } finally {
      client.close();
    }
  });

  it("with the in-flight budget full, a push is refused UNAVAILABLE (retryable) and served once it frees", async () => {
    const col = await collector({ limits: { max_message_bytes: 64 * 1024, inflight_bytes: 128 * 1024 } });
    // two authenticated calls that stall mid-message hold the whole budget
    const session = h2connect(`http://${col.address}`);
    session.on("error", () => undefined);
    const stalled = [0, 1].map(() => {
      const req = session.request({
        ":method": "POST",
        ":path": PUSH_PATH,
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${TOKEN}`,
      });
      req.on("error", () => undefined);
      req.write(Buffer.from([0, 0, 0, 0x40, 0]));
      return req;
    });
    await waitFor(() => col.stats()["inflight_bytes_in_use"] === 128 * 1024, 5000, "two reservations");
    const client = new CollectorClient({ address: col.address, token: TOKEN });
    try {
      await expect(client.push([makeAlert()], [])).rejects.toMatchObject({ code: "send_failed", grpcCode: status.UNAVAILABLE });
      expect(col.stats()["inflight_refused"]).toBe(1);
      for (const r of stalled) r.close(h2c.NGHTTP2_CANCEL);
      await waitFor(() => col.stats()["inflight_bytes_in_use"] === 0, 5000, "reservations released");
      expect((await client.push([makeAlert()], [])).ackedIds).toHaveLength(1);
    } finally {
      client.close();
      session.destroy();
    }
  });

  it("a call stalled in the middle of its message ends DEADLINE_EXCEEDED after request_timeout_ms", async () => {
    const col = await collector({ limits: { request_timeout_ms: 500, headers_timeout_ms: 500 } });
    const session = h2connect(`http://${col.address}`);
    session.on("error", () => undefined);
    const req = session.request({
      ":method": "POST",
      ":path": PUSH_PATH,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${TOKEN}`,
    });
    req.on("error", () => undefined);
    req.write(Buffer.from([0, 0, 0, 0x40, 0, 1, 2]));
    const t0 = Date.now();
    const code = await new Promise<number>((resolve) => {
      const c = -1;
      // trailers-only answer; the client's own half stays open until it ends it
      req.on("response", (h) => resolve(Number(h["grpc-status"] ?? c)));
      req.on("close", () => resolve(c));
      req.resume();
    });
    expect(code).toBe(status.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(col.stats()["grpc_call_timeouts"]).toBe(1);
    expect(col.stats()["inflight_bytes_in_use"]).toBe(0);
    session.destroy();
  });
});

describe("failed-auth rate limit per address", () => {
  it("beyond auth_failures_per_minute: HTTP 429 with retry-after, gRPC RESOURCE_EXHAUSTED with retry-after, even with the right token", async () => {
    const col = await collector({ limits: { auth_failures_per_minute: 3 } });
    for (let i = 0; i < 3; i++) expect((await get(col, "/api/v1/stats", { authorization: "Bearer wrong" })).status).toBe(401);
    const r = await get(col, "/api/v1/stats", { authorization: "Bearer wrong" });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(r.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect((await get(col, "/api/v1/stats")).status).toBe(429);
    // the same address over gRPC and WebSocket
    const client = new CollectorClient({ address: col.address, token: TOKEN });
    try {
      const err = await client.push([makeAlert()], []).then(
        () => undefined,
        (e: { grpcCode?: number; code?: string; cause?: { metadata?: { get(k: string): unknown[] } } }) => e,
      );
      expect(err?.grpcCode).toBe(status.RESOURCE_EXHAUSTED);
      // the sink retries it (it is not a too-large push to drop)
      expect(err?.code).toBe("send_failed");
      expect(err?.cause?.metadata?.get("retry-after")).toHaveLength(1);
    } finally {
      client.close();
    }
    const ws = new WebSocket(`ws://${col.address}/api/v1/tail`, { headers: { authorization: `Bearer ${TOKEN}` } });
    ws.on("error", () => undefined);
    const code = await new Promise<number>((resolve) => {
      ws.on("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
    });
    ws.terminate();
    expect(code).toBe(429);
    expect(col.stats()["auth_rate_limited"]).toBe(4);
    // health stays open
    expect((await get(col, "/healthz", {})).status).toBe(200);
  });

  it("the limiter's memory is bounded (LRU of addresses) and a window ends after a minute", () => {
    let now = 1_000_000;
    const lim = new AuthFailureLimiter(2, 100, () => now);
    for (let i = 0; i < 10_000; i++) lim.fail(`10.0.${i >> 8}.${i & 255}`);
    expect(lim.size).toBe(100);
    lim.fail("192.0.2.1");
    lim.fail("192.0.2.1");
    expect(lim.retryAfterMs("192.0.2.1")).toBe(60_000);
    now += 59_000;
    expect(lim.retryAfterMs("192.0.2.1")).toBe(1000);
    now += 1000;
    expect(lim.retryAfterMs("192.0.2.1")).toBe(0);
  });

  it("failures over gRPC count for the real client address behind the proxy", async () => {
    const col = await collector({ limits: { auth_failures_per_minute: 2 } });
    const bad = new CollectorClient({ address: col.address, token: "wrong" });
    try {
      await expect(bad.push([makeAlert()], [])).rejects.toMatchObject({ grpcCode: status.UNAUTHENTICATED });
      await expect(bad.push([makeAlert()], [])).rejects.toMatchObject({ grpcCode: status.UNAUTHENTICATED });
      await expect(bad.push([makeAlert()], [])).rejects.toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED });
    } finally {
      bad.close();
    }
    expect((await get(col, "/api/v1/stats")).status).toBe(429);
  });
});

describe("WebSocket tail: the token only in headers", () => {
  const wsStatus = (url: string, opts: WebSocket.ClientOptions = {}, protocols?: string[]) =>
    new Promise<{ code: number; protocol: string; body: string }>((resolve) => {
      const ws = new WebSocket(url, protocols, opts);
      ws.on("error", () => undefined);
      ws.on("unexpected-response", (_q, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => {
          ws.terminate();
          resolve({ code: res.statusCode ?? 0, protocol: "", body });
        });
      });
      ws.on("open", () => {
        resolve({ code: 101, protocol: ws.protocol, body: "" });
        ws.close();
      });
    });

  it("?token= is refused with 400 and a clear message, even when right", async () => {
    const col = await collector();
    const r = await wsStatus(`ws://${col.address}/api/v1/tail?token=${TOKEN}`);
    expect(r.code).toBe(400);
    expect(r.body).toMatch(/token in the URL is refused/);
  });

  it("the vigil.bearer.<token> subprotocol is accepted and the server answers vigil.v1, never the token", async () => {
    const col = await collector();
    const ok = await wsStatus(`ws://${col.address}/api/v1/tail`, {}, ["vigil.v1", `vigil.bearer.${TOKEN}`]);
    expect(ok).toMatchObject({ code: 101, protocol: "vigil.v1" });
    expect((await wsStatus(`ws://${col.address}/api/v1/tail`, {}, ["vigil.v1", "vigil.bearer.wrong"])).code).toBe(401);
    const hdr = await wsStatus(`ws://${col.address}/api/v1/tail`, { headers: { authorization: `Bearer ${TOKEN}` } }, ["vigil.v1"]);
    expect(hdr).toMatchObject({ code: 101, protocol: "vigil.v1" });
  });
});

describe("HTTP/1 bodies and timeouts", () => {
  it("a Content-Length over max_body_bytes is a 413 before the body is read (and before authentication)", async () => {
    const col = await collector({ limits: { max_body_bytes: 4096 } });
    const s = await open(col.address);
    let answer = "";
    s.on("data", (d: Buffer) => (answer += d.toString()));
    s.write(`POST /api/v1/falco HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n`);
    await closedWithin(s, 3000);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(col.stats()["http_too_large"]).toBe(1);
  });

  it("a body that does not fit the in-flight budget is a 503, and the budget is given back", async () => {
    const col = await collector({ limits: { inflight_bytes: 8192, max_body_bytes: 64 * 1024 } });
    const r = await fetch(`http://${col.address}/api/v1/falco`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(20_000) }),
    });
    expect(r.status).toBe(503);
    expect(col.stats()["inflight_refused"]).toBe(1);
    await waitFor(() => col.stats()["inflight_bytes_in_use"] === 0, 2000, "budget released");
  });

  it("a lying Content-Length is closed after request_timeout_ms (was 300 s)", async () => {
    const col = await collector({ limits: { request_timeout_ms: 600, headers_timeout_ms: 600 } });
    const s = await open(col.address);
    let answer = "";
    s.on("data", (d: Buffer) => (answer += d.toString()));
    s.write(`POST /api/v1/falco HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 1000\r\n\r\n{"a":`);
    const ms = await closedWithin(s, 5000);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(col.stats()["http_timeouts"]).toBe(1);
  });

  it("half an HTTP/1 request (headers never finished) is closed after headers_timeout_ms", async () => {
    const col = await collector({ limits: { headers_timeout_ms: 500, request_timeout_ms: 1000 } });
    const s = await open(col.address);
    s.write("GET /api/v1/stats HTTP/1.1\r\nhost: x\r\n");
    const ms = await closedWithin(s, 5000);
    expect(ms).toBeGreaterThanOrEqual(300);
    expect(ms).toBeLessThan(3000);
  });
});

describe("idle and flooding connections", () => {
  it("a connection that sends the HTTP/2 preface and then nothing is closed after idle_timeout_ms", async () => {
    const col = await collector({ limits: { idle_timeout_ms: 500 } });
    const s = await open(col.address);
    s.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    const ms = await closedWithin(s, 5000);
    expect(ms).toBeGreaterThanOrEqual(400);
    await waitFor(() => col.stats()["connections_open"] === 0, 2000, "connection released");
  });

  it("a silent HTTP/2 client is closed even when server keepalive pings are due before idle_timeout_ms", async () => {
    const col = await collector({ limits: { idle_timeout_ms: 1500, keepalive_time_ms: 200, keepalive_timeout_ms: 200 } });
    const s = await open(col.address);
    s.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    // our pings to it do not count as activity; it never answers them
    expect(await closedWithin(s, 5000)).toBeLessThan(2500);
  });

  it("HTTP/2 SETTINGS announce max_concurrent_streams from the limits", async () => {
    const col = await collector({ limits: { max_concurrent_streams: 4 } });
    const session = h2connect(`http://${col.address}`);
    session.on("error", () => undefined);
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) => session.once("remoteSettings", resolve));
    session.destroy();
    expect(settings.maxConcurrentStreams).toBe(4);
  });

  it("with 1,500 idle connections open (prefaces and half requests), /healthz answers within 1 s and ingest works", async () => {
    const col = await collector({ limits: { max_connections: 4000, max_connections_per_ip: 4000 } });
    const flood: Socket[] = [];
    try {
      for (let i = 0; i < 1500; i++) {
        const s = await open(col.address);
        s.on("error", () => undefined);
        s.write(i % 2 === 0 ? "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" : "GET /api/v1/stats HTTP/1.1\r\nhost: x\r\n");
        flood.push(s);
      }
      await waitFor(() => col.stats()["connections_open"]! >= 1500, 5000, "flood open");
      const t0 = Date.now();
      expect((await get(col, "/healthz", {})).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(1000);
      const client = new CollectorClient({ address: col.address, token: TOKEN });
      try {
        expect((await client.push([makeAlert()], [])).ackedIds).toHaveLength(1);
      } finally {
        client.close();
      }
    } finally {
      for (const s of flood) s.destroy();
    }
  }, 60_000);

  it("a connection that sends only part of the preface is closed after first_bytes_timeout_ms", async () => {
    const col = await collector({ limits: { first_bytes_timeout_ms: 300 } });
    const s = await open(col.address);
    s.write("PRI * HT");
    expect(await closedWithin(s, 3000)).toBeGreaterThanOrEqual(250);
    expect(col.stats()["connections_idle_closed"]).toBe(1);
  });

  it("the connection cap refuses the overflow with one log line, /healthz keeps answering within 1 s from another address, and a new client is served once the flood ends", async () => {
    const mem = memoryLogger();
    const col = await collector({ logger: mem.logger, limits: { max_connections: 60, max_connections_per_ip: 40, idle_timeout_ms: 60_000 } });
    // the flood: idle HTTP/2 prefaces and half HTTP/1 requests from 127.0.0.1
    const flood: Socket[] = [];
    for (let i = 0; i < 70; i++) {
      const s = await open(col.address);
      s.on("error", () => undefined);
      s.write(i % 2 === 0 ? "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" : "GET / HTTP/1.1\r\nhost: x\r\n");
      flood.push(s);
    }
    await waitFor(() => col.stats()["connections_refused_per_ip"] === 30, 5000, "30 refused");
    expect(col.stats()["connections_open"]).toBe(40);
    const warn = mem.lines.filter((l) => l["msg"] === "per-address connection limit reached: new connections from it refused");
    expect(warn).toHaveLength(1);
    // another address (127.0.0.2 is loopback too) is still served, quickly
    const [host, port] = ["127.0.0.2", Number(col.address.split(":")[1])];
    const t0 = Date.now();
    const health = await new Promise<string>((resolve, reject) => {
      const s = netConnect({ host: "127.0.0.1", port, localAddress: host }, () => s.write("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
      let got = "";
      s.on("data", (d: Buffer) => (got += d.toString()));
      s.on("close", () => resolve(got));
      s.on("error", reject);
    });
    expect(health).toMatch(/^HTTP\/1\.1 200 /);
    expect(Date.now() - t0).toBeLessThan(1000);
    // the flood ends: the same address is served again
    for (const s of flood) s.destroy();
    await waitFor(() => col.stats()["connections_open"] === 0, 5000, "flood closed");
    expect((await get(col, "/api/v1/stats")).status).toBe(200);
    const client = new CollectorClient({ address: col.address, token: TOKEN });
    try {
      expect((await client.push([makeAlert()], [])).ackedIds).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it("the total cap refuses new connections from any address", async () => {
    const col = await collector({ limits: { max_connections: 5, max_connections_per_ip: 5 } });
    const held = await Promise.all(Array.from({ length: 5 }, () => open(col.address)));
    const extra = await open(col.address);
    expect(await closedWithin(extra, 2000)).toBeLessThan(1000);
    expect(col.stats()["connections_refused_limit"]).toBe(1);
    for (const s of held) s.destroy();
    await waitFor(() => col.stats()["connections_open"] === 0, 5000, "released");
    expect((await get(col, "/healthz", {})).status).toBe(200);
  });
});

/** Starts a collector in a child process; resolves with it and its address. */
async function childCollector(limits: Record<string, unknown>): Promise<{ child: ChildProcess; address: string }> {
  const register = join(REPO, "test", "sinks", "helpers", "register-ts.mjs");
  const code = `
    import { startCollector } from ${JSON.stringify(join(REPO, "collector", "server.ts"))};
    import { pino } from "pino";
    const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: ${JSON.stringify(TOKEN)}, logger: pino({ level: "silent" }), limits: ${JSON.stringify(limits)} });
    console.log("ADDRESS " + col.address);
  `;
  const child = spawn(process.execPath, ["--import", register, "--input-type=module", "-e", code], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    const t = setTimeout(() => reject(new Error(`child collector did not start: ${err}`)), 20_000);
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /ADDRESS (\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.once("exit", (c) => reject(new Error(`child collector exited ${c}: ${err}`)));
  });
  return { child, address };
}

/** VmRSS and VmHWM of a process, in MiB. */
function memory(pid: number): { rss: number; hwm: number } {
  const st = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(st)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

describe("memory under unauthenticated oversized pushes (child process)", () => {
  let child: ChildProcess | undefined;
  let address = "";
  beforeAll(async () => {
    // the old default receive limit was 2 x 8 MiB: 16 MiB pushes fit it
    ({ child, address } = await childCollector({ max_message_bytes: 16 * 1024 * 1024, auth_failures_per_minute: 1_000_000 }));
  }, 30_000);
  afterAll(() => {
    child?.kill("SIGKILL");
  });

  it("48 parallel 16 MiB pushes without a token (6 connections x 8 streams) are all refused and RSS stays bounded", async () => {
    const before = memory(child!.pid!);
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    const sessions = Array.from({ length: 6 }, () => {
      const s = h2connect(`http://${address}`);
      s.on("error", () => undefined);
      return s;
    });
    const t0 = Date.now();
    const codes = await Promise.all(sessions.flatMap((s) => Array.from({ length: 8 }, () => rawPush(s, 16 * 1024 * 1024, chunk))));
    const ms = Date.now() - t0;
    for (const s of sessions) s.destroy();
    const after = memory(child!.pid!);
    // the collector is alive and healthy
    const h = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(1000) });
    expect(h.status).toBe(200);
    console.log(
      `unauthenticated 48 x 16 MiB pushes: ${ms} ms, collector VmRSS ${before.rss.toFixed(1)} -> ${after.rss.toFixed(1)} MiB, VmHWM ${after.hwm.toFixed(1)} MiB`,
    );
    expect(codes.every((c) => c === status.UNAUTHENTICATED)).toBe(true);
    // refused on the metadata: nothing near 48 x 16 MiB = 768 MiB was held. The peak grows by
    // 35 MiB on Node 20 and 70-90 MiB on Node 24: native memory of the HTTP/2 path that the
    // allocator keeps (the V8 heap stays at 35 MiB, external buffers under 8 MiB), reached on the
    // first round and flat after it (two more rounds, then twice and four times the connections:
    // +50 MiB in all), so a bound, not buffered messages
    expect(after.hwm - before.hwm).toBeLessThan(128);
  }, 60_000);
});
