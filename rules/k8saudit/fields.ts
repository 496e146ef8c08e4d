// SPDX-License-Identifier: Apache-2.0
/**
 * The fields of the `k8s_audit` source: Falco's k8saudit plugin fields (`ka.*`), its json plugin
 * fields (`jevt.*`, `json.*`, which Falco loads next to it and its rules use), and the generic
 * `evt.*` fields libsinsp gives every plugin event. Names, types (all plugin fields are strings),
 * argument rules (index or key) and list-ness follow the plugins' declarations; values follow
 * their extraction code:
 *
 * - A `ka.*` field of an event without an `auditID` key is missing.
 * - Values are text: a JSON string as it is, any other JSON value as compact JSON
 *   (`ka.response.code` of 200 is `"200"`, `ka.req.pod.host_network` of true is `"true"`).
 * - A list field with no values is missing (libsinsp drops an extraction of zero values).
 * - Per-container lists walk `requestObject.spec.<list>[*]`; the container lists keep their
 *   elements apart (`containers`, `initContainers`, `ephemeralContainers`).
 *
 * Where the plugin's code does not do what its own field description says, these fields follow
 * the description (see {@link DESCRIPTION_OVER_CODE}).
 *
 * Getters are built once per rule when the rule compiles. Per event they read the JSON object;
 * list values are derived once per event and field (and argument), in a cache slot of the
 * {@link AuditEvent} shared by every rule.
 */
import { CompileError } from "../errors.js";
import {
  type FieldArgMode,
  type FieldContext,
  type FieldInfo,
  type FieldSource,
  FieldType,
  type FieldValue,
  type Getter,
  type ListGetter,
  type ResolvedField,
} from "../compile/fields.js";
import type { AuditEvent } from "./event.js";
import { at, child, collect, isObject, type Json, numberText, parsePointer } from "./json.js";
import { parseQuery, type Query } from "./uri.js";

/** The source name rules give in `source:`. */
export const K8S_AUDIT_SOURCE = "k8s_audit";
/** The plugin name Falco reports in `evt.pluginname`. */
export const K8S_AUDIT_PLUGIN = "k8saudit";

/** Longest list output: libsinsp renders a list field into a 1024-byte buffer. */
export const LIST_TEXT_MAX = 1023;
/** Segments a JSON pointer of `jevt.value[...]` may have. */
export const MAX_POINTER_DEPTH = 256;

/**
 * Fields whose plugin code disagrees with the plugin's description, and what these fields do
 * instead (the description), with what the code does.
 */
export const DESCRIPTION_OVER_CODE: Readonly<Record<string, string>> = Object.freeze({
  "ka.sourceips": "reads the event's sourceIPs (the plugin's code reads requestObject.rules[*].sourceIPs, so it is always missing)",
  "ka.req.pod.*.eff_run_as_user":
    "pod securityContext.runAsUser, overridden per container by its securityContext.runAsUser, 0 when neither is set (the code reads spec.runAsUser and containers[*].runAsUser, which Kubernetes has not, so it is 0 for every container)",
  "ka.req.pod.*.eff_run_as_group": "as eff_run_as_user with runAsGroup",
  "ka.req.pod.*.add_capabilities": 'each added capability is a value (the code gives each container\'s add array as one JSON text, `["NET_ADMIN"]`)',
  "ka.req.volume.hostpath": "looks at every volume (the code, given a key argument, reads only the first volume)",
});

/** A field of this source, for `vigil rules fields --source k8s_audit`. */
export interface K8sFieldInfo extends FieldInfo {
  /** Falco's EPF_IS_LIST: the field has several values (`in` / `intersects` / `exists` only). */
  readonly list: boolean;
}

type ArgKind = "none" | "index" | "key";
type ScalarFn = (e: AuditEvent) => FieldValue;
type ListFn = (e: AuditEvent) => readonly string[] | undefined;

interface Def extends K8sFieldInfo {
  readonly argKind: ArgKind;
  /** Builds the getter, the argument checked: a key as written, an index as a number (-1: none). */
  make(arg: { key: string; index: number }, ctx: FieldContext): ScalarFn | ListFn;
}

const DEFS = new Map<string, Def>();

