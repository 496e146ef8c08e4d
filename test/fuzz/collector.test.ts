// SPDX-License-Identifier: Apache-2.0
/**
 * Property-based fuzzing of every surface of a real collector (in this process, on loopback):
 * HTTP routes with random methods, paths, percent-escapes, query parameters, headers and bodies;
 * raw bytes on the public port; WebSocket upgrades and frames; gRPC PushRequests (valid, mutated,
 * random). The properties: every request gets an answer (never a 500, never a hang), a gRPC call
 * ends with one of the statuses the protocol documents, and /healthz keeps answering. An uncaught
 * throw in a handler would fail the run, as it would kill a real collector.
 */
import { connect as netConnect } from "node:net";
import { Agent, request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Metadata, makeGenericClientConstructor, status, credentials, type Client, type ServiceError } from "@grpc/grpc-js";
import WebSocket from "ws";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { fuzzRuns, fuzzSeed, fuzzTimeoutMs } from "./runs.js";
import { alertToJson, alertToProto, INGEST_SERVICE, vigilProto } from "../../proto/index.js";

const TOKEN = "fuzz-token-0123456789";

let col: RunningCollector;
let host: string;
let port: number;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  col = await startCollector({
    listen: "127.0.0.1:0",
    dataDir: tempDir("vigil-fuzz-"),
    token: TOKEN,
    logger: quiet(),
    // the fuzzer fails auth on purpose most of the time: the rate limit would only answer 429
    limits: { auth_failures_per_minute: 1_000_000, request_timeout_ms: 5_000 },
  });
  const i = col.address.lastIndexOf(":");
  host = col.address.slice(0, i);
  port = Number(col.address.slice(i + 1));
  // something to query, capture and resume after
  col.ingest(Array.from({ length: 20 }, () => makeAlert()));
});
afterAll(async () => {
  agent.destroy();
  await col.close();
});

const report = (target: string, runs: number) => {
  if (process.env["FUZZ_RUNS"]) console.log(`FUZZ ${target} cases=${runs} failures=0`);
};
const params = (runs: number) => {
  const seed = fuzzSeed();
  return { numRuns: runs, ...(seed !== undefined ? { seed } : {}), endOnFailure: true };
};

// ------------------------------------------------------------------ value generators

/** Strings an attacker would try: huge, control characters, escapes, globs, unicode, numbers. */
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    "*",
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab",
    "%",
    "%E0%A4%A",
    "%ZZ",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "../../etc/passwd",
    "2024-02-30",
    "2024-02-30T00:00:00Z",
    "9999999999999d",
    "1e308",
    "-1",
    "NaN",
    "Infinity",
    "0x10",
    "1970-01-01T00:00:00Z",
    "99999-01-01T00:00:00Z",
    "2026-01-01T00:00:00.1234567890Z",
    "15m",
    "7d",
    "[",
    "\\",
    "'; DROP TABLE alerts; --",
    "\u0000",
    "\u001f",
    "\ud800",
    "emergency",
    "WARNING",
  ),
  fc.integer().map(String),
  fc.nat({ max: 40 }).map((n) => "a*".repeat(n) + "b"),
  fc.nat({ max: 5000 }).map((n) => "x".repeat(n)),
);

const QUERY_KEYS = [
  "since",
  "until",
  "rule",
  "priority",
  "tag",
  "node",
  "namespace",
  "pod",
  "container",
  "image",
  "limit",
  "after",
  "after_seq",
  "token",
  "cursor",
  "format",
];
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 10 })), hostile), { maxLength: 6 }).map((kv) => {
  const p = new URLSearchParams();
  for (const [k, v] of kv) p.append(k, v);
  return p.toString();
});

const rawEscapes = fc
  .array(fc.oneof(fc.constantFrom("%", "%E0", "%A4%A", "%C0%AF", "%2F", "%25", "%00", "/", "."), fc.stringMatching(/^[A-Za-z0-9._~-]{0,8}$/)), { maxLength: 6 })
  .map((a) => a.join(""));
