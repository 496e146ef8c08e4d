// SPDX-License-Identifier: Apache-2.0
/**
 * The Falco-compatible gRPC outputs server under hostile and slow clients, over real HTTP/2:
 * subscribers that never read are dropped once their bounded queue fills (the pipeline and the
 * other subscribers go on), the subscriber count and request size are capped, connections past
 * the cap are closed at accept, and idle or half-sent connections are closed.
 */
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { credentials, Metadata, status, type ClientDuplexStream } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Metrics } from "../../agent/metrics/index.js";
import { startFalcoOutputsServer, type FalcoOutputsLimitsInput, type FalcoOutputsServer } from "../../agent/sinks/falco-outputs-server.js";
import { makeAlert, waitFor } from "../collector/helpers.js";
import { falcoPackage } from "./falco-interop.helpers.js";

const servers: FalcoOutputsServer[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  for (const s of servers.splice(0)) await s.shutdown();
});

async function start(limits?: FalcoOutputsLimitsInput, maxQueue = 1000) {
  const m = new Metrics({ cgroups: false });
  const srv = await startFalcoOutputsServer({ address: "127.0.0.1:0", logger: pino({ level: "silent" }), maxQueue, metrics: m, ...(limits ? { limits } : {}) });
  servers.push(srv);
  const port = Number(srv.address.slice(srv.address.lastIndexOf(":") + 1));
  return { srv, m, port };
}

