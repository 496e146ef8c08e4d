// SPDX-License-Identifier: Apache-2.0
/**
 * K8sApiContext: the agent's Kubernetes API context. It lists and watches the pods of its own node
 * (`fieldSelector=spec.nodeName=NODE`), every namespace, and the controllers that own pods
 * (ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs, CronJobs; metadata only), reads its
 * own Node object now and then (its labels: zone, instance type), and keeps what it learns in a
 * bounded {@link K8sMetaStore} that the container enricher binds containers to by pod UID.
 *
 * When the API server cannot be reached (or refuses), the fields fall back to what the CRI labels
 * say, the agent says so in one log line (and once more when it is back), `vigil_k8s_api_up` is 0,
 * and every reflector retries with jittered backoff.
 */
import type { Logger } from "pino";
import type { K8sPodMeta } from "../../../rules/event.js";
import { K8sApiError, K8sApiErrorCode, toApiError } from "./errors.js";
import type { KubeAccess } from "./kubeconfig.js";
import type { OwnerRef } from "./objects.js";
import { Reflector, type ReflectorSink, type ResourceSpec } from "./reflector.js";
import { DEFAULT_STORE_LIMITS, K8sMetaStore, OwnerKind, type StoreLimits } from "./store.js";
import { KubeTransport, type Transport } from "./transport.js";

/** Where each owner kind is listed, watched and read. */
const OWNER_API: Record<OwnerKind, { group: string; resource: string }> = {
  ReplicaSet: { group: "/apis/apps/v1", resource: "replicasets" },
  Deployment: { group: "/apis/apps/v1", resource: "deployments" },
  StatefulSet: { group: "/apis/apps/v1", resource: "statefulsets" },
  DaemonSet: { group: "/apis/apps/v1", resource: "daemonsets" },
  Job: { group: "/apis/batch/v1", resource: "jobs" },
  CronJob: { group: "/apis/batch/v1", resource: "cronjobs" },
};

/** A Kubernetes node name: a DNS subdomain (it goes into a field selector and a path). */
export const NODE_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface K8sApiContextOptions {
  /** This node's name (spec.nodeName of the agent's pod). */
  nodeName: string;
  logger: Logger;
  /** How to reach the API server (ignored when `transport` is given). */
  access?: KubeAccess;
  env?: NodeJS.ProcessEnv;
  /** Tests: a transport of their own. */
  transport?: Transport;
  limits?: Partial<StoreLimits>;
  /** Objects per list page (default 500). */
  pageSize?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  watchTimeoutSeconds?: number;
  /** A watch that carried nothing for this long is resumed, ms (default 5 min). */
  watchIdleMs?: number;
  /** The Node object is read again this often, ms (default 5 min). */
  nodeRefreshMs?: number;
  random?: () => number;
}

const MAX_FETCH_QUEUE = 256;
const MISS_TTL_MS = 300_000;

/** The Kubernetes API context of one agent. */
export class K8sApiContext {
  readonly store: K8sMetaStore;
  readonly nodeName: string;
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly reflectors: Reflector[] = [];
  private readonly nodeRefreshMs: number;
  private nodeTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private upNow = false;
  /** Logged the outage already (one line per outage, not per failure). */
  private downLogged = false;
  private nodeErrorLogged = false;
  private syncedLogged = false;
  /** Owners a pod needs that a cap dropped: fetched one at a time by name. */
  private readonly fetchQueue = new Map<string, { kind: OwnerKind; namespace: string; ref: OwnerRef }>();
  private readonly misses = new Map<string, number>();
  private fetching = false;
  private readonly counters = { node_reads: 0, node_errors: 0, fetches: 0, fetch_errors: 0, fetch_queue_full: 0, outages: 0 };