const PATHS = [
  "/",
  "/healthz",
  "/metrics",
  "/api/v1/alerts",
  "/api/v1/stats",
  "/api/v1/falco",
  "/api/v1/captures/",
  "/api/v1/tail",
  "/api/v1/",
  "/api/v2/alerts",
  "//",
  "/healthz/",
  "/api/v1/alerts/",
];
const path = fc
  .tuple(fc.constantFrom(...PATHS), rawEscapes, fc.option(query, { nil: undefined }))
  .map(([p, e, q]) => `${p}${e}${q !== undefined ? `?${q}` : ""}`);

const METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "PROPFIND", "CONNECTX"];

const falcoBody = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.constant(JSON.stringify(alertToJson(makeAlert()))),
  fc
    .record({
      uuid: fc.oneof(fc.uuid(), hostile),
      output: hostile,
      priority: fc.oneof(fc.constantFrom("Warning", "Critical", "Debug", "info"), hostile),
      rule: hostile,
      time: fc.oneof(fc.constant(new Date().toISOString()), hostile),
      output_fields: fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }),
      tags: fc.array(fc.oneof(hostile, fc.integer()), { maxLength: 4 }),
      hostname: fc.option(hostile, { nil: undefined }),
      source: fc.option(hostile, { nil: undefined }),
    })
    .map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);

const auth = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${TOKEN}`), weight: 8 },
  fc.constant(`bearer   ${TOKEN}`),
  fc.constant(undefined),
  fc.constant("Bearer "),
  fc.constant(`Basic ${Buffer.from(`u:${TOKEN}`).toString("base64")}`),
  fc.stringMatching(/^[\x21-\x7e ]{0,64}$/),
  fc.nat({ max: 10_000 }).map((n) => `Bearer ${"t".repeat(n)}`),
);

// ------------------------------------------------------------------ helpers

interface Answer {
  status: number;
  bytes: number;
}

function send(method: string, p: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path: p, headers, agent, timeout: 10_000 }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer in 10 s: ${method} ${p.slice(0, 200)}`)));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * The collector is alive and its event loop turns. Latency under attack is the load tests' business
 * (test/load, on a quiet machine); here a generous bound only catches a frozen loop, since the fuzzer
 * shares two cores with whatever else runs.
 */
async function healthy(): Promise<void> {
  const t0 = performance.now();
  const r = await send("GET", "/healthz", {}, undefined);
  expect(r.status).toBe(200);
  expect(performance.now() - t0).toBeLessThan(5000);
}

