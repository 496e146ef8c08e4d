// SPDX-License-Identifier: Apache-2.0
/**
 * Every field of the k8s_audit source on realistic audit events (values as Falco's k8saudit and
 * json plugins extract them), missing and wrong-shape values, argument rules, list rendering, the
 * per-event cache, and hostile events (deep nesting, cycles, huge strings, prototype keys).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_FIELD_CONTEXT, type FieldContext, type FieldValue } from "../../rules/compile/fields.js";
import type { SyscallEvent } from "../../rules/event.js";
import { CompileError } from "../../rules/errors.js";
import { AuditEvent, k8sAuditSource, LIST_TEXT_MAX, MAX_NESTED_ARRAYS } from "../../rules/k8saudit/index.js";
import { Service } from "kubernetes-models/v1/Service";
import { validateAuditEvent } from "../helpers/audit-schema.js";
import * as recorded from "./events.js";
import { clusterRoleCreate, configMapUpdate, ephemeralDebug, podCreate, podExec, roleBindingCreate, secretGetForbidden, serviceCreate } from "./events.js";

const CTX: FieldContext = { ...DEFAULT_FIELD_CONTEXT, hostname: "node-a" };

/** Field name with its optional `[arg]`, split. */
function split(field: string): [string, string | undefined] {
  const b = field.indexOf("[");
  return b < 0 ? [field, undefined] : [field.slice(0, b), field.slice(b + 1, -1)];
}
function asEvent(e: AuditEvent): SyscallEvent {
  return e as unknown as SyscallEvent;
}
/** The value a field gives (lists: their values). */
function value(field: string, e: AuditEvent): FieldValue | readonly string[] {
  const [name, arg] = split(field);
  const r = k8sAuditSource.resolve(name, arg, CTX);
  return r.list !== undefined ? r.list(asEvent(e)) : r.get(asEvent(e));
}
/** The output text of a field (Falco's `<NA>` for missing). */
function rendered(field: string, e: AuditEvent): string {
  const [name, arg] = split(field);
  const v = k8sAuditSource.resolve(name, arg, CTX).get(asEvent(e));
  return v === undefined ? "<NA>" : String(v);
}
const ev = (obj: unknown, num = 7): AuditEvent => AuditEvent.from(obj, { num });

const POD = ev(podCreate());
const BINDING = ev(roleBindingCreate());
const CM = ev(configMapUpdate());
const EXEC = ev(podExec());
const ROLE = ev(clusterRoleCreate());
const SVC = ev(serviceCreate());
const SECRET = ev(secretGetForbidden());
const DEBUG = ev(ephemeralDebug());

const STAGE_SEC = Date.UTC(2024, 5, 1, 10, 15, 30) / 1000;
const NGINX = "docker.io/library/nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";
const SIDECAR = "registry.example.com:5000/team/sidecar:2.1";
const NA = undefined;

