// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's own log to the local syslog (`log.syslog`, Falco's `log_syslog`): each pino line
 * (JSON) becomes one syslog(3)-style message, facility daemon, the severity from the pino level,
 * tag `vigil[PID]`, sent by the `vigil-syslog` helper to the local socket (a unix datagram socket
 * Node cannot open). Never blocks and never grows: a line the helper's pipe cannot take at once
 * is dropped and counted; a helper that is missing or dies is said once on stderr and the lines
 * dropped (the log still reaches stderr).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { syslogTimestamp } from "./sinks/outputs/syslog-output.js";

/** syslog facility daemon (3). */
const FACILITY = 3;
/** Longest message body sent (the helper's own cap is 8192 bytes). */
const MAX_BODY = 7900;

/** pino's numeric level → syslog severity. */
function severity(line: string): number {
  const m = /"level":(\d+)/.exec(line.slice(0, 64));
  const l = m ? Number(m[1]) : 30;
  return l >= 60 ? 2 : l >= 50 ? 3 : l >= 40 ? 4 : l >= 30 ? 6 : 7;
}

/** A pino destination writing to syslog through vigil-syslog. */
export class SyslogLogStream {
  private child: ChildProcess | undefined;
  private said = false;
  private closed = false;
  /** Lines dropped (pipe full, helper missing or gone). */
  dropped = 0;
  /** Lines handed to the helper. */
  written = 0;

  constructor(
    private readonly helper: string | undefined,
    private readonly socket: string,
    private readonly warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`),
  ) {}

  private start(): ChildProcess | undefined {
    if (this.child !== undefined || this.closed) return this.child;
    if (this.helper === undefined || !existsSync(this.helper)) {
      this.once(`log_syslog: the vigil-syslog helper is missing (${this.helper ?? "not built"}); logging to stderr only`);
      return undefined;
    }
    const c = spawn(this.helper, [this.socket], { stdio: ["pipe", "ignore", "ignore"] });
    c.on("error", (err) => this.once(`log_syslog: vigil-syslog failed: ${err.message}`));
    c.stdin?.on("error", () => undefined);
    c.on("exit", () => {
      if (this.child === c) this.child = undefined;
    });
    this.child = c;
    return c;
  }

  private once(msg: string): void {
    if (this.said) return;
    this.said = true;
    this.warn(msg);
  }

  write(line: string): void {
    const c = this.start();
    if (c?.stdin === undefined || c.stdin === null || !c.stdin.writable || c.stdin.writableNeedDrain) {
      this.dropped++;
      return;
    }
    const body = line
      .replace(/[\r\n]+/g, " ")
      .trimEnd()
      .slice(0, MAX_BODY);
    c.stdin.write(`<${FACILITY * 8 + severity(line)}>${syslogTimestamp(new Date())} vigil[${process.pid}]: ${body}\n`);
    this.written++;
  }

  /** Closes the helper's stdin (it sends what it holds and exits). */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
  }
}
