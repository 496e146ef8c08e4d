// SPDX-License-Identifier: Apache-2.0
/**
 * The Alertmanager destination against a local HTTP(S) server that checks each request against
 * Alertmanager's API v2: `POST /api/v2/alerts`, `Content-Type: application/json`, a JSON array of
 * `postableAlert` (labels required with `alertname`, annotations, RFC 3339 `startsAt`/`endsAt`,
 * `generatorURL` a URI, nothing else). Sources:
 * https://prometheus.io/docs/alerting/latest/clients/ and
 * https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml (`postableAlert`,
 * `labelSet`).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAlertmanagerDestination } from "../../collector/forward/alertmanager.js";
import { DeliveryError, type DeliveryItem, type Destination } from "../../collector/forward/destination.js";
import { forwarderSchema, type ForwarderOf } from "../../proto/forwarders.js";
import { PRIORITY_NAMES, type Alert } from "../../proto/index.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { type Recorded, type Recorder, startRecorder } from "./http-recorder.js";

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const POSTABLE_KEYS = new Set(["labels", "annotations", "startsAt", "endsAt", "generatorURL"]);

/** Problems of a request against the API v2 `postAlerts` operation (empty when it conforms). */
function checkRequest(r: Recorded): string[] {
  const p: string[] = [];
  if (r.method !== "POST") p.push(`method ${r.method}`);
  if (r.url !== "/api/v2/alerts") p.push(`path ${r.url}`);
  if (!String(r.headers["content-type"]).startsWith("application/json")) p.push(`content-type ${r.headers["content-type"]}`);
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    return [...p, "body is not JSON"];
  }
  if (!Array.isArray(body) || body.length === 0) return [...p, "body is not a non-empty array"];
  for (const [i, a] of (body as unknown[]).entries()) {
    if (a === null || typeof a !== "object") {
      p.push(`[${i}] not an object`);
      continue;
    }
    const o = a as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!POSTABLE_KEYS.has(k)) p.push(`[${i}] unknown key ${k}`);
    const labelSet = (what: string, v: unknown) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        p.push(`[${i}] ${what} not an object`);
        return;
      }
      for (const [n, s] of Object.entries(v)) {
        if (!LABEL_NAME.test(n)) p.push(`[${i}] ${what} name ${n}`);
        if (typeof s !== "string" || s === "") p.push(`[${i}] ${what} ${n} not a non-empty string`);
      }
    };
    labelSet("labels", o["labels"]);
    if (typeof (o["labels"] as Record<string, unknown>)?.["alertname"] !== "string") p.push(`[${i}] no alertname`);
    if (o["annotations"] !== undefined) labelSet("annotations", o["annotations"]);
    for (const k of ["startsAt", "endsAt"]) if (o[k] !== undefined && !(typeof o[k] === "string" && RFC3339.test(o[k]))) p.push(`[${i}] ${k} ${String(o[k])}`);
    if (typeof o["startsAt"] === "string" && typeof o["endsAt"] === "string" && !(Date.parse(o["startsAt"]) < Date.parse(o["endsAt"])))
      p.push(`[${i}] startsAt not before endsAt`);
    if (o["generatorURL"] !== undefined && !URL.canParse(String(o["generatorURL"]))) p.push(`[${i}] generatorURL not a URI`);
  }
  return p;
}

const cfgOf = (o: Record<string, unknown>): ForwarderOf<"alertmanager"> =>
  forwarderSchema.parse({ name: "am", type: "alertmanager", ...o }) as ForwarderOf<"alertmanager">;
const itemOf = (alert: Alert, count = 1, seq = 1): DeliveryItem => ({ seq, alert, count });
const never = new AbortController().signal;
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

let server: Recorder | undefined;
let dest: Destination | undefined;
afterEach(async () => {
  await dest?.close?.();
  await server?.close();
  dest = undefined;
  server = undefined;
});

async function setup(cfg: Record<string, unknown>, tls?: { cert: string; key: string }) {
  server = await startRecorder(tls);
  dest = createAlertmanagerDestination(cfgOf({ url: server.url, ...cfg }), { logger: quiet() });
  return { server, dest };
}
const alertsOf = (r: Recorded) =>
  JSON.parse(r.body) as { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL?: string }[];

