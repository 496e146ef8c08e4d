// SPDX-License-Identifier: Apache-2.0
/**
 * k8s_audit rules compiled by the loader against k8sAuditSource and run on recorded-shape audit
 * events: scalar and list fields in conditions (list fields take `in`, `intersects`, `exists`
 * only, as in libsinsp), macros and lists, outputs with list fields rendered `(a,b)`, and the load
 * errors a wrong field or operator gives.
 */
import { describe, expect, it } from "vitest";
import type { SyscallEvent } from "../../rules/event.js";
import { type LoadResult, loadRuleFiles } from "../../rules/index.js";
import { AuditEvent, k8sAuditSource } from "../../rules/k8saudit/index.js";
import { clusterRoleCreate, configMapUpdate, ephemeralDebug, podCreate, podExec, roleBindingCreate, secretGetForbidden, serviceCreate } from "./events.js";

function load(text: string): LoadResult {
  return loadRuleFiles([{ path: "k8s.yaml", text }], { sources: [k8sAuditSource], ruleMatching: "all" });
}
function rule(name: string, cond: string, output = "%ka.user.name"): string {
  return `- rule: ${name}\n  desc: d\n  condition: >-\n    ${cond}\n  output: '${output}'\n  priority: WARNING\n  source: k8s_audit\n`;
}
function fired(r: LoadResult, obj: unknown): string[] {
  const out: string[] = [];
  r.rulesets.get("k8s_audit")?.evaluate(AuditEvent.from(obj) as unknown as SyscallEvent, (x) => out.push(x.name));
  return out;
}
function errors(r: LoadResult): string[] {
  return r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.col} ${d.code}: ${d.message}`);
}

describe("list fields in conditions", () => {
  const r = load(
    rule("Privileged", "ka.req.pod.containers.privileged intersects (true)") +
      rule("Only trusted repos", "ka.req.pod.containers.image.repository in (docker.io/library/nginx, registry.example.com)") +
      rule("Only nginx", "ka.req.pod.containers.image.repository in (docker.io/library/nginx)") +
      rule("Sensitive mount", "ka.req.pod.volumes.hostpath intersects (/proc, /etc)") +
      rule("Has init", "ka.req.pod.initContainers.name exists") +
      rule("No debug", "not ka.req.pod.ephemeralContainers.name exists") +
      rule("Wildcard", "ka.req.role.rules.verbs intersects ('*')") +
      rule("Root container", "ka.req.pod.containers.eff_run_as_user intersects (0)") +
      rule("Adds SYS_ADMIN", "ka.req.pod.containers.add_capabilities intersects (SYS_ADMIN, SYS_PTRACE)") +
      rule("Binds a service account", "ka.req.binding.subjects.serviceaccount_ns_names intersects (ci:builder)") +
      rule("Admin group", "ka.user.groups intersects (system:masters, kubeadm:cluster-admins)") +
      rule("Not from 10/8", "not ka.sourceips[0] in (10.0.0.12)"),
  );
  it("load without errors or warnings", () => {
    expect(errors(r)).toEqual([]);
    expect(r.diagnostics).toEqual([]);
    expect(r.rulesets.get("k8s_audit")?.rules.length).toBe(12);
  });
  it("in: every value in the set; intersects: one is; exists: a value; missing: every check false", () => {
    expect(fired(r, podCreate())).toEqual([
      "Privileged",
      "Only trusted repos",
      "Sensitive mount",
      "Has init",
      "No debug",
      "Root container",
      "Adds SYS_ADMIN",
      "Admin group",
    ]);
    // the debug container is privileged, the pod's containers are not (and run as root: no runAsUser anywhere)
    expect(fired(r, ephemeralDebug())).toEqual(["Root container", "Admin group"]);
    expect(fired(r, clusterRoleCreate())).toEqual(["No debug", "Wildcard", "Admin group"]);
    expect(fired(r, roleBindingCreate())).toEqual(["No debug", "Binds a service account", "Admin group"]);
    const other = podCreate();
    other.sourceIPs = ["172.16.0.1"];
    other.user = { username: "dev", groups: ["system:authenticated"] };
    const spec = (other.requestObject as { spec: Record<string, unknown> }).spec;
    spec.containers = [{ name: "a", image: "docker.io/library/nginx:1", securityContext: { runAsUser: 101 } }];
    spec.initContainers = [];
    spec.securityContext = { runAsNonRoot: true };
    spec.volumes = [{ name: "v", emptyDir: {} }];
    expect(fired(r, other)).toEqual(["Only trusted repos", "Only nginx", "No debug", "Not from 10/8"]);
  });
});

describe("scalar fields, macros and lists", () => {
  const text = `
- list: stages_done
  items: [ResponseComplete]
- macro: done
  condition: jevt.value[/stage] in (stages_done)
- macro: ok
  condition: ka.response.code startswith 2
