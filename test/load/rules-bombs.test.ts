// SPDX-License-Identifier: Apache-2.0
/**
 * Expansion bombs against the rules compiler, through the built CLI in a child with a 256 MiB
 * heap (`node --max-old-space-size=256 dist/agent/cli/main.js rules check FILE`): each must end
 * within seconds with exit code 1 and an error at a `file:line:col` position, not run out of
 * memory or time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BOMBS } from "./bombs.js";
import { rulesCheck } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-bombs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the positioned error must say for each bomb. */
const EXPECTED: Record<string, RegExp> = {
  "macro doubling chain, 40 deep": /expansion exceeds \d+ nodes/,
  "macro tripling chain, 30 deep": /expansion exceeds \d+ nodes/,
  "list of lists, 40 deep": /expansion exceeds \d+ nodes/,
  "100,000 nested parentheses": /max depth/,
  "YAML alias tree, 10^9 items": /alias|expansion exceeds/i,
  "YAML anchored 20,000-item list aliased 500 times": /alias|expansion exceeds/i,
  "flat 300,000-item list (1.7 MiB file)": /larger than the limit of \d+ \(rules\.limits\.max_file_chars\)/,
};

describe("vigil rules check against expansion bombs (256 MiB heap)", () => {
  for (const [name, make] of Object.entries(BOMBS)) {
    it(`${name}: exits 1 within 10 s with a positioned error`, async () => {
      const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, "-")}.yaml`);
      writeFileSync(file, make());
      const r = await rulesCheck([file], { nodeArgs: ["--max-old-space-size=256"], timeoutMs: 30_000 });
      const ctx = `${name}: ${JSON.stringify({ code: r.code, signal: r.signal, ms: r.ms, rss: r.peakRssMiB, timedOut: r.timedOut })}\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`;
      expect(r.timedOut, ctx).toBe(false);
      expect(r.signal, ctx).toBeNull();
      expect(r.code, ctx).toBe(1);
      expect(r.ms, ctx).toBeLessThan(10_000);
      const errors = r.stdout.split("\n").filter((l) => l.startsWith(`${file}:`) && / error /.test(l));
      const positioned = errors.find((l) => new RegExp(`^${file.replace(/[.^$]/g, "\\$&")}:\\d+:\\d+: error `).test(l) && EXPECTED[name]!.test(l));
      expect(positioned, ctx).toBeDefined();
    }, 40_000);
  }
});
