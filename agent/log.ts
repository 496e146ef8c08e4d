// SPDX-License-Identifier: Apache-2.0
/**
 * The root pino logger. Logs go to stderr (stdout carries alerts); each stage takes a
 * `child({ component })`. Messages are constant strings; data goes in the object, and
 * attacker-controlled event fields go under a nested key, never spread at top level.
 *
 * On a terminal the lines go through pino-pretty (colour, local time, one line per record);
 * anywhere else, and whenever the format is forced to `json`, they are JSON lines, which is what
 * log shippers and the tests read.
 */
import { createRequire } from "node:module";
import { pino, type DestinationStream, type Logger } from "pino";

/** pino-pretty (a CommonJS package), loaded only when a terminal reads the logs: a daemon writing
 * JSON lines never holds its 30 modules (a few MiB resident, BENCHMARKS.md agent memory). */
const loadPretty = (): typeof import("pino-pretty").PinoPretty => (createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty")).PinoPretty;

export type { Logger };

/** `auto`: pretty when stderr is a terminal, JSON otherwise. */
export type LogFormat = "auto" | "json" | "pretty";

/** How {@link createLogger} writes. */
export interface LoggerOptions {
  /** Default: `VIGIL_LOG_FORMAT` when set to a known format, else `auto`. */
  format?: LogFormat | undefined;
  /** The file descriptor to write to (default 2, stderr). */
  fd?: number | undefined;
  /** Whether that descriptor is a terminal (default: asked of the descriptor; a test sets it). */
  isTTY?: boolean | undefined;
  /** Write to the descriptor at all (Falco's `log_stderr`); default true. */
  stderr?: boolean | undefined;
  /** A second destination taking every JSON line as well (the local syslog, `log_syslog`). */
  also?: { write(line: string): void } | undefined;
}

const FORMATS: ReadonlySet<string> = new Set<LogFormat>(["auto", "json", "pretty"]);

/** The format asked for through `VIGIL_LOG_FORMAT`, or `auto`. */
function envFormat(): LogFormat {
  const v = process.env["VIGIL_LOG_FORMAT"];
  return v !== undefined && FORMATS.has(v) ? (v as LogFormat) : "auto";
}

/** Whether logs to `fd` would be read by a person at a terminal. */
function fdIsTTY(fd: number): boolean {
  if (fd === 2) return process.stderr.isTTY === true;
  if (fd === 1) return process.stdout.isTTY === true;
  return false;
}

/** Creates the root logger: pretty lines on a terminal, JSON lines otherwise (see {@link LoggerOptions}). */
export function createLogger(level: string = process.env["VIGIL_LOG_LEVEL"] ?? "info", opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 2;
  const format = opts.format ?? envFormat();
  const pretty = format === "pretty" || (format === "auto" && (opts.isTTY ?? fdIsTTY(fd)));
  // sync either way: a fatal line must reach the terminal before the process exits
  const dest: DestinationStream = pretty
    ? loadPretty()({ destination: fd, sync: true, colorize: opts.isTTY ?? fdIsTTY(fd), translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,app" })
    : pino.destination({ fd, sync: true });
  if (opts.also === undefined) return opts.stderr === false ? pino({ level: "silent", base: { app: "vigil" } }) : pino({ level, base: { app: "vigil" } }, dest);
  const streams: { level: pino.Level; stream: DestinationStream }[] = [{ level: "trace", stream: opts.also }];
  if (opts.stderr !== false) streams.push({ level: "trace", stream: dest });
  return pino({ level, base: { app: "vigil" } }, pino.multistream(streams));
}
