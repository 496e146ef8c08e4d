// SPDX-License-Identifier: Apache-2.0
/**
 * Reads `vigil agent`'s configuration in a worker thread (agent-config-worker.ts runs
 * agent-config.ts there) and returns the validated object, structured-cloned. The worker exits
 * once it has answered, and its heap goes with it: zod, the schemas and the YAML documents never
 * stay in the agent (issue 22: they held about 12 MiB for the agent's lifetime). A configuration
 * error comes back as data and is thrown here as the same ConfigError, so the command reports it
 * exactly as when the configuration was read in the agent's own thread.
 */
import { Worker } from "node:worker_threads";
import { ConfigError, type ConfigErrorCode, type ConfigIssue } from "../config/errors.js";
import type { AgentConfig } from "./agent-config.js";
import type { AgentFlags } from "./agent-flags.js";

/** What the worker is given (its `workerData`). */
export interface AgentConfigRequest {
  flags: AgentFlags;
  env: Record<string, string | undefined>;
}

/** What the worker answers, once. */
export type AgentConfigReply =
  | { ok: true; value: AgentConfig }
  | { ok: false; error: { name: string; message: string; code?: ConfigErrorCode | undefined; issues?: readonly ConfigIssue[] | undefined } };

/** The worker's answer as the error agentConfig threw: a ConfigError again, else an Error with its name and message. */
function errorOf(e: Extract<AgentConfigReply, { ok: false }>["error"]): Error {
  if (e.code !== undefined && e.issues !== undefined) return new ConfigError(e.code, e.issues);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/**
 * agentConfig (agent-config.ts) in a worker thread: resolves once the worker has exited, with the
 * configuration it sent; rejects with the error it reported, or when it died without answering.
 */
export function agentConfigInWorker(flags: AgentFlags, env: NodeJS.ProcessEnv): Promise<AgentConfig> {
  // beside this file: the compiled .js, or the .ts source when run through the tests' loader
  const entry = new URL(`./agent-config-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
  const request: AgentConfigRequest = { flags: { ...flags }, env: { ...env } };
  return new Promise((resolve, reject) => {
    let reply: AgentConfigReply | undefined;
    let failed: Error | undefined;
    const worker = new Worker(entry, { workerData: request });
    worker.once("message", (m: AgentConfigReply) => {
      reply = m;
    });
    // an exception the worker did not catch (a module that failed to load, say)
    worker.once("error", (err) => {
      failed = err;
    });
    worker.once("exit", (code) => {
      if (reply?.ok === true) resolve(reply.value);
      else if (reply !== undefined) reject(errorOf(reply.error));
      else reject(failed ?? new Error(`the configuration worker exited (code ${code}) without an answer`));
    });
  });
}
