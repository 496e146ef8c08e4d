// SPDX-License-Identifier: Apache-2.0
/**
 * The generic webhook against a real local server that checks each request against Falco's
 * http_output format (https://falco.org/docs/concepts/outputs/channels/#http-output: a POST of
 * the JSON alert with `Content-Type: application/json`; the JSON alert's keys as in
 * https://falco.org/docs/concepts/outputs/formatting/ — uuid, output, priority, rule, time,
 * output_fields, source, tags, hostname) and verifies the signature with a receiver written
 * from the scheme documented in collector/forward/webhook.ts (HMAC-SHA256 over
 * `<X-Vigil-Timestamp>.<body>`, RFC 2104 via node:crypto).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type Destination } from "../../collector/forward/destination.js";
import { createWebhookDestination, DEFAULT_BATCH } from "../../collector/forward/webhook.js";
import { type Alert, alertToFalcoJson, type ForwarderOf } from "../../proto/index.js";
import { forwarderSchema } from "../../proto/forwarders.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { HOSTILE, hostileAlert, itemOf, makeAlert, quietLogger, type RawRecorder, type RawRequest, startRawRecorder } from "./raw-recorder.js";

const FALCO_KEYS = ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "tags", "hostname"];
const TOKEN = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const HMAC_KEY = "whsec_0123456789abcdefSharedKey";

function webhookCfg(o: Record<string, unknown>): ForwarderOf<"webhook"> {
  return forwarderSchema.parse({ name: "siem", type: "webhook", ...o }) as ForwarderOf<"webhook">;
}

/** A receiver's check, written from the documented scheme: signature over `<t>.<raw body>`, 5-minute window. */
function verify(r: RawRequest, key: string, nowSec = Math.floor(Date.now() / 1000)): "ok" | "bad signature" | "stale" | "missing" {
  const ts = r.headers["x-vigil-timestamp"];
  const sig = r.headers["x-vigil-signature"];
  if (typeof ts !== "string" || typeof sig !== "string" || !sig.startsWith("sha256=")) return "missing";
  const want = createHmac("sha256", key)
    .update(Buffer.concat([Buffer.from(`${ts}.`), r.raw]))
    .digest();
  const got = Buffer.from(sig.slice(7), "hex");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return "bad signature";
  if (Math.abs(nowSec - Number(ts)) > 300) return "stale";
  return "ok";
}

let server: RawRecorder;
let dir: string;
const destinations: Destination[] = [];
beforeAll(async () => {
  server = await startRawRecorder();
  dir = mkdtempSync(join(tmpdir(), "vigil-webhook-"));
  writeFileSync(join(dir, "token"), `${TOKEN}\n`);
  writeFileSync(join(dir, "hmac"), `${HMAC_KEY}\n`);
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const d of destinations.splice(0)) await d.close?.();
  server.requests.length = 0;
  server.answer(() => ({ status: 200 }));
});

function make(o: Record<string, unknown> = {}): Destination {
  const d = createWebhookDestination(
    webhookCfg({
      url: `${server.url}/ingest/falco`,
      token_file: join(dir, "token"),
      hmac_key_file: join(dir, "hmac"),
      headers: { "X-Tenant": "blue", "X-Source": "vigil" },
      ...o,
    }),
    { logger: quietLogger() },
  );
  destinations.push(d);
  return d;
}
const signal = new AbortController().signal;

