// SPDX-License-Identifier: Apache-2.0
/**
 * Property-based fuzzing of the collector's filters: the glob matcher agrees with a reference
 * (a memoized dynamic-programming matcher) on random patterns and values, and with SQLite's GLOB
 * as the query path compiles it, so the live tail and a query keep the same alerts; time bounds
 * and RFC 3339 times never throw anything but CollectorError, and a normalized time is a real
 * instant that normalizes to itself.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectorError } from "../../collector/errors.js";
import { alertKeys, compileFilter, compileStarGlob, normalizeFilter, parseTimeBound } from "../../collector/filter.js";
import { AlertStore } from "../../collector/store.js";
import { makeAlert } from "../collector/helpers.js";
import { fuzzRuns, fuzzSeed, fuzzTimeoutMs } from "./runs.js";
import { filterFromParams, normalizeTime, type Alert } from "../../proto/index.js";

const report = (target: string, runs: number) => {
  if (process.env["FUZZ_RUNS"]) console.log(`FUZZ ${target} cases=${runs} failures=0`);
};
const params = (runs: number) => {
  const seed = fuzzSeed();
  return { numRuns: runs, ...(seed !== undefined ? { seed } : {}), endOnFailure: true };
};

/** Reference: does `p` (only `*` special) match all of `s`? Memoized over (i, j): O(|p|·|s|). */
function referenceGlob(p: string, s: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (s.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === s.length;
    else if (p[i] === "*") r = go(i + 1, j) || (j < s.length && go(i, j + 1));
    else r = j < s.length && p[i] === s[j] && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

const small = (chars: string[], maxLength: number) => fc.array(fc.constantFrom(...chars), { maxLength }).map((a) => a.join(""));

describe("fuzz: filter globs", () => {
  it(
    "the glob matcher agrees with the reference matcher",
    () => {
      const runs = fuzzRuns(3000, 0.1);
      // few letters, many stars: the shapes where a greedy matcher would go wrong
      const pattern = fc.oneof(small(["a", "b", "*"], 12), small(["a", "b", "c", "*", "?", "["], 24), fc.string({ maxLength: 16 }));
      const value = fc.oneof(small(["a", "b"], 16), small(["a", "b", "c", "?", "["], 40), fc.string({ maxLength: 24 }));
      fc.assert(
        fc.property(pattern, fc.array(value, { minLength: 1, maxLength: 4 }), (p, vs) => {
          const m = compileStarGlob(p);
          for (const v of vs) expect(m(v), `${JSON.stringify(p)} on ${JSON.stringify(v)}`).toBe(referenceGlob(p, v));
          // a value the pattern spells out (stars as any text) always matches
          const built = p.replaceAll("*", vs[0]!);
          expect(m(built)).toBe(true);
        }),
        params(runs),
      );
      report("collector-glob", runs);
    },
    fuzzTimeoutMs(30_000),
  );

  describe("the tail's filter and the query's SQL keep the same alerts", () => {
    let store: AlertStore;
    const alerts: Alert[] = [];
    beforeAll(() => {
      store = new AlertStore({ dataDir: ":memory:" });
      const names = fc.sample(small(["a", "b", "[", "]", "?", "*", "\\", "%", "_"], 10), { numRuns: 200, seed: 42 });
      for (const [i, name] of names.entries())
        alerts.push(makeAlert({ rule: name === "" ? "x" : name, fields: { "k8s.pod.name": names[(i * 7) % names.length] || null } }));
      store.insert(alerts);
    });
    afterAll(() => store.close());

    it(
      "for random rule and pod patterns",
      () => {
        const runs = fuzzRuns(300, 0.02);
        const pat = small(["a", "b", "[", "]", "?", "*", "\\", "%", "_"], 8).filter((p) => p !== "");
        fc.assert(
          fc.property(fc.record({ rule: fc.option(pat, { nil: undefined }), pod: fc.option(pat, { nil: undefined }) }), (raw) => {
            const f = normalizeFilter(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
            const match = compileFilter(f);
            const want = alerts.filter((a) => match(a, alertKeys(a))).map((a) => a.id);
            const got = store.query(f, 10_000).map((s) => s.alert.id);
            expect(new Set(got)).toEqual(new Set(want));
          }),
          params(runs),
        );
        report("collector-filter-sql", runs);
      },
      fuzzTimeoutMs(60_000),
    );
  });
});

const ISO_OUT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

/** Date-shaped strings with random (often impossible) fields. */
const dateish = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.integer({ min: 0, max: 99 }),
    fc.option(fc.stringMatching(/^[0-9]{1,10}$/), { nil: undefined }),
    fc.oneof(
      fc.constant("Z"),
      fc.tuple(fc.constantFrom("+", "-"), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([s, h, m]) => `${s}${p2(h)}:${p2(m)}`),
    ),
  )
  .map(
    ([y, mo, d, h, mi, s, frac, off]) =>
      `${String(y).padStart(4, "0")}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(s)}${frac !== undefined ? `.${frac}` : ""}${off}`,
  );
function p2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Anything a `since`/`until` parameter may carry. */
const timeInput = fc.oneof(
  dateish,
  dateish.map((s) => s.slice(0, 10)),
  fc.tuple(fc.stringMatching(/^[0-9]{1,30}(\.[0-9]{1,12})?$/), fc.constantFrom("ms", "s", "m", "h", "d", "", "w", "D")).map(([n, u]) => `${n}${u}`),
  fc.stringMatching(/^-?[0-9]{1,16}$/),
  fc.constantFrom("NaN", "Infinity", "-0", "1e400d", "0x10d", "now", "", "T", "Z", "2024-02-30", "9999-12-31T23:59:60Z"),
  fc.string({ maxLength: 50 }),
  fc.string({ unit: "binary", maxLength: 60 }),
);

describe("fuzz: time bounds", () => {
  it(
    "parseTimeBound and normalizeTime never throw anything but CollectorError; a normalized time is a real, stable instant",
    () => {
      const runs = fuzzRuns(5000, 0.1);
      fc.assert(
        fc.property(timeInput, fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.integer({ min: 1000, max: 100 * 365 * 86_400_000 }), (v, now, maxBack) => {
          const t = normalizeTime(v);
          if (t !== undefined) {
            expect(t).toMatch(ISO_OUT);
            expect(normalizeTime(t)).toBe(t);
            expect(Number.isFinite(Date.parse(t))).toBe(true);
            // no roll-over: a UTC time without a leap second keeps its fields
            if (v.endsWith("Z") && v.slice(17, 19) !== "60") expect(t.slice(0, 19)).toBe(v.slice(0, 19));
          }
          let out: string | undefined;
          try {
            out = parseTimeBound(v, now, maxBack);
          } catch (err) {
            expect(err).toBeInstanceOf(CollectorError);
            expect((err as CollectorError).code).toBe("bad_filter");
          }
          if (out !== undefined) {
            expect(out).toMatch(ISO_OUT);
            expect(normalizeTime(out)).toBe(out);
          }
        }),
        params(runs),
      );
      report("collector-time", runs);
    },
    fuzzTimeoutMs(30_000),
  );

  it(
    "filters read from any query string normalize or fail with CollectorError, and then compile",
    () => {
      const runs = fuzzRuns(2000, 0.05);
      const key = fc.constantFrom("since", "until", "rule", "priority", "node", "namespace", "pod", "container", "image", "tag", "limit", "x");
      const val = fc.oneof(timeInput, fc.string({ maxLength: 30 }), fc.string({ maxLength: 2000 }), fc.constantFrom("warning", "*", "**", "a*b", ""));
      fc.assert(
        fc.property(fc.array(fc.tuple(key, val), { maxLength: 8 }), (pairs) => {
          const p = new URLSearchParams();
          for (const [k, v] of pairs) p.append(k, v);
          let f;
          try {
            f = normalizeFilter(filterFromParams(p));
          } catch (err) {
            expect(err).toBeInstanceOf(CollectorError);
            return;
          }
          const m = compileFilter(f);
          const a = makeAlert();
          expect(typeof m(a, alertKeys(a))).toBe("boolean");
        }),
        params(runs),
      );
      report("collector-filter-params", runs);
    },
    fuzzTimeoutMs(30_000),
  );
});
