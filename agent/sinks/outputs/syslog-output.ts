// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `syslog_output`: each alert (Falco's text line, or its JSON) as one syslog message, its
 * severity the alert's priority (Falco's priorities are syslog's severities: Emergency 0 … Debug 7).
 *
 * Local (`address: ""`, /dev/log, or `unix:///PATH`): the local syslog socket is a unix
 * *datagram* socket, which Node cannot open (net speaks unix streams, dgram only UDP; a native
 * addon would be needed). The messages go through util-linux's `logger` instead, one long-lived
 * process fed a line per alert on stdin (`--prio-prefix` carries each alert's PRI; no shell; the
 * alert text only reaches its stdin), restarted with backoff when it dies (it exits on a send
 * error with `--socket-errors=on`, e.g. when rsyslog restarted and the socket was recreated, and
 * the next one connects to the new socket). Two formats:
 * - `local` (the default): what syslog(3) writes, and so what Falco writes: `<PRI>TIMESTAMP
 *   TAG: MSG`. Debian's rsyslog parses the system socket with imuxsock's special parser
 *   (SysSock.UseSpecialParser, on by default), which only understands this format; measured on
 *   Debian 12's rsyslog 8.2302: an RFC 5424 message on that socket is stored with tag `1` and the
 *   whole RFC 5424 header inside its text.
 * - `rfc5424`: RFC 5424 (`<PRI>1 TIMESTAMP HOST falco - - - MSG`), for a socket whose reader
 *   parses it (rsyslog imuxsock with `UseSpecialParser="off"`, syslog-ng `unix-dgram(...)`).
 * The delivery is confirmed only as far as logger's stdin; local datagrams are not lost silently
 * (the kernel blocks the sender when the reader lags), but a message in logger's buffer when it
 * dies is lost.
 *
 * Remote (Vigil's extension): `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`, RFC 5424
 * with Vigil's structured data, through the collector's syslog transport
 * (collector/forward/syslog.ts; injected by the composition root, see {@link RemoteSyslogFactory}),
 * retried with backoff on network errors.
 */
import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { type Alert, priorityNumber } from "../../../proto/index.js";
import type { OutputConfig, SyslogSinkConfig } from "../../config/outputs-schema.js";
import { formatFalco } from "./falco-format.js";
import { LineChild } from "./program-output.js";
import { QueuedOutput, RetryableError } from "./queued-output.js";

/** The local syslog socket. */
export const DEV_LOG = "/dev/log";
/** The APP-NAME / tag of the messages (Falco's syslog(3) ident is its program name). */
export const SYSLOG_APP_NAME = "falco";
/** Largest local message body, bytes (rsyslog's default maxMessageSize is 8k, header included). */
export const LOCAL_MAX_BYTES = 7900;
/** Where util-linux's logger is looked for. */
export const LOGGER_PATHS = ["/usr/bin/logger", "/bin/logger"];

export type SyslogLocalFormat = "local" | "rfc5424";

/** A remote syslog transport (the collector's, adapted by agent/cli). Errors are retried. */
export interface RemoteSyslog {
  send(items: readonly { alert: Alert; line: string }[], signal: AbortSignal): Promise<void>;
  close(): void | Promise<void>;
}

export interface RemoteSyslogOptions {
  protocol: "udp" | "tcp" | "tls";
  /** HOST:PORT or [IPv6]:PORT. */
  address: string;
  facility: number;
  appName: string;
  timeoutMs: number;
  tls: { ca_file: string; cert_file: string; key_file: string };
}

export type RemoteSyslogFactory = (o: RemoteSyslogOptions, logger: Logger) => RemoteSyslog;

/** The parsed `address`. */
export type SyslogTarget = { kind: "local"; path: string } | { kind: "remote"; protocol: "udp" | "tcp" | "tls"; address: string };

/** `""` → /dev/log; `unix:///PATH`; `udp|tcp|tls://HOST:PORT`. Throws a clear error otherwise. */
export function parseSyslogTarget(address: string): SyslogTarget {
  if (address === "") return { kind: "local", path: DEV_LOG };
  const m = /^(unix|udp|tcp|tls):\/\/(.+)$/.exec(address);
  if (m === null)
    throw new Error(
      `syslog_output address ${JSON.stringify(address)}: expected "" (/dev/log), unix:///PATH, udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT`,
    );
  const rest = m[2] as string;
  if (m[1] === "unix") {
    if (!rest.startsWith("/")) throw new Error(`syslog_output address ${JSON.stringify(address)}: unix:// takes an absolute path`);
    return { kind: "local", path: rest };
  }
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):\d{1,5}$/.test(rest))
    throw new Error(`syslog_output address ${JSON.stringify(address)}: expected HOST:PORT after ${m[1]}://`);
  return { kind: "remote", protocol: m[1] as "udp" | "tcp" | "tls", address: rest };
}

