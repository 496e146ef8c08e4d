// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent` loads only what the agent runs: not the other subcommands (collector, webhook,
 * admission, inject, NATS), not the Kubernetes client library outside a cluster. Each of them
 * stays resident for the agent's lifetime once imported (the whole set was about 40 MiB of the
 * agent's 173 MiB at idle, BENCHMARKS.md "Agent memory (issue 22, Dec 5)"). Nor zod: the
 * configuration is validated in a worker thread that exits (agent/cli/agent-config-thread.ts). A
 * loader hook in the child (NODE_OPTIONS=--import) records every module the agent's main thread
 * resolves.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, REPO_ROOT, startAgent } from "../helpers/agent.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-imports-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the main thread only: the configuration worker (which loads zod, and then exits) would write its own list
const HOOK = `
import { registerHooks } from "node:module";
import { writeFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";
if (isMainThread) {
  const seen = new Set();
  registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.add(r.url); return r; } });
  setInterval(() => writeFileSync(process.env.VIGIL_TEST_MODLIST, [...seen].join("\\n")), 100).unref();
}
`;

/** Modules `vigil agent` must not load with this configuration (substrings of their URLs). */
const FORBIDDEN = [
  // validated in the configuration worker (about 12 MiB that would stay for good)
  "/node_modules/zod/",
  "/node_modules/@kubernetes/client-node/",
  "/node_modules/@nats-io/",
  "/node_modules/pg/",
  "/node_modules/ws/",
  "/node_modules/@grpc/",
  "/node_modules/protobufjs/",
  // JSON logs (stderr is a pipe here): the pretty printer is for terminals
  "/node_modules/pino-pretty/",
  "/dist/collector/server.js",
  "/dist/collector/store.js",
  "/dist/agent/admission/",
  "/dist/agent/inject/ecs.js",
  "/dist/agent/inject/webhook.js",
  "/dist/agent/enrich/k8s-api/kubeconfig.js",
  "/dist/agent/cli/collector-cmd.js",
  "/dist/agent/cli/webhook-cmd.js",
  "/dist/agent/cli/alerts-cmd.js",
  "/dist/agent/cli/tail-cmd.js",
  "/dist/agent/cli/inject-cmd.js",
  "/dist/agent/cli/forwarders-cmd.js",
  "/dist/agent/cli/capture-cmd.js",
  "/dist/agent/cli/rules-cmd.js",
];

describe("vigil agent's import graph", () => {
  it("does not load the other subcommands, the collector, NATS, gRPC or the Kubernetes client outside a cluster", async () => {
    const hook = join(dir, "hook.mjs");
    const list = join(dir, "modules.txt");
    writeFileSync(hook, HOOK);
    const agent = await startAgent(["--source", "ptrace", "--trace-socket", join(dir, "trace.sock"), "--no-containerd", "--stats-interval", "0"], 60_000, {
      NODE_OPTIONS: `--import ${pathToFileURL(hook).href}`,
      VIGIL_TEST_MODLIST: list,
      KUBERNETES_SERVICE_HOST: "",
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const loaded = readFileSync(list, "utf8").split("\n");
      // the hook works: the agent's own modules are in the list
      expect(loaded.some((u) => u.endsWith("/dist/agent/cli/agent-cmd.js"))).toBe(true);
      expect(loaded.some((u) => u.endsWith("/dist/agent/pipeline.js"))).toBe(true);
      const bad = loaded.filter((u) => FORBIDDEN.some((f) => u.includes(f)));
      expect(bad).toEqual([]);
    } finally {
      await agent.stop();
    }
  }, 90_000);

  it("with the embedded collector and the metrics endpoint, still no zod", async () => {
    const hook = join(dir, "hook.mjs");
    const list = join(dir, "modules-embedded.txt");
    writeFileSync(hook, HOOK);
    const agent = await startAgent(
      [
        "--source",
        "ptrace",
        "--trace-socket",
        join(dir, "trace2.sock"),
        "--no-containerd",
        "--stats-interval",
        "0",
        "--embedded-collector",
        "127.0.0.1:0",
        "--metrics-port",
        "0",
      ],
      60_000,
      { NODE_OPTIONS: `--import ${pathToFileURL(hook).href}`, VIGIL_TEST_MODLIST: list, KUBERNETES_SERVICE_HOST: "" },
      ["--no-fim-scan"],
    );
    try {
      await agent.waitForLog((l) => l["msg"] === "embedded collector listening (vigil tail follows it)");
      await new Promise((r) => setTimeout(r, 500));
      const loaded = readFileSync(list, "utf8").split("\n");
      expect(loaded.some((u) => u.endsWith("/dist/collector/server.js"))).toBe(true);
      expect(loaded.some((u) => u.endsWith("/dist/agent/cli/agent-config-thread.js"))).toBe(true);
      expect(loaded.filter((u) => u.includes("/node_modules/zod/") || u.includes("-schema.js"))).toEqual([]);
    } finally {
      await agent.stop();
    }
  }, 90_000);

  it("still lists every subcommand in the help, and runs the others", () => {
    const help = spawnSync(process.execPath, [CLI, "--help"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const name of ["agent", "rules", "collector", "alerts", "tail", "capture", "inject", "webhook", "forwarders"]) {
      expect(help.stdout).toMatch(new RegExp(`^\\s+${name}\\b`, "m"));
    }
    const typo = spawnSync(process.execPath, [CLI, "agnet"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(typo.status).not.toBe(0);
    expect(typo.stderr).toContain("unknown command 'agnet'");
    const rules = spawnSync(process.execPath, [CLI, "rules", "check", "--help"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(rules.status).toBe(0);
    expect(rules.stdout).toContain("Usage: vigil rules check");
  });
});
