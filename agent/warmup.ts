// SPDX-License-Identifier: Apache-2.0
/**
 * JIT warm-up of the event path. V8 optimizes a function only after it has run many times, and
 * compiles it on background threads: a freshly started agent runs its first thousands of events
 * in the interpreter and spends CPU compiling while the node is busy (on fork+exec, the first
 * 2,000 execs cost the agent twice the CPU of the next 2,000; BENCHMARKS.md). At start, synthetic
 * frames of every event type the rules need (decode/synthetic.ts) go through scratch event
 * assemblers (agent/assembler.ts, the sources' own decode → state path) and the loaded rule set, so
 * the code they share with the real path is optimized before the first real event. Nothing of the
 * run stays: the scratch assemblers and state are dropped, no match reaches a sink, and the rules'
 * match counters are reset.
 */
import type { RuleSet } from "../rules/index.js";
import { EventAssembler } from "./assembler.js";
import { framesPerProcess, syntheticFrames } from "./decode/synthetic.js";

export interface WarmupResult {
  /** Events run through decode, state and rules. */
  events: number;
  /** Rule matches seen (and discarded). */
  matches: number;
  /** Wall-clock time, the yields between slices included. */
  ms: number;
}

/** Bytes per slice (whole frames); the event loop runs between slices. */
const SLICE = 65536;
/** Bytes per push within a slice. */
const PUSH_SIZES = [4096, 1500, 16384, 777, 8192];

/**
 * Runs about `events` synthetic events of `types` through decode → state → `rs`, in slices with
 * the event loop free between them (the source starts meanwhile, and real events may already
 * flow). Each slice puts the rules' match and error counters back as they were.
 */
export async function warmUp(rs: RuleSet, types: readonly string[], events: number): Promise<WarmupResult> {
  const t0 = performance.now();
  const processes = Math.max(1, Math.ceil(events / framesPerProcess(types)));
  let n = 0;
  let matches = 0;
  const onMatch = (): void => {
    matches++;
  };
  // two assemblers on one state whose callbacks are different functions, taken in turn: the
  // assembler's call of its callback then already has more than one target, as it will with the
  // source's (no deopt then)
  const first = new EventAssembler({
    // no /proc reads and no passwd of a real process: this table describes no real process
    state: { readUnknownFromProc: false, procRoot: "/nonexistent/vigil-warmup", exitGraceMs: 0, max: 1024 },
    onEvent: (e) => {
      n++;
      rs.evaluate(e, onMatch);
    },
  });
  const state = first.state;
  const decoders = [
    first,
    new EventAssembler({
      sharedState: state,
      onEvent: (e) => {
        n++;
        rs.evaluate(e, onMatch);
      },
    }),
  ];
  const rules = rs.rules;
  const saved = new Float64Array(rules.length * 2);
  let k = 0;
  // slices of whole frames, each to one decoder in turn
  for (const slice of syntheticFrames(types, processes, SLICE)) {
    for (let i = 0; i < rules.length; i++) {
      saved[2 * i] = rules[i]!.matches;
      saved[2 * i + 1] = rules[i]!.evalErrors;
    }
    // pushes of several sizes, like pipe reads, so frames also arrive split across pushes
    const decoder = decoders[k++ & 1]!;
    for (let o = 0, j = 0; o < slice.length; j++) {
      const next = Math.min(slice.length, o + PUSH_SIZES[j % PUSH_SIZES.length]!);
      decoder.push(slice.subarray(o, next));
      o = next;
    }
    state.sweep(Date.now() + 60_000);
    for (let i = 0; i < rules.length; i++) {
      rules[i]!.matches = saved[2 * i]!;
      rules[i]!.evalErrors = saved[2 * i + 1]!;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { events: n, matches, ms: performance.now() - t0 };
}
