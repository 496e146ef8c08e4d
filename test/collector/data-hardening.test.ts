// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's data paths are bounded and linear (issue 13, findings 2, 3 and 7): filter
 * globs without backtracking, NDJSON query results and tail history read from the store in
 * pages bounded by bytes (a real collector in a child process, its RSS read from /proc), a total
 * size per alert, strict dates, out-of-range time bounds answered 400, captures only for known
 * alerts.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { CollectorError } from "../../collector/errors.js";
import { alertKeys, compileFilter, compileStarGlob, normalizeFilter, parseTimeBound } from "../../collector/filter.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { AlertStore } from "../../collector/store.js";
import { TailClient, queryAlerts } from "../../collector/tail-client.js";
import { HealthProber } from "../load/harness.js";
import { spawnTs } from "../sinks/helpers/run-ts.js";
import { makeAlert, ndjson, quiet, tempDir, waitFor } from "./helpers.js";
import { ALERT_LIMITS, alertToJson, normalizeTime, validateAlert, type Alert } from "../../proto/index.js";

const STARS_30 = `${"*a".repeat(30)}*b`;

describe("filter globs are matched in linear time", () => {
  it.each([
    ["abc", "abc", true],
    ["abc", "abcd", false],
    ["*", "", true],
    ["*", "anything", true],
    ["a*", "abc", true],
    ["a*", "bac", false],
    ["*c", "abc", true],
    ["*c", "abcd", false],
    ["a*c", "ac", true],
    ["a*c", "abbbc", true],
    ["a*c", "abbbcd", false],
    ["*b*", "abc", true],
    ["*b*", "ac", false],
    ["a*b*a", "aba", true],
    ["a*ab*ba", "aba", false],
    ["a*ab*ba", "aabba", true],
    ["**x**", "x", true],
    ["*aa*aa*", "aaa", false],
    ["*aa*aa*", "aaaa", true],
    ["x.y*", "xzy", false],
    ["[ab]*", "[ab]c", true],
    ["a?c", "abc", false],
    ["a?c", "a?c", true],
  ])("%s matches %j: %s", (pattern, value, want) => {
    expect(compileStarGlob(pattern)(value)).toBe(want);
  });

  it("answers a 30-star pattern against a 10 KiB value within 100 ms (the RegExp took minutes)", () => {
    const long = "a".repeat(10 * 1024);
    const filter = normalizeFilter({ rule: STARS_30, pod: STARS_30 });
    const match = compileFilter(filter);
    const alert = makeAlert({ rule: long, fields: { "k8s.pod.name": long } });
    const t0 = performance.now();
    expect(match(alert, alertKeys(alert))).toBe(false);
    expect(compileStarGlob(STARS_30)(long)).toBe(false);
    expect(compileStarGlob(`${"*a".repeat(30)}*`)(long)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(100);
  });
});

describe("strict dates", () => {
  it.each([
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000000Z"],
    ["2024-02-30T00:00:00Z", undefined],
    ["2023-02-29T00:00:00Z", undefined],
    ["2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000000000Z"],
    ["1900-02-29T12:00:00Z", undefined],
    ["2026-04-31T00:00:00Z", undefined],
    ["2026-13-01T00:00:00Z", undefined],
    ["2026-00-10T00:00:00Z", undefined],
    ["2026-01-00T00:00:00Z", undefined],
    ["2026-01-01T24:00:00Z", undefined],
    ["2026-01-01T23:60:00Z", undefined],
    ["2026-01-01T23:59:61Z", undefined],
    ["2026-01-01T12:00:60Z", undefined],
    // a leap second, where one can be (23:59:60 UTC), stays inside its minute
    ["2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999999Z"],
    ["2016-12-31T23:59:60.5Z", "2016-12-31T23:59:59.999999999Z"],
    ["2017-01-01T00:59:60+01:00", "2016-12-31T23:59:59.999999999Z"],
    ["2026-06-01T12:00:00.123456789Z", "2026-06-01T12:00:00.123456789Z"],
    ["2026-06-01T12:00:00.5+02:00", "2026-06-01T10:00:00.500000000Z"],
    ["2026-06-01T00:30:00-01:45", "2026-06-01T02:15:00.000000000Z"],
    ["2026-06-01T12:00:00+24:00", undefined],
    ["2026-06-01T12:00:00+01:60", undefined],
    ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000000Z"],
    ["1970-01-01T00:30:00+01:00", undefined],
    ["1969-12-31T23:59:59Z", undefined],
    ["9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999Z"],
    ["9999-12-31T23:00:00-05:00", undefined],
    ["0000-01-01T00:00:00Z", undefined],
    ["2026-06-01 12:00:00Z", undefined],
    ["2026-06-01T12:00:00", undefined],
    ["2026-06-01T12:00:00.1234567890Z", undefined],
  ])("normalizeTime(%j) = %j", (input, want) => {
    expect(normalizeTime(input)).toBe(want);
  });

  const NOW = Date.parse("2026-06-01T00:00:00Z");
  it.each([
    ["999999999d"],
    ["99999999999999999999999d"],
    [`${"9".repeat(400)}d`],
    ["401d"],
    ["2024-02-30"],
    ["2024-02-30T00:00:00Z"],
    ["1969-07-20T20:17:00Z"],
    ["0001-01-01"],
    ["NaN"],
    ["Infinityd"],
    ["-5m"],
    ["1e9d"],
    [""],
    ["x".repeat(100_000)],
  ])("parseTimeBound(%j) is a bad_filter error", (v) => {
    let err: unknown;
    try {
      parseTimeBound(v, NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CollectorError);
    expect((err as CollectorError).code).toBe("bad_filter");
  });

  it.each([
    ["15m", "2026-05-31T23:45:00.000000000Z"],
    ["400d", "2025-04-27T00:00:00.000000000Z"],
    ["2026-05-01", "2026-05-01T00:00:00.000000000Z"],
    ["1780000000", "2026-05-28T20:26:40.000000000Z"],
  ])("parseTimeBound(%j) = %j", (v, want) => {
    expect(parseTimeBound(v, NOW)).toBe(want);
  });

  it("takes the reach of a duration from limits.max_since_ms", () => {
    expect(() => parseTimeBound("2d", NOW, 86_400_000)).toThrow(/more than 1 days/);
    expect(parseTimeBound("23h", NOW, 86_400_000)).toBe("2026-05-31T01:00:00.000000000Z");
  });
});

describe("alert size, time bounds and captures at a real collector", () => {
  let col: RunningCollector;
  let storing: RunningCollector;
  let client: CollectorClient;
  let storeClient: CollectorClient;
  beforeAll(async () => {
    // a message limit above the 8 MiB alert, so the alert itself is what is refused
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      logger: quiet(),
      retentionMs: 0,
      limits: { max_message_bytes: 16 * 1024 * 1024 },
    });
    storing = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", logger: quiet(), retentionMs: 0, limits: { orphan_captures: "store" } });
    client = new CollectorClient({ address: col.address, token: "" });
    storeClient = new CollectorClient({ address: storing.address, token: "" });
  });
  afterAll(async () => {
    client.close();
    storeClient.close();
    await col.close();
    await storing.close();
  });

  it("refuses an alert whose parts are each within their limits but 8 MiB together", async () => {
    const fields: Alert["output_fields"] = {};
    for (let i = 0; i < ALERT_LIMITS.fields; i++) fields[`f.${i}`] = "x".repeat(ALERT_LIMITS.fieldValueLength);
    const big = makeAlert();
    big.output_fields = fields;
    expect(validateAlert(structuredClone(big))).toMatch(/^alert too large \(\d+ characters, limit 1048576\)$/);
    const fine = makeAlert({ fields: { "proc.cmdline": "x".repeat(ALERT_LIMITS.fieldValueLength) }, output: "o".repeat(ALERT_LIMITS.outputLength) });
    const r = await client.push([big, fine], []);
    expect(r.ackedIds).toEqual([fine.id]);
    expect(r.rejected).toEqual([{ id: big.id, reason: expect.stringMatching(/^alert too large/) as unknown as string }]);
  });

  it.each([
    ["since=999999999d", /reaches back more than 400 days/],
    [`since=${"9".repeat(400)}d`, /bad time/],
    ["since=2024-02-30", /bad time/],
    ["until=2023-02-29T10:00:00Z", /bad time/],
    ["since=1969-12-31T00:00:00Z", /bad time/],
    ["until=-1d", /bad time/],
    [`rule=${"r".repeat(2000)}`, /bad rule/],
    [`tag=${"t".repeat(300)}`, /bad tag/],
  ])("answers ?%s with 400 and the reason", async (qs, why) => {
    const r = await fetch(`http://${col.address}/api/v1/alerts?${qs}`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(why);
  });

  it("refuses a capture for an unknown alert (counted), keeps one sent with or after its alert", async () => {
    const data = Buffer.from("opaque capture bytes");
    const cap = (id: string) => ({ alertId: id, data, eventCount: 1, containerId: "c" });
    const stray = makeAlert().id;
    const r1 = await client.push([], [cap(stray)]);
    expect(r1.ackedCaptureIds).toEqual([]);
    expect(r1.rejected).toEqual([{ id: stray, reason: "unknown alert" }]);
    expect(col.store.getCapture(stray)).toBeUndefined();
    expect(col.stats()["captures_orphan_refused"]).toBe(1);
    // same push, and a later push for a stored alert
    const a = makeAlert();
    const b = makeAlert();
    expect((await client.push([a], [cap(a.id)])).ackedCaptureIds).toEqual([a.id]);
    await client.push([b], []);
    expect((await client.push([], [cap(b.id)])).ackedCaptureIds).toEqual([b.id]);
    // an invalid alert does not make its capture known
    const bad = makeAlert({ priority: "Loud" as Alert["priority"] });
    const r2 = await client.push([bad], [cap(bad.id)]);
    expect(r2.rejected.map((x) => x.reason).sort()).toEqual(["bad priority", "unknown alert"]);
    expect(col.stats()["captures_orphan_refused"]).toBe(2);
    expect(col.stats()["captures_stored"]).toBe(2);
  });

  it("stores an orphan capture with orphan_captures: store, counted", async () => {
    const stray = makeAlert().id;
    const r = await storeClient.push([], [{ alertId: stray, data: Buffer.from("x"), eventCount: 1, containerId: "c" }]);
    expect(r.ackedCaptureIds).toEqual([stray]);
    expect(storing.store.getCapture(stray)).toBeDefined();
    expect(storing.stats()["captures_orphan_stored"]).toBe(1);
    expect(storing.stats()["captures_orphan_refused"]).toBe(0);
  });
});

describe("queryAlerts reads the stream", () => {
  it("hands over each line as it arrives, split anywhere, and fails on a stream cut short", async () => {
    const a = alertToJson(makeAlert({ output: "é".repeat(5000) }));
    const b = alertToJson(makeAlert());
    const body = Buffer.from(`${JSON.stringify(a)}\n${JSON.stringify(b)}\n`);
    let cut = false;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      // one byte at a time for the first alert (a multi-byte character split across chunks)
      let i = 0;
      const step = () => {
        if (cut && i > body.length / 2) return res.socket?.destroy();
        if (i >= body.length) return res.end();
        res.write(body.subarray(i, i < 2000 ? i + 1 : body.length));
        i = i < 2000 ? i + 1 : body.length;
        setImmediate(step);
      };
      step();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const got: unknown[] = [];
      expect(await queryAlerts({ address, filter: {}, onAlert: (x) => void got.push(x) })).toBe(2);
      expect(got).toEqual([a, b]);
      cut = true;
      await expect(queryAlerts({ address, filter: {}, onAlert: () => undefined })).rejects.toThrow();
    } finally {
      server.close();
    }
  });
});

