// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's Kubernetes metadata: the pods of its node, the namespaces, the controllers that own
 * pods (ReplicaSets, Deployments, Jobs, CronJobs, StatefulSets, DaemonSets) and the node. Each
 * pod has one {@link PodMeta} (the K8sPodMeta of rules/event.ts) that containers bind to by pod
 * UID and that is updated in place, so the per-event cost of a `k8s.deployment.name` is a few
 * property reads.
 *
 * Bounds: pods (and pod metadata bound before the API reported the pod) are capped, the oldest
 * placeholder going first; namespaces and each owner kind are capped, and past the cap only the
 * objects a pod of this node refers to are kept (the others are counted as dropped; a pod that
 * later needs one has it fetched by name). Deleted objects are evicted at once.
 */
import type { K8sObjectMeta, K8sPodMeta } from "../../../rules/event.js";
import { fromRef, parseObject, parsePod, uidOf, type ObjRecord, type OwnerRef, type PodRecord } from "./objects.js";

/** Owner kinds the agent follows. */
export const OwnerKind = {
  ReplicaSet: "ReplicaSet",
  Deployment: "Deployment",
  StatefulSet: "StatefulSet",
  DaemonSet: "DaemonSet",
  Job: "Job",
  CronJob: "CronJob",
} as const;
export type OwnerKind = (typeof OwnerKind)[keyof typeof OwnerKind];
export const OWNER_KINDS: readonly OwnerKind[] = Object.values(OwnerKind);

const EMPTY: ReadonlyMap<string, string> = new Map();
/** Owner references followed up from a pod at most (Pod → ReplicaSet → Deployment is 2). */
const MAX_CHAIN = 4;

/** The mutable K8sPodMeta of one pod UID. */
export class PodMeta implements K8sPodMeta {
  known = false;
  deleted = false;
  labels: ReadonlyMap<string, string> = EMPTY;
  serviceAccount: string | undefined;
  podIp: string | undefined;
  namespace: K8sObjectMeta | undefined;
  replicaSet: K8sObjectMeta | undefined;
  deployment: K8sObjectMeta | undefined;
  statefulSet: K8sObjectMeta | undefined;
  daemonSet: K8sObjectMeta | undefined;
  job: K8sObjectMeta | undefined;
  cronJob: K8sObjectMeta | undefined;
  workload: K8sObjectMeta | undefined;
  node: K8sObjectMeta | undefined;
  /** The pod as last reported. */
  record: PodRecord | undefined;

  constructor(readonly uid: string) {}
}

/** Caps of the store. */
export interface StoreLimits {
  /** Pod metadata kept (the node's pods and placeholders bound before their pod was seen). */
  pods: number;
  /** Namespaces kept past which only the ones the node's pods are in are added. */
  namespaces: number;
  /** Objects kept per owner kind past which only the ones the node's pods refer to are added. */
  owners: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = Object.freeze({ pods: 1024, namespaces: 4096, owners: 4096 });

/** Where the store asks for an owner it needs but does not hold (the cap dropped it). */
export type OwnerMiss = (kind: OwnerKind, namespace: string, ref: OwnerRef) => void;

/** Counters of the store. */
export interface StoreStats {
  pods: number;
  pods_known: number;
  namespaces: number;
  owners: number;
  dropped: number;
  pod_evictions: number;
  bind_refused: number;
  resolves: number;
  bad_objects: number;
  other_node_pods: number;
}

/** Metadata of the node's pods, their namespaces and owners, and the node. */
export class K8sMetaStore {
  private readonly pods = new Map<string, PodMeta>();
  private readonly namespaces = new Map<string, ObjRecord>();
  private readonly owners = new Map<OwnerKind, Map<string, ObjRecord>>(OWNER_KINDS.map((k) => [k, new Map<string, ObjRecord>()]));
  /** `Kind/uid` of owners and `Namespace/name` of namespaces some known pod refers to. */
  private wanted = new Set<string>();
  private nodeMeta: K8sObjectMeta | undefined;
  private readonly counters = { dropped: 0, pod_evictions: 0, bind_refused: 0, resolves: 0, bad_objects: 0, other_node_pods: 0 };
  /** Owner kinds whose initial list is complete (a miss before that is only the list still running). */
  private readonly listed = new Set<OwnerKind>();

