// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `program_output`: alerts written to a program's stdin, one line each. The program is an
 * argv list run without a shell (`spawn(argv[0], argv.slice(1))`): alert text, which an attacker
 * can shape, only ever reaches the program's stdin, never a command line. (Falco's `program` is a
 * shell command line; `vigil agent --falco-config` maps a simple one onto an argv list.)
 *
 * - `keep_alive`: one long-lived process. When it dies it is started again at the next batch; a
 *   batch it did not take is retried with backoff (so a program that keeps dying is restarted at
 *   most every few seconds, up to 30 s apart). Without `keep_alive`, as Falco does, one process per
 *   batch: the batch is written, stdin closed, and the process waited for.
 * - A program that does not read never makes memory grow: one batch at a time is written and the
 *   next waits until the pipe took it, while new alerts wait in the bounded queue (the oldest
 *   dropped and counted past it). A per-batch process that has not taken its batch and exited
 *   within `output.timeout_ms` is killed and its batch counted failed; a stuck long-lived one is
 *   logged (once per 30 s) and waited for.
 * - The program's stdout and stderr are the agent's (as with Falco's popen).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "pino";
import type { Alert } from "../../../proto/index.js";
import type { OutputConfig, ProgramSinkConfig } from "../../config/outputs-schema.js";
import { formatFalco } from "./falco-format.js";
import { BUFFERED_LINGER_MS } from "./file-output.js";
import { QueuedOutput, RetryableError } from "./queued-output.js";

/** A process that exits within this long of its start counts toward the restart backoff. */
const QUICK_DEATH_MS = 2000;

/** argv checked: a non-empty list of non-empty strings without NUL. */
export function checkArgv(argv: readonly string[], what: string): void {
  if (argv.length === 0) throw new Error(`${what}: program is empty (an argv list: the program and its arguments)`);
  for (const a of argv) {
    if (typeof a !== "string" || a.length === 0 || a.includes("\0")) throw new Error(`${what}: argument ${JSON.stringify(a)} is empty or holds a NUL`);
  }
}

/** A child fed lines on stdin: started, written to, watched. */
export class LineChild {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  /** How many processes were started. */
  starts = 0;
  private startedAt = 0;
  /** Processes in a row that died within {@link QUICK_DEATH_MS} of their start. */
  private quickDeaths = 0;

  constructor(
    private readonly argv: readonly string[],
    private readonly stdio: "inherit" | "ignore",
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * How long to wait before starting the process again: nothing the first time or after a process
   * that lived a while; doubled from 500 ms up to 30 s for each one in a row that died at once.
   */
  restartDelayMs(): number {
    if (this.child !== undefined || this.quickDeaths === 0) return 0;
    return Math.min(30_000, 500 * 2 ** Math.min(this.quickDeaths - 1, 10));
  }

  /** Starts the process; rejects (retryable) when it cannot be started. */
  async start(): Promise<ChildProcess> {
    const [cmd, ...args] = this.argv as [string, ...string[]];
    const c = spawn(cmd, args, { stdio: ["pipe", this.stdio, this.stdio], shell: false, windowsHide: true });
    this.starts++;
    this.startedAt = Date.now();
    // EPIPE and the like surface through write callbacks and the exit below
    c.stdin?.on("error", () => undefined);
    this.exited = new Promise((resolve) => {
      c.once("close", (code) => {
        if (this.child === c) this.child = undefined;
        this.quickDeaths = Date.now() - this.startedAt < QUICK_DEATH_MS ? this.quickDeaths + 1 : 0;
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

  /**
   * Writes `text` to the process's stdin; resolves when the pipe took it all. Rejects (retryable)
   * when the process is gone before; `onSlow` is called each `slowMs` it waits.
   */
  async write(text: string, signal: AbortSignal, slowMs: number, onSlow: () => void): Promise<void> {
    const c = this.child ?? (await this.start());
    const stdin = c.stdin;
    if (stdin === null || stdin.destroyed) throw new RetryableError("the program's stdin is closed");
    const gone = this.exited ?? Promise.resolve(null);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        stdin.write(text, "utf8", (err) => (err ? reject(new RetryableError(`writing to the program: ${err.message}`, { cause: err })) : resolve()));
        void gone.then((code) => reject(new RetryableError(`the program exited (${code ?? "signal"}) before taking the batch`)));
        timer = setInterval(onSlow, slowMs);
        onAbort = () => reject(new Error("output shutting down"));
        signal.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      clearInterval(timer);
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }

  /** Closes stdin and waits up to `ms` for the exit; kills the process after. Resolves to whether it exited in time. */
  async finish(ms: number): Promise<boolean> {
    const c = this.child;
    const gone = this.exited;
    if (c === undefined || gone === undefined) return true;
    c.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    if (!inTime) {
      c.kill("SIGKILL");
      await gone;
    }
    return inTime;
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

export class ProgramOutput extends QueuedOutput {
  readonly name = "program_output";
  private readonly child: LineChild;

  constructor(
    private readonly cfg: Pick<ProgramSinkConfig, "program" | "keep_alive">,
    private readonly output: OutputConfig,
    logger: Logger,
    opts: { stdio?: "inherit" | "ignore" } = {},
  ) {
    super({
      capacity: output.queue_capacity,
      maxBatch: 1000,
      retry: { minMs: 500, maxMs: 30_000 },
      lingerMs: output.buffered ? BUFFERED_LINGER_MS : 0,
      logger: logger.child({ output: "program_output" }),
    });
    checkArgv(cfg.program, "program_output");
    this.child = new LineChild(cfg.program, opts.stdio ?? "inherit");
  }

  /** Processes started so far (restarts included). */
  get starts(): number {
    return this.child.starts;
  }

  /** The long-lived process's pid (keep_alive). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  protected async deliver(batch: readonly Alert[], signal: AbortSignal): Promise<void> {
    let text = "";
    for (const a of batch) text += `${formatFalco(a, this.output)}\n`;
    const slow = () => this.warnOnce("slow", { program: this.cfg.program[0] }, "the program is not reading its stdin: alerts wait in the queue");
    if (this.cfg.keep_alive) {
      const delay = this.child.restartDelayMs();
      if (delay > 0) {
        this.warnOnce("restart", { program: this.cfg.program[0], delay_ms: delay }, "the program keeps exiting: restarting it with backoff");
        await abortableSleep(delay, signal);
        if (signal.aborted) throw new Error("output shutting down");
      }
      await this.child.write(text, signal, this.output.timeout_ms, slow);
      return;
    }
    // one process per batch: started, fed, stdin closed, waited for
    let took = false;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const deadline = setTimeout(() => ctl.abort(), this.output.timeout_ms);
    try {
      await this.child.write(text, ctl.signal, this.output.timeout_ms, () => undefined);
      took = true;
    } catch (err) {
      if (!ctl.signal.aborted) throw err;
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener("abort", onAbort);
    }
    const exited = await this.child.finish(took ? this.output.timeout_ms : 0);
    if (!took) throw new Error(`the program did not take its batch within ${this.output.timeout_ms} ms: killed`);
    if (!exited) this.warnOnce("late", { program: this.cfg.program[0] }, "the program did not exit within the output timeout after its batch: killed");
  }

  protected async close(): Promise<void> {
    await this.child.finish(this.output.timeout_ms);
  }
}
