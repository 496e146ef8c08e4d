// SPDX-License-Identifier: Apache-2.0
/**
 * The layering rules of .dependency-cruiser.cjs and the run-time rule of
 * .dependency-cruiser-runtime.cjs hold for the source tree (beyond the recorded known
 * violations), so the suite enforces them even where `npm run lint` is not run; and the rules do
 * fire on a tree that breaks them.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEPCRUISE = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");

interface Violation {
  from: string;
  to: string;
  via?: { name: string }[];
  rule: { name: string; severity: string };
}

/** Runs dependency-cruiser in `cwd` and returns the violations it reports. */
function cruise(cwd: string, extra: string[] = [], config = ".dependency-cruiser.cjs"): Violation[] {
  let out: string;
  try {
    out = execFileSync(process.execPath, [DEPCRUISE, "proto", "agent", "collector", "rules", "--config", config, "--output-type", "json", ...extra], {
      cwd,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch (err) {
    // exit code = number of errors; the JSON is still on stdout
    out = (err as { stdout?: string }).stdout ?? "";
    if (out === "") throw err;
  }
  const r = JSON.parse(out) as { summary: { violations: Violation[] } };
  return r.summary.violations.filter((v) => v.rule.severity !== "ignore");
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("layering", () => {
  it("the source tree breaks no dependency rule", () => {
    const v = cruise(ROOT);
    expect(v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`)).toEqual([]);
  }, 60_000);

  it("vigil agent's run-time graph reaches no zod", () => {
    const v = cruise(ROOT, [], ".dependency-cruiser-runtime.cjs");
    expect(v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`)).toEqual([]);
  }, 60_000);

  it("the run-time rule fires on a value import reaching zod, not on a type-only one", () => {
    const d = mkdtempSync(join(tmpdir(), "vigil-arch-"));
    dirs.push(d);
    for (const f of [".dependency-cruiser.cjs", ".dependency-cruiser-runtime.cjs"]) copyFileSync(join(ROOT, f), join(d, f));
    writeFileSync(join(d, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }));
    const files: Record<string, string> = {
      "node_modules/zod/package.json": JSON.stringify({ name: "zod", type: "module", exports: "./index.js" }),
      "node_modules/zod/index.js": "export const z = {};\n",
      "agent/cli/agent-cmd.ts": 'import type { S } from "../config/s.js";\nimport { g } from "../metrics/g.js";\nexport const a: S = String(g);\n',
      "agent/config/s.ts": 'import { z } from "zod";\nexport const s = z;\nexport type S = string;\n',
      "agent/metrics/g.ts": 'import { z } from "zod";\nexport const g = z;\n',
      // the folders the cruise names
      "proto/p.ts": "export const p = 1;\n",
      "collector/c.ts": "export const c = 1;\n",
      "rules/r.ts": "export const r = 1;\n",
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(d, f)), { recursive: true });
      writeFileSync(join(d, f), text);
    }
    const v = cruise(d, [], ".dependency-cruiser-runtime.cjs");
    expect(v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`)).toEqual(["agent-zod-in-worker-only: agent/cli/agent-cmd.ts → node_modules/zod/index.js"]);
    // through the value import; the type-only one is erased and loads nothing
    expect((v[0]?.via ?? []).map((x) => x.name)).toEqual(["agent/metrics/g.ts", "node_modules/zod/index.js"]);
  }, 60_000);

  it("each rule fires on a tree that breaks it", () => {
    const d = mkdtempSync(join(tmpdir(), "vigil-arch-"));
    dirs.push(d);
    copyFileSync(join(ROOT, ".dependency-cruiser.cjs"), join(d, ".dependency-cruiser.cjs"));
    writeFileSync(join(d, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }));
    const files: Record<string, string> = {
      "proto/index.ts": 'import { x } from "../agent/log.js";\nexport const p = x;\n',
      "agent/log.ts": "export const x = 1;\n",
      "agent/sinks/s.ts": 'import { c } from "../../collector/c.js";\nimport type { E } from "../engine/e.js";\nexport const s = c;\nexport type S = E;\n',
      "agent/engine/e.ts": "export type E = number;\n",
      "agent/decode/d.ts": 'import { st } from "../state/st.js";\nexport const d = st;\n',
      "agent/state/st.ts": 'import { d } from "../decode/d.js";\nexport const st = 1;\nexport const dd = () => d;\n',
      "agent/cli/main.ts": 'import { c } from "../../collector/c.js";\nexport const m = c;\n',
      "collector/c.ts": 'import type { P } from "../rules/r.js";\nimport { x } from "../agent/log.js";\nexport const c: P = x;\n',
      "rules/r.ts": 'import { x } from "../agent/log.js";\nexport type P = number;\nexport const r = x;\n',
      "rules/trace-text.ts": "export const t = 1;\n",
      "agent/metrics/h.ts":
        'import { createServer } from "node:http";\nimport type { Server } from "node:http";\nexport const h = createServer;\nexport type H = Server;\n',
      "agent/metrics/t.ts": 'import type { IncomingMessage } from "node:http";\nexport type T = IncomingMessage;\n',
      "collector/console/web/w.ts":
        'import { t } from "../../../rules/trace-text.js";\nimport type { P } from "../../../rules/r.js";\nexport const w: P = t;\n',
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(d, f)), { recursive: true });
      writeFileSync(join(d, f), text);
    }
    const v = cruise(d);
    const got = new Set(v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`));
    for (const want of [
      "proto-is-a-leaf: proto/index.ts → agent/log.ts",
      "agent-not-to-collector: agent/sinks/s.ts → collector/c.ts",
      "sinks-are-last: agent/sinks/s.ts → agent/engine/e.ts",
      "decode-is-first: agent/decode/d.ts → agent/state/st.ts",
      "collector-not-to-agent: collector/c.ts → agent/log.ts",
      "collector-not-to-rules: collector/c.ts → rules/r.ts",
      "rules-not-to-agent-or-collector: rules/r.ts → agent/log.ts",
      "console-web-reads-only-trace-text: collector/console/web/w.ts → rules/r.ts",
      "node-http-through-require: agent/metrics/h.ts → http",
    ])
      expect(got).toContain(want);
    expect([...got].some((g) => g.startsWith("no-circular:"))).toBe(true);
    // the console's browser code may use the trace text, and only that
    expect([...got].some((g) => g.includes("→ rules/trace-text.ts"))).toBe(false);
    // a type-only import of node:http loads nothing
    expect([...got].some((g) => g.includes("agent/metrics/t.ts"))).toBe(false);
    // the composition root may import the collector
    expect([...got].some((g) => g.includes("agent/cli/main.ts → collector"))).toBe(false);
  }, 60_000);
});
