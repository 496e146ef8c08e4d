// SPDX-License-Identifier: Apache-2.0
/**
 * The Loki destination against a local HTTP(S) server that checks each request against Loki's
 * push API (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs):
 * `POST /loki/api/v1/push`, `Content-Type: application/json`,
 * `{"streams":[{"stream":{labels},"values":[["<unix epoch in nanoseconds>","<log line>"]]}]}`,
 * `X-Scope-OrgID` for the tenant; and Loki's default limits
 * (https://grafana.com/docs/loki/latest/configure/#limits_config): label names
 * `[a-zA-Z_][a-zA-Z0-9_]*`, values ≤ 2048 characters, ≤ 15 labels, lines ≤ 256 KB. The fake
 * Loki also refuses an entry older than its stream's last one, as Loki does without
 * `unordered_writes`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeliveryError, type DeliveryItem, type Destination } from "../../collector/forward/destination.js";
import { createLokiDestination, LINE_MAX_BYTES, PUSH_MAX_BYTES } from "../../collector/forward/loki.js";
import { forwarderSchema, type ForwarderOf } from "../../proto/forwarders.js";
import { alertToFalcoJson, type Alert } from "../../proto/index.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { type Answer, type Recorded, type Recorder, startRecorder } from "./http-recorder.js";

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NS = /^\d{1,19}$/;

interface Push {
  streams: { stream: Record<string, string>; values: [string, string][] }[];
}

/** Problems of a request against the push API (empty when it conforms). */
function checkRequest(r: Recorded): string[] {
  const p: string[] = [];
  if (r.method !== "POST") p.push(`method ${r.method}`);
  if (r.url !== "/loki/api/v1/push") p.push(`path ${r.url}`);
  if (!String(r.headers["content-type"]).startsWith("application/json")) p.push(`content-type ${r.headers["content-type"]}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return [...p, "body is not JSON"];
  }
  if (Object.keys(body).join() !== "streams" || !Array.isArray(body["streams"])) return [...p, "body is not {streams: [...]}"];
  const seen = new Set<string>();
  for (const [i, s] of (body["streams"] as Record<string, unknown>[]).entries()) {
    const labels = s["stream"] as Record<string, unknown>;
    if (labels === null || typeof labels !== "object") {
      p.push(`[${i}] no stream labels`);
      continue;
    }
    const names = Object.keys(labels);
    if (names.length === 0 || names.length > 15) p.push(`[${i}] ${names.length} labels`);
    for (const n of names) {
      if (!LABEL_NAME.test(n)) p.push(`[${i}] label name ${n}`);
      const v = labels[n];
      if (typeof v !== "string" || v === "" || v.length > 2048) p.push(`[${i}] label ${n} value`);
    }
    const key = JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) p.push(`[${i}] stream repeated in one push`);
    seen.add(key);
    const values = s["values"];
    if (!Array.isArray(values) || values.length === 0) {
      p.push(`[${i}] no values`);
      continue;
    }
    let last = -1n;
    for (const v of values as unknown[]) {
      if (!Array.isArray(v) || v.length < 2 || v.length > 3 || typeof v[0] !== "string" || !NS.test(v[0]) || typeof v[1] !== "string") {
        p.push(`[${i}] bad value ${JSON.stringify(v).slice(0, 80)}`);
        continue;
      }
      if (Buffer.byteLength(v[1]) > 256 * 1024) p.push(`[${i}] line of ${Buffer.byteLength(v[1])} bytes`);
      const ts = BigInt(v[0]);
      if (ts < last) p.push(`[${i}] entries out of time order`);
      last = ts;
    }
  }
  return p;
}

/** A fake Loki: every conforming push is stored per stream; an entry older than its stream's last is refused (400), as Loki does with ordered writes. */
function fakeLoki() {
  const streams = new Map<string, { labels: Record<string, string>; entries: [bigint, string][] }>();
  const handler = (r: Recorded): Answer => {
    const problems = checkRequest(r);
    if (problems.length > 0) return { status: 400, body: problems.join("; ") };
    const refused: string[] = [];
    for (const s of (JSON.parse(r.body) as Push).streams) {
      const key = JSON.stringify(Object.entries(s.stream).sort());
      let st = streams.get(key);
      if (st === undefined) streams.set(key, (st = { labels: s.stream, entries: [] }));
      for (const [ts, line] of s.values) {
        const t = BigInt(ts);
        const last = st.entries.at(-1);
        if (last !== undefined && t < last[0]) refused.push(`entry with timestamp ${ts} ignored, reason: 'entry out of order'`);
        else st.entries.push([t, line]);
      }
    }
    return refused.length > 0 ? { status: 400, body: refused.join(",\n") } : { status: 204 };
  };
  return { streams, handler };
}

const cfgOf = (o: Record<string, unknown>): ForwarderOf<"loki"> => forwarderSchema.parse({ name: "loki", type: "loki", ...o }) as ForwarderOf<"loki">;
const itemOf = (alert: Alert, count = 1, seq = 1): DeliveryItem => ({ seq, alert, count });
const never = new AbortController().signal;
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const nsOf = (iso: string) => (BigInt(Date.parse(`${iso.slice(0, 19)}Z`)) * 1_000_000n + BigInt(iso.slice(20, 29))).toString();

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
  const loki = fakeLoki();
  server.handle(loki.handler);
  dest = createLokiDestination(cfgOf({ url: server.url, ...cfg }), { logger: quiet() });
  return { server, dest, loki };
}
const pushOf = (r: Recorded) => JSON.parse(r.body) as Push;

describe("loki destination", () => {
  it("pushes streams labelled source/priority/rule/node/namespace (+ extra labels), ns timestamps, Falco JSON lines", async () => {
    const { server, dest, loki } = await setup({ labels: { cluster: "prod", rule: "spoofed" } });
    expect(dest.maxBatch).toBe(500);
    const a = makeAlert({ time: "2026-03-01T10:00:00.123456789Z", priority: "Critical" });
    const b = makeAlert({ time: "2026-03-01T10:00:01.000000001Z", rule: "Host rule", fields: { "k8s.ns.name": null, "k8s.pod.name": null } });
    expect(await dest.send([itemOf(a), itemOf(b, 5, 2)], never)).toEqual({ failed: [] });
    expect(server.requests).toHaveLength(1);
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const push = pushOf(server.requests[0]!);
    expect(push.streams.map((s) => s.stream)).toEqual([
      { source: "syscall", priority: "Critical", rule: "Test rule", node: "node-a", namespace: "default", cluster: "prod" },
      { source: "syscall", priority: "Warning", rule: "Host rule", node: "node-a", cluster: "prod" },
    ]);
    expect(push.streams[0]!.values).toEqual([["1772359200123456789", JSON.stringify(alertToFalcoJson(a))]]);
    expect(nsOf(a.time)).toBe("1772359200123456789");
    const lineB = JSON.parse(push.streams[1]!.values[0]![1]) as Record<string, unknown>;
    expect(lineB).toEqual({ ...alertToFalcoJson(b), count: 5 });
    expect(push.streams[1]!.values[0]![0]).toBe("1772359201000000001");
    expect([...loki.streams.values()].reduce((n, s) => n + s.entries.length, 0)).toBe(2);
  });

  it("sends each stream's entries in time order, whatever the batch order (a Loki with ordered writes takes them all)", async () => {
    const { server, dest, loki } = await setup({});
    const at = (s: number) => `2026-03-01T10:00:0${s}.000000000Z`;
    const items = [3, 1, 2, 0].map((s, i) => itemOf(makeAlert({ time: at(s) }), 1, i));
    items.push(itemOf(makeAlert({ time: at(9), rule: "Other" }), 1, 9), itemOf(makeAlert({ time: at(4), rule: "Other" }), 1, 10));
    expect(await dest.send(items, never)).toEqual({ failed: [] });
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const push = pushOf(server.requests[0]!);
    expect(push.streams.map((s) => s.values.map((v) => (JSON.parse(v[1]) as { time: string }).time))).toEqual([
      [at(0), at(1), at(2), at(3)],
      [at(4), at(9)],
    ]);
    expect([...loki.streams.values()].map((s) => s.entries.length)).toEqual([4, 2]);
  });

  it("splits a large batch into pushes of about 1 MiB, keeping time order across them; a failed later push retries only its items and the rest", async () => {
    const { server, dest, loki } = await setup({});
    const big = "b".repeat(200 * 1024);
    const items = Array.from({ length: 12 }, (_, i) =>
      itemOf(makeAlert({ time: `2026-03-01T10:00:${String(59 - i).padStart(2, "0")}.000000000Z`, output: big }), 1, i),
    );
    expect(await dest.send(items, never)).toEqual({ failed: [] });
    expect(server.requests.length).toBeGreaterThanOrEqual(3);
    for (const r of server.requests) {
      expect(checkRequest(r)).toEqual([]);
      expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(PUSH_MAX_BYTES + 64 * 1024);
    }
    const stored = [...loki.streams.values()][0]!.entries;
    expect(stored).toHaveLength(12);
    expect(stored.map(([t]) => t)).toEqual([...stored.map(([t]) => t)].sort((x, y) => (x < y ? -1 : 1)));

    // the second push fails: what the first stored is not sent again
    server.requests.length = 0;
    let n = 0;
    server.handle(() => (++n === 2 ? { status: 503, body: "ingester unavailable" } : { status: 204 }));
    const out = await dest.send(items, never);
    const firstPush = new Set(pushOf(server.requests[0]!).streams.flatMap((s) => s.values.map((v) => (JSON.parse(v[1]) as { uuid: string }).uuid)));
    const failedIds = new Set(out!.failed.map((f) => items[f.index]!.alert.id));
    expect(out!.failed.every((f) => !f.permanent && f.error.includes("503"))).toBe(true);
    expect(failedIds.size + firstPush.size).toBe(12);
    for (const id of firstPush) expect(failedIds.has(id)).toBe(false);
  });

  it("sends X-Scope-OrgID and a bearer token, or basic auth; re-reads the secret on each push", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "token"), "glc_token_one");
    const { server, dest } = await setup({ tenant: "team-a", token_file: join(dir, "token") });
    await dest.send([itemOf(makeAlert())], never);
    writeFileSync(join(dir, "token"), "glc_token_two");
    await dest.send([itemOf(makeAlert())], never);
    expect(server.requests.map((r) => [r.headers["x-scope-orgid"], r.headers.authorization])).toEqual([
      ["team-a", "Bearer glc_token_one"],
      ["team-a", "Bearer glc_token_two"],
    ]);
    writeFileSync(join(dir, "pw"), "pw-1");
    const basic = createLokiDestination(cfgOf({ url: server.url, user: "123456", password_file: join(dir, "pw") }), { logger: quiet() });
    await basic.send([itemOf(makeAlert())], never);
    await basic.close?.();
    expect(server.requests[2]!.headers.authorization).toBe(`Basic ${Buffer.from("123456:pw-1").toString("base64")}`);
    expect(server.requests[2]!.headers["x-scope-orgid"]).toBeUndefined();
  });

  it("maps answers: 204 delivered, 429 with Retry-After retryable, 5xx retryable, 400 permanent", async () => {
    const { server, dest } = await setup({});
    const send = () => failure(dest.send([itemOf(makeAlert())], never));
    expect(await send()).toBeUndefined();
    server.handle(() => ({ status: 429, headers: { "retry-after": "3" }, body: "ingestion rate limit exceeded for user fake" }));
    const a = (await send()) as DeliveryError;
    expect([a instanceof DeliveryError, a.permanent, a.retryAfterMs, a.status]).toEqual([true, false, 3000, 429]);
    server.handle(() => ({ status: 500, body: "rpc error" }));
    const b = (await send()) as DeliveryError;
    expect([b.permanent, b.status]).toEqual([false, 500]);
    server.handle(() => ({ status: 400, body: "entry with timestamp 2024-05-06 15:58:50 +0000 UTC ignored, reason: 'entry too far behind'" }));
    const c = (await send()) as DeliveryError;
    expect([c.permanent, c.status]).toEqual([true, 400]);
    expect(c.message).toContain("entry too far behind");
  });

  it("never puts the token in an error, even when the server echoes it", async () => {
    process.env["VIGIL_TEST_LOKI_TOKEN"] = "glc_eyJzZWNyZXQiOiJ0b3Atc2VjcmV0In0";
    try {
      const { server, dest } = await setup({ token_env: "VIGIL_TEST_LOKI_TOKEN" });
      server.handle((r) => ({ status: 401, body: `no org id; got ${String(r.headers.authorization)}` }));
      const err = (await failure(dest.send([itemOf(makeAlert())], never))) as DeliveryError;
      // a refused token is destination-wide: retried until fixed
      expect([err.permanent, err.status]).toEqual([false, 401]);
      expect(err.message).toContain("Bearer [redacted]");
      expect(err.message).not.toContain("glc_eyJ");
    } finally {
      delete process.env["VIGIL_TEST_LOKI_TOKEN"];
    }
  });

  it("verifies an HTTPS Loki against tls.ca_file (and refuses it without)", async () => {
    const dir = tempDir();
    const tls = makeTestTls(dir, ["loki.test"]);
    writeFileSync(join(dir, "ca.crt"), tls["ca.crt"]);
    const { server, dest } = await setup({ tls: { ca_file: join(dir, "ca.crt") } }, { cert: tls["tls.crt"], key: tls["tls.key"] });
    expect(await dest.send([itemOf(makeAlert())], never)).toEqual({ failed: [] });
    expect(checkRequest(server.requests[0]!)).toEqual([]);
    const noCa = createLokiDestination(cfgOf({ url: server.url }), { logger: quiet() });
    const err = (await failure(noCa.send([itemOf(makeAlert())], never))) as DeliveryError;
    await noCa.close?.();
    expect([err instanceof DeliveryError, err.permanent]).toEqual([true, false]);
    expect(server.requests).toHaveLength(1);
  });

  it("keeps hostile and huge alerts within Loki's limits: a 1 MiB output cut to a 256 KB line of valid JSON, long label values cut", async () => {
    const { server, dest } = await setup({});
    const a = makeAlert({
      rule: `Rule\nwith "quotes" and }{ braces${"r".repeat(5000)}`,
      output: `line1\nline2\r\n\u0000\u001b[2J${"z".repeat(1024 * 1024)}`,
      fields: { "k8s.ns.name": "ns\nx", "proc.cmdline": "q".repeat(16 * 1024) },
    });
    expect(await dest.send([itemOf(a)], never)).toEqual({ failed: [] });
    const r = server.requests[0]!;
    expect(checkRequest(r)).toEqual([]);
    const s = pushOf(r).streams[0]!;
    expect(s.stream["rule"]!.length).toBe(1024);
    expect(s.stream["namespace"]).toBe("ns\nx");
    const line = s.values[0]![1];
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(LINE_MAX_BYTES);
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    const o = JSON.parse(line) as { truncated?: boolean; output: string; uuid: string; output_fields: Record<string, unknown> };
    expect(o.truncated).toBe(true);
    expect(o.uuid).toBe(a.id);
    expect(o.output.startsWith("line1\nline2\r\n\u0000\u001b[2J")).toBe(true);
    expect(o.output.endsWith(` … [truncated: ${a.output.length} characters in all]`)).toBe(true);
    expect(o.output_fields["proc.pid"]).toBe(1234);
  });

  it("warns at start when the stream labels pass Loki's default 15", () => {
    const cap = captureLogger("debug");
    const labels = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`extra_${i}`, "x"]));
    const d = createLokiDestination(cfgOf({ url: "http://127.0.0.1:1", labels }), { logger: cap.logger });
    void d.close?.();
    expect(cap.lines.some((l) => String(l["msg"]).includes("max_label_names_per_series") && l["labels"] === 16)).toBe(true);
    expect(() => createLokiDestination(cfgOf({}), { logger: quiet() })).toThrow(/url is required/);
  });
});