/** [field (with argument), event, expected value: a string, a list of strings, or NA]. */
const TABLE: [string, AuditEvent, FieldValue | readonly string[]][] = [
  ["ka.auditid", POD, "3f1f07a5-8d5c-4a8f-9a3e-1c0f4f3b2d10"],
  ["ka.stage", POD, "ResponseComplete"],
  ["ka.stage", EXEC, "ResponseStarted"],
  ["ka.auth.decision", POD, "allow"],
  ["ka.auth.decision", SECRET, "forbid"],
  ["ka.auth.reason", POD, 'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"'],
  ["ka.auth.reason", SECRET, ""],
  ["ka.auth.openshift.decision", SECRET, "allow"],
  ["ka.auth.openshift.decision", POD, NA],
  ["ka.auth.openshift.username", SECRET, "kube:admin"],
  ["ka.validations.admission.policy.failure", SECRET, '[{"message":"denied"}]'],
  ["ka.security.pod.violations", SECRET, "would violate PodSecurity"],
  ["ka.security.pod.violations", POD, NA],
  ["ka.user.name", POD, "kubernetes-admin"],
  ["ka.user.name", SECRET, "system:anonymous"],
  ["ka.user.groups", POD, ["kubeadm:cluster-admins", "system:authenticated"]],
  ["ka.impuser.name", SECRET, "system:serviceaccount:kube-system:default"],
  ["ka.impuser.name", POD, NA],
  ["ka.verb", POD, "create"],
  ["ka.verb", CM, "update"],
  ["ka.uri", EXEC, "/api/v1/namespaces/prod/pods/web-0/exec?command=sh&command=-c&command=id&container=app&stdin=true&stdout=true&tty=true"],
  ["ka.uri.param[command]", EXEC, "sh"],
  ["ka.uri.param[container]", EXEC, "app"],
  ["ka.uri.param[tty]", EXEC, "true"],
  ["ka.uri.param[follow]", EXEC, NA],
  ["ka.uri.param[fieldManager]", POD, "kubectl-client-side-apply"],
  ["ka.target.name", POD, "evil"],
  ["ka.target.namespace", EXEC, "prod"],
  ["ka.target.namespace", ROLE, NA],
  ["ka.target.resource", BINDING, "rolebindings"],
  ["ka.target.subresource", EXEC, "exec"],
  ["ka.target.subresource", POD, NA],
  ["ka.target.pod.name", POD, "evil"],
  // a subresource request is not a pod request; a pod read without a response object has none
  ["ka.target.pod.name", EXEC, NA],
  ["ka.target.pod.name", SECRET, NA],
  [
    "ka.req.binding.subjects",
    BINDING,
    [
      '{"kind":"User","name":"jane","apiGroup":"rbac.authorization.k8s.io"}',
      '{"kind":"Group","name":"devs","apiGroup":"rbac.authorization.k8s.io"}',
      '{"kind":"ServiceAccount","name":"builder","namespace":"ci"}',
      '{"kind":"ServiceAccount","name":"default"}',
    ],
  ],
  ["ka.req.binding.subjects", POD, NA],
  ["ka.req.binding.subjects.user_names", BINDING, ["jane"]],
  ["ka.req.binding.subjects.group_names", BINDING, ["devs"]],
  ["ka.req.binding.subjects.serviceaccount_names", BINDING, ["builder", "default"]],
  // a service account subject without a namespace has no namespaced name
  ["ka.req.binding.subjects.serviceaccount_ns_names", BINDING, ["ci:builder"]],
  ["ka.req.binding.subjects.user_names", POD, NA],
  ["ka.req.binding.role", BINDING, "pod-reader"],
  ["ka.req.binding.role", POD, NA],
  ["ka.req.binding.subject.has_name[anyone]", BINDING, "true"],
  ["ka.req.binding.subject.has_name[anyone]", POD, "true"],
  ["ka.req.configmap.name", CM, "aws-creds"],
  ["ka.req.configmap.obj", CM, '{"credentials.ini":"[default]\\naws_access_key_id=AKIAEXAMPLE\\n","region":"eu-west-1"}'],
  ["ka.req.configmap.obj", POD, NA],
  // containers
  ["ka.req.pod.containers.name", POD, ["app", "sidecar"]],
  ["ka.req.pod.containers.name[1]", POD, ["sidecar"]],
  ["ka.req.pod.containers.image", POD, [NGINX, SIDECAR]],
  ["ka.req.pod.containers.image[0]", POD, [NGINX]],
  ["ka.req.pod.containers.image[2]", POD, NA],
  ["ka.req.pod.containers.image", CM, NA],
  // the repository is cut at the first ':' as the plugin does (a registry port cuts it short)
  ["ka.req.pod.containers.image.repository", POD, ["docker.io/library/nginx", "registry.example.com"]],
  ["ka.req.pod.containers.image.repository[0]", POD, ["docker.io/library/nginx"]],
  ["ka.req.pod.containers.command", POD, ["nginx"]],
  ["ka.req.pod.containers.args", POD, ["-g daemon off;"]],
  ["ka.req.pod.containers.args[1]", POD, NA],
  ["ka.req.pod.containers.host_port", POD, ["8080", "443"]],
  ["ka.req.pod.containers.privileged", POD, ["true"]],
  ["ka.req.pod.containers.privileged[1]", POD, NA],
  ["ka.req.pod.containers.allow_privilege_escalation", POD, ["true"]],
  ["ka.req.pod.containers.read_only_fs", POD, ["false", "true"]],
  ["ka.req.pod.containers.run_as_user", POD, ["0"]],
  ["ka.req.pod.containers.eff_run_as_user", POD, ["0", "1000"]],
  ["ka.req.pod.containers.eff_run_as_user[1]", POD, ["1000"]],
  ["ka.req.pod.containers.run_as_group", POD, ["0"]],
  ["ka.req.pod.containers.eff_run_as_group", POD, ["0", "0"]],
  ["ka.req.pod.containers.proc_mount", POD, ["Unmasked"]],
  ["ka.req.pod.containers.add_capabilities", POD, ["NET_ADMIN", "SYS_TIME", "SYS_ADMIN"]],
  ["ka.req.pod.containers.add_capabilities[1]", POD, ["SYS_ADMIN"]],
  // init containers are their own list
  ["ka.req.pod.initContainers.name", POD, ["setup"]],
  ["ka.req.pod.initContainers.image", POD, ["busybox:1.36"]],
  ["ka.req.pod.initContainers.image.repository", POD, ["busybox"]],
  ["ka.req.pod.initContainers.command", POD, ["sh -c echo init"]],
  ["ka.req.pod.initContainers.args", POD, NA],
  ["ka.req.pod.initContainers.host_port", POD, NA],
  ["ka.req.pod.initContainers.privileged", POD, ["true"]],
  ["ka.req.pod.initContainers.allow_privilege_escalation", POD, NA],
  ["ka.req.pod.initContainers.read_only_fs", POD, NA],
  ["ka.req.pod.initContainers.run_as_user", POD, NA],
  ["ka.req.pod.initContainers.eff_run_as_user", POD, ["1000"]],
  ["ka.req.pod.initContainers.run_as_group", POD, NA],
  ["ka.req.pod.initContainers.eff_run_as_group", POD, ["0"]],
  ["ka.req.pod.initContainers.proc_mount", POD, NA],
  ["ka.req.pod.initContainers.add_capabilities", POD, NA],
  // ephemeral containers
  ["ka.req.pod.ephemeralContainers.name", DEBUG, ["debugger-x7k2p"]],
  ["ka.req.pod.ephemeralContainers.image", DEBUG, ["busybox:1.36"]],
  ["ka.req.pod.ephemeralContainers.image.repository", DEBUG, ["busybox"]],
  ["ka.req.pod.ephemeralContainers.command", DEBUG, ["sh"]],
  ["ka.req.pod.ephemeralContainers.args", DEBUG, NA],
  ["ka.req.pod.ephemeralContainers.privileged", DEBUG, ["true"]],
  ["ka.req.pod.ephemeralContainers.allow_privilege_escalation", DEBUG, NA],
  ["ka.req.pod.ephemeralContainers.read_only_fs", DEBUG, NA],
  ["ka.req.pod.ephemeralContainers.run_as_user", DEBUG, ["0"]],
  ["ka.req.pod.ephemeralContainers.eff_run_as_user", DEBUG, ["0"]],
  ["ka.req.pod.ephemeralContainers.run_as_group", DEBUG, NA],
  ["ka.req.pod.ephemeralContainers.eff_run_as_group", DEBUG, ["0"]],
  ["ka.req.pod.ephemeralContainers.proc_mount", DEBUG, NA],
  ["ka.req.pod.ephemeralContainers.add_capabilities", DEBUG, ["SYS_PTRACE"]],
  ["ka.req.pod.ephemeralContainers.name", POD, NA],
  ["ka.req.pod.ephemeralContainers.eff_run_as_user", POD, NA],
  ["ka.req.pod.containers.name", DEBUG, ["app"]],
  // deprecated single-value forms
  ["ka.req.container.image", POD, NGINX],
  ["ka.req.container.image.repository", POD, "docker.io/library/nginx"],
  ["ka.req.container.image", BINDING, NA],
  ["ka.req.container.privileged", POD, "true"],
  ["ka.req.container.privileged", DEBUG, "false"],
  ["ka.req.container.privileged", CM, NA],
  ["ka.req.container.host_network", POD, "true"],
  // pod spec
  ["ka.req.pod.host_ipc", POD, NA],
  ["ka.req.pod.host_network", POD, "true"],
  ["ka.req.pod.host_pid", POD, "false"],
  ["ka.req.pod.run_as_user", POD, "1000"],
  ["ka.req.pod.run_as_group", POD, NA],
  ["ka.req.pod.fs_group", POD, "2000"],
  ["ka.req.pod.supplemental_groups", POD, ["3000", "3001"]],
  ["ka.req.pod.volumes.hostpath", POD, ["/etc", "/var/run/docker.sock"]],
  ["ka.req.pod.volumes.hostpath[1]", POD, ["/var/run/docker.sock"]],
  ["ka.req.pod.volumes.hostpath[2]", POD, NA],
  ["ka.req.pod.volumes.flexvolume_driver", POD, ["example/lvm"]],
  ["ka.req.pod.volumes.volume_type", POD, ["hostPath", "hostPath", "flexVolume", "configMap"]],
  ["ka.req.pod.volumes.volume_type[3]", POD, ["configMap"]],
  ["ka.req.volume.hostpath[/etc]", POD, "true"],
  ["ka.req.volume.hostpath[/var/run/docker.sock]", POD, "true"],
  ["ka.req.volume.hostpath[/var/run/*]", POD, "true"],
  ["ka.req.volume.hostpath[/var]", POD, "false"],
  ["ka.req.volume.hostpath[/proc]", POD, "false"],
  ["ka.req.volume.hostpath[/etc]", DEBUG, NA],
  // roles
  [
    "ka.req.role.rules",
    ROLE,
    [
      '{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["*"]}',
      '{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get","list"]}',
      '{"nonResourceURLs":["/metrics"],"verbs":["get"]}',
    ],
  ],
  ["ka.req.role.rules.apiGroups", ROLE, ["", "apps"]],
  ["ka.req.role.rules.apiGroups[2]", ROLE, NA],
  ["ka.req.role.rules.resources", ROLE, ["pods", "pods/exec", "deployments"]],
  ["ka.req.role.rules.verbs", ROLE, ["*", "get", "list", "get"]],
  ["ka.req.role.rules.verbs[1]", ROLE, ["get", "list"]],
  ["ka.req.role.rules.nonResourceURLs", ROLE, ["/metrics"]],
  ["ka.req.role.rules.verbs", POD, NA],
  // services
  ["ka.req.service.type", SVC, "NodePort"],
  ["ka.req.service.ports", SVC, ['[{"name":"http","port":80,"targetPort":8080,"nodePort":30080,"protocol":"TCP"}]']],
  ["ka.req.service.ports", POD, NA],
  // response
  ["ka.resp.name", POD, "evil"],
  ["ka.resp.name", CM, NA],
  ["ka.response.code", POD, "201"],
  ["ka.response.code", SECRET, "403"],
  ["ka.response.reason", SECRET, "Forbidden"],
  ["ka.response.reason", POD, NA],
  ["ka.useragent", POD, "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"],
  ["ka.sourceips", POD, ["10.0.0.12", "192.168.49.1"]],
  ["ka.sourceips[1]", POD, ["192.168.49.1"]],
  ["ka.sourceips[2]", POD, NA],
  ["ka.cluster.name", SECRET, "prod-eu"],
  ["ka.cluster.name", POD, NA],
  // json plugin
  ["jevt.value[/stage]", POD, "ResponseComplete"],
  ["jevt.value[/requestObject/spec/volumes/1/hostPath/path]", POD, "/var/run/docker.sock"],
  ["jevt.value[/requestObject/spec/hostNetwork]", POD, "true"],
  ["jevt.value[/responseStatus/code]", POD, "201"],
  ["jevt.value[/requestObject/metadata/labels]", POD, '{"app":"evil"}'],
  ["jevt.value[/annotations/authorization.k8s.io~1decision]", POD, "allow"],
  ["jevt.value[/requestObject/spec/volumes/9/name]", POD, NA],
  ["jevt.value[stage]", POD, "ResponseComplete"],
  ["json.value[/objectRef/resource]", POD, "pods"],
  ["jevt.rawtime", POD, `${STAGE_SEC}234567000`],
  ["json.rawtime", POD, `${STAGE_SEC}234567000`],
  ["jevt.time", POD, "10:15:30.234567000"],
  ["jevt.time.iso8601", POD, "2024-06-01T10:15:30.234567000Z"],
  // generic plugin-event fields
  ["evt.num", POD, 7],
  ["evt.time", POD, "10:15:30.234567000"],
  ["evt.time.s", POD, "10:15:30"],
  ["evt.time.iso8601", POD, "2024-06-01T10:15:30.234567000Z"],
  ["evt.datetime", POD, "2024-06-01 10:15:30.234567000"],
  ["evt.datetime.s", POD, "2024-06-01 10:15:30"],
  ["evt.rawtime", POD, STAGE_SEC * 1e9 + 234_567_000],
  ["evt.rawtime.s", POD, STAGE_SEC],
  ["evt.rawtime.ns", POD, 234_567_000],
  ["evt.source", POD, "k8s_audit"],
  ["evt.pluginname", POD, "k8saudit"],
  ["evt.is_async", POD, false],
  ["evt.asynctype", POD, NA],
  ["evt.hostname", POD, "node-a"],
];

