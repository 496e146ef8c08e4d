// SPDX-License-Identifier: Apache-2.0
/**
 * The admission webhook under hostile clients, over real TLS sockets: bodies over the limit
 * (announced or streamed), lying Content-Lengths, malformed JSON, huge headers, truncated TLS
 * handshakes and idle connections are answered or closed on time, the connection cap holds, a
 * failing handler is a counted 500 and not a crash, and the webhook keeps serving.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../agent/metrics/index.js";
import { startWebhookServer, type WebhookLimitsInput, type WebhookServer } from "../../agent/inject/webhook.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { writeLocalhostCert } from "./localhost-cert.js";

const IMAGE = "ghcr.io/vigil-security/vigil:0.1.0";
const dir = mkdtempSync(join(tmpdir(), "vigil-webhook-h-"));
let cert = "";
let key = "";
const review = readFileSync(join(REPO_ROOT, "test", "inject", "fixtures", "pod-review.json"), "utf8");

beforeAll(() => {
  writeLocalhostCert(dir);
  cert = readFileSync(join(dir, "cert.pem"), "utf8");
  key = readFileSync(join(dir, "key.pem"), "utf8");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: WebhookServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function start(limits?: WebhookLimitsInput, logger = pino({ level: "silent" })) {
  const m = new Metrics({ cgroups: false });
  const srv = await startWebhookServer({ port: 0, host: "127.0.0.1", cert, key, logger, inject: { image: IMAGE }, metrics: m, ...(limits ? { limits } : {}) });
  servers.push(srv);
  return { srv, m };
}

async function value(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  for (const line of (await m.registry.metrics()).split("\n")) {
    if (line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

function post(
  port: number,
  body: string | Buffer,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/mutate", method: "POST", ca: cert, servername: "localhost", headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", ca: cert, servername: "localhost", agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** A TLS connection sending `data` raw; resolves with the reply and when the server closed (or "open"). */
function tlsRaw(port: number, data: string, waitMs = 3000): Promise<{ reply: string; closedAfterMs: number | "open" }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let reply = "";
    const s: TLSSocket = tlsConnect({ host: "127.0.0.1", port, ca: cert, servername: "localhost" }, () => s.write(data));
    sockets.push(s);
    const timer = setTimeout(() => resolve({ reply, closedAfterMs: "open" }), waitMs);
    s.on("data", (d: Buffer) => (reply += d.toString("latin1")));
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ reply, closedAfterMs: Date.now() - t0 });
    });
  });
}

/** A plain TCP connection sending `data` (no TLS); resolves when the server closes it (or "open"). */
function tcpRaw(port: number, data: Buffer, waitMs: number): Promise<number | "open"> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = netConnect(port, "127.0.0.1", () => {
      if (data.length > 0) s.write(data);
    });
    sockets.push(s);
    const timer = setTimeout(() => resolve("open"), waitMs);
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

describe("webhook: bodies", () => {
  it("an announced body over the limit is refused with 413 before it is sent", async () => {
    const { srv, m } = await start();
    // headers only: the 100 MiB never come, so the answer can only come from the Content-Length
    const r = await tlsRaw(srv.port, "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n", 3000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.reply).toMatch(/review too large/);
    expect(await value(m, "vigil_server_requests_refused_total", { server: "webhook", reason: "too_large" })).toBe(1);
    expect(srv.counters.bad_requests).toBe(1);
    expect(await healthy(srv.port)).toBe(true);
  });

  it("a streamed (chunked) body over the limit is refused with 413 and the server keeps serving", async () => {
    const { srv } = await start({ max_body_bytes: 64 * 1024 });
    const r = await new Promise<number>((resolve) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: srv.port,
          path: "/mutate",
          method: "POST",
          ca: cert,
          servername: "localhost",
          agent: false,
          headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", () => resolve(-1));
      for (let i = 0; i < 16; i++) req.write(Buffer.alloc(16 * 1024, 0x20));
      req.end();
    });
    expect(r).toBe(413);
    expect((await post(srv.port, review)).status).toBe(200);
  });

  it("a lying Content-Length holds the connection only until the request timeout", async () => {
    const { srv } = await start({ headers_timeout_ms: 500, request_timeout_ms: 1000 });
    const r = await tlsRaw(srv.port, 'POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":', 8000);
    expect(r.closedAfterMs).not.toBe("open");
    expect(r.closedAfterMs as number).toBeLessThan(3000);
    expect(await healthy(srv.port)).toBe(true);
  });

  it.each([
    ["invalid JSON", '{"kind": "AdmissionReview",', 400, /body is not valid JSON/],
    ["an empty body", "", 400, /empty body/],
    ["JSON that is not a review", "[1,2,3]", 400, /expected an AdmissionReview/],
    ["a review without a uid", JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} }), 400, /request\.uid/],
    ["a deeply nested array", "[".repeat(100_000) + "]".repeat(100_000), 400, /expected an AdmissionReview/],
  ])("%s is a 400 with a clear message", async (_n, body, status, msg) => {
    const { srv, m } = await start();
    const r = await post(srv.port, body);
    expect(r.status).toBe(status);
    expect((JSON.parse(r.text) as { error: string }).error).toMatch(msg);
    const reasons = ["bad_json", "bad_review"];
    let total = 0;
    for (const reason of reasons) total += await value(m, "vigil_server_requests_refused_total", { server: "webhook", reason });
    expect(total).toBe(1);
    expect((await post(srv.port, review)).status).toBe(200);
  });
});

