// SPDX-License-Identifier: Apache-2.0
/** Errors of configuration loading; `code` doubles as a metrics label. */
export type ConfigErrorCode = "READ_FAILED" | "YAML_SYNTAX" | "INVALID";

/** One `path: reason` problem (path is dotted, e.g. `sinks.collector.spool.max_bytes`). */
export interface ConfigIssue {
  path: string;
  reason: string;
  /** Where the value came from: `file.yaml:12:5`, `env VIGIL_METRICS_PORT`, `overrides`. */
  origin?: string;
}

/** Thrown by loadConfig; the message is one `path: reason` line per issue. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly code: ConfigErrorCode,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(issues.map((i) => `${i.path === "" ? "(root)" : i.path}: ${i.reason}${i.origin ? ` (${i.origin})` : ""}`).join("\n"), options);
  }
}
