// SPDX-License-Identifier: Apache-2.0
/**
 * Load tests that attack a real collector (the built CLI in a child process) on loopback, one
 * attack class per test, CI-sized (test/bench/attack-figures.mjs runs them at full size). In
 * each: the collector is alive after, `/healthz` (a fresh connection every 200 ms from
 * 127.0.0.1, attackers use other loopback addresses) answers every probe within a second during
 * and after, its peak RSS stays under RSS_BOUND_MIB, and a legitimate client is served after.
 * Timeouts are shortened through `VIGIL_COLLECTOR_LIMITS_<KEY>` so each test takes seconds.
 */
import { describe, expect, it } from "vitest";
import {
  badTokenFlood,
  closeSummary,
  grpcPushFlood,
  h2PrefaceSilence,
  httpGet,
  idleConnections,
  lyingContentLength,
  measureAttack,
  pushRules,
  sleep,
  slowloris,
  sourceIps,
  tailClient,
  type AttackFigures,
  type Flood,
  type FloodResult,
} from "./harness.js";

/** Peak RSS allowed to the collector under attack (idle it is about 90 MiB; see the figures in SECURITY.md). */
const RSS_BOUND_MIB = 300;
/** The slowest /healthz answer allowed, during and after an attack. */
const HEALTH_MAX_MS = 1000;

function expectSurvived(f: AttackFigures & { logs: string[] }, opts: { during?: boolean } = {}): void {
  const ctx = `${f.attack}: ${JSON.stringify({ ...f, logs: undefined })}\nlast logs:\n${f.logs.slice(-15).join("\n")}`;
  expect(f.crashes, ctx).toBe(0);
  if (opts.during !== false) {
    expect(f.during.probes, ctx).toBeGreaterThan(0);
    expect(f.during.failures, ctx).toBe(0);
    expect(f.during.maxMs, ctx).toBeLessThan(HEALTH_MAX_MS);
  }
  expect(f.after.probes, ctx).toBeGreaterThan(0);
  expect(f.after.failures, ctx).toBe(0);
  expect(f.after.maxMs, ctx).toBeLessThan(HEALTH_MAX_MS);
  expect(f.peakRssMiB, ctx).toBeLessThan(RSS_BOUND_MIB);
  expect(f.legit, ctx).toBeUndefined();
}

/** Waits until the server has closed every connection of `fl` or `ms` passed, then closes the rest. */
async function drain(fl: Flood, ms: number): Promise<FloodResult> {
  await fl.opened;
  const end = Date.now() + ms;
  while (fl.open() > 0 && Date.now() < end) await sleep(100);
  return fl.close();
}