function define(
  name: string,
  type: FieldType,
  desc: string,
  opts: { list?: boolean; arg?: ArgKind; required?: boolean; argDesc?: string },
  make: Def["make"],
): void {
  const argKind = opts.arg ?? "none";
  const arg: FieldArgMode = argKind === "none" ? "none" : opts.required === true ? "required" : "optional";
  const argDesc = argKind === "none" ? undefined : (opts.argDesc ?? (argKind === "index" ? "index" : "key"));
  DEFS.set(name, {
    name,
    type,
    desc,
    arg,
    ...(argDesc === undefined ? {} : { argDesc }),
    list: opts.list === true,
    argKind,
    make,
  });
}

// ---------------------------------------------------------------- per-event cache slots

const slotIds = new Map<string, number>();
/** The cache slot of one field with its argument (the same for every rule that uses it). */
function slotOf(key: string): number {
  let id = slotIds.get(key);
  if (id === undefined) {
    id = slotIds.size;
    slotIds.set(key, id);
  }
  return id;
}

/** A list derived once per event and slot. */
function cachedList(key: string, compute: (e: AuditEvent) => string[] | undefined): ListFn {
  const slot = slotOf(key);
  // an extraction of zero values is a missing field in libsinsp
  const derive = (e: AuditEvent): string[] | undefined => {
    const v = compute(e);
    return v === undefined || v.length === 0 ? undefined : v;
  };
  return (e) => e.derive(slot, derive);
}

// ---------------------------------------------------------------- value text

/** The plugins' jsonValueAsString: a string as it is, other JSON values as compact JSON. */
function text(e: AuditEvent, v: Json): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
      return numberText(v);
    case "boolean":
      return v ? "true" : "false";
    case "object":
      return v === null ? "null" : e.jsonOf(v);
    default:
      return undefined;
  }
}

/** Every value as text, or undefined if one is missing (the plugin's arrayAsStrings). */
function allText(e: AuditEvent, vs: readonly Json[]): string[] | undefined {
  const out: string[] = [];
  for (const v of vs) {
    const t = text(e, v);
    if (t === undefined) return undefined;
    out.push(t);
  }
  return out;
}

/** The values present, as text (arrayAsStringsSkipNil). */
function presentText(e: AuditEvent, vs: readonly Json[]): string[] {
  const out: string[] = [];
  for (const v of vs) {
    const t = text(e, v);
    if (t !== undefined) out.push(t);
  }
  return out;
}

/** Strings of the arrays among `vs`, flattened (the plugin's extractRulesField). */
function flatText(e: AuditEvent, vs: readonly Json[]): string[] {
  const out: string[] = [];
  for (const v of vs) if (Array.isArray(v)) for (const t of presentText(e, v)) out.push(t);
  return out;
}

/** The audit Event object, or undefined for JSON the k8saudit plugin rejects (no `auditID`). */
function auditRoot(e: AuditEvent): Json {
  const root = e.obj;
  return child(root, "auditID") === undefined ? undefined : root;
}

/** Image repository as the plugin cuts it: before the first `:`, then before the first `@`. */
function repositoryOf(image: string): string {
  const colon = image.indexOf(":");
  const head = colon < 0 ? image : image.slice(0, colon);
  const sign = head.indexOf("@");
  return sign < 0 ? head : head.slice(0, sign);
}

// ---------------------------------------------------------------- ka.* builders

/** A single value at a key path. */
function keysField(name: string, type: FieldType, desc: string, keys: readonly string[]): void {
  define(name, type, desc, {}, () => (e) => {
    const root = auditRoot(e);
    return root === undefined ? undefined : text(e, at(root, keys));
  });
}

/** A list: the array at a key path, every element as text (missing if it is not an array). */
function keysList(name: string, desc: string, keys: readonly string[]): void {
  define(name, FieldType.String, desc, { list: true }, () =>
    cachedList(name, (e) => {
      const root = auditRoot(e);
      const v = root === undefined ? undefined : at(root, keys);
      return Array.isArray(v) ? allText(e, v) : undefined;
    }),
  );
}

/** A list from the recursive walk of `keys` (index argument), values made text by `finish`. */
function walkList(name: string, desc: string, keys: readonly string[], finish: (e: AuditEvent, vs: Json[]) => string[] | undefined): void {
  define(name, FieldType.String, desc, { list: true, arg: "index" }, ({ index }) =>
    cachedList(index < 0 ? name : `${name}[${index}]`, (e) => {
      const root = auditRoot(e);
      const vs = root === undefined ? undefined : collect(root, keys, index);
      return vs === undefined ? undefined : finish(e, vs);
    }),
  );
}

