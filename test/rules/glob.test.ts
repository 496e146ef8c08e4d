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