  /** Throws K8sApiError `config` when the access is unusable, or the node name is not one. */
  constructor(opts: K8sApiContextOptions) {
    if (!NODE_NAME_RE.test(opts.nodeName) || opts.nodeName.length > 253)
      throw new K8sApiError(K8sApiErrorCode.Config, `node name ${JSON.stringify(opts.nodeName.slice(0, 80))} is not a Kubernetes node name`);
    this.nodeName = opts.nodeName;
    this.log = opts.logger;
    this.transport = opts.transport ?? new KubeTransport(opts.access ?? {}, opts.env ?? process.env, { watchIdleMs: opts.watchIdleMs ?? 300_000 });
    this.nodeRefreshMs = opts.nodeRefreshMs ?? 300_000;
    this.store = new K8sMetaStore(this.nodeName, { ...DEFAULT_STORE_LIMITS, ...opts.limits }, (kind, ns, ref) => this.miss(kind, ns, ref));
    const ropts = {
      logger: this.log,
      ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
      ...(opts.backoffMinMs !== undefined ? { backoffMinMs: opts.backoffMinMs } : {}),
      ...(opts.backoffMaxMs !== undefined ? { backoffMaxMs: opts.backoffMaxMs } : {}),
      ...(opts.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
      ...(opts.random !== undefined ? { random: opts.random } : {}),
      onHealth: () => this.healthChanged(),
    };
    const s = this.store;
    const add = (spec: ResourceSpec, sink: ReflectorSink) => this.reflectors.push(new Reflector(spec, this.transport, sink, ropts));
    add(
      { resource: "pods", path: "/api/v1/pods", metadataOnly: false, fieldSelector: `spec.nodeName=${this.nodeName}` },
      { upsert: (o) => s.upsertPod(o), remove: (o) => s.removePod(o), replace: (seen) => s.replacePods(seen) },
    );
    add(
      { resource: "namespaces", path: "/api/v1/namespaces", metadataOnly: true },
      { upsert: (o) => s.upsertNamespace(o), remove: (o) => s.removeNamespace(o), replace: (seen) => s.replaceNamespaces(seen) },
    );
    for (const kind of Object.values(OwnerKind)) {
      const api = OWNER_API[kind];
      add(
        { resource: api.resource, path: `${api.group}/${api.resource}`, metadataOnly: true },
        { upsert: (o) => s.upsertOwner(kind, o), remove: (o) => s.removeOwner(kind, o), replace: (seen) => s.replaceOwners(kind, seen) },
      );
    }
  }

  /** The API server's URL. */
  get server(): string {
    return this.transport.server;
  }

  /** True while every list/watch works. */
  get up(): boolean {
    return this.upNow;
  }

  /** Starts every list/watch and the node reads in the background; never throws. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.log.info({ server: this.transport.server, node: this.nodeName }, "Kubernetes API context starting");
    for (const r of this.reflectors) r.start();
    void this.readNode();
    for (const r of this.reflectors) void r.whenSynced().then(() => this.maybeSynced());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.nodeTimer !== undefined) clearTimeout(this.nodeTimer);
    this.nodeTimer = undefined;
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  /** Resolves true once every resource has been listed, false after `timeoutMs`. */
  async whenSynced(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.all(this.reflectors.map((r) => r.whenSynced())).then(() => this.reflectors.every((r) => r.synced));
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The pod metadata of a pod UID (what the enricher puts on K8sInfo.api). */
  bind(podUid: string): K8sPodMeta | undefined {
    return this.store.bind(podUid);
  }

  /** Counters and levels: `up`, `synced`, the store's sizes, and the reflectors' sums. */
  stats(): Record<string, number> {
    const sum = { lists: 0, relists: 0, list_pages: 0, watches: 0, watch_restarts: 0, watch_events: 0, bookmarks: 0, gone: 0, errors: 0 };
    for (const r of this.reflectors) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += r.stats[k];
    return {
      up: this.upNow ? 1 : 0,
      synced: this.reflectors.every((r) => r.synced) ? 1 : 0,
      ...this.store.stats(),
      ...sum,
      ...this.counters,
    };
  }

  /** Per-resource counters (for tests and debugging). */
  resourceStats(resource: string): Reflector["stats"] | undefined {
    return this.reflectors.find((r) => r.spec.resource === resource)?.stats;
  }

  private healthChanged(): void {
    const up = this.reflectors.every((r) => r.healthy);
    if (up === this.upNow) {
      if (!up) this.logDown();
      return;
    }
    this.upNow = up;
    if (up) {
      if (this.downLogged) this.log.info({ server: this.transport.server }, "Kubernetes API reachable again: workload metadata from the API");
      this.downLogged = false;
    } else this.logDown();
  }

  /** One line per outage, naming the first failure. */
  private logDown(): void {
    if (this.downLogged || this.stopped) return;
    const failing = this.reflectors.find((r) => !r.healthy && r.lastError !== undefined);
    if (failing === undefined) return;
    this.downLogged = true;
    this.counters.outages++;
    this.log.warn(
      { server: this.transport.server, resource: failing.spec.resource, err: failing.lastError },
      "Kubernetes API unreachable: pod, namespace and owner metadata fall back to the CRI labels (retrying with backoff)",
    );
  }

  private maybeSynced(): void {
    if (this.syncedLogged || this.stopped || !this.reflectors.every((r) => r.synced)) return;
    this.syncedLogged = true;
    const st = this.store.stats();
    this.log.info({ server: this.transport.server, pods: st.pods_known, namespaces: st.namespaces, owners: st.owners }, "Kubernetes API context synced");
  }

  /** Reads the Node object (its labels); again every nodeRefreshMs, sooner after a failure. */
  private async readNode(): Promise<void> {
    if (this.stopped) return;
    let next = this.nodeRefreshMs;
    try {
      this.counters.node_reads++;
      const o = await this.transport.getJson(`/api/v1/nodes/${encodeURIComponent(this.nodeName)}`, {}, true, false);
      this.store.setNode(o);
      this.nodeErrorLogged = false;
    } catch (err) {
      this.counters.node_errors++;
      next = Math.min(this.nodeRefreshMs, 30_000);
      const e = toApiError(err, "node");
      if (!this.nodeErrorLogged) {
        this.nodeErrorLogged = true;
        this.log.warn({ node: this.nodeName, err: e }, "cannot read this node's object: k8s.node.* fields missing (retrying)");
      } else this.log.debug({ node: this.nodeName, err: e }, "node read failed");
    }
    if (this.stopped) return;
    this.nodeTimer = setTimeout(() => void this.readNode(), next);
    this.nodeTimer.unref();
  }

  // ---- owners a cap dropped, fetched by name ----

  private miss(kind: OwnerKind, namespace: string, ref: OwnerRef): void {
    if (this.stopped) return;
    const until = this.misses.get(ref.uid);
    if (until !== undefined && until > Date.now()) return;
    if (this.fetchQueue.has(ref.uid)) return;
    if (this.fetchQueue.size >= MAX_FETCH_QUEUE) {
      this.counters.fetch_queue_full++;
      return;
    }
    this.fetchQueue.set(ref.uid, { kind, namespace, ref });
    if (!this.fetching) void this.drainFetches();
  }

  private async drainFetches(): Promise<void> {
    this.fetching = true;
    try {
      for (;;) {
        const first = this.fetchQueue.entries().next();
        if (first.done === true || this.stopped) break;
        const [uid, job] = first.value;
        const api = OWNER_API[job.kind];
        const path = `${api.group}/namespaces/${encodeURIComponent(job.namespace)}/${api.resource}/${encodeURIComponent(job.ref.name)}`;
        // remembered first: a fetch that fails, or finds another object of that name, is not retried for a while
        if (this.misses.size >= MAX_FETCH_QUEUE * 4) this.misses.clear();
        this.misses.set(uid, Date.now() + MISS_TTL_MS);
        this.counters.fetches++;
        try {
          const o = await this.transport.getJson(path, {}, true, false);
          this.fetchQueue.delete(uid);
          if (this.store.addFetchedOwner(job.kind, o, uid)) this.misses.delete(uid);
        } catch (err) {
          this.fetchQueue.delete(uid);
          this.counters.fetch_errors++;
          this.log.debug({ err, kind: job.kind, owner: { namespace: job.namespace, name: job.ref.name } }, "owner fetch failed");
        }
      }
    } finally {
      this.fetching = false;
    }
  }
}
