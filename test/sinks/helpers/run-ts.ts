// SPDX-License-Identifier: Apache-2.0
/** Spawns `node` on a TypeScript entry point of this repo (through the test loader). */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const REGISTER = join(REPO, "test", "sinks", "helpers", "register-ts.mjs");

/** `node --import register-ts.mjs <file.ts> ...args`. */
export function spawnTs(file: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, ["--import", REGISTER, join(REPO, file), ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], ...opts });
}

/** Runs the `vigil` CLI from sources; resolves with exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawnTs("agent/cli/main.ts", args, { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    c.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      c.kill("SIGKILL");
      reject(new Error(`vigil ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    c.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}
