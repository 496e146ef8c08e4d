// SPDX-License-Identifier: Apache-2.0
/**
 * The command-line contract of the k8s_audit source, with a real `vigil collector` process:
 * `vigil collector --listen HOST:PORT --data DIR --token T --rules FILE` accepts `POST /k8s-audit`
 * with `Authorization: Bearer T`; `--cluster-name` names the cluster; SIGHUP reloads the rules
 * (a set with errors is rejected and the one in force stays); an unreadable `--rules` path is one
 * clear line and exit 1; without `--rules` the built-in pack (rules/files/k8s-audit/) is loaded.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../proto/index.js";
import { validateAuditEventList } from "../helpers/audit-schema.js";
import { startAwsEndpoint, TEST_CREDENTIALS } from "../helpers/aws-endpoint.js";
import { REPO, runCli, spawnTs } from "../sinks/helpers/run-ts.js";
import { ndjson, tempDir, waitFor } from "./helpers.js";
import { eventList, execEvent, FilterLogsModel, getConfigMapEvent, getSecretEvent, writeAuditRules } from "./k8s-audit-helpers.js";

const TOKEN = "cli-audit-token";
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

/** Starts `vigil collector ARGS`; resolves once it logged ready, with its log lines as they come. */
async function collector(args: string[], env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; address: string; lines: Record<string, unknown>[] }> {
  const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--token", TOKEN, ...args], env !== undefined ? { env } : {});
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let err = "";
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (l) => {
      err += `${l}\n`;
      try {
        const o = JSON.parse(l) as Record<string, unknown>;
        lines.push(o);
        if (o["msg"] === "vigil collector ready") resolve(String(o["address"]));
      } catch {
        // not a log line
      }
    });
    child.on("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
  return { child, address, lines };
}