describe("webhook: headers and connections", () => {
  it("huge headers are a 431 and the server keeps serving", async () => {
    const { srv } = await start();
    const r = await tlsRaw(srv.port, `POST /mutate HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`);
    expect(r.reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(await healthy(srv.port)).toBe(true);
  });

  it.each([
    ["sends nothing", Buffer.alloc(0)],
    ["sends a truncated TLS ClientHello", Buffer.from("16030102000100 01fc0303".replace(/ /g, "") + "ab".repeat(20), "hex")],
    ["sends an HTTP/2 preface in clear", Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")],
  ])("a connection that %s is closed by the handshake timeout", async (_n, data) => {
    const { srv, m } = await start({ handshake_timeout_ms: 500 });
    const closed = await tcpRaw(srv.port, data, 5000);
    expect(closed).not.toBe("open");
    expect(closed as number).toBeLessThan(2500);
    expect(await healthy(srv.port)).toBe(true);
    if (data.length === 0) expect(await value(m, "vigil_server_connections_timed_out_total", { server: "webhook" })).toBe(1);
  });

  it("a TLS connection that then sends half a request is closed by the header timeout", async () => {
    const { srv } = await start({ headers_timeout_ms: 500, request_timeout_ms: 1000 });
    const r = await tlsRaw(srv.port, "POST /mutate HTTP/1.1\r\nHost: x\r\n", 6000);
    expect(r.closedAfterMs).not.toBe("open");
    expect(r.closedAfterMs as number).toBeLessThan(2500);
  });

  it("refuses connections past max_connections, counted, and serves again once they close", async () => {
    const { srv, m } = await start({ max_connections: 4, handshake_timeout_ms: 20_000 });
    const held: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = netConnect(srv.port, "127.0.0.1");
      s.on("error", () => undefined);
      await new Promise((r) => s.once("connect", r));
      held.push(s);
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(await tcpRaw(srv.port, Buffer.alloc(0), 2000)).not.toBe("open");
    expect(await healthy(srv.port)).toBe(false);
    expect(await value(m, "vigil_server_connections_refused_total", { server: "webhook" })).toBe(2);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(await healthy(srv.port)).toBe(true);
  });
});

describe("webhook: a failing handler", () => {
  it("is a counted 500, not a crash, and the webhook keeps serving", async () => {
    // a log destination that fails while the handler logs (a full disk, a closed pipe)
    const logger = pino(
      { level: "info" },
      {
        write: (s: string) => {
          if (s.includes("pod not instrumented")) throw new Error("log destination failed");
        },
      },
    );
    const { srv, m } = await start(undefined, logger);
    const r = JSON.parse(review) as { request: { object: { spec: { containers: unknown[] } } } };
    r.request.object.spec.containers = [{ name: "app", image: "unknown:1" }];
    const res = await post(srv.port, JSON.stringify(r));
    expect(res.status).toBe(500);
    expect(await value(m, "vigil_server_handler_errors_total", { server: "webhook" })).toBe(1);
    expect((await post(srv.port, review)).status).toBe(200);
  });
});
