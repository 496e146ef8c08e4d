// SPDX-License-Identifier: Apache-2.0
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { register as globalRegistry } from "prom-client";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { COLLECTOR_METRICS, CollectorMetrics } from "../../collector/metrics.js";
import { quiet, tempDir } from "./helpers.js";

const TOKEN = "metrics-token";
const auth = { authorization: `Bearer ${TOKEN}` };

interface Family {
  help?: string;
  type?: string;
  value?: number;
}

/** Parses an unlabelled Prometheus text exposition into families by name. */
function parseExposition(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  const fam = (name: string) => {
    let f = out.get(name);
    if (!f) out.set(name, (f = {}));
    return f;
  };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const help = /^# HELP (\S+) (.+)$/.exec(line);
    if (help) {
      fam(help[1]!).help = help[2]!;
      continue;
    }
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      fam(type[1]!).type = type[2]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (!sample) throw new Error(`unexpected exposition line: ${line}`);
    fam(sample[1]!).value = Number(sample[2]);
  }
  return out;
}

describe("collector /metrics (prom-client, Prometheus naming)", () => {
  let col: RunningCollector;
  let second: RunningCollector;
  let base: string;
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), token: TOKEN, logger: quiet() });
    // a second collector in the same process: each has its own registry, no name clash
    second = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), token: TOKEN, logger: quiet() });
    base = `http://${col.address}`;
  });
  afterAll(async () => {
    await col.close();
    await second.close();
  });

  it("has a table row for every stats() key", () => {
    const missing = Object.keys(col.stats()).filter((k) => COLLECTOR_METRICS[k] === undefined);
    expect(missing).toEqual([]);
  });

  it("names counters *_total, gauges without it, with units and no duplicates", () => {
    const names = new Set<string>();
    for (const [key, spec] of Object.entries(COLLECTOR_METRICS)) {
      expect(spec.name, key).toMatch(/^vigil_collector_[a-z0-9_]+$/);
      if (spec.type === "counter") expect(spec.name, key).toMatch(/_total$/);
      else expect(spec.name, key).not.toMatch(/_total$/);
      if (key.includes("bytes")) expect(spec.name, key).toMatch(/_bytes$/);
      expect(spec.help.length, key).toBeGreaterThan(10);
      expect(names.has(spec.name), spec.name).toBe(false);
      names.add(spec.name);
      // OpenMetrics drops _total for the family name: a gauge must not take a counter's family
      if (spec.type === "counter") expect(names.has(spec.name.replace(/_total$/, "")), spec.name).toBe(false);
    }
  });

  it("serves HELP, TYPE and the stats() values, behind the token", async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const r = await fetch(`${base}/metrics`, { headers: auth });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const fams = parseExposition(await r.text());
    const stats = col.stats();
    for (const [key, spec] of Object.entries(COLLECTOR_METRICS)) {
      // the fleet mode's metrics exist only there (test/fleet/fleet-api.test.ts)
      if (stats[key] === undefined && /^(fleet_|feed_|tail_watermark)/.test(key)) continue;
      const f = fams.get(spec.name);
      expect(f, spec.name).toBeDefined();
      expect(f!.help, spec.name).toBe(spec.help);
      expect(f!.type, spec.name).toBe(spec.type);
      // the scrape itself is one more request and connection than stats() read after it
      if (!["http_requests", "connections", "connections_open", "inflight_bytes_in_use", "inflight_bytes_high_water"].includes(key)) {
        expect(f!.value, spec.name).toBe(stats[key]);
      }
    }
    expect(fams.get("vigil_collector_http_unauthenticated_total")!.value).toBeGreaterThanOrEqual(1);
    expect(fams.get("vigil_collector_http_requests_total")!.value).toBeGreaterThanOrEqual(2);
    expect(fams.get("vigil_collector_tail_clients")!.type).toBe("gauge");
  });

  it("counts between scrapes and leaves prom-client's global registry alone", async () => {
    const scrape = async () => parseExposition(await (await fetch(`${base}/metrics`, { headers: auth })).text());
    const before = (await scrape()).get("vigil_collector_http_not_found_total")!.value!;
    await fetch(`${base}/nope`, { headers: auth });
    await fetch(`${base}/nope`, { headers: auth });
    expect((await scrape()).get("vigil_collector_http_not_found_total")!.value).toBe(before + 2);
    const other = parseExposition(await (await fetch(`http://${second.address}/metrics`, { headers: auth })).text());
    expect(other.get("vigil_collector_http_not_found_total")!.value).toBe(0);
    expect(globalRegistry.getMetricsAsArray().filter((m) => m.name.startsWith("vigil_collector_"))).toEqual([]);
  });
});

describe("CollectorMetrics", () => {
  it("exports a stats key missing from the table as a counter, and skips non-finite values", async () => {
    let stats: Record<string, number> = { http_requests: 3, brand_new_thing: 5, clients: Number.NaN };
    const m = new CollectorMetrics(() => stats);
    let fams = parseExposition(await m.text());
    expect(fams.get("vigil_collector_http_requests_total")!.value).toBe(3);
    expect(fams.get("vigil_collector_brand_new_thing_total")).toMatchObject({ type: "counter", value: 5 });
    expect(fams.get("vigil_collector_tail_clients")!.value).toBe(0);
    stats = { http_requests: 4, brand_new_thing: 6, clients: 2 };
    fams = parseExposition(await m.text());
    expect(fams.get("vigil_collector_http_requests_total")!.value).toBe(4);
    expect(fams.get("vigil_collector_brand_new_thing_total")!.value).toBe(6);
    expect(fams.get("vigil_collector_tail_clients")!.value).toBe(2);
  });

  it("a stats() that throws rejects that scrape only", async () => {
    let throwIt = true;
    const m = new CollectorMetrics(() => {
      if (throwIt) throw new Error("boom");
      return { http_requests: 1 };
    });
    await expect(m.text()).rejects.toThrow("boom");
    throwIt = false;
    expect(parseExposition(await m.text()).get("vigil_collector_http_requests_total")!.value).toBe(1);
  });
});
