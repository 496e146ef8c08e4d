// SPDX-License-Identifier: Apache-2.0
/** Shared helpers of the collector/sink/capture tests. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import type { Alert, PriorityName } from "../../proto/index.js";

/** A fresh temp dir. */
export function tempDir(prefix = "vigil-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A logger that keeps its lines in memory (for asserting log lines). */
export function memoryLogger(level = "debug"): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = {
    write(s: string) {
      lines.push(JSON.parse(s) as Record<string, unknown>);
    },
  };
  return { logger: pino({ level }, stream), lines };
}

/** A silent logger. */
export const quiet = (): Logger => pino({ level: "silent" });

let n = 0;
/** A valid alert with overridable parts. */
export function makeAlert(over: Partial<Alert> & { fields?: Alert["output_fields"] } = {}): Alert {
  n++;
  const { fields, ...rest } = over;
  const t = new Date().toISOString().slice(0, 19);
  return {
    id: uuidv7(),
    time: `${t}.${String(n % 1e9).padStart(9, "0")}Z`,
    rule: "Test rule",
    priority: "Warning" as PriorityName,
    source: "syscall",
    hostname: "node-a",
    output: `${t}: Warning test alert ${n}`,
    output_fields: {
      "proc.name": "cat",
      "proc.pid": 1234,
      "k8s.ns.name": "default",
      "k8s.pod.name": "web-1",
      "container.id": "abcdef123456",
      "container.name": "web",
      "container.image.repository": "docker.io/library/nginx",
      "container.image.tag": "1.25",
      "fd.name": null,
      "evt.is_open_read": true,
      ...fields,
    },
    tags: ["T1003.008", "filesystem"],
    ...rest,
  };
}

/** Polls until pred() is true (or throws after ms). */
export async function waitFor(pred: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Parses an NDJSON body (`GET /api/v1/alerts`, `vigil alerts query --output json`) into its objects. */
export function ndjson(text: string): unknown[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown);
}