const REQ_SPEC = ["requestObject", "spec"] as const;

/** Images of a container list (every container must have one). */
function imagesOf(e: AuditEvent, list: string, index: number): string[] | undefined {
  const root = auditRoot(e);
  const vs = root === undefined ? undefined : collect(root, [...REQ_SPEC, list, "image"], index);
  return vs === undefined ? undefined : allText(e, vs);
}

/** Commands or args of each container, each joined by spaces; missing if one is not an array of strings. */
function joinedArrays(_e: AuditEvent, vs: readonly Json[]): string[] | undefined {
  const out: string[] = [];
  for (const v of vs) {
    if (v === undefined) continue;
    if (!Array.isArray(v)) return undefined;
    const parts: string[] = [];
    for (const x of v) {
      if (typeof x !== "string") return undefined;
      parts.push(x);
    }
    out.push(parts.join(" "));
  }
  return out;
}

/** hostPort of each port of each container, else its containerPort. */
function hostPorts(e: AuditEvent, vs: readonly Json[]): string[] | undefined {
  const out: string[] = [];
  for (const ports of vs) {
    if (ports === undefined) continue;
    if (!Array.isArray(ports)) return undefined;
    for (const p of ports) {
      const host = child(p, "hostPort");
      const v = host !== undefined ? host : child(p, "containerPort");
      if (v === undefined) continue;
      const t = text(e, v);
      if (t === undefined) return undefined;
      out.push(t);
    }
  }
  return out;
}

/** Effective run-as id of each container: its own, else the pod's, else 0. */
function effectiveIds(e: AuditEvent, list: string, key: "runAsUser" | "runAsGroup", index: number): string[] | undefined {
  const root = auditRoot(e);
  if (root === undefined) return undefined;
  const podValue = at(root, [...REQ_SPEC, "securityContext", key]);
  const pod = podValue === undefined ? "0" : text(e, podValue);
  if (pod === undefined) return undefined;
  const containers = collect(root, [...REQ_SPEC, list, ""], index);
  if (containers === undefined) return undefined;
  const out: string[] = [];
  for (const c of containers) {
    const v = at(c, ["securityContext", key]);
    out.push(v === undefined ? pod : (text(e, v) ?? pod));
  }
  return out;
}

/** The `ka.req.pod.<list>.*` fields of one container list. */
function containerFields(list: "containers" | "initContainers" | "ephemeralContainers", what: string, hostPort: boolean): void {
  const p = `ka.req.pod.${list}`;
  const sc = (key: string): string[] => [...REQ_SPEC, list, "securityContext", key];
  walkList(`${p}.name`, `names of the pod's ${what}`, [...REQ_SPEC, list, "name"], allText);
  define(`${p}.image`, FieldType.String, `images of the pod's ${what}`, { list: true, arg: "index" }, ({ index }) =>
    cachedList(`${p}.image[${index}]`, (e) => imagesOf(e, list, index)),
  );
  define(
    `${p}.image.repository`,
    FieldType.String,
    `image repositories of the pod's ${what} (the image before its tag or digest)`,
    { list: true, arg: "index" },
    ({ index }) => cachedList(`${p}.image.repository[${index}]`, (e) => imagesOf(e, list, index)?.map(repositoryOf)),
  );
  walkList(`${p}.command`, `command of each of the pod's ${what}, words joined by spaces`, [...REQ_SPEC, list, "command"], joinedArrays);
  walkList(`${p}.args`, `args of each of the pod's ${what}, joined by spaces`, [...REQ_SPEC, list, "args"], joinedArrays);
  if (hostPort)
    walkList(`${p}.host_port`, `host ports of the pod's ${what} (containerPort when no hostPort is given)`, [...REQ_SPEC, list, "ports"], hostPorts);
  walkList(`${p}.privileged`, `securityContext.privileged of the pod's ${what} that set it`, sc("privileged"), presentText);
  walkList(
    `${p}.allow_privilege_escalation`,
    `securityContext.allowPrivilegeEscalation of the pod's ${what} that set it`,
    sc("allowPrivilegeEscalation"),
    presentText,
  );
  walkList(`${p}.read_only_fs`, `securityContext.readOnlyRootFilesystem of the pod's ${what} that set it`, sc("readOnlyRootFilesystem"), presentText);
  walkList(`${p}.run_as_user`, `securityContext.runAsUser of the pod's ${what} that set it`, sc("runAsUser"), presentText);
  walkList(`${p}.run_as_group`, `securityContext.runAsGroup of the pod's ${what} that set it`, sc("runAsGroup"), presentText);
  walkList(`${p}.proc_mount`, `securityContext.procMount of the pod's ${what} that set it`, sc("procMount"), presentText);
  walkList(
    `${p}.add_capabilities`,
    `capabilities added by the pod's ${what} (securityContext.capabilities.add)`,
    [...REQ_SPEC, list, "securityContext", "capabilities", "add"],
    flatText,
  );
  for (const [field, key, id] of [
    ["eff_run_as_user", "runAsUser", "uid"],
    ["eff_run_as_group", "runAsGroup", "gid"],
  ] as const) {
    define(
      `${p}.${field}`,
      FieldType.String,
      `${id} each of the pod's ${what} starts with: its own securityContext.${key}, else the pod's, else 0`,
      { list: true, arg: "index" },
      ({ index }) => cachedList(`${p}.${field}[${index}]`, (e) => effectiveIds(e, list, key, index)),
    );
  }
}

