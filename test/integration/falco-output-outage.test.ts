// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's http_output receiver dead for a minute while alerts flow (the real agent, the real kernel,
 * `--falco-config`): the file output goes on receiving each alert as it happens, and when the
 * receiver is back every alert queued meanwhile arrives, in order, none lost; the counters say so.
 */
import { rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, waitFor } from "../collector/helpers.js";
import { runChild, startAgent, type RunningAgent } from "../helpers/agent.js";
import { completeJsonLines } from "../helpers/json-lines.js";

/** How long the receiver stays down (the issue asks for a minute). */
const OUTAGE_MS = 60_000;
/** One attack every this often during the outage. */
const EVERY_MS = 2_000;

describe("http_output receiver down for a minute", () => {
  const dir = tempDir("vigil-outage-");
  let server: Server | undefined;
  let port = 0;
  const received: { pid: number; at: number }[] = [];
  let agent: RunningAgent;
  let metricsPort = 0;

  const listen = async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const a = JSON.parse(body) as { output_fields: Record<string, unknown>; rule: string };
        if (a.rule === "Dropin outage marker") received.push({ pid: Number(a.output_fields["proc.pid"]), at: Date.now() });
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(port, "127.0.0.1", r));
    port = (server!.address() as AddressInfo).port;
  };
  const down = async () => {
    server!.closeAllConnections();
    await new Promise((r) => server!.close(r));
  };

  beforeAll(async () => {
    await listen();
    writeFileSync(join(dir, "marker"), "x");
    writeFileSync(
      join(dir, "rules.yaml"),
      `- rule: Dropin outage marker\n  desc: test\n  condition: evt.type in (open, openat, openat2) and evt.dir = < and fd.name = "${dir}/marker"\n  output: marker read by %proc.name pid=%proc.pid\n  priority: WARNING\n`,
    );
    writeFileSync(
      join(dir, "falco.yaml"),
      `rules_files: [${dir}/rules.yaml]\nrules:\n  - disable: {rule: "*"}\n  - enable: {rule: Dropin outage marker}\njson_output: true\nstdout_output: {enabled: true}\nfile_output:\n  enabled: true\n  filename: ${dir}/events.txt\nhttp_output:\n  enabled: true\n  url: http://127.0.0.1:${port}/\n`,
    );
    // retries back off to 2 s at most, so the return is seen quickly
    writeFileSync(join(dir, "vigil.yaml"), "sinks:\n  http:\n    retry_max_ms: 2000\n");
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    metricsPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    agent = await startAgent(
      [
        "--falco-config",
        join(dir, "falco.yaml"),
        "--config",
        join(dir, "vigil.yaml"),
        "--no-containerd",
        "--stats-interval",
        "0",
        "--metrics-port",
        String(metricsPort),
      ],
      90_000,
      {},
      ["--no-embedded-collector", "--no-fim-scan"],
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    "delivers every alert queued during the outage, in order, while the file output never waits",
    async () => {
      const filePids = () =>
        completeJsonLines<{ output_fields: Record<string, unknown> }>(join(dir, "events.txt")).map((a) => Number(a.output_fields["proc.pid"]));
      const first = await runChild("cat", [join(dir, "marker")]);
      await waitFor(() => received.some((r) => r.pid === first.pid), 10_000, "the first alert over HTTP");
      await down();
      const during: number[] = [];
      const t0 = Date.now();
      while (Date.now() - t0 < OUTAGE_MS) {
        const { pid } = await runChild("cat", [join(dir, "marker")]);
        during.push(pid);
        // the file output has it at once, outage or not
        await waitFor(() => filePids().includes(pid), 5_000, `alert ${pid} in the file during the outage`);
        await new Promise((r) => setTimeout(r, EVERY_MS));
      }
      expect(during.length).toBeGreaterThanOrEqual(20);
      expect(received.filter((r) => during.includes(r.pid))).toEqual([]);
      const back = Date.now();
      await listen();
      await waitFor(() => during.every((p) => received.some((r) => r.pid === p)), 30_000, "every queued alert after the return");
      const order = received.map((r) => r.pid).filter((p) => during.includes(p));
      expect(order).toEqual(during);
      expect(received[received.length - 1]!.at - back).toBeLessThan(15_000);
      expect(filePids()).toEqual([first.pid, ...during]);
      // none lost, none dropped; the outage shows as retries
      const m = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(m).toMatch(/^vigil_http_output_dropped_total 0$/m);
      expect(Number(/^vigil_http_output_retried_total (\d+)/m.exec(m)?.[1])).toBeGreaterThan(0);
      expect(Number(/^vigil_http_output_sent_total (\d+)/m.exec(m)?.[1])).toBe(during.length + 1);
      expect(Number(/^vigil_file_output_sent_total (\d+)/m.exec(m)?.[1])).toBe(during.length + 1);
    },
    OUTAGE_MS + 90_000,
  );
});
