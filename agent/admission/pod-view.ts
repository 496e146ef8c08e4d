// SPDX-License-Identifier: Apache-2.0
/**
 * The pod a request would run, in the shape the `ka.req.pod.*` fields read
 * (`requestObject.spec.containers`, `.spec.hostPID`, `.spec.volumes`...): a Pod is itself; a
 * workload (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController,
 * PodTemplate, CronJob) is the pod of its template (`spec.template`, a CronJob's
 * `spec.jobTemplate.spec.template`), so a policy denies the Deployment whose pods it would deny
 * rather than letting its controller fail to create them out of sight. Anything else has no pod
 * view (the request object is used as it is).
 */

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Where each workload resource keeps its pod template (by `group/resource`; core group empty). */
export const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  "apps/deployments": ["spec", "template"],
  "apps/replicasets": ["spec", "template"],
  "apps/statefulsets": ["spec", "template"],
  "apps/daemonsets": ["spec", "template"],
  "batch/jobs": ["spec", "template"],
  "batch/cronjobs": ["spec", "jobTemplate", "spec", "template"],
  "/replicationcontrollers": ["spec", "template"],
  "/podtemplates": ["template"],
};

/** apiVersion/kind of a manifest → its group and resource (the kinds that carry pods). */
export const KIND_RESOURCES: Readonly<Record<string, { group: string; version: string; resource: string }>> = {
  "v1/Pod": { group: "", version: "v1", resource: "pods" },
  "v1/ReplicationController": { group: "", version: "v1", resource: "replicationcontrollers" },
  "v1/PodTemplate": { group: "", version: "v1", resource: "podtemplates" },
  "apps/v1/Deployment": { group: "apps", version: "v1", resource: "deployments" },
  "apps/v1/ReplicaSet": { group: "apps", version: "v1", resource: "replicasets" },
  "apps/v1/StatefulSet": { group: "apps", version: "v1", resource: "statefulsets" },
  "apps/v1/DaemonSet": { group: "apps", version: "v1", resource: "daemonsets" },
  "batch/v1/Job": { group: "batch", version: "v1", resource: "jobs" },
  "batch/v1/CronJob": { group: "batch", version: "v1", resource: "cronjobs" },
};

/** The pod (sub)resources whose object is a Pod that may run new containers. */
const POD_SUBRESOURCES = new Set(["", "ephemeralcontainers"]);

function at(o: unknown, path: readonly string[]): unknown {
  let v = o;
  for (const k of path) {
    if (!isObj(v)) return undefined;
    v = v[k];
  }
  return v;
}

/** Whether a request on `group/resource[/subResource]` carries a pod (itself or a template). */
export function carriesPod(group: string, resource: string, subResource = ""): boolean {
  if (group === "" && resource === "pods") return POD_SUBRESOURCES.has(subResource);
  return subResource === "" && TEMPLATE_PATHS[`${group}/${resource}`] !== undefined;
}

/**
 * The pod view of `obj`, the object of a request on `group/resource[/subResource]`; undefined
 * when the resource carries no pod or the object has no pod spec.
 */
export function podView(obj: unknown, group: string, resource: string, subResource = ""): Obj | undefined {
  if (!isObj(obj) || !carriesPod(group, resource, subResource)) return undefined;
  if (group === "" && resource === "pods") {
    return isObj(obj["spec"]) ? obj : undefined;
  }
  const tpl = at(obj, TEMPLATE_PATHS[`${group}/${resource}`] ?? []);
  if (!isObj(tpl) || !isObj(tpl["spec"])) return undefined;
  const meta = isObj(tpl["metadata"]) ? { ...tpl["metadata"] } : {};
  const ns = at(obj, ["metadata", "namespace"]);
  if (typeof ns === "string") meta["namespace"] = ns;
  return { apiVersion: "v1", kind: "Pod", metadata: meta, spec: tpl["spec"] };
}
