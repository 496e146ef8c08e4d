// SPDX-License-Identifier: Apache-2.0
/**
 * The EKS audit reader end to end: a real collector whose CloudWatch Logs client (the real AWS SDK
 * v3) talks to a local endpoint that checks SigV4 and the JSON 1.1 protocol
 * (test/helpers/aws-endpoint.ts) and answers FilterLogEvents like the service
 * (k8s-audit-helpers.ts `FilterLogsModel`: time order across streams, pages, empty pages with a
 * token, ThrottlingException). Audit events are those a real API server writes (checked against
 * the audit.k8s.io/v1 schema). What is checked: alerts stored from the audit streams only, paging
 * to the end, throttling retried, the read position saved and resumed after a restart without a
 * duplicate alert (late events inside the overlap window too), `start: now`, IRSA credentials, a
 * missing log group retried until it exists.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadAuditRules } from "../../agent/cli/k8s-audit-rules.js";
import { clusterOfLogGroup } from "../../collector/k8s-audit/cloudwatch.js";
import { startCollector, type K8sAuditOptions, type RunningCollector } from "../../collector/server.js";
import { validateAuditEvent } from "../helpers/audit-schema.js";
import { type AwsEndpoint, startAwsEndpoint, TEST_CREDENTIALS, type TestCredentials } from "../helpers/aws-endpoint.js";
import { memoryLogger, tempDir, waitFor } from "./helpers.js";
import { execEvent, FilterLogsModel, getConfigMapEvent, getSecretEvent, writeAuditRules } from "./k8s-audit-helpers.js";

const REGION = "eu-central-1";
const GROUP = "/aws/eks/prod-cluster/cluster";
const STREAMS = ["kube-apiserver-audit-0a1b2c3d4e5f", "kube-apiserver-audit-9f8e7d6c5b4a"];

const SAVED = { ...process.env };
function resetEnv(ep: AwsEndpoint, creds: TestCredentials | null = TEST_CREDENTIALS): void {
  for (const k of Object.keys(process.env)) if (k.startsWith("AWS_")) delete process.env[k];
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: ep.url,
    AWS_ENDPOINT_URL_STS: ep.url,
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AWS_EC2_METADATA_DISABLED: "true",
  });
  if (creds !== null) {
    process.env["AWS_ACCESS_KEY_ID"] = creds.accessKeyId;
    process.env["AWS_SECRET_ACCESS_KEY"] = creds.secretAccessKey;
  }
}
afterAll(() => {
  for (const k of Object.keys(process.env)) if (!(k in SAVED)) delete process.env[k];
  Object.assign(process.env, SAVED);
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmp(prefix: string): string {
  const d = tempDir(prefix);
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function endpoint(o: Parameters<typeof startAwsEndpoint>[0] = { region: REGION }): Promise<{ ep: AwsEndpoint; model: FilterLogsModel }> {
  const ep = await startAwsEndpoint(o);
  cleanups.push(() => ep.close());
  const model = new FilterLogsModel();
  model.install(ep);
  return { ep, model };
}

/** An audit event as one CloudWatch log event (EKS writes the Event's JSON as the message). */
function logEvent(ev: { stageTimestamp: string }): { timestamp: number; message: string } {
  validateAuditEvent(ev);
  return { timestamp: Date.parse(ev.stageTimestamp), message: JSON.stringify(ev) };
}

async function collector(
  dataDir: string,
  rulesDir: string,
  cw: NonNullable<K8sAuditOptions["cloudwatch"]>,
  logger = memoryLogger("info").logger,
): Promise<RunningCollector> {
  const col = await startCollector({
    listen: "127.0.0.1:0",
    dataDir,
    token: "t",
    k8sAudit: {
      rules: loadAuditRules([writeAuditRules(rulesDir)]).rules,
      cloudwatch: { region: REGION, pollIntervalMs: 100, backoffMs: 20, maxBackoffMs: 200, ...cw },
    },
    logger,
  });
  cleanups.push(() => col.close());
  return col;
}

const stat = (col: RunningCollector, k: string) => col.stats()[k] ?? 0;

