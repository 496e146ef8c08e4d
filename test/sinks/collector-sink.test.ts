// SPDX-License-Identifier: Apache-2.0
/**
 * Fault tests of durable delivery, with real processes on loopback: a real collector (gRPC +
 * SQLite), the real sink, a child process killed with SIGKILL, real files corrupted on disk.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { createCollectorSink, type CollectorSink } from "../../agent/sinks/collector-sink.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { makeAlert, memoryLogger, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { spawnTs } from "./helpers/run-ts.js";
import { MAX_TOKEN_FILE_BYTES, tokenFileSource } from "../../agent/sinks/credential-files.js";

/** A free loopback port (bound then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function collectorAt(port: number, dataDir: string): Promise<RunningCollector> {
  const col = await startCollector({ listen: `127.0.0.1:${port}`, dataDir, logger: quiet() });
  cleanups.push(() => col.close());
  return col;
}

function sinkTo(port: number, spoolDir: string, extra: Partial<Parameters<typeof createCollectorSink>[0]> = {}): CollectorSink {
  const sink = createCollectorSink({ address: `127.0.0.1:${port}`, spoolDir, logger: quiet(), backoffMinMs: 20, backoffMaxMs: 200, ...extra });
  cleanups.push(() => sink.shutdown());
  return sink;
}

const storedIds = (col: RunningCollector) => col.store.query({}, 1_000_000).map((s) => s.alert.id);

describe("collector sink: delivery faults", () => {
  it("delivers a stream to a live collector, exactly once", async () => {
    const port = await freePort();
    const col = await collectorAt(port, tempDir());
    const sink = sinkTo(port, tempDir());
    const alerts = Array.from({ length: 1000 }, () => makeAlert());
    for (let i = 0; i < alerts.length; i += 100) expect(await sink.export(alerts.slice(i, i + 100))).toEqual({ ok: true });
    await waitFor(() => col.store.count() === 1000, 15_000, "1000 stored");
    expect(new Set(storedIds(col))).toEqual(new Set(alerts.map((a) => a.id)));
    await waitFor(() => sink.stats()["backlog"] === 0, 5000, "drained");
  });

  it("collector down for a while with alerts flowing, then back: every alert exactly once", async () => {
    const port = await freePort();
    const dataDir = tempDir();
    let col = await collectorAt(port, dataDir);
    const sink = sinkTo(port, tempDir());
    const sent: string[] = [];
    const flow = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const a = makeAlert();
        sent.push(a.id);
        expect((await sink.export([a])).ok).toBe(true);
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    };
    await flow(200);
    await col.close();
    await flow(300); // collector down
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.stats()["push_failures"]).toBeGreaterThan(0);
    col = await collectorAt(port, dataDir);
    await flow(200);
    await waitFor(() => col.store.count() === sent.length, 20_000, "all stored after the outage");
    const ids = storedIds(col);
    expect(ids.length).toBe(sent.length);
    expect(new Set(ids)).toEqual(new Set(sent));
  });

  it("collector process killed with SIGKILL mid-stream and restarted: every alert exactly once", async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const startCol = async () => {
      const c = spawnTs("agent/cli/main.ts", ["collector", "--listen", `127.0.0.1:${port}`, "--data", dataDir]);
      cleanups.push(() => void c.kill("SIGKILL"));
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: c.stderr! }).on("line", (l) => {
          if (l.includes('"vigil collector ready"')) resolve();
        });
        c.on("exit", (code) => reject(new Error(`collector exited ${code}`)));
      });
      return c;
    };
    let child = await startCol();
    const sink = sinkTo(port, tempDir());
    const sent: string[] = [];
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        const batch = Array.from({ length: 5 }, () => makeAlert());
        sent.push(...batch.map((a) => a.id));
        expect((await sink.export(batch)).ok).toBe(true);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await waitFor(() => sink.stats()["acked"]! >= 300, 20_000, "300 acked before the kill");
    child.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 700));
    expect(sink.stats()["push_failures"]).toBeGreaterThan(0);
    child = await startCol();
    await new Promise((r) => setTimeout(r, 500));
    flowing = false;
    await flow;
    await waitFor(() => sink.stats()["backlog"] === 0, 20_000, "sink drained");
    child.kill("SIGTERM");
    await new Promise((r) => child.on("exit", r));
    const col = await collectorAt(port, dataDir);
    const ids = storedIds(col);
    expect(ids.length).toBe(sent.length);
    expect(new Set(ids)).toEqual(new Set(sent));
  });

  it("agent killed with SIGKILL mid-stream and restarted: nothing lost, nothing duplicated", async () => {
    const port = await freePort();
    const col = await collectorAt(port, tempDir());
    const spool = tempDir();
    const spooled: string[] = [];
    const runChild = (count: number, start: number, interval: number) => {
      const c = spawnTs("test/sinks/helpers/sink-child.ts", [`127.0.0.1:${port}`, spool, String(count), String(start), String(interval)]);
      let done = false;
      createInterface({ input: c.stdout! }).on("line", (l) => {
        if (l.startsWith("spooled ")) spooled.push(l.slice(8));
        if (l === "done") done = true;
      });
      let err = "";
      c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => c.on("exit", (code) => r(code)));
      cleanups.push(() => void c.kill("SIGKILL"));
      return { c, exited, isDone: () => done, err: () => err };
    };
    const first = runChild(5000, 0, 1);
    await waitFor(() => spooled.length >= 300, 30_000, "300 alerts spooled by the first child");
    first.c.kill("SIGKILL");
    expect(await first.exited).toBe(null);
    const killedAt = spooled.length;
    expect(killedAt).toBeLessThan(5000);
    // restart on the same spool: drains what the first left, then adds 200 more
    const second = runChild(200, 100_000, 0);
    await waitFor(() => second.isDone(), 30_000, "second child drained");
    expect(await second.exited, second.err()).toBe(0);
    const ids = storedIds(col);
    expect(ids.length).toBe(new Set(ids).size);
    const stored = new Set(ids);
    for (const id of spooled) expect(stored.has(id), `lost ${id}`).toBe(true);
    // at most the one alert being exported at the kill may exist without a "spooled" line
    expect(ids.length - spooled.length).toBeLessThanOrEqual(1);
    expect(spooled.length).toBe(killedAt + 200);
  });

  it("spool full: counted drops, one clear log line, the sink stays up and delivers the rest", async () => {
    const port = await freePort();
    const { logger, lines } = memoryLogger();
    const sink = sinkTo(port, tempDir(), { maxSpoolBytes: 128 * 1024, logger });
    let ok = 0;
    let failed = 0;
    const kept: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const a = makeAlert();
      const r = await sink.export([a]);
      if (r.ok) {
        ok++;
        kept.push(a.id);
      } else {
        failed++;
        expect(r.error).toMatchObject({ code: "spool_full" });
      }
    }
    expect(failed).toBeGreaterThan(0);
    expect(sink.stats()["dropped_spool_full"]).toBe(failed);
    expect(lines.filter((l) => l["msg"] === "spool full: dropping alerts until the collector catches up")).toHaveLength(1);
    const col = await collectorAt(port, tempDir());
    await waitFor(() => col.store.count() === ok, 20_000, "kept alerts delivered");
    expect(new Set(storedIds(col))).toEqual(new Set(kept));
    // room again once the acknowledgements are committed: new alerts are accepted and delivered
    await waitFor(() => sink.stats()["backlog"] === 0, 5000, "spool drained");
    const more = makeAlert();
    expect(await sink.export([more])).toEqual({ ok: true });
    await waitFor(() => col.store.seqOf(more.id) !== undefined, 10_000, "new alert after the burst");
  });

  it("corrupted spool segment: the rest is recovered and delivered, the bad part reported", async () => {
    const port = await freePort();
    const spool = tempDir();
    const sink1 = createCollectorSink({ address: `127.0.0.1:${port}`, spoolDir: spool, logger: quiet() });
    const alerts = Array.from({ length: 50 }, () => makeAlert());
    for (const a of alerts) await sink1.export([a]);
    await sink1.shutdown();
    const seg = join(spool, readdirSync(spool).find((f) => f.endsWith(".vsp"))!);
    const buf = readFileSync(seg);
    const starts: number[] = [];
    for (let off = 0; off < buf.length; off += 12 + buf.readUInt32LE(off + 4)) starts.push(off);
    for (const k of [10, 11, 30]) buf.fill(0x55, starts[k]! + 14, starts[k]! + 30);
    writeFileSync(seg, buf);
    const col = await collectorAt(port, tempDir());
    const { logger, lines } = memoryLogger();
    const sink2 = sinkTo(port, spool, { logger });
    const want = alerts.filter((_a, i) => ![10, 11, 30].includes(i)).map((a) => a.id);
    await waitFor(() => col.store.count() === want.length, 15_000, "47 recovered alerts stored");
    expect(new Set(storedIds(col))).toEqual(new Set(want));
    const reports = lines.filter((l) => l["msg"] === "spool: corrupted region skipped, the rest is recovered");
    expect(reports.map((r) => r["offset"])).toEqual([starts[10], starts[30]]);
    expect(reports[0]!["bytes"]).toBe(starts[12]! - starts[10]!);
    expect(sink2.stats()["spool_corrupt_regions"]).toBe(2);
  });

  it("refuses to deliver with a bad token but keeps the alerts until the token is right", async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const spool = tempDir();
    let col = await startCollector({ listen: `127.0.0.1:${port}`, dataDir, token: "right", logger: quiet() });
    const sink1 = createCollectorSink({ address: `127.0.0.1:${port}`, spoolDir: spool, token: "wrong", logger: quiet(), backoffMinMs: 20 });
    const a = makeAlert();
    await sink1.export([a]);
    await waitFor(() => col.stats()["refused_unauthenticated"]! >= 2, 5000, "refusals");
    expect(col.store.count()).toBe(0);
    await sink1.shutdown();
    await col.close();
    col = await collectorAt(port, dataDir);
    await col.close();
    col = await startCollector({ listen: `127.0.0.1:${port}`, dataDir, token: "right", logger: quiet() });
    cleanups.push(() => col.close());
    sinkTo(port, spool, { token: "right" });
    await waitFor(() => col.store.seqOf(a.id) !== undefined, 10_000, "delivered with the right token");
  });

  it("a token file that appears and rotates after start: alerts wait in the spool, then go with the token of the moment", async () => {
    const port = await freePort();
    const col = await startCollector({ listen: `127.0.0.1:${port}`, dataDir: tempDir(), token: "first", logger: quiet() });
    cleanups.push(() => col.close());
    const dir = tempDir();
    const file = join(dir, "token");
    const { logger, lines } = memoryLogger("info");
    const sink = sinkTo(port, tempDir(), { token: tokenFileSource(file, logger) });
    const a = makeAlert();
    await sink.export([a]);
    // no file yet (an optional Secret not created): refused, kept, one error line however many tries
    await waitFor(() => col.stats()["refused_unauthenticated"]! >= 3, 5000, "refusals without a token");
    expect(col.store.count()).toBe(0);
    expect(lines.filter((l) => l["level"] === 50 && String(l["msg"]).includes("token file"))).toHaveLength(1);
    writeFileSync(file, "first\n");
    await waitFor(() => col.store.seqOf(a.id) !== undefined, 10_000, "delivered once the file exists");
    expect(lines.some((l) => String(l["msg"]).includes("readable again"))).toBe(true);
    // rotated in place (a new collector token): the next push carries the new one
    await col.close();
    const col2 = await startCollector({ listen: `127.0.0.1:${port}`, dataDir: tempDir(), token: "second", logger: quiet() });
    cleanups.push(() => col2.close());
    writeFileSync(file, "second\n");
    const b = makeAlert();
    await sink.export([b]);
    await waitFor(() => col2.store.seqOf(b.id) !== undefined, 10_000, "delivered with the rotated token");
  });

  it("a token file larger than 64 KiB is refused, not read", () => {
    const file = join(tempDir(), "token");
    writeFileSync(file, "x".repeat(MAX_TOKEN_FILE_BYTES + 1));
    const { logger, lines } = memoryLogger("info");
    expect(tokenFileSource(file, logger)()).toBeUndefined();
    expect(String(lines[0]?.["reason"])).toContain("larger than");
  });
});
