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
  // Literal text the pattern starts and ends with: a value that lacks either cannot match, and
  // most values a rule sees are rejected by these two comparisons without running the matcher.
  let nPre = 0;
  while (!ci && nPre < n && (toks[nPre] as Token).t === T_LIT) nPre++;
  let nSuf = 0;
  while (!ci && nSuf < n - nPre && (toks[n - 1 - nSuf] as Token).t === T_LIT) nSuf++;
  const prefix = String.fromCharCode(...toks.slice(0, nPre).map((t) => t.c));
  const suffix = String.fromCharCode(...toks.slice(n - nSuf).map((t) => t.c));
  const minLen = prefix.length + suffix.length;
  const matchRange = (s: string, start: number, end: number): boolean => {
    if (minLen > 0 && (end - start < minLen || !s.startsWith(prefix, start) || !s.endsWith(suffix, end))) return false;
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
  const pats = paths.map((p) => compilePath(p));
  // Paths whose first component starts with a literal ASCII character are only tried on values
  // whose first component starts with that character; the others are tried on every value.
  const anyFirst = pats.filter((p) => p.first === -1);
  const byFirst: PathPattern[][] = [];
  for (let c = 0; c < 128; c++) byFirst.push([...pats.filter((p) => p.first === c), ...anyFirst]);
  return (s) => {
    const n = splitPath(s);
    const c = n > 0 ? s.charCodeAt(compStart[0] as number) : -1;
    const list = c >= 0 && c < 128 ? (byFirst[c] as PathPattern[]) : pats;
    for (let k = 0; k < list.length; k++) if (prefixMatch(list[k] as PathPattern, s, n)) return true;
    return false;
  };
}

interface PathPattern {
  /** One matcher per component. */
  comps: GlobMatcher[];
  /** The component's text when it has no wildcard (compared directly), else undefined. */
  lits: (string | undefined)[];
  /** First character of the first component when it is a literal ASCII character, else -1. */
  first: number;
}

function compilePath(p: string): PathPattern {
  const parts = p.split("/").filter((c) => c !== "");
  const lits = parts.map((c) => (tokenize(c, false).every((t) => t.t === T_LIT) && !c.includes("\\") ? c : undefined));
  const c0 = parts[0] === undefined ? -1 : parts[0].charCodeAt(0);
  return { comps: parts.map((c) => compileGlob(c)), lits, first: c0 >= 0 && c0 < 128 && lits[0] !== undefined ? c0 : -1 };
}

/** Most components of a value kept by {@link splitPath}; longer values are split again per check. */
const MAX_COMPS = 64;
// Components of the last value split: every pmatch check of one event usually asks about the same
// fd.name or path, so the value is scanned once, not once per path and per check.
const compStart = new Int32Array(MAX_COMPS);
const compEnd = new Int32Array(MAX_COMPS);
let splitText: string | undefined;
let splitCount = 0;

/** Splits `s` into its `/`-separated non-empty components (kept in compStart/compEnd); returns their count, capped at MAX_COMPS. */
function splitPath(s: string): number {
  if (s === splitText) return splitCount;
  let n = 0;
  let i = 0;
  const len = s.length;
  while (n < MAX_COMPS) {
    while (i < len && s.charCodeAt(i) === 47) i++;
    if (i >= len) break;
    let j = s.indexOf("/", i);
    if (j < 0) j = len;
    compStart[n] = i;
    compEnd[n] = j;
    n++;
    i = j;
  }
  splitText = s;
  splitCount = n;
  return n;
}

function prefixMatch(p: PathPattern, s: string, n: number): boolean {
  const comps = p.comps;
  const m = comps.length;
  if (m > n) return n === MAX_COMPS ? prefixMatchScan(comps, s) : false;
  for (let k = 0; k < m; k++) {
    const a = compStart[k] as number;
    const b = compEnd[k] as number;
    const lit = p.lits[k];
    if (lit !== undefined) {
      if (b - a !== lit.length || !s.startsWith(lit, a)) return false;
    } else if (!(comps[k] as GlobMatcher).matchRange(s, a, b)) return false;
  }
  return true;
}

/** The same match by scanning the value (for values with more than MAX_COMPS components). */
function prefixMatchScan(comps: readonly GlobMatcher[], s: string): boolean {
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
