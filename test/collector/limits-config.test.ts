// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's limits reach a real `vigil collector` from its configuration file
 * (`--config`, section `collector.limits`) and from `VIGIL_COLLECTOR_LIMITS_<KEY>`, and a bad
 * value is one clear line naming the key.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../agent/config/index.js";
import { runCli, spawnTs } from "../sinks/helpers/run-ts.js";
import { tempDir } from "./helpers.js";
import { DEFAULT_COLLECTOR_LIMITS } from "../../proto/index.js";
import { collectorLimitsSchema } from "../../proto/collector-limits-schema.js";

const TOKEN = "limits-token";
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

async function collector(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), "--token", TOKEN, ...args], {
    env: { ...process.env, ...env },
  });
  children.push(child);
  let err = "";
  return new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (l) => {
      err += l + "\n";
      try {
        const o = JSON.parse(l) as { msg?: string; address?: string };
        if (o.msg === "vigil collector ready") resolve(o.address!);
      } catch {
        // not a log line
      }
    });
    child.on("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
}

const post = (address: string, bytes: number) =>
  fetch(`http://${address}/api/v1/falco`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ output: "x".repeat(bytes), priority: "Warning", rule: "r", time: new Date().toISOString() }),
  });

describe("collector limits configuration", () => {
  it("every limit is a configuration leaf with an environment variable", () => {
    const cfg = loadConfig({ env: { VIGIL_COLLECTOR_LIMITS_MAX_CONNECTIONS: "7", VIGIL_COLLECTOR_LIMITS_ORPHAN_CAPTURES: "store" } });
    expect(cfg.collector.limits.max_connections).toBe(7);
    expect(cfg.collector.limits.orphan_captures).toBe("store");
    expect(cfg.collector.limits.max_body_bytes).toBe(DEFAULT_COLLECTOR_LIMITS.max_body_bytes);
    expect(Object.keys(cfg.collector.limits).sort()).toEqual(Object.keys(collectorLimitsSchema.shape).sort());
    expect(() => loadConfig({ env: { VIGIL_COLLECTOR_LIMITS_MAX_BODY_BYTES: "12" } })).toThrow(/collector\.limits\.max_body_bytes/);
  });

  it("vigil collector --config applies collector.limits (a body over max_body_bytes is a 413)", async () => {
    const dir = tempDir();
    const file = join(dir, "config.yaml");
    writeFileSync(file, "collector:\n  limits:\n    max_body_bytes: 4096\n");
    const address = await collector(["--config", file]);
    expect((await post(address, 100)).status).toBe(200);
    expect((await post(address, 8000)).status).toBe(413);
  });

  it("VIGIL_COLLECTOR_LIMITS_* applies to vigil collector without a file", async () => {
    const address = await collector([], { VIGIL_COLLECTOR_LIMITS_MAX_BODY_BYTES: "4096" });
    expect((await post(address, 8000)).status).toBe(413);
    const big = await collector([]);
    expect((await post(big, 8000)).status).toBe(200);
  });

  it("a bad limit in the file stops vigil collector with one line naming the key and position", async () => {
    const file = join(tempDir(), "config.yaml");
    writeFileSync(file, "collector:\n  limits:\n    max_connections: -3\n");
    const r = await runCli(["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), "--token", TOKEN, "--config", file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/collector\.limits\.max_connections.*config\.yaml:3/);
  });
});