describe("k8s_audit fields on recorded audit events", () => {
  it.each(Object.entries(recorded))("%s is an audit.k8s.io/v1 Event a real API server can write", (name, make) => {
    const obj = make();
    if (name === "serviceCreate") {
      // the schema helper has no Service model: check the request object with kubernetes-models itself
      const { requestObject, ...rest } = obj;
      expect(() => new Service(requestObject as never).validate()).not.toThrow();
      expect(() => validateAuditEvent(rest, name)).not.toThrow();
      return;
    }
    expect(() => validateAuditEvent(obj, name)).not.toThrow();
  });

  it.each(TABLE)("%s", (field, e, want) => {
    expect(value(field, e)).toEqual(want);
  });

  it("whole-event fields: jevt.obj / json.obj indented by two spaces, evt.plugininfo compact", () => {
    const obj = podCreate();
    const e = ev(obj);
    expect(value("jevt.obj", e)).toBe(JSON.stringify(obj, null, 2));
    expect(value("json.obj", e)).toBe(JSON.stringify(obj, null, 2));
    expect(value("evt.plugininfo", e)).toBe(JSON.stringify(obj));
  });

  it("the table covers every field the source declares", () => {
    const covered = new Set([...TABLE.map(([f]) => split(f)[0]), "jevt.obj", "json.obj", "evt.plugininfo"]);
    const declared = k8sAuditSource.list().map((f) => f.name);
    expect(declared.filter((n) => !covered.has(n))).toEqual([]);
    expect([...covered].filter((n) => !k8sAuditSource.has(n))).toEqual([]);
  });

  it("declares Falco's list fields as lists and types, and marks the argument each takes", () => {
    const info = new Map(k8sAuditSource.list().map((f) => [f.name, f]));
    const lists = [...info.values()].filter((f) => f.list).map((f) => f.name);
    expect(lists).toContain("ka.user.groups");
    expect(lists).toContain("ka.req.binding.subjects");
    expect(lists).toContain("ka.req.pod.containers.image");
    expect(lists).toContain("ka.sourceips");
    expect(lists).not.toContain("ka.req.container.image");
    expect(lists).not.toContain("ka.req.pod.host_network");
    expect(lists).not.toContain("jevt.value");
    expect(lists.length).toBe(61);
    expect(info.get("ka.uri.param")).toMatchObject({ arg: "required", type: "string" });
    expect(info.get("ka.req.pod.containers.image")).toMatchObject({ arg: "optional", argDesc: "index" });
    expect(info.get("jevt.value")).toMatchObject({ arg: "required", argDesc: "JSON pointer" });
    expect(info.get("ka.verb")).toMatchObject({ arg: "none", list: false });
    expect(info.get("evt.rawtime")?.type).toBe("abstime");
    expect(info.get("evt.num")?.type).toBe("uint");
    expect([...info.keys()]).toEqual([...info.keys()].sort());
  });
});