describe("live tail frames", () => {
  it("sends a large stored batch in frames of at most page_bytes, not one frame", async () => {
    const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", logger: quiet(), retentionMs: 0, limits: { page_bytes: 64 * 1024 } });
    const ws = new WebSocket(`ws://${col.address}/api/v1/tail`);
    const frames: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        ws.on("message", (d: Buffer) => {
          const text = d.toString();
          if (text.includes('"type":"live"')) resolve();
          else frames.push(text);
        });
        ws.on("error", reject);
      });
      const batch = Array.from({ length: 20 }, () => makeAlert({ output: "o".repeat(16 * 1024) }));
      expect(col.ingest(batch).stored).toBe(20);
      await waitFor(
        () =>
          frames
            .join("")
            .split("\n")
            .filter((l) => l !== "").length === 20,
        5000,
        "20 alerts over the tail",
      );
      expect(frames.length).toBeGreaterThan(1);
      for (const f of frames) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(64 * 1024 + 20 * 1024);
    } finally {
      ws.close();
      await col.close();
    }
  });
});

describe("store pages", () => {
  it("bounds a page by count and bytes and chains pages by (time, seq) without gaps or repeats", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    const alerts: Alert[] = [];
    // equal times across page boundaries: the cursor must order by seq within a time
    for (let i = 0; i < 50; i++)
      alerts.push(makeAlert({ time: `2026-06-01T00:00:0${i % 3}.000000000Z`, output: "o".repeat(i % 7 === 0 ? 70_000 : i % 2 === 0 ? 20_000 : 10) }));
    s.insert(alerts);
    const want = s.query({}, 1000).map((x) => x.alert.id);
    const got: string[] = [];
    let after;
    for (let n = 0; ; n++) {
      const p = s.queryPage({}, { order: "time", after, limit: 7, maxBytes: 64 * 1024 });
      expect(p.rows.length).toBeLessThanOrEqual(7);
      // within the byte bound, or one alert larger than it
      expect(p.bytes <= 64 * 1024 || p.rows.length === 1).toBe(true);
      expect(p.bytes).toBe(p.rows.reduce((n, r) => n + Buffer.byteLength(r.json), 0));
      for (const r of p.rows) got.push((JSON.parse(r.json) as { id: string }).id);
      after = p.next;
      if (!p.more) break;
      expect(n).toBeLessThan(100);
    }
    expect(got).toEqual(want);
    s.close();
  });

  it("sends rows stored in the earlier JSON shape (the Alert record) as alertToJson", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    const a = makeAlert();
    s.insert([a]);
    s.db.prepare("UPDATE alerts SET json = ? WHERE id = ?").run(JSON.stringify(a), a.id);
    const p = s.queryPage({}, { order: "time", limit: 10, maxBytes: 1024 * 1024 });
    expect(JSON.parse(p.rows[0]!.json)).toEqual(
      JSON.parse(
        JSON.stringify({
          id: a.id,
          uuid: a.id,
          output: a.output,
          priority: a.priority,
          rule: a.rule,
          time: a.time,
          output_fields: a.output_fields,
          source: a.source,
          tags: a.tags,
          hostname: a.hostname,
        }),
      ),
    );
    expect(s.query({}, 10)[0]!.alert).toEqual(a);
    s.close();
  });
});

