// SPDX-License-Identifier: Apache-2.0
/**
 * When `vigil agent` runs the Kubernetes API context (kubernetes.enabled auto/true/false, the node
 * name, a kubeconfig or the in-cluster service account), its flags, and its metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { flagsToOverrides, startKubernetes, WORKLOAD_APPEND, type AgentFlags } from "../../agent/cli/agent-cmd.js";
import { loadConfig } from "../../agent/config/index.js";
import { metrics } from "../../agent/metrics/index.js";
import { compileOutputOptions } from "../../agent/engine/append-output.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { FakeKubeApi } from "../helpers/fake-kube-api.js";
import * as k from "../helpers/k8s-objects.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-k8s-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = "start-token";

function cfgWith(text: string) {
  return loadConfig({ text, env: {} });
}

describe("startKubernetes", () => {
  it("auto outside a cluster and without a kubeconfig: off, nothing logged above debug", async () => {
    const log = captureLogger();
    const closers: (() => Promise<void>)[] = [];
    expect(await startKubernetes(cfgWith(""), {}, log.logger, closers)).toBeUndefined();
    expect(closers).toEqual([]);
    expect(log.lines.filter((l) => (l["level"] as number) > 20)).toEqual([]);
  });

  it("auto in a cluster without the container runtime (the Fargate sidecar): off", async () => {
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "token"), TOKEN);
    const cfg = cfgWith(`containerd:\n  enabled: false\nkubernetes:\n  service_account_dir: ${sa}\n`);
    expect(await startKubernetes(cfg, { KUBERNETES_SERVICE_HOST: "127.0.0.1", NODE_NAME: "n1" }, captureLogger().logger, [])).toBeUndefined();
  });

  it("false: off even in a cluster", async () => {
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "token"), TOKEN);
    const cfg = cfgWith(`kubernetes:\n  enabled: false\n  service_account_dir: ${sa}\n`);
    expect(await startKubernetes(cfg, { KUBERNETES_SERVICE_HOST: "127.0.0.1", NODE_NAME: "n1" }, captureLogger().logger, [])).toBeUndefined();
  });

  it("auto in a cluster without a node name: off with a warning; true: a start error naming the fix", async () => {
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "token"), TOKEN);
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "1" };
    const log = captureLogger();
    expect(await startKubernetes(cfgWith(`kubernetes:\n  service_account_dir: ${sa}\n`), env, log.logger, [])).toBeUndefined();
    expect(JSON.stringify(log.withMsg("no Kubernetes API context: pod facts from the CRI labels"))).toMatch(/NODE_NAME/);
    await expect(startKubernetes(cfgWith(`kubernetes:\n  enabled: true\n  service_account_dir: ${sa}\n`), env, log.logger, [])).rejects.toThrow(
      /Kubernetes API context: this node's name is unknown: set kubernetes.node_name, NODE_NAME/,
    );
    await expect(startKubernetes(cfgWith("kubernetes:\n  enabled: true\n"), { NODE_NAME: "n1" }, log.logger, [])).rejects.toThrow(/not in a cluster/);
  });

  it("a kubeconfig and NODE_NAME: started, synced, exported as vigil_k8s_api_* metrics, stopped by its closer", async () => {
    const api = await FakeKubeApi.start({ token: TOKEN });
    api.apply(k.pod("default", "p", "node-x"));
    const kc = join(dir, "kubeconfig");
    writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: ${TOKEN}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const closers: (() => Promise<void>)[] = [];
    const ctx = await startKubernetes(cfgWith(`kubernetes:\n  kubeconfig: ${kc}\n`), { NODE_NAME: "node-x" }, captureLogger().logger, closers);
    try {
      expect(ctx?.stats()["synced"]).toBe(1);
      expect(ctx?.stats()["pods_known"]).toBe(1);
      const text = await metrics.scrape();
      expect(text).toMatch(/^vigil_k8s_api_up 1$/m);
      expect(text).toMatch(/^# TYPE vigil_k8s_api_up gauge$/m);
      expect(text).toMatch(/^vigil_k8s_api_relists_total 0$/m);
      expect(text).toMatch(/^vigil_k8s_api_watch_restarts_total \d+$/m);
      expect(text).toMatch(/^vigil_k8s_api_pods_known 1$/m);
    } finally {
      for (const c of closers.reverse()) await c();
      metrics.unregisterStats("k8s_api");
      await api.stop();
    }
    expect(closers.length).toBe(1);
  });
});

describe("flags and alert fields", () => {
  it("--node-name, --kubeconfig, --no-kubernetes", () => {
    const base = { rules: [], embeddedCollector: false, data: "/tmp" } as AgentFlags;
    expect(flagsToOverrides({ ...base, nodeName: "n2", kubeconfig: "/k" }).kubernetes).toEqual({ node_name: "n2", kubeconfig: "/k" });
    expect(flagsToOverrides({ ...base, kubernetes: false }).kubernetes).toEqual({ enabled: false });
  });

  it("the workload entry compiles as an append_output entry for syscall rules", () => {
    const { appender, warnings } = compileOutputOptions({ suggestedFields: true, append: [WORKLOAD_APPEND] });
    expect(warnings).toEqual([]);
    expect(appender.empty).toBe(false);
  });
});
