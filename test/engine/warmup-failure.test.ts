// SPDX-License-Identifier: Apache-2.0
/** A failing JIT warm-up (an optimization only) is logged once and never stops the agent's start. */
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { Pipeline } from "../../agent/pipeline.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { captureLogger } from "../helpers/capture-logger.js";

vi.mock("../../agent/warmup.js", () => ({
  warmUp: async () => {
    throw new Error("synthetic frames broke");
  },
}));

describe("warm-up failure", () => {
  it("the pipeline starts, and says why it ran without the warm-up", async () => {
    const log = captureLogger("info");
    let started = false;
    const p = new Pipeline({
      rulesFiles: [join(REPO_ROOT, "..", "shared", "corpus", "falco", "falco_rules.yaml")],
      logger: log.logger,
      sinks: [],
      statsIntervalSec: 0,
      warmupEvents: 1000,
      source: () => ({ name: "fake", start: async () => void (started = true), stop: async () => undefined, stats: () => ({}) }),
    });
    await p.start();
    expect(started).toBe(true);
    const warn = log.withMsg("event path warm-up failed");
    expect(warn).toHaveLength(1);
    expect((warn[0]!["err"] as { message: string }).message).toBe("synthetic frames broke");
    expect(log.withMsg("event path warmed up")).toHaveLength(0);
    await p.stop();
  });
});