  constructor(
    private readonly nodeName: string,
    private readonly limits: StoreLimits = DEFAULT_STORE_LIMITS,
    private readonly onMiss?: OwnerMiss,
  ) {}

  // ---- the hot side ----

  /**
   * The metadata object of a pod UID (from the CRI labels), created empty when the API has not
   * reported the pod yet, so containers can hold it and see it filled. Undefined when the cap is
   * reached and nothing can be evicted.
   */
  bind(podUid: string): PodMeta | undefined {
    let m = this.pods.get(podUid);
    if (m !== undefined) return m;
    if (this.pods.size >= this.limits.pods && !this.evictPlaceholder()) {
      this.counters.bind_refused++;
      return undefined;
    }
    m = new PodMeta(podUid);
    m.node = this.nodeMeta;
    this.pods.set(podUid, m);
    return m;
  }

  /** The metadata of a pod UID if held. */
  pod(podUid: string): PodMeta | undefined {
    return this.pods.get(podUid);
  }

  // ---- pods ----

  upsertPod(o: unknown): void {
    const rec = parsePod(o);
    if (rec === undefined) {
      this.counters.bad_objects++;
      return;
    }
    // the field selector says this node; a pod moved elsewhere (or a server ignoring it) is not ours
    if (rec.nodeName !== "" && rec.nodeName !== this.nodeName) {
      this.counters.other_node_pods++;
      this.removePodUid(rec.uid);
      return;
    }
    let m = this.pods.get(rec.uid);
    if (m === undefined) {
      if (this.pods.size >= this.limits.pods && !this.evictPlaceholder()) {
        this.counters.bind_refused++;
        return;
      }
      m = new PodMeta(rec.uid);
      this.pods.set(rec.uid, m);
    }
    m.record = rec;
    m.known = true;
    m.deleted = false;
    m.labels = rec.labels;
    m.serviceAccount = rec.serviceAccount;
    m.podIp = rec.podIp;
    this.resolve(m);
  }

  removePod(o: unknown): void {
    const uid = uidOf(o);
    if (uid !== undefined) this.removePodUid(uid);
  }

  /** After a complete pod list: pods the API no longer has are gone (placeholders stay). */
  replacePods(seen: ReadonlySet<string>): void {
    for (const [uid, m] of this.pods) if (m.known && !seen.has(uid)) this.removePodUid(uid);
    this.resolveAll();
  }

  private removePodUid(uid: string): void {
    const m = this.pods.get(uid);
    if (m === undefined) return;
    // containers still holding it keep its last facts (a terminating pod's last events)
    m.deleted = true;
    this.pods.delete(uid);
  }

  /** Drops the oldest pod metadata the API never reported. */
  private evictPlaceholder(): boolean {
    for (const [uid, m] of this.pods) {
      if (!m.known) {
        this.pods.delete(uid);
        this.counters.pod_evictions++;
        return true;
      }
    }
    return false;
  }

  // ---- namespaces ----

  upsertNamespace(o: unknown): void {
    const rec = parseObject("Namespace", o);
    if (rec === undefined) {
      this.counters.bad_objects++;
      return;
    }
    const key = `Namespace/${rec.name}`;
    const wanted = this.wanted.has(key);
    if (!this.namespaces.has(rec.name) && this.namespaces.size >= this.limits.namespaces && !wanted) {
      this.counters.dropped++;
      return;
    }
    this.namespaces.set(rec.name, rec);
    if (wanted) this.resolveAll();
  }

  removeNamespace(o: unknown): void {
    const rec = parseObject("Namespace", o);
    if (rec === undefined || !this.namespaces.delete(rec.name)) return;
    if (this.wanted.has(`Namespace/${rec.name}`)) this.resolveAll();
  }

  replaceNamespaces(seen: ReadonlySet<string>): void {
    for (const [name, rec] of this.namespaces) if (!seen.has(rec.uid)) this.namespaces.delete(name);
    this.resolveAll();
  }

  // ---- owners ----

