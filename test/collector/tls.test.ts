// SPDX-License-Identifier: Apache-2.0
/** Optional TLS on the collector's single port: gRPC ingest, HTTPS query and wss:// tail. */
import { execFileSync } from "node:child_process";
import { getCACertificates, setDefaultCACertificates } from "node:tls";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { TailClient } from "../../collector/tail-client.js";
import { makeAlert, memoryLogger, ndjson, quiet, tempDir, waitFor } from "./helpers.js";
import { caFileSource } from "../../agent/sinks/credential-files.js";
import type { Alert } from "../../proto/index.js";

describe("collector over TLS", () => {
  let col: RunningCollector;
  let ca: Buffer;
  beforeAll(async () => {
    const d = tempDir();
    // a CA and a server certificate for 127.0.0.1, made with openssl
    const sh = (args: string[]) => execFileSync("openssl", args, { cwd: d, stdio: "ignore" });
    sh(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=vigil-test-ca"]);
    sh(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]);
    execFileSync("sh", ["-c", "printf 'subjectAltName=IP:127.0.0.1' > ext.cnf"], { cwd: d });
    sh(["x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf"]);
    ca = readFileSync(join(d, "ca.crt"));
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: "tls-token",
      tls: { cert: readFileSync(join(d, "srv.crt")), key: readFileSync(join(d, "srv.key")) },
      logger: quiet(),
    });
  });
  afterAll(() => col.close());

  it("ingests over gRPC with TLS, serves HTTPS queries and a wss:// tail", async () => {
    const got: Alert[] = [];
    let live = false;
    const tail = new TailClient({
      address: col.address,
      token: "tls-token",
      filter: {},
      tls: { ca },
      onAlert: (a) => got.push(a),
      onState: (s) => (live ||= s === "live"),
    });
    tail.start();
    await waitFor(() => live, 5000, "wss tail live");
    const client = new CollectorClient({ address: col.address, token: "tls-token", tlsCa: ca });
    const a = makeAlert();
    expect((await client.push([a], [])).ackedIds).toEqual([a.id]);
    client.close();
    await waitFor(() => got.length === 1, 5000, "alert over wss");
    tail.stop();
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`https://${col.address}/api/v1/alerts`, { ca, headers: { authorization: "Bearer tls-token" } }, (res) => {
        let s = "";
        res.on("data", (d: Buffer) => (s += d.toString()));
        res.on("end", () => resolve(s));
      });
      req.on("error", reject);
      req.end();
    });
    expect((ndjson(body) as { id: string }[]).map((x) => x.id)).toEqual([a.id]);
  });

  it("with tls and no CA file, a client verifies against the system's roots: refused by default, accepted once Node's default roots hold the CA", async () => {
    // once the test CA is among Node's default roots (what NODE_EXTRA_CA_CERTS or --use-system-ca do
    // at start), the same client is accepted
    const before = getCACertificates("default");
    setDefaultCACertificates([...before, ca.toString()]);
    try {
      const trusted = new CollectorClient({ address: col.address, token: "tls-token", tls: true, timeoutMs: 5000 });
      const a = makeAlert();
      expect((await trusted.push([a], [])).ackedIds).toEqual([a.id]);
      trusted.close();
    } finally {
      setDefaultCACertificates(before);
    }
    const sys = new CollectorClient({ address: col.address, token: "tls-token", tls: true, timeoutMs: 2000 });
    await expect(sys.push([makeAlert()], [])).rejects.toMatchObject({ code: "send_failed" });
    sys.close();
  });

  it("a CA file that appears after start, then changes: no connection without it (never plaintext), then TLS with the CA of the moment", async () => {
    const file = join(tempDir(), "ca.crt");
    const { logger, lines } = memoryLogger("info");
    const c = new CollectorClient({ address: col.address, token: "tls-token", tlsCa: caFileSource(file, logger), timeoutMs: 3000 });
    await expect(c.push([makeAlert()], [])).rejects.toMatchObject({ code: "send_failed" });
    await expect(c.push([makeAlert()], [])).rejects.toMatchObject({ code: "send_failed" });
    expect(lines.filter((l) => l["level"] === 50)).toHaveLength(1);
    writeFileSync(file, ca);
    const a = makeAlert();
    expect((await c.push([a], [])).ackedIds).toEqual([a.id]);
    // a CA that did not sign the collector's certificate: the connection is remade and refused
    const other = tempDir();
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k", "-out", "c", "-days", "1", "-subj", "/CN=other"],
      { cwd: other, stdio: "ignore" },
    );
    writeFileSync(file, readFileSync(join(other, "c")));
    await expect(c.push([makeAlert()], [])).rejects.toMatchObject({ code: "send_failed" });
    c.close();
  });

  it("refuses a plaintext client on the TLS port", async () => {
    const plain = new CollectorClient({ address: col.address, token: "tls-token", timeoutMs: 2000 });
    await expect(plain.push([makeAlert()], [])).rejects.toMatchObject({ code: "send_failed" });
    plain.close();
  });
});