/** Raw bytes on the public port: resolves when the server answered or closed (rejects on a hang). */
function rawExchange(data: Buffer, ms = 12_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, host);
    let got = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection neither answered nor closed in ${ms} ms after ${data.length} bytes`));
    }, ms);
    s.on("data", (c: Buffer) => {
      if (got.length < 64) got += c.toString("latin1");
      // an answer is enough; close our side
      if (got.startsWith("HTTP/1.1 ") || got.length > 0) s.destroy();
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.write(data);
    s.end();
  });
}

// ------------------------------------------------------------------ targets

describe("fuzz: collector HTTP routes", () => {
  it(
    "every request is answered (never 500, never a hang) and /healthz keeps answering",
    async () => {
      const runs = fuzzRuns(1000, 0.4);
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ arbitrary: fc.constant("GET"), weight: 6 }, { arbitrary: fc.constant("POST"), weight: 3 }, fc.constantFrom(...METHODS)),
          path,
          auth,
          fc.constantFrom(undefined, "gzip", "deflate", "identity", "br", "GZIP", "x".repeat(100)),
          fc.constantFrom(undefined, "application/json", "text/plain", "application/x-ndjson"),
          falcoBody,
          fc.boolean(),
          async (method, p, authz, enc, ctype, body, compress) => {
            const headers: Record<string, string> = {};
            if (authz !== undefined) headers["authorization"] = authz;
            if (ctype !== undefined) headers["content-type"] = ctype;
            let buf = body === undefined ? undefined : Buffer.from(body);
            if (buf !== undefined && compress) {
              buf = gzipSync(buf);
              headers["content-encoding"] = "gzip";
            } else if (enc !== undefined) headers["content-encoding"] = enc;
            // node's client sends a GET's body without framing unless told its length; the server
            // then rightly reads that body as the start of the next request on the connection
            if (buf !== undefined) headers["content-length"] = String(buf.length);
            const r = await send(method, p, headers, buf);
            expect(r.status, `${method} ${p.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
            expect(r.status, `${method} ${p.slice(0, 300)}`).toBeLessThan(600);
            expect(r.status, `${method} ${p.slice(0, 300)} answered 500`).not.toBe(500);
            if (++n % 100 === 0) await healthy();
          },
        ),
        params(runs),
      );
      await healthy();
      report("collector-http", runs);
    },
    fuzzTimeoutMs(120_000),
  );

  it(
    "raw bytes on the public port are answered or closed, never left hanging, never fatal",
    async () => {
      const runs = fuzzRuns(100, 0.01);
      const requestish = fc
        .tuple(
          fc.constantFrom("GET", "POST", "PRI", "G", "", "\x16\x03\x01", "\x00"),
          fc.string({ unit: "binary", maxLength: 60 }),
          fc.constantFrom(" / HTTP/1.1\r\n", " * HTTP/2.0\r\n\r\nSM\r\n\r\n", " /api/v1/alerts HTTP/1.0\r\n", "\r\n", ""),
          fc.array(fc.tuple(fc.string({ unit: "binary", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 60 })), { maxLength: 5 }),
          fc.uint8Array({ maxLength: 300 }),
        )
        .map(([m, junk, line, hdrs, tail]) =>
          Buffer.concat([
            Buffer.from(`${m}${junk}${line}`, "latin1"),
            Buffer.from(hdrs.map(([k, v]) => `${k}: ${v}\r\n`).join(""), "latin1"),
            Buffer.from("\r\n"),
            Buffer.from(tail),
          ]),
        );
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            requestish,
            fc.uint8Array({ maxLength: 2000 }).map((u) => Buffer.from(u)),
          ),
          async (data) => {
            await rawExchange(data);
          },
        ),
        params(runs),
      );
      await healthy();
      report("collector-raw", runs);
    },
    fuzzTimeoutMs(120_000),
  );
});

describe("fuzz: collector WebSocket tail", () => {
  it(
    "upgrades with random parameters and random client frames never crash the collector",
    async () => {
      const runs = fuzzRuns(200, 0.05);
      const frames = fc.array(
        fc.oneof(
          fc.string({ maxLength: 200 }).map((s) => ({ kind: "text" as const, data: Buffer.from(s) })),
          fc.uint8Array({ maxLength: 300 }).map((u) => ({ kind: "binary" as const, data: Buffer.from(u) })),
          fc.constant({ kind: "big" as const, data: Buffer.alloc(70 * 1024, 0x61) }),
          fc.constant({ kind: "ping" as const, data: Buffer.from("p") }),
        ),
        { maxLength: 4 },
      );
      await fc.assert(
        fc.asyncProperty(query, auth, fc.constantFrom(undefined, "vigil.v1", "x", `vigil.bearer.${TOKEN}`), frames, async (q, authz, proto, fr) => {
          const headers: Record<string, string> = {};
          if (authz !== undefined) headers["authorization"] = authz;
          await new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(`ws://${host}:${port}/api/v1/tail?${q}`, proto !== undefined ? [proto] : [], { headers, handshakeTimeout: 10_000 });
            const done = () => {
              clearTimeout(timer);
              resolve();
            };
            const timer = setTimeout(() => {
              ws.terminate();
              reject(new Error(`tail neither opened nor was refused in 10 s: ${q.slice(0, 200)}`));
            }, 10_000);
            ws.on("unexpected-response", (_req, res) => {
              const code = res.statusCode ?? 0;
              res.resume();
              ws.terminate();
              if (code < 400 || code >= 500) reject(new Error(`tail upgrade answered ${code}`));
              else done();
            });
            ws.on("error", () => undefined);
            ws.on("close", done);
            ws.on("open", () => {
              for (const f of fr) {
                if (f.kind === "ping") ws.ping(f.data);
                else ws.send(f.data, { binary: f.kind !== "text" });
              }
              setTimeout(() => ws.close(), 5);
            });
          });
        }),
        params(runs),
      );
      await healthy();
      report("collector-ws", runs);
    },
    fuzzTimeoutMs(120_000),
  );
});

