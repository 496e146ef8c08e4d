// SPDX-License-Identifier: Apache-2.0
/**
 * The Kubernetes API fields (libsinsp's k8s.rs/deployment/ns-label names, Vigil's k8s.pod.sa,
 * statefulset, daemonset, job, cronjob, workload and node families, and the k8smeta plugin's
 * names) read from a real K8sMetaStore filled with schema-checked API objects, and their fallback
 * to the CRI labels without the API.
 */
import { describe, expect, it } from "vitest";
import { K8sMetaStore } from "../../agent/enrich/k8s-api/store.js";
import { hasField, isUnsupportedField, resolveField } from "../../rules/compile/fields.js";
import { loadRuleFiles } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { container, O, openat, proc } from "./event-builder.js";
import * as k from "../helpers/k8s-objects.js";

const NODE = "ip-10-0-1-23.ec2.internal";

function world() {
  const store = new K8sMetaStore(NODE);
  const objs = {
    ns: k.namespace("shop", { team: "payments", env: "prod" }),
    node: k.node(NODE, {
      "topology.kubernetes.io/zone": "eu-west-1a",
      "topology.kubernetes.io/region": "eu-west-1",
      "node.kubernetes.io/instance-type": "m6i.large",
    }),
    dep: k.deployment("shop", "checkout", { tier: "web" }),
    sts: k.statefulSet("shop", "db", { tier: "data" }),
    ds: k.daemonSet("shop", "logs"),
    cj: k.cronJob("shop", "report", { kind: "batch" }),
  };
  const rs = k.replicaSet(objs.dep, "5d8f7c9b4", { rev: "3" });
  const jb = k.job("shop", "report-29000000", objs.cj);
  const pods = {
    web: k.pod("shop", "checkout-5d8f7c9b4-x7k2p", NODE, {
      owner: rs,
      labels: { app: "checkout", version: "v2" },
      serviceAccount: "checkout-sa",
      podIp: "10.0.1.50",
    }),
    db: k.pod("shop", "db-0", NODE, { owner: objs.sts }),
    logs: k.pod("shop", "logs-abcde", NODE, { owner: objs.ds }),
    report: k.pod("shop", "report-29000000-qq2w9", NODE, { owner: jb }),
    bare: k.pod("shop", "debug", NODE),
  };
  for (const o of [...Object.values(objs), rs, jb, ...Object.values(pods)]) k.validateObject(o);
  store.upsertNamespace(objs.ns);
  store.setNode(objs.node);
  for (const o of [objs.dep, rs]) store.upsertOwner(o.kind as "Deployment", o);
  store.upsertOwner("StatefulSet", objs.sts);
  store.upsertOwner("DaemonSet", objs.ds);
  store.upsertOwner("CronJob", objs.cj);
  store.upsertOwner("Job", jb);
  for (const p of Object.values(pods)) store.upsertPod(p);
  return { store, objs, rs, jb, pods };
}

/** An event from a container of `p` (CRI labels: name, namespace, uid), with its API metadata bound. */
function eventOf(store: K8sMetaStore | undefined, p: k.KObj, criLabels: Record<string, string> = { app: "from-cri" }): SyscallEvent {
  const uid = p.metadata.uid;
  const c = container({
    k8s: {
      podName: p.metadata.name,
      namespace: p.metadata.namespace,
      podUid: uid,
      podLabels: new Map(Object.entries(criLabels)),
      podIp: undefined,
      api: store?.bind(uid),
    },
  });
  return openat("/etc/shadow", O.RDONLY, proc({ container: c }));
}

const get = (f: string, e: SyscallEvent, arg?: string) => resolveField(f, arg).get(e);

