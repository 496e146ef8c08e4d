// SPDX-License-Identifier: Apache-2.0
/**
 * `POST /k8s-audit` on a running collector: the API server's audit webhook batches (EventList,
 * checked against the audit.k8s.io/v1 schema) evaluated by a k8s_audit rules file, alerts in the
 * store, the query API and the live tail; authentication and body limits before the body is read;
 * bad payloads refused with a clear 400 and nothing lost from a good batch after them; a resent
 * batch stores nothing twice; client certificates (`--client-ca`) authenticate the route.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAuditRules } from "../../agent/cli/k8s-audit-rules.js";
import { auditAlertId } from "../../collector/k8s-audit/alert-id.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { TailClient } from "../../collector/tail-client.js";
import type { Alert } from "../../proto/index.js";
import { forwardersSchema } from "../../proto/forwarders.js";
import { startRecorder } from "../forward/http-recorder.js";
import { validateAuditEvent, validateAuditEventList } from "../helpers/audit-schema.js";
import { makeMtlsFiles } from "../helpers/mtls-certs.js";
import { memoryLogger, ndjson, tempDir, waitFor } from "./helpers.js";
import { eventList, execEvent, getConfigMapEvent, getSecretEvent, writeAuditRules } from "./k8s-audit-helpers.js";

const TOKEN = "audit-webhook-token-0123456789";
const MAX_BODY = 256 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(address: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, headers, agent: false }, (res) => {
      let s = "";
      res.on("data", (d: Buffer) => (s += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: s }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A webhook post as the API server's webhook backend makes it (client-go REST client: JSON, bearer token from the kubeconfig). */
const post = (address: string, body: unknown, o: { token?: string | null; path?: string; headers?: Record<string, string> } = {}) => {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return call(address, "POST", o.path ?? "/k8s-audit", text, {
    "content-type": "application/json",
    accept: "application/json, */*",
    "user-agent": "kube-apiserver/v1.30.2 (linux/amd64) kubernetes/3968350",
    "content-length": String(Buffer.byteLength(text)),
    ...(o.token === null ? {} : { authorization: `Bearer ${o.token ?? TOKEN}` }),
    ...o.headers,
  });
};

async function stored(address: string, query = "source=k8s_audit"): Promise<Alert[]> {
  const r = await call(address, "GET", `/api/v1/alerts?${query}&limit=10000`, undefined, { authorization: `Bearer ${TOKEN}` });
  expect(r.status).toBe(200);
  return ndjson(r.body) as Alert[];
}

/** Sends raw bytes and resolves with what came back before the server closed or `ms` passed. */
function raw(address: string, bytes: string, ms = 1500): Promise<string> {
  const i = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const s = connect(Number(address.slice(i + 1)), address.slice(0, i));
    let got = "";
    const t = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, ms);
    s.on("data", (d) => (got += d.toString()));
    s.on("close", () => {
      clearTimeout(t);
      resolve(got);
    });
    s.on("error", reject);
    s.write(bytes);
  });
}

/** A Falco JSON alert (for the Falco route's own limit). */
const falcoLike = () => ({
  output: "x",
  priority: "Warning",
  rule: "r",
  time: "2026-11-28T12:00:00.123456789Z",
  output_fields: {},
  source: "syscall",
  tags: [],
  hostname: "h",
});

