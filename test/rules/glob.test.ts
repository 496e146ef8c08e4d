// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { compileGlob, compilePathPrefixes } from "../../rules/compile/glob.js";

// fnmatch(pattern, string, 0) facts (glibc): `*` and `?` match `/`.
const CASES: [string, string, boolean][] = [
  ["/var/*", "/var/run/file.txt", true],
  ["/var/*", "/var/", true],
  ["/var/*", "/var", false],
  ["*", "", true],
  ["*", "anything/at/all", true],
  ["", "", true],
  ["", "a", false],
  ["a?c", "abc", true],
  ["a?c", "a/c", true],
  ["a?c", "ac", false],
  ["/home/*/.ssh/*", "/home/bob/.ssh/id_rsa", true],
  ["/home/*/.ssh/*", "/home/bob/x/.ssh/id_rsa", true],
  ["/home/*/.ssh/*", "/root/.ssh/id_rsa", false],
  ["*../*../*", "/a/../../etc/passwd", true],
  ["*../*../*", "/a/../etc/passwd", false],
  ["[abc]x", "bx", true],
  ["[abc]x", "dx", false],
  ["[!abc]x", "dx", true],
  ["[^abc]x", "ax", false],
  ["[a-c]x", "bx", true],
  ["[a-c]x", "Bx", false],
  ["[]]x", "]x", true],
  ["[!]]x", "ax", true],
  ["[x", "[x", true],
  ["\\*", "*", true],
  ["\\*", "a", false],
  ["a\\?", "a?", true],
  ["**a**b**", "xxaxxbxx", true],
  ["*a*b", "ab", true],
  ["*a*b", "ba", false],
  ["a*a*a*a*a*a*a*a*b", "a".repeat(40), false],
];

describe("glob (fnmatch, no flags)", () => {
  it.each(CASES)("%j ~ %j → %s", (p, s, want) => {
    expect(compileGlob(p).match(s)).toBe(want);
  });
  it("iglob folds ASCII case", () => {
    expect(compileGlob("/etc/*.PEM".toLowerCase(), true).match("/ETC/KEY.pem")).toBe(true);
    expect(compileGlob("[a-c]x", true).match("BX")).toBe(true);
  });
  it("pathological patterns run in polynomial time", () => {
    const t0 = performance.now();
    expect(compileGlob("*a".repeat(30) + "b").match("a".repeat(5000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("pmatch (path prefixes)", () => {
  const m = compilePathPrefixes(["/var/run", "/etc/*.d", "/opt/app/"]);
  it.each([
    ["/var/run", true],
    ["/var/run/docker.sock", true],
    ["/var/runx", false],
    ["/var", false],
    ["/etc/cron.d/job", true],
    ["/etc/cron.daily/job", false],
    ["/etc/x/y.d", false],
    ["/opt/app", true],
    ["/opt/app/bin/x", true],
    ["/opt/apps", false],
    ["relative/var/run", false],
  ] as [string, boolean][])("%s → %s", (s, want) => {
    expect(m(s)).toBe(want);
  });
});

/** Reference pmatch: the component-by-component scan, with no bucketing or shared split. */
function refPmatch(paths: readonly string[], s: string): boolean {
  return paths.some((p) => {
    const comps = p
      .split("/")
      .filter((c) => c !== "")
      .map((c) => compileGlob(c));
    let i = 0;
    for (const g of comps) {
      while (i < s.length && s.charCodeAt(i) === 47) i++;
      if (i >= s.length) return false;
      let j = s.indexOf("/", i);
      if (j < 0) j = s.length;
      if (!g.matchRange(s, i, j)) return false;
      i = j;
    }
    return true;
  });
}

describe("glob literal prefix/suffix pre-checks", () => {
  it.each([
    ["/host/var/*", "/host/var/x", true],
    ["/host/var/*", "/host/va", false],
    ["/proc/*/environ", "/proc/1/environ", true],
    ["/proc/*/environ", "/proc/environ", false],
    ["/proc/*/environ", "/proc//environ", true],
    ["/proc/*/environ", "/proc/1/environx", false],
    ["ab*ba", "aba", false],
    ["ab*ba", "abba", true],
    ["a?*?z", "a12z", true],
  ] as [string, string, boolean][])("%j ~ %j → %s", (p, s, want) => {
    expect(compileGlob(p).match(s)).toBe(want);
  });
  it("matchRange applies the pre-checks inside the range only", () => {
    const g = compileGlob("ab*yz");
    expect(g.matchRange("xxab--yzxx", 2, 8)).toBe(true);
    expect(g.matchRange("xxab--yzxx", 2, 9)).toBe(false);
    // the suffix must not be found before the range's start
    expect(g.matchRange("abyz", 1, 4)).toBe(false);
    expect(g.matchRange("abyz", 0, 3)).toBe(false);
  });
});

describe("pmatch agrees with the plain component scan", () => {
  const PATHS = ["/var/run", "/etc/*.d", "/opt/app/", "/e*/x", "/", "/ünï/code", "/usr/lib/python*"];
  const deep = "/" + Array.from({ length: 70 }, (_, i) => `d${i}`).join("/");
  const VALUES = [
    "/var/run",
    "//var//run/x",
    "var/run",
    "/var",
    "",
    "/",
    "///",
    "/etc/cron.d/a",
    "/etc/x",
    "/ea/x/y",
    "/ünï/code/x",
    "/ünï/cod",
    "/usr/lib/python3.11/site.py",
    "/usr/lib/pyth",
    deep,
    deep + "/x",
  ];
  it.each(VALUES)("%j", (s) => {
    for (const paths of [PATHS, PATHS.slice(0, 3), ["/"], [deep.slice(0, 40)], [deep], [deep + "/x/y"]]) {
      expect(compilePathPrefixes(paths)(s)).toBe(refPmatch(paths, s));
    }
  });
  it("matchers sharing the split of the last value stay independent", () => {
    const a = compilePathPrefixes(["/etc"]);
    const b = compilePathPrefixes(["/var/lib"]);
    for (let k = 0; k < 3; k++) {
      expect(a("/etc/passwd")).toBe(true);
      expect(b("/etc/passwd")).toBe(false);
      expect(b("/var/lib/x")).toBe(true);
      expect(a("/var/lib/x")).toBe(false);
    }
  });
});
