// SPDX-License-Identifier: Apache-2.0
/**
 * ContainerEnricher: cgroup path → container → containerd metadata → Kubernetes facts.
 *
 * `resolve()` is synchronous and cheap once a container is known (a Map lookup by cgroup ID).
 * A container seen for the first time gets a placeholder (ID from the cgroup, `metaMissing`)
 * that is filled in place when the background lookup answers; `whenReady()` lets the pipeline
 * wait a bounded time for that. containerd's event stream prefetches containers as they are
 * created and evicts them when deleted. Without a runtime (socket absent, containerd down) the
 * enricher keeps answering from cgroups alone and reconnects with backoff.
 */
import { existsSync, readFileSync } from "node:fs";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { ContainerInfo, K8sPodMeta } from "../../rules/event.js";
import { DEFAULT_NAMESPACES, containerFromCgroupPath, containerFromProcCgroup, type CgroupMatch } from "./cgroup.js";
import { HOST_CONTAINER, placeholder, type MutableContainerInfo } from "./container-info.js";
import { ContainerdClient, type ContainerRecord, type RuntimeEvent, type Subscription } from "./containerd-client.js";
import { EnrichError, EnrichErrorCode } from "./errors.js";
import { buildMetadata, CriKey, manifestConfigDigest, sandboxFacts, sandboxIdOf, type ImageFacts, type SandboxFacts } from "./metadata.js";
import { specFacts } from "./oci-spec.js";

/** containerd's default socket. */
export const DEFAULT_CONTAINERD_SOCKET = "/run/containerd/containerd.sock";

/** Options of {@link ContainerEnricher}. */
export interface ContainerEnricherOptions {
  /** containerd socket (default `/run/containerd/containerd.sock`). */
  socket?: string;
  /** containerd namespaces to look in (default `k8s.io`, `default`). */
  namespaces?: string[];
  logger: Logger;
  /** Longest `whenReady()` wait, ms (default 10). */
  waitMs?: number;
  /** Containers kept (default 4096). */
  cacheSize?: number;
  /** Metadata older than this is refreshed in the background, ms (default 5 min). */
  ttlMs?: number;
  /**
   * Called when the runtime reports a task created or started, with its init pid: lets drift
   * prevention arm the container's cgroup before the container's first exec (when the event wins
   * the race with the task's start).
   */
  onTask?: ((namespace: string, containerId: string, pid: number) => void) | undefined;
  /**
   * The Kubernetes API context (agent/enrich/k8s-api): a pod container's K8sInfo gets the API's
   * metadata object of its pod UID (the CRI label), which the watch keeps current.
   */
  k8sApi?: { bind(podUid: string): K8sPodMeta | undefined } | undefined;
}

const State = {
  /** A lookup is running; `whenReady` waits. */
  Pending: 0,
  Ready: 1,
  /** The runtime answered and does not know this container. */
  Absent: 2,
  /** The runtime could not be asked; retried when it is back. */
  Unreachable: 3,
} as const;
type State = (typeof State)[keyof typeof State];

interface Entry {
  readonly info: MutableContainerInfo;
  readonly namespace: string | undefined;
  state: State;
  inflight: boolean;
  deleted: boolean;
  /** A `whenReady` gave up waiting before the metadata came. */
  waitedOut: boolean;
  expiresAt: number;
  waiters: (() => void)[];
}

const HOST_ENTRY: Entry = {
  info: HOST_CONTAINER as MutableContainerInfo,
  namespace: undefined,
  state: State.Ready,
  inflight: false,
  deleted: false,
  waitedOut: false,
  expiresAt: Number.POSITIVE_INFINITY,
  waiters: [],
};

const RESOLVED: Promise<void> = Promise.resolve();
const MAX_BACKOFF_MS = 30_000;
const PID_MEMO_MS = 60_000;
const PID_MEMO_MAX = 65_536;

