// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `syslog_output`: each alert (Falco's text line, or its JSON) as one syslog message, its
 * severity the alert's priority (Falco's priorities are syslog's severities: Emergency 0 … Debug 7).
 *
 * Local (`address: ""`, /dev/log, or `unix:///PATH`): the local syslog socket is a unix
 * *datagram* socket, which Node cannot open (net speaks unix streams, dgram only UDP). The
 * messages go through a long-lived helper process fed one message per line on stdin (no shell;
 * the alert text only reaches its stdin; an alert is always one line, formatFalco escapes control
 * characters), restarted with backoff when it dies:
 * - `vigil-syslog` (native-bridge/syslog/, shipped beside the agent as vigil-probe is, and in the
 *   image): each line, formatted here with its `<PRI>` and header, sent as one datagram; it
 *   reconnects when the socket is recreated (rsyslog restarted), holds what it cannot send for a
 *   while and drops it after, reporting `dropped=N` on stderr, which this output counts as
 *   dropped (and no longer as sent).
 * - util-linux's `logger` when vigil-syslog is not there (a checkout without the native build):
 *   `--prio-prefix` carries each alert's PRI and logger writes the header; it exits on a send
 *   error (`--socket-errors=on`) and the next one connects to the new socket.
 * When neither program exists, or the socket path does not, the output still starts (Falco's
 * default falco.yaml enables syslog_output, and a container may have no /dev/log): it logs one
 * warning naming what is missing, counts each alert as failed, and looks again every
 * {@link SyslogOutputOptions.recheckMs} (a /dev/log mounted later is used). A bad address throws.
 * Two formats:
 * - `local` (the default): what syslog(3) writes, and so what Falco writes: `<PRI>TIMESTAMP
 *   TAG: MSG` (TIMESTAMP `Mmm dd hh:mm:ss`, local time, as glibc's syslog(3)). Debian's rsyslog
 *   parses the system socket with imuxsock's special parser (SysSock.UseSpecialParser, on by
 *   default), which only understands this format; measured on Debian 12's rsyslog 8.2302: an
 *   RFC 5424 message on that socket is stored with tag `1` and the whole RFC 5424 header inside
 *   its text.
 * - `rfc5424`: RFC 5424 (`<PRI>1 TIMESTAMP HOST falco PID - - MSG`), for a socket whose reader
 *   parses it (rsyslog imuxsock with `UseSpecialParser="off"`, syslog-ng `unix-dgram(...)`).
 * The delivery is confirmed as far as the helper's stdin (then `sent`); what the helper drops
 * later is moved from `sent` to `dropped` when it reports it.
 *
 * Remote (Vigil's extension): `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`, RFC 5424
 * with Vigil's structured data, through the collector's syslog transport
 * (collector/forward/syslog.ts; injected by the composition root, see {@link RemoteSyslogFactory}),
 * retried with backoff on network errors.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { type Alert, priorityNumber } from "../../../proto/index.js";
import type { OutputConfig, SyslogSinkConfig } from "../../config/outputs-schema.js";
import { packagePath } from "../../paths.js";
import { formatFalco, oneLine } from "./falco-format.js";
import { type OutputStats, QueuedOutput, RetryableError } from "./queued-output.js";

/** The local syslog socket. */
export const DEV_LOG = "/dev/log";
/** The APP-NAME / tag of the messages (Falco's syslog(3) ident is its program name). */
export const SYSLOG_APP_NAME = "falco";
/** Largest local message body, bytes (rsyslog's default maxMessageSize is 8k, header included). */
export const LOCAL_MAX_BYTES = 7900;
/** Where util-linux's logger is looked for (when vigil-syslog is not there). */
export const LOGGER_PATHS = ["/usr/bin/logger", "/bin/logger"];
/** Largest datagram vigil-syslog sends (rsyslog's default maxMessageSize); longer lines are cut and counted. */
export const HELPER_MAX_BYTES = 8192;
/** How often an unavailable local socket (or helper) is looked for again, by default. */
export const RECHECK_MS = 10_000;
/** How long vigil-syslog holds a message it cannot send before dropping it, by default. */
export const HELPER_HOLD_MS = 10_000;

/** vigil-syslog shipped beside the agent (native-bridge/build/, as vigil-probe and vigil-trace). */
export function defaultSyslogHelperPath(): string | undefined {
  try {
    return packagePath("native-bridge", "build", "vigil-syslog");
  } catch {
    return undefined;
  }
}

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
  /** The local format (see the module comment; default: the config's `format`, else `local`). */
  localFormat?: SyslogLocalFormat;
  /** Needed for udp/tcp/tls addresses. */
  remote?: RemoteSyslogFactory;
  /** vigil-syslog's path (default: {@link defaultSyslogHelperPath}); null: do not use it. */
  helperPath?: string | null;
  /** logger's path (default: the first of {@link LOGGER_PATHS} that exists); null: do not use it. */
  loggerPath?: string | null;
  /** How often a missing socket or helper is looked for again, ms (default {@link RECHECK_MS}). */
  recheckMs?: number;
  /** vigil-syslog's --hold-ms (default {@link HELPER_HOLD_MS}). */
  helperHoldMs?: number;
}

