// SPDX-License-Identifier: Apache-2.0
/**
 * The pipeline records events for audit captures only while a loaded rule has `capture: true`:
 * no rule could take a capture otherwise, and the ring write is a tenth of the per-event cost.
 * A reload that brings a capture rule in starts the recording (before the new rules run).
 */
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fakePipeline } from "../helpers/fake-pipeline.js";
import { openat, proc } from "../rules/event-builder.js";

const rule = (capture: boolean) => `- rule: Shadow
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: shadow | file=%fd.name
  priority: WARNING
${capture ? "  capture: true\n" : ""}`;

describe("capture recording gate", () => {
  it("records nothing without a capture rule, and every event once a reload adds one", async () => {
    let recorded = 0;
    const { p, file, feed } = await fakePipeline(rule(false), { record: () => recorded++ });
    const pr = proc({ comm: "cat" });
    for (let i = 0; i < 10; i++) feed(openat("/etc/hostname", 0, pr));
    expect(recorded).toBe(0);
    expect(p.recordingCaptures).toBe(false);
    writeFileSync(file, rule(true));
    expect(await p.engine.reload()).toBe(true);
    expect(p.recordingCaptures).toBe(true);
    for (let i = 0; i < 10; i++) feed(openat("/etc/hostname", 0, pr));
    expect(recorded).toBe(10);
    writeFileSync(file, rule(false));
    expect(await p.engine.reload()).toBe(true);
    feed(openat("/etc/hostname", 0, pr));
    expect(recorded).toBe(10);
    await p.stop();
  });
});
