// SPDX-License-Identifier: Apache-2.0
/**
 * The metrics endpoint against real HTTP and real cgroups: a busy process in a container-named
 * cgroup (v2, plus a v1 memory cgroup on hybrid hosts) must show up with moving CPU and memory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics, startMetricsServer, type MetricsServer } from "../../agent/metrics/index.js";

const logger = pino({ level: "silent" });

function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith("{") || rest.startsWith(" "))) continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("metrics server", () => {
  const m = new Metrics({ cgroups: false });
  let ready = false;
  let srv: MetricsServer;
  let base: string;
  beforeAll(async () => {
    srv = await startMetricsServer({ port: 0, host: "127.0.0.1", logger, ready: () => ready, metrics: m });
    base = `http://127.0.0.1:${srv.port}`;
  });
  afterAll(async () => srv.close());

  it("answers /healthz, and /readyz follows readiness", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it.each([
    ["/nope", "GET", 404],
    ["/metrics/../../etc/passwd", "GET", 404],
    ["/metrics", "POST", 405],
    ["/healthz?x=1", "GET", 200],
  ])("%s %s → %i", async (path, method, status) => {
    expect((await fetch(`${base}${path}`, { method })).status).toBe(status);
  });

  it("a throwing readiness check is not ready, not a crash", async () => {
    const s2 = await startMetricsServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      ready: () => {
        throw new Error("boom");
      },
      metrics: m,
    });
    expect((await fetch(`http://127.0.0.1:${s2.port}/readyz`)).status).toBe(503);
    await s2.close();
  });

  it("a port in use is a clear LISTEN_FAILED error", async () => {
    await expect(startMetricsServer({ port: srv.port, host: "127.0.0.1", logger, ready: () => true, metrics: m })).rejects.toMatchObject({
      code: "LISTEN_FAILED",
    });
  });

  it("exposes every named metric with its labels, and counters move", async () => {
    const scrape = async () => {
      const r = await fetch(`${base}/metrics`);
      expect(r.headers.get("content-type")).toContain("text/plain");
      return r.text();
    };
    m.countEvent(4); // openat
    m.countEvent(1); // execve
    m.countEvent(4);
    m.countEvent(99_999); // out of range: ignored, no throw
    m.setKernelDrops(7);
    m.decodeErrors.inc({ kind: "truncated" });
    m.ruleEvaluations.inc(3);
    m.ruleEvalSeconds.observe(2e-6);
    m.alerts.inc({ rule: "Read sensitive file untrusted", priority: "Warning" });
    m.enrichCacheHits.inc({ cache: "container" });
    m.enrichCacheMisses.inc({ cache: "container" });
    m.spoolDepth.set(5);
    m.spoolOldestAge.set(12.5);
    m.senderRetries.inc({ reason: "unavailable" });

    const t1 = await scrape();
    expect(value(t1, "vigil_events_total", { type: "openat" })).toBe(2);
    expect(value(t1, "vigil_events_total", { type: "execve" })).toBe(1);
    expect(value(t1, "vigil_kernel_drops_total")).toBe(7);
    expect(value(t1, "vigil_decode_errors_total", { kind: "truncated" })).toBe(1);
    expect(value(t1, "vigil_rule_evaluations_total")).toBe(3);
    expect(value(t1, "vigil_rule_evaluation_seconds_count")).toBe(1);
    expect(value(t1, "vigil_rule_evaluation_seconds_bucket", { le: "0.0000025" })).toBe(1);
    expect(value(t1, "vigil_alerts_total", { rule: "Read sensitive file untrusted", priority: "Warning" })).toBe(1);
    expect(value(t1, "vigil_enrich_cache_hits_total", { cache: "container" })).toBe(1);
    expect(value(t1, "vigil_enrich_cache_misses_total", { cache: "container" })).toBe(1);
    expect(value(t1, "vigil_spool_depth")).toBe(5);
    expect(value(t1, "vigil_spool_oldest_age_seconds")).toBe(12.5);
    expect(value(t1, "vigil_sender_retries_total", { reason: "unavailable" })).toBe(1);
    for (const n of ["vigil_container_cpu_seconds_total", "vigil_container_memory_bytes", "vigil_spool_bytes"]) expect(t1).toContain(`# TYPE ${n}`);

    for (let i = 0; i < 10; i++) m.countEvent(4);
    m.setKernelDrops(9);
    const t2 = await scrape();
    expect(value(t2, "vigil_events_total", { type: "openat" })).toBe(12);
    expect(value(t2, "vigil_kernel_drops_total")).toBe(9);
  });

  it("hostile label values are escaped, not breaking the exposition", async () => {
    m.alerts.inc({ rule: 'evil"\n} 1\nvigil_fake 99', priority: "Critical" });
    const t = await (await fetch(`${base}/metrics`)).text();
    expect(t).not.toMatch(/^vigil_fake/m);
    expect(t).toContain('rule="evil\\"\\n} 1\\nvigil_fake 99"');
  });

  it("registerStats exports stage stats at scrape time: counters and gauges", async () => {
    const st = { frames: 0, queue_depth: 0, in_flight: 0, "weird key!": 1 };
    let calls = 0;
    m.registerStats(
      "decode",
      () => {
        calls++;
        return { ...st };
      },
      { gauges: ["in_flight"] },
    );
    expect(calls).toBe(0); // nothing per event, nothing until a scrape
    st.frames = 10;
    st.queue_depth = 4;
    st.in_flight = 2;
    let t = await (await fetch(`${base}/metrics`)).text();
    expect(calls).toBe(1);
    expect(t).toContain("# TYPE vigil_decode_frames_total counter");
    expect(value(t, "vigil_decode_frames_total")).toBe(10);
    expect(t).toContain("# TYPE vigil_decode_queue_depth gauge");
    expect(value(t, "vigil_decode_queue_depth")).toBe(4);
    expect(t).toContain("# TYPE vigil_decode_in_flight gauge");
    expect(value(t, "vigil_decode_weird_key_total")).toBe(1);
    st.frames = 25;
    st.queue_depth = 1;
    t = await (await fetch(`${base}/metrics`)).text();
    expect(value(t, "vigil_decode_frames_total")).toBe(25);
    expect(value(t, "vigil_decode_queue_depth")).toBe(1);

    m.registerStats("broken", () => {
      throw new Error("stage bug");
    });
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(m.counters.stats_failures).toBeGreaterThan(0);
    m.unregisterStats("broken");
    m.unregisterStats("decode");
    t = await (await fetch(`${base}/metrics`)).text();
    expect(t).not.toContain("vigil_decode_frames_total");
  });
});

describe("per-container CPU and memory from real cgroups", () => {
  const CG = "/sys/fs/cgroup";
  const v2 = existsSync(join(CG, "cgroup.controllers")) ? CG : join(CG, "unified");
  const id = randomBytes(32).toString("hex");
  const slice = join(v2, `vigil-test-${process.pid}.slice`);
  const scope = join(slice, `cri-containerd-${id}.scope`);
  const v1mem = existsSync(join(CG, "memory", "memory.usage_in_bytes")) ? join(CG, "memory", `vigil-test-${id.slice(0, 12)}`) : undefined;
  let busy: ChildProcess;
  let srv: MetricsServer;
  const m = new Metrics({ cgroups: { cgroupRoot: CG, rescanMs: 0 } });

  beforeAll(async () => {
    mkdirSync(scope, { recursive: true });
    if (v1mem) mkdirSync(v1mem);
    // a CPU-burning shell that first moves itself into the container cgroups and holds 4 MB
    const script = `echo $$ > ${scope}/cgroup.procs; ${v1mem ? `echo $$ > ${v1mem}/cgroup.procs;` : ""} x=$(head -c 4000000 /dev/zero | tr '\\0' a); while :; do :; done`;
    busy = spawn("sh", ["-c", script], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 300));
    srv = await startMetricsServer({ port: 0, host: "127.0.0.1", logger, ready: () => true, metrics: m });
  });
  afterAll(async () => {
    busy.kill("SIGKILL");
    await new Promise((r) => busy.once("exit", r));
    await srv.close();
    for (const d of [scope, slice, v1mem]) {
      if (!d) continue;
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(d);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  });

  it("reports the container's CPU rising and its memory", async () => {
    const short = id.slice(0, 12);
    const t1 = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
    const cpu1 = value(t1, "vigil_container_cpu_seconds_total", { container_id: short });
    const mem = value(t1, "vigil_container_memory_bytes", { container_id: short });
    expect(cpu1).toBeGreaterThan(0);
    expect(mem).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    const t2 = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
    const cpu2 = value(t2, "vigil_container_cpu_seconds_total", { container_id: short }) ?? 0;
    expect(cpu2).toBeGreaterThan((cpu1 ?? 0) + 0.1);
  });

  it("an external container source labels the series; unreadable cgroups are counted, not thrown", async () => {
    m.setContainerSource(() => [
      { id: id.slice(0, 12), path: scope.slice(v2.length), name: "miner", pod: "web-0", namespace: "shop" },
      { id: "000000000000", path: "/does/not/exist" },
    ]);
    const t = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
    expect(value(t, "vigil_container_cpu_seconds_total", { container_name: "miner", pod: "web-0", namespace: "shop" })).toBeGreaterThan(0);
    expect(value(t, "vigil_container_cpu_seconds_total", { container_id: "000000000000" })).toBeUndefined();
    m.setContainerSource(undefined);
  });
});