// ---------------------------------------------------------------- a real collector in a child process

const TOKEN = "data-hardening-token";
const BIG_ALERTS = 540;
const FIELDS = 64;
const FIELD_CHARS = 16_000;

function rssKiB(pid: number, key: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Probes /healthz every 50 ms from a worker thread (so this process's own work does not delay it). */
function probeHealth(address: string): { stop(): Promise<number>; errors: string[] } {
  const i = address.lastIndexOf(":");
  const prober = new HealthProber(address.slice(0, i), Number(address.slice(i + 1)), { intervalMs: 50, timeoutMs: 5000 });
  const errors: string[] = [];
  return {
    errors,
    stop: async () => {
      await prober.stop();
      const st = prober.between(0);
      errors.push(...st.errors);
      expect(st.probes).toBeGreaterThan(0);
      return st.maxMs;
    },
  };
}

describe("a store of near-limit alerts: query and tail stay bounded, catastrophic globs stay prompt", () => {
  let child: ChildProcess;
  let address: string;
  let pid: number;
  let storedBytes = 0;
  const since = new Date(Date.now() - 3_600_000).toISOString();

  beforeAll(async () => {
    // 540 alerts of about 1 MiB of JSON each (each just under the per-alert total): one JSON
    // string of the whole result, as the query built it, would be over V8's 512 MiB string limit
    const data = tempDir("vigil-data-hardening-");
    const t0 = performance.now();
    const s = new AlertStore({ dataDir: data });
    // filled once, by this process alone: the rollback journal in memory, no syncs (the collector
    // reopens it in WAL mode; node:sqlite's defensive mode refuses journal_mode = OFF)
    s.db.exec("PRAGMA journal_mode = MEMORY");
    s.db.exec("PRAGMA synchronous = OFF");
    const value = "x".repeat(FIELD_CHARS);
    for (let b = 0; b < BIG_ALERTS / 20; b++) {
      const batch: Alert[] = [];
      for (let i = 0; i < 20; i++) {
        const fields: Alert["output_fields"] = { "k8s.ns.name": "big" };
        for (let k = 0; k < FIELDS; k++) fields[`big.f${k}`] = value;
        const a = makeAlert({ fields });
        expect(validateAlert(a)).toBeUndefined();
        batch.push(a);
      }
      s.insert(batch);
    }
    storedBytes = (s.db.prepare("SELECT SUM(length(json)) AS n FROM alerts").get() as { n: number }).n;
    s.close();
    console.log(`store filled: ${BIG_ALERTS} alerts, ${(storedBytes / 1048576).toFixed(0)} MiB of JSON in ${(performance.now() - t0).toFixed(0)} ms`);
    child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", data, "--token", TOKEN, "--retention", "0"], {
      env: { ...process.env, VIGIL_TOKEN: "" },
    });
    let err = "";
    address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on("line", (l) => {
        err += `${l}\n`;
        try {
          const o = JSON.parse(l) as { msg?: string; address?: string };
          if (o.msg === "vigil collector ready") resolve(o.address!);
        } catch {
          // not a log line
        }
      });
      child.on("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
    });
    pid = child.pid!;
  }, 60_000);

  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("holds more than V8's longest string", () => {
    // V8 strings hold at most 2^29 - 24 characters (Node 20, 64-bit)
    expect(storedBytes).toBeGreaterThan(2 ** 29);
  });

  it("streams the whole result through queryAlerts and replays it to a tail (since) at once: RSS bounded, /healthz prompt", async () => {
    const before = rssKiB(pid, "VmRSS");
    const health = probeHealth(address);
    const t0 = performance.now();
    let n = 0;
    let bytes = 0;
    const query = queryAlerts({
      address,
      token: TOKEN,
      filter: { namespace: "big" },
      limit: 1000,
      onAlert: (a) => {
        n++;
        const v = a.output_fields["big.f63"];
        bytes += typeof v === "string" ? v.length : 0;
      },
    }).then((total) => {
      console.log(`query: ${total} alerts, ${(storedBytes / 1048576).toFixed(0)} MiB in ${(performance.now() - t0).toFixed(0)} ms`);
      return total;
    });
    let tailed = 0;
    let live = false;
    const tail = new TailClient({
      address,
      token: TOKEN,
      filter: { since },
      onAlert: () => void tailed++,
      onState: (st) => {
        if (st === "live" && !live) {
          live = true;
          console.log(`tail --since: ${tailed} alerts in ${(performance.now() - t0).toFixed(0)} ms`);
        }
      },
    });
    tail.start();
    let total: number;
    try {
      total = await query;
      await waitFor(() => live, 60_000, "tail history replayed");
    } finally {
      tail.stop();
    }
    const worst = await health.stop();
    const hwm = rssKiB(pid, "VmHWM");
    console.log(`collector RSS ${(before / 1024).toFixed(0)} MiB before, peak ${(hwm / 1024).toFixed(0)} MiB; slowest /healthz ${worst.toFixed(0)} ms`);
    expect(health.errors).toEqual([]);
    expect(total).toBe(BIG_ALERTS);
    expect(n).toBe(BIG_ALERTS);
    expect(bytes).toBe(BIG_ALERTS * FIELD_CHARS);
    expect(tailed).toBe(BIG_ALERTS);
    expect(child.exitCode).toBeNull();
    // the old query held every row and then one string of all of them (over 1 GiB, or a crash)
    expect(hwm / 1024).toBeLessThan(300);
    expect(worst).toBeLessThan(1000);
  }, 90_000);

  it("a catastrophic glob in a live tail filter and in a query answers promptly; /healthz within 1 s", async () => {
    const health = probeHealth(address);
    let live = false;
    const got: string[] = [];
    const tail = new TailClient({
      address,
      token: TOKEN,
      filter: { rule: STARS_30 },
      onAlert: (a) => void got.push(a.id),
      onState: (st) => {
        if (st === "live") live = true;
      },
    });
    tail.start();
    const push = new CollectorClient({ address, token: TOKEN });
    try {
      await waitFor(() => live, 10_000, "tail live");
      const long = "a".repeat(ALERT_LIMITS.ruleLength);
      const hit = makeAlert({ rule: `${long.slice(1)}b` });
      const r = await push.push([makeAlert({ rule: long }), makeAlert({ rule: long }), hit], []);
      expect(r.ackedIds).toHaveLength(3);
      await waitFor(() => got.length === 1, 5000, "the matching alert over the tail");
      expect(got).toEqual([hit.id]);
      const t0 = performance.now();
      const q = await fetch(`http://${address}/api/v1/alerts?rule=${encodeURIComponent(STARS_30)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(q.status).toBe(200);
      expect((ndjson(await q.text()) as { id: string }[]).map((x) => x.id)).toEqual([hit.id]);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      tail.stop();
      push.close();
    }
    expect(await health.stop()).toBeLessThan(1000);
    expect(child.exitCode).toBeNull();
  }, 30_000);
});
