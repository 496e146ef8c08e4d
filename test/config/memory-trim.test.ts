// SPDX-License-Identifier: Apache-2.0
/**
 * memory.trim_code (agent/memory-trim.ts, native-bridge/mem/vigil-mem.c): the addon hands this
 * very process's code pages back to the kernel (its resident file pages drop at once), refuses
 * what is not there with a clear reason, and the configuration key.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../agent/config/index.js";
import { CodeTrim, defaultTrimAddonPath, type TrimResult } from "../../agent/memory-trim.js";
import { REPO_ROOT as ROOT } from "../helpers/agent.js";

describe("CodeTrim", () => {
  it("the built addon gives a process's resident code pages back (RssFile drops by MiBs)", () => {
    // a node of its own (a copy of the executable): the kernel leaves alone the pages another
    // process maps too, and every vitest worker maps this one's; the agent in its image is alone
    const dir = mkdtempSync(join(tmpdir(), "vigil-trim-"));
    const node = join(dir, "node");
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    const script = `
      import { CodeTrim } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/agent/memory-trim.js")).href)};
      const t = CodeTrim.load();
      if (t instanceof Error) throw t;
      const r = t.trim();
      await new Promise((res) => setTimeout(res, 500));
      console.log(JSON.stringify({ r, stats: t.stats(), sum: [1, 2, 3].map((x) => x * 2) }));`;
    const out = spawnSync(node, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(out.stderr).toBe("");
    const { r, stats, sum } = JSON.parse(out.stdout) as { r: TrimResult; stats: ReturnType<CodeTrim["stats"]>; sum: number[] };
    expect(r.errno).toBe(0);
    expect(r.mappings).toBeGreaterThan(1);
    expect(r.rssFileBeforeKiB).toBeGreaterThan(10 * 1024);
    expect(r.rssFileBeforeKiB - r.rssFileAfterKiB).toBeGreaterThan(10 * 1024);
    expect(stats).toEqual({ code_trims: 1, code_trim_failures: 0, code_trimmed_bytes: (r.rssFileBeforeKiB - r.rssFileAfterKiB) * 1024 });
    // what still runs comes back, and the process goes on
    expect(sum).toEqual([2, 4, 6]);
  });

  it("lives beside vigil-probe in the native build", () => {
    expect(defaultTrimAddonPath()).toMatch(/\/native-bridge\/build\/vigil-mem\.node$/);
  });

  it("says why when the addon is missing or is not one", () => {
    const missing = CodeTrim.load("/nonexistent/vigil-mem.node");
    expect(missing).toBeInstanceOf(Error);
    expect((missing as Error).message).toContain("is not built (make -C native-bridge)");
    const dir = mkdtempSync(join(tmpdir(), "vigil-trim-"));
    const bogus = join(dir, "vigil-mem.node");
    writeFileSync(bogus, "not an ELF object\n");
    const bad = CodeTrim.load(bogus);
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toContain("did not load");
  });
});

describe("memory.trim_code", () => {
  it("is on by default, and off from the file or the environment", () => {
    expect(loadConfig({ env: {} }).memory.trim_code).toBe(true);
    expect(loadConfig({ text: "memory:\n  trim_code: false\n", env: {} }).memory.trim_code).toBe(false);
    expect(loadConfig({ env: { VIGIL_MEMORY_TRIM_CODE: "false" } }).memory.trim_code).toBe(false);
    expect(() => loadConfig({ text: "memory:\n  trim_code: sometimes\n", env: {} })).toThrow(/trim_code/);
  });
});