async function post(address: string, body: unknown, token = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://${address}/k8s-audit`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function alerts(address: string): Promise<Alert[]> {
  const r = await fetch(`http://${address}/api/v1/alerts?source=k8s_audit`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ndjson(await r.text()) as Alert[];
}

describe("vigil collector --rules (k8s_audit)", () => {
  it("takes POST /k8s-audit with the bearer token, names the cluster, reloads the rules on SIGHUP", async () => {
    const dir = tempDir("vigil-audit-cli-");
    const rules = writeAuditRules(dir);
    const { child, address, lines } = await collector(["--data", join(dir, "data"), "--rules", rules, "--cluster-name", "eks-prod"]);
    expect(lines.find((l) => l["msg"] === "k8s_audit rules loaded")).toMatchObject({ rules: 2, errors: 0, files: [rules], otherSourceRulesSkipped: 1 });

    const list = eventList([execEvent({ pod: "cli-pod" }), getSecretEvent(), getConfigMapEvent({ name: "cli-cm" })]);
    validateAuditEventList(list);
    expect((await post(address, list, "wrong")).status).toBe(401);
    const r = await post(address, list);
    expect(r).toEqual({ status: 200, body: { events: 3, bad: 0, alerts: 2, stored: 2, duplicates: 0 } });
    const got = await alerts(address);
    expect(got.map((a) => a.rule).sort()).toEqual(["Test Exec Into Pod", "Test Secret Read By Service Account"]);
    expect(new Set(got.map((a) => a.hostname))).toEqual(new Set(["eks-prod"]));

    // SIGHUP: a file with an error is rejected, the rules in force stay
    writeFileSync(rules, "- rule: Broken\n  condition: ka.verb = (\n  output: x\n  priority: INFO\n  source: k8s_audit\n  desc: x\n");
    child.kill("SIGHUP");
    await waitFor(() => lines.some((l) => l["msg"] === "k8s_audit rules reload rejected: the rules in force stay"), 10_000, "reload rejected");
    expect((await post(address, eventList([execEvent({ pod: "still-old-rules" })]))).body).toMatchObject({ stored: 1 });

    // SIGHUP: a good file is put in force
    writeFileSync(
      rules,
      "- rule: CLI ConfigMap Read\n  desc: a configmap read\n  condition: ka.target.resource = configmaps and ka.verb = get\n  output: configmap read (name=%ka.target.name user=%ka.user.name)\n  priority: NOTICE\n  source: k8s_audit\n  tags: [k8s]\n",
    );
    child.kill("SIGHUP");
    await waitFor(() => lines.some((l) => l["msg"] === "k8s_audit rules reloaded"), 10_000, "reloaded");
    const r2 = await post(address, eventList([execEvent({ pod: "after-reload" }), getConfigMapEvent({ name: "after-reload" })]));
    expect(r2.body).toMatchObject({ events: 2, alerts: 1, stored: 1 });
    const cm = (await alerts(address)).filter((a) => a.rule === "CLI ConfigMap Read");
    expect(cm).toHaveLength(1);
    expect(cm[0]!.output).toMatch(/: Notice configmap read \(name=after-reload user=alice@example\.com\)$/);
  });

  it("without --rules it loads the built-in pack (rules/files/k8s-audit/), and serves the route either way", async () => {
    const dir = tempDir("vigil-audit-cli-default-");
    const { address, lines } = await collector(["--data", join(dir, "data")]);
    const packDir = join(REPO, "rules", "files", "k8s-audit");
    const pack = existsSync(packDir) ? readdirSync(packDir).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")) : [];
    const loaded = lines.find((l) => l["msg"] === "k8s_audit rules loaded");
    expect(loaded).toBeDefined();
    expect(((loaded?.["files"] ?? []) as string[]).map((f) => f.slice(f.lastIndexOf("/") + 1)).sort()).toEqual(pack.sort());
    const r = await post(address, eventList([getConfigMapEvent()]));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ events: 1 });
  });

  it("--config: rules, cluster name and the EKS reader (collector.k8s_audit.cloudwatch) from the file, the log group from --k8s-audit-log-group", async () => {
    const dir = tempDir("vigil-audit-cli-config-");
    const ep = await startAwsEndpoint({ region: "us-west-2" });
    try {
      const model = new FilterLogsModel();
      model.install(ep);
      const group = "/aws/eks/from-log-group/cluster";
      const ev = execEvent({ pod: "from-cloudwatch", ms: Date.now() - 5000 });
      model.put(group, "kube-apiserver-audit-1", [{ timestamp: Date.parse(ev.stageTimestamp), message: JSON.stringify(ev) }]);
      const rules = writeAuditRules(dir);
      writeFileSync(
        join(dir, "config.yaml"),
        `collector:\n  k8s_audit:\n    rules: [${JSON.stringify(rules)}]\n    cluster_name: from-config\n    cloudwatch:\n      region: us-west-2\n      poll_interval_ms: 200\n      start: beginning\n`,
      );
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_") && v !== undefined) env[k] = v;
      Object.assign(env, {
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: ep.url,
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_CONFIG_FILE: "/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED: "true",
      });
      const { address } = await collector(["--data", join(dir, "data"), "--config", join(dir, "config.yaml"), "--k8s-audit-log-group", group], env);
      await waitFor(async () => (await alerts(address)).length > 0, 10_000, "the CloudWatch alert");
      const got = await alerts(address);
      expect(got.map((a) => [a.rule, a.hostname, a.output_fields["ka.target.name"]])).toEqual([["Test Exec Into Pod", "from-log-group", "from-cloudwatch"]]);
      expect(ep.rejections).toEqual([]);
      expect(ep.requests.every((r) => r.region === "us-west-2" && r.input["logGroupName"] === group)).toBe(true);
      // the webhook's alerts carry the configured cluster name
      expect((await post(address, eventList([execEvent({ pod: "via-webhook" })]))).status).toBe(200);
      expect((await alerts(address)).find((a) => a.output_fields["ka.target.name"] === "via-webhook")?.hostname).toBe("from-config");
      expect(existsSync(join(dir, "data", "k8s-audit-cloudwatch.json"))).toBe(true);
    } finally {
      await ep.close();
    }
  });

  it("an unreadable --rules path is one clear line and exit 1", async () => {
    const dir = tempDir("vigil-audit-cli-bad-");
    const r = await runCli(["collector", "--listen", "127.0.0.1:0", "--data", join(dir, "data"), "--token", TOKEN, "--rules", join(dir, "missing.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^vigil: cannot read rules file .*missing\.yaml: ENOENT/);
  });
});