describe("Kubernetes API fields", () => {
  const w = world();
  const web = eventOf(w.store, w.pods.web);

  it("Pod → ReplicaSet → Deployment", () => {
    expect(get("k8s.rs.name", web)).toBe("checkout-5d8f7c9b4");
    expect(get("k8s.rs.uid", web)).toBe(w.rs.metadata.uid);
    expect(get("k8s.rs.id", web)).toBe(w.rs.metadata.uid);
    expect(get("k8s.rs.label", web, "rev")).toBe("3");
    expect(get("k8s.deployment.name", web)).toBe("checkout");
    expect(get("k8s.deployment.uid", web)).toBe(w.objs.dep.metadata.uid);
    expect(get("k8s.deployment.id", web)).toBe(w.objs.dep.metadata.uid);
    expect(get("k8s.deployment.label", web, "tier")).toBe("web");
    expect(get("k8s.deployment.labels", web)).toBe("tier:web");
    expect(get("k8s.workload.kind", web)).toBe("Deployment");
    expect(get("k8s.workload.name", web)).toBe("checkout");
    expect(get("k8s.statefulset.name", web)).toBeUndefined();
    expect(get("k8s.job.name", web)).toBeUndefined();
  });

  it("the pod's own facts: API labels over the CRI's, service account, namespace labels and uid", () => {
    expect(get("k8s.pod.label", web, "version")).toBe("v2");
    expect(get("k8s.pod.label", web, "app")).toBe("checkout"); // the API's, not the CRI's "from-cri"
    expect(get("k8s.pod.labels", web)).toBe("app:checkout, version:v2");
    expect(get("k8s.pod.sa", web)).toBe("checkout-sa");
    expect(get("k8s.ns.label", web, "team")).toBe("payments");
    expect(get("k8s.ns.labels", web)).toBe("kubernetes.io/metadata.name:shop, team:payments, env:prod");
    expect(get("k8s.ns.uid", web)).toBe(w.objs.ns.metadata.uid);
    expect(get("k8s.ns.id", web)).toBe(w.objs.ns.metadata.uid);
    expect(get("k8s.pod.ip", web)).toBe("10.0.1.50"); // the sandbox gave none: the API's
  });

  it("the node's labels", () => {
    expect(get("k8s.node.name", web)).toBe(NODE);
    expect(get("k8s.node.zone", web)).toBe("eu-west-1a");
    expect(get("k8s.node.region", web)).toBe("eu-west-1");
    expect(get("k8s.node.instance_type", web)).toBe("m6i.large");
    expect(get("k8s.node.label", web, "kubernetes.io/hostname")).toBe(NODE);
  });

  it("StatefulSet and DaemonSet own their pods directly; Job → CronJob; a bare pod has no workload", () => {
    const db = eventOf(w.store, w.pods.db);
    expect([get("k8s.statefulset.name", db), get("k8s.statefulset.label", db, "tier"), get("k8s.workload.kind", db)]).toEqual(["db", "data", "StatefulSet"]);
    expect(get("k8s.rs.name", db)).toBeUndefined();
    const logs = eventOf(w.store, w.pods.logs);
    expect([get("k8s.daemonset.name", logs), get("k8s.daemonset.uid", logs), get("k8s.workload.name", logs)]).toEqual(["logs", w.objs.ds.metadata.uid, "logs"]);
    const rep = eventOf(w.store, w.pods.report);
    expect([get("k8s.job.name", rep), get("k8s.cronjob.name", rep), get("k8s.cronjob.label", rep, "kind")]).toEqual(["report-29000000", "report", "batch"]);
    expect([get("k8s.workload.kind", rep), get("k8s.workload.name", rep)]).toEqual(["CronJob", "report"]);
    const bare = eventOf(w.store, w.pods.bare);
    expect([get("k8s.workload.kind", bare), get("k8s.deployment.name", bare)]).toEqual([undefined, undefined]);
    expect(get("k8s.pod.sa", bare)).toBe("default");
  });

  it("an owner known only by reference still names the chain (its labels missing)", () => {
    const store = new K8sMetaStore(NODE);
    const dep = k.deployment("shop", "api");
    const rs = k.replicaSet(dep, "77f9d");
    store.upsertOwner("ReplicaSet", rs); // the Deployment's own record never read
    const p = k.pod("shop", "api-77f9d-abc12", NODE, { owner: rs });
    store.upsertPod(p);
    const e = eventOf(store, p);
    expect(get("k8s.deployment.name", e)).toBe("api");
    expect(get("k8s.deployment.uid", e)).toBe(dep.metadata.uid);
    expect(get("k8s.deployment.labels", e)).toBe("");
    expect(get("k8s.deployment.label", e, "tier")).toBeUndefined();
  });

  it("k8smeta plugin names, labels as a list field", () => {
    expect(get("k8smeta.pod.name", web)).toBe("checkout-5d8f7c9b4-x7k2p");
    expect(get("k8smeta.pod.uid", web)).toBe(w.pods.web.metadata.uid);
    expect(get("k8smeta.pod.ip", web)).toBe("10.0.1.50");
    expect(get("k8smeta.pod.label", web, "version")).toBe("v2");
    expect(get("k8smeta.pod.labels", web)).toBe("(app:checkout,version:v2)");
    expect(resolveField("k8smeta.pod.labels", undefined).list?.(web)).toEqual(["app:checkout", "version:v2"]);
    expect(get("k8smeta.ns.name", web)).toBe("shop");
    expect(get("k8smeta.ns.label", web, "env")).toBe("prod");
    expect(get("k8smeta.deployment.name", web)).toBe("checkout");
    expect(get("k8smeta.deployment.labels", web)).toBe("(tier:web)");
    expect(get("k8smeta.rs.name", web)).toBe("checkout-5d8f7c9b4");
    expect(get("k8smeta.rs.uid", web)).toBe(w.rs.metadata.uid);
  });

  it("rules use them: conditions, list operators, outputs", () => {
    const text = `
- rule: Shadow read by a Deployment's pod
  desc: t
  condition: evt.type = openat and k8s.deployment.name = checkout and k8s.ns.label[team] = payments and k8smeta.pod.labels intersects (version:v2, x:y)
  output: read by %k8s.workload.kind/%k8s.workload.name (rs=%k8s.rs.name sa=%k8s.pod.sa zone=%k8s.node.zone labels=%k8smeta.pod.labels)
  priority: WARNING
- rule: Every label in the list
  desc: t
  condition: evt.type = openat and k8smeta.pod.labels in (app:checkout, version:v2, other:z)
  output: all in
  priority: NOTICE
`;
    const r = loadRuleFiles([{ path: "k8s.yaml", text }], { ruleMatching: "all" });
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const out: string[] = [];
    r.ruleset.evaluate(web, (rule, e) => out.push(rule.format(e).message));
    expect(out).toContain("read by Deployment/checkout (rs=checkout-5d8f7c9b4 sa=checkout-sa zone=eu-west-1a labels=(app:checkout,version:v2))");
    expect(out).toContain("all in");
    const none: string[] = [];
    r.ruleset.evaluate(eventOf(w.store, w.pods.db), (rule) => none.push(rule.name));
    expect(none).toEqual([]);
  });
});