/** Sets key→value in a Map used as a FIFO-bounded memo. */
function memoSet<K, V>(m: Map<K, V>, k: K, v: V, max: number): void {
  if (m.size >= max) {
    const first = m.keys().next();
    if (first.done !== true) m.delete(first.value);
  }
  m.set(k, v);
}

/** Container and Kubernetes metadata for events, from cgroups and containerd. */
export class ContainerEnricher {
  private readonly socket: string;
  private readonly namespaces: readonly string[];
  private readonly log: Logger;
  private readonly waitMs: number;
  private readonly ttlMs: number;
  private readonly memoMax: number;
  private readonly onTask: ((namespace: string, containerId: string, pid: number) => void) | undefined;
  private readonly k8sApi: { bind(podUid: string): K8sPodMeta | undefined } | undefined;

  /** Containers by full ID (bounded; stale entries are refreshed, not dropped). */
  private readonly entries: LRUCache<string, Entry>;
  /** Hot path: cgroup ID → container entry. cgroup IDs are never reused within a boot. */
  private readonly byCgroupId = new Map<number, Entry>();
  /** cgroup ID → the path that showed it to be a host cgroup. */
  private readonly hostCgroups = new Map<number, string>();
  /** When the source gives no cgroup ID. */
  private readonly byPath = new Map<string, Entry>();
  /**
   * Processes whose cgroup2 path is `/`: their `/proc/<pid>/cgroup`, read once. A plain Map
   * (faster than an LRU on this path, which every host process takes on hybrid-cgroup hosts),
   * bounded FIFO and emptied every PID_MEMO_MS so a reused pid is read again.
   */
  private readonly byPid = new Map<number, Entry>();
  private pidMemoSince = Date.now();
  private readonly byInfo = new WeakMap<ContainerInfo, Entry>();
  private readonly sandboxes: LRUCache<string, Promise<SandboxFacts | undefined>>;
  private readonly images: LRUCache<string, Promise<ImageFacts | undefined>>;

  private client: ContainerdClient | undefined;
  private sub: Subscription | undefined;
  private connected = false;
  private stopped = false;
  private everConnected = false;
  private downLogged = false;
  private lookupErrorLogged = false;
  private backoffMs = 250;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private clockTimer: NodeJS.Timeout | undefined;
  /** Coarse clock (ms), ticked once a second, so the hot path never reads the time. */
  private clock = Date.now();

  private readonly counters = {
    lookups: 0,
    hits: 0,
    misses: 0,
    host: 0,
    late_metadata: 0,
    wait_timeouts: 0,
    errors: 0,
    not_found: 0,
    bad_events: 0,
    events: 0,
    evictions: 0,
    connects: 0,
    disconnects: 0,
    proc_reads: 0,
    proc_errors: 0,
  };

  constructor(opts: ContainerEnricherOptions) {
    this.socket = opts.socket ?? DEFAULT_CONTAINERD_SOCKET;
    this.namespaces = opts.namespaces ?? [...DEFAULT_NAMESPACES];
    this.log = opts.logger;
    this.waitMs = opts.waitMs ?? 10;
    this.ttlMs = opts.ttlMs ?? 300_000;
    this.onTask = opts.onTask;
    this.k8sApi = opts.k8sApi;
    const max = opts.cacheSize ?? 4096;
    this.memoMax = max * 4;
    this.entries = new LRUCache<string, Entry>({
      max,
      ttl: this.ttlMs,
      allowStale: true,
      noDeleteOnStaleGet: true,
      updateAgeOnGet: false,
      dispose: (_v, _k, reason) => {
        if (reason === "evict") this.counters.evictions++;
      },
    });
    this.sandboxes = new LRUCache<string, Promise<SandboxFacts | undefined>>({ max: Math.max(256, max), ttl: this.ttlMs });
    this.images = new LRUCache<string, Promise<ImageFacts | undefined>>({ max: 1024, ttl: this.ttlMs });
  }