/** Subject names of a binding, by subject kind (`ns` gives namespace:name for service accounts). */
function subjectNames(e: AuditEvent, kind: string, ns: boolean): string[] | undefined {
  const root = auditRoot(e);
  if (root === undefined) return undefined;
  const subjects = at(root, ["requestObject", "subjects"]);
  if (subjects === undefined) return [];
  if (!Array.isArray(subjects)) return undefined;
  const out: string[] = [];
  for (const s of subjects) {
    const k = child(s, "kind");
    const n = child(s, "name");
    if (k === undefined || n === undefined || text(e, k) !== kind) continue;
    const name = text(e, n);
    if (name === undefined) continue;
    if (!ns) {
      out.push(name);
      continue;
    }
    const space = child(s, "namespace");
    const spaceText = space === undefined ? undefined : text(e, space);
    if (spaceText !== undefined) out.push(`${spaceText}:${name}`);
  }
  return out;
}

// ---------------------------------------------------------------- ka.* fields

const ANNOTATIONS = "annotations";
keysField("ka.auditid", FieldType.String, "unique id of the audit event (auditID)", ["auditID"]);
keysField("ka.stage", FieldType.String, "stage of the request (RequestReceived, ResponseStarted, ResponseComplete, Panic)", ["stage"]);
keysField("ka.auth.decision", FieldType.String, "authorization decision (annotation authorization.k8s.io/decision)", [
  ANNOTATIONS,
  "authorization.k8s.io/decision",
]);
keysField("ka.auth.reason", FieldType.String, "authorization reason (annotation authorization.k8s.io/reason)", [ANNOTATIONS, "authorization.k8s.io/reason"]);
keysField("ka.auth.openshift.decision", FieldType.String, "OpenShift authentication decision (annotation authentication.openshift.io/decision)", [
  ANNOTATIONS,
  "authentication.openshift.io/decision",
]);
keysField("ka.auth.openshift.username", FieldType.String, "user name of the OpenShift authentication (annotation authentication.openshift.io/username)", [
  ANNOTATIONS,
  "authentication.openshift.io/username",
]);
keysField(
  "ka.validations.admission.policy.failure",
  FieldType.String,
  "failure reason of a ValidatingAdmissionPolicy (annotation validation.policy.admission.k8s.io/validation_failure)",
  [ANNOTATIONS, "validation.policy.admission.k8s.io/validation_failure"],
);
keysField("ka.security.pod.violations", FieldType.String, "Pod Security violations (annotation pod-security.kubernetes.io/audit-violations)", [
  ANNOTATIONS,
  "pod-security.kubernetes.io/audit-violations",
]);
keysField("ka.user.name", FieldType.String, "user making the request (user.username)", ["user", "username"]);
keysList("ka.user.groups", "groups of the user making the request (user.groups)", ["user", "groups"]);
keysField("ka.impuser.name", FieldType.String, "impersonated user (impersonatedUser.username)", ["impersonatedUser", "username"]);
keysField("ka.verb", FieldType.String, "verb of the request (get, list, create, update, patch, delete...)", ["verb"]);
keysField("ka.uri", FieldType.String, "request URI as the client sent it (requestURI)", ["requestURI"]);
define(
  "ka.uri.param",
  FieldType.String,
  "first value of a query parameter of the request URI (ka.uri.param[follow] of /x?follow=true is true)",
  { arg: "key", required: true, argDesc: "parameter name" },
  ({ key }) => {
    const slot = slotOf("ka.uri.param");
    const queryOf = (e: AuditEvent): Query | undefined => {
      const root = auditRoot(e);
      const uri = root === undefined ? undefined : child(root, "requestURI");
      const s = uri === undefined ? undefined : text(e, uri);
      return s === undefined ? undefined : parseQuery(s);
    };
    return (e) => e.derive(slot, queryOf)?.get(key)?.[0];
  },
);
keysField("ka.target.name", FieldType.String, "name of the target object (objectRef.name)", ["objectRef", "name"]);
keysField("ka.target.namespace", FieldType.String, "namespace of the target object (objectRef.namespace)", ["objectRef", "namespace"]);
keysField("ka.target.resource", FieldType.String, "resource of the target object (objectRef.resource)", ["objectRef", "resource"]);
keysField("ka.target.subresource", FieldType.String, "subresource of the target object (objectRef.subresource)", ["objectRef", "subresource"]);
define(
  "ka.target.pod.name",
  FieldType.String,
  "name of the pod a pods request (without subresource) answers with (responseObject.metadata.name)",
  {},
  () => (e) => {
    const root = auditRoot(e);
    if (root === undefined) return undefined;
    const ref = child(root, "objectRef");
    if (child(ref, "resource") !== "pods") return undefined;
    const sub = child(ref, "subresource");
    if (typeof sub === "string" && sub !== "") return undefined;
    return text(e, at(root, ["responseObject", "metadata", "name"]));
  },
);
keysList("ka.req.binding.subjects", "subjects of a (cluster) role binding request, each as JSON (requestObject.subjects)", ["requestObject", "subjects"]);
for (const [suffix, kind, ns, what] of [
  ["user_names", "User", false, "User subjects"],
  ["serviceaccount_names", "ServiceAccount", false, "ServiceAccount subjects"],
  ["serviceaccount_ns_names", "ServiceAccount", true, "ServiceAccount subjects as namespace:name"],
  ["group_names", "Group", false, "Group subjects"],
] as const) {
  const name = `ka.req.binding.subjects.${suffix}`;
  define(name, FieldType.String, `names of the ${what} of a (cluster) role binding request`, { list: true }, () =>
    cachedList(name, (e) => subjectNames(e, kind, ns)),
  );
}
keysField("ka.req.binding.role", FieldType.String, "role a (cluster) role binding request binds (requestObject.roleRef.name)", [
  "requestObject",
  "roleRef",
  "name",
]);
define(
  "ka.req.binding.subject.has_name",
  FieldType.String,
  "deprecated: always true, whatever the name (kept for old rules)",
  { arg: "key", required: true, argDesc: "subject name" },
  () => (e) => (auditRoot(e) === undefined ? undefined : "true"),
);
keysField("ka.req.configmap.name", FieldType.String, "name of the configmap of the request (objectRef.name)", ["objectRef", "name"]);
keysField("ka.req.configmap.obj", FieldType.String, "data of the configmap of the request, as JSON (requestObject.data)", ["requestObject", "data"]);
containerFields("containers", "containers", true);
containerFields("initContainers", "init containers", true);
containerFields("ephemeralContainers", "ephemeral containers", false);
define("ka.req.container.image", FieldType.String, "deprecated: image of the pod's first container", {}, () => (e) => imagesOf(e, "containers", 0)?.[0]);
define("ka.req.container.image.repository", FieldType.String, "deprecated: image repository of the pod's first container", {}, () => (e) => {
  const image = imagesOf(e, "containers", 0)?.[0];
  return image === undefined ? undefined : repositoryOf(image);
});
keysField("ka.req.pod.host_ipc", FieldType.String, "hostIPC of the pod of the request", [...REQ_SPEC, "hostIPC"]);
keysField("ka.req.pod.host_network", FieldType.String, "hostNetwork of the pod of the request", [...REQ_SPEC, "hostNetwork"]);
keysField("ka.req.container.host_network", FieldType.String, "deprecated alias of ka.req.pod.host_network", [...REQ_SPEC, "hostNetwork"]);
keysField("ka.req.pod.host_pid", FieldType.String, "hostPID of the pod of the request", [...REQ_SPEC, "hostPID"]);
define("ka.req.container.privileged", FieldType.String, "deprecated: true if any container of the pod sets privileged: true, else false", {}, () => (e) => {
  const root = auditRoot(e);
  const vs = root === undefined ? undefined : collect(root, [...REQ_SPEC, "containers", "securityContext", "privileged"], -1);
  if (vs === undefined) return undefined;
  return vs.some((v) => v === true) ? "true" : "false";
});
keysField("ka.req.pod.run_as_user", FieldType.String, "runAsUser of the pod's securityContext", [...REQ_SPEC, "securityContext", "runAsUser"]);
keysField("ka.req.pod.run_as_group", FieldType.String, "runAsGroup of the pod's securityContext", [...REQ_SPEC, "securityContext", "runAsGroup"]);
keysField("ka.req.pod.fs_group", FieldType.String, "fsGroup of the pod's securityContext", [...REQ_SPEC, "securityContext", "fsGroup"]);
keysList("ka.req.pod.supplemental_groups", "supplementalGroups of the pod's securityContext", [...REQ_SPEC, "securityContext", "supplementalGroups"]);
keysList("ka.req.role.rules", "rules of a (cluster) role request, each as JSON (requestObject.rules)", ["requestObject", "rules"]);
for (const [suffix, key] of [
  ["apiGroups", "apiGroups"],
  ["nonResourceURLs", "nonResourceURLs"],
  ["verbs", "verbs"],
  ["resources", "resources"],
] as const) {
  walkList(`ka.req.role.rules.${suffix}`, `${key} of the rules of a (cluster) role request, all rules together`, ["requestObject", "rules", key], flatText);
}
keysField("ka.req.service.type", FieldType.String, "type of the service of the request (requestObject.spec.type)", [...REQ_SPEC, "type"]);
walkList("ka.req.service.ports", "ports of the service of the request, as one JSON array", [...REQ_SPEC, "ports"], presentText);
walkList("ka.req.pod.volumes.hostpath", "hostPath paths of the pod's volumes", [...REQ_SPEC, "volumes", "hostPath", "path"], presentText);
walkList("ka.req.pod.volumes.flexvolume_driver", "flexVolume drivers of the pod's volumes", [...REQ_SPEC, "volumes", "flexVolume", "driver"], presentText);
walkList("ka.req.pod.volumes.volume_type", "volume types of the pod's volumes (each volume's keys other than name)", [...REQ_SPEC, "volumes", ""], (_e, vs) => {
  const out: string[] = [];
  for (const v of vs) if (isObject(v)) for (const k of Object.keys(v)) if (k !== "name") out.push(k);
  return out;
});
define(
  "ka.req.volume.hostpath",
  FieldType.String,
  "deprecated: true if a volume of the pod has this hostPath (a trailing * matches a prefix), else false",
  { arg: "key", required: true, argDesc: "path, or prefix ending in *" },
  ({ key }) => {
    const prefix = key.endsWith("*") ? key.slice(0, -1) : undefined;
    // every hostPath (an empty list is kept: volumes without one give "false")
    const slot = slotOf("ka.req.volume.hostpath:paths");
    const paths = (e: AuditEvent): string[] | undefined => {
      const root = auditRoot(e);
      const vs = root === undefined ? undefined : collect(root, [...REQ_SPEC, "volumes", "hostPath", "path"], -1);
      return vs === undefined ? undefined : presentText(e, vs);
    };
    return (e) => {
      const vs = e.derive(slot, paths);
      if (vs === undefined) return undefined;
      for (const v of vs) if (v === key || (prefix !== undefined && v.startsWith(prefix))) return "true";
      return "false";
    };
  },
);
keysField("ka.resp.name", FieldType.String, "name of the response object (responseObject.metadata.name)", ["responseObject", "metadata", "name"]);
keysField("ka.response.code", FieldType.String, "response code (responseStatus.code)", ["responseStatus", "code"]);
keysField("ka.response.reason", FieldType.String, "response reason, usually set on failures (responseStatus.reason)", ["responseStatus", "reason"]);
keysField("ka.useragent", FieldType.String, "user agent of the client (userAgent)", ["userAgent"]);
define("ka.sourceips", FieldType.String, "IP addresses the request came from (sourceIPs)", { list: true, arg: "index" }, ({ index }) =>
  cachedList(`ka.sourceips[${index}]`, (e) => {
    const root = auditRoot(e);
    const ips = root === undefined ? undefined : child(root, "sourceIPs");
    if (!Array.isArray(ips)) return undefined;
    if (index < 0) return presentText(e, ips);
    const t = index < ips.length ? text(e, ips[index]) : undefined;
    return t === undefined ? undefined : [t];
  }),
);
keysField("ka.cluster.name", FieldType.String, "cluster name added to the event (annotation cluster_name)", [ANNOTATIONS, "cluster_name"]);

