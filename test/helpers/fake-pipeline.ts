// SPDX-License-Identifier: Apache-2.0
/**
 * The real Pipeline over one rules file (written to a temporary folder) and a source the test
 * feeds by hand: `feed(event)` is what a probe's event would do. No sinks, no stats timer, a silent
 * logger unless `extra` says otherwise; the caller stops it.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Pipeline, type PipelineOptions, type SourceContext } from "../../agent/pipeline.js";
import type { EventSource } from "../../agent/sources/types.js";
import type { SyscallEvent } from "../../rules/event.js";

export interface FakePipeline {
  p: Pipeline;
  /** The rules file: rewrite it and `p.engine.reload()` to change the rules. */
  file: string;
  feed: (e: SyscallEvent) => void;
  /** What the pipeline handed its source (syscall set, filters, onEvent). */
  context: () => SourceContext;
}

/** `source` adds to or replaces the fake source's methods (e.g. `setSyscalls`, to see reloads). */
export async function fakePipeline(rules: string, extra: Partial<PipelineOptions> = {}, source: Partial<EventSource> = {}): Promise<FakePipeline> {
  const file = join(mkdtempSync(join(tmpdir(), "vigil-pipeline-")), "rules.yaml");
  writeFileSync(file, rules);
  let ctx: SourceContext | undefined;
  const p = new Pipeline({
    rulesFiles: [file],
    logger: pino({ level: "silent" }),
    sinks: [],
    statsIntervalSec: 0,
    source: (c) => {
      ctx = c;
      return { name: "fake", start: async () => undefined, stop: async () => undefined, stats: () => ({}), ...source };
    },
    ...extra,
  });
  await p.start();
  const context = () => {
    if (ctx === undefined) throw new Error("the pipeline did not start its source");
    return ctx;
  };
  return { p, file, feed: (e) => context().onEvent(e), context };
}