const dir = tempDir("vigil-k8s-audit-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("POST /k8s-audit", () => {
  let col: RunningCollector;
  const mem = memoryLogger("info");
  beforeAll(async () => {
    const load = loadAuditRules([writeAuditRules(dir)]);
    expect(load.ok).toBe(true);
    expect(load.rules.ruleCount).toBe(2);
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      token: TOKEN,
      k8sAudit: { rules: load.rules, cluster: "prod-eu-1", maxBodyBytes: MAX_BODY },
      // the other routes' limit is lower: the audit route has its own
      limits: { max_body_bytes: 64 * 1024 },
      logger: mem.logger,
    });
  });
  afterAll(() => col.close());

  it("an EventList from the webhook backend: matching events become stored alerts, in the query API and the live tail", async () => {
    const tailed: Alert[] = [];
    let live = false;
    const tail = new TailClient({
      address: col.address,
      token: TOKEN,
      filter: {},
      onAlert: (a) => tailed.push(a),
      onState: (s) => {
        if (s === "live") live = true;
      },
    });
    tail.start();
    await waitFor(() => live, 5000, "tail live");
    const exec = execEvent({ pod: "api-7d9f", ns: "shop", command: "/bin/bash" });
    const secret = getSecretEvent({ name: "stripe-key" });
    const cm = getConfigMapEvent();
    const list = eventList([exec, secret, cm]);
    validateAuditEventList(list);
    const r = await post(col.address, list);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ events: 3, bad: 0, alerts: 2, stored: 2, duplicates: 0 });

    const alerts = await stored(col.address);
    expect(alerts.map((a) => a.rule).sort()).toEqual(["Test Exec Into Pod", "Test Secret Read By Service Account"]);
    const a = alerts.find((x) => x.rule === "Test Exec Into Pod")!;
    expect(a).toMatchObject({
      id: auditAlertId(exec.auditID, "ResponseStarted", "Test Exec Into Pod", Date.parse(exec.stageTimestamp)),
      source: "k8s_audit",
      priority: "Notice",
      hostname: "prod-eu-1",
      time: `${exec.stageTimestamp.slice(0, 26)}000Z`,
      tags: ["T1609", "k8s", "mitre_execution"],
    });
    expect(a.output).toBe(
      `${exec.stageTimestamp.slice(0, 26)}000Z: Notice Exec into pod (user=alice@example.com pod=api-7d9f ns=shop command=/bin/bash reason=${exec.annotations["authorization.k8s.io/reason"]})`,
    );
    expect(a.output_fields).toMatchObject({
      "ka.user.name": "alice@example.com",
      "ka.target.name": "api-7d9f",
      "ka.target.namespace": "shop",
      "ka.uri.param[command]": "/bin/bash",
    });
    const s = alerts.find((x) => x.rule === "Test Secret Read By Service Account")!;
    expect(s).toMatchObject({ priority: "Warning", hostname: "prod-eu-1", output_fields: { "ka.target.name": "stripe-key" } });

    await waitFor(() => tailed.length >= 2, 5000, "tailed alerts");
    tail.stop();
    expect(tailed.map((t) => t.id).sort()).toEqual(alerts.map((x) => x.id).sort());
    const st = col.stats();
    expect(st).toMatchObject({ k8s_audit_events_received: 3, k8s_audit_events_parsed: 3, k8s_audit_events_bad: 0, k8s_audit_alerts: 2 });
  });

  it("a resent batch (the API server retries) stores nothing twice", async () => {
    const list = eventList([execEvent({ pod: "retry-1" }), execEvent({ pod: "retry-2" })]);
    const first = await post(col.address, list);
    expect(JSON.parse(first.body)).toMatchObject({ alerts: 2, stored: 2, duplicates: 0 });
    const before = (await stored(col.address)).length;
    const again = await post(col.address, list);
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ alerts: 2, stored: 0, duplicates: 2 });
    expect((await stored(col.address)).length).toBe(before);
  });

  it("the stages of one request are separate events: a rule matching two stages alerts twice", async () => {
    const started = execEvent({ pod: "two-stages", stage: "ResponseStarted" });
    const list = eventList([started]);
    const r = await post(col.address, list);
    expect(JSON.parse(r.body)).toMatchObject({ stored: 1 });
    // ResponseComplete of the same request does not match (the rule wants ResponseStarted)
    const complete = { ...started, stage: "ResponseComplete" };
    validateAuditEvent(complete);
    expect(JSON.parse((await post(col.address, eventList([complete]))).body)).toMatchObject({ events: 1, alerts: 0 });
  });

  it("a single Event, a JSON array of Events and the cluster parameter", async () => {
    const one = execEvent({ pod: "single" });
    validateAuditEvent(one);
    const r1 = await post(col.address, one, { path: "/k8s-audit?cluster=staging-2" });
    expect(JSON.parse(r1.body)).toMatchObject({ events: 1, stored: 1 });
    const r2 = await post(col.address, [execEvent({ pod: "in-array" })]);
    expect(JSON.parse(r2.body)).toMatchObject({ events: 1, stored: 1 });
    const alerts = await stored(col.address);
    expect(alerts.find((a) => a.output_fields["ka.target.name"] === "single")?.hostname).toBe("staging-2");
    expect(alerts.find((a) => a.output_fields["ka.target.name"] === "in-array")?.hostname).toBe("prod-eu-1");
    expect((await post(col.address, one, { path: "/k8s-audit?cluster=bad%20name" })).status).toBe(400);
  });

  it.each([
    ["no token", null, /missing or bad bearer token/],
    ["a wrong token", "not-the-token", /missing or bad bearer token/],
  ])("%s: 401 before the body is read", async (_what, token, msg) => {
    const before = col.stats();
    // headers announce 100000 bytes; only 10 are sent: the answer must not wait for the rest
    const head =
      "POST /k8s-audit HTTP/1.1\r\nhost: collector\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n" +
      (token === null ? "" : `authorization: Bearer ${token}\r\n`) +
      '\r\n{"kind":"E';
    const got = await raw(col.address, head);
    expect(got).toMatch(/^HTTP\/1\.1 401 /);
    expect(got).toMatch(/www-authenticate: Bearer/i);
    expect(got).toMatch(msg);
    const after = col.stats();
    expect(after["http_unauthenticated"]).toBe(before["http_unauthenticated"]! + 1);
    expect(after["k8s_audit_events_received"]).toBe(before["k8s_audit_events_received"]);
  });

  it("an oversize body is 413: by Content-Length before reading, or while a chunked body arrives", async () => {
    const before = col.stats()["http_too_large"]!;
    const declared = await raw(
      col.address,
      `POST /k8s-audit HTTP/1.1\r\nhost: collector\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: ${MAX_BODY + 1}\r\n\r\n{`,
    );
    expect(declared).toMatch(/^HTTP\/1\.1 413 /);
    expect(declared).toContain(`body over ${MAX_BODY} bytes`);
    const big = eventList(Array.from({ length: 400 }, () => execEvent({ pod: "big", command: "x".repeat(1000) })));
    const text = JSON.stringify(big);
    expect(text.length).toBeGreaterThan(MAX_BODY);
    const chunked = await call(col.address, "POST", "/k8s-audit", text, {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
      "transfer-encoding": "chunked",
    }).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }));
    // the server answers 413 and closes; a client still writing may see the reset instead
    if (chunked.status !== -1) expect(chunked.status).toBe(413);
    expect(col.stats()["http_too_large"]).toBe(before + 2);
    expect((await stored(col.address)).some((a) => a.output_fields["ka.target.name"] === "big")).toBe(false);
    // the other routes' limit (64 KiB) does not apply to the audit route: 200 KiB pass
    const fits = eventList(Array.from({ length: 110 }, () => execEvent({ pod: "fits", command: "y".repeat(1000) })));
    const size = JSON.stringify(fits).length;
    expect(size).toBeGreaterThan(150 * 1024);
    expect(size).toBeLessThan(MAX_BODY);
    const ok = await post(col.address, fits);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ events: 110, stored: 110 });
    expect((await post(col.address, { ...falcoLike(), pad: "z".repeat(70 * 1024) }, { path: "/api/v1/falco" })).status).toBe(413);
  });

  it.each([
    ["not JSON", '{"kind":"EventList","items":[', /^bad audit payload: body is not JSON/],
    [
      "another kind",
      JSON.stringify({ kind: "PodList", apiVersion: "v1", items: [] }),
      /^bad audit payload: not an audit.k8s.io EventList or Event: kind "PodList"/,
    ],
    ["no kind", JSON.stringify({ items: [execEvent()] }), /kind missing/],
    [
      "another apiVersion",
      JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v2", items: [] }),
      /apiVersion "audit.k8s.io\/v2" is not audit.k8s.io\/v1/,
    ],
    ["a string", '"hello"', /the body is not a JSON object/],
    ["items not a list", JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: {} }), /items is not an array/],
  ])("%s: 400 with the reason, and the next good batch loses nothing", async (_what, body, msg) => {
    const before = col.stats()["k8s_audit_batches_bad"]!;
    const bad = await post(col.address, body);
    expect(bad.status).toBe(400);
    expect(bad.headers["content-type"]).toBe("application/json");
    expect((JSON.parse(bad.body) as { error: string }).error).toMatch(msg);
    expect(col.stats()["k8s_audit_batches_bad"]).toBe(before + 1);
    const good = eventList([execEvent({ pod: `after-bad-${before}` })]);
    expect(JSON.parse((await post(col.address, good)).body)).toMatchObject({ stored: 1 });
    expect((await stored(col.address)).filter((a) => a.output_fields["ka.target.name"] === `after-bad-${before}`)).toHaveLength(1);
  });

  it("bad items inside a good EventList are skipped and counted; the rest alert", async () => {
    const before = col.stats();
    const good = execEvent({ pod: "mixed-good" });
    const r = await post(col.address, {
      kind: "EventList",
      apiVersion: "audit.k8s.io/v1",
      items: [good, 42, { ...execEvent({ pod: "no-time" }), stageTimestamp: "yesterday", requestReceivedTimestamp: null }, { ...execEvent(), kind: "Pod" }],
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ events: 1, bad: 3, stored: 1 });
    const after = col.stats();
    expect(after["k8s_audit_events_bad"]).toBe(before["k8s_audit_events_bad"]! + 3);
    expect(after["k8s_audit_events_received"]).toBe(before["k8s_audit_events_received"]! + 4);
    // one warning for the burst, not one per item or batch
    expect(mem.lines.filter((l) => l["msg"] === "malformed audit events skipped")).toHaveLength(1);
  });

  it("a body encoding or content type other than JSON is 415", async () => {
    const list = JSON.stringify(eventList([execEvent()]));
    expect((await post(col.address, list, { headers: { "content-encoding": "gzip" } })).status).toBe(415);
    expect((await post(col.address, list, { headers: { "content-type": "text/plain" } })).status).toBe(415);
  });

  it("/metrics carries the k8s_audit counters", async () => {
    const r = await call(col.address, "GET", "/metrics", undefined, { authorization: `Bearer ${TOKEN}` });
    expect(r.status).toBe(200);
    const v = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(r.body)?.[1]);
    expect(v("vigil_collector_k8s_audit_events_received_total")).toBe(col.stats()["k8s_audit_events_received"]);
    expect(v("vigil_collector_k8s_audit_alerts_stored_total")).toBe(col.stats()["k8s_audit_alerts"]);
    expect(v("vigil_collector_k8s_audit_batches_bad_total")).toBeGreaterThanOrEqual(6);
    expect(r.body).toMatch(/^# HELP vigil_collector_k8s_audit_events_bad_total /m);
  });

  it("a new rule set put in force applies to the next batch", async () => {
    const other = loadAuditRules([writeAuditRules(dir, "second.yaml")]);
    // swap for a file with only a configmap rule
    const cmRules = join(dir, "cm.yaml");
    writeFileSync(
      cmRules,
      "- rule: Test ConfigMap Read\n  desc: x\n  condition: ka.target.resource = configmaps and ka.verb = get\n  output: cm read (name=%ka.target.name)\n  priority: INFO\n  source: k8s_audit\n",
    );
    expect(other.rules.ruleCount).toBe(2);
    col.setAuditRules(loadAuditRules([cmRules]).rules);
    try {
      const r = await post(col.address, eventList([execEvent({ pod: "after-swap" }), getConfigMapEvent({ name: "after-swap" })]));
      expect(JSON.parse(r.body)).toMatchObject({ events: 2, alerts: 1, stored: 1 });
      expect((await stored(col.address, "rule=Test%20ConfigMap%20Read")).map((a) => a.output)).toEqual([
        expect.stringMatching(/Informational cm read \(name=after-swap\)$/),
      ]);
    } finally {
      col.setAuditRules(other.rules);
    }
  });
});

