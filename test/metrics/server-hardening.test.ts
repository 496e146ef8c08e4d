// SPDX-License-Identifier: Apache-2.0
/**
 * The metrics/health endpoint under hostile clients, over real sockets: malformed and oversized
 * requests are answered and counted, idle and half-sent connections are closed on time, the
 * connection cap refuses the excess with a log line and serves again once they go, a failing
 * handler is a counted 500, and /healthz keeps answering throughout.
 */
import { connect, type Socket } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Metrics, startMetricsServer, type MetricsServer } from "../../agent/metrics/index.js";
import type { HttpLimitsInput } from "../../agent/metrics/index.js";

interface Line {
  msg: string;
  [k: string]: unknown;
}

function capturingLogger(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { logger, lines };
}

async function value(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const text = await m.registry.metrics();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

/** Sends raw bytes; resolves with what came back and when the server closed, or "open" after `waitMs`. */
function raw(port: number, data: string | Buffer, waitMs = 3000): Promise<{ reply: string; closedAfterMs: number | "open"; sock: Socket }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let reply = "";
    const sock = connect(port, "127.0.0.1", () => {
      if (data.length > 0) sock.write(data);
    });
    const timer = setTimeout(() => resolve({ reply, closedAfterMs: "open", sock }), waitMs);
    sock.on("data", (d: Buffer) => (reply += d.toString("latin1")));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ reply, closedAfterMs: Date.now() - t0, sock });
    });
  });
}

async function healthy(port: number): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
  return r?.status === 200;
}

const servers: MetricsServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function start(limits?: HttpLimitsInput, logger = pino({ level: "silent" }), opts: { ready?: () => boolean } = {}) {
  const m = new Metrics({ cgroups: false });
  const srv = await startMetricsServer({ port: 0, host: "127.0.0.1", logger, ready: opts.ready ?? (() => true), metrics: m, ...(limits ? { limits } : {}) });
  servers.push(srv);
  return { m, srv };
}