async function value(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  for (const line of (await m.registry.metrics()).split("\n")) {
    if (line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

/** gRPC framing of one message. */
function frame(payload: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

/** A raw HTTP/2 `sub` call that sends one request and never reads what comes back. */
function stalledSub(port: number): { session: ClientHttp2Session; stream: ClientHttp2Stream; status: Promise<string> } {
  const session = h2connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  const stream = session.request({ ":method": "POST", ":path": "/falco.outputs.service/sub", "content-type": "application/grpc", te: "trailers" });
  stream.on("error", () => undefined);
  const st = new Promise<string>((resolve) => {
    stream.on("trailers", (t) => resolve(String(t["grpc-status"])));
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) resolve(String(h["grpc-status"]));
    });
    stream.on("close", () => resolve("closed"));
  });
  stream.write(frame(Buffer.alloc(0)));
  stream.pause();
  closers.push(() => session.destroy());
  return { session, stream, status: st };
}

function liveSub(address: string, into: string[]): ClientDuplexStream<object, { rule: string }> {
  const { outputs } = falcoPackage();
  const client = new outputs(address, credentials.createInsecure());
  const s = (client as unknown as { sub(): ClientDuplexStream<object, { rule: string }> }).sub();
  s.on("data", (r: { rule: string }) => into.push(r.rule));
  s.on("error", () => undefined);
  s.write({});
  closers.push(() => {
    s.cancel();
    client.close();
  });
  return s;
}

/** An alert of about 2 KiB on the wire. */
const bigAlert = (i: number) => makeAlert({ rule: `r-${i}`, output: "x".repeat(2000) });

describe("Falco outputs server: subscribers", () => {
  it("drops a subscriber that does not read once its queue is full; a reading one keeps receiving", async () => {
    const { srv, m } = await start({ subscriber_queue_bytes: 512 * 1024 });
    const stalled = stalledSub(Number(srv.address.split(":")[1]));
    await waitFor(() => srv.stats()["subscribers"] === 1, 5000, "stalled subscriber");
    const got: string[] = [];
    liveSub(srv.address, got);
    await waitFor(() => srv.stats()["subscribers"] === 2, 5000, "live subscriber");
    const heap0 = process.memoryUsage().heapUsed;
    // 4,000 alerts of 2 KiB: 4 MB offered to each subscriber in turn, far past the stalled one's 512 KiB
    // at a rate a reading client keeps up with (both ends share this event loop)
    for (let i = 0; i < 400; i++) {
      await srv.export(Array.from({ length: 10 }, (_v, j) => bigAlert(i * 10 + j)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => srv.stats()["subscribers_dropped_slow"] === 1, 5000, "stalled subscriber dropped");
    expect(stalled.stream.destroyed).toBe(false);
    expect(await value(m, "vigil_server_subscribers_dropped_total", { server: "falco_outputs", reason: "slow" })).toBe(1);
    // the reading subscriber got everything the stalled one did not take before it was dropped
    await waitFor(() => got.length >= 4000 - 300, 10_000, "live subscriber receives");
    expect(srv.stats()["backlog"]).toBe(0);
    expect(srv.stats()["subscribers"]).toBe(1);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(64 * 1024 * 1024);
  }, 30_000);

  it("many stalled subscribers: each is dropped at its bound and the alerts wait in the bounded queue", async () => {
    const { srv, port } = await start({ subscriber_queue_bytes: 64 * 1024, max_subscribers: 32, max_concurrent_streams: 8 }, 500);
    for (let i = 0; i < 20; i++) stalledSub(port);
    await waitFor(() => srv.stats()["subscribers"] === 20, 5000, "20 stalled subscribers");
    for (let i = 0; i < 30; i++) {
      await srv.export(Array.from({ length: 100 }, (_v, j) => bigAlert(i * 100 + j)));
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => srv.stats()["subscribers"] === 0, 10_000, "all dropped");
    expect(srv.stats()["subscribers_dropped_slow"]).toBe(20);
    expect(srv.stats()["backlog"]).toBe(500);
  }, 30_000);

  it("refuses subscribers past max_subscribers with RESOURCE_EXHAUSTED", async () => {
    const { srv, port, m } = await start({ max_subscribers: 3 });
    const subs = [stalledSub(port), stalledSub(port), stalledSub(port)];
    await waitFor(() => srv.stats()["subscribers"] === 3, 5000, "three subscribers");
    const fourth = stalledSub(port);
    expect(await fourth.status).toBe(String(status.RESOURCE_EXHAUSTED));
    expect(await value(m, "vigil_server_requests_refused_total", { server: "falco_outputs", reason: "subscribers_full" })).toBe(1);
    // one leaves, another may come
    subs[0]!.session.destroy();
    await waitFor(() => srv.stats()["subscribers"] === 2, 5000, "one left");
    stalledSub(port);
    await waitFor(() => srv.stats()["subscribers"] === 3, 5000, "a new one");
  });
});

describe("Falco outputs server: requests and connections", () => {
  it("a request over the receive limit is refused (RESOURCE_EXHAUSTED), and the server keeps serving", async () => {
    const { srv } = await start();
    const session = h2connect(`http://${srv.address}`);
    session.on("error", () => undefined);
    closers.push(() => session.destroy());
    const st = await new Promise<string>((resolve) => {
      const s = session.request({ ":method": "POST", ":path": "/falco.outputs.service/get", "content-type": "application/grpc", te: "trailers" });
      s.on("error", () => resolve("error"));
      s.on("trailers", (t) => resolve(String(t["grpc-status"])));
      s.on("response", (h) => h["grpc-status"] !== undefined && resolve(String(h["grpc-status"])));
      s.resume();
      // a valid request (unknown field 15, bytes) of 8 KiB: over the 4 KiB limit
      s.end(frame(Buffer.concat([Buffer.from([(15 << 3) | 2, 0x80, 0x40]), Buffer.alloc(8192, 0x61)])));
    });
    expect(st).toBe(String(status.RESOURCE_EXHAUSTED));
    const { version } = falcoPackage();
    const v = new version(srv.address, credentials.createInsecure());
    closers.push(() => v.close());
    const r = await new Promise<Record<string, unknown>>((resolve, reject) =>
      (v as unknown as { version(q: object, cb: (e: Error | null, r: Record<string, unknown>) => void): void }).version({}, (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    );
    expect(r["engine_version"]).toBe("0.62.0");
  });

  it("closes connections past max_connections at accept, counted, and accepts again once they go", async () => {
    const { srv, port, m } = await start({ max_connections: 4 });
    const held: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = netConnect(port, "127.0.0.1");
      s.on("error", () => undefined);
      await new Promise((r) => s.once("connect", r));
      held.push(s);
      closers.push(() => s.destroy());
    }
    await new Promise((r) => setTimeout(r, 100));
    const fifth = await new Promise<string>((resolve) => {
      const s = netConnect(port, "127.0.0.1");
      s.on("error", () => undefined);
      s.on("close", () => resolve("closed"));
      setTimeout(() => resolve("open"), 2000);
      closers.push(() => s.destroy());
    });
    expect(fifth).toBe("closed");
    expect(srv.stats()["connections_refused"]).toBe(1);
    expect(await value(m, "vigil_server_connections_refused_total", { server: "falco_outputs" })).toBe(1);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const got: string[] = [];
    liveSub(srv.address, got);
    await waitFor(() => srv.stats()["subscribers"] === 1, 5000, "served again");
  });

  it("a real HTTP/2 client with no call in flight is closed by the idle timeout", async () => {
    const { srv } = await start({ idle_timeout_ms: 500 });
    const t0 = Date.now();
    const session = h2connect(`http://${srv.address}`);
    session.on("error", () => undefined);
    closers.push(() => session.destroy());
    const closed = await new Promise<number | "open">((resolve) => {
      session.on("close", () => resolve(Date.now() - t0));
      setTimeout(() => resolve("open"), 5000);
    });
    expect(closed).not.toBe("open");
    expect(closed as number).toBeLessThan(2500);
  });

  it("a subscriber quiet for longer than the handshake timeout stays connected", async () => {
    const { srv } = await start({ handshake_timeout_ms: 300, idle_timeout_ms: 300 });
    const got: string[] = [];
    liveSub(srv.address, got);
    await waitFor(() => srv.stats()["subscribers"] === 1, 5000, "subscribed");
    await new Promise((r) => setTimeout(r, 1200));
    await srv.export([makeAlert({ rule: "late" })]);
    await waitFor(() => got.length === 1, 5000, "alert after a quiet second");
    expect(got).toEqual(["late"]);
  });

  it("a token is checked before a subscriber's request is read", async () => {
    const m = new Metrics({ cgroups: false });
    const srv = await startFalcoOutputsServer({ address: "127.0.0.1:0", token: "tok", logger: pino({ level: "silent" }), metrics: m });
    servers.push(srv);
    const { outputs } = falcoPackage();
    const client = new outputs(srv.address, credentials.createInsecure());
    closers.push(() => client.close());
    const code = await new Promise<number>((resolve) => {
      const s = (client as unknown as { sub(md: Metadata): ClientDuplexStream<object, unknown> }).sub(new Metadata());
      s.on("data", () => undefined);
      s.on("error", (e: { code: number }) => resolve(e.code));
      s.on("end", () => resolve(0));
    });
    expect(code).toBe(status.UNAUTHENTICATED);
    expect(srv.stats()["subscribers"]).toBe(0);
  });
});