  /** Connects to the runtime. Never rejects: without one it logs once and works from cgroups. */
  async start(): Promise<void> {
    this.stopped = false;
    this.clockTimer = setInterval(() => {
      this.clock = Date.now();
      if (this.clock - this.pidMemoSince >= PID_MEMO_MS) {
        this.byPid.clear();
        this.pidMemoSince = this.clock;
      }
    }, 1000);
    this.clockTimer.unref();
    await this.connect();
  }

  /** Closes the runtime connection and releases every waiter. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.reconnectTimer = undefined;
    this.clockTimer = undefined;
    this.dropConnection();
    for (const e of this.entries.values()) this.release(e);
  }

  /**
   * The container of a process. Sync. Host processes get {@link HOST_CONTAINER}; a container
   * gets its cached ContainerInfo, or a placeholder (ID from the cgroup, `metaMissing`) that is
   * filled in place when the runtime answers.
   * @param cgroupPath the process's cgroup2 path (`/` or empty when unknown).
   * @param cgroupId the cgroup2 ID (inode), 0 when unknown.
   */
  resolve(cgroupPath: string, cgroupId: number, pid: number): ContainerInfo {
    let e: Entry | undefined;
    if (cgroupPath.length <= 1) {
      e = this.byPid.get(pid);
      if (e === undefined || e.deleted) {
        e = this.fromProc(pid);
        if (e === undefined) return HOST_CONTAINER;
        memoSet(this.byPid, pid, e, PID_MEMO_MAX);
      } else this.counters.hits++;
    } else if (cgroupId > 0) {
      e = this.byCgroupId.get(cgroupId);
      if (e !== undefined) this.counters.hits++;
      else if (this.hostCgroups.get(cgroupId) === cgroupPath) e = HOST_ENTRY;
      else {
        // The path may be a parent's (a process first met before its exec) while the ID is the
        // kernel's: a container shape is evidence, a host shape is only its absence, so host
        // results are kept with their path and re-checked when another path comes with the ID.
        e = this.fromMatch(containerFromCgroupPath(cgroupPath, this.namespaces));
        if (e === HOST_ENTRY) memoSet(this.hostCgroups, cgroupId, cgroupPath, this.memoMax);
        else {
          this.hostCgroups.delete(cgroupId);
          memoSet(this.byCgroupId, cgroupId, e, this.memoMax);
        }
      }
    } else {
      e = this.byPath.get(cgroupPath);
      if (e === undefined || e.deleted) {
        e = this.fromMatch(containerFromCgroupPath(cgroupPath, this.namespaces));
        memoSet(this.byPath, cgroupPath, e, this.memoMax);
      } else this.counters.hits++;
    }
    if (e === HOST_ENTRY) {
      this.counters.host++;
      return HOST_CONTAINER;
    }
    if (e.expiresAt < this.clock && !e.inflight && e.state !== State.Pending) this.lookup(e, true);
    return e.info;
  }

  /**
   * A known container by its ID (12-char short or full), for alerts that arrive with only an ID
   * (a Falco gRPC stream). Looks only at what the cache holds; never asks the runtime.
   */
  byId(id: string): ContainerInfo | undefined {
    if (id.length < 12 || id === "host") return undefined;
    const direct = this.entries.peek(id);
    if (direct !== undefined && !direct.info.metaMissing) return direct.info;
    for (const e of this.entries.values()) if (e.info.fullId.startsWith(id) && !e.info.metaMissing) return e.info;
    return undefined;
  }

