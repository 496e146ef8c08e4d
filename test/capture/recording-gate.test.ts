// SPDX-License-Identifier: Apache-2.0
/**
 * The pipeline records events for audit captures only while a loaded rule has `capture: true`:
 * no rule could take a capture otherwise, and the ring write is a tenth of the per-event cost.
 * A reload that brings a capture rule in starts the recording (before the new rules run).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Pipeline, type SourceContext } from "../../agent/pipeline.js";
import { openat, proc } from "../rules/event-builder.js";

const rule = (capture: boolean) => `- rule: Shadow
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: shadow | file=%fd.name
  priority: WARNING
${capture ? "  capture: true\n" : ""}`;

describe("capture recording gate", () => {
  it("records nothing without a capture rule, and every event once a reload adds one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-rec-gate-"));
    const file = join(dir, "rules.yaml");
    writeFileSync(file, rule(false));
    let recorded = 0;
    let ctx: SourceContext | undefined;
    const p = new Pipeline({
      rulesFiles: [file],
      logger: pino({ level: "silent" }),
      sinks: [],
      statsIntervalSec: 0,
      record: () => recorded++,
      source: (c) => {
        ctx = c;
        return { name: "fake", start: async () => undefined, stop: async () => undefined, stats: () => ({}) };
      },
    });
    await p.start();
    const pr = proc({ comm: "cat" });
    for (let i = 0; i < 10; i++) ctx!.onEvent(openat("/etc/hostname", 0, pr));
    expect(recorded).toBe(0);
    expect(p.recordingCaptures).toBe(false);
    writeFileSync(file, rule(true));
    expect(await p.engine.reload()).toBe(true);
    expect(p.recordingCaptures).toBe(true);
    for (let i = 0; i < 10; i++) ctx!.onEvent(openat("/etc/hostname", 0, pr));
    expect(recorded).toBe(10);
    writeFileSync(file, rule(false));
    expect(await p.engine.reload()).toBe(true);
    ctx!.onEvent(openat("/etc/hostname", 0, pr));
    expect(recorded).toBe(10);
    await p.stop();
  });
});
