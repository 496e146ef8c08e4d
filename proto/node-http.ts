// SPDX-License-Identifier: Apache-2.0
/**
 * `node:http`, loaded as CommonJS. An ESM `import … from "node:http"` makes Node build the
 * module's ES namespace, which reads every export, and `http`'s WebSocket, CloseEvent and
 * MessageEvent exports are lazy getters into Node's bundled undici: its 750 KB of source, its
 * web streams and its compiled functions then stay in the heap for the life of the process
 * (6.4 MiB of anonymous memory in a bare node; BENCHMARKS.md, "Agent memory: code pages and
 * undici"). `require`
 * returns the module object without touching them. Every module of the agent and the collector
 * takes `node:http` from here (type-only imports are free); .dependency-cruiser.cjs enforces it.
 */
import type * as Http from "node:http";
import { createRequire } from "node:module";

const http = createRequire(import.meta.url)("node:http") as typeof Http;

export const { Agent, createServer, request } = http;
/** The class's instance type, as `import { Agent } from "node:http"` gives it. */
export type Agent = Http.Agent;
