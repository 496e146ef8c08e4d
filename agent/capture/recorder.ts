// SPDX-License-Identifier: Apache-2.0
/**
 * Audit captures: a bounded ring of recent events per container, and the window around an
 * alert taken from it.
 *
 * `record(e)` is on the agent's hot path. It copies a compact tuple of the event into a slot the
 * ring allocated once and reuses (numbers and references to immutable strings; the param values
 * are copied into the slot's own array), so recording allocates nothing in the steady state and
 * never serialises. Only while a capture is collecting its "after" window for a container are
 * events of that container also copied into that capture.
 *
 * `capture({ alertId, containerId, durationMs })` takes the ring's content (the events before
 * the alert), keeps collecting that container's events for `durationMs` (Falco's
 * `capture_duration`, ms), then encodes the whole window with msgpackr and gzip.
 */
import { hostname as osHostname } from "node:os";
import type { Logger } from "pino";
import type { ContainerInfo, SyscallEvent } from "../../rules/event.js";
import { F, encodeCapture, type CaptureContainer, type CaptureFile, type EventTuple } from "./format.js";

/** A finished capture, ready to ship with its alert (the shape the collector sink takes). */
export interface CaptureResult {
  alertId: string;
  data: Buffer;
  eventCount: number;
  containerId: string;
}

/** Options of {@link CaptureRecorder}. */
export interface CaptureRecorderOptions {
  /** Events kept per container. Default 256. */
  perContainer?: number;
  /** Containers with a ring; past this the least recently created ring is dropped. Default 512. */
  maxContainers?: number;
  /** Events collected after an alert, at most. Default 10,000. */
  maxAfterEvents?: number;
  /** Longest "after" window (ms). Default 60 s. */
  maxDurationMs?: number;
  /** Captures collecting at once; more are refused (counted). Default 32. */
  maxActive?: number;
  logger: Logger;
  hostname?: string;
}

/** One reused slot. */
interface Slot {
  t: EventTuple;
}

interface Watcher {
  events: EventTuple[];
  max: number;
  overflow: number;
}

class Ring {
  readonly slots: Slot[] = [];
  head = 0;
  size = 0;
  watchers: Watcher[] = [];
  constructor(
    readonly cap: number,
    public container: ContainerInfo,
  ) {}
}

function newTuple(): EventTuple {
  return [0, 0, 0, 0, 0, 0, [], 0, 0, 0, 0, 0, 0, 0, 0, "", "", "", [], "", 0, "", "", -1, "", "", "", 0, 0];
}

/** Fills `t` from `e` in place (no allocation once `t.args` has grown). */
function fill(t: EventTuple, e: SyscallEvent): void {
  const p = e.proc;
  t[F.sec] = e.sec;
  t[F.nsec] = e.nsec;
  t[F.bootNs] = e.bootNs;
  t[F.type] = e.type;
  t[F.cpu] = e.cpu;
  t[F.res] = e.res;
  const args = t[F.args];
  const n = e.args.length;
  for (let i = 0; i < n; i++) args[i] = e.args[i];
  args.length = n;
  t[F.tid] = p.tid;
  t[F.pid] = p.pid;
  t[F.ppid] = p.ppid;
  t[F.vpid] = p.vpid;
  t[F.uid] = p.uid;
  t[F.gid] = p.gid;
  t[F.euid] = p.euid;
  t[F.loginuid] = p.loginuid;
  t[F.comm] = p.comm;
  t[F.exe] = p.exe;
  t[F.exepath] = p.exepath;
  t[F.procArgs] = p.args;
  t[F.cwd] = p.cwd;
  t[F.tty] = p.tty;
  t[F.pcomm] = p.parent?.comm ?? "";
  t[F.pexepath] = p.parent?.exepath ?? "";
  const fd = e.fd;
  if (fd) {
    t[F.fdNum] = fd.num;
    t[F.fdType] = fd.type;
    t[F.fdTypechar] = fd.typechar;
    t[F.fdName] = fd.name;
  } else {
    t[F.fdNum] = -1;
    t[F.fdType] = "";
    t[F.fdTypechar] = "";
    t[F.fdName] = "";
  }
  t[F.num] = e.num;
  t[F.startTs] = p.startTs;
}

function copyTuple(t: EventTuple): EventTuple {
  const c = t.slice() as EventTuple;
  c[F.args] = t[F.args].slice();
  return c;
}

const mapToObj = (m: ReadonlyMap<string, string> | undefined): Record<string, string> => (m ? Object.fromEntries(m) : {});

function containerFacts(c: ContainerInfo): CaptureContainer {
  return {
    id: c.id,
    fullId: c.fullId,
    name: c.name ?? null,
    type: c.type,
    image: c.image ?? null,
    imageRepository: c.imageRepository ?? null,
    imageTag: c.imageTag ?? null,
    imageDigest: c.imageDigest ?? null,
    privileged: c.privileged ?? null,
    labels: mapToObj(c.labels),
    k8s: c.k8s
      ? {
          podName: c.k8s.podName ?? null,
          namespace: c.k8s.namespace ?? null,
          podUid: c.k8s.podUid ?? null,
          containerName: c.k8s.containerName ?? null,
          podLabels: mapToObj(c.k8s.podLabels),
        }
      : null,
  };
}

