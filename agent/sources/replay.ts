// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent --source replay:FILE`: re-runs the rules over an audit capture. The capture's
 * events become {@link SyscallEvent}s again — process facts, parent name/exe path, fd and the
 * container (with its Kubernetes facts) rebuilt from what was recorded — and are handed to the
 * pipeline in recorded order. Works on a capture file or on a blob fetched from a collector.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { ContainerInfo, FdInfo, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { decodeCapture, F, type CaptureContainer, type CaptureFile, type EventTuple } from "../../proto/index.js";
import type { EventSource, SourceContext } from "./types.js";

/** The container a capture describes, as the rule engine reads it. */
export function containerFromCapture(c: CaptureContainer): ContainerInfo {
  const host = c.id === "host";
  return {
    id: c.id,
    fullId: c.fullId,
    name: c.name ?? undefined,
    type: c.type,
    image: c.image ?? undefined,
    imageRepository: c.imageRepository ?? undefined,
    imageTag: c.imageTag ?? undefined,
    imageDigest: c.imageDigest ?? undefined,
    imageId: undefined,
    privileged: c.privileged ?? undefined,
    hostPid: undefined,
    hostNetwork: undefined,
    hostIpc: undefined,
    user: undefined,
    labels: new Map(Object.entries(c.labels ?? {})),
    mounts: [],
    startTs: undefined,
    k8s:
      c.k8s && !host
        ? {
            podName: c.k8s.podName ?? undefined,
            namespace: c.k8s.namespace ?? undefined,
            podUid: c.k8s.podUid ?? undefined,
            sandboxId: undefined,
            podLabels: new Map(Object.entries(c.k8s.podLabels ?? {})),
            podIp: undefined,
            containerName: c.k8s.containerName ?? undefined,
          }
        : undefined,
    metaMissing: false,
  };
}

function thread(t: EventTuple, container: ContainerInfo, parent: ThreadInfo | undefined, complete: boolean): ThreadInfo {
  return {
    tid: t[F.tid],
    pid: t[F.pid],
    ppid: t[F.ppid],
    vpid: t[F.vpid],
    vtid: t[F.vpid],
    sid: 0,
    pgid: t[F.pid],
    vpgid: t[F.vpid],
    comm: t[F.comm],
    exe: t[F.exe],
    exepath: t[F.exepath],
    args: t[F.procArgs] ?? [],
    env: [],
    cwd: t[F.cwd],
    tty: t[F.tty],
    uid: t[F.uid],
    gid: t[F.gid],
    euid: t[F.euid],
    egid: t[F.gid],
    loginuid: t[F.loginuid],
    startTs: t[F.startTs] ?? 0,
    execTs: 0,
    cgroupId: 0,
    exeUpperLayer: undefined,
    exeLowerLayer: undefined,
    exeFromMemfd: undefined,
    exeWritable: undefined,
    exeIno: undefined,
    exeInoCtime: undefined,
    exeInoMtime: undefined,
    capEffective: undefined,
    capPermitted: undefined,
    capInheritable: undefined,
    pidnsInitStartTs: undefined,
    user: { uid: t[F.uid], name: undefined, homedir: undefined, shell: undefined },
    group: { gid: t[F.gid], name: undefined },
    loginUser: undefined,
    parent,
    container,
    complete,
  };
}

/** The capture's events as SyscallEvents (fresh objects, in recorded order). */
export function eventsFromCapture(c: CaptureFile): SyscallEvent[] {
  const container = containerFromCapture(c.container);
  const out: SyscallEvent[] = [];
  for (const t of c.events) {
    const parentTuple = [...t] as EventTuple;
    parentTuple[F.tid] = t[F.ppid];
    parentTuple[F.pid] = t[F.ppid];
    parentTuple[F.ppid] = 0;
    parentTuple[F.comm] = t[F.pcomm];
    parentTuple[F.exe] = t[F.pexepath];
    parentTuple[F.exepath] = t[F.pexepath];
    parentTuple[F.procArgs] = [];
    const parent = t[F.pcomm] !== "" || t[F.pexepath] !== "" ? thread(parentTuple, container, undefined, false) : undefined;
    const fd: FdInfo | undefined =
      t[F.fdNum] >= 0 || t[F.fdName] !== ""
        ? {
            num: t[F.fdNum],
            type: t[F.fdType],
            typechar: t[F.fdTypechar],
            name: t[F.fdName],
            ino: undefined,
            dev: undefined,
            isUpperLayer: undefined,
            l4proto: undefined,
            tuple: undefined,
            isServer: undefined,
            connected: undefined,
            nameChanged: undefined,
            openFlags: undefined,
          }
        : undefined;
    out.push({
      num: t[F.num],
      sec: t[F.sec],
      nsec: t[F.nsec],
      bootNs: t[F.bootNs],
      type: t[F.type],
      cpu: t[F.cpu],
      res: t[F.res],
      args: t[F.args].map((a) => (a === null ? undefined : a)),
      proc: thread(t, container, parent, true),
      fd,
      source: "syscall",
    });
  }
  return out;
}

/** Counters of a replay. */
export interface ReplayStats {
  events: number;
  errors: number;
  [k: string]: number;
}

/** A source replaying one capture file (or blob) into the pipeline. */
export class ReplaySource implements EventSource {
  readonly name = "replay";
  private readonly counters: ReplayStats = { events: 0, errors: 0 };
  private stopped = false;
  /** Resolves when every event was handed over. */
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(
    private readonly input: { file: string } | { data: Uint8Array },
    private readonly onEvent: (e: SyscallEvent) => void,
    private readonly logger: Logger,
  ) {
    this.done = new Promise((r) => (this.markDone = r));
  }

  /** Decodes the capture and replays every event, then resolves. Throws on a bad capture. */
  async start(): Promise<void> {
    const data = "file" in this.input ? await readFile(this.input.file) : this.input.data;
    const cap = await decodeCapture(data);
    const events = eventsFromCapture(cap);
    this.logger.info({ events: events.length, alertId: cap.alertId, container: cap.container.id }, "replaying capture");
    for (const e of events) {
      if (this.stopped) break;
      try {
        this.onEvent(e);
        this.counters.events++;
      } catch (err) {
        this.counters.errors++;
        if (this.counters.errors === 1) this.logger.error({ err }, "replayed event failed (logged once)");
      }
    }
    this.markDone();
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }
}

/** The pipeline's source factory for `--source replay:FILE`. */
export function createReplaySource(ctx: SourceContext, file: string): ReplaySource {
  return new ReplaySource({ file }, ctx.onEvent, ctx.logger);
}
