// SPDX-License-Identifier: Apache-2.0
/**
 * How many cases each property-based fuzz target runs. CI runs a small number per target
 * (`FUZZ_RUNS` unset); `npm run fuzz` sets `FUZZ_RUNS` to the long-run share of each target so
 * the whole run is at least a million cases (test/fuzz/RESULTS.md records the last one).
 */

/** Cases for one target: `ci` in the normal suite, `FUZZ_RUNS` × `weight` in a long run. */
export function fuzzRuns(ci: number, weight = 1): number {
  const env = process.env["FUZZ_RUNS"];
  if (env === undefined || env === "") return ci;
  const n = Number(env);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`FUZZ_RUNS must be a positive number, not ${JSON.stringify(env)}`);
  return Math.max(1, Math.round(n * weight));
}

/** Seed for reproducible runs (`FUZZ_SEED`), or undefined for a random one (printed on failure). */
export function fuzzSeed(): number | undefined {
  const s = process.env["FUZZ_SEED"];
  return s === undefined || s === "" ? undefined : Number(s);
}

/** A long run has no per-test timeout worth keeping. */
export function fuzzTimeoutMs(ciMs: number): number {
  const env = process.env["FUZZ_RUNS"];
  return env === undefined || env === "" ? ciMs : 24 * 3_600_000;
}