describe("list fields render as libsinsp prints them", () => {
  it("(a,b) for values, <NA> for none", () => {
    expect(rendered("ka.req.pod.containers.image.repository", POD)).toBe("(docker.io/library/nginx,registry.example.com)");
    expect(rendered("ka.user.groups", POD)).toBe("(kubeadm:cluster-admins,system:authenticated)");
    expect(rendered("ka.req.pod.volumes.hostpath", CM)).toBe("<NA>");
  });
  it("cut at 1023 characters", () => {
    const obj = podCreate();
    (obj.user as { groups: string[] }).groups = Array.from({ length: 300 }, (_, i) => `group-${i}`);
    const s = rendered("ka.user.groups", ev(obj));
    expect(s.length).toBe(LIST_TEXT_MAX);
    expect(s.startsWith("(group-0,group-1,")).toBe(true);
  });
  it("an empty list is missing, not ()", () => {
    const obj = podCreate();
    (obj.user as { groups: string[] }).groups = [];
    expect(value("ka.user.groups", ev(obj))).toBeUndefined();
    expect(rendered("ka.user.groups", ev(obj))).toBe("<NA>");
  });
});

describe("missing and wrong-shape values", () => {
  it("a JSON object without auditID has no ka.* value (the plugin rejects it), but jevt.* and evt.* still read it", () => {
    const obj = podCreate();
    delete obj.auditID;
    const e = ev(obj);
    for (const f of k8sAuditSource.list().filter((x) => x.name.startsWith("ka."))) {
      const arg = f.arg === "required" ? (f.argDesc === "index" ? "0" : "x") : undefined;
      const r = k8sAuditSource.resolve(f.name, arg, CTX);
      expect([f.name, r.get(asEvent(e))]).toEqual([f.name, undefined]);
      expect([f.name, r.list?.(asEvent(e))]).toEqual([f.name, undefined]);
    }
    expect(value("jevt.value[/verb]", e)).toBe("create");
    expect(value("evt.source", e)).toBe("k8s_audit");
  });

  it("non-string JSON values read as compact JSON text, as the plugin's jsonValueAsString", () => {
    const obj = podCreate();
    obj.user = { username: { first: "a", n: [1, 2] }, groups: [1, true, null, { g: "x" }] };
    obj.verb = 12.5;
    obj.stage = null;
    obj.requestURI = false;
    const e = ev(obj);
    expect(value("ka.user.name", e)).toBe('{"first":"a","n":[1,2]}');
    expect(value("ka.user.groups", e)).toEqual(["1", "true", "null", '{"g":"x"}']);
    expect(value("ka.verb", e)).toBe("12.5");
    expect(value("ka.stage", e)).toBe("null");
    expect(value("ka.uri", e)).toBe("false");
  });

  it("a list field whose value is not an array, or a walk through non-objects, is missing", () => {
    const obj = podCreate();
    (obj.user as Record<string, unknown>).groups = "system:masters";
    obj.requestObject = { spec: { containers: "nginx", volumes: 5 } };
    const e = ev(obj);
    expect(value("ka.user.groups", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.image", e)).toBeUndefined();
    expect(value("ka.req.pod.volumes.hostpath", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.privileged", e)).toBeUndefined();
    expect(value("ka.req.container.privileged", e)).toBeUndefined();
  });

  it("a container without an image makes the image list missing (the plugin fails the whole list)", () => {
    const obj = podCreate();
    const spec = (obj.requestObject as { spec: { containers: Record<string, unknown>[] } }).spec;
    delete spec.containers[1]?.image;
    const e = ev(obj);
    expect(value("ka.req.pod.containers.image", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.image[0]", e)).toEqual([NGINX]);
    expect(value("ka.req.container.image", e)).toBe(NGINX);
  });

  it("per-container flags skip containers without them; a non-array command fails the list", () => {
    const obj = podCreate();
    const spec = (obj.requestObject as { spec: { containers: Record<string, unknown>[] } }).spec;
    spec.containers.push("not-a-container" as unknown as Record<string, unknown>);
    spec.containers.push({ name: "x", image: "x", command: "sh -c id" });
    const e = ev(obj);
    expect(value("ka.req.pod.containers.privileged", e)).toEqual(["true"]);
    expect(value("ka.req.pod.containers.eff_run_as_user", e)).toEqual(["0", "1000", "1000", "1000"]);
    expect(value("ka.req.pod.containers.command", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.host_port", e)).toEqual(["8080", "443"]);
  });

  it("host ports: hostPort, else containerPort; ports not an array fails the list", () => {
    const obj = podCreate();
    const spec = (obj.requestObject as { spec: { containers: Record<string, unknown>[] } }).spec;
    (spec.containers[1] as Record<string, unknown>).ports = { containerPort: 9 };
    expect(value("ka.req.pod.containers.host_port", ev(obj))).toBeUndefined();
  });

  it("binding subjects: kinds compared as text, entries without kind or name skipped, subjects not an array is missing", () => {
    const obj = roleBindingCreate();
    const subjects = (obj.requestObject as { subjects: unknown[] }).subjects;
    subjects.push({ kind: "User" }, { name: "x" }, 5, { kind: "User", name: 42 }, { kind: "ServiceAccount", name: "n", namespace: 3 });
    const e = ev(obj);
    expect(value("ka.req.binding.subjects.user_names", e)).toEqual(["jane", "42"]);
    expect(value("ka.req.binding.subjects.serviceaccount_ns_names", e)).toEqual(["ci:builder", "3:n"]);
    (obj.requestObject as { subjects: unknown }).subjects = { kind: "User", name: "jane" };
    expect(value("ka.req.binding.subjects.user_names", ev(obj))).toBeUndefined();
  });

  it("ka.target.pod.name only for pods requests without a (string) subresource", () => {
    const obj = podCreate();
    (obj.objectRef as Record<string, unknown>).subresource = 7;
    expect(value("ka.target.pod.name", ev(obj))).toBe("evil");
    (obj.objectRef as Record<string, unknown>).resource = "deployments";
    expect(value("ka.target.pod.name", ev(obj))).toBeUndefined();
  });

  it("effective run-as ids use the pod's value, else 0", () => {
    const obj = podCreate();
    const spec = (obj.requestObject as { spec: Record<string, unknown> }).spec;
    delete spec.securityContext;
    expect(value("ka.req.pod.containers.eff_run_as_user", ev(obj))).toEqual(["0", "0"]);
    spec.securityContext = { runAsUser: 65534, runAsGroup: 65534 };
    expect(value("ka.req.pod.containers.eff_run_as_user", ev(obj))).toEqual(["0", "65534"]);
    expect(value("ka.req.pod.containers.eff_run_as_group", ev(obj))).toEqual(["0", "65534"]);
  });

  it("ka.req.volume.hostpath is false for volumes without hostPath and missing without volumes", () => {
    const obj = podCreate();
    const spec = (obj.requestObject as { spec: Record<string, unknown> }).spec;
    spec.volumes = [{ name: "cfg", configMap: { name: "x" } }];
    expect(value("ka.req.volume.hostpath[/etc]", ev(obj))).toBe("false");
    expect(value("ka.req.pod.volumes.hostpath", ev(obj))).toBeUndefined();
    spec.volumes = [];
    expect(value("ka.req.volume.hostpath[/etc]", ev(obj))).toBe("false");
    expect(value("ka.req.pod.volumes.volume_type", ev(obj))).toBeUndefined();
  });

  it("array elements are reached by index in JSON pointers and plugin key paths, never past the end or by a bad index", () => {
    expect(value("jevt.value[/sourceIPs/0]", POD)).toBe("10.0.0.12");
    expect(value("jevt.value[/sourceIPs/+1]", POD)).toBe("192.168.49.1");
    expect(value("jevt.value[/sourceIPs/-1]", POD)).toBeUndefined();
    expect(value("jevt.value[/sourceIPs/2]", POD)).toBeUndefined();
    expect(value("jevt.value[/sourceIPs/x]", POD)).toBeUndefined();
    expect(value("jevt.value[/sourceIPs]", POD)).toBe('["10.0.0.12","192.168.49.1"]');
  });
});

describe("ka.uri.param parses the URI as Go's url.Parse and url.ParseQuery", () => {
  const withUri = (uri: unknown): AuditEvent => {
    const obj = podExec();
    obj.requestURI = uri;
    return ev(obj);
  };
  it.each([
    ["/api/v1/pods?a=1&a=2&b=", "a", "1"],
    ["/api/v1/pods?a=1&a=2&b=", "b", ""],
    ["/api/v1/pods?q=a+b%20c", "q", "a b c"],
    ["/api/v1/pods?%71=x", "q", "x"],
    ["/api/v1/pods?flag", "flag", ""],
    ["/api/v1/pods?x=1#frag", "x", "1"],
    ["/api/v1/pods?x=%E2%9C%93", "x", "✓"],
    ["/api/v1/pods?x=1&&y=2", "y", "2"],
    ["/api/v1/pods", "x", undefined],
    // what Go rejects makes every parameter missing
    ["/api/v1/pods?x=1;y=2", "x", undefined],
    ["/api/v1/pods?x=1&y=%zz", "x", undefined],
    ["/api/v1/pods?x=%4", "x", undefined],
    ["/api/v1/po%zzds?x=1", "x", undefined],
    ["/api/v1/pods?x=1#%zz", "x", undefined],
    ["/api/v1/pods?x=1\u0001", "x", undefined],
    ["1a:b?x=1", "x", undefined],
    [":x?x=1", "x", undefined],
    // a control character in the fragment is not checked
    ["/p?x=1#a\u0001", "x", "1"],
    ["https://api:6443/api?x=1", "x", "1"],
  ])("%j [%s] = %j", (uri, key, want) => {
    expect(value(`ka.uri.param[${key}]`, withUri(uri))).toBe(want);
  });
  it("reads a non-string requestURI as its JSON text, and nothing without one", () => {
    expect(value("ka.uri.param[x]", withUri(5))).toBeUndefined();
    expect(value("ka.uri.param[x]", withUri(undefined))).toBeUndefined();
  });
});

describe("arguments and unknown fields are load errors", () => {
  const err = (field: string): { code: string; message: string } => {
    const [name, arg] = split(field);
    try {
      k8sAuditSource.resolve(name, arg, CTX);
    } catch (e) {
      if (e instanceof CompileError) return { code: e.code, message: e.message };
      throw e;
    }
    return { code: "none", message: "" };
  };
  it.each([
    ["proc.name", "UNKNOWN_FIELD", "unknown field 'proc.name' for source 'k8s_audit'"],
    ["evt.type", "UNKNOWN_FIELD", "unknown field 'evt.type' for source 'k8s_audit'"],
    ["fd.name", "UNKNOWN_FIELD", "unknown field 'fd.name' for source 'k8s_audit'"],
    ["ka.user", "UNKNOWN_FIELD", "unknown field 'ka.user' for source 'k8s_audit'"],
    ["evt.reltime", "UNKNOWN_FIELD", "field 'evt.reltime' is not supported by Vigil"],
    ["ka.verb[0]", "BAD_FIELD_ARG", "invalid argument '0' for field 'ka.verb': this field takes no argument"],
    ["ka.uri.param", "BAD_FIELD_ARG", "invalid argument '' for field 'ka.uri.param': an argument is required (parameter name)"],
    [
      "ka.req.volume.hostpath",
      "BAD_FIELD_ARG",
      "invalid argument '' for field 'ka.req.volume.hostpath': an argument is required (path, or prefix ending in *)",
    ],
    [
      "ka.req.binding.subject.has_name",
      "BAD_FIELD_ARG",
      "invalid argument '' for field 'ka.req.binding.subject.has_name': an argument is required (subject name)",
    ],
    [
      "ka.req.pod.containers.image[01]",
      "BAD_FIELD_ARG",
      "invalid argument '01' for field 'ka.req.pod.containers.image': expected an index (digits, no leading zero)",
    ],
    [
      "ka.req.pod.containers.image[x]",
      "BAD_FIELD_ARG",
      "invalid argument 'x' for field 'ka.req.pod.containers.image': expected an index (digits, no leading zero)",
    ],
    [
      "ka.req.pod.containers.image[-1]",
      "BAD_FIELD_ARG",
      "invalid argument '-1' for field 'ka.req.pod.containers.image': expected an index (digits, no leading zero)",
    ],
    ["ka.user.groups[0]", "BAD_FIELD_ARG", "invalid argument '0' for field 'ka.user.groups': this field takes no argument"],
    ["jevt.value", "BAD_FIELD_ARG", "invalid argument '' for field 'jevt.value': an argument is required (JSON pointer)"],
    ["jevt.value[]", "BAD_FIELD_ARG", "invalid argument '' for field 'jevt.value': expected a non-empty JSON pointer"],
    [`jevt.value[${"/a".repeat(300)}]`, "BAD_FIELD_ARG", "invalid JSON pointer"],
  ])("%s", (field, code, message) => {
    const got = err(field);
    expect(got.code).toBe(code);
    expect(got.message).toContain(message);
  });
  it("has() knows the source's fields only", () => {
    expect(k8sAuditSource.has("ka.req.pod.containers.image")).toBe(true);
    expect(k8sAuditSource.has("jevt.value")).toBe(true);
    expect(k8sAuditSource.has("proc.name")).toBe(false);
    expect(k8sAuditSource.name).toBe("k8s_audit");
  });
});

describe("event time and number", () => {
  it("stageTimestamp, else requestReceivedTimestamp, else the fallback time", () => {
    const obj = podCreate();
    let e = AuditEvent.from(obj);
    expect([e.sec, e.nsec, e.timeSource, e.type]).toEqual([STAGE_SEC, 234_567_000, "stageTimestamp", -1]);
    obj.stageTimestamp = "not a time";
    e = AuditEvent.from(obj);
    expect([e.sec, e.nsec, e.timeSource]).toEqual([STAGE_SEC, 123_456_000, "requestReceivedTimestamp"]);
    delete obj.requestReceivedTimestamp;
    e = AuditEvent.from(obj, { fallbackMs: 1_700_000_000_123 });
    expect([e.sec, e.nsec, e.timeSource]).toEqual([1_700_000_000, 123_000_000, "fallback"]);
    for (const odd of [null, 5, "x", [], [podCreate()]]) {
      const o = AuditEvent.from(odd, { fallbackMs: 1000 });
      expect([o.sec, o.obj]).toEqual([1, odd]);
    }
  });
  it("numbers events in order unless given one", () => {
    const a = AuditEvent.from({});
    const b = AuditEvent.from({});
    expect(b.num).toBe(a.num + 1);
    expect(AuditEvent.from({}, { num: 99 }).num).toBe(99);
  });
});

describe("per-event cache", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });
  it("derives a list once per event, shared by every rule's getter of that field", () => {
    const a = k8sAuditSource.resolve("ka.req.pod.containers.image", undefined, CTX);
    const b = k8sAuditSource.resolve("ka.req.pod.containers.image", undefined, CTX);
    const e = ev(podCreate());
    const first = a.list?.(asEvent(e));
    expect(b.list?.(asEvent(e))).toBe(first);
    // another argument is another value
    const c = k8sAuditSource.resolve("ka.req.pod.containers.image", "1", CTX);
    expect(c.list?.(asEvent(e))).toEqual([SIDECAR]);
    // another event derives its own
    expect(a.list?.(asEvent(ev(podCreate())))).not.toBe(first);
  });
  it("writes JSON text once per event (configmap data read by six contains checks)", () => {
    const spy = vi.spyOn(JSON, "stringify");
    const e = ev(configMapUpdate());
    const getters = Array.from({ length: 6 }, () => k8sAuditSource.resolve("ka.req.configmap.obj", undefined, CTX).get);
    for (const g of getters) expect(g(asEvent(e))).toContain("aws_access_key_id");
    expect(spy).toHaveBeenCalledTimes(1);
    for (let k = 0; k < 10; k++) value("jevt.obj", e);
    expect(spy).toHaveBeenCalledTimes(2);
  });
  it("string fields never write JSON", () => {
    const spy = vi.spyOn(JSON, "stringify");
    for (const f of ["ka.user.name", "ka.verb", "ka.target.resource", "ka.req.pod.containers.image", "ka.req.pod.volumes.hostpath", "jevt.value[/stage]"])
      value(f, POD);
    expect(spy).not.toHaveBeenCalled();
  });
});

describe("hostile events", () => {
  it("arrays nested far deeper than the walk follows are missing values, not a stack overflow", () => {
    let nested: unknown = [{ image: "deep" }];
    for (let k = 0; k < 100_000; k++) nested = [nested];
    const obj = podCreate();
    (obj.requestObject as { spec: Record<string, unknown> }).spec.containers = nested;
    const e = ev(obj);
    expect(value("ka.req.pod.containers.image", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.privileged", e)).toBeUndefined();
    // within the bound, nested arrays are walked as the plugin walks them
    let shallow: unknown = [{ image: "ok", securityContext: { privileged: true } }];
    for (let k = 0; k < MAX_NESTED_ARRAYS - 2; k++) shallow = [shallow];
    (obj.requestObject as { spec: Record<string, unknown> }).spec.containers = shallow;
    expect(value("ka.req.pod.containers.image", ev(obj))).toEqual(["ok"]);
  });

  it("JSON nested 100000 deep parses, and fields that must write it as text are missing instead of throwing", () => {
    const text = `{"auditID":"x","stageTimestamp":"2024-06-01T10:15:30Z","verb":"get","requestObject":{"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    const e = ev(JSON.parse(text));
    expect(value("ka.verb", e)).toBe("get");
    expect(value("ka.req.configmap.obj", e)).toBeUndefined();
    expect(value("jevt.obj", e)).toBeUndefined();
    expect(value("evt.plugininfo", e)).toBeUndefined();
    expect(value("jevt.value[/requestObject/data/0/0/0]", e)).toBeUndefined();
  });

  it("a cycle in a hand-built event is missing where JSON text is needed and bounded elsewhere", () => {
    const obj = podCreate();
    const loop: unknown[] = [];
    loop.push(loop);
    const data: Record<string, unknown> = {};
    data.self = data;
    (obj.requestObject as Record<string, unknown>).data = data;
    (obj.requestObject as { spec: Record<string, unknown> }).spec.containers = loop;
    const e = ev(obj);
    expect(value("ka.req.configmap.obj", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.image", e)).toBeUndefined();
    expect(value("ka.req.pod.containers.privileged", e)).toBeUndefined();
    expect(value("jevt.obj", e)).toBeUndefined();
  });

  it("huge strings are returned as they are, and lists of them render cut short", () => {
    const big = "u".repeat(8 * 1024 * 1024);
    const obj = podCreate();
    obj.user = { username: big, groups: [big, "g"] };
    const e = ev(obj);
    expect(value("ka.user.name", e)).toBe(big);
    expect(rendered("ka.user.groups", e).length).toBe(LIST_TEXT_MAX);
  });

  it("keys of Object.prototype are not keys of the event", () => {
    const obj = JSON.parse('{"auditID":"x","__proto__":{"verb":"delete"},"user":{"username":"a"}}');
    const e = ev(obj);
    expect(value("ka.verb", e)).toBeUndefined();
    expect(value("jevt.value[/constructor]", e)).toBeUndefined();
    expect(value("jevt.value[/toString]", e)).toBeUndefined();
    expect(value("jevt.value[/__proto__/verb]", e)).toBe("delete");
    expect(value("jevt.value[/user/hasOwnProperty]", e)).toBeUndefined();
    expect(value("ka.user.name", ev({ auditID: "x", user: Object.create({ username: "inherited" }) }))).toBeUndefined();
  });

  it("any JSON value is an event: nothing throws", () => {
    const names = k8sAuditSource.list().map((f) => (f.arg === "required" ? `${f.name}[${f.argDesc === "JSON pointer" ? "/a" : "a"}]` : f.name));
    for (const obj of [
      null,
      0,
      "str",
      true,
      [],
      [1, 2],
      {},
      { auditID: null },
      { auditID: 1, requestObject: [] },
      { auditID: "x", requestObject: { spec: null } },
    ]) {
      const e = ev(obj);
      for (const f of names) expect(() => rendered(f, e)).not.toThrow();
    }
    expect(value("ka.auditid", ev({ auditID: null }))).toBe("null");
  });
});
