// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's Kubernetes API context against a test API server that speaks the real list/watch
 * protocol (test/helpers/fake-kube-api.ts), through @kubernetes/client-node: the node's pods
 * (field selector), namespaces, owners and the node, chunked lists, watch events, resume after a
 * dropped stream, 410 Gone, bookmarks, owner chains, cache caps, an unreachable or refusing API
 * server, and in-cluster credentials over TLS.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { K8sApiContext, K8sApiError } from "../../agent/enrich/k8s-api/index.js";
import { resolveField } from "../../rules/compile/fields.js";
import { captureLogger, type CapturedLogger } from "../helpers/capture-logger.js";
import { FakeKubeApi } from "../helpers/fake-kube-api.js";
import * as k from "../helpers/k8s-objects.js";
import { makeMtlsFiles } from "../helpers/mtls-certs.js";
import { container, O, openat, proc } from "../rules/event-builder.js";

const NODE = "node-a";
const TOKEN = "test-token-5d0e6f";
const dir = mkdtempSync(join(tmpdir(), "vigil-k8s-api-"));
const running: { api?: FakeKubeApi; ctx?: K8sApiContext }[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.ctx?.stop();
    await r.api?.stop();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A kubeconfig file for the server with a bearer token (plain HTTP needs the client's explicit insecure flag). */
function kubeconfig(url: string, token = TOKEN): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "${url}"${url.startsWith("http:") ? ", insecure-skip-tls-verify: true" : ""}}}]
users: [{name: agent, user: {token: "${token}"}}]
contexts: [{name: test, context: {cluster: test, user: agent}}]
current-context: test
`,
  );
  return file;
}

async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Setup {
  api: FakeKubeApi;
  ctx: K8sApiContext;
  log: CapturedLogger;
}

async function setup(opts: Partial<ConstructorParameters<typeof K8sApiContext>[0]> = {}, api?: FakeKubeApi, start = true): Promise<Setup> {
  const server = api ?? (await FakeKubeApi.start({ token: TOKEN }));
  const log = captureLogger();
  const ctx = new K8sApiContext({
    nodeName: NODE,
    logger: log.logger,
    access: { kubeconfig: kubeconfig(server.url) },
    backoffMinMs: 20,
    backoffMaxMs: 200,
    ...opts,
  });
  running.push({ api: server, ctx });
  if (start) {
    ctx.start();
    expect(await ctx.whenSynced(10_000)).toBe(true);
  }
  return { api: server, ctx, log };
}

/** An event from a container of pod `p` whose CRI labels name it, bound to the context. */
function eventOf(ctx: K8sApiContext | undefined, p: k.KObj) {
  const c = container({
    k8s: {
      podName: p.metadata.name,
      namespace: p.metadata.namespace,
      podUid: p.metadata.uid,
      podLabels: new Map([["app", "cri"]]),
      api: ctx?.bind(p.metadata.uid),
    },
  });
  return openat("/etc/shadow", O.RDONLY, proc({ container: c }));
}
const field = (f: string, e: ReturnType<typeof eventOf>, arg?: string) => resolveField(f, arg).get(e);

describe("list", () => {
  it("lists the node's pods in chunks (limit/continue), with spec.nodeName as field selector, and every namespace and owner", async () => {
    const api = await FakeKubeApi.start({ token: TOKEN });
    api.apply(k.namespace("shop", { team: "payments" }));
    const pods = [1, 2, 3, 4, 5].map((i) => api.apply(k.pod("shop", `p${i}`, NODE)));
    const other = api.apply(k.pod("shop", "elsewhere", "node-b"));
    const { ctx } = await setup({ pageSize: 2 }, api);
    await until("every watch", () => ["pods", "namespaces", "replicasets", "deployments", "jobs", "cronjobs"].every((r) => api.watching(r) === 1));
    const lists = api.seen("/api/v1/pods", "list");
    expect(lists.map((r) => [r.query["limit"], r.query["fieldSelector"], r.query["continue"] !== undefined])).toEqual([
      ["2", `spec.nodeName=${NODE}`, false],
      ["2", `spec.nodeName=${NODE}`, true],
      ["2", `spec.nodeName=${NODE}`, true],
    ]);
    for (const p of pods) expect(ctx.store.pod(p.metadata.uid)?.known).toBe(true);
    expect(ctx.store.pod(other.metadata.uid)).toBeUndefined();
    expect(ctx.stats()["pods_known"]).toBe(5);
    // pods are read whole; namespaces and owners as metadata only
    expect(lists[0]?.accept).toBe("application/json");
    expect(api.seen("/api/v1/namespaces", "list")[0]?.accept).toMatch(/as=PartialObjectMetadataList;g=meta.k8s.io;v=v1/);
    expect(api.seen("/apis/apps/v1/replicasets", "list")[0]?.accept).toMatch(/as=PartialObjectMetadataList/);
    expect(api.seen("/apis/apps/v1/replicasets", "watch")[0]?.accept).toMatch(/as=PartialObjectMetadata;/);
    for (const p of ["/api/v1/pods", "/api/v1/namespaces", "/apis/apps/v1/deployments", "/apis/batch/v1/jobs", "/apis/batch/v1/cronjobs"])
      expect([p, api.seen(p, "watch")[0]?.query["allowWatchBookmarks"]]).toEqual([p, "true"]);
    expect(api.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(ctx.up).toBe(true);
    expect(ctx.stats()["up"]).toBe(1);
  });
});

describe("watch", () => {
  it("ADDED, MODIFIED and DELETED update the cache; a deleted pod is evicted", async () => {
    const { api, ctx } = await setup();
    await until("pods watch", () => api.watching("pods") === 1);
    const p = api.apply(k.pod("shop", "web", NODE, { labels: { app: "web", v: "1" } }));
    await until("ADDED", () => ctx.store.pod(p.metadata.uid)?.known === true);
    const e = eventOf(ctx, p);
    expect(field("k8s.pod.label", e, "v")).toBe("1");
    const changed = structuredClone(p);
    changed.metadata.labels = { app: "web", v: "2" };
    api.apply(changed);
    await until("MODIFIED", () => field("k8s.pod.label", e, "v") === "2");
    api.apply(k.namespace("shop", { team: "a" }));
    await until("namespace", () => field("k8s.ns.label", e, "team") === "a");
    api.remove("Pod", "shop", "web");
    await until("DELETED", () => ctx.store.pod(p.metadata.uid) === undefined);
    // the container that held it keeps its last facts
    expect(field("k8s.pod.label", e, "v")).toBe("2");
    expect(ctx.stats()["pods"]).toBe(0);
  });

  it("a dropped stream is resumed from the last resourceVersion, without a relist, and misses nothing", async () => {
    const { api, ctx } = await setup();
    await until("pods watch", () => api.watching("pods") === 1);
    const a = api.apply(k.pod("shop", "a", NODE));
    await until("a", () => ctx.store.pod(a.metadata.uid)?.known === true);
    const listsBefore = api.seen("/api/v1/pods", "list").length;
    const watchesBefore = api.seen("/api/v1/pods", "watch").length;
    expect(api.dropWatches("pods")).toBe(1);
    const b = api.apply(k.pod("shop", "b", NODE)); // while no stream is open
    await until("b", () => ctx.store.pod(b.metadata.uid)?.known === true);
    const resumed = api.seen("/api/v1/pods", "watch").slice(watchesBefore);
    expect(resumed[0]?.query["resourceVersion"]).toBe(a.metadata.resourceVersion);
    expect(api.seen("/api/v1/pods", "list").length).toBe(listsBefore);
    expect(ctx.resourceStats("pods")?.relists).toBe(0);
  });

  it.each(["event", "http"] as const)("410 Gone (%s) after the history was compacted means a relist that finds what changed", async (goneAs) => {
    const api = await FakeKubeApi.start({ token: TOKEN, goneAs });
    const old = api.apply(k.pod("shop", "old", NODE));
    const { ctx } = await setup({}, api);
    await until("pods watch", () => api.watching("pods") === 1);
    api.dropWatches("pods");
    // while the agent is away: one pod deleted, another added, and the history compacted
    api.remove("Pod", "shop", "old");
    const fresh = api.apply(k.pod("shop", "fresh", NODE));
    api.compact();
    await until("relist", () => ctx.resourceStats("pods")?.relists === 1);
    await until("fresh", () => ctx.store.pod(fresh.metadata.uid)?.known === true);
    expect(ctx.store.pod(old.metadata.uid)).toBeUndefined();
    expect(ctx.resourceStats("pods")?.gone).toBe(1);
    expect(api.seen("/api/v1/pods", "list").length).toBe(2);
    expect(ctx.stats()["relists"]).toBeGreaterThanOrEqual(1);
  });

  it("bookmarks advance the resourceVersion the next watch starts from", async () => {
    const { api, ctx } = await setup();
    await until("pods watch", () => api.watching("pods") === 1);
    api.apply(k.namespace("elsewhere")); // the cluster moves on; nothing for this node's pods
    api.tick(5);
    expect(api.bookmark("pods")).toBe(1);
    const at = String(api.resourceVersion);
    await until("bookmark", () => ctx.resourceStats("pods")?.bookmarks === 1);
    const before = api.seen("/api/v1/pods", "watch").length;
    api.dropWatches("pods");
    await until("rewatch", () => api.seen("/api/v1/pods", "watch").length > before);
    expect(api.seen("/api/v1/pods", "watch")[before]?.query["resourceVersion"]).toBe(at);
    // metadata-only watches get PartialObjectMetadata bookmarks
    expect(api.bookmark("replicasets")).toBe(1);
    await until("rs bookmark", () => ctx.resourceStats("replicasets")?.bookmarks === 1);
    expect(ctx.stats()["bookmarks"]).toBe(2);
  });

  it("a server-side timeout ends the stream cleanly and the watch is renewed", async () => {
    const { api, ctx } = await setup({ watchTimeoutSeconds: 1, random: () => 0 });
    await until("renewed", () => (ctx.resourceStats("pods")?.watch_restarts ?? 0) >= 1, 5000);
    expect(api.seen("/api/v1/pods", "watch")[0]?.query["timeoutSeconds"]).toBe("1");
    expect(ctx.resourceStats("pods")?.errors).toBe(0);
    expect(ctx.up).toBe(true);
  });
});

describe("owners", () => {
  it("Pod → ReplicaSet → Deployment, Pod → Job → CronJob, StatefulSet, DaemonSet", async () => {
    const api = await FakeKubeApi.start({ token: TOKEN });
    const dep = api.apply(k.deployment("shop", "checkout", { tier: "web" }));
    const rs = api.apply(k.replicaSet(dep, "6b7f9"));
    const cj = api.apply(k.cronJob("shop", "nightly"));
    const jb = api.apply(k.job("shop", "nightly-2900", cj));
    const sts = api.apply(k.statefulSet("shop", "db"));
    const ds = api.apply(k.daemonSet("kube-system", "cni"));
    const pods = {
      web: api.apply(k.pod("shop", "checkout-6b7f9-abcde", NODE, { owner: rs, serviceAccount: "checkout" })),
      job: api.apply(k.pod("shop", "nightly-2900-xyz", NODE, { owner: jb })),
      db: api.apply(k.pod("shop", "db-0", NODE, { owner: sts })),
      cni: api.apply(k.pod("kube-system", "cni-q1w2e", NODE, { owner: ds })),
    };
    api.apply(k.node(NODE, { "topology.kubernetes.io/zone": "us-east-1b", "node.kubernetes.io/instance-type": "c7g.xlarge" }));
    const { ctx } = await setup({}, api);
    await until("node", () => ctx.store.node !== undefined);
    const web = eventOf(ctx, pods.web);
    expect([field("k8s.workload.kind", web), field("k8s.workload.name", web), field("k8s.rs.name", web), field("k8s.deployment.label", web, "tier")]).toEqual([
      "Deployment",
      "checkout",
      "checkout-6b7f9",
      "web",
    ]);
    expect(field("k8s.pod.sa", web)).toBe("checkout");
    expect([field("k8s.node.zone", web), field("k8s.node.instance_type", web)]).toEqual(["us-east-1b", "c7g.xlarge"]);
    const job = eventOf(ctx, pods.job);
    expect([field("k8s.job.name", job), field("k8s.cronjob.name", job), field("k8s.workload.kind", job)]).toEqual(["nightly-2900", "nightly", "CronJob"]);
    expect(field("k8s.statefulset.name", eventOf(ctx, pods.db))).toBe("db");
    expect(field("k8s.daemonset.name", eventOf(ctx, pods.cni))).toBe("cni");
    // the node is read with a GET of its own object only
    expect(
      api.requests.filter((r) => r.path.startsWith("/api/v1/nodes")).every((r) => r.path === `/api/v1/nodes/${NODE}` && r.query["watch"] === undefined),
    ).toBe(true);
  });

  it("an owner that arrives after its pod (another stream) completes the chain", async () => {
    const { api, ctx } = await setup();
    await until("watches", () => api.watching("pods") === 1 && api.watching("replicasets") === 1 && api.watching("deployments") === 1);
    const dep = k.deployment("shop", "late", { tier: "x" });
    const rs = k.replicaSet(dep, "abc12");
    const p = api.apply(k.pod("shop", "late-abc12-zzzzz", NODE, { owner: rs }));
    await until("pod", () => ctx.store.pod(p.metadata.uid)?.known === true);
    const e = eventOf(ctx, p);
    expect([field("k8s.rs.name", e), field("k8s.deployment.name", e)]).toEqual(["late-abc12", undefined]);
    api.apply(rs);
    await until("rs", () => field("k8s.deployment.name", e) === "late");
    api.apply(dep);
    await until("deployment labels", () => field("k8s.deployment.label", e, "tier") === "x");
    api.remove("Deployment", "shop", "late");
    await until("deployment gone", () => field("k8s.deployment.label", e, "tier") === undefined);
    expect(field("k8s.deployment.name", e)).toBe("late"); // still named by the ReplicaSet's reference
  });
});

describe("bounds", () => {
  it("past the owner cap only referenced owners are kept; a dropped one a pod needs is fetched by name", async () => {
    const api = await FakeKubeApi.start({ token: TOKEN });
    const dep = api.apply(k.deployment("shop", "d"));
    const filler = [1, 2, 3, 4, 5, 6].map((i) => api.apply(k.replicaSet(k.deployment("other", `f${i}`), `h${i}`)));
    const { ctx } = await setup({ limits: { owners: 3 } }, api);
    const st = ctx.stats();
    expect(st["owners"]).toBeLessThanOrEqual(3 * 6);
    expect(st["dropped"]).toBeGreaterThan(0);
    expect(ctx.store.stats().owners).toBeLessThanOrEqual(18);
    // a new pod whose ReplicaSet the cap left out
    const rs = filler[5] as k.KObj;
    const rsName = rs.metadata.name;
    const p = api.apply(k.pod("other", `${rsName}-pod01`, NODE, { owner: rs }));
    await until("fetched", () => field("k8s.deployment.name", eventOf(ctx, p)) === "f6");
    expect(api.requests.some((r) => r.path === `/apis/apps/v1/namespaces/other/replicasets/${rsName}` && r.query["watch"] === undefined)).toBe(true);
    expect(ctx.stats()["fetches"]).toBeGreaterThanOrEqual(1);
    expect(dep.metadata.name).toBe("d");
  });

  it("pod metadata is capped: placeholders bound before their pod was seen go first", async () => {
    const { ctx } = await setup({ limits: { pods: 3 } });
    const metas = ["u1", "u2", "u3", "u4"].map((u) => ctx.bind(u));
    expect(metas.every((m) => m !== undefined)).toBe(true);
    expect(ctx.stats()["pods"]).toBe(3);
    expect(ctx.stats()["pod_evictions"]).toBe(1);
    expect(ctx.store.pod("u1")).toBeUndefined();
  });
});

describe("API server unreachable or refusing", () => {
  it("falls back to the CRI labels, logs one line, reports vigil_k8s_api_up 0, retries and recovers", async () => {
    const api = await FakeKubeApi.start({ token: TOKEN });
    const dep = api.apply(k.deployment("shop", "web"));
    const rs = api.apply(k.replicaSet(dep, "1a2b3"));
    const p = api.apply(k.pod("shop", "web-1a2b3-aaaaa", NODE, { owner: rs, labels: { app: "api" } }));
    await api.stop();
    const { ctx, log } = await setup({}, api, false);
    ctx.start();
    await until("down", () => (ctx.stats()["errors"] ?? 0) >= 12, 10_000);
    const e = eventOf(ctx, p);
    expect(field("k8s.pod.name", e)).toBe(p.metadata.name);
    expect(field("k8s.pod.label", e, "app")).toBe("cri");
    expect(field("k8s.deployment.name", e)).toBeUndefined();
    expect(ctx.up).toBe(false);
    expect(ctx.stats()["up"]).toBe(0);
    const down = log.lines.filter((l) => l["level"] === 40 && /Kubernetes API unreachable/.test(String(l["msg"])));
    expect(down.length).toBe(1);
    expect(String((down[0]?.["err"] as { message?: string })?.message)).toMatch(/ECONNREFUSED|fetch failed|connect/);
    await api.restart();
    await until("up again", () => ctx.up, 10_000);
    await until("deployment", () => field("k8s.deployment.name", e) === "web");
    expect(field("k8s.pod.label", e, "app")).toBe("api");
    expect(log.withMsg("Kubernetes API reachable again: workload metadata from the API").length).toBe(1);
    expect(ctx.stats()["outages"]).toBe(1);
  });

  it("a wrong token (401) or a missing permission (403) is an outage too, said once", async () => {
    const api = await FakeKubeApi.start({ token: TOKEN });
    const log = captureLogger();
    const ctx = new K8sApiContext({
      nodeName: NODE,
      logger: log.logger,
      access: { kubeconfig: kubeconfig(api.url, "wrong") },
      backoffMinMs: 20,
      backoffMaxMs: 100,
    });
    running.push({ api, ctx });
    ctx.start();
    await until("401s", () => (ctx.stats()["errors"] ?? 0) >= 10);
    expect(log.lines.filter((l) => /Kubernetes API unreachable/.test(String(l["msg"]))).length).toBe(1);
    expect(JSON.stringify(log.lines.find((l) => /unreachable/.test(String(l["msg"]))))).toMatch(/HTTP 401/);

    api.fail((r) => r.path === "/apis/batch/v1/cronjobs", 403, 3);
    const s2 = await setup({}, api, false);
    s2.ctx.start();
    await until("403 then synced", () => s2.ctx.stats()["synced"] === 1 && s2.ctx.up, 10_000);
    expect(s2.ctx.resourceStats("cronjobs")?.errors).toBe(3);
    expect(JSON.stringify(s2.log.lines.find((l) => /unreachable/.test(String(l["msg"]))))).toMatch(/HTTP 403/);
  });

  it("bad configuration is a clear error", () => {
    const log = captureLogger();
    expect(() => new K8sApiContext({ nodeName: NODE, logger: log.logger, access: { kubeconfig: join(dir, "nope") } })).toThrow(
      /kubeconfig .*nope does not exist/,
    );
    expect(() => new K8sApiContext({ nodeName: NODE, logger: log.logger, access: {}, env: {} })).toThrow(/not in a cluster/);
    expect(() => new K8sApiContext({ nodeName: "Bad Node!", logger: log.logger, access: {}, env: {} })).toThrow(K8sApiError);
  });
});

describe("in-cluster credentials", () => {
  it("reads the service account token and CA, verifies the server over TLS, and sends the token", async () => {
    const certs = makeMtlsFiles(mkdtempSync(join(dir, "tls-")));
    const api = await FakeKubeApi.start({ token: TOKEN, tls: { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) } });
    const p = api.apply(k.pod("shop", "tls-pod", NODE));
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "token"), TOKEN);
    writeFileSync(join(sa, "ca.crt"), certs.read(certs.caCert));
    const { ctx } = await setup(
      { access: { serviceAccountDir: sa }, env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(api.port) } },
      api,
    );
    expect(ctx.server).toBe(`https://127.0.0.1:${api.port}`);
    expect(ctx.store.pod(p.metadata.uid)?.known).toBe(true);
    await until("pods watch", () => api.watching("pods") === 1);
    const q = api.apply(k.pod("shop", "tls-pod-2", NODE));
    await until("watched over TLS", () => ctx.store.pod(q.metadata.uid)?.known === true);
    expect(api.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("a server whose certificate the CA did not sign is refused", async () => {
    const certs = makeMtlsFiles(mkdtempSync(join(dir, "tls-")));
    const other = makeMtlsFiles(mkdtempSync(join(dir, "tls-")));
    const api = await FakeKubeApi.start({ token: TOKEN, tls: { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) } });
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "token"), TOKEN);
    writeFileSync(join(sa, "ca.crt"), other.read(other.caCert));
    const { ctx } = await setup(
      { access: { serviceAccountDir: sa }, env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(api.port) } },
      api,
      false,
    );
    ctx.start();
    await until("errors", () => (ctx.stats()["errors"] ?? 0) >= 8);
    expect(ctx.up).toBe(false);
    expect(api.requests.length).toBe(0);
  });
});