/** `s` cut to at most `max` UTF-8 bytes, not splitting a character. */
function cutBytes(s: string, max: number): string {
  if (s.length * 3 <= max) return s;
  const b = Buffer.from(s, "utf8");
  if (b.length <= max) return s;
  let end = max;
  while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString("utf8");
}

export interface SyslogOutputOptions {
  /** The local format (see the module comment). */
  localFormat?: SyslogLocalFormat;
  /** Needed for udp/tcp/tls addresses. */
  remote?: RemoteSyslogFactory;
  /** logger's path (default: the first of {@link LOGGER_PATHS} that exists). */
  loggerPath?: string;
}

export class SyslogOutput extends QueuedOutput {
  readonly name = "syslog_output";
  private readonly target: SyslogTarget;
  private readonly child: LineChild | undefined;
  private readonly remote: RemoteSyslog | undefined;

  constructor(
    private readonly cfg: Pick<SyslogSinkConfig, "address" | "facility" | "ca_file" | "cert_file" | "key_file">,
    private readonly output: OutputConfig,
    logger: Logger,
    opts: SyslogOutputOptions = {},
  ) {
    const log = logger.child({ output: "syslog_output" });
    super({ capacity: output.queue_capacity, maxBatch: 100, retry: { minMs: 500, maxMs: 30_000 }, logger: log });
    this.target = parseSyslogTarget(cfg.address);
    if (this.target.kind === "local") {
      const lg = opts.loggerPath ?? LOGGER_PATHS.find((p) => existsSync(p));
      if (lg === undefined)
        throw new Error(`syslog_output to ${this.target.path}: util-linux's logger is needed for the local socket (not found at ${LOGGER_PATHS.join(", ")})`);
      const argv = [lg, "--socket", this.target.path, "--socket-errors=on", "--prio-prefix", "--tag", SYSLOG_APP_NAME, "--size", String(LOCAL_MAX_BYTES + 64)];
      if ((opts.localFormat ?? "local") === "rfc5424") argv.push("--rfc5424=notq");
      this.child = new LineChild(argv, "inherit");
    } else {
      if (opts.remote === undefined)
        throw new Error(`syslog_output ${this.target.protocol}://: no remote syslog transport given (the agent's composition root passes the collector's)`);
      if ((cfg.cert_file === "") !== (cfg.key_file === "")) throw new Error("syslog_output cert_file and key_file go together");
      this.remote = opts.remote(
        {
          protocol: this.target.protocol,
          address: this.target.address,
          facility: cfg.facility,
          appName: SYSLOG_APP_NAME,
          timeoutMs: output.timeout_ms,
          tls: { ca_file: cfg.ca_file, cert_file: cfg.cert_file, key_file: cfg.key_file },
        },
        log,
      );
    }
  }

  protected async deliver(batch: readonly Alert[], signal: AbortSignal): Promise<void> {
    if (this.child !== undefined) {
      let text = "";
      for (const a of batch) {
        const pri = this.cfg.facility * 8 + (priorityNumber(a.priority) ?? 5);
        text += `<${pri}>${cutBytes(formatFalco(a, this.output), LOCAL_MAX_BYTES)}\n`;
      }
      await this.child.write(text, signal, this.output.timeout_ms, () =>
        this.warnOnce(
          "slow",
          { socket: this.target.kind === "local" ? this.target.path : "" },
          "the local syslog socket is not taking messages: alerts wait in the queue",
        ),
      );
      return;
    }
    const items = batch.map((alert) => ({ alert, line: formatFalco(alert, this.output) }));
    try {
      await this.remote?.send(items, signal);
    } catch (err) {
      throw new RetryableError((err as Error).message, { cause: err });
    }
  }

  protected async close(): Promise<void> {
    await this.child?.finish(this.output.timeout_ms);
    await this.remote?.close();
  }
}
