// SPDX-License-Identifier: Apache-2.0
/**
 * The JIT warm-up at start: synthetic events of the rules' types go through decode, a scratch
 * process table and the loaded rules, leave the rules' counters as they were, and leave the event
 * path optimized by V8 before the first real event.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { RuleEngine } from "../../agent/engine/rule-engine.js";
import { Pipeline, syscallsFor, type SourceContext } from "../../agent/pipeline.js";
import { warmUp } from "../../agent/warmup.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { openat, proc } from "../rules/event-builder.js";

const FALCO_RULES = join(REPO_ROOT, "..", "shared", "corpus", "falco", "falco_rules.yaml");

describe("warmUp", () => {
  it("runs about the asked number of events through the rules and puts their counters back", async () => {
    const rs = new RuleEngine({ files: [FALCO_RULES], logger: pino({ level: "silent" }) }).load();
    rs.rules[0]!.matches = 5;
    rs.rules[1]!.evalErrors = 2;
    const r = await warmUp(rs, syscallsFor(rs), 5000);
    expect(r.events).toBeGreaterThanOrEqual(5000);
    expect(r.events).toBeLessThan(5000 + 100);
    // some synthetic events match (a shell started, a file written below /etc...), none counts
    expect(r.matches).toBeGreaterThan(0);
    expect(rs.rules[0]!.matches).toBe(5);
    expect(rs.rules[1]!.evalErrors).toBe(2);
    expect(rs.rules.slice(2).every((x) => x.matches === 0 && x.evalErrors === 0)).toBe(true);
  });

  it("leaves the framer, decoder, state and rule set optimized (V8 natives, built agent)", () => {
    // a child node with V8's natives syntax: the status of functions on the event path after the
    // warm-up. Compiled: past the interpreter (Sparkplug baseline, bit 1 << 15, or TurboFan, 1 << 6;
    // a function TurboFan compiled and a late rare path deoptimized stays baseline). Without the
    // warm-up they never ran (lazy, not even bytecode).
    const script = `
      import { pino } from "pino";
      import { RuleEngine } from "./dist/agent/engine/rule-engine.js";
      import { syscallsFor } from "./dist/agent/pipeline.js";
      import { warmUp } from "./dist/agent/warmup.js";
      import { EventState } from "./dist/agent/state/index.js";
      import { FrameDecoder, FrameReader } from "./dist/agent/decode/index.js";
      const rs = new RuleEngine({ files: [${JSON.stringify(FALCO_RULES)}], logger: pino({ level: "silent" }) }).load();
      const n = Number(process.argv.at(-1));
      if (n > 0) await warmUp(rs, syscallsFor(rs), n);
      const fns = { scan: FrameReader.prototype.scan, header: FrameDecoder.prototype.header, build: EventState.prototype.build, evaluate: rs.evaluate };
      const compiled = {};
      const turbofan = {};
      // concurrent TurboFan jobs are installed by the main thread: give them a moment
      for (let i = 0; i < 100; i++) {
        for (const [k, f] of Object.entries(fns)) {
          const st = %GetOptimizationStatus(f);
          compiled[k] = (st & ((1 << 15) | (1 << 6))) !== 0;
          turbofan[k] = (st & (1 << 6)) !== 0;
        }
        if (Object.values(turbofan).every(Boolean)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      console.log(JSON.stringify({ compiled, turbofan: Object.values(turbofan).filter(Boolean).length }));`;
    const run = (n: number) => {
      const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", script, String(n)], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim()) as { compiled: Record<string, boolean>; turbofan: number };
    };
    const warm = run(20_000);
    expect(warm.compiled).toEqual({ scan: true, header: true, build: true, evaluate: true });
    // most of them optimized (all four in every run here but one, where a late path deoptimized one)
    expect(warm.turbofan).toBeGreaterThanOrEqual(2);
    expect(run(0)).toEqual({ compiled: { scan: false, header: false, build: false, evaluate: false }, turbofan: 0 });
  });

  it("runs in the pipeline's start, before it resolves, and leaves real matches alone", async () => {
    const log = captureLogger("info");
    let ctx: SourceContext | undefined;
    let recorded = 0;
    const p = new Pipeline({
      rulesFiles: [FALCO_RULES],
      logger: log.logger,
      sinks: [],
      statsIntervalSec: 0,
      record: () => recorded++,
      warmupEvents: 3000,
      source: (c) => {
        ctx = c;
        // a real event while the warm-up runs (the source starts meanwhile)
        return {
          name: "fake",
          start: async () => void c.onEvent(openat("/etc/shadow", 0, proc({ comm: "cat" }))),
          stop: async () => undefined,
          stats: () => ({}),
        };
      },
    });
    await p.start();
    const done = log.withMsg("event path warmed up");
    expect(done).toHaveLength(1);
    expect((done[0]!["warmup"] as { events: number }).events).toBeGreaterThanOrEqual(3000);
    // the one real event counted, its match kept; the warm-up's events reached neither
    expect(p.counters.events).toBe(1);
    expect(recorded).toBe(0);
    const matched = p.engine.ruleset.rules.filter((r) => r.matches > 0).map((r) => [r.name, r.matches]);
    expect(matched).toEqual([["Read sensitive file untrusted", 1]]);
    expect(ctx).toBeDefined();
    await p.stop();
  });
});