// ---------------------------------------------------------------- jevt.* / json.* (the json plugin)

function nsText(e: AuditEvent): string {
  return (BigInt(e.sec) * 1_000_000_000n + BigInt(e.nsec)).toString();
}

for (const prefix of ["json", "jevt"] as const) {
  define(
    `${prefix}.value`,
    FieldType.String,
    `value at a JSON pointer of the event (${prefix}.value[/objectRef/resource]); non-strings as JSON`,
    { arg: "key", required: true, argDesc: "JSON pointer" },
    ({ key }) => {
      const segs = parsePointer(key, MAX_POINTER_DEPTH);
      if (segs === undefined)
        throw new CompileError("BAD_FIELD_ARG", `invalid JSON pointer '${key}' for field '${prefix}.value': empty or deeper than ${MAX_POINTER_DEPTH}`);
      return (e) => text(e, at(e.obj, segs));
    },
  );
  define(`${prefix}.obj`, FieldType.String, "the whole event as JSON indented by two spaces", {}, () => (e) => e.indented());
  const rawSlot = slotOf(`${prefix}.rawtime`);
  define(`${prefix}.rawtime`, FieldType.String, "event time in ns since the epoch, as text (as evt.rawtime)", {}, () => (e) => e.derive(rawSlot, nsText));
}
define("jevt.time", FieldType.String, "event time of day with nanoseconds (HH:MM:SS.nnnnnnnnn, UTC), as evt.time", {}, () => timeOfDay);
define("jevt.time.iso8601", FieldType.String, "event time, ISO 8601 with nanoseconds (UTC), as evt.time.iso8601", {}, () => isoTime);