- list: exec_like
  items: [exec, attach]
${rule("Exec", "jevt.value[/stage] = ResponseStarted and ka.target.subresource in (exec_like) and ka.uri.param[command] = sh", "exec %ka.target.namespace/%ka.target.name cmd=%ka.uri.param[command] container=%ka.uri.param[container]")}
${rule("Creds in configmap", "done and ka.target.resource = configmaps and ka.verb in (create, update, patch) and ka.req.configmap.obj contains aws_access_key_id")}
${rule("Anonymous denied", "done and ka.user.name = system:anonymous and not ok and ka.response.reason = Forbidden and ka.auth.decision = forbid")}
${rule("NodePort", "done and ka.req.service.type = NodePort and ka.req.service.ports exists")}
${rule("Host network", "done and ka.req.pod.host_network intersects (true) and ka.req.pod.host_pid = false")}
${rule("Cluster name", "ka.cluster.name = prod-eu and ka.impuser.name startswith system:serviceaccount:")}
${rule("Deprecated forms", "ka.req.container.privileged = true and ka.req.volume.hostpath[/var/run/*] = true and ka.req.binding.subject.has_name[x] = true")}
${rule("Time", "jevt.rawtime exists and not jevt.rawtime = 0 and evt.source = k8s_audit and evt.pluginname = k8saudit")}
`;
  const r = load(text);
  it("load", () => {
    expect(r.diagnostics).toEqual([]);
  });
  it("fire on the events they describe and no other", () => {
    expect(fired(r, podExec())).toEqual(["Exec", "Time"]);
    expect(fired(r, configMapUpdate())).toEqual(["Creds in configmap", "Time"]);
    expect(fired(r, secretGetForbidden())).toEqual(["Anonymous denied", "Cluster name", "Time"]);
    expect(fired(r, serviceCreate())).toEqual(["NodePort", "Time"]);
    expect(fired(r, podCreate())).toEqual(["Host network", "Deprecated forms", "Time"]);
    expect(fired(r, roleBindingCreate())).toEqual(["Time"]);
    // JSON that is no audit event: only the json plugin's fields read it
    expect(fired(r, { stage: "ResponseStarted" })).toEqual(["Time"]);
  });
  it("format outputs with the source's fields", () => {
    const exec = r.rulesets.get("k8s_audit")?.rules.find((x) => x.name === "Exec");
    const e = AuditEvent.from(podExec()) as unknown as SyscallEvent;
    expect(exec?.format(e).message).toBe("exec prod/web-0 cmd=sh container=app");
  });
});

describe("outputs", () => {
  it("render list fields as (a,b) and missing values as <NA>", () => {
    const r = load(
      rule(
        "Pod",
        "ka.verb = create",
        "images=%ka.req.pod.containers.image.repository groups=%ka.user.groups caps=%ka.req.pod.initContainers.add_capabilities vol=%jevt.value[/requestObject/spec/volumes/0/hostPath/path]",
      ),
    );
    const out = r.rulesets.get("k8s_audit")?.rules[0]?.format(AuditEvent.from(podCreate()) as unknown as SyscallEvent);
    expect(out?.message).toBe("images=(docker.io/library/nginx,registry.example.com) groups=(kubeadm:cluster-admins,system:authenticated) caps=<NA> vol=/etc");
    expect(out?.fields["ka.req.pod.containers.image.repository"]).toBe("(docker.io/library/nginx,registry.example.com)");
    expect(out?.fields["ka.req.pod.initContainers.add_capabilities"]).toBeNull();
  });
});

describe("load errors", () => {
  it.each([
    ["ka.req.pod.containers.image = nginx", "list field 'ka.req.pod.containers.image' only supports operators 'exists', 'in' and 'intersects'"],
    ["ka.user.groups contains system", "list field 'ka.user.groups' only supports operators 'exists', 'in' and 'intersects'"],
    ["ka.verb = get and proc.name = sh", "unknown field 'proc.name' for source 'k8s_audit'"],
    ["evt.type = execve", "unknown field 'evt.type' for source 'k8s_audit'"],
    ["ka.uri.param exists", "an argument is required (parameter name)"],
    ["ka.req.pod.containers.image[a] exists", "expected an index"],
    ["ka.verb[1] = get", "this field takes no argument"],
  ])("%s", (cond, message) => {
    const r = load(rule("Bad", cond));
    const errs = errors(r);
    expect(errs.length).toBe(1);
    expect(errs[0]).toContain("LOAD_ERR_COMPILE_CONDITION");
    expect(errs[0]).toContain(message);
    expect(r.rulesets.get("k8s_audit")?.rules.length).toBe(0);
  });
  it("reject an unknown field in an output", () => {
    const r = load(rule("Bad output", "ka.verb = get", "%proc.name"));
    expect(errors(r).join("\n")).toContain("proc.name");
  });
});