describe("metrics endpoint: hostile requests", () => {
  it.each([
    ["an unknown method", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", /^HTTP\/1\.1 (400|405|501) /],
    ["a POST with a body", "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", /^HTTP\/1\.1 405 /],
    ["garbage instead of HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["an HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", /^HTTP\/1\.1 (400|505) /],
    ["huge headers", `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ["a bad Content-Length", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["a NUL in the path", "GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n", /^HTTP\/1\.1 400 /],
  ])("%s is answered, and /healthz still answers", async (_n, req, want) => {
    const { srv } = await start();
    const r = await raw(srv.port, req);
    expect(r.reply).toMatch(want);
    expect(await healthy(srv.port)).toBe(true);
  });

  it("malformed requests are counted by reason", async () => {
    const { srv, m } = await start();
    await raw(srv.port, `GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`);
    await raw(srv.port, "NOT HTTP AT ALL\r\n\r\n");
    await raw(srv.port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 500);
    expect(await value(m, "vigil_server_requests_refused_total", { server: "metrics", reason: "header_too_large" })).toBe(1);
    expect(await value(m, "vigil_server_requests_refused_total", { server: "metrics", reason: "malformed" })).toBe(1);
    expect(await value(m, "vigil_server_requests_refused_total", { server: "metrics", reason: "method" })).toBe(1);
  });
});

describe("metrics endpoint: connections that do nothing", () => {
  it.each([
    ["sends nothing", ""],
    ["sends half a request", "GET /healthz HTTP/1.1\r\nHost: x\r\n"],
    ["sends an HTTP/2 preface's first bytes", "PRI * HTT"],
  ])(
    "a connection that %s is closed by the header timeout (defaults: within 5 s + 1 s, old: 30 s)",
    async (_n, data) => {
      const { srv, m } = await start();
      const r = await raw(srv.port, data, 9000);
      expect(r.closedAfterMs).not.toBe("open");
      expect(r.closedAfterMs as number).toBeLessThan(7_500);
      expect(await value(m, "vigil_server_connections_timed_out_total", { server: "metrics" })).toBe(1);
      expect(await healthy(srv.port)).toBe(true);
    },
    15_000,
  );

  it("a lying Content-Length holds a connection only until the request timeout", async () => {
    const { srv } = await start({ headers_timeout_ms: 500, request_timeout_ms: 1000 });
    const r = await raw(srv.port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nab", 6000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 405 /);
    expect(r.closedAfterMs).not.toBe("open");
    expect(r.closedAfterMs as number).toBeLessThan(2_500);
  });

  it("an idle kept-alive connection is closed after the keep-alive timeout", async () => {
    const { srv } = await start({ keep_alive_timeout_ms: 300 });
    const r = await raw(srv.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.closedAfterMs).not.toBe("open");
    expect(r.closedAfterMs as number).toBeLessThan(1_500);
  });
});

describe("metrics endpoint: the connection cap", () => {
  it("refuses connections past max_connections with one log line, counted, and serves again once they close", async () => {
    const { logger, lines } = capturingLogger();
    const { srv, m } = await start({ max_connections: 8, headers_timeout_ms: 20_000, request_timeout_ms: 20_000 }, logger);
    const idle: Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const s = connect(srv.port, "127.0.0.1");
      s.on("error", () => undefined);
      await new Promise((r) => s.once("connect", r));
      idle.push(s);
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 100));
    // the ninth and tenth are closed at accept
    const refused = await Promise.all([raw(srv.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 2000), raw(srv.port, "", 2000)]);
    for (const r of refused) {
      expect(r.reply).toBe("");
      expect(r.closedAfterMs).not.toBe("open");
    }
    expect(await value(m, "vigil_server_connections_refused_total", { server: "metrics" })).toBe(2);
    expect(await value(m, "vigil_server_connections", { server: "metrics" })).toBe(8);
    const warn = lines.filter((l) => l.msg.startsWith("connection limit reached"));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({ server: "metrics", max_connections: 8 });
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(await healthy(srv.port)).toBe(true);
    expect(lines.some((l) => l.msg.startsWith("connection limit: accepting connections again") && l["refused"] === 2)).toBe(true);
  });

  it("defaults to 256 connections", async () => {
    const { srv, m } = await start();
    const conns: Socket[] = [];
    for (let i = 0; i < 260; i++) {
      const s = connect(srv.port, "127.0.0.1");
      s.on("error", () => undefined);
      conns.push(s);
      sockets.push(s);
    }
    await Promise.all(conns.map((s) => new Promise((r) => (s.connecting ? s.once("connect", r) : r(undefined)))));
    await new Promise((r) => setTimeout(r, 300));
    expect(await value(m, "vigil_server_connections_refused_total", { server: "metrics" })).toBe(4);
  });
});

describe("metrics endpoint: a failing handler", () => {
  it("a scrape whose answer throws is a counted 500, logged once per burst, and the process lives", async () => {
    const { logger, lines } = capturingLogger();
    const { srv, m } = await start(undefined, logger);
    // a scrape that resolves to something that cannot be sent: answering it throws
    Object.defineProperty(m, "scrape", { value: () => Promise.resolve(Symbol("not a string") as unknown as string) });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`http://127.0.0.1:${srv.port}/metrics`)).status);
    expect(statuses).toEqual([500, 500, 500]);
    expect(await value(m, "vigil_server_handler_errors_total", { server: "metrics" })).toBe(3);
    expect(lines.filter((l) => l.msg.startsWith("request handler failed"))).toHaveLength(1);
    expect(await healthy(srv.port)).toBe(true);
  });

  it("a readiness check that throws synchronously in the handler path is not ready, not a crash", async () => {
    const { srv } = await start(undefined, undefined, {
      ready: () => {
        throw new Error("boom");
      },
    });
    expect((await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status).toBe(503);
    expect(await healthy(srv.port)).toBe(true);
  });
});
