// SPDX-License-Identifier: Apache-2.0
/**
 * Audit captures end to end on the real kernel: the eBPF probe feeds the real pipeline, the
 * capture recorder records every event, a `capture: true` rule fires on `cat /etc/shadow`, the
 * capture (events before and after) travels with the alert through the spool and the collector
 * sink to a real collector, and replaying it re-raises the rule.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaptureRecorder } from "../../agent/capture/recorder.js";
import { captureOnAlert } from "../../agent/capture/on-alert.js";
import { decodeCapture, F } from "../../proto/index.js";
import { Pipeline } from "../../agent/pipeline.js";
import { createCollectorSink, type CollectorSink } from "../../agent/sinks/collector-sink.js";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { ReplaySource } from "../../agent/sources/replay.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { loadRuleFiles } from "../../rules/index.js";
import { quiet, tempDir, waitFor } from "../collector/helpers.js";
import type { Alert } from "../../proto/index.js";

const RULES = `
- rule: Shadow read with capture
  desc: test rule asking for an audit capture
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow and proc.name = cat
  output: shadow read by %proc.name (pid=%proc.pid container=%container.id)
  priority: WARNING
  capture: true
  capture_duration: 700
`;

describe("audit capture on the real kernel", () => {
  let col: RunningCollector;
  let sink: CollectorSink;
  let pipeline: Pipeline;
  const recorder = new CaptureRecorder({ perContainer: 2048, logger: quiet() });
  const alerts: Alert[] = [];
  const rulesFile = join(tempDir(), "capture-rules.yaml");

  beforeAll(async () => {
    writeFileSync(rulesFile, RULES);
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), logger: quiet() });
    sink = createCollectorSink({ address: col.address, spoolDir: tempDir(), logger: quiet() });
    pipeline = new Pipeline({
      rulesFiles: [rulesFile],
      ruleMatching: "all",
      logger: quiet(),
      sinks: [sink],
      statsIntervalSec: 0,
      source: (ctx) => {
        const s = new KernelEventStream({
          syscalls: ctx.syscalls,
          logger: ctx.logger,
          onEvent: (e) => {
            recorder.record(e);
            ctx.onEvent(e);
          },
        });
        return { name: "ebpf", start: () => s.start(), stop: () => s.stop(), stats: () => s.stats() };
      },
      onAlert: (a) => {
        alerts.push(a);
        onAlert(a);
      },
    });
    const onAlert = captureOnAlert({
      recorder,
      ship: (c) => sink.exportCapture(c),
      lookupRule: (name) => pipeline.engine.ruleset.rules.find((r) => r.name === name),
      logger: quiet(),
    });
    await pipeline.start();
  }, 90_000);

  afterAll(async () => {
    await pipeline?.stop();
    await col?.close();
  });

  it("ships the events before and after the alert with it, and the capture replays to the same rule", async () => {
    spawnSync("cat", ["/etc/hostname"]);
    const shadow = spawnSync("cat", ["/etc/shadow"], { stdio: "ignore" });
    expect(shadow.status).toBe(0);
    await waitFor(() => alerts.length > 0, 5000, "alert");
    spawnSync("cat", ["/etc/hostname"]);
    const a = alerts[0]!;
    expect(a.rule).toBe("Shadow read with capture");
    await waitFor(() => col.store.getCapture(a.id) !== undefined, 10_000, "capture stored at the collector");
    expect(col.store.seqOf(a.id)).toBeDefined();
    const stored = col.store.getCapture(a.id)!;
    const cap = await decodeCapture(stored.data);
    expect(cap.alertId).toBe(a.id);
    expect(cap.container.id).toBe("host");
    const name = (i: number) => cap.events[i]![F.args][2];
    const idx = cap.events.findIndex((e, i) => e[F.comm] === "cat" && name(i) === "/etc/shadow");
    expect(idx).toBeGreaterThanOrEqual(0);
    expect(idx).toBeLessThan(cap.alertIndex);
    // the earlier cat is before the alert, the later one after it
    const hostnames = cap.events.map((e, i) => (e[F.comm] === "cat" && name(i) === "/etc/hostname" ? i : -1)).filter((i) => i >= 0);
    expect(hostnames.some((i) => i < idx)).toBe(true);
    expect(hostnames.some((i) => i >= cap.alertIndex)).toBe(true);
    expect(stored.eventCount).toBe(cap.events.length);

    const rs = loadRuleFiles([{ path: rulesFile, text: RULES }]).ruleset;
    const fired: string[] = [];
    const replay = new ReplaySource(
      { data: stored.data },
      (e) => rs.evaluate(e, (r, ev) => fired.push(`${r.name}:${String(r.format(ev).fields["proc.pid"])}`)),
      quiet(),
    );
    await replay.start();
    expect(fired).toContain(`Shadow read with capture:${String(a.output_fields["proc.pid"])}`);
  });
});