describe("CloudWatch Logs audit reader", () => {
  it("names the cluster after an EKS control-plane log group", () => {
    expect(clusterOfLogGroup("/aws/eks/prod-cluster/cluster")).toBe("prod-cluster");
    expect(clusterOfLogGroup("/custom/audit")).toBeUndefined();
  });

  it("reads every page of the audit streams, retries throttling, saves its position and resumes after a restart without a duplicate", async () => {
    const { ep, model } = await endpoint();
    resetEnv(ep);
    model.pageSize = 7;
    model.emptyFirstPage = true;
    model.throttle = 2;
    const t0 = Date.now() - 10 * 60_000;
    let matching = 0;
    for (let i = 0; i < 30; i++) {
      const ms = t0 + i * 1000;
      const stream = STREAMS[i % 2]!;
      if (i % 3 === 0) {
        model.put(GROUP, stream, [logEvent(execEvent({ pod: `pod-${i}`, ms }))]);
        matching++;
      } else if (i % 5 === 1) {
        model.put(GROUP, stream, [logEvent(getSecretEvent({ name: `s-${i}`, ms }))]);
        matching++;
      } else model.put(GROUP, stream, [logEvent(getConfigMapEvent({ name: `cm-${i}`, ms }))]);
    }
    // not audit streams: never read, though the events would match
    model.put(GROUP, "authenticator-0a1b2c3d4e5f", [logEvent(execEvent({ pod: "from-authenticator", ms: t0 + 500 }))]);
    // a line CloudWatch cut, and an object that is not an audit Event
    model.put(GROUP, STREAMS[0]!, [
      { timestamp: t0 + 31_000, message: JSON.stringify(execEvent({ ms: t0 + 31_000 })).slice(0, 100) },
      { timestamp: t0 + 31_500, message: JSON.stringify({ kind: "Pod", apiVersion: "v1" }) },
    ]);
    const data = tmp("vigil-cw-data-");
    const rules = tmp("vigil-cw-rules-");
    const col = await collector(data, rules, { logGroup: GROUP, start: "beginning", overlapMs: 60_000 });
    // the two bad lines are the newest: in the last page
    await waitFor(() => stat(col, "k8s_audit_alerts") >= matching && stat(col, "k8s_audit_events_bad") >= 2, 10_000, "every page read");
    const alerts = (await col.store.query({}, 1000)).map((s) => s.alert);
    expect(alerts).toHaveLength(matching);
    expect(new Set(alerts.map((a) => a.hostname))).toEqual(new Set(["prod-cluster"]));
    expect(alerts.some((a) => a.output_fields["ka.target.name"] === "from-authenticator")).toBe(false);
    expect(stat(col, "k8s_audit_cloudwatch_throttled")).toBe(2);
    expect(model.throttled).toBe(2);
    expect(stat(col, "k8s_audit_events_bad")).toBe(2);
    expect(stat(col, "k8s_audit_cloudwatch_pages")).toBeGreaterThanOrEqual(6);
    expect(ep.rejections).toEqual([]);
    const first = model.requests[0]!;
    expect(first).toMatchObject({ logGroupName: GROUP, logStreamNamePrefix: "kube-apiserver-audit-", startTime: 0, limit: 10_000 });
    // the first poll: two throttled tries and the answered one without a token (an empty page with
    // one), then 32 events in pages of 7, each asked with the previous page's token, same window
    expect(model.requests.slice(0, 3).map((r) => r["nextToken"])).toEqual([undefined, undefined, undefined]);
    const paged = model.requests.slice(3, 8);
    expect(paged.every((r) => typeof r["nextToken"] === "string" && r["startTime"] === 0 && r["endTime"] === first["endTime"])).toBe(true);
    expect(model.requests[8]?.["nextToken"]).toBeUndefined();

    const newest = t0 + 31_500;
    await waitFor(
      () => {
        const p = JSON.parse(readFileSync(join(data, "k8s-audit-cloudwatch.json"), "utf8")) as { time: number };
        return p.time === newest;
      },
      5000,
      "position saved",
    );
    const pos = JSON.parse(readFileSync(join(data, "k8s-audit-cloudwatch.json"), "utf8")) as {
      version: number;
      log_group: string;
      since: number;
      seen: [string, number][];
    };
    expect(pos).toMatchObject({ version: 1, log_group: GROUP, since: 0 });
    // the events of the last minute before the newest are remembered (the overlap window)
    expect(pos.seen.every(([, ts]) => ts >= newest - 60_000)).toBe(true);
    // all 32 log events of the audit streams lie within a minute of the newest
    expect(pos.seen).toHaveLength(32);

    // later polls re-read the overlap window: skipped, never stored again
    const polls = stat(col, "k8s_audit_cloudwatch_polls");
    await waitFor(() => stat(col, "k8s_audit_cloudwatch_polls") >= polls + 2, 5000, "two more polls");
    expect(stat(col, "k8s_audit_cloudwatch_duplicates")).toBeGreaterThan(0);
    expect(stat(col, "k8s_audit_alerts_duplicate")).toBe(0);
    expect(stat(col, "k8s_audit_alerts")).toBe(matching);
    await col.close();

    // while it is down: new events, and one that reaches CloudWatch late with an older time
    model.put(GROUP, STREAMS[0]!, [logEvent(execEvent({ pod: "while-down-1", ms: Date.now() - 2000 }))]);
    model.put(GROUP, STREAMS[1]!, [logEvent(execEvent({ pod: "late-arrival", ms: newest - 5000 }))]);
    const before = model.requests.length;
    const col2 = await collector(data, rules, { logGroup: GROUP, start: "beginning", overlapMs: 60_000 });
    await waitFor(() => stat(col2, "k8s_audit_alerts") >= 2, 10_000, "alerts after the restart");
    // resumed from the saved position: the window starts an overlap before the newest event read, not at 0
    expect(model.requests[before]).toMatchObject({ startTime: newest - 60_000 });
    const polls2 = stat(col2, "k8s_audit_cloudwatch_polls");
    await waitFor(() => stat(col2, "k8s_audit_cloudwatch_polls") >= polls2 + 1, 5000, "one more poll");
    expect(stat(col2, "k8s_audit_alerts")).toBe(2);
    expect(stat(col2, "k8s_audit_alerts_duplicate")).toBe(0);
    const all = (await col2.store.query({}, 1000)).map((s) => s.alert);
    expect(all).toHaveLength(matching + 2);
    expect(new Set(all.map((a) => a.id)).size).toBe(matching + 2);
    expect(all.filter((a) => ["while-down-1", "late-arrival"].includes(String(a.output_fields["ka.target.name"])))).toHaveLength(2);
  });

  it("start: now skips what the group held before the first start; a restart before any event keeps that start", async () => {
    const { ep, model } = await endpoint();
    resetEnv(ep);
    model.put(GROUP, STREAMS[0]!, [logEvent(execEvent({ pod: "old", ms: Date.now() - 5 * 60_000 }))]);
    const data = tmp("vigil-cw-now-");
    const rules = tmp("vigil-cw-rules-");
    const col = await collector(data, rules, { logGroup: GROUP, start: "now" });
    await waitFor(() => stat(col, "k8s_audit_cloudwatch_polls") >= 2, 5000, "polls");
    expect(stat(col, "k8s_audit_events_received")).toBe(0);
    const since = (JSON.parse(readFileSync(join(data, "k8s-audit-cloudwatch.json"), "utf8")) as { since: number }).since;
    await col.close();
    // an event after the first start, seen only by the second run
    await new Promise((r) => setTimeout(r, 20));
    model.put(GROUP, STREAMS[1]!, [logEvent(execEvent({ pod: "new", ms: since + 10 }))]);
    const col2 = await collector(data, rules, { logGroup: GROUP, start: "now" });
    await waitFor(() => stat(col2, "k8s_audit_alerts") >= 1, 5000, "the new event's alert");
    const got = (await col2.store.query({}, 10)).map((s) => s.alert.output_fields["ka.target.name"]);
    expect(got).toEqual(["new"]);
  });

  it("IRSA: the reader exchanges the projected token with STS and signs with the role's session", async () => {
    const roleCreds: TestCredentials = {
      accessKeyId: "ASIAVIGILAUDIT000001",
      secretAccessKey: "audit/Secret0123456789abcdefGHIJKLMNOPQR",
      sessionToken: "audit-session-token",
    };
    const dir = tmp("vigil-cw-irsa-");
    writeFileSync(join(dir, "token"), "eyJhbGciOi.audit-reader-sa-token.sig");
    const roleArn = "arn:aws:iam::123456789012:role/vigil-audit-reader";
    const { ep, model } = await endpoint({
      region: REGION,
      credentials: [],
      webIdentity: { token: "eyJhbGciOi.audit-reader-sa-token.sig", roleArn, credentials: roleCreds },
    });
    resetEnv(ep, null);
    Object.assign(process.env, { AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "token"), AWS_ROLE_ARN: roleArn, AWS_ROLE_SESSION_NAME: "vigil" });
    model.put(GROUP, STREAMS[0]!, [logEvent(execEvent({ pod: "irsa", ms: Date.now() - 1000 }))]);
    const col = await collector(tmp("vigil-cw-irsa-data-"), tmp("vigil-cw-rules-"), { logGroup: GROUP, start: "beginning" });
    await waitFor(() => stat(col, "k8s_audit_alerts") >= 1, 10_000, "alert via IRSA");
    expect(ep.rejections).toEqual([]);
    expect(ep.credentialRequests[0]).toBe("web-identity");
    expect(ep.requests[0]).toMatchObject({ operation: "FilterLogEvents", accessKeyId: roleCreds.accessKeyId });
    expect(ep.requests[0]!.headers["x-amz-security-token"]).toBe(roleCreds.sessionToken);
  });

  it("a missing log group is an error retried with backoff, logged once per burst, until the group exists", async () => {
    const { ep, model } = await endpoint();
    resetEnv(ep);
    const mem = memoryLogger("info");
    const col = await collector(tmp("vigil-cw-missing-"), tmp("vigil-cw-rules-"), { logGroup: GROUP, start: "beginning" }, mem.logger);
    await waitFor(() => stat(col, "k8s_audit_cloudwatch_errors") >= 3, 5000, "errors");
    expect(mem.lines.filter((l) => l["msg"] === "reading the audit log group failed: retrying")).toHaveLength(1);
    expect(mem.lines.find((l) => l["msg"] === "reading the audit log group failed: retrying")).toMatchObject({ error: "ResourceNotFoundException" });
    model.put(GROUP, STREAMS[0]!, [logEvent(execEvent({ pod: "after-create", ms: Date.now() - 1000 }))]);
    await waitFor(() => stat(col, "k8s_audit_alerts") >= 1, 5000, "alert once the group exists");
  });
});