// ---------------------------------------------------------------- evt.* (libsinsp's fields of every plugin event)

function isoTime(e: AuditEvent): string | undefined {
  const ms = e.sec * 1000;
  if (!(Math.abs(ms) <= 8.64e15)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(e.nsec).padStart(9, "0")}Z`;
}
function timeOfDay(e: AuditEvent): string | undefined {
  return isoTime(e)?.slice(11, 29);
}

define("evt.num", FieldType.Uint, "event sequence number", {}, () => (e) => e.num);
define("evt.time", FieldType.String, "event time of day with nanoseconds (HH:MM:SS.nnnnnnnnn, UTC)", {}, () => timeOfDay);
define("evt.time.s", FieldType.String, "event time of day (HH:MM:SS, UTC)", {}, () => (e) => isoTime(e)?.slice(11, 19));
define("evt.time.iso8601", FieldType.String, "event time, ISO 8601 with nanoseconds (UTC)", {}, () => isoTime);
define(
  "evt.datetime",
  FieldType.String,
  "event date and time (YYYY-MM-DD HH:MM:SS.nnnnnnnnn, UTC)",
  {},
  () => (e) => isoTime(e)?.slice(0, 29).replace("T", " "),
);
define(
  "evt.datetime.s",
  FieldType.String,
  "event date and time without the nanoseconds (YYYY-MM-DD HH:MM:SS, UTC)",
  {},
  () => (e) => isoTime(e)?.slice(0, 19).replace("T", " "),
);
define("evt.rawtime", FieldType.AbsTime, "event time, ns since the epoch", {}, () => (e) => e.sec * 1e9 + e.nsec);
define("evt.rawtime.s", FieldType.AbsTime, "seconds part of the event time", {}, () => (e) => e.sec);
define("evt.rawtime.ns", FieldType.AbsTime, "nanoseconds part of the event time", {}, () => (e) => e.nsec);
define("evt.source", FieldType.String, "event source name (k8s_audit)", {}, () => () => K8S_AUDIT_SOURCE);
define("evt.pluginname", FieldType.String, "name of the plugin of the event source (k8saudit)", {}, () => () => K8S_AUDIT_PLUGIN);
define("evt.plugininfo", FieldType.String, "the event as the plugin prints it: its compact JSON", {}, () => (e) => text(e, e.obj));
define("evt.is_async", FieldType.Bool, "true for asynchronous events (never for audit events)", {}, () => () => false);
define("evt.asynctype", FieldType.String, "type of an asynchronous event (audit events are none: missing)", {}, () => () => undefined);
define("evt.hostname", FieldType.String, "host name of the node evaluating the event", {}, (_arg, ctx) => {
  const name = ctx.hostname;
  return () => name;
});

/** Fields libsinsp has for plugin events that Vigil does not implement. */
const UNSUPPORTED = new Set(["evt.reltime", "evt.reltime.s", "evt.reltime.ns"]);

// ---------------------------------------------------------------- the source

function badArg(name: string, arg: string | undefined, why: string): CompileError {
  return new CompileError("BAD_FIELD_ARG", `invalid argument '${arg ?? ""}' for field '${name}': ${why}`);
}

/** Renders list values as libsinsp prints a list field: `(a,b,c)`, cut at {@link LIST_TEXT_MAX} characters. */
export function listText(vs: readonly string[]): string {
  let s = "(";
  for (let k = 0; k < vs.length; k++) {
    if (k > 0) s += ",";
    s += vs[k] as string;
    if (s.length >= LIST_TEXT_MAX) return s.slice(0, LIST_TEXT_MAX);
  }
  s += ")";
  return s.length > LIST_TEXT_MAX ? s.slice(0, LIST_TEXT_MAX) : s;
}

function resolve(name: string, arg: string | undefined, ctx: FieldContext): ResolvedField {
  const d = DEFS.get(name);
  if (d === undefined) {
    throw new CompileError(
      "UNKNOWN_FIELD",
      UNSUPPORTED.has(name) ? `field '${name}' is not supported by Vigil` : `unknown field '${name}' for source '${K8S_AUDIT_SOURCE}'`,
    );
  }
  let index = -1;
  if (arg === undefined) {
    if (d.arg === "required") throw badArg(name, arg, `an argument is required (${d.argDesc ?? "argument"})`);
  } else if (d.argKind === "none") {
    throw badArg(name, arg, "this field takes no argument");
  } else if (d.argKind === "index") {
    if (!/^(0|[1-9][0-9]*)$/.test(arg)) throw badArg(name, arg, "expected an index (digits, no leading zero)");
    index = Number(arg);
  } else if (arg.length === 0) {
    throw badArg(name, arg, `expected a non-empty ${d.argDesc ?? "key"}`);
  }
  const display = arg === undefined ? name : `${name}[${arg}]`;
  const fn = d.make({ key: arg ?? "", index }, ctx);
  if (!d.list) return { name: display, type: d.type, get: fn as unknown as Getter, ancestor: undefined, either: undefined };
  const values = fn as ListFn;
  const render: ScalarFn = (e) => {
    const vs = values(e);
    return vs === undefined ? undefined : listText(vs);
  };
  return {
    name: display,
    type: d.type,
    get: render as unknown as Getter,
    list: values as unknown as ListGetter,
    ancestor: undefined,
    either: undefined,
  };
}

const INFOS: readonly K8sFieldInfo[] = Object.freeze(
  [...DEFS.values()]
    .map(
      ({ name, type, desc, arg, argDesc, list }): K8sFieldInfo =>
        argDesc === undefined ? { name, type, desc, arg, list } : { name, type, desc, arg, argDesc, list },
    )
    .sort((x, y) => (x.name < y.name ? -1 : 1)),
);

/** The field registry of the `k8s_audit` source (the events are {@link AuditEvent}s). */
export const k8sAuditSource: FieldSource & { list(): readonly K8sFieldInfo[] } = Object.freeze({
  name: K8S_AUDIT_SOURCE,
  resolve,
  has: (name: string) => DEFS.has(name),
  list: () => INFOS,
});