  upsertOwner(kind: OwnerKind, o: unknown): void {
    const rec = parseObject(kind, o);
    if (rec === undefined) {
      this.counters.bad_objects++;
      return;
    }
    const map = this.owners.get(kind) as Map<string, ObjRecord>;
    const key = `${kind}/${rec.uid}`;
    const wanted = this.wanted.has(key);
    if (!map.has(rec.uid) && map.size >= this.limits.owners && !wanted) {
      this.counters.dropped++;
      return;
    }
    map.set(rec.uid, rec);
    if (wanted) this.resolveAll();
  }

  removeOwner(kind: OwnerKind, o: unknown): void {
    const uid = uidOf(o);
    if (uid === undefined || !(this.owners.get(kind) as Map<string, ObjRecord>).delete(uid)) return;
    if (this.wanted.has(`${kind}/${uid}`)) this.resolveAll();
  }

  replaceOwners(kind: OwnerKind, seen: ReadonlySet<string>): void {
    const map = this.owners.get(kind) as Map<string, ObjRecord>;
    for (const uid of map.keys()) if (!seen.has(uid)) map.delete(uid);
    this.listed.add(kind);
    this.resolveAll();
  }

  /** The owner a pod needs (fetched by name after a cap dropped it). */
  addFetchedOwner(kind: OwnerKind, o: unknown, expectUid: string): boolean {
    const rec = parseObject(kind, o);
    if (rec === undefined || rec.uid !== expectUid) return false;
    (this.owners.get(kind) as Map<string, ObjRecord>).set(rec.uid, rec);
    this.resolveAll();
    return true;
  }

  // ---- the node ----

  setNode(o: unknown): void {
    const rec = parseObject("Node", o);
    if (rec === undefined) {
      this.counters.bad_objects++;
      return;
    }
    this.nodeMeta = rec;
    for (const m of this.pods.values()) m.node = rec;
  }

  get node(): K8sObjectMeta | undefined {
    return this.nodeMeta;
  }

  // ---- resolution ----

  /** Re-resolves every pod (a namespace or owner some pod refers to changed). */
  resolveAll(): void {
    this.wanted = new Set();
    for (const m of this.pods.values()) if (m.known) this.resolve(m);
  }

  /** Sets a pod's namespace, owner chain, workload and node from what the store holds. */
  private resolve(m: PodMeta): void {
    const rec = m.record;
    if (rec === undefined) return;
    this.counters.resolves++;
    const nsKey = `Namespace/${rec.namespace}`;
    this.wanted.add(nsKey);
    m.namespace =
      this.namespaces.get(rec.namespace) ?? (rec.namespace !== "" ? { kind: "Namespace", name: rec.namespace, uid: undefined, labels: EMPTY } : undefined);
    m.replicaSet = m.deployment = m.statefulSet = m.daemonSet = m.job = m.cronJob = m.workload = undefined;
    m.node = this.nodeMeta;
    let ref = rec.controller;
    for (let depth = 0; depth < MAX_CHAIN && ref !== undefined; depth++) {
      const kind = ref.kind as OwnerKind;
      const map = this.owners.get(kind);
      const held = map?.get(ref.uid);
      if (map !== undefined) this.wanted.add(`${kind}/${ref.uid}`);
      const meta: K8sObjectMeta = held ?? fromRef(ref);
      switch (ref.kind) {
        case OwnerKind.ReplicaSet:
          m.replicaSet = meta;
          break;
        case OwnerKind.Deployment:
          m.deployment = meta;
          break;
        case OwnerKind.StatefulSet:
          m.statefulSet = meta;
          break;
        case OwnerKind.DaemonSet:
          m.daemonSet = meta;
          break;
        case OwnerKind.Job:
          m.job = meta;
          break;
        case OwnerKind.CronJob:
          m.cronJob = meta;
          break;
        default:
          break;
      }
      m.workload = meta;
      // only a cap can leave a listed owner out (a reference the watch has yet to deliver is not a miss)
      if (held === undefined && map !== undefined && this.listed.has(kind) && this.counters.dropped > 0) this.onMiss?.(kind, rec.namespace, ref);
      ref = held?.controller;
    }
  }

  stats(): StoreStats {
    let known = 0;
    for (const m of this.pods.values()) if (m.known) known++;
    let owners = 0;
    for (const map of this.owners.values()) owners += map.size;
    return { pods: this.pods.size, pods_known: known, namespaces: this.namespaces.size, owners, ...this.counters };
  }
}
