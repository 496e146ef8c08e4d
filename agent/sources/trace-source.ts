// SPDX-License-Identifier: Apache-2.0
/**
 * The Fargate source: frames from `vigil-trace` processes on a unix socket in a volume shared
 * with the workload (see native-bridge/trace/README.md). Each tracer connection is one stream
 * with its own decoder and process state (a tracer sees its own process tree only, and its pids
 * are those of its PID namespace). Frames a tracer could not send while the agent was away are
 * reported in its stats frames: they are counted as `lost_events` and raise the same "events
 * lost" callback the kernel probe's drops do.
 */
import type { Logger } from "pino";
import type { SyscallEvent } from "../../rules/event.js";
import { DecodeErrorCode, FrameDecoder, type ControlInfo } from "../decode/index.js";
import { startTraceSocket, type TraceSocketServer } from "../inject/trace-socket.js";
import type { EventSource, SourceContext } from "../pipeline.js";
import { EventState } from "../state/index.js";

export interface TraceSourceOptions {
  /** The socket path in the shared volume. */
  path: string;
  /** Tracer connections at once (default 256). */
  maxConnections?: number;
  /** Processes kept per connection (default 8192). */
  maxProcessesPerConnection?: number;
  /** Called when a tracer reports events it could not deliver (once per report that grew). */
  onLost?: (info: { connection: number; lost: number; total: number }) => void;
}

/** Frames from vigil-trace over the shared unix socket, as an event source. */
export class TraceSource implements EventSource {
  readonly name = "ptrace";
  private server: TraceSocketServer | undefined;
  private readonly log: Logger;
  private readonly counters = { connections: 0, events: 0, event_errors: 0, lost_events: 0, decode_errors: 0 };
  private readonly decoders = new Set<FrameDecoder>();
  private errorLogged = false;

  constructor(
    private readonly ctx: SourceContext,
    private readonly o: TraceSourceOptions,
  ) {
    this.log = ctx.logger.child({ component: "ptrace" });
  }

  async start(): Promise<void> {
    this.server = await startTraceSocket({
      path: this.o.path,
      logger: this.log,
      ...(this.o.maxConnections !== undefined ? { maxConnections: this.o.maxConnections } : {}),
      onConnection: (id) => this.connection(id),
    });
    this.log.info({ socket: this.o.path }, "waiting for vigil-trace connections");
  }

  private connection(id: number) {
    this.counters.connections++;
    const state = new EventState({
      max: this.o.maxProcessesPerConnection ?? 8192,
      // pids are the tracer's namespace's: the agent's /proc would describe other processes
      readUnknownFromProc: false,
      ...(this.ctx.resolveContainer !== undefined ? { resolveContainer: this.ctx.resolveContainer } : {}),
    });
    let lastLost = 0;
    const onEvent = this.ctx.onEvent;
    const dec = new FrameDecoder({
      onEvent: (r) => {
        let e: SyscallEvent;
        try {
          e = state.build(r);
        } catch (err) {
          this.eventError(err);
          return;
        }
        this.counters.events++;
        onEvent(e);
      },
      onControl: (c: ControlInfo) => {
        state.clock(c);
        if (c.type === "stats" && c.drops > lastLost) {
          const lost = c.drops - lastLost;
          lastLost = c.drops;
          this.counters.lost_events += lost;
          this.log.warn({ connection: id, lost, total: c.drops }, "vigil-trace reports events it could not deliver");
          try {
            this.o.onLost?.({ connection: id, lost, total: c.drops });
          } catch (err) {
            this.log.error({ err }, "lost-events callback failed");
          }
        }
      },
    });
    this.decoders.add(dec);
    return {
      push: (chunk: Uint8Array) => dec.push(chunk),
      end: () => {
        const st = dec.stats();
        for (const code of Object.values(DecodeErrorCode)) this.counters.decode_errors += st[code] ?? 0;
        this.decoders.delete(dec);
      },
    };
  }

  private eventError(err: unknown): void {
    this.counters.event_errors++;
    if (!this.errorLogged) {
      this.errorLogged = true;
      this.log.error({ err }, "tracer event could not be built (logged once)");
    }
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  stats(): Record<string, number> {
    return { ...this.counters, ...(this.server?.stats() ?? {}) };
  }
}
