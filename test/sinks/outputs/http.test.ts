// SPDX-License-Identifier: Apache-2.0
/**
 * http_output against real servers: an HTTPS server that requires a client certificate (mutual
 * TLS, certificates made with openssl), bodies checked on the server side (gzip, JSON, text,
 * headers); a receiver that is dead for {@link OUTAGE_MS} (the issue asks for a minute; shortened
 * here so the suite stays quick, the behaviour does not depend on the length) while a file output
 * goes on, the queued alerts delivered when it returns, and with a small queue the overflow
 * counted as dropped.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { httpSinkSchema } from "../../../agent/config/outputs-schema.js";
import { falcoTextLine } from "../../../agent/sinks/outputs/falco-format.js";
import { HttpOutput } from "../../../agent/sinks/outputs/http-output.js";
import { createFalcoOutputs, falcoOutputStats } from "../../../agent/sinks/outputs/index.js";
import type { QueuedOutput } from "../../../agent/sinks/outputs/queued-output.js";
import { captureLogger } from "../../helpers/capture-logger.js";
import { waitFor } from "../../collector/helpers.js";
import { freePort } from "../../helpers/nats.js";
import { alert, makePki, outputConfig, quiet, tempDir } from "./helpers.js";

/** How long the HTTP receiver stays dead in the outage test. */
const OUTAGE_MS = 5000;

interface Req {
  headers: IncomingMessage["headers"];
  body: Buffer;
  clientCn?: string;
}

type Handler = (r: Req, res: ServerResponse) => void;

function collect(handler: Handler, got: Req[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const sock = req.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } };
      const r: Req = { headers: req.headers, body: Buffer.concat(chunks) };
      const cn = sock.getPeerCertificate?.()?.subject?.CN;
      if (cn !== undefined) r.clientCn = cn;
      got.push(r);
      handler(r, res);
    });
  };
}

const ok: Handler = (_r, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end('{"ok":true}');
};

