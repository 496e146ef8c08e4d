// SPDX-License-Identifier: Apache-2.0
/**
 * Fuzz target: random methods, paths, headers and bodies sent raw to the real metrics endpoint
 * (HTTP) and the real admission webhook (HTTPS, a throwaway certificate). Invariant: every request
 * gets an HTTP answer with a status below 600 or a clean close, within the request timeout, and
 * /healthz keeps answering.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import fc from "fast-check";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookServer, type WebhookServer } from "../../agent/inject/webhook.js";
import { Metrics, startMetricsServer, type MetricsServer } from "../../agent/metrics/index.js";
import { fuzzRuns, fuzzSeed, fuzzTimeoutMs } from "./runs.js";
import { writeLocalhostCert } from "../inject/localhost-cert.js";

const logger = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "vigil-fuzz-srv-"));
let cert = "";
let metricsSrv: MetricsServer;
let webhook: WebhookServer;
const limits = { headers_timeout_ms: 1000, request_timeout_ms: 2000 };

beforeAll(async () => {
  writeLocalhostCert(dir);
  cert = readFileSync(join(dir, "cert.pem"), "utf8");
  const m = new Metrics({ cgroups: false });
  metricsSrv = await startMetricsServer({ port: 0, host: "127.0.0.1", logger, ready: () => true, metrics: m, limits: { ...limits, max_connections: 1024 } });
  webhook = await startWebhookServer({
    port: 0,
    host: "127.0.0.1",
    cert,
    key: readFileSync(join(dir, "key.pem")),
    logger,
    inject: { image: "ghcr.io/vigil-security/vigil:0.1.0" },
    metrics: m,
    limits: { ...limits, max_body_bytes: 64 * 1024, max_connections: 1024 },
  });
});
afterAll(async () => {
  await metricsSrv?.close();
  await webhook?.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const text = fc.string({ unit: "binary", maxLength: 80 });
const request = fc.record({
  method: fc.oneof(fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PRI", "CONNECT"), token, text),
  path: fc.oneof(fc.constantFrom("/healthz", "/readyz", "/metrics", "/mutate", "*", "/../../etc/passwd", "/%E0%A4%A"), fc.webPath(), text),
  version: fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9.9", ""),
  headers: fc.array(
    fc.tuple(
      fc.oneof(token, fc.constantFrom("content-length", "content-type", "transfer-encoding", "expect", "connection")),
      fc.oneof(text, fc.constantFrom("application/json", "chunked", "100-continue", "-1", "99999999999", "0", "close")),
    ),
    { maxLength: 6 },
  ),
  body: fc.oneof(text, fc.json(), fc.constant(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u-1" } }))),
});
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function wire(r: Req): string {
  const head = `${r.method} ${r.path} ${r.version}`.trimEnd();
  return `${head}\r\nhost: x\r\n${r.headers.map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n${r.body}`;
}

/** Sends `data` and resolves with the status line's code, 0 for a clean close without an answer. */
function send(tls: boolean, port: number, data: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let reply = "";
    const s = tls
      ? tlsConnect({ host: "127.0.0.1", port, ca: cert, servername: "localhost" }, () => s.end(data, "latin1"))
      : netConnect(port, "127.0.0.1", () => s.end(data, "latin1"));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer nor close within 5 s to ${JSON.stringify(data.slice(0, 200))}`));
    }, 5000);
    s.on("data", (d: Buffer) => {
      reply += d.toString("latin1");
      if (reply.length >= 12) s.destroy();
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
      resolve(m ? Number(m[1]) : reply === "" ? 0 : -1);
    });
  });
}

async function healthz(tls: boolean, port: number): Promise<number> {
  return send(tls, port, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
}

describe.each([
  ["metrics", false],
  ["webhook", true],
] as const)("fuzz: %s server", (name, tls) => {
  it(
    "answers every request below 600 or closes cleanly, and /healthz keeps answering",
    async () => {
      const port = () => (tls ? webhook.port : metricsSrv.port);
      let n = 0;
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          n++;
          const code = await send(tls, port(), wire(r));
          expect(code === 0 || (code >= 100 && code < 600)).toBe(true);
          if (n % 25 === 0) expect(await healthz(tls, port())).toBe(200);
        }),
        { numRuns: fuzzRuns(150, 0.05), seed: fuzzSeed() },
      );
      expect(await healthz(tls, port())).toBe(200);
      if (process.env["FUZZ_RUNS"]) console.log(`FUZZ agent-servers-${name} cases=${n} failures=0`);
    },
    fuzzTimeoutMs(120_000),
  );
});