describe("alertmanager destination", () => {
  it("posts a batch of postableAlerts: labels, annotations, startsAt/endsAt, generatorURL", async () => {
    const { server, dest } = await setup({
      labels: { cluster: "prod", alertname: "spoofed" },
      resolve_after_seconds: 600,
      collector_url: "https://vigil.example/",
    });
    expect(dest.maxBatch).toBe(64);
    const a = makeAlert({ id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", priority: "Critical", time: "2026-03-01T10:00:00.123456789Z" });
    const b = makeAlert({ id: "host:alert.2", rule: "Host rule", priority: "Notice", fields: { "k8s.ns.name": null, "k8s.pod.name": null } });
    expect(await dest.send([itemOf(a), itemOf(b, 3, 2)], never)).toEqual({ failed: [] });
    expect(server.requests).toHaveLength(1);
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const [pa, pb] = alertsOf(server.requests[0]!);
    expect(pa!.labels).toEqual({
      alertname: "Test rule",
      priority: "Critical",
      severity: "critical",
      source: "syscall",
      node: "node-a",
      namespace: "default",
      pod: "web-1",
      cluster: "prod",
    });
    expect(pa!.startsAt).toBe("2026-03-01T10:00:00.123456789Z");
    expect(pa!.endsAt).toBe("2026-03-01T10:10:00.123Z");
    expect(pa!.generatorURL).toBe("https://vigil.example/api/v1/alerts/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    expect(pa!.annotations["summary"]).toBe(a.output);
    expect(pa!.annotations["alert_id"]).toBe(a.id);
    expect(pa!.annotations["tags"]).toBe("T1003.008,filesystem");
    expect(pa!.annotations["description"]).toContain("pod: default/web-1");
    expect(pa!.annotations["description"]).toContain("container: web (docker.io/library/nginx:1.25)");
    expect(pa!.annotations["count"]).toBeUndefined();
    // a host alert: no namespace/pod labels; grouped repeats said in summary and count
    expect(pb!.labels).toEqual({ alertname: "Host rule", priority: "Notice", severity: "info", source: "syscall", node: "node-a", cluster: "prod" });
    expect(pb!.annotations["summary"]).toBe(`[×3] ${b.output}`);
    expect(pb!.annotations["count"]).toBe("3");
    expect(pb!.generatorURL).toBe("https://vigil.example/api/v1/alerts/host%3Aalert.2");
  });

  it("maps every Falco priority to a severity label; no generatorURL without collector_url; batch_size caps the batch", async () => {
    const { server, dest } = await setup({ batch_size: 10 });
    expect(dest.maxBatch).toBe(10);
    await dest.send(
      PRIORITY_NAMES.map((priority, i) => itemOf(makeAlert({ priority }), 1, i)),
      never,
    );
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const got = alertsOf(server.requests[0]!).map((x) => [x.labels["priority"], x.labels["severity"], x.generatorURL]);
    expect(got).toEqual([
      ["Emergency", "critical", undefined],
      ["Alert", "critical", undefined],
      ["Critical", "critical", undefined],
      ["Error", "error", undefined],
      ["Warning", "warning", undefined],
      ["Notice", "info", undefined],
      ["Informational", "info", undefined],
      ["Debug", "info", undefined],
    ]);
  });

  it("a resend carries the same labels (Alertmanager's identity of an alert), so it updates the same alert", async () => {
    const { server, dest } = await setup({});
    const item = itemOf(makeAlert());
    await dest.send([item], never);
    await dest.send([item], never);
    const [first, second] = server.requests.map((r) => alertsOf(r)[0]);
    expect(second).toEqual(first);
  });

  it("basic auth from user + password_file, re-read on each send (rotation); bearer token from token_env", async () => {
    const dir = tempDir();
    const pwFile = join(dir, "pw");
    writeFileSync(pwFile, "s3cret-one\n");
    const { server, dest } = await setup({ user: "vigil", password_file: pwFile });
    await dest.send([itemOf(makeAlert())], never);
    writeFileSync(pwFile, "s3cret-two\n");
    await dest.send([itemOf(makeAlert())], never);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      `Basic ${Buffer.from("vigil:s3cret-one").toString("base64")}`,
      `Basic ${Buffer.from("vigil:s3cret-two").toString("base64")}`,
    ]);
    await dest.close?.();
    process.env["VIGIL_TEST_AM_TOKEN"] = "tok-123456";
    try {
      const d2 = createAlertmanagerDestination(cfgOf({ url: server.url, token_env: "VIGIL_TEST_AM_TOKEN" }), { logger: quiet() });
      await d2.send([itemOf(makeAlert())], never);
      await d2.close?.();
    } finally {
      delete process.env["VIGIL_TEST_AM_TOKEN"];
    }
    expect(server.requests[2]!.headers.authorization).toBe("Bearer tok-123456");
  });

  it("maps answers: 200 delivered, 429 with Retry-After retryable, 5xx retryable, 400 permanent", async () => {
    const { server, dest } = await setup({});
    const send = () => failure(dest.send([itemOf(makeAlert())], never));
    server.handle(() => ({ status: 200 }));
    expect(await send()).toBeUndefined();
    server.handle(() => ({ status: 429, headers: { "retry-after": "7" }, body: "slow down" }));
    const e429 = (await send()) as DeliveryError;
    expect(e429).toBeInstanceOf(DeliveryError);
    expect([e429.permanent, e429.retryAfterMs, e429.status]).toEqual([false, 7000, 429]);
    server.handle(() => ({ status: 503, body: "unavailable" }));
    const e503 = (await send()) as DeliveryError;
    expect([e503.permanent, e503.status]).toEqual([false, 503]);
    server.handle(() => ({ status: 400, body: '{"code":400,"message":"invalid label set"}' }));
    const e400 = (await send()) as DeliveryError;
    expect([e400.permanent, e400.status]).toEqual([true, 400]);
    expect(e400.message).toContain("invalid label set");
  });

  it("never puts the password or the basic credentials in an error, even when the server echoes them; a 401 is retried", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pw"), "hunter2-very-secret");
    const { server, dest } = await setup({ user: "ops", password_file: join(dir, "pw") });
    server.handle((r) => ({ status: 401, body: `bad credentials ${String(r.headers.authorization)} (password hunter2-very-secret)` }));
    const err = (await failure(dest.send([itemOf(makeAlert())], never))) as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    // wrong credentials refuse every alert alike: retried until fixed, not dead-lettered one by one
    expect([err.permanent, err.status]).toEqual([false, 401]);
    expect(err.message).toContain("check the URL, credentials and permissions");
    expect(err.message).toContain("[redacted]");
    expect(err.message).not.toContain("hunter2");
    expect(err.message).not.toContain(Buffer.from("ops:hunter2-very-secret").toString("base64"));
    // a missing secret file names the setting and the file, not a value
    expect(() => createAlertmanagerDestination(cfgOf({ url: server.url, user: "ops", password_file: join(dir, "nope") }), { logger: quiet() })).toThrow(
      /password_file .*nope: ENOENT/,
    );
  });

  it("refuses a configuration it cannot use, with the reason", () => {
    expect(() => createAlertmanagerDestination(cfgOf({}), { logger: quiet() })).toThrow(/url is required/);
    expect(() => createAlertmanagerDestination(cfgOf({ url: "http://127.0.0.1:1", user: "x" }), { logger: quiet() })).toThrow(/user needs password/);
    expect(() => createAlertmanagerDestination(cfgOf({ url: "http://127.0.0.1:1", password_env: "X" }), { logger: quiet() })).toThrow(/need user/);
    process.env["VIGIL_TEST_AM_A"] = "a";
    try {
      expect(() =>
        createAlertmanagerDestination(cfgOf({ url: "http://127.0.0.1:1", user: "x", password_env: "VIGIL_TEST_AM_A", token_env: "VIGIL_TEST_AM_A" }), {
          logger: quiet(),
        }),
      ).toThrow(/one way to authenticate/);
    } finally {
      delete process.env["VIGIL_TEST_AM_A"];
    }
  });

  it("verifies an HTTPS Alertmanager against tls.ca_file (and refuses it without)", async () => {
    const dir = tempDir();
    const tls = makeTestTls(dir, ["alertmanager.test"]);
    writeFileSync(join(dir, "ca.crt"), tls["ca.crt"]);
    const { server, dest } = await setup({ tls: { ca_file: join(dir, "ca.crt") } }, { cert: tls["tls.crt"], key: tls["tls.key"] });
    expect(await dest.send([itemOf(makeAlert())], never)).toEqual({ failed: [] });
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const noCa = createAlertmanagerDestination(cfgOf({ url: server.url }), { logger: quiet() });
    const err = (await failure(noCa.send([itemOf(makeAlert())], never))) as DeliveryError;
    await noCa.close?.();
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.permanent).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it("keeps hostile alert strings safe: one-line bounded summary, control characters shown as escapes, 1 MiB output bounded", async () => {
    const { server, dest } = await setup({});
    const hostile = `evil\r\n\u001b[31mred\u0000 <b>bold</b> *md* \u2028line${"x".repeat(1024 * 1024)}`;
    const a = makeAlert({ rule: `Rule\nwith newline${"r".repeat(3000)}`, output: hostile, fields: { "k8s.pod.name": "pod\nname" } });
    await dest.send([itemOf(a)], never);
    const r = server.requests[0]!;
    expect(checkRequest(r)).toEqual([]);
    expect(r.body.length).toBeLessThan(32 * 1024);
    const [pa] = alertsOf(r);
    const summary = pa!.annotations["summary"]!;
    expect(summary.length).toBeLessThanOrEqual(1024);
    expect(summary).toMatch(/^evil \\x1b\[31mred\\x00 <b>bold<\/b> \*md\* \\u2028linex+ … \[truncated: \d+ characters in all\]$/);
    const description = pa!.annotations["description"]!;
    expect(description.length).toBeLessThanOrEqual(8 * 1024);
    expect(description).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u2028]/);
    expect(pa!.labels["alertname"]!.length).toBeLessThanOrEqual(1024);
    expect(pa!.labels["alertname"]!.startsWith("Rule\nwith newline")).toBe(true);
    expect(pa!.labels["pod"]).toBe("pod\nname");
  });
});