function listen(s: Server, port = 0): Promise<number> {
  return new Promise((resolve) => s.listen(port, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
}

const servers: Server[] = [];
const outputs: QueuedOutput[] = [];
afterEach(async () => {
  await Promise.all(outputs.splice(0).map((o) => o.shutdown()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections?.();
    s.close();
  }
});

const http = (o: Partial<ReturnType<typeof httpSinkSchema.parse>>) => httpSinkSchema.parse({ enabled: true, ...o });

describe("http_output", () => {
  it("POSTs Falco's JSON over mutual TLS, gzipped, with its headers; the server verifies the client certificate", async () => {
    const pki = makePki(join(tempDir(), "pki"));
    const got: Req[] = [];
    const srv = createHttpsServer(
      { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true },
      collect(ok, got),
    );
    servers.push(srv);
    const port = await listen(srv);
    const cap = captureLogger("debug");
    const out = new HttpOutput(
      http({
        url: `https://127.0.0.1:${port}/falco?key=secret-in-query`,
        ca_cert: pki.ca,
        mtls: true,
        client_cert: pki.clientCert,
        client_key: pki.clientKey,
        compress_uploads: true,
        user_agent: "falcosecurity/falco",
        headers: { Authorization: "Bearer sup3r-s3cret" },
      }),
      outputConfig({ json: true }),
      cap.logger,
    );
    outputs.push(out);
    const a = alert("over mTLS");
    await out.export([a]);
    await waitFor(() => out.stats().sent === 1, 10_000, "sent");
    const r = got[0] as Req;
    expect(r.clientCn).toBe("vigil-client");
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers["user-agent"]).toBe("falcosecurity/falco");
    expect(r.headers["authorization"]).toBe("Bearer sup3r-s3cret");
    const body = JSON.parse(gunzipSync(r.body).toString("utf8")) as Record<string, unknown>;
    // Falco's keys (falco-compat.md §1.9) plus uuid, which falcosidekick reads
    expect(Object.keys(body)).toEqual(["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time", "uuid"]);
    expect(body).toMatchObject({ hostname: a.hostname, priority: a.priority, rule: a.rule, source: a.source, time: a.time, uuid: a.id });
    // no secret in the logs, whatever happened
    expect(JSON.stringify(cap.lines)).not.toMatch(/sup3r|secret-in-query/);

    // without the client certificate the server refuses the handshake: retried, never sent
    const noCert = new HttpOutput(
      http({ url: `https://127.0.0.1:${port}/`, ca_cert: pki.ca, retry_min_ms: 50, retry_max_ms: 100 }),
      outputConfig({ json: true }),
      quiet(),
    );
    outputs.push(noCert);
    await noCert.export([alert("refused")]);
    await waitFor(() => noCert.stats().retried >= 2, 10_000, "retries");
    expect(noCert.stats().sent).toBe(0);
    expect(got).toHaveLength(1);
  });

  it("sends the text line as text/plain without output.json; a 4xx fails the alert, a 5xx or 429 is retried (Retry-After)", async () => {
    const got: Req[] = [];
    let answers = [503, 429, 200, 400];
    const srv = createHttpServer(
      collect((_r, res) => {
        const status = answers.shift() ?? 200;
        res.writeHead(status, status === 429 ? { "retry-after": "1" } : {});
        res.end();
      }, got),
    );
    servers.push(srv);
    const port = await listen(srv);
    const out = new HttpOutput(http({ url: `http://127.0.0.1:${port}/`, retry_min_ms: 20, retry_max_ms: 2000 }), outputConfig(), quiet());
    outputs.push(out);
    const a = alert("as text");
    const t0 = Date.now();
    await out.export([a, alert("refused by 400")]);
    await waitFor(() => out.stats().sent + out.stats().failed === 2, 10_000, "both settled");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // Retry-After: 1
    expect(out.stats()).toMatchObject({ sent: 1, failed: 1, retried: 2 });
    expect(got[0]?.headers["content-type"]).toBe("text/plain");
    expect(got[0]?.body.toString("utf8")).toBe(falcoTextLine(a, outputConfig()));
    answers = [];
  });

  it("gives an alert up after max_consecutive_timeouts timeouts in a row", async () => {
    const srv = createHttpServer(() => undefined); // never answers
    servers.push(srv);
    const port = await listen(srv);
    const out = new HttpOutput(
      http({ url: `http://127.0.0.1:${port}/`, max_consecutive_timeouts: 3, retry_min_ms: 10, retry_max_ms: 20 }),
      outputConfig({ timeout_ms: 100 }),
      quiet(),
    );
    outputs.push(out);
    await out.export([alert("slow")]);
    await waitFor(() => out.stats().failed === 1, 10_000, "given up");
    expect(out.stats().retried).toBe(2);
  });

  it(`a receiver dead for ${OUTAGE_MS} ms: the file output is unaffected, the queued alerts arrive when it returns, the overflow is dropped and counted`, async () => {
    const d = tempDir();
    const file = join(d, "events.txt");
    const got: Req[] = [];
    // nothing listens there: the receiver is dead from the start
    const port = await freePort();
    const sinks = {
      file: { enabled: true, filename: file, keep_alive: false },
      http: http({ url: `http://127.0.0.1:${port}/`, retry_min_ms: 100, retry_max_ms: 1000 }),
    };
    const outs = createFalcoOutputs({ output: outputConfig({ json: true, queue_capacity: 20 }), sinks }, quiet());
    outputs.push(...outs);
    const t0 = Date.now();
    const alerts = Array.from({ length: 30 }, (_, i) => alert(`alert ${i}`));
    for (const a of alerts.slice(0, 10)) for (const o of outs) await o.export([a]);
    // the file output writes at once while the receiver is dead
    await waitFor(() => existsSync(file) && readFileSync(file, "utf8").split("\n").length - 1 === 10, 5000, "10 lines in the file");
    expect(Date.now() - t0).toBeLessThan(OUTAGE_MS / 2);
    for (const a of alerts.slice(10)) for (const o of outs) await o.export([a]);
    await waitFor(() => falcoOutputStats(outs)["file_output"]?.sent === 30, 5000, "30 lines in the file");
    const stats = falcoOutputStats(outs);
    expect(stats["file_output"]).toMatchObject({ sent: 30, dropped: 0, failed: 0 });
    // 30 alerts, at most 20 waiting plus the one being retried: the oldest 9 waiting are dropped
    expect(stats["http_output"]?.dropped).toBe(9);
    expect(stats["http_output"]?.queued).toBe(21);
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - t0)));
    expect(got).toHaveLength(0);
    // the receiver returns on the same port
    const srv = createHttpServer(collect(ok, got));
    servers.push(srv);
    await listen(srv, port);
    await waitFor(() => got.length === 21, 10_000, "the queued alerts delivered");
    const outputsGot = got.map((r) => (JSON.parse(r.body.toString("utf8")) as { output: string }).output.split(" ").slice(2).join(" "));
    // the first (in delivery when the queue overflowed), then the newest 20, in order
    expect(outputsGot).toEqual(["alert 0", ...alerts.slice(10).map((_, i) => `alert ${i + 10}`)]);
    const http_ = falcoOutputStats(outs)["http_output"];
    expect(http_).toMatchObject({ sent: 21, dropped: 9, failed: 0, queued: 0 });
    expect(http_?.retried).toBeGreaterThan(0);
  }, 30_000);

  it("verifies the server with ca_path or a ca_bundle, skips it with insecure, reuses connections with keep_alive, echoes answers", async () => {
    const dir = tempDir();
    const pki = makePki(join(dir, "pki"));
    const caDir = join(dir, "cas");
    mkdirSync(caDir);
    copyFileSync(pki.ca, join(caDir, "test-ca.pem"));
    const got: Req[] = [];
    const sockets = new Set<unknown>();
    const srv = createHttpsServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, collect(ok, got));
    srv.on("secureConnection", (s) => sockets.add(s));
    servers.push(srv);
    const port = await listen(srv);
    const url = `https://127.0.0.1:${port}/`;
    const echoed: string[] = [];
    const echo = new Writable({
      write(c: Buffer, _e, cb) {
        echoed.push(c.toString("utf8"));
        cb();
      },
    });
    const viaPath = new HttpOutput(http({ url, ca_path: caDir, keep_alive: true, echo: true }), outputConfig({ json: true }), quiet(), echo);
    const viaBundle = new HttpOutput(http({ url, ca_bundle: pki.ca }), outputConfig({ json: true }), quiet());
    const insecure = new HttpOutput(http({ url, insecure: true }), outputConfig({ json: true }), quiet());
    const systemRoots = new HttpOutput(http({ url, retry_min_ms: 50, retry_max_ms: 100 }), outputConfig({ json: true }), quiet());
    outputs.push(viaPath, viaBundle, insecure, systemRoots);
    for (const o of [viaPath, viaPath, viaPath, viaBundle, insecure, systemRoots]) await o.export([alert("tls")]);
    await waitFor(() => viaPath.stats().sent === 3 && viaBundle.stats().sent === 1 && insecure.stats().sent === 1, 10_000, "sent");
    await waitFor(() => systemRoots.stats().retried > 0, 10_000, "the unknown CA refused");
    expect(systemRoots.stats().sent).toBe(0);
    expect(got).toHaveLength(5);
    // three requests of the keep_alive output over one connection: 1 + 1 + 1 connections in all
    expect(sockets.size).toBe(3);
    expect(echoed.join("")).toBe('{"ok":true}\n'.repeat(3));
  });

  it("refuses bad settings with the reason", () => {
    expect(() => new HttpOutput(http({ url: "ftp://x/" }), outputConfig(), quiet())).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new HttpOutput(http({ url: "https://x/", mtls: true }), outputConfig(), quiet())).toThrow(/client_cert and client_key/);
    expect(() => new HttpOutput(http({ url: "https://x/", ca_bundle: "/nonexistent/ca.pem" }), outputConfig(), quiet())).toThrow(
      /ca_bundle \/nonexistent\/ca.pem: ENOENT/,
    );
    expect(() => new HttpOutput(http({ url: "http://x/", headers: { "X-A": "a\r\nInjected: 1" } }), outputConfig(), quiet())).toThrow(/line break/);
  });
});
