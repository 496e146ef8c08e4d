// SPDX-License-Identifier: Apache-2.0
/**
 * The real `vigil agent` applies the limits of its configuration to the servers it runs: the
 * embedded collector (`collector.limits`) and the metrics endpoint (`metrics.limits`).
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";

const running: RunningAgent[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const a of running) await a.stop();
});

const open = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
    sockets.push(s);
  });

describe("agent: configured server limits", () => {
  it("the embedded collector and the metrics endpoint run with the configured limits", async () => {
    const data = mkdtempSync(join(tmpdir(), "vigil-agent-limits-"));
    const sock = join(data, "trace.sock");
    const agent = await startAgent(
      [
        "--source",
        "ptrace",
        "--trace-socket",
        sock,
        "--no-containerd",
        "--stats-interval",
        "0",
        "--data",
        data,
        "--embedded-collector",
        "127.0.0.1:0",
        "--metrics-port",
        "0",
      ],
      60_000,
      { VIGIL_COLLECTOR_LIMITS_MAX_BODY_BYTES: "4096", VIGIL_METRICS_LIMITS_MAX_CONNECTIONS: "2", VIGIL_MEMORY_SAVER_QUIET_SECONDS: "1" },
      ["--no-fim-scan"],
    );
    running.push(agent);
    // the memory settings (memory.heap_growing_percent, memory.maglev) reached V8
    const ready = await agent.waitForLog((l) => l["msg"] === "vigil agent ready");
    expect(ready["v8_flags"]).toEqual(["--heap-growing-percent=25", "--no-maglev"]);
    const colLog = await agent.waitForLog((l) => l["msg"] === "embedded collector listening (vigil tail follows it)");
    const metricsLog = await agent.waitForLog((l) => l["msg"] === "metrics and health endpoint listening");
    const address = String(colLog["address"]);
    const port = Number(metricsLog["port"]);
    const token = readFileSync(join(data, "collector-token"), "utf8").trim();

    const post = (bytes: number) =>
      fetch(`http://${address}/api/v1/falco`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ output: "x".repeat(bytes), priority: "Warning", rule: "r", time: new Date().toISOString() }),
      });
    expect((await post(100)).status).toBe(200);
    expect((await post(8000)).status).toBe(413);

    // two connections fill metrics.limits.max_connections; a third is closed at once
    await open(port);
    await open(port);
    const third = await open(port);
    await new Promise<void>((resolve) => {
      if (third.destroyed) return resolve();
      third.on("close", () => resolve());
      setTimeout(resolve, 5000).unref();
    });
    expect(third.destroyed).toBe(true);
    for (const s of sockets.splice(0)) s.destroy();

    // the embedded collector's stats on the agent's /metrics: gauges as gauges, no name clash
    let text = "";
    for (let i = 0; i < 50 && text === ""; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      if (r?.ok === true) text = await r.text();
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(text).toMatch(/^# TYPE vigil_collector_clients gauge$/m);
    expect(text).toMatch(/^# TYPE vigil_collector_clients_total counter$/m);
    expect(text).toMatch(/^# TYPE vigil_collector_connections_open gauge$/m);
    // memory.saver (agent/memory-saver.ts) is started with the agent and says whether it is on
    expect(text).toMatch(/^# TYPE vigil_memory_saver_on gauge$/m);
    expect(text).toMatch(/^vigil_memory_saver_on [01]$/m);
    // memory.trim_code (agent/memory-trim.ts): the quiet agent handed its code pages back (the addon
    // loaded and the kernel took the advice)
    const trims = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      const m = r?.ok === true ? /^vigil_memory_code_trims_total (\d+)$/m.exec(await r.text()) : null;
      return m ? Number(m[1]) : 0;
    };
    for (let i = 0; i < 100 && (await trims()) === 0; i++) await new Promise((res) => setTimeout(res, 200));
    expect(await trims()).toBeGreaterThanOrEqual(1);
    const after = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(after).toMatch(/^vigil_memory_code_trim_failures_total 0$/m);
    expect(after).toMatch(/^# TYPE vigil_memory_code_trimmed_bytes gauge$/m);
    expect(agent.logs.map((l) => l["msg"])).not.toContain("memory.trim_code: no code-page trim on this agent");
  }, 90_000);
});
