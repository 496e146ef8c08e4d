// SPDX-License-Identifier: Apache-2.0
/**
 * The collector takes Falco's `http_output` with mTLS client certificates (`--client-ca`): a stock
 * Falco has no bearer-token setting, only a client certificate. The HTTPS client here is shaped
 * like Falco's (libcurl): POST of one Falco JSON alert, `content-type: application/json`, the
 * client certificate and key, the collector's CA.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { makeMtlsFiles, type MtlsFiles } from "../helpers/mtls-certs.js";
import { memoryLogger, ndjson, tempDir, waitFor } from "./helpers.js";

const TOKEN = "collector-token-0123456789";
const dir = tempDir("vigil-client-cert-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let certs: MtlsFiles;
beforeAll(() => {
  mkdirSync(join(dir, "certs"));
  certs = makeMtlsFiles(join(dir, "certs"));
});

let n = 0;
/** One Falco 0.44 JSON alert, as http_output posts it. */
function falcoAlert(rule: string): Record<string, unknown> {
  n++;
  return {
    uuid: `0f8e7c52-7b7c-4f3e-9b5e-2a9f0d3c${String(n).padStart(4, "0")}`,
    output: "12:00:00.000000000: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow)",
    priority: "Warning",
    rule,
    time: "2026-11-28T12:00:00.123456789Z",
    output_fields: { "fd.name": "/etc/shadow", "proc.pid": 42, "user.name": null },
    source: "syscall",
    tags: ["filesystem", "mitre_credential_access"],
    hostname: "falco-node",
  };
}

interface Answer {
  status: number;
  body: string;
}

/** An HTTPS request the way Falco's http_output makes it; `cert` is the client certificate, if any. */
function post(
  address: string,
  path: string,
  body: string,
  o: { cert?: "good" | "rogue"; token?: string; method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://${address}${path}`,
      {
        method: o.method ?? "POST",
        ca: readFileSync(certs.caCert),
        ...(o.cert === "good" ? { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {}),
        ...(o.cert === "rogue" ? { cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey) } : {}),
        headers: {
          "content-type": "application/json",
          "user-agent": "falcosecurity/falco",
          ...(o.method === "GET" ? {} : { "content-length": String(Buffer.byteLength(body)) }),
          ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}),
          ...o.headers,
        },
        agent: false,
      },
      (res) => {
        let s = "";
        res.on("data", (d: Buffer) => (s += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: s }));
      },
    );
    req.on("error", reject);
    req.end(o.method === "GET" ? undefined : body);
  });
}

async function stored(address: string, rule: string): Promise<Record<string, unknown>[]> {
  const r = await post(address, `/api/v1/alerts?rule=${encodeURIComponent(rule)}`, "", { method: "GET", token: TOKEN });
  expect(r.status).toBe(200);
  return ndjson(r.body) as Record<string, unknown>[];
}

describe("collector --client-ca (module)", () => {
  let col: RunningCollector;
  const mem = memoryLogger("info");
  beforeAll(async () => {
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: TOKEN,
      tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), clientCa: readFileSync(certs.caCert) },
      limits: { max_body_bytes: 64 * 1024 },
      logger: mem.logger,
    });
  });
  afterAll(() => col.close());

  it("a Falco post with a client certificate signed by the CA is stored without a token", async () => {
    const a = falcoAlert("Cert Falco Rule");
    const r = await post(col.address, "/", JSON.stringify(a), { cert: "good" });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ id: a["uuid"], stored: true });
    const q = await stored(col.address, "Cert Falco Rule");
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ id: a["uuid"], hostname: "falco-node", priority: "Warning" });
    // the other Falco path too
    expect((await post(col.address, "/api/v1/falco", JSON.stringify(falcoAlert("Cert Falco Rule")), { cert: "good" })).status).toBe(200);
    expect(col.stats()["http_client_cert_authenticated"]).toBe(2);
  });

  it("without a certificate the token is still required: 401 without it, stored with it", async () => {
    const before = col.stats()["http_unauthenticated"]!;
    const r = await post(col.address, "/", JSON.stringify(falcoAlert("No Cert Rule")));
    expect(r.status).toBe(401);
    expect(col.stats()["http_unauthenticated"]).toBe(before + 1);
    expect((await post(col.address, "/", JSON.stringify(falcoAlert("No Cert Rule")), { token: TOKEN })).status).toBe(200);
    expect(await stored(col.address, "No Cert Rule")).toHaveLength(1);
  });

  it("a certificate authenticates Falco's route only: queries and stats still want the token", async () => {
    expect((await post(col.address, "/api/v1/alerts", "", { method: "GET", cert: "good" })).status).toBe(401);
    expect((await post(col.address, "/api/v1/stats", "", { method: "GET", cert: "good" })).status).toBe(401);
  });

  it("a certificate from another CA is refused at the TLS layer (counted, logged), nothing stored", async () => {
    const before = col.stats()["tls_client_cert_refused"]!;
    await expect(post(col.address, "/", JSON.stringify(falcoAlert("Rogue Rule")), { cert: "rogue" })).rejects.toThrow();
    // even with the token: a certificate that does not verify is never accepted
    await expect(post(col.address, "/", JSON.stringify(falcoAlert("Rogue Rule")), { cert: "rogue", token: TOKEN })).rejects.toThrow();
    expect(col.stats()["tls_client_cert_refused"]).toBe(before + 2);
    expect(await stored(col.address, "Rogue Rule")).toHaveLength(0);
    expect(mem.lines.some((l) => String(l["msg"]).startsWith("client certificate not signed by the client CA"))).toBe(true);
  });

  it("limits apply before authentication: an oversized post with a good certificate is a 413", async () => {
    const before = col.stats()["http_too_large"]!;
    const body = JSON.stringify({ ...falcoAlert("Big Rule"), output: "x".repeat(100 * 1024) });
    const r = await post(col.address, "/", body, { cert: "good" }).catch(() => undefined);
    if (r) expect(r.status).toBe(413);
    await waitFor(() => col.stats()["http_too_large"] === before + 1, 5000, "too-large counter");
    expect(col.stats()["http_client_cert_authenticated"]).toBe(2);
  });
});

