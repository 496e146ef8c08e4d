// SPDX-License-Identifier: Apache-2.0
/**
 * The Fargate source: frames from `vigil-trace` processes on a unix socket in a volume shared
 * with the workload (see native-bridge/trace/README.md). Each tracer connection is one stream
 * with an {@link EventAssembler} of its own, so its own decoder and process state (a tracer sees
 * its own process tree only, and its pids are those of its PID namespace). Frames a tracer could not send while the agent was away are
 * reported in its stats frames: they are counted as `lost_events` and raise the same "events
 * lost" callback the kernel probe's drops do.
 */
import type { Logger } from "pino";
import { EventAssembler } from "../assembler.js";
import type { ControlInfo } from "../decode/index.js";
import { startTraceSocket, type TraceSocketServer } from "../inject/trace-socket.js";
import type { EventSource, SourceContext } from "./types.js";

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
  /** Counts of ended connections (live ones are added in stats()); `event_errors` as they happen. */
  private readonly counters = { connections: 0, events: 0, event_errors: 0, lost_events: 0, decode_errors: 0 };
  private readonly live = new Set<EventAssembler>();
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
    let lastLost = 0;
    const asm = new EventAssembler({
      onEvent: this.ctx.onEvent,
      resolveContainer: this.ctx.resolveContainer,
      // pids are the tracer's namespace's: the agent's /proc would describe other processes
      state: { max: this.o.maxProcessesPerConnection ?? 8192, readUnknownFromProc: false },
      onBuildError: this.eventError,
      onControl: (c: ControlInfo) => {
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
    this.live.add(asm);
    return {
      push: (chunk: Uint8Array) => asm.push(chunk),
      end: () => {
        if (!this.live.delete(asm)) return;
        this.counters.events += asm.counters.events;
        this.counters.decode_errors += asm.decodeErrors();
      },
    };
  }

  private readonly eventError = (err: unknown): void => {
    this.counters.event_errors++;
    if (!this.errorLogged) {
      this.errorLogged = true;
      this.log.error({ err }, "tracer event could not be built (logged once)");
    }
  };

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  stats(): Record<string, number> {
    const out = { ...this.counters };
    for (const a of this.live) out.events += a.counters.events;
    return { ...out, ...(this.server?.stats() ?? {}) };
  }
}