/** The program writing to the local socket, and how lines for it are formatted. */
interface LocalWriter {
  kind: "vigil-syslog" | "logger";
  argv: string[];
}

/** `Mmm dd hh:mm:ss` in local time, as glibc's syslog(3) (`%h %e %T`). */
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
export function syslogTimestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * One message as vigil-syslog sends it: `<PRI>Mmm dd hh:mm:ss falco: MSG` (syslog(3)'s format) or
 * RFC 5424 `<PRI>1 TIMESTAMP HOST falco PID - - MSG`. `body` is one line, at most {@link LOCAL_MAX_BYTES}.
 */
export function formatLocalMessage(pri: number, body: string, format: SyslogLocalFormat, now = new Date(), host = hostname()): string {
  if (format === "rfc5424") {
    const h = host.replace(/[^\x21-\x7e]/g, "").slice(0, 255) || "-";
    return `<${pri}>1 ${now.toISOString()} ${h} ${SYSLOG_APP_NAME} ${process.pid} - - ${body}`;
  }
  return `<${pri}>${syslogTimestamp(now)} ${SYSLOG_APP_NAME}: ${body}`;
}

/** Most bytes of one stderr line of the helper kept (the rest of the line is skipped). */
const STDERR_LINE_MAX = 2048;

/**
 * The helper process: started on demand, fed lines on stdin, its stderr read line by line (bounded)
 * and handed to `onLine`.
 */
class WriterProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private startedAt = 0;
  private quickDeaths = 0;
  starts = 0;

  constructor(
    private readonly argv: readonly string[],
    private readonly onLine: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** 0 unless the last processes died right after their start: then 500 ms doubling to 30 s. */
  restartDelayMs(): number {
    if (this.child !== undefined || this.quickDeaths === 0) return 0;
    return Math.min(30_000, 500 * 2 ** Math.min(this.quickDeaths - 1, 10));
  }

  private async start(): Promise<ChildProcess> {
    const [cmd, ...args] = this.argv as [string, ...string[]];
    const c = spawn(cmd, args, { stdio: ["pipe", "ignore", "pipe"], shell: false, windowsHide: true });
    this.starts++;
    this.startedAt = Date.now();
    c.stdin?.on("error", () => undefined);
    let buf = "";
    let skipping = false;
    c.stderr?.setEncoding("utf8");
    c.stderr?.on("data", (chunk: string) => {
      let rest = chunk;
      for (;;) {
        const nl = rest.indexOf("\n");
        const part = nl < 0 ? rest : rest.slice(0, nl);
        if (!skipping) buf += part.slice(0, STDERR_LINE_MAX - buf.length);
        if (nl < 0) {
          if (buf.length >= STDERR_LINE_MAX) skipping = true;
          return;
        }
        if (buf !== "") this.onLine(buf);
        buf = "";
        skipping = false;
        rest = rest.slice(nl + 1);
      }
    });
    this.exited = new Promise((resolve) => {
      c.once("close", (code) => {
        if (this.child === c) this.child = undefined;
        this.quickDeaths = Date.now() - this.startedAt < 2000 ? this.quickDeaths + 1 : 0;
        if (buf !== "") this.onLine(buf);
        resolve(code);
      });
      c.once("error", () => {
        if (this.child === c) this.child = undefined;
        resolve(null);
      });
    });
    await new Promise<void>((resolve, reject) => {
      c.once("spawn", resolve);
      c.once("error", (err) => reject(new RetryableError(`cannot start ${cmd}: ${err.message}`, { cause: err })));
    });
    this.child = c;
    return c;
  }

  /** Writes `text`; resolves when the pipe took it. Rejects (retryable) when the process is gone. */
  async write(text: string, signal: AbortSignal, slowMs: number, onSlow: () => void): Promise<void> {
    const c = this.child ?? (await this.start());
    const stdin = c.stdin;
    if (stdin === null || stdin.destroyed) throw new RetryableError(`${this.argv[0]}: stdin is closed`);
    const gone = this.exited ?? Promise.resolve(null);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        stdin.write(text, "utf8", (err) => (err ? reject(new RetryableError(`writing to ${this.argv[0]}: ${err.message}`, { cause: err })) : resolve()));
        void gone.then((code) => reject(new RetryableError(`${this.argv[0]} exited (${code ?? "signal"}) before taking the batch`)));
        timer = setInterval(onSlow, slowMs);
        onAbort = () => reject(new Error("output shutting down"));
        signal.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      clearInterval(timer);
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }

  /** Closes stdin (the helper sends what it holds and exits) and waits up to `ms`; kills it after. */
  async finish(ms: number): Promise<void> {
    const c = this.child;
    const gone = this.exited;
    if (c === undefined || gone === undefined) return;
    c.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    if (!inTime) {
      c.kill("SIGKILL");
      await gone;
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class SyslogOutput extends QueuedOutput {
  readonly name = "syslog_output";
  private readonly target: SyslogTarget;
  private readonly remote: RemoteSyslog | undefined;
  private readonly format: SyslogLocalFormat;
  private readonly recheckMs: number;
  private writer: LocalWriter | undefined;
  private proc: WriterProcess | undefined;
  /** Why the local socket cannot be written to now (undefined: it can), and when to look again. */
  private unavailable: { reason: string; missing: string[] } | undefined;
  private nextCheck = 0;
  /** Alerts counted failed here while the socket or helper was missing (the base counted them sent). */
  private failedHere = 0;
  /** Alerts vigil-syslog reported dropped after taking them (the base counted them sent). */
  private droppedByHelper = 0;

  constructor(
    private readonly cfg: Pick<SyslogSinkConfig, "address" | "facility" | "ca_file" | "cert_file" | "key_file"> & { format?: SyslogLocalFormat },
    private readonly output: OutputConfig,
    logger: Logger,
    private readonly opts: SyslogOutputOptions = {},
  ) {
    const log = logger.child({ output: "syslog_output" });
    super({ capacity: output.queue_capacity, maxBatch: 100, retry: { minMs: 500, maxMs: 30_000 }, logger: log });
    this.target = parseSyslogTarget(cfg.address);
    this.format = opts.localFormat ?? cfg.format ?? "local";
    this.recheckMs = opts.recheckMs ?? RECHECK_MS;
    if (this.target.kind === "local") {
      if (!this.lookUp()) this.warnUnavailable();
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

  /** The program writing to the local socket: vigil-syslog, logger, or none (yet). */
  get localWriter(): "vigil-syslog" | "logger" | undefined {
    return this.writer?.kind;
  }

  /** The helper's pid while it runs. */
  get helperPid(): number | undefined {
    return this.proc?.pid;
  }

  /** The counters; alerts the helper dropped, or that found no socket, are not `sent`. */
  override stats(): OutputStats {
    const s = super.stats();
    return {
      ...s,
      sent: Math.max(0, s.sent - this.failedHere - this.droppedByHelper),
      failed: s.failed + this.failedHere,
      dropped: s.dropped + this.droppedByHelper,
    };
  }

  /** Finds the writer and the socket; sets {@link unavailable} and returns false when one is missing. */
  private lookUp(): boolean {
    const path = (this.target as { path: string }).path;
    if (this.writer === undefined) {
      const helper = this.opts.helperPath === null ? undefined : (this.opts.helperPath ?? defaultSyslogHelperPath());
      const lg = this.opts.loggerPath === null ? undefined : (this.opts.loggerPath ?? LOGGER_PATHS.find((p) => existsSync(p)));
      if (helper !== undefined && existsSync(helper)) {
        const holdMs = this.opts.helperHoldMs ?? HELPER_HOLD_MS;
        // at stdin EOF (shutdown) it sends what it holds for up to half the output timeout
        const drainMs = Math.max(0, Math.floor(this.output.timeout_ms / 2));
        this.writer = {
          kind: "vigil-syslog",
          argv: [helper, "--max-bytes", String(HELPER_MAX_BYTES), "--hold-ms", String(holdMs), "--drain-ms", String(drainMs), path],
        };
      } else if (lg !== undefined && existsSync(lg)) {
        const argv = [lg, "--socket", path, "--socket-errors=on", "--prio-prefix", "--tag", SYSLOG_APP_NAME, "--size", String(LOCAL_MAX_BYTES + 64)];
        if (this.format === "rfc5424") argv.push("--rfc5424=notq");
        this.writer = { kind: "logger", argv };
      } else {
        const looked = [
          ...(helper !== undefined ? [helper] : []),
          ...(this.opts.loggerPath === null ? [] : this.opts.loggerPath !== undefined ? [this.opts.loggerPath] : LOGGER_PATHS),
        ];
        this.unavailable = { reason: "neither vigil-syslog nor util-linux's logger was found", missing: looked };
        return false;
      }
      const w = this.writer;
      this.proc = new WriterProcess(w.argv, (line) => this.helperSaid(w.kind, line));
    }
    if (!existsSync(path)) {
      this.unavailable = { reason: "the syslog socket does not exist", missing: [path] };
      return false;
    }
    this.unavailable = undefined;
    return true;
  }

  /** One warning: what is missing, and that alerts count as failed until it is there. */
  private warnUnavailable(): void {
    const u = this.unavailable;
    if (u === undefined || this.target.kind !== "local") return;
    this.log.warn(
      { output: this.name, socket: this.target.path, reason: u.reason, missing: u.missing, recheck_ms: this.recheckMs },
      "syslog_output cannot write to the local syslog socket: its alerts count as failed until it can (looked for again periodically)",
    );
  }

  /** A line on the helper's stderr: drop counts are counted, everything is logged. */
  private helperSaid(kind: LocalWriter["kind"], line: string): void {
    const m = kind === "vigil-syslog" ? /^vigil-syslog: dropped=(\d+) /.exec(line) : null;
    if (m !== null) {
      const n = Number(m[1]);
      this.droppedByHelper += n;
      if (n > 0) this.log.warn({ output: this.name, helper: line }, "vigil-syslog dropped alerts it could not send to the syslog socket");
      return;
    }
    this.warnOnce(`helper:${line.slice(0, 40)}`, { writer: kind, helper: line }, "the syslog writer reports");
  }

  protected async deliver(batch: readonly Alert[], signal: AbortSignal): Promise<void> {
    if (this.target.kind === "local") {
      if (this.unavailable !== undefined) {
        const now = Date.now();
        if (now < this.nextCheck || !this.lookUp()) {
          if (now >= this.nextCheck) this.nextCheck = now + this.recheckMs;
          this.failedHere += batch.length;
          return;
        }
        this.log.info(
          { output: this.name, socket: this.target.path, writer: this.writer?.kind },
          "syslog_output: the local syslog socket is there: delivering",
        );
      }
      const w = this.writer as LocalWriter;
      const proc = this.proc as WriterProcess;
      const now = new Date();
      let text = "";
      for (const a of batch) {
        const pri = this.cfg.facility * 8 + (priorityNumber(a.priority) ?? 5);
        const body = cutBytes(oneLine(formatFalco(a, this.output)), LOCAL_MAX_BYTES);
        text += `${w.kind === "vigil-syslog" ? formatLocalMessage(pri, body, this.format, now) : `<${pri}>${body}`}\n`;
      }
      const delay = proc.restartDelayMs();
      if (delay > 0) {
        // logger exits at once when the socket is gone: is it still there?
        if (!existsSync(this.target.path)) {
          this.unavailable = { reason: "the syslog socket does not exist", missing: [this.target.path] };
          this.nextCheck = Date.now() + this.recheckMs;
          this.warnUnavailable();
          this.failedHere += batch.length;
          return;
        }
        this.warnOnce("restart", { writer: w.argv[0], delay_ms: delay }, "the syslog writer keeps exiting: restarting it with backoff");
        await abortableSleep(delay, signal);
        if (signal.aborted) throw new Error("output shutting down");
      }
      await proc.write(text, signal, this.output.timeout_ms, () =>
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
    await this.proc?.finish(this.output.timeout_ms);
    await this.remote?.close();
  }
}
