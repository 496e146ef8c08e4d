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
import { F, encodeCapture, type CaptureContainer, type CaptureFile, type EventTuple } from "../../proto/capture.js";

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
  /** The node name captures carry (the configured `hostname:`). Default os.hostname(). */
  hostname?: string;
}

/** Column of each numeric fact in a slot's run of numbers (named as in {@link F}). */
const NC = {
  sec: 0,
  nsec: 1,
  bootNs: 2,
  type: 3,
  cpu: 4,
  res: 5,
  tid: 6,
  pid: 7,
  ppid: 8,
  vpid: 9,
  uid: 10,
  gid: 11,
  euid: 12,
  loginuid: 13,
  tty: 14,
  fdNum: 15,
  num: 16,
  startTs: 17,
} as const;
/** Column of each text (or argv) fact in a slot's run of strings. */
const TC = { comm: 0, exe: 1, exepath: 2, procArgs: 3, cwd: 4, pcomm: 5, pexepath: 6, fdType: 7, fdTypechar: 8, fdName: 9 } as const;
/** The {@link EventTuple} index of each column. */
const NUM_FIELDS = (Object.keys(NC) as (keyof typeof NC)[]).map((k) => F[k]);
const TEXT_FIELDS = (Object.keys(TC) as (keyof typeof TC)[]).map((k) => F[k]);
const NN = NUM_FIELDS.length;
const NT = TEXT_FIELDS.length;

type Text = string | readonly string[];

interface Watcher {
  events: EventTuple[];
  max: number;
  overflow: number;
}

/**
 * One container's ring, stored by columns: slot i's numbers are `nums[i*NN ..]` in one
 * Float64Array (a number stored in a plain array or object field past the small-integer range —
 * times, ns since boot, sequence numbers — would be boxed, one allocation per field per event;
 * here nothing is), its strings `text[i*NT ..]` in one array, its params in a per-slot array
 * reused. Writing an event touches a few adjacent cache lines, not a scattered slot object.
 */
class Ring {
  readonly nums: Float64Array;
  readonly text: Text[];
  readonly args: ArgValue[][] = [];
  readonly argc: Int32Array;
  head = 0;
  size = 0;
  watchers: Watcher[] = [];
  constructor(
    readonly cap: number,
    public container: ContainerInfo,
  ) {
    this.nums = new Float64Array(cap * NN);
    this.text = new Array<Text>(cap * NT).fill("");
    this.argc = new Int32Array(cap);
  }

  /** Writes `e` into slot `i` in place (no allocation once the slot's params array has grown). */
  fill(i: number, e: SyscallEvent): void {
    const p = e.proc;
    const n = this.nums;
    const o = i * NN;
    n[o + NC.sec] = e.sec;
    n[o + NC.nsec] = e.nsec;
    n[o + NC.bootNs] = e.bootNs;
    n[o + NC.type] = e.type;
    n[o + NC.cpu] = e.cpu;
    n[o + NC.res] = e.res;
    n[o + NC.tid] = p.tid;
    n[o + NC.pid] = p.pid;
    n[o + NC.ppid] = p.ppid;
    n[o + NC.vpid] = p.vpid;
    n[o + NC.uid] = p.uid;
    n[o + NC.gid] = p.gid;
    n[o + NC.euid] = p.euid;
    n[o + NC.loginuid] = p.loginuid;
    n[o + NC.tty] = p.tty;
    n[o + NC.num] = e.num;
    n[o + NC.startTs] = p.startTs;
    const t = this.text;
    const to = i * NT;
    t[to + TC.comm] = p.comm;
    t[to + TC.exe] = p.exe;
    t[to + TC.exepath] = p.exepath;
    t[to + TC.procArgs] = p.args;
    t[to + TC.cwd] = p.cwd;
    const parent = p.parent;
    t[to + TC.pcomm] = parent === undefined ? "" : parent.comm;
    t[to + TC.pexepath] = parent === undefined ? "" : parent.exepath;
    const fd = e.fd;
    if (fd !== undefined) {
      n[o + NC.fdNum] = fd.num;
      t[to + TC.fdType] = fd.type;
      t[to + TC.fdTypechar] = fd.typechar;
      t[to + TC.fdName] = fd.name;
    } else {
      n[o + NC.fdNum] = -1;
      t[to + TC.fdType] = "";
      t[to + TC.fdTypechar] = "";
      t[to + TC.fdName] = "";
    }
    let args = this.args[i];
    if (args === undefined) {
      args = [];
      this.args[i] = args;
    }
    const src = e.args;
    const argc = src.length;
    for (let k = 0; k < argc; k++) args[k] = src[k];
    // drop references to the previous event's longer params
    for (let k = argc; k < this.argc[i]!; k++) args[k] = undefined;
    this.argc[i] = argc;
  }

  /** Slot `i`'s event as a new tuple (its own params array). */
  tuple(i: number): EventTuple {
    const t: unknown[] = [];
    for (let k = 0; k <= F.startTs; k++) t.push(0);
    const o = i * NN;
    for (let k = 0; k < NN; k++) t[NUM_FIELDS[k]!] = this.nums[o + k]!;
    const to = i * NT;
    for (let k = 0; k < NT; k++) t[TEXT_FIELDS[k]!] = this.text[to + k]!;
    t[F.args] = this.args[i]!.slice(0, this.argc[i]!);
    return t as EventTuple;
  }
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
  /** The ring the previous event went to. */
  private last: Ring | undefined;
  readonly counters = { recorded: 0, rings: 0, rings_evicted: 0, captures: 0, captures_refused: 0, after_overflow: 0, encode_errors: 0 };

  constructor(private readonly o: CaptureRecorderOptions) {
    this.perContainer = Math.max(1, o.perContainer ?? 256);
    this.maxContainers = Math.max(1, o.maxContainers ?? 512);
    this.maxAfter = o.maxAfterEvents ?? 10_000;
    this.maxDuration = o.maxDurationMs ?? 60_000;
    this.maxActive = o.maxActive ?? 32;
    this.host = o.hostname ?? osHostname();
  }

  /** Hot path: records one event into its container's ring. */
  record(e: SyscallEvent): void {
    const c = e.proc.container;
    let ring = this.last;
    // consecutive events mostly come from one container: skip the map then
    if (ring === undefined || ring.container !== c) {
      ring = this.rings.get(c.id);
      if (ring === undefined) ring = this.newRing(c);
      else ring.container = c;
      this.last = ring;
    }
    const slot = ring.head;
    ring.fill(slot, e);
    ring.head = slot + 1 === ring.cap ? 0 : slot + 1;
    if (ring.size < ring.cap) ring.size++;
    this.counters.recorded++;
    if (ring.watchers.length > 0) {
      for (const w of ring.watchers) {
        if (w.events.length < w.max) w.events.push(ring.tuple(slot));
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
    for (let i = 0; i < ring.size; i++) out.push(ring.tuple((start + i) % ring.cap));
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