describe("without the API (or before it reported the pod)", () => {
  it("API fields are missing, the pod labels are the CRI's", () => {
    const store = new K8sMetaStore(NODE);
    const p = k.pod("shop", "web-1", NODE, { labels: { app: "api-label" } });
    for (const e of [eventOf(undefined, p), eventOf(store, p)]) {
      expect(get("k8s.pod.label", e, "app")).toBe("from-cri");
      expect(get("k8s.pod.labels", e)).toBe("app:from-cri");
      for (const f of [
        "k8s.deployment.name",
        "k8s.rs.name",
        "k8s.ns.labels",
        "k8s.pod.sa",
        "k8s.workload.kind",
        "k8s.node.zone",
        "k8smeta.pod.name",
        "k8smeta.pod.labels",
      ])
        expect([f, get(f, e)]).toEqual([f, undefined]);
      expect(resolveField("k8smeta.pod.labels", undefined).list?.(e)).toBeUndefined();
    }
    // the API reports the pod later: the container's bound object fills in place
    const e = eventOf(store, p);
    store.upsertPod(p);
    expect(get("k8s.pod.label", e, "app")).toBe("api-label");
    expect(get("k8smeta.pod.name", e)).toBe("web-1");
  });
});

describe("field registry", () => {
  it("the k8s families are fields; dotted label forms and services/replication controllers stay unsupported", () => {
    for (const f of [
      "k8s.rs.name",
      "k8s.deployment.labels",
      "k8s.ns.label",
      "k8s.ns.labels",
      "k8s.ns.id",
      "k8s.pod.sa",
      "k8s.cronjob.uid",
      "k8s.node.zone",
      "k8smeta.rs.labels",
    ])
      expect([f, hasField(f)]).toEqual([f, true]);
    for (const f of ["k8s.deployment.label.app", "k8s.ns.label.team", "k8s.rc.name", "k8s.svc.name", "k8smeta.svc.name", "k8smeta.rc.uid"])
      expect([f, isUnsupportedField(f)]).toEqual([f, true]);
  });

  it("a list field takes only exists, in and intersects", () => {
    const text = `
- rule: Bad
  desc: t
  condition: evt.type = openat and k8smeta.pod.labels = app:x
  output: o
  priority: WARNING
`;
    const r = loadRuleFiles([{ path: "bad.yaml", text }]);
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.message).join("\n")).toMatch(/list field 'k8smeta.pod.labels' only supports/);
  });
});
