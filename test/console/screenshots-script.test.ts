// SPDX-License-Identifier: Apache-2.0
/**
 * scripts/console-screenshots.mjs (the README's console screenshots) keeps working: run into a
 * temporary folder, it writes the six views (alerts, detail, trace, forwarders; alerts and trace
 * dark) as 1280×800 indexed PNGs under 150 KB each, and exits 0 (it waits for each view's content:
 * the timeline, the trace's triggering row, the forwarders' dead letters). Skipped only without
 * Chromium.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../collector/helpers.js";
import { CHROMIUM, noChromiumNote } from "../helpers/chromium.js";
import { REPO } from "../sinks/helpers/run-ts.js";

if (CHROMIUM === undefined) noChromiumNote("screenshots-script.test");

describe.skipIf(CHROMIUM === undefined)("scripts/console-screenshots.mjs", () => {
  it("writes the console's views as small 1280x800 PNGs", { timeout: 120_000 }, async () => {
    const out = join(tempDir("vigil-console-readme-shots-"), "png");
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [join(REPO, "scripts", "console-screenshots.mjs"), out], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      c.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
    expect(run.code, run.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["alerts-dark.png", "alerts.png", "detail.png", "forwarders.png", "trace-dark.png", "trace.png"]);
    for (const f of readdirSync(out)) {
      const png = readFileSync(join(out, f));
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
      expect(png.toString("latin1", 12, 16)).toBe("IHDR");
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 800]);
      // 8-bit indexed colour
      expect([png[24], png[25]]).toEqual([8, 3]);
      expect(png.length).toBeLessThan(150 * 1024);
    }
    // the usage line without a folder
    const bare = await new Promise<number | null>((resolve) =>
      spawn(process.execPath, [join(REPO, "scripts", "console-screenshots.mjs")], { cwd: REPO }).on("exit", resolve),
    );
    expect(bare).toBe(2);
  });
});
