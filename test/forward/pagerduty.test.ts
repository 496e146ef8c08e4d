// SPDX-License-Identifier: Apache-2.0
/**
 * The PagerDuty destination against a local HTTP(S) server that checks each request against the
 * Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and
 * https://developer.pagerduty.com/docs/events-api-v2/overview/): one JSON event per `POST`,
 * `routing_key`, `event_action` trigger/acknowledge/resolve, `dedup_key` ≤ 255 characters,
 * `payload.summary` ≤ 1024 characters, `payload.source`, `payload.severity` critical/error/
 * warning/info, optional `timestamp` (ISO 8601), `component`, `group`, `class`,
 * `custom_details`, `links` with `href`, at most 512 KB; answers 202, 400, 429, 5xx as
 * documented (and https://developer.pagerduty.com/docs/events-api-v2/rate-limits/ for 429).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeliveryError, type DeliveryItem, type Destination } from "../../collector/forward/destination.js";
import { createPagerdutyDestination } from "../../collector/forward/pagerduty.js";
import { forwarderSchema, type ForwarderOf } from "../../proto/forwarders.js";
import { PRIORITY_NAMES, type Alert } from "../../proto/index.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { type Recorded, type Recorder, startRecorder } from "./http-recorder.js";

const TOP_KEYS = new Set(["routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"]);
const PAYLOAD_KEYS = new Set(["summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"]);
const SEVERITIES = new Set(["critical", "error", "warning", "info"]);
const ISO8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

interface PdEvent {
  routing_key: string;
  event_action: string;
  dedup_key: string;
  payload: {
    summary: string;
    source: string;
    severity: string;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: { href: string; text?: string }[];
  client?: string;
  client_url?: string;
}

/** Problems of a request against the Events API v2 enqueue operation (empty when it conforms). */
function checkRequest(r: Recorded): string[] {
  const p: string[] = [];
  if (r.method !== "POST") p.push(`method ${r.method}`);
  if (r.url !== "/v2/enqueue") p.push(`path ${r.url}`);
  if (!String(r.headers["content-type"]).startsWith("application/json")) p.push(`content-type ${r.headers["content-type"]}`);
  if (Buffer.byteLength(r.body) > 512 * 1000) p.push(`event of ${Buffer.byteLength(r.body)} bytes`);
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return [...p, "body is not JSON"];
  }
  if (e === null || typeof e !== "object" || Array.isArray(e)) return [...p, "not one event object"];
  for (const k of Object.keys(e)) if (!TOP_KEYS.has(k)) p.push(`unknown key ${k}`);
  if (typeof e["routing_key"] !== "string" || e["routing_key"] === "") p.push("routing_key");
  if (!["trigger", "acknowledge", "resolve"].includes(String(e["event_action"]))) p.push(`event_action ${String(e["event_action"])}`);
  if (e["dedup_key"] !== undefined && !(typeof e["dedup_key"] === "string" && e["dedup_key"].length <= 255)) p.push("dedup_key");
  const pl = e["payload"] as Record<string, unknown> | undefined;
  if (pl === undefined || typeof pl !== "object") return [...p, "no payload"];
  for (const k of Object.keys(pl)) if (!PAYLOAD_KEYS.has(k)) p.push(`unknown payload key ${k}`);
  if (!(typeof pl["summary"] === "string" && pl["summary"] !== "" && pl["summary"].length <= 1024)) p.push("payload.summary");
  if (!(typeof pl["source"] === "string" && pl["source"] !== "")) p.push("payload.source");
  if (!SEVERITIES.has(String(pl["severity"]))) p.push(`payload.severity ${String(pl["severity"])}`);
  if (pl["timestamp"] !== undefined && !(typeof pl["timestamp"] === "string" && ISO8601.test(pl["timestamp"]) && !Number.isNaN(Date.parse(pl["timestamp"]))))
    p.push("payload.timestamp");
  for (const k of ["component", "group", "class"]) if (pl[k] !== undefined && typeof pl[k] !== "string") p.push(`payload.${k}`);
  if (pl["custom_details"] !== undefined && (typeof pl["custom_details"] !== "object" || Array.isArray(pl["custom_details"]))) p.push("payload.custom_details");
  for (const k of ["links", "images"]) {
    const v = e[k];
    if (v === undefined) continue;
    if (!Array.isArray(v)) p.push(`${k} not an array`);
    else
      for (const l of v as Record<string, unknown>[])
        if (typeof l[k === "links" ? "href" : "src"] !== "string") p.push(`${k} item without ${k === "links" ? "href" : "src"}`);
  }
  return p;
}

const cfgOf = (o: Record<string, unknown>): ForwarderOf<"pagerduty"> =>
  forwarderSchema.parse({ name: "pd", type: "pagerduty", ...o }) as ForwarderOf<"pagerduty">;
