// SPDX-License-Identifier: Apache-2.0
/**
 * Rules files that expand exponentially or nest without end, for the expansion-budget load tests
 * (rules-bombs.test.ts) and the attack figures (test/bench/attack-figures.mjs). Each is small
 * on disk; expanded naively it would need 2^depth nodes or more.
 */

const rule = (name: string, condition: string) =>
  `- rule: ${name}\n  desc: expansion bomb\n  condition: ${condition}\n  output: bomb (proc.name=%proc.name)\n  priority: WARNING\n`;

/** `m<i>` refers `fan` times to `m<i-1>`: fan^depth leaves. */
export function macroChain(depth = 40, fan = 2): string {
  let s = "- macro: m0\n  condition: proc.name = a\n";
  for (let i = 1; i <= depth; i++) s += `- macro: m${i}\n  condition: (${Array.from({ length: fan }, () => `m${i - 1}`).join(" or ")})\n`;
  return s + rule("macro bomb", `evt.type = execve and m${depth}`);
}

/** `l<i>` lists `l<i-1>` twice: 2^(depth+1) items. */
export function listOfLists(depth = 40): string {
  let s = "- list: l0\n  items: [a, b]\n";
  for (let i = 1; i <= depth; i++) s += `- list: l${i}\n  items: [l${i - 1}, l${i - 1}]\n`;
  return s + rule("list bomb", `evt.type = execve and proc.name in (l${depth})`);
}

/** A condition nested `depth` parentheses deep (Falco's regression case is 100,000). */
export function deepParens(depth = 100_000): string {
  return rule("paren bomb", `${"(".repeat(depth)}proc.name = a${")".repeat(depth)}`);
}

/** YAML aliases: each anchored list holds ten aliases of the previous one (10^depth items). */
export function yamlAliases(depth = 9): string {
  let s = `- list: base\n  items: &a0 [x, x, x, x, x, x, x, x, x, x]\n`;
  for (let i = 1; i <= depth; i++) s += `- list: a${i}\n  items: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ")}]\n`;
  return s + rule("alias bomb", `evt.type = execve and proc.name in (a${depth})`);
}

/** One anchored list of `items` items and `aliases` lists that are each an alias of it (items × aliases entries; few aliases, so the YAML library's alias-count guard does not see it). */
export function yamlAnchoredList(items = 20_000, aliases = 500): string {
  let s = `- list: big\n  items: &big [${Array.from({ length: items }, (_, i) => `x${i % 1000}`).join(", ")}]\n`;
  for (let i = 0; i < aliases; i++) s += `- list: c${i}\n  items: *big\n`;
  return s + rule("anchor bomb", `evt.type = execve and proc.name in (c${aliases - 1})`);
}

/** Every bomb by name. */
export const BOMBS: Record<string, () => string> = {
  "macro doubling chain, 40 deep": () => macroChain(40, 2),
  "macro tripling chain, 30 deep": () => macroChain(30, 3),
  "list of lists, 40 deep": () => listOfLists(40),
  "100,000 nested parentheses": () => deepParens(100_000),
  "YAML alias tree, 10^9 items": () => yamlAliases(9),
  "YAML anchored 20,000-item list aliased 500 times": () => yamlAnchoredList(20_000, 500),
  "flat 300,000-item list (1.7 MiB file)": () => flatList(300_000),
};

/** One flat list of `items` items, no alias: a large file rather than an expansion (about 5.9 bytes per item). */
export function flatList(items = 300_000): string {
  return (
    `- list: big\n  items: [${Array.from({ length: items }, (_, i) => `x${i % 1000}`).join(", ")}]\n` +
    rule("flat list", "evt.type = execve and proc.name in (big)")
  );
}

/** Inputs measured by the figures script only (not bombs: their cost is the file's own size). */
export const LARGE_FILES: Record<string, () => string> = {
  "flat 180,000-item list (1.0 MiB file)": () => flatList(180_000),
  "flat 300,000-item list (1.7 MiB file)": () => flatList(300_000),
};
