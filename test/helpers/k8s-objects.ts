// SPDX-License-Identifier: Apache-2.0
/**
 * Kubernetes objects as the API server serves them (Pod, Namespace, Node, ReplicaSet, Deployment,
 * StatefulSet, DaemonSet, Job, CronJob), each checked against the API's own schema with
 * kubernetes-models before a test uses it: a test that serves a malformed object fails here.
 */
import { randomUUID } from "node:crypto";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Node } from "kubernetes-models/v1/Node";
import { Pod } from "kubernetes-models/v1/Pod";

export type KObj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

const MODELS: Record<string, { new (d: never): { validate(): void } }> = {
  "v1/Pod": Pod as never,
  "v1/Namespace": Namespace as never,
  "v1/Node": Node as never,
  "apps/v1/ReplicaSet": ReplicaSet as never,
  "apps/v1/Deployment": Deployment as never,
  "apps/v1/StatefulSet": StatefulSet as never,
  "apps/v1/DaemonSet": DaemonSet as never,
  "batch/v1/Job": Job as never,
  "batch/v1/CronJob": CronJob as never,
};

/** Throws when `o` is not a valid object of its apiVersion/kind (kubernetes-models' schema). */
export function validateObject(o: KObj): void {
  const M = MODELS[`${o.apiVersion}/${o.kind}`];
  if (M === undefined) throw new Error(`no schema for ${o.apiVersion}/${o.kind}`);
  new M(structuredClone(o) as never).validate();
}

const NOW = "2026-01-01T00:00:00Z";

function meta(name: string, namespace: string | undefined, labels: Record<string, string>, uid: string): KObj["metadata"] {
  return { name, ...(namespace !== undefined ? { namespace } : {}), uid, labels, creationTimestamp: NOW };
}

/** An owner reference to `o` as a controller sets it. */
export function controllerRef(o: KObj): NonNullable<KObj["metadata"]["ownerReferences"]>[number] {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true };
}

const podTemplate = (labels: Record<string, string>) => ({
  metadata: { labels },
  spec: { containers: [{ name: "app", image: "docker.io/library/nginx:1.27" }] },
});

export function namespace(name: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  return { apiVersion: "v1", kind: "Namespace", metadata: meta(name, undefined, { "kubernetes.io/metadata.name": name, ...labels }, uid), spec: {} };
}

export function node(name: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  return { apiVersion: "v1", kind: "Node", metadata: meta(name, undefined, { "kubernetes.io/hostname": name, ...labels }, uid), spec: {} };
}

export function deployment(ns: string, name: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  const sel = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(name, ns, labels, uid),
    spec: { replicas: 1, selector: { matchLabels: sel }, template: podTemplate(sel) },
  };
}

export function replicaSet(owner: KObj, hash: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  const sel = { app: owner.metadata.name, "pod-template-hash": hash };
  const m = meta(`${owner.metadata.name}-${hash}`, owner.metadata.namespace, { ...sel, ...labels }, uid);
  m.ownerReferences = [controllerRef(owner)];
  return { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: m, spec: { replicas: 1, selector: { matchLabels: sel }, template: podTemplate(sel) } };
}

export function statefulSet(ns: string, name: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  const sel = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(name, ns, labels, uid),
    spec: { replicas: 1, serviceName: name, selector: { matchLabels: sel }, template: podTemplate(sel) },
  };
}

export function daemonSet(ns: string, name: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  const sel = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: meta(name, ns, labels, uid),
    spec: { selector: { matchLabels: sel }, template: podTemplate(sel) },
  };
}

export function cronJob(ns: string, name: string, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta(name, ns, labels, uid),
    spec: {
      schedule: "*/5 * * * *",
      jobTemplate: { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "job", image: "docker.io/library/busybox:1.36" }] } } } },
    },
  };
}

export function job(ns: string, name: string, owner?: KObj, labels: Record<string, string> = {}, uid = randomUUID()): KObj {
  const m = meta(name, ns, labels, uid);
  if (owner !== undefined) m.ownerReferences = [controllerRef(owner)];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: m,
    spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "job", image: "docker.io/library/busybox:1.36" }] } } },
  };
}

export interface PodOptions {
  labels?: Record<string, string>;
  owner?: KObj;
  serviceAccount?: string;
  podIp?: string;
  uid?: string;
}

export function pod(ns: string, name: string, nodeName: string, o: PodOptions = {}): KObj {
  const m = meta(name, ns, o.labels ?? {}, o.uid ?? randomUUID());
  if (o.owner !== undefined) m.ownerReferences = [controllerRef(o.owner)];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: m,
    spec: {
      nodeName,
      serviceAccountName: o.serviceAccount ?? "default",
      containers: [{ name: "app", image: "docker.io/library/nginx:1.27" }],
    },
    status: { phase: "Running", ...(o.podIp !== undefined ? { podIP: o.podIp, podIPs: [{ ip: o.podIp }] } : {}) },
  };
}
