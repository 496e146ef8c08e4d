// SPDX-License-Identifier: Apache-2.0
/**
 * Turns a rule match into an {@link Alert}: a UUIDv7 id given at birth, Falco's time string
 * with nanoseconds, the Falco text line and typed output fields.
 */
import { hostname as osHostname } from "node:os";
import { v7 as uuidv7 } from "uuid";
import type { CompiledRule } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import type { Alert } from "../sinks/types.js";

/** ISO 8601 UTC with nanoseconds, as Falco prints `time`. */
export function isoTimeNs(sec: number, nsec: number): string {
  const iso = new Date(sec * 1000).toISOString(); // 2026-11-28T12:00:00.000Z
  return `${iso.slice(0, 19)}.${String(nsec).padStart(9, "0")}Z`;
}

/** Builds alerts for one host. */
export class AlertBuilder {
  constructor(private readonly host: string = process.env["NODE_NAME"] ?? osHostname()) {}

  build(rule: CompiledRule, e: SyscallEvent): Alert {
    const { message, fields } = rule.format(e);
    const time = isoTimeNs(e.sec, e.nsec);
    return {
      id: uuidv7(),
      time,
      rule: rule.name,
      priority: rule.priorityName,
      source: rule.source,
      hostname: this.host,
      output: `${time}: ${rule.priorityName} ${message}`,
      output_fields: fields,
      tags: [...rule.tags],
    };
  }

  /** An alert about the agent itself (source `internal`), timed now. */
  internal(name: string, priority: Alert["priority"], message: string, fields: Alert["output_fields"], tags: readonly string[]): Alert {
    const ms = Date.now();
    const time = isoTimeNs(Math.floor(ms / 1000), (ms % 1000) * 1_000_000);
    return { id: uuidv7(), time, rule: name, priority, source: "internal", hostname: this.host, output: `${time}: ${priority} ${message}`, output_fields: fields, tags: [...tags] };
  }
}
