// SPDX-License-Identifier: Apache-2.0
/**
 * Glob matching with fnmatch(3) semantics and no flags (what Falco's `glob` calls): `*` matches
 * any run of characters including `/`, `?` one character, `[...]` a class (`!` or `^` negates,
 * ranges `a-z`, `]` first is literal), `\` escapes the next character; an unterminated `[` is a
 * literal. Patterns compile once into a token array; matching is iterative with one backtrack
 * point (the last `*`), so it runs in O(n·m) worst case, never exponential, and allocates nothing.
 */

const T_LIT = 0;
const T_ANY = 1;
const T_STAR = 2;
const T_CLASS = 3;

interface Token {
  t: number;
  /** Literal char code (folded when case-insensitive). */
  c: number;
  /** Class ranges as [lo, hi, lo, hi, ...]. */
  ranges: number[];
  negate: boolean;
}

/** A compiled glob: `match(s)` for the whole string, `matchRange(s, a, b)` for `s[a..b)`. */
export interface GlobMatcher {
  match(s: string): boolean;
  matchRange(s: string, start: number, end: number): boolean;
}

function fold(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function tokenize(pat: string, ci: boolean): Token[] {
  const out: Token[] = [];
  const n = pat.length;
  let i = 0;
  while (i < n) {
    const c = pat.charCodeAt(i);
    if (c === 42) {
      // collapse runs of `*`
      if (out.length === 0 || (out[out.length - 1] as Token).t !== T_STAR) out.push({ t: T_STAR, c: 0, ranges: [], negate: false });
      i++;
    } else if (c === 63) {
      out.push({ t: T_ANY, c: 0, ranges: [], negate: false });
      i++;
    } else if (c === 91) {
      const cls = parseClass(pat, i + 1, ci);
      if (cls === undefined) {
        out.push({ t: T_LIT, c: 91, ranges: [], negate: false });
        i++;
      } else {
        out.push(cls.token);
        i = cls.next;
      }
    } else if (c === 92 && i + 1 < n) {
      const e = pat.charCodeAt(i + 1);
      out.push({ t: T_LIT, c: ci ? fold(e) : e, ranges: [], negate: false });
      i += 2;
    } else {
      out.push({ t: T_LIT, c: ci ? fold(c) : c, ranges: [], negate: false });
      i++;
    }
  }
  return out;
}

function parseClass(pat: string, start: number, ci: boolean): { token: Token; next: number } | undefined {
  let i = start;
  let negate = false;
  const c0 = pat.charCodeAt(i);
  if (c0 === 33 || c0 === 94) {
    negate = true;
    i++;
  }
  const ranges: number[] = [];
  let first = true;
  while (i < pat.length) {
    let c = pat.charCodeAt(i);
    if (c === 93 && !first) return { token: { t: T_CLASS, c: 0, ranges, negate }, next: i + 1 };
    first = false;
    if (c === 92 && i + 1 < pat.length) c = pat.charCodeAt(++i);
    let hi = c;
    if (pat.charCodeAt(i + 1) === 45 && i + 2 < pat.length && pat.charCodeAt(i + 2) !== 93) {
      hi = pat.charCodeAt(i + 2);
      if (hi === 92 && i + 3 < pat.length) {
        hi = pat.charCodeAt(i + 3);
        i++;
      }
      i += 2;
    }
    if (ci && c >= 65 && hi <= 90) ranges.push(c + 32, hi + 32);
    else if (ci && c >= 97 && hi <= 122) ranges.push(c, hi);
    else ranges.push(c, hi);
    i++;
  }
  return undefined;
}

function classMatch(tok: Token, c: number): boolean {
  const r = tok.ranges;
  let hit = false;
  for (let k = 0; k < r.length; k += 2) {
    if (c >= (r[k] as number) && c <= (r[k + 1] as number)) {
      hit = true;
      break;
    }
  }
  return hit !== tok.negate;
}

/** Compiles a glob; `caseInsensitive` gives `iglob` (ASCII case folding). */
export function compileGlob(pattern: string, caseInsensitive = false): GlobMatcher {
  const toks = tokenize(pattern, caseInsensitive);
  const n = toks.length;
  const ci = caseInsensitive;
  const onlyLits = toks.every((t) => t.t === T_LIT);
  if (onlyLits && !ci) {
    const lit = String.fromCharCode(...toks.map((t) => t.c));
    return {
      match: (s) => s === lit,
      matchRange: (s, a, b) => b - a === lit.length && s.startsWith(lit, a),
    };
  }
  const matchRange = (s: string, start: number, end: number): boolean => {
    let pi = 0;
    let si = start;
    let starPi = -1;
    let starSi = 0;
    while (si < end) {
      if (pi < n) {
        const tok = toks[pi] as Token;
        if (tok.t === T_STAR) {
          starPi = pi++;
          starSi = si;
          continue;
        }
        let c = s.charCodeAt(si);
        if (ci) c = fold(c);
        if (tok.t === T_ANY || (tok.t === T_LIT && tok.c === c) || (tok.t === T_CLASS && classMatch(tok, c))) {
          pi++;
          si++;
          continue;
        }
      }
      if (starPi >= 0) {
        pi = starPi + 1;
        si = ++starSi;
        continue;
      }
      return false;
    }
    while (pi < n && (toks[pi] as Token).t === T_STAR) pi++;
    return pi === n;
  };
  return { match: (s) => matchRange(s, 0, s.length), matchRange };
}

/**
 * Path-prefix matcher for `pmatch`: a value matches when one of the paths is a prefix of it on
 * `/` boundaries (`/var/run` matches `/var/run/docker`, not `/var/runx`). Path components may hold
 * glob wildcards, which never cross `/`.
 */
export function compilePathPrefixes(paths: readonly string[]): (s: string) => boolean {
  const pats = paths.map((p) => p.split("/").filter((c) => c !== "").map((c) => compileGlob(c)));
  return (s) => {
    for (let k = 0; k < pats.length; k++) if (prefixMatch(pats[k] as GlobMatcher[], s)) return true;
    return false;
  };
}

function prefixMatch(comps: readonly GlobMatcher[], s: string): boolean {
  let i = 0;
  const n = s.length;
  for (let k = 0; k < comps.length; k++) {
    while (i < n && s.charCodeAt(i) === 47) i++;
    if (i >= n) return false;
    let j = s.indexOf("/", i);
    if (j < 0) j = n;
    if (!(comps[k] as GlobMatcher).matchRange(s, i, j)) return false;
    i = j;
  }
  return true;
}