describe("audit alerts and the forwarders", () => {
  it("reach a forwarder like every stored alert (the webhook forwarder posts their Falco JSON)", async () => {
    const rx = await startRecorder();
    const col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: join(dir, "fw-data"),
      token: TOKEN,
      forwarders: forwardersSchema.parse([{ name: "siem", type: "webhook", url: `${rx.url}/ingest` }]),
      k8sAudit: { rules: loadAuditRules([writeAuditRules(dir, "fw.yaml")]).rules, cluster: "fw-cluster" },
      logger: memoryLogger().logger,
    });
    try {
      const exec = execEvent({ pod: "forwarded" });
      expect((await post(col.address, eventList([exec]))).status).toBe(200);
      await waitFor(() => rx.requests.length > 0, 10_000, "the forwarded alert");
      const sent = JSON.parse(rx.requests[0]!.body) as unknown;
      const first = (Array.isArray(sent) ? sent[0] : sent) as Record<string, unknown>;
      expect(first).toMatchObject({
        uuid: auditAlertId(exec.auditID, "ResponseStarted", "Test Exec Into Pod", Date.parse(exec.stageTimestamp)),
        rule: "Test Exec Into Pod",
        source: "k8s_audit",
        hostname: "fw-cluster",
        output_fields: { "ka.target.name": "forwarded" },
      });
    } finally {
      await col.close();
      await rx.close();
    }
  });
});