describe("fuzz: collector gRPC ingest", () => {
  let client: Client & { Push?: unknown };
  beforeAll(() => {
    const Ctor = makeGenericClientConstructor(INGEST_SERVICE, "Ingest");
    client = new Ctor(`${host}:${port}`, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024 });
  });
  afterAll(() => client.close());

  const push = (body: Buffer, token: string | undefined): Promise<{ code: number; resp?: Buffer }> =>
    new Promise((resolve) => {
      const md = new Metadata();
      if (token !== undefined) md.set("authorization", token);
      (client as unknown as { Push: (b: Buffer, m: Metadata, o: object, cb: (e: ServiceError | null, r?: Buffer) => void) => void }).Push(
        body,
        md,
        { deadline: Date.now() + 15_000 },
        (err, resp) => resolve(err ? { code: err.code } : { code: status.OK, ...(resp ? { resp } : {}) }),
      );
    });

  it(
    "valid, mutated and random PushRequests end with a documented status, and acks add up",
    async () => {
      const runs = fuzzRuns(600, 0.3);
      const { PushRequest, PushResponse } = vigilProto();
      const alertish = fc.record({
        id: fc.oneof(fc.uuid(), hostile),
        rule: fc.oneof(fc.constant("Fuzz rule"), hostile),
        priority: fc.oneof(fc.constantFrom("Warning", "Critical"), hostile),
        time: fc.oneof(fc.constant(new Date().toISOString()), hostile),
        field: hostile,
      });
      const request = fc.oneof(
        // structurally valid protobuf with random content
        fc
          .tuple(fc.array(alertish, { maxLength: 5 }), fc.array(fc.tuple(fc.oneof(fc.uuid(), hostile), fc.uint8Array({ maxLength: 200 })), { maxLength: 3 }))
          .map(([as, caps]) => {
            const alerts = as.map((x) => {
              const a = makeAlert({ fields: { "fuzz.field": x.field } });
              return { ...alertToProto(a), id: x.id, rule: x.rule, priority: x.priority, time: x.time };
            });
            const captures = caps.map(([id, data]) => ({ alert_id: id, data, event_count: 1, container_id: "c" }));
            return { body: Buffer.from(PushRequest.encode({ alerts, captures }).finish()), alerts: alerts.length };
          }),
        // a valid request with bytes flipped or cut
        fc.tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.boolean()).map(([cut, flips, doCut]) => {
          const b = Buffer.from(PushRequest.encode({ alerts: [alertToProto(makeAlert()), alertToProto(makeAlert())] }).finish());
          for (const [i, v] of flips) b[i % b.length] = v;
          return { body: doCut ? b.subarray(0, cut % (b.length + 1)) : b, alerts: -1 };
        }),
        fc.uint8Array({ maxLength: 1000 }).map((u) => ({ body: Buffer.from(u), alerts: -1 })),
      );
      const OK_CODES = new Set([status.OK, status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.RESOURCE_EXHAUSTED]);
      let n = 0;
      await fc.assert(
        fc.asyncProperty(request, fc.oneof(fc.constant(`Bearer ${TOKEN}`), fc.constant(`Bearer ${TOKEN}`), auth), async (req, token) => {
          const r = await push(req.body, token);
          expect(OK_CODES.has(r.code), `gRPC status ${r.code}`).toBe(true);
          if (r.code === status.OK && req.alerts >= 0) {
            const resp = PushResponse.toObject(PushResponse.decode(r.resp ?? Buffer.alloc(0)), { arrays: true }) as {
              acked_ids: string[];
              rejected: unknown[];
            };
            // every alert is either acknowledged or rejected with a reason (captures may add rejections)
            expect(resp.acked_ids.length).toBeLessThanOrEqual(req.alerts);
            expect(resp.acked_ids.length + resp.rejected.length).toBeGreaterThanOrEqual(req.alerts);
          }
          if (++n % 100 === 0) await healthy();
        }),
        params(runs),
      );
      await healthy();
      report("collector-grpc", runs);
    },
    fuzzTimeoutMs(120_000),
  );
});
