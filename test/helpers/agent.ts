// SPDX-License-Identifier: Apache-2.0
/**
 * Runs the real `vigil agent` (built CLI) as a child process for integration tests and collects
 * its alerts (stdout JSON lines) and logs (stderr pino lines).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = join(REPO_ROOT, "dist", "agent", "cli", "main.js");

export interface JsonAlert {
  uuid: string;
  time: string;
  rule: string;
  priority: string;
  source: string;
  hostname: string;
  output: string;
  output_fields: Record<string, string | number | boolean | null>;
  tags: string[];
  blocked?: boolean;
}

export interface RunningAgent {
  child: ChildProcess;
  alerts: JsonAlert[];
  logs: Record<string, unknown>[];
  stderrText: string[];
  /** Resolves with the first alert matching pred, or rejects after ms. */
  waitForAlert(pred: (a: JsonAlert) => boolean, ms?: number): Promise<JsonAlert>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function waiter<T>(list: T[], pred: (x: T) => boolean, ms: number, what: string, subscribe: (f: () => void) => () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const found = list.find(pred);
    if (found !== undefined) return resolve(found);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const off = subscribe(() => {
      const f = list.find(pred);
      if (f !== undefined) {
        clearTimeout(timer);
        off();
        resolve(f);
      }
    });
  });
}

/** Flags every test agent gets unless the test asks for the feature: no embedded collector (it
 * would write under /var/lib/vigil) and no metrics port (tests run agents side by side). */
export const TEST_DEFAULT_FLAGS = ["--no-embedded-collector", "--no-metrics", "--no-fim-scan"];

/** Starts the agent; resolves once it logged `ready` (rejects if it exits first). */
export async function startAgent(
  args: string[],
  readyMs = 60_000,
  env: NodeJS.ProcessEnv = {},
  defaults: readonly string[] = TEST_DEFAULT_FLAGS,
): Promise<RunningAgent> {
  // state (FIM baseline, spool) in a temporary folder unless the test names one
  const data = args.includes("--data") ? [] : ["--data", mkdtempSync(join(tmpdir(), "vigil-agent-data-"))];
  const child = spawn(process.execPath, [CLI, "agent", "--output", "json", ...defaults, ...data, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, VIGIL_LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const alerts: JsonAlert[] = [];
  const logs: Record<string, unknown>[] = [];
  const stderrText: string[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const f of listeners) f();
  };
  const subscribe = (f: () => void) => {
    listeners.add(f);
    return () => listeners.delete(f);
  };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      alerts.push(JSON.parse(line) as JsonAlert);
    } catch {
      stderrText.push(`[stdout] ${line}`);
    }
    notify();
  });
  createInterface({ input: child.stderr! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderrText.push(line);
    }
    notify();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const agent: RunningAgent = {
    child,
    alerts,
    logs,
    stderrText,
    waitForAlert: (pred, ms = 5000) => waiter(alerts, pred, ms, "alert", subscribe),
    waitForLog: (pred, ms = 5000) => waiter(logs, pred, ms, "log line", subscribe),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const ready = agent.waitForLog((l) => typeof l["msg"] === "string" && /\bready\b/.test(l["msg"] as string), readyMs);
  const early = exited.then((code) => {
    throw new Error(`agent exited with ${code} before ready: ${stderrText.join("\n")}`);
  });
  await Promise.race([ready, early]);
  early.catch(() => undefined);
  return agent;
}

/** Runs a command to completion; resolves with its pid and exit code. */
export function runChild(cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: "ignore" });
    c.on("error", reject);
    c.on("exit", (code) => resolve({ pid: c.pid!, code }));
  });
}