const itemOf = (alert: Alert, count = 1, seq = 1): DeliveryItem => ({ seq, alert, count });
const never = new AbortController().signal;
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const ACCEPTED = (r: Recorded) => ({
  status: 202,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ status: "success", message: "Event processed", dedup_key: (JSON.parse(r.body) as PdEvent).dedup_key }),
});

let server: Recorder | undefined;
let dest: Destination | undefined;
let keyDir = "";
afterEach(async () => {
  await dest?.close?.();
  await server?.close();
  dest = undefined;
  server = undefined;
});

async function setup(cfg: Record<string, unknown>, tls?: { cert: string; key: string }) {
  server = await startRecorder(tls);
  server.handle(ACCEPTED);
  keyDir = tempDir();
  writeFileSync(join(keyDir, "key"), "R0UT1NGKEY0123456789abcdefabcdef\n");
  dest = createPagerdutyDestination(cfgOf({ url: `${server.url}/v2/enqueue`, routing_key_file: join(keyDir, "key"), ...cfg }), { logger: quiet() });
  return { server, dest };
}
const eventOf = (r: Recorded) => JSON.parse(r.body) as PdEvent;

describe("pagerduty destination", () => {
  it("sends one trigger event per request: dedup_key = alert ID, payload fields, custom_details, link", async () => {
    const { server, dest } = await setup({ batch_size: 50, collector_url: "https://vigil.example" });
    expect(dest.maxBatch).toBe(1);
    const a = makeAlert({ id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", priority: "Critical", time: "2026-03-01T10:00:00.123456789Z" });
    expect(await dest.send([itemOf(a)], never)).toEqual({ failed: [] });
    expect(server.requests).toHaveLength(1);
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const e = eventOf(server.requests[0]!);
    expect(e.routing_key).toBe("R0UT1NGKEY0123456789abcdefabcdef");
    expect(e.event_action).toBe("trigger");
    expect(e.dedup_key).toBe(a.id);
    expect(e.payload).toMatchObject({
      summary: a.output,
      source: "node-a",
      severity: "critical",
      timestamp: "2026-03-01T10:00:00.123Z",
      component: "web-1",
      group: "default",
      class: "Test rule",
    });
    expect(e.payload.custom_details).toMatchObject({
      rule: "Test rule",
      priority: "Critical",
      alert_id: a.id,
      count: 1,
      namespace: "default",
      pod: "web-1",
      container: "web",
      image: "docker.io/library/nginx:1.25",
      output_fields: a.output_fields,
      tags: a.tags,
    });
    expect(e.links).toEqual([{ href: `https://vigil.example/api/v1/alerts/${a.id}`, text: "Alert in Vigil" }]);
    expect(e.client_url).toBe("https://vigil.example");
  });

  it("maps Falco priorities to PagerDuty severities and says ×N for grouped repeats", async () => {
    const { server, dest } = await setup({});
    for (const priority of PRIORITY_NAMES) await dest.send([itemOf(makeAlert({ priority }))], never);
    await dest.send([itemOf(makeAlert({ priority: "Error" }), 4)], never);
    for (const r of server.requests) expect(checkRequest(r)).toEqual([]);
    const events = server.requests.map(eventOf);
    expect(events.map((e) => e.payload.severity)).toEqual(["critical", "critical", "critical", "error", "warning", "info", "info", "info", "error"]);
    expect(events[8]!.payload.summary.startsWith("[×4] ")).toBe(true);
    expect(events[8]!.payload.custom_details?.["count"]).toBe(4);
    expect(events[0]!.links).toBeUndefined();
  });

  it("a resend is a no-op: the same dedup_key, which PagerDuty folds into the open alert", async () => {
    const { server, dest } = await setup({});
    const open = new Map<string, number>();
    server.handle((r) => {
      const k = eventOf(r).dedup_key;
      open.set(k, (open.get(k) ?? 0) + 1);
      return ACCEPTED(r);
    });
    const item = itemOf(makeAlert());
    await dest.send([item], never);
    await dest.send([item], never);
    expect([...open.entries()]).toEqual([[item.alert.id, 2]]);
    expect(server.requests[1]!.body).toBe(server.requests[0]!.body);
  });

  it("maps answers: 202 delivered; 429 retryable after Retry-After, or 30 s without; 5xx retryable; 400 permanent", async () => {
    const { server, dest } = await setup({});
    const send = () => failure(dest.send([itemOf(makeAlert())], never));
    expect(await send()).toBeUndefined();
    server.handle(() => ({ status: 429, headers: { "retry-after": "12" }, body: "" }));
    const a = (await send()) as DeliveryError;
    expect([a instanceof DeliveryError, a.permanent, a.retryAfterMs, a.status]).toEqual([true, false, 12_000, 429]);
    server.handle(() => ({ status: 429, body: '{"status":"throttle event","message":"Requests for this service are arriving too quickly."}' }));
    const b = (await send()) as DeliveryError;
    expect([b.permanent, b.retryAfterMs, b.status]).toEqual([false, 30_000, 429]);
    server.handle(() => ({ status: 502, body: "bad gateway" }));
    const c = (await send()) as DeliveryError;
    expect([c.permanent, c.status]).toEqual([false, 502]);
    server.handle(() => ({
      status: 400,
      body: '{"status":"invalid event","message":"Event object is invalid","errors":["Length of \'summary\' is incorrect"]}',
    }));
    const d = (await send()) as DeliveryError;
    expect([d.permanent, d.status]).toEqual([true, 400]);
    expect(d.message).toContain("Event object is invalid");
  });

  it("given several items (not its natural batch), stops at a retryable failure and holds the rest", async () => {
    const { server, dest } = await setup({});
    let n = 0;
    server.handle((r) => (++n === 2 ? { status: 429, headers: { "retry-after": "1" } } : ACCEPTED(r)));
    const out = await dest.send([itemOf(makeAlert()), itemOf(makeAlert()), itemOf(makeAlert())], never);
    expect(out?.failed.map((f) => [f.index, f.permanent])).toEqual([
      [1, false],
      [2, false],
    ]);
    expect(server.requests).toHaveLength(2);
  });

  it("never puts the routing key in an error; re-reads it on each send; refuses to start without one", async () => {
    const { server, dest } = await setup({});
    server.handle((r) => ({ status: 400, body: `{"status":"invalid event","message":"unknown routing_key ${eventOf(r).routing_key}"}` }));
    const err = (await failure(dest.send([itemOf(makeAlert())], never))) as DeliveryError;
    expect(err.permanent).toBe(true);
    expect(err.message).toContain("[redacted]");
    expect(err.message).not.toContain("R0UT1NGKEY");
    server.handle(ACCEPTED);
    writeFileSync(join(keyDir, "key"), "ROTATEDKEY0123456789abcdefabcdef");
    await dest.send([itemOf(makeAlert())], never);
    expect(eventOf(server.requests[1]!).routing_key).toBe("ROTATEDKEY0123456789abcdefabcdef");
    expect(() => createPagerdutyDestination(cfgOf({}), { logger: quiet() })).toThrow(/routing_key_file or routing_key_env is required/);
    expect(() => createPagerdutyDestination(cfgOf({ routing_key_env: "VIGIL_TEST_NO_SUCH_VAR" }), { logger: quiet() })).toThrow(
      /routing_key_env names VIGIL_TEST_NO_SUCH_VAR, which is not set/,
    );
  });

  it("verifies an HTTPS endpoint against tls.ca_file (and refuses it without)", async () => {
    const dir = tempDir();
    const tls = makeTestTls(dir, ["events.pagerduty.test"]);
    writeFileSync(join(dir, "ca.crt"), tls["ca.crt"]);
    const { server, dest } = await setup({ tls: { ca_file: join(dir, "ca.crt") } }, { cert: tls["tls.crt"], key: tls["tls.key"] });
    expect(await dest.send([itemOf(makeAlert())], never)).toEqual({ failed: [] });
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const noCa = createPagerdutyDestination(cfgOf({ url: `${server.url}/v2/enqueue`, routing_key_file: join(keyDir, "key") }), { logger: quiet() });
    const err = (await failure(noCa.send([itemOf(makeAlert())], never))) as DeliveryError;
    await noCa.close?.();
    expect([err instanceof DeliveryError, err.permanent]).toEqual([true, false]);
    expect(server.requests).toHaveLength(1);
  });

  it("keeps hostile and huge alerts within the limits: one-line summary ≤ 1024, event ≤ 512 KB, cut strings said", async () => {
    const { server, dest } = await setup({});
    const fields: Alert["output_fields"] = {};
    for (let i = 0; i < 60; i++) fields[`big.field${i}`] = `v${i}\n${"y".repeat(16 * 1024 - 3)}`;
    const a = makeAlert({ output: `line1\nline2\r\n\u0000\u001b[2J<script>alert(1)</script>${"z".repeat(1024 * 1024)}`, fields });
    await dest.send([itemOf(a, 2)], never);
    const r = server.requests[0]!;
    expect(checkRequest(r)).toEqual([]);
    const e = eventOf(r);
    expect(e.payload.summary).toMatch(/^\[×2\] line1 line2 \\x00\\x1b\[2J<script>alert\(1\)<\/script>z+ … \[truncated: \d+ characters in all\]$/);
    expect(e.payload.summary).toHaveLength(1024);
    const d = e.payload.custom_details!;
    expect(String(d["truncated"])).toMatch(/^strings cut to \d+ characters/);
    const f = d["output_fields"] as Record<string, string>;
    expect(Object.keys(f)).toHaveLength(Object.keys(a.output_fields).length);
    expect(f["big.field7"]!.startsWith("v7\ny")).toBe(true);
    expect(f["big.field7"]!).toMatch(/ … \[truncated: 16384 characters in all\]$/);
    expect(f["proc.name"]).toBe("cat");
    // the cut keeps as much as fits: the event fills most of the budget
    expect(Buffer.byteLength(r.body)).toBeGreaterThan(400_000);
  });
});
