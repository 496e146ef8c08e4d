// SPDX-License-Identifier: Apache-2.0
/**
 * The Fargate source: frames from `vigil-trace` processes on a unix socket in a volume shared
 * with the workload (see native-bridge/trace/README.md). Each tracer connection is one stream
 * with an {@link EventAssembler} of its own, so its own decoder and process state (a tracer sees
 * its own process tree only, and its pids are those of its PID namespace). Frames a tracer could not send while the agent was away are
 * reported in its stats frames: they are counted as `lost_events` and raise the same "events
 * lost" callback the kernel probe's drops do.
 *
 * The sidecar has no container runtime to ask, but the injection tells it which pod it watches
 * (downward API: POD_NAMESPACE, POD_NAME, POD_UID): then every traced process belongs to that
 * pod's container (`container.id` from the pod UID, `k8s.ns.name`, `k8s.pod.name`, `k8s.pod.uid`;
 * the container's name is not known, one socket serves every container of the pod), so rules on
 * containers apply to Fargate workloads as they do on nodes. Without it, processes are the host's.
 */
import type { Logger } from "pino";
import { EventAssembler } from "../assembler.js";
import type { ControlInfo } from "../decode/index.js";
import type { ContainerInfo } from "../../rules/event.js";
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
  /** The pod the traced processes run in (an injected sidecar's); overrides the context's resolver. */
  pod?: TracedPod | undefined;
}

/** The pod of an injected sidecar, from the downward API. */
export interface TracedPod {
  namespace: string;
  name: string;
  uid: string;
}

const K8S_NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/** POD_NAMESPACE, POD_NAME and POD_UID (as the injection sets them), or undefined unless all three are valid. */
export function podFromEnv(env: NodeJS.ProcessEnv): TracedPod | undefined {
  const namespace = env["POD_NAMESPACE"] ?? "";
  const name = env["POD_NAME"] ?? "";
  const uid = env["POD_UID"] ?? "";
  if (!K8S_NAME_RE.test(namespace) || !K8S_NAME_RE.test(name) || !UID_RE.test(uid)) return undefined;
  return { namespace, name, uid: uid.toLowerCase() };
}

/** The one container every process of a traced pod is given. */
export function podContainer(p: TracedPod): ContainerInfo {
  const hex = p.uid.replace(/-/g, "");
  return Object.freeze({
    id: hex.slice(0, 12),
    fullId: hex,
    name: undefined,
    type: "vigil-trace",
    image: undefined,
    imageRepository: undefined,
    imageTag: undefined,
    imageDigest: undefined,
    imageId: undefined,
    privileged: undefined,
    hostPid: undefined,
    hostNetwork: undefined,
    hostIpc: undefined,
    user: undefined,
    labels: new Map<string, string>(),
    mounts: [],
    startTs: undefined,
    k8s: Object.freeze({
      podName: p.name,
      namespace: p.namespace,
      podUid: p.uid,
      sandboxId: undefined,
      podLabels: new Map<string, string>(),
      podIp: undefined,
      containerName: undefined,
    }),
    metaMissing: false,
  });
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
  private readonly resolveContainer: SourceContext["resolveContainer"];

  constructor(
    private readonly ctx: SourceContext,
    private readonly o: TraceSourceOptions,
  ) {
    this.log = ctx.logger.child({ component: "ptrace" });
    if (o.pod !== undefined) {
      const c = podContainer(o.pod);
      this.resolveContainer = () => c;
    } else this.resolveContainer = ctx.resolveContainer;
  }

  async start(): Promise<void> {
    this.server = await startTraceSocket({
      path: this.o.path,
      logger: this.log,
      ...(this.o.maxConnections !== undefined ? { maxConnections: this.o.maxConnections } : {}),
      onConnection: (id) => this.connection(id),
    });
    this.log.info({ socket: this.o.path, pod: this.o.pod ?? null }, "waiting for vigil-trace connections");
  }

  private connection(id: number) {
    this.counters.connections++;
    let lastLost = 0;
    const asm = new EventAssembler({
      onEvent: this.ctx.onEvent,
      resolveContainer: this.resolveContainer,
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