describe("POST /k8s-audit without the k8s_audit source", () => {
  it("is 404 on a collector started without it (the embedded collector)", async () => {
    const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, logger: memoryLogger().logger });
    try {
      expect((await post(col.address, eventList([execEvent()]))).status).toBe(404);
    } finally {
      await col.close();
    }
  });
});

describe("POST /k8s-audit with a client certificate (--client-ca)", () => {
  it("the API server's webhook kubeconfig may authenticate with a client certificate instead of a token", async () => {
    const certs = makeMtlsFiles(tempDir("vigil-k8s-audit-mtls-"));
    const col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: TOKEN,
      tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), clientCa: readFileSync(certs.caCert) },
      k8sAudit: { rules: loadAuditRules([writeAuditRules(dir, "mtls.yaml")]).rules },
      logger: memoryLogger().logger,
    });
    const send = (withCert: boolean) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify(eventList([execEvent({ pod: "mtls" })]));
        const req = httpsRequest(
          `https://${col.address}/k8s-audit`,
          {
            method: "POST",
            ca: readFileSync(certs.caCert),
            ...(withCert ? { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {}),
            headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
            agent: false,
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    try {
      expect(await send(false)).toBe(401);
      expect(await send(true)).toBe(200);
      expect(col.stats()["k8s_audit_alerts"]).toBe(1);
      const alerts = await col.store.query({}, 10);
      expect(alerts[0]?.alert.hostname).toBe("kubernetes");
    } finally {
      await col.close();
    }
  });
});
