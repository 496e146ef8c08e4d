// SPDX-License-Identifier: Apache-2.0
/**
 * The configuration worker's entry (agent-config-thread.ts starts it): reads the configuration
 * with agent-config.ts, posts it or the error as plain data, and ends, taking zod and the schemas
 * with it. The only module of `vigil agent` that may load zod (the rule agent-zod-in-worker-only,
 * .dependency-cruiser-runtime.cjs).
 */
import { parentPort, workerData } from "node:worker_threads";
import { ConfigError } from "../config/errors.js";
import { agentConfig } from "./agent-config.js";
import type { AgentConfigReply, AgentConfigRequest } from "./agent-config-thread.js";

function replyOf(req: AgentConfigRequest): AgentConfigReply {
  try {
    return { ok: true, value: agentConfig(req.flags, req.env) };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, error: { name: err.name, message: err.message, code: err.code, issues: err.issues } };
    const e = err instanceof Error ? err : new Error(String(err));
    return { ok: false, error: { name: e.name, message: e.message } };
  }
}

if (parentPort === null) throw new Error("agent-config-worker runs in a worker thread (agent-config-thread.ts)");
parentPort.postMessage(replyOf(workerData as AgentConfigRequest));
