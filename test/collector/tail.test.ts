// SPDX-License-Identifier: Apache-2.0
/** The WebSocket live tail: filters, resume without gaps/duplicates, slow-client isolation. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { TailClient } from "../../collector/tail-client.js";
import { formatAlertLine } from "../../collector/alert-line.js";
import { makeAlert, quiet, waitFor } from "./helpers.js";
import type { Alert } from "../../proto/index.js";

const TOKEN = "tail-token";

describe("WebSocket tail", () => {
  let col: RunningCollector;
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, logger: quiet(), tailQueueBytes: 1024 * 1024 });
  });
  afterAll(() => col.close());

  const tail = (filter: Parameters<typeof TailClient.prototype.constructor>[0]["filter"], into: Alert[]) => {
    let live = false;
    const c = new TailClient({
      address: col.address,
      token: TOKEN,
      filter,
      onAlert: (a) => into.push(a),
      onState: (s) => {
        if (s === "live") live = true;
      },
    });
    c.start();
    return { c, isLive: () => live };
  };

  it.each([
    [{ priority: "error" }, ["crit", "err"]],
    [{ namespace: "prod" }, ["crit", "note"]],
    [{ rule: "Shell*" }, ["err"]],
    [{ tags: ["T1059"] }, ["note"]],
    [{ pod: "api-*", priority: "critical" }, ["crit"]],
    [{}, ["crit", "err", "note", "dbg"]],
  ])("server-side filter %j", async (filter, want) => {
    const got: Alert[] = [];
    const t = tail(filter, got);
    await waitFor(t.isLive, 5000, "live");
    const names: Record<string, string> = {};
    const mk = (name: string, over: Partial<Alert>, fields: Alert["output_fields"]) => {
      const a = makeAlert({ ...over, fields });
      names[a.id] = name;
      return a;
    };
    col.ingest([
      mk("crit", { priority: "Critical", rule: "Crit" }, { "k8s.ns.name": "prod", "k8s.pod.name": "api-1" }),
      mk("err", { priority: "Error", rule: "Shell in pod" }, { "k8s.ns.name": "dev" }),
      mk("note", { priority: "Notice", tags: ["T1059"] }, { "k8s.ns.name": "prod" }),
      mk("dbg", { priority: "Debug" }, { "k8s.ns.name": "dev" }),
    ]);
    await waitFor(() => got.length >= want.length, 5000, "alerts");
    await new Promise((r) => setTimeout(r, 50));
    t.c.stop();
    expect(got.map((a) => names[a.id])).toEqual(want);
  });

  it("replays history with since, then follows live, in store order", async () => {
    const before = Array.from({ length: 5 }, () => makeAlert({ rule: "history-test" }));
    col.ingest(before);
    const got: Alert[] = [];
    const t = tail({ rule: "history-test", since: "1h" }, got);
    await waitFor(t.isLive, 5000, "live");
    const after = Array.from({ length: 5 }, () => makeAlert({ rule: "history-test" }));
    col.ingest(after);
    await waitFor(() => got.length === 10, 5000, "10 alerts");
    t.c.stop();
    expect(got.map((a) => a.id)).toEqual([...before, ...after].map((a) => a.id));
  });

  it("resumes after a dropped connection without gaps or duplicates", async () => {
    const got: Alert[] = [];
    const t = tail({ rule: "resume-test" }, got);
    await waitFor(t.isLive, 5000, "live");
    const all: Alert[] = [];
    const burst = (n: number) => {
      const b = Array.from({ length: n }, () => makeAlert({ rule: "resume-test" }));
      all.push(...b);
      col.ingest(b);
    };
    burst(20);
    await waitFor(() => got.length === 20, 5000, "first 20");
    // cut the connection from the server side, keep storing while it is down
    (t.c as unknown as { ws: WebSocket }).ws.terminate();
    burst(30);
    await waitFor(() => t.c.counters.connects === 2, 5000, "reconnected");
    burst(10);
    await waitFor(() => got.length === 60, 5000, "all 60");
    await new Promise((r) => setTimeout(r, 100));
    t.c.stop();
    expect(got.map((a) => a.id)).toEqual(all.map((a) => a.id));
    expect(t.c.counters.duplicates_skipped).toBe(0);
  });

  it("drops a slow client (counted) and never slows the others", async () => {
    const base = `ws://${col.address}/api/v1/tail?rule=slow-test`;
    const slow = new WebSocket(base, { headers: { authorization: `Bearer ${TOKEN}` } });
    const fast = new WebSocket(base, { headers: { authorization: `Bearer ${TOKEN}` } });
    let fastCount = 0;
    let slowClose = 0;
    fast.on("message", (d: WebSocket.RawData) => {
      fastCount += d
        .toString()
        .split("\n")
        .filter((l) => l.startsWith('{"type":"alert"')).length;
    });
    slow.on("close", (code) => (slowClose = code));
    await Promise.all([new Promise((r) => slow.on("open", r)), new Promise((r) => fast.on("open", r))]);
    slow.pause(); // stops reading: the kernel buffers fill, then the server's queue
    const n = 3000;
    const big = "x".repeat(16 * 1024);
    // batches as they would arrive from agents, with the event loop turning in between
    for (let i = 0; i < n; i += 25) {
      col.ingest(Array.from({ length: 25 }, () => makeAlert({ rule: "slow-test", output: big })));
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitFor(() => fastCount === n, 20_000, "fast client got everything");
    await waitFor(() => col.stats()["clients_dropped_slow"]! >= 1, 5000, "slow client dropped");
    slow.resume();
    await waitFor(() => slowClose !== 0, 5000, "slow client closed");
    expect([4008, 1006]).toContain(slowClose);
    fast.close();
  });

  it("replays a history larger than the client's queue bound without dropping a reading client", async () => {
    const big = "y".repeat(16 * 1024);
    const hist = Array.from({ length: 400 }, () => makeAlert({ rule: "big-history", output: big }));
    for (let i = 0; i < hist.length; i += 50) col.ingest(hist.slice(i, i + 50));
    const dropped = col.stats()["clients_dropped_slow"]!;
    const got: Alert[] = [];
    const t = tail({ rule: "big-history", since: "1h" }, got);
    await waitFor(() => got.length === 400 && t.isLive(), 15_000, "400 history alerts");
    t.c.stop();
    expect(got.map((a) => a.id)).toEqual(hist.map((a) => a.id));
    expect(col.stats()["clients_dropped_slow"]).toBe(dropped);
  });

  it("renders one line per alert with rule, pod/namespace, process and message; colors on request", () => {
    const a = makeAlert({ priority: "Critical", rule: "Evil", output: "2026-01-01T00:00:00.000000000Z: Critical shell spawned\nsecond" });
    const plain = formatAlertLine(a, false);
    expect(plain.split("\n")).toHaveLength(1);
    expect(plain).toContain("Critical");
    expect(plain).toContain("Evil");
    expect(plain).toContain("default/web-1");
    expect(plain).toContain("cat[1234]");
    expect(plain).toContain("shell spawned second");
    expect(plain).not.toContain("\x1b");
    expect(formatAlertLine(a, true)).toContain("\x1b[1;91m");
    // terminal escapes from attacker-controlled text never reach the terminal
    expect(formatAlertLine(makeAlert({ rule: "a\x1b]0;pwned\x07b" }), false)).not.toMatch(/[\x1b\x07]/);
  });
});
