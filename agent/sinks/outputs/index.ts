// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's output channels as Vigil sinks, each with its own bounded queue, worker and counters
 * (queued-output.ts): `createFalcoOutputs` builds the enabled ones from the `output:` format
 * options and `sinks.file/program/syslog/http`; {@link FalcoStdoutSink} prints Falco's own line
 * (`sinks.stdout.format: falco`, Falco's `stdout_output`).
 */
import type { Logger } from "pino";
import type { Alert } from "../../../proto/index.js";
import type { FileSinkConfig, HttpSinkConfig, OutputConfig, ProgramSinkConfig, SyslogSinkConfig } from "../../config/outputs-schema.js";
import type { ExportResult, Sink } from "../types.js";
import { formatFalco } from "./falco-format.js";
import { FileOutput } from "./file-output.js";
import { HttpOutput } from "./http-output.js";
import { ProgramOutput } from "./program-output.js";
import type { OutputStats, QueuedOutput } from "./queued-output.js";
import { type RemoteSyslogFactory, type SyslogLocalFormat, SyslogOutput } from "./syslog-output.js";

export { FALCO_FORMAT_DEFAULTS, falcoJson, falcoMessage, falcoTextLine, formatFalco } from "./falco-format.js";
export { FileOutput } from "./file-output.js";
export { HttpOutput } from "./http-output.js";
export { ProgramOutput } from "./program-output.js";
export { type OutputStats, QueuedOutput, RetryableError } from "./queued-output.js";
export { parseSyslogTarget, type RemoteSyslog, type RemoteSyslogFactory, type RemoteSyslogOptions, SyslogOutput } from "./syslog-output.js";

/** Prints each alert as Falco's stdout_output does: its text line or JSON, one per line. */
export class FalcoStdoutSink implements Sink {
  readonly name = "stdout_output";
  constructor(
    private readonly output: OutputConfig,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  async export(batch: readonly Alert[]): Promise<ExportResult> {
    let text = "";
    for (const a of batch) text += `${formatFalco(a, this.output)}\n`;
    if (text === "") return { ok: true };
    // stdout is the agent's own: a write is never awaited (a stalled reader must not hold the event path)
    this.out.write(text);
    return { ok: true };
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export interface FalcoOutputsConfig {
  output: OutputConfig;
  sinks: {
    file?: FileSinkConfig;
    program?: ProgramSinkConfig;
    syslog?: SyslogSinkConfig;
    http?: HttpSinkConfig;
  };
}

export interface FalcoOutputsOptions {
  /** The remote syslog transport (agent/cli/falco-syslog-remote.ts), for udp/tcp/tls syslog addresses. */
  remoteSyslog?: RemoteSyslogFactory;
  /** The local syslog format (default `local`, what syslog(3) and Falco write). */
  syslogLocalFormat?: SyslogLocalFormat;
}

/** The enabled Falco-style outputs, each its own sink with `stats()`. Throws a clear error for a bad setting. */
export function createFalcoOutputs(cfg: FalcoOutputsConfig, logger: Logger, opts: FalcoOutputsOptions = {}): QueuedOutput[] {
  const out: QueuedOutput[] = [];
  const s = cfg.sinks;
  try {
    if (s.file?.enabled === true) out.push(new FileOutput(s.file, cfg.output, logger));
    if (s.program?.enabled === true) out.push(new ProgramOutput(s.program, cfg.output, logger));
    if (s.syslog?.enabled === true)
      out.push(
        new SyslogOutput(s.syslog, cfg.output, logger, {
          ...(opts.remoteSyslog !== undefined ? { remote: opts.remoteSyslog } : {}),
          ...(opts.syslogLocalFormat !== undefined ? { localFormat: opts.syslogLocalFormat } : {}),
        }),
      );
    if (s.http?.enabled === true) out.push(new HttpOutput(s.http, cfg.output, logger));
  } catch (err) {
    for (const o of out) void o.shutdown();
    throw err;
  }
  return out;
}

/** Counters of every output by name (for /metrics and status). */
export function falcoOutputStats(outputs: readonly QueuedOutput[]): Record<string, OutputStats> {
  const r: Record<string, OutputStats> = {};
  for (const o of outputs) r[o.name] = o.stats();
  return r;
}
