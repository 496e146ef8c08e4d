// SPDX-License-Identifier: Apache-2.0
/**
 * The configured node name (`hostname:` in the config file, or VIGIL_HOSTNAME) reaches every
 * place that reports it: `evt.hostname` in rule conditions and outputs, the alert's `hostname`,
 * and the agent name the collector client sends with each push. Runs the real config loader,
 * Pipeline, RuleEngine and alert builder, and the real collector sink against a gRPC Ingest
 * server on loopback that records what it is sent.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname as osHostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { resolveHostname } from "../../agent/cli/agent-cmd.js";
import { loadConfig } from "../../agent/config/index.js";
import { Pipeline, type SourceContext } from "../../agent/pipeline.js";
import { createCollectorSink } from "../../agent/sinks/collector-sink.js";
import type { ExportResult, Sink } from "../../agent/sinks/types.js";
import { makeAlert, quiet, waitFor } from "../collector/helpers.js";
import { execve, proc } from "../rules/event-builder.js";
import { INGEST_SERVICE, vigilProto, type Alert } from "../../proto/index.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-hostname-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULES = `- rule: Shell on node
  desc: d
  condition: evt.type = execve and proc.name = sh and evt.hostname = my-node
  output: "shell on %evt.hostname (proc=%proc.name)"
  priority: WARNING
`;

class MemorySink implements Sink {
  readonly name = "memory";
  readonly alerts: Alert[] = [];
  async export(batch: readonly Alert[]): Promise<ExportResult> {
    this.alerts.push(...batch);
    return { ok: true };
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Runs one shell exec through a real pipeline built with `hostname`; returns the alerts. */
async function alertsOf(hostname: string): Promise<Alert[]> {
  const rules = join(dir, "rules.yaml");
  writeFileSync(rules, RULES);
  const sink = new MemorySink();
  let ctx: SourceContext | undefined;
  const p = new Pipeline({
    rulesFiles: [rules],
    hostname,
    logger: quiet(),
    sinks: [sink],
    statsIntervalSec: 0,
    source: (c) => {
      ctx = c;
      return { name: "test", start: async () => undefined, stop: async () => undefined, stats: () => ({}) };
    },
  });
  await p.start();
  try {
    ctx?.onEvent(execve(proc({ comm: "sh" })));
    await waitFor(() => p.counters.events > 0, 5000, "event seen");
  } finally {
    await p.stop(); // flushes the queued alerts to the sinks
  }
  return sink.alerts;
}

describe("configured host name", () => {
  it("`hostname: my-node` in the config file reaches evt.hostname and the alert", async () => {
    const file = join(dir, "vigil.yaml");
    writeFileSync(file, "hostname: my-node\n");
    const cfg = loadConfig({ file, env: {} });
    // the configured name wins over NODE_NAME (which used to take precedence through the environment)
    const host = resolveHostname(cfg.hostname, { NODE_NAME: "other-node" });
    expect(host).toBe("my-node");
    const alerts = await alertsOf(host);
    expect(alerts).toHaveLength(1);
    const a = alerts[0] as Alert;
    expect(a.hostname).toBe("my-node");
    expect(a.output_fields["evt.hostname"]).toBe("my-node");
    expect(a.output).toContain("shell on my-node (proc=sh)");
  });

  it("another name does not match a condition on evt.hostname", async () => {
    expect(await alertsOf("elsewhere")).toEqual([]);
  });

  it("VIGIL_HOSTNAME sets it; NODE_NAME, then os.hostname(), when none is configured", () => {
    expect(resolveHostname(loadConfig({ env: { VIGIL_HOSTNAME: "env-node" } }).hostname, { NODE_NAME: "n" })).toBe("env-node");
    expect(resolveHostname(loadConfig({ env: {} }).hostname, { NODE_NAME: "node-from-downward-api" })).toBe("node-from-downward-api");
    expect(resolveHostname("", {})).toBe(osHostname());
  });

  it("the collector sink reports the configured name as its agent", async () => {
    const agents: string[] = [];
    const server = new Server();
    server.addService(INGEST_SERVICE, {
      Push: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        const { PushRequest, PushResponse } = vigilProto();
        const req = PushRequest.toObject(PushRequest.decode(call.request), { arrays: true }) as { agent: string; alerts: { id: string }[] };
        agents.push(req.agent);
        cb(null, Buffer.from(PushResponse.encode({ acked_ids: req.alerts.map((x) => x.id) }).finish()));
      },
    });
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))),
    );
    const sink = createCollectorSink({ address: `127.0.0.1:${port}`, spoolDir: join(dir, "spool"), hostname: "my-node", logger: quiet(), backoffMinMs: 20 });
    try {
      expect(await sink.export([makeAlert({ hostname: "my-node" })])).toEqual({ ok: true });
      await waitFor(() => agents.length > 0, 10_000, "a push");
      expect(agents[0]).toBe("my-node");
    } finally {
      await sink.shutdown();
      server.forceShutdown();
    }
  });
});
