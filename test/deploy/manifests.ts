// SPDX-License-Identifier: Apache-2.0
/**
 * Shared by the deploy tests: the kustomizations rendered by scripts/render-manifests.mjs (with the
 * kubectl on PATH, or KUBECTL), parsed as Kubernetes reads YAML (1.1), and one validator per
 * object kind from the Kubernetes OpenAPI schemas (kubernetes-models) and cert-manager's CRD
 * schemas (@kubernetes-models/cert-manager).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { ResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { PriorityClass } from "kubernetes-models/scheduling.k8s.io/v1/PriorityClass";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { Issuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer";
import { REPO_ROOT } from "../helpers/agent.js";

export { REPO_ROOT };

interface Validatable {
  validate(): void;
}
type Ctor = new (data: never) => Validatable;
const m = (c: unknown) => c as Ctor;

/** apiVersion/kind → the model that validates it. Every kind a manifest uses must be here. */
export const MODELS: Record<string, Ctor> = {
  "v1/Namespace": m(Namespace),
  "v1/ServiceAccount": m(ServiceAccount),
  "v1/ConfigMap": m(ConfigMap),
  "v1/Secret": m(Secret),
  "v1/Service": m(Service),
  "v1/PersistentVolumeClaim": m(PersistentVolumeClaim),
  "v1/ResourceQuota": m(ResourceQuota),
  "apps/v1/DaemonSet": m(DaemonSet),
  "apps/v1/Deployment": m(Deployment),
  "policy/v1/PodDisruptionBudget": m(PodDisruptionBudget),
  "scheduling.k8s.io/v1/PriorityClass": m(PriorityClass),
  "storage.k8s.io/v1/StorageClass": m(StorageClass),
  "networking.k8s.io/v1/NetworkPolicy": m(NetworkPolicy),
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": m(MutatingWebhookConfiguration),
  "rbac.authorization.k8s.io/v1/Role": m(Role),
  "rbac.authorization.k8s.io/v1/RoleBinding": m(RoleBinding),
  "rbac.authorization.k8s.io/v1/ClusterRole": m(ClusterRole),
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": m(ClusterRoleBinding),
  "cert-manager.io/v1/Certificate": m(Certificate),
  "cert-manager.io/v1/Issuer": m(Issuer),
};

/** Validates one object against its kind's schema; throws when the kind has no model. */
export function validate(d: Doc): void {
  const key = `${d.apiVersion}/${d.kind}`;
  const Model = MODELS[key];
  if (Model === undefined) throw new Error(`no schema model for ${key}`);
  new Model(d as never).validate();
}

export interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** Documents of a YAML stream, read the way Kubernetes reads them (YAML 1.1). */
export function parseDocs(text: string, what: string): Doc[] {
  const docs: Doc[] = [];
  for (const d of parseAllDocuments(text, { version: "1.1" })) {
    if (d.errors.length > 0) throw new Error(`${what}: ${d.errors.map((e) => e.message).join("; ")}`);
    const v = d.toJS() as Doc | null;
    if (v !== null) docs.push(v);
  }
  return docs;
}

export const RENDER = join(REPO_ROOT, "scripts", "render-manifests.mjs");

/** Every kustomization of deploy/, by folder. */
export const KUSTOMIZATIONS = [
  "deploy/base",
  "deploy/overlays/eks",
  "deploy/overlays/eks-fargate",
  "deploy/overlays/falco-dropin",
  "deploy/cert-manager",
] as const;

const rendered = new Map<string, string>();
/** `scripts/render-manifests.mjs --stdout DIR` (cached). */
export function renderText(dir: string): string {
  let t = rendered.get(dir);
  if (t === undefined) {
    t = execFileSync(process.execPath, [RENDER, "--stdout", join(REPO_ROOT, dir)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    rendered.set(dir, t);
  }
  return t;
}

export function renderDocs(dir: string): Doc[] {
  return parseDocs(renderText(dir), dir);
}

export function find<T>(docs: Doc[], kind: string, name: string): T {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`no ${kind}/${name}`);
  return d as unknown as T;
}

export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
export const IMAGE = `ghcr.io/vigil-security/vigil:${PACKAGE_VERSION}`;

/** A Kubernetes quantity in bytes (binary and decimal suffixes), e.g. "512Mi" → 536870912. */
export function bytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`not a byte quantity: ${q}`);
  const mult: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? (mult[m[2]] ?? 1) : 1);
}
