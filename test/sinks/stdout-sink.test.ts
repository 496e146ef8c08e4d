// SPDX-License-Identifier: Apache-2.0
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { StdoutSink, alertToTextLine } from "../../agent/sinks/stdout-sink.js";
import { FanoutSink } from "../../agent/sinks/fanout-sink.js";
import type { ExportResult, Sink } from "../../agent/sinks/types.js";
import type { Alert } from "../../proto/index.js";

const alert: Alert = {
  id: "0192f0a0-0000-7000-8000-000000000001",
  time: "2026-11-28T12:00:00.123456789Z",
  rule: "Read Shadow File",
  priority: "Warning",
  source: "syscall",
  hostname: "node-1",
  output: "2026-11-28T12:00:00.123456789Z: Warning Shadow password file opened (file=/etc/shadow)",
  output_fields: { "fd.name": "/etc/shadow", "proc.pid": 42, "k8s.ns.name": "prod", "k8s.pod.name": "web-1", "container.name": null },
  tags: ["T1003.008"],
};

function collect(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let buf = "";
  out.on("data", (d: Buffer) => (buf += d.toString()));
  return { out, text: () => buf };
}

describe("StdoutSink", () => {
  it("writes Falco-shaped JSON lines with typed fields", async () => {
    const c = collect();
    const s = new StdoutSink("json", c.out, false);
    expect(await s.export([alert, alert])).toEqual({ ok: true });
    const lines = c.text().trim().split("\n");
    expect(lines).toHaveLength(2);
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const k of ["time", "rule", "priority", "source", "hostname", "output", "output_fields", "tags"]) expect(o).toHaveProperty(k);
    expect((o["output_fields"] as Record<string, unknown>)["proc.pid"]).toBe(42);
    expect((o["output_fields"] as Record<string, unknown>)["container.name"]).toBeNull();
  });

  it("writes readable lines with pod and namespace, colored only when asked", () => {
    const plain = alertToTextLine(alert, false);
    expect(plain).toBe("12:00:00.123 Warning Read Shadow File (prod/web-1): Shadow password file opened (file=/etc/shadow)");
    expect(plain).not.toContain("\x1b[");
    expect(alertToTextLine(alert, true)).toContain("\x1b[93m");
    expect(alertToTextLine({ ...alert, blocked: true }, false)).toContain("[BLOCKED]");
  });
});

describe("FanoutSink", () => {
  it("keeps one sink's failure from the others", async () => {
    const got: Alert[] = [];
    const bad: Sink = {
      name: "bad",
      export: async () => {
        throw new Error("boom");
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const good: Sink = {
      name: "good",
      export: async (b): Promise<ExportResult> => {
        got.push(...b);
        return { ok: true };
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const f = new FanoutSink([bad, good]);
    const r = await f.export([alert]);
    expect(r.ok).toBe(false);
    expect(got).toHaveLength(1);
    expect(f.failures.get("bad")).toBe(1);
  });
});