describe("webhook: single mode (Falco's http_output)", () => {
  it("posts each alert as Falco's JSON with the custom headers, a bearer token, an idempotency key and a verifiable signature", async () => {
    const d = make();
    expect(d.maxBatch).toBe(1);
    const a = makeAlert();
    const before = Math.floor(Date.now() / 1000);
    await expect(d.send([itemOf(a)], signal)).resolves.toBeUndefined();
    const r = server.requests[0]!;
    expect(r.method).toBe("POST");
    expect(r.url).toBe("/ingest/falco");
    expect(r.headers["content-type"]).toBe("application/json");
    expect(Object.keys(r.json as object)).toEqual(FALCO_KEYS);
    expect(r.json).toEqual(alertToFalcoJson(a));
    expect(r.raw.toString("utf8")).toBe(JSON.stringify(alertToFalcoJson(a)));
    expect(r.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
    expect(r.headers["idempotency-key"]).toBe(a.id);
    expect(r.headers["x-tenant"]).toBe("blue");
    expect(r.headers["x-source"]).toBe("vigil");
    expect(r.headers["user-agent"]).toBe("vigil-forwarder");
    const ts = Number(r.headers["x-vigil-timestamp"]);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(r.headers["x-vigil-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verify(r, HMAC_KEY)).toBe("ok");
  });

  it("signs the timestamp with the body: a changed body, timestamp or key fails, and an old request is stale", async () => {
    await make().send([itemOf(makeAlert())], signal);
    const r = server.requests[0]!;
    expect(verify({ ...r, raw: Buffer.from(r.raw.toString().replace("Critical", "Debug")) }, HMAC_KEY)).toBe("bad signature");
    const ts = Number(r.headers["x-vigil-timestamp"]);
    expect(verify({ ...r, headers: { ...r.headers, "x-vigil-timestamp": String(ts + 3600) } }, HMAC_KEY)).toBe("bad signature");
    expect(verify(r, "another key")).toBe("bad signature");
    expect(verify(r, HMAC_KEY, ts + 301)).toBe("stale");
    expect(verify({ ...r, headers: { ...r.headers, "x-vigil-signature": undefined } }, HMAC_KEY)).toBe("missing");
  });

  it("a resend carries the same idempotency key and uuid, so a receiver keeps one", async () => {
    const seen = new Set<string>();
    let stored = 0;
    server.answer((r) => {
      const key = r.headers["idempotency-key"] as string;
      if (!seen.has(key)) stored++;
      seen.add(key);
      return { status: 200 };
    });
    const d = make();
    const a = makeAlert();
    await d.send([itemOf(a)], signal);
    await d.send([itemOf(a)], signal);
    expect(server.requests.map((r) => (r.json as { uuid: string }).uuid)).toEqual([a.id, a.id]);
    expect(stored).toBe(1);
    // each attempt is signed anew
    for (const r of server.requests) expect(verify(r, HMAC_KEY)).toBe("ok");
  });

  it("adds `count` for grouped repeats and keeps `blocked`; hostile strings arrive byte for byte", async () => {
    const d = make({ signature_header: "X-Hub-Signature-256" });
    const h = hostileAlert();
    h.output += "\ud800 lone";
    await d.send([itemOf(makeAlert({ blocked: true }), 7)], signal);
    await d.send([itemOf(h)], signal);
    const g = server.requests[0]!.json as Record<string, unknown>;
    expect(g["count"]).toBe(7);
    expect(g["blocked"]).toBe(true);
    expect(server.requests[0]!.headers["x-hub-signature-256"]).toMatch(/^sha256=/);
    const back = server.requests[1]!.json as Record<string, unknown>;
    expect(back["count"]).toBeUndefined();
    expect(back["rule"]).toBe(h.rule);
    // JSON.stringify escapes a lone surrogate (\ud800), so even that comes back as sent
    expect(back["output"]).toBe(h.output);
    expect(server.requests[1]!.raw.toString("utf8")).toContain("\\ud800 lone");
    expect((back["output_fields"] as Alert["output_fields"])["k8s.pod.name"]).toBe(`pod ${HOSTILE.fence}`);
  });

  it("sends a 1 MiB output whole", async () => {
    const a = makeAlert({ output: "o".repeat(1 << 20) });
    await make().send([itemOf(a)], signal);
    expect((server.requests[0]!.json as { output: string }).output.length).toBe(1 << 20);
    expect(verify(server.requests[0]!, HMAC_KEY)).toBe("ok");
  });
});

describe("webhook: batch mode", () => {
  it("posts a JSON array of Falco alerts, batch_size at most, without an idempotency key", async () => {
    expect(make({ mode: "batch" }).maxBatch).toBe(DEFAULT_BATCH);
    const d = make({ mode: "batch", batch_size: 3 });
    expect(d.maxBatch).toBe(3);
    const alerts = [0, 1, 2].map((i) => makeAlert({ id: `a${i}`, rule: `rule ${i}` }));
    await d.send(
      alerts.map((a, i) => itemOf(a, i + 1)),
      signal,
    );
    expect(server.requests).toHaveLength(1);
    const r = server.requests[0]!;
    const body = r.json as Record<string, unknown>[];
    expect(body.map((x) => x["uuid"])).toEqual(["a0", "a1", "a2"]);
    expect(body[0]).toEqual(alertToFalcoJson(alerts[0]!));
    expect(body[2]).toEqual({ ...alertToFalcoJson(alerts[2]!), count: 3 });
    expect(r.headers["idempotency-key"]).toBeUndefined();
    expect(verify(r, HMAC_KEY)).toBe("ok");
  });

  it("splits a batch over 4 MiB into ordered requests; a later request's failure returns the rest as retryable", async () => {
    const items = Array.from({ length: 10 }, (_, i) => itemOf(makeAlert({ id: `big${i}`, output: String(i).repeat(1 << 20) })));
    const d = make({ mode: "batch", batch_size: 10 });
    await d.send(items, signal);
    expect(server.requests.map((r) => (r.json as { uuid: string }[]).map((x) => x.uuid))).toEqual([
      ["big0", "big1", "big2"],
      ["big3", "big4", "big5"],
      ["big6", "big7", "big8"],
      ["big9"],
    ]);
    for (const r of server.requests) {
      expect(r.raw.length).toBeLessThanOrEqual(4 * 1024 * 1024);
      expect(verify(r, HMAC_KEY)).toBe("ok");
    }
    server.requests.length = 0;
    let n = 0;
    server.answer(() => (++n === 2 ? { status: 503, body: "busy" } : { status: 200 }));
    const out = await d.send(items, signal);
    expect(out?.failed.map((f) => f.index)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(out?.failed.every((f) => !f.permanent && f.error === "HTTP 503: busy")).toBe(true);
    expect(server.requests).toHaveLength(2);
  });
});

describe("webhook: answers", () => {
  const cases: { name: string; status: number; body?: string; retryAfterDate?: boolean; permanent?: boolean; retryAfterMs?: [number, number] }[] = [
    { name: "204 is delivered", status: 204 },
    { name: "202 is delivered", status: 202 },
    {
      name: "429 with a Retry-After date is retryable after about that wait",
      status: 429,
      retryAfterDate: true,
      permanent: false,
      retryAfterMs: [8000, 10_000],
    },
    { name: "503 is retryable", status: 503, body: "down", permanent: false },
    { name: "400 is refused for good", status: 400, body: "bad alert", permanent: true },
    { name: "422 is refused for good", status: 422, body: "unprocessable", permanent: true },
    { name: "401 (a wrong token) is retried, not dead-lettered", status: 401, body: "who are you", permanent: false },
  ];
  for (const c of cases)
    it(c.name, async () => {
      server.answer(() => ({
        status: c.status,
        body: c.body ?? "",
        ...(c.retryAfterDate === true ? { headers: { "retry-after": new Date(Date.now() + 10_000).toUTCString() } } : {}),
      }));
      const res = await make()
        .send([itemOf(makeAlert())], signal)
        .then(
          (v) => ({ v }),
          (e: unknown) => ({ e }),
        );
      if (c.permanent === undefined) {
        expect(res).toEqual({ v: undefined });
        return;
      }
      const e = (res as { e: DeliveryError }).e;
      expect(e).toBeInstanceOf(DeliveryError);
      expect(e.permanent).toBe(c.permanent);
      expect(e.status).toBe(c.status);
      if (c.retryAfterMs !== undefined) {
        expect(e.retryAfterMs).toBeGreaterThanOrEqual(c.retryAfterMs[0]);
        expect(e.retryAfterMs).toBeLessThanOrEqual(c.retryAfterMs[1]);
      } else expect(e.retryAfterMs).toBeUndefined();
    });
});

describe("webhook: secrets and configuration", () => {
  it("keeps the token and HMAC key out of errors, even when the server echoes them or cuts its echo inside one", async () => {
    server.answer((r) => ({
      status: 400,
      body: `rejected: authorization=${String(r.headers["authorization"])} sig=${String(r.headers["x-vigil-signature"])} key=${HMAC_KEY}`,
    }));
    const e1 = (await make()
      .send([itemOf(makeAlert())], signal)
      .catch((x: unknown) => x)) as DeliveryError;
    expect(e1.permanent).toBe(true);
    expect(e1.message).toContain("rejected");
    expect(e1.message).not.toContain(TOKEN);
    expect(e1.message).not.toContain(HMAC_KEY);
    // the client keeps 300 characters of a refusal: make the cut fall inside the token
    server.answer(() => ({ status: 400, body: `${"x".repeat(290)}${TOKEN}` }));
    const e2 = (await make()
      .send([itemOf(makeAlert())], signal)
      .catch((x: unknown) => x)) as DeliveryError;
    expect(e2.message).not.toContain(TOKEN.slice(0, 10));
    expect(e2.message).toContain("[redacted]");
  });

  it("re-reads the token and HMAC key on each send", async () => {
    const tok = join(dir, "token-rot");
    const key = join(dir, "hmac-rot");
    writeFileSync(tok, "first-token-value\n");
    writeFileSync(key, "first-hmac-key\n");
    const d = make({ token_file: tok, hmac_key_file: key });
    await d.send([itemOf(makeAlert())], signal);
    writeFileSync(tok, "second-token-value\n");
    writeFileSync(key, "second-hmac-key\n");
    await d.send([itemOf(makeAlert())], signal);
    expect(server.requests.map((r) => r.headers["authorization"])).toEqual(["Bearer first-token-value", "Bearer second-token-value"]);
    expect(verify(server.requests[0]!, "first-hmac-key")).toBe("ok");
    expect(verify(server.requests[1]!, "second-hmac-key")).toBe("ok");
  });

  it("sends no Authorization or signature without token_* and hmac_key_*", async () => {
    await make({ token_file: "", hmac_key_file: "", headers: {} }).send([itemOf(makeAlert())], signal);
    const r = server.requests[0]!;
    expect(r.headers["authorization"]).toBeUndefined();
    expect(r.headers["x-vigil-signature"]).toBeUndefined();
    expect(r.headers["x-vigil-timestamp"]).toMatch(/^\d+$/);
  });

  it("refuses headers it sets itself, header values that would split a request, and bad secrets, naming the setting", () => {
    for (const h of ["Authorization", "content-type", "Content-Length", "Idempotency-Key", "X-Vigil-Timestamp", "X-Vigil-Signature", "Host"])
      expect(() => make({ headers: { [h]: "x" } })).toThrow(/is set by the forwarder/);
    expect(() => make({ headers: { "X-Evil": "a\r\nX-Injected: 1" } })).toThrow(
      "webhook: headers.X-Evil has a character not allowed in a header (printable ASCII only)",
    );
    expect(() => make({ signature_header: "Content-Type" })).toThrow(/signature_header/);
    const spaced = join(dir, "spaced-token");
    writeFileSync(spaced, "has a space\n");
    expect(() => make({ token_file: spaced })).toThrow("token: must be printable ASCII without spaces");
    expect(() => make({ hmac_key_file: join(dir, "nope") })).toThrow(/^hmac_key_file .*nope: ENOENT$/);
    expect(() => make({ url: "" })).toThrow("webhook: set url, url_file or url_env");
  });

  it("verifies an HTTPS receiver with the tls.ca_file CA, and refuses it without", async () => {
    const tlsDir = join(dir, "tls");
    const t = makeTestTls(tlsDir, ["localhost"]);
    const secure = await startRawRecorder({ cert: t["tls.crt"], key: t["tls.key"] });
    secure.answer(() => ({ status: 200 }));
    try {
      const ok = make({ url: `${secure.url}/ingest`, tls: { ca_file: join(tlsDir, "ca.crt") } });
      await ok.send([itemOf(makeAlert())], signal);
      expect(secure.requests).toHaveLength(1);
      expect(verify(secure.requests[0]!, HMAC_KEY)).toBe("ok");
      const untrusted = make({ url: `${secure.url}/ingest` });
      const e = (await untrusted.send([itemOf(makeAlert())], signal).catch((x: unknown) => x)) as DeliveryError;
      expect(e).toBeInstanceOf(DeliveryError);
      expect(e.permanent).toBe(false);
      expect(e.message).not.toContain(TOKEN);
      expect(secure.requests).toHaveLength(1);
    } finally {
      await secure.close();
    }
  });
});