/** Per-container rings of recent events, and captures around alerts. */
export class CaptureRecorder {
  private readonly rings = new Map<string, Ring>();
  private readonly perContainer: number;
  private readonly maxContainers: number;
  private readonly maxAfter: number;
  private readonly maxDuration: number;
  private readonly maxActive: number;
  private readonly host: string;
  private active = 0;
  readonly counters = { recorded: 0, rings: 0, rings_evicted: 0, captures: 0, captures_refused: 0, after_overflow: 0, encode_errors: 0 };

  constructor(private readonly o: CaptureRecorderOptions) {
    this.perContainer = Math.max(1, o.perContainer ?? 256);
    this.maxContainers = Math.max(1, o.maxContainers ?? 512);
    this.maxAfter = o.maxAfterEvents ?? 10_000;
    this.maxDuration = o.maxDurationMs ?? 60_000;
    this.maxActive = o.maxActive ?? 32;
    this.host = o.hostname ?? process.env["NODE_NAME"] ?? osHostname();
  }

  /** Hot path: records one event into its container's ring. */
  record(e: SyscallEvent): void {
    const c = e.proc.container;
    let ring = this.rings.get(c.id);
    if (ring === undefined) ring = this.newRing(c);
    else if (ring.container !== c) ring.container = c;
    let slot: Slot;
    if (ring.slots.length < ring.cap) {
      slot = { t: newTuple() };
      ring.slots.push(slot);
    } else slot = ring.slots[ring.head]!;
    fill(slot.t, e);
    ring.head = (ring.head + 1) % ring.cap;
    if (ring.size < ring.cap) ring.size++;
    this.counters.recorded++;
    if (ring.watchers.length > 0) {
      for (const w of ring.watchers) {
        if (w.events.length < w.max) w.events.push(copyTuple(slot.t));
        else w.overflow++;
      }
    }
  }

  private newRing(c: ContainerInfo): Ring {
    if (this.rings.size >= this.maxContainers) {
      // drop the oldest ring that no capture is collecting from
      for (const [id, r] of this.rings) {
        if (r.watchers.length === 0) {
          this.rings.delete(id);
          this.counters.rings_evicted++;
          break;
        }
      }
    }
    const ring = new Ring(this.perContainer, c);
    this.rings.set(c.id, ring);
    this.counters.rings = this.rings.size;
    return ring;
  }

  /** The ring's events, oldest first (copies). */
  private snapshot(ring: Ring): EventTuple[] {
    const out: EventTuple[] = [];
    const start = ring.size < ring.cap ? 0 : ring.head;
    for (let i = 0; i < ring.size; i++) out.push(copyTuple(ring.slots[(start + i) % ring.cap]!.t));
    return out;
  }

  /**
   * Takes a capture for an alert: the container's recent events, then `durationMs` more.
   * Resolves with the encoded capture, or undefined when refused (too many at once; counted).
   */
  async capture(req: { alertId: string; rule: string; containerId: string; durationMs: number }): Promise<CaptureResult | undefined> {
    const ring = this.rings.get(req.containerId);
    if (ring === undefined) return undefined;
    if (this.active >= this.maxActive) {
      this.counters.captures_refused++;
      if (this.counters.captures_refused === 1) this.o.logger.warn({ maxActive: this.maxActive }, "too many captures at once, refusing (logged once)");
      return undefined;
    }
    this.active++;
    const before = this.snapshot(ring);
    const w: Watcher = { events: [], max: this.maxAfter, overflow: 0 };
    ring.watchers.push(w);
    try {
      const ms = Math.max(0, Math.min(this.maxDuration, req.durationMs));
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    } finally {
      ring.watchers.splice(ring.watchers.indexOf(w), 1);
      this.active--;
    }
    if (w.overflow > 0) this.counters.after_overflow += w.overflow;
    const file: CaptureFile = {
      format: "vigil-capture",
      version: 1,
      alertId: req.alertId,
      rule: req.rule,
      hostname: this.host,
      createdAt: new Date().toISOString(),
      container: containerFacts(ring.container),
      alertIndex: before.length,
      events: before.concat(w.events),
    };
    try {
      const data = await encodeCapture(file);
      this.counters.captures++;
      return { alertId: req.alertId, data, eventCount: file.events.length, containerId: req.containerId };
    } catch (err) {
      this.counters.encode_errors++;
      this.o.logger.error({ err }, "capture encoding failed");
      return undefined;
    }
  }

  stats(): Record<string, number> {
    return { ...this.counters, rings: this.rings.size, active: this.active };
  }
}