  /** Resolves when the container's metadata has arrived, or after `waitMs` at most. */
  whenReady(info: ContainerInfo): Promise<void> {
    if (!info.metaMissing) return RESOLVED;
    const e = this.byInfo.get(info);
    if (e === undefined || e.state !== State.Pending) return RESOLVED;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const i = e.waiters.indexOf(done);
        if (i >= 0) e.waiters.splice(i, 1);
        e.waitedOut = true;
        this.counters.wait_timeouts++;
        resolve();
      }, this.waitMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      e.waiters.push(done);
    });
  }

  /** Counters: lookups, hits, misses, host, late_metadata, errors... plus `connected` and `cached`. */
  stats(): Record<string, number> {
    return { ...this.counters, connected: this.connected ? 1 : 0, cached: this.entries.size };
  }

  // ---- cache ----

  private fromProc(pid: number): Entry | undefined {
    let text: string;
    this.counters.proc_reads++;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, "latin1");
    } catch {
      // the process is gone; nothing better than host can be said, and nothing is cached
      this.counters.proc_errors++;
      this.counters.host++;
      return undefined;
    }
    return this.fromMatch(containerFromProcCgroup(text, this.namespaces));
  }

  private fromMatch(m: CgroupMatch | undefined): Entry {
    if (m === undefined) return HOST_ENTRY;
    let e = this.entries.get(m.id);
    if (e !== undefined && !e.deleted) {
      this.counters.hits++;
      // a new cgroup for a container the runtime did not know (or could not be asked about): ask again
      if (e.state === State.Absent || e.state === State.Unreachable) this.lookup(e, false);
      return e;
    }
    this.counters.misses++;
    e = this.newEntry(m.id, m.runtime, m.namespace);
    this.lookup(e, false);
    return e;
  }

  private newEntry(id: string, type: string, namespace: string | undefined): Entry {
    const e: Entry = {
      info: placeholder(id, type),
      namespace,
      state: State.Pending,
      inflight: false,
      deleted: false,
      waitedOut: false,
      expiresAt: Number.POSITIVE_INFINITY,
      waiters: [],
    };
    this.entries.set(id, e);
    this.byInfo.set(e.info, e);
    return e;
  }

  private release(e: Entry): void {
    const ws = e.waiters;
    if (ws.length === 0) return;
    e.waiters = [];
    for (const w of ws) w();
  }

  private settle(e: Entry, state: State): void {
    e.state = state;
    e.expiresAt = this.clock + this.ttlMs;
    if (state === State.Ready && e.waitedOut) this.counters.late_metadata++;
    e.waitedOut = false;
    this.release(e);
  }

  private apply(e: Entry, rec: ContainerRecord, sandbox: SandboxFacts | undefined, image: ImageFacts | undefined): void {
    const meta = buildMetadata(rec, sandbox, image);
    // the API's view of the pod, by the UID the kubelet's CRI label gives (a Map lookup, once per container)
    if (meta.k8s?.podUid !== undefined && this.k8sApi !== undefined) meta.k8s.api = this.k8sApi.bind(meta.k8s.podUid);
    Object.assign(e.info, meta);
    this.entries.set(e.info.fullId, e);
    this.settle(e, State.Ready);
  }

  // ---- runtime lookups ----

  /** Starts a lookup unless one runs; `refresh` keeps the current state while it runs. */
  private lookup(e: Entry, refresh: boolean): void {
    if (e.inflight) return;
    if (!this.connected || this.client === undefined) {
      if (!refresh) this.settle(e, State.Unreachable);
      else e.expiresAt = this.clock + this.ttlMs;
      return;
    }
    e.inflight = true;
    if (!refresh) e.state = State.Pending;
    this.counters.lookups++;
    const client = this.client;
    void this.fetch(client, e).then(
      (found) => {
        e.inflight = false;
        if (found === undefined) {
          this.counters.not_found++;
          if (e.state === State.Ready) this.evict(e.info.fullId);
          else this.settle(e, State.Absent);
        }
      },
      (err: unknown) => {
        e.inflight = false;
        this.counters.errors++;
        if (!this.lookupErrorLogged) {
          this.lookupErrorLogged = true;
          this.log.warn({ err, container: { id: e.info.fullId } }, "container lookup failed");
        } else this.log.debug({ err, container: { id: e.info.fullId } }, "container lookup failed");
        if (e.state !== State.Ready) this.settle(e, State.Unreachable);
        else e.expiresAt = this.clock + this.ttlMs;
      },
    );
  }

  private async fetch(client: ContainerdClient, e: Entry): Promise<ContainerRecord | undefined> {
    const nss = e.namespace !== undefined ? [e.namespace] : this.namespaces;
    for (const ns of nss) {
      const rec = await client.getContainer(ns, e.info.fullId);
      if (rec === undefined) continue;
      await this.applyRecord(client, e, rec);
      return rec;
    }
    return undefined;
  }

  private async applyRecord(client: ContainerdClient, e: Entry, rec: ContainerRecord): Promise<void> {
    const kind = rec.labels.get(CriKey.Kind);
    let sandbox: SandboxFacts | undefined;
    if (kind === "sandbox") {
      sandbox = sandboxFacts(rec);
      this.sandboxes.set(rec.id, Promise.resolve(sandbox));
    } else if (kind === "container") {
      const sid = sandboxIdOf(rec, specFacts(rec.spec).annotations);
      if (sid !== undefined) sandbox = await this.sandbox(client, rec.namespace, sid);
    }
    const image = rec.image !== "" ? await this.image(client, rec.namespace, rec.image) : undefined;
    if (e.deleted) return;
    this.apply(e, rec, sandbox, image);
  }

  private sandbox(client: ContainerdClient, ns: string, id: string): Promise<SandboxFacts | undefined> {
    let p = this.sandboxes.get(id);
    if (p === undefined) {
      p = client.getContainer(ns, id).then(
        (r) => (r !== undefined ? sandboxFacts(r) : undefined),
        (err: unknown) => {
          this.sandboxes.delete(id);
          this.counters.errors++;
          this.log.debug({ err, sandbox: { id } }, "sandbox lookup failed");
          return undefined;
        },
      );
      this.sandboxes.set(id, p);
    }
    return p;
  }

  private image(client: ContainerdClient, ns: string, name: string): Promise<ImageFacts | undefined> {
    const key = `${ns}\u0000${name}`;
    let p = this.images.get(key);
    if (p === undefined) {
      p = this.fetchImage(client, ns, name).catch((err: unknown) => {
        this.images.delete(key);
        this.counters.errors++;
        this.log.debug({ err, image: { name } }, "image lookup failed");
        return undefined;
      });
      this.images.set(key, p);
    }
    return p;
  }

  private async fetchImage(client: ContainerdClient, ns: string, name: string): Promise<ImageFacts | undefined> {
    const img = await client.getImage(ns, name);
    if (img === undefined) return undefined;
    let digest: string | undefined = img.digest;
    let configDigest: string | undefined;
    // manifest, or index → this platform's manifest → config (two reads at most)
    for (let hop = 0; hop < 2 && digest !== undefined; hop++) {
      let doc: unknown;
      try {
        doc = JSON.parse((await client.readBlob(ns, digest)).toString("utf8"));
      } catch (err) {
        if (err instanceof SyntaxError) throw new EnrichError(EnrichErrorCode.BadSpec, "image manifest is not JSON", { cause: err });
        throw err;
      }
      const r = manifestConfigDigest(doc);
      configDigest = r.config;
      digest = r.next;
    }
    return { digest: img.digest, configDigest };
  }

  private evict(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    e.deleted = true;
    this.entries.delete(id);
    this.sandboxes.delete(id);
    this.counters.evictions++;
    this.release(e);
  }

  // ---- connection ----

  private async connect(): Promise<void> {
    if (this.stopped) return;
    if (!existsSync(this.socket)) {
      this.down(new EnrichError(EnrichErrorCode.Rpc, "socket absent"));
      return;
    }
    const client = new ContainerdClient(this.socket);
    let version: { version: string; revision: string };
    try {
      version = await client.version();
    } catch (err) {
      client.close();
      this.down(err);
      return;
    }
    if (this.stopped) {
      client.close();
      return;
    }
    this.client = client;
    this.connected = true;
    this.everConnected = true;
    this.downLogged = false;
    this.backoffMs = 250;
    this.counters.connects++;
    this.log.info({ socket: this.socket, version: version.version }, "container runtime connected");
    this.sub = client.subscribe(
      this.namespaces,
      (ev) => this.onEvent(ev),
      (err) => {
        this.counters.bad_events++;
        this.log.debug({ err }, "bad runtime event");
      },
      (err) => this.onStreamClosed(client, err),
    );
    void this.warm(client);
    this.retryUnreachable();
  }

  /** Could not reach the runtime: log once, try again later with backoff. */
  private down(err: unknown): void {
    if (!this.downLogged) {
      this.downLogged = true;
      const msg = this.everConnected ? "container runtime unavailable" : "no container runtime";
      this.log.warn({ socket: this.socket, err }, msg);
    }
    this.scheduleConnect();
  }

  private scheduleConnect(): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private dropConnection(): void {
    this.connected = false;
    this.sub?.cancel();
    this.sub = undefined;
    this.client?.close();
    this.client = undefined;
  }

  private onStreamClosed(client: ContainerdClient, err: Error | undefined): void {
    if (this.stopped || client !== this.client) return;
    this.counters.disconnects++;
    this.log.warn({ socket: this.socket, err }, "container runtime connection lost");
    this.downLogged = true;
    this.dropConnection();
    this.backoffMs = 100;
    this.scheduleConnect();
  }

  private onEvent(ev: RuntimeEvent): void {
    this.counters.events++;
    switch (ev.topic) {
      case "/containers/create":
      case "/tasks/create":
      case "/tasks/start":
        this.prefetch(ev.namespace, ev.containerId);
        if (ev.pid !== undefined && ev.pid > 0 && ev.topic !== "/containers/create" && this.onTask !== undefined) {
          try {
            this.onTask(ev.namespace, ev.containerId, ev.pid);
          } catch (err) {
            this.log.error({ err }, "task hook failed");
          }
        }
        break;
      case "/containers/update": {
        const e = this.entries.get(ev.containerId);
        if (e !== undefined) this.lookup(e, true);
        break;
      }
      case "/containers/delete":
        this.evict(ev.containerId);
        break;
      default:
        break;
    }
  }

  /** Learns a container before its first syscall. */
  private prefetch(ns: string, id: string): void {
    const e = this.entries.get(id);
    if (e === undefined || e.deleted) this.lookup(this.newEntry(id, "containerd", ns), false);
    else if (e.state === State.Unreachable || e.state === State.Absent) this.lookup(e, false);
  }

  /** After (re)connecting: every container the runtime has, so none is met unknown. */
  private async warm(client: ContainerdClient): Promise<void> {
    for (const ns of this.namespaces) {
      let recs: ContainerRecord[];
      try {
        recs = await client.listContainers(ns);
      } catch (err) {
        this.counters.errors++;
        this.log.debug({ err, namespace: ns }, "container list failed");
        continue;
      }
      for (const rec of recs) {
        if (this.stopped || client !== this.client) return;
        let e = this.entries.get(rec.id);
        if (e !== undefined && e.state === State.Ready && !e.deleted) continue;
        if (e === undefined || e.deleted) e = this.newEntry(rec.id, "containerd", ns);
        if (e.inflight) continue;
        e.inflight = true;
        try {
          await this.applyRecord(client, e, rec);
        } catch (err) {
          this.counters.errors++;
          this.log.debug({ err, container: { id: rec.id } }, "container prefetch failed");
          if (e.state !== State.Ready) this.settle(e, State.Unreachable);
        } finally {
          e.inflight = false;
        }
      }
    }
  }

  private retryUnreachable(): void {
    for (const e of this.entries.values()) if (e.state === State.Unreachable && !e.deleted) this.lookup(e, false);
  }
}
