// SPDX-License-Identifier: Apache-2.0
/**
 * Audit captures: a bounded ring of recent events per container, and the window around an
 * alert taken from it.
 *
 * `record(e)` is on the agent's hot path. It copies the event's facts into a slot the ring
 * allocated once and reuses (numbers into a Float64Array, references to immutable strings, the
 * param values into the slot's own array), so recording allocates nothing in the steady state and
 * never serialises; the tuple a capture holds is built only when a capture takes the event. Only while a capture is collecting its "after" window for a container are
 * events of that container also copied into that capture.
 *
 * `capture({ alertId, containerId, durationMs })` takes the ring's content (the events before
 * the alert), keeps collecting that container's events for `durationMs` (Falco's
 * `capture_duration`, ms), then encodes the whole window with msgpackr and gzip.
 */
import { hostname as osHostname } from "node:os";
import type { Logger } from "pino";
import type { ArgValue, ContainerInfo, SyscallEvent } from "../../rules/event.js";
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

/** Numeric facts of a slot, by their index in the {@link EventTuple}. */
const NUM_FIELDS = [F.sec, F.nsec, F.bootNs, F.type, F.cpu, F.res, F.tid, F.pid, F.ppid, F.vpid, F.uid, F.gid, F.euid, F.loginuid, F.tty, F.fdNum, F.num, F.startTs] as const;

/**
 * One reused slot. Numbers go to a Float64Array and strings and arrays to fields: a number stored
 * in a plain array or object field that does not fit a small integer (times, ns since boot,
 * sequence numbers) would be boxed, one allocation per field per event; here nothing is.
 */
class Slot {
  readonly n = new Float64Array(F.startTs + 1);
  readonly args: ArgValue[] = [];
  argc = 0;
  comm = "";
  exe = "";
  exepath = "";
  procArgs: readonly string[] = [];
  cwd = "";
  pcomm = "";
  pexepath = "";
  fdType = "";
  fdTypechar = "";
  fdName = "";

  /** Fills the slot from `e` in place (no allocation once `args` has grown). */
  fill(e: SyscallEvent): void {
    const p = e.proc;
    const n = this.n;
    n[F.sec] = e.sec;
    n[F.nsec] = e.nsec;
    n[F.bootNs] = e.bootNs;
    n[F.type] = e.type;
    n[F.cpu] = e.cpu;
    n[F.res] = e.res;
    const args = this.args;
    const argc = e.args.length;
    for (let i = 0; i < argc; i++) args[i] = e.args[i];
    // drop references to the previous event's longer params
    for (let i = argc; i < this.argc; i++) args[i] = undefined;
    this.argc = argc;
    n[F.tid] = p.tid;
    n[F.pid] = p.pid;
    n[F.ppid] = p.ppid;
    n[F.vpid] = p.vpid;
    n[F.uid] = p.uid;
    n[F.gid] = p.gid;
    n[F.euid] = p.euid;
    n[F.loginuid] = p.loginuid;
    this.comm = p.comm;
    this.exe = p.exe;
    this.exepath = p.exepath;
    this.procArgs = p.args;
    this.cwd = p.cwd;
    n[F.tty] = p.tty;
    this.pcomm = p.parent?.comm ?? "";
    this.pexepath = p.parent?.exepath ?? "";
    const fd = e.fd;
    if (fd) {
      n[F.fdNum] = fd.num;
      this.fdType = fd.type;
      this.fdTypechar = fd.typechar;
      this.fdName = fd.name;
    } else {
      n[F.fdNum] = -1;
      this.fdType = "";
      this.fdTypechar = "";
      this.fdName = "";
    }
    n[F.num] = e.num;
    n[F.startTs] = p.startTs;
  }

  /** The slot's event as a new tuple (its own args array). */
  tuple(): EventTuple {
    const t: EventTuple = [0, 0, 0, 0, 0, 0, this.args.slice(0, this.argc), 0, 0, 0, 0, 0, 0, 0, 0, this.comm, this.exe, this.exepath, this.procArgs, this.cwd, 0, this.pcomm, this.pexepath, 0, this.fdType, this.fdTypechar, this.fdName, 0, 0];
    for (const i of NUM_FIELDS) t[i] = this.n[i] as number;
    return t;
  }
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
      slot = new Slot();
      ring.slots.push(slot);
    } else slot = ring.slots[ring.head]!;
    slot.fill(e);
    ring.head = (ring.head + 1) % ring.cap;
    if (ring.size < ring.cap) ring.size++;
    this.counters.recorded++;
    if (ring.watchers.length > 0) {
      for (const w of ring.watchers) {
        if (w.events.length < w.max) w.events.push(slot.tuple());
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
    for (let i = 0; i < ring.size; i++) out.push(ring.slots[(start + i) % ring.cap]!.tuple());
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