describe("collector without --client-ca", () => {
  it("a client certificate is not asked for nor honoured: 401 without the token", async () => {
    const col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: TOKEN,
      tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
      logger: memoryLogger("silent").logger,
    });
    try {
      expect((await post(col.address, "/", JSON.stringify(falcoAlert("Ignored Cert Rule")), { cert: "good" })).status).toBe(401);
      expect(col.stats()["http_client_cert_authenticated"]).toBe(0);
    } finally {
      await col.close();
    }
  });
});

/** Runs `vigil collector ARGS`; resolves with its address once ready, or rejects with its stderr if it exits. */
function runCollector(args: string[]): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [CLI, "collector", ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (line) => {
      err += `${line}\n`;
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        if (l["msg"] === "vigil collector ready") resolve({ child, address: String(l["address"]) });
      } catch {
        // not a log line
      }
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      err += `${line}\n`;
    });
    child.on("exit", (code) => reject(new Error(`vigil collector exited with ${code}: ${err}`)));
  });
}

describe("vigil collector --client-ca", () => {
  it("a real HTTPS client with a client certificate stores a Falco alert; without certificate and token: 401", async () => {
    const data = join(dir, "data");
    const { child, address } = await runCollector([
      "--listen",
      "127.0.0.1:0",
      "--data",
      data,
      "--token",
      TOKEN,
      "--tls-cert",
      certs.serverCert,
      "--tls-key",
      certs.serverKey,
      "--client-ca",
      certs.caCert,
    ]);
    try {
      const a = falcoAlert("CLI Cert Rule");
      expect((await post(address, "/", JSON.stringify(a), { cert: "good" })).status).toBe(200);
      const q = await stored(address, "CLI Cert Rule");
      expect(q.map((x) => x["id"])).toEqual([a["uuid"]]);
      expect((await post(address, "/", JSON.stringify(falcoAlert("CLI Cert Rule")))).status).toBe(401);
    } finally {
      child.kill("SIGTERM");
    }
  }, 60_000);

  it("collector.tls.client_ca_file in the configuration file does the same", async () => {
    const config = join(dir, "collector.yaml");
    writeFileSync(config, `collector:\n  tls:\n    client_ca_file: ${certs.caCert}\n`);
    const { child, address } = await runCollector([
      "--listen",
      "127.0.0.1:0",
      "--data",
      join(dir, "data-cfg"),
      "--token",
      TOKEN,
      "--tls-cert",
      certs.serverCert,
      "--tls-key",
      certs.serverKey,
      "--config",
      config,
    ]);
    try {
      expect((await post(address, "/", JSON.stringify(falcoAlert("Config Cert Rule")), { cert: "good" })).status).toBe(200);
      expect(await stored(address, "Config Cert Rule")).toHaveLength(1);
    } finally {
      child.kill("SIGTERM");
    }
  }, 60_000);

  it("refuses --client-ca without --tls-cert, and a file with no certificate, with a clear error", async () => {
    await expect(runCollector(["--listen", "127.0.0.1:0", "--data", join(dir, "d2"), "--client-ca", certs.caCert])).rejects.toThrow(
      /--client-ca .* needs --tls-cert and --tls-key/,
    );
    await expect(
      runCollector([
        "--listen",
        "127.0.0.1:0",
        "--data",
        join(dir, "d3"),
        "--tls-cert",
        certs.serverCert,
        "--tls-key",
        certs.serverKey,
        "--client-ca",
        certs.clientKey,
      ]),
    ).rejects.toThrow(/holds no PEM certificate/);
  }, 60_000);
});