describe("collector under attack (real child process, loopback)", () => {
  it("3,000 idle TCP connections are closed after first_bytes_timeout_ms while others are served", async () => {
    const timeout = 1500;
    let r: FloodResult | undefined;
    const f = await measureAttack("idle TCP connections", { limits: { first_bytes_timeout_ms: timeout, max_connections: 4000 } }, async (c) => {
      r = await drain(idleConnections({ host: c.host, port: c.port, n: 3000, from: sourceIps(3000, 500) }), timeout + 5000);
      return { cases: 3000, detail: closeSummary(r, timeout + 2500) };
    });
    expectSurvived(f);
    expect(r!.connected).toBe(3000);
    expect(f.detail, "every idle connection closed by the server within the timeout (+2.5 s)").toMatchObject({ lateOrNever: 0 });
  }, 60_000);

  // 1,000 here: each costs the collector an HTTP/2 session and 3 descriptors, and on two shared cores under
  // load 2,000 at once delayed single probes past 1 s; the figures script runs 4,000
  it("1,000 HTTP/2 prefaces followed by silence are closed after idle_timeout_ms while others are served", async () => {
    const timeout = 1500;
    let r: FloodResult | undefined;
    const f = await measureAttack("HTTP/2 preface then silence", { limits: { idle_timeout_ms: timeout, max_connections: 4000 } }, async (c) => {
      r = await drain(h2PrefaceSilence({ host: c.host, port: c.port, n: 1000, from: sourceIps(1000, 500) }), timeout + 6000);
      return { cases: 1000, detail: closeSummary(r, timeout + 3000) };
    });
    expectSurvived(f);
    expect(r!.connected).toBe(1000);
    expect(f.detail, "every silent HTTP/2 connection closed by the server within the idle timeout (+3 s)").toMatchObject({ lateOrNever: 0 });
  }, 60_000);

  it("1,000 slowloris requests (a header byte every 500 ms) are closed after headers_timeout_ms", async () => {
    const timeout = 2000;
    let r: FloodResult | undefined;
    const f = await measureAttack("slowloris (half HTTP/1 requests)", { limits: { headers_timeout_ms: timeout, request_timeout_ms: 3000 } }, async (c) => {
      r = await drain(slowloris({ host: c.host, port: c.port, n: 1000, from: sourceIps(1000, 500), byteEveryMs: 500 }), timeout + 6000);
      return { cases: 1000, detail: closeSummary(r, timeout + 3000) };
    });
    expectSurvived(f);
    expect(r!.connected).toBe(1000);
    expect(f.detail, "every slowloris connection closed within the headers timeout (+3 s)").toMatchObject({ lateOrNever: 0 });
  }, 60_000);

  it("1,000 POSTs with a lying Content-Length: unauthenticated ones are refused on their headers, authenticated ones end at request_timeout_ms", async () => {
    const timeout = 2000;
    let authed: FloodResult | undefined;
    let unauthed: FloodResult | undefined;
    let unauthStatuses: Map<number, number> | undefined;
    const f = await measureAttack("lying Content-Length POSTs", { limits: { request_timeout_ms: timeout, headers_timeout_ms: timeout } }, async (c) => {
      const a = lyingContentLength({ host: c.host, port: c.port, n: 500, from: ["127.0.0.2"], token: c.token });
      const u = lyingContentLength({ host: c.host, port: c.port, n: 500, from: ["127.0.0.3"] });
      unauthStatuses = u.statuses;
      [authed, unauthed] = await Promise.all([drain(a, timeout + 6000), drain(u, timeout + 6000)]);
      return {
        cases: 1000,
        detail: {
          authenticated: closeSummary(authed, timeout + 3000),
          unauthenticated: closeSummary(unauthed, timeout + 3000),
          unauthStatuses: Object.fromEntries(u.statuses),
        },
      };
    });
    expectSurvived(f);
    expect(authed!.connected + unauthed!.connected).toBe(1000);
    expect(closeSummary(authed!, timeout + 3000).lateOrNever, "authenticated liars closed within the request timeout (+3 s)").toBe(0);
    expect(closeSummary(unauthed!, timeout + 3000).lateOrNever, "unauthenticated liars closed within the request timeout (+3 s)").toBe(0);
    const answered = (unauthStatuses!.get(401) ?? 0) + (unauthStatuses!.get(429) ?? 0);
    expect(answered, `unauthenticated POSTs answered 401/429: ${JSON.stringify(Object.fromEntries(unauthStatuses!))}`).toBe(500);
  }, 60_000);

  it("16 parallel unauthenticated 16 MiB gRPC pushes (and 8 authenticated oversized ones) are refused without buffering them", async () => {
    let unauth: Awaited<ReturnType<typeof grpcPushFlood>> | undefined;
    let authed: Awaited<ReturnType<typeof grpcPushFlood>> | undefined;
    const f = await measureAttack("parallel 16 MiB gRPC pushes", {}, async (c) => {
      [unauth, authed] = await Promise.all([
        grpcPushFlood({
          host: c.host,
          port: c.port,
          connections: 4,
          streamsPerConnection: 4,
          messageBytes: 16 * 1024 * 1024,
          from: ["127.0.0.2"],
          timeoutMs: 20_000,
        }),
        grpcPushFlood({
          host: c.host,
          port: c.port,
          connections: 2,
          streamsPerConnection: 4,
          messageBytes: 16 * 1024 * 1024,
          from: ["127.0.0.3"],
          token: c.token,
          timeoutMs: 20_000,
        }),
      ]);
      return {
        cases: 24,
        detail: { unauthenticated: unauth.outcomes, authenticated: authed.outcomes, maxAnswerMs: Math.round(Math.max(...unauth.answerMs, ...authed.answerMs)) },
      };
    });
    expectSurvived(f);
    // refused: UNAUTHENTICATED (16), RESOURCE_EXHAUSTED (8), or a stream refused before it began (RST REFUSED_STREAM = 7)
    const refusals = (o: Record<string, number>, allowed: string[]) => Object.entries(o).filter(([k]) => !allowed.includes(k));
    expect(refusals(unauth!.outcomes, ["grpc-status 16", "grpc-status 8", "rst 7"]), JSON.stringify(unauth!.outcomes)).toEqual([]);
    expect(refusals(authed!.outcomes, ["grpc-status 8", "grpc-status 14", "rst 7"]), JSON.stringify(authed!.outcomes)).toEqual([]);
    expect(unauth!.answerMs.at(-1)!, "every unauthenticated push answered within 5 s").toBeLessThan(5000);
  }, 90_000);

  it("a catastrophic tail and query glob against long rule names does not freeze the collector", async () => {
    const glob = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab";
    const longMiss = "a".repeat(40); // a backtracking matcher needs minutes for this one
    const longHit = "a".repeat(40) + "b";
    let tailGot: string[] = [];
    let pushes: Record<string, number> = {};
    let queries: string[] = [];
    const f = await measureAttack("catastrophic glob (tail and query)", {}, async (c) => {
      const tail = await tailClient(c, `rule=${encodeURIComponent(glob)}`);
      const [miss, hit, q] = await Promise.all([
        pushRules(c, longMiss, 4, 5000),
        pushRules(c, longHit, 2, 5000),
        Promise.all(
          [0, 1].map(() =>
            httpGet(c.host, c.port, `/api/v1/alerts?rule=${encodeURIComponent(glob)}&limit=100`, { token: c.token, timeoutMs: 5000 }).then(
              (r) => `${r.status}`,
              (e: Error) => e.message,
            ),
          ),
        ),
      ]);
      pushes = { miss: miss["acked"] ?? 0, hit: hit["acked"] ?? 0 };
      queries = q;
      await sleep(500);
      tailGot = tail.messages;
      tail.ws.terminate();
      return { cases: 8, detail: { pushes: { miss, hit }, queries: q, tailMessages: tail.messages.length } };
    });
    expectSurvived(f);
    expect(pushes).toEqual({ miss: 4, hit: 2 });
    expect(queries).toEqual(["200", "200"]);
    const rules = tailGot
      .flatMap((m) => m.split("\n").filter((l) => l !== ""))
      .map((l) => JSON.parse(l) as { type?: string; alert?: { rule?: string } })
      .filter((m) => m.type === "alert")
      .map((m) => m.alert?.rule);
    expect(rules, "the tail delivers the matching alerts and only them").toEqual([longHit, longHit]);
  }, 90_000);

  it("a flood of bad tokens is refused, then rate limited, and does not stop a good client", async () => {
    let statuses: Record<string, number> = {};
    let grpc: Awaited<ReturnType<typeof grpcPushFlood>> | undefined;
    const f = await measureAttack("bad-token flood (HTTP and gRPC)", {}, async (c) => {
      [statuses, grpc] = await Promise.all([
        badTokenFlood({ host: c.host, port: c.port, n: 1000, concurrency: 20, localAddress: "127.0.0.2" }),
        grpcPushFlood({
          host: c.host,
          port: c.port,
          connections: 4,
          streamsPerConnection: 50,
          messageBytes: 100,
          token: "wrong",
          from: ["127.0.0.3"],
          timeoutMs: 10_000,
        }),
      ]);
      return { cases: 1200, detail: { http: statuses, grpc: grpc.outcomes } };
    });
    expectSurvived(f);
    expect(
      Object.keys(statuses).filter((k) => k !== "401" && k !== "429"),
      JSON.stringify(statuses),
    ).toEqual([]);
    expect(statuses["429"] ?? 0, `failed authentications are rate limited per address: ${JSON.stringify(statuses)}`).toBeGreaterThan(0);
    expect(
      Object.keys(grpc!.outcomes).filter((k) => !["grpc-status 16", "grpc-status 8", "rst 7"].includes(k)),
      JSON.stringify(grpc!.outcomes),
    ).toEqual([]);
  }, 60_000);

  it("one address cannot hold more than max_connections_per_ip connections; others are served", async () => {
    let open = 0;
    let r: FloodResult | undefined;
    const f = await measureAttack("connection flood from one address", { limits: { max_connections_per_ip: 512 } }, async (c) => {
      const fl = idleConnections({ host: c.host, port: c.port, n: 700, from: ["127.0.0.2"] });
      await fl.opened;
      await sleep(500);
      open = fl.open();
      r = fl.close();
      return { cases: 700, detail: { heldOpen: open, closedByServer: r.closedByServer.length } };
    });
    expectSurvived(f);
    expect(open, "connections from one address held open").toBeLessThanOrEqual(512);
    expect(open, "the first ones are accepted").toBeGreaterThan(400);
  }, 60_000);

  it("connections beyond max_connections are refused at once with a log line; clients are served once the flood stops", async () => {
    let open = 0;
    const f = await measureAttack("connection flood beyond max_connections", { limits: { max_connections: 1000, max_connections_per_ip: 512 } }, async (c) => {
      const fl = idleConnections({ host: c.host, port: c.port, n: 1500, from: sourceIps(1500, 500) });
      await fl.opened;
      await sleep(500);
      open = fl.open();
      const r = fl.close();
      return { cases: 1500, detail: { heldOpen: open, closedByServer: r.closedByServer.length } };
    });
    // while every slot is taken the probe's own connections are refused too (that is the cap);
    // what matters is that the process stays up and serves as soon as the flood stops
    expectSurvived(f, { during: false });
    expect(open, "connections held open at most max_connections (the probe may hold one)").toBeLessThanOrEqual(1000);
    const capLog = f.logs.find((l) => /connection/i.test(l) && /limit|too many|refus/i.test(l) && /"level":(40|50)/.test(l));
    expect(capLog, "a warning names the connection cap when it is hit").toBeDefined();
  }, 60_000);
});
