// SPDX-License-Identifier: Apache-2.0
/**
 * `sinks.grpc` / `vigil agent --grpc-output`: Falco's gRPC outputs API served by the agent, read by
 * a client generated from Falco's protos with @grpc/proto-loader (as a third-party tool would):
 * on a unix socket (folder and socket modes, stale socket, refusals) and on TCP with mutual TLS
 * (refused without a client certificate signed by the configured CA, refused to start without
 * the TLS files). The agent tests run the real `vigil agent` with the ptrace source (vigil-trace).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { credentials, type ChannelCredentials, type ClientDuplexStream, type ClientReadableStream } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GRPC_SOCKET_DIR_MODE, GRPC_SOCKET_MODE, startGrpcOutput, type GrpcOutput } from "../../agent/sinks/grpc-output.js";
import { grpcSinkSchema } from "../../agent/config/outputs-schema.js";
import { makeAlert, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { REPO_ROOT, startAgent, type JsonAlert, type RunningAgent } from "../helpers/agent.js";
import { makeMtlsFiles, type MtlsFiles } from "../helpers/mtls-certs.js";
import { falcoPackage } from "./falco-interop.helpers.js";

/** Falco's `falco.outputs.response` as proto-loader decodes it (enums as names, longs as numbers). */
interface Resp {
  time: { seconds: number; nanos: number };
  priority: string;
  source_deprecated: string;
  rule: string;
  output: string;
  output_fields: Record<string, string>;
  hostname: string;
  tags: string[];
  source: string;
}

type OutputsClient = {
  get(r: object): ClientReadableStream<Resp>;
  sub(): ClientDuplexStream<object, Resp>;
  close(): void;
};
type VersionClient = { version(q: object, cb: (e: (Error & { code?: number }) | null, r: Record<string, unknown>) => void): void; close(): void };

const dir = tempDir("vigil-grpc-out-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let certs: MtlsFiles;
beforeAll(() => {
  mkdirSync(join(dir, "certs"));
  certs = makeMtlsFiles(join(dir, "certs"));
});

function clients(address: string, creds: ChannelCredentials = credentials.createInsecure()): { outputs: OutputsClient; version: VersionClient } {
  const pkg = falcoPackage();
  return {
    outputs: new pkg.outputs(address, creds) as unknown as OutputsClient,
    version: new pkg.version(address, creds) as unknown as VersionClient,
  };
}

function drain(c: OutputsClient): Promise<Resp[]> {
  return new Promise((resolve, reject) => {
    const got: Resp[] = [];
    const s = c.get({});
    s.on("data", (r: Resp) => got.push(r));
    s.on("end", () => resolve(got));
    s.on("error", reject);
  });
}

function version(c: VersionClient): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => c.version({}, (e, r) => (e ? reject(e) : resolve(r))));
}

const mtlsClient = (key: string, cert: string) => credentials.createSsl(readFileSync(certs.caCert), readFileSync(key), readFileSync(cert));

/** A unix socket left behind by a process that died. */
function staleSocket(path: string): void {
  const r = spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
  expect(r.status).toBe(0);
  expect(statSync(path).isSocket()).toBe(true);
}

describe("startGrpcOutput", () => {
  const open: GrpcOutput[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });
  const cfg = (address: string, tls: Partial<Record<"key_file" | "cert_file" | "ca_file", string>> = {}) =>
    grpcSinkSchema.parse({ enabled: true, address, tls });

  it("unix socket: creates the folder 0750, the socket 0660, serves get/version, removes the socket on close", async () => {
    const folder = join(dir, "run-1", "vigil");
    const path = join(folder, "vigil.sock");
    const out = await startGrpcOutput(cfg(`unix://${path}`), quiet());
    open.push(out);
    expect(out.address).toBe(`unix://${path}`);
    expect(statSync(folder).mode & 0o777).toBe(GRPC_SOCKET_DIR_MODE);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(GRPC_SOCKET_MODE);
    await out.sink.export([makeAlert({ rule: "R1" })]);
    const c = clients(out.address);
    expect((await drain(c.outputs)).map((r) => r.rule)).toEqual(["R1"]);
    expect(await version(c.version)).toMatchObject({ engine_version: "0.62.0" });
    c.outputs.close();
    c.version.close();
    await out.close();
    expect(existsSync(path)).toBe(false);
  });

  it("replaces a stale socket; refuses a live one and a file that is not a socket (kept)", async () => {
    mkdirSync(join(dir, "run-2"));
    const path = join(dir, "run-2", "vigil.sock");
    staleSocket(path);
    const out = await startGrpcOutput(cfg(`unix://${path}`), quiet());
    open.push(out);
    expect(statSync(path).mode & 0o777).toBe(GRPC_SOCKET_MODE);
    // a second agent on the same socket
    await expect(startGrpcOutput(cfg(`unix://${path}`), quiet())).rejects.toThrow(/another process serves/);
    const file = join(dir, "run-2", "notes.txt");
    writeFileSync(file, "keep me");
    await expect(startGrpcOutput(cfg(`unix://${file}`), quiet())).rejects.toThrow(/not a socket/);
    expect(readFileSync(file, "utf8")).toBe("keep me");
  });

  it("refuses TCP without mutual TLS, naming the missing files; refuses a relative socket path and other schemes", async () => {
    await expect(startGrpcOutput(cfg("127.0.0.1:0"), quiet())).rejects.toThrow(/only with mutual TLS.*missing: key_file, cert_file, ca_file/);
    await expect(startGrpcOutput(cfg("127.0.0.1:0", { key_file: certs.serverKey, cert_file: certs.serverCert }), quiet())).rejects.toThrow(/missing: ca_file/);
    await expect(startGrpcOutput(cfg("unix://run/vigil.sock"), quiet())).rejects.toThrow(/must be absolute/);
    await expect(startGrpcOutput(cfg("tcp://127.0.0.1:5060"), quiet())).rejects.toThrow(/expected unix:\/\/\/PATH or HOST:PORT/);
    await expect(
      startGrpcOutput(cfg("127.0.0.1:0", { key_file: join(dir, "nope.key"), cert_file: certs.serverCert, ca_file: certs.caCert }), quiet()),
    ).rejects.toThrow(/cannot read tls.key_file/);
  });

  it("TCP with mTLS: a client certificate signed by the CA is served; none, or one from another CA, is refused", async () => {
    const out = await startGrpcOutput(cfg("127.0.0.1:0", { key_file: certs.serverKey, cert_file: certs.serverCert, ca_file: certs.caCert }), quiet());
    open.push(out);
    expect(out.address).toMatch(/^127\.0\.0\.1:\d+$/);
    await out.sink.export([makeAlert({ rule: "over mTLS" })]);
    const good = clients(out.address, mtlsClient(certs.clientKey, certs.clientCert));
    expect((await drain(good.outputs)).map((r) => r.rule)).toEqual(["over mTLS"]);
    expect(await version(good.version)).toHaveProperty("version");
    good.outputs.close();
    good.version.close();
    const refused = async (creds: ChannelCredentials) => {
      const c = clients(out.address, creds);
      try {
        await version(c.version);
        return "served";
      } catch (e) {
        return (e as { code?: number }).code;
      } finally {
        c.outputs.close();
        c.version.close();
      }
    };
    // 14 = UNAVAILABLE: the TLS handshake fails, no call reaches the server
    expect(await refused(credentials.createSsl(readFileSync(certs.caCert)))).toBe(14);
    expect(await refused(mtlsClient(certs.rogueKey, certs.rogueCert))).toBe(14);
    expect(await refused(credentials.createInsecure())).toBe(14);
  });
});

const TRACE = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");

function traced(sock: string, script: string): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn(TRACE, ["--socket", sock, "--syscalls", "open,openat,openat2,execve,execveat,clone,clone3,fork,vfork", "--", "sh", "-c", script], {
      stdio: "ignore",
    });
    c.on("exit", (code) => resolve(code));
  });
}

/** Falco's response for the alert the agent printed as JSON on stdout (the same alert). */
function expectSameAlert(r: Resp, a: JsonAlert): void {
  const ms = Date.parse(`${a.time.slice(0, 19)}Z`);
  expect(r.time.seconds).toBe(ms / 1000);
  expect(r.time.nanos).toBe(Number((/\.(\d+)Z$/.exec(a.time)?.[1] ?? "0").padEnd(9, "0")));
  expect(r.priority).toBe(a.priority.toUpperCase());
  expect(r.source_deprecated).toBe("SYSCALL");
  expect(r.rule).toBe(a.rule);
  // Falco's text: the time of day before the priority (output.time_format_iso_8601 false), as every Falco output prints it
  expect(r.output).toBe(a.output.replace(/^\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d\.\d{9})Z: /, "$1: "));
  expect(r.output).toMatch(/^\d\d:\d\d:\d\d\.\d{9}: Warning /);
  // every output field, as a string the way Falco renders non-string JSON values
  const want: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.output_fields)) want[k] = v === null ? "null" : String(v);
  expect(r.output_fields).toEqual(want);
  expect(r.hostname).toBe(a.hostname);
  expect(r.tags).toEqual(a.tags);
  expect(r.source).toBe("syscall");
}

describe("vigil agent --grpc-output", () => {
  const running: RunningAgent[] = [];
  afterEach(async () => {
    for (const a of running.splice(0)) await a.stop();
  });
  const agentArgs = (sock: string) => ["--source", "ptrace", "--trace-socket", sock, "--no-containerd", "--no-capture", "--stats-interval", "0"];

  it("unix socket: sub receives the alert with every field of Falco's response, get drains, version answers", async () => {
    const sockDir = join(dir, "agent-run");
    const grpcSock = join(sockDir, "vigil.sock");
    const trace = join(dir, "trace-a.sock");
    const agent = await startAgent([...agentArgs(trace), "--grpc-output", `unix://${grpcSock}`]);
    running.push(agent);
    expect(statSync(grpcSock).mode & 0o777).toBe(0o660);
    expect(statSync(sockDir).mode & 0o777).toBe(0o750);
    const c = clients(`unix://${grpcSock}`);

    // sub, as client-go's OutputsWatch does: a request, then whatever comes
    const subbed: Resp[] = [];
    const sub = c.outputs.sub();
    sub.on("data", (r: Resp) => subbed.push(r));
    sub.on("error", () => undefined);
    sub.write({});
    await agent.waitForLog((l) => l["msg"] === "Falco gRPC outputs API served (grpc_output)", 1000);
    await new Promise((r) => setTimeout(r, 300)); // the request reaches the server: subscribed
    expect(await traced(trace, "cat /etc/shadow >/dev/null")).toBe(0);
    const printed = await agent.waitForAlert((x) => x.rule === "Read Shadow File" && x.output_fields["proc.name"] === "cat", 10_000);
    await waitFor(() => subbed.some((r) => r.rule === "Read Shadow File"), 5000, "alert on sub");
    expectSameAlert(subbed.find((r) => r.rule === "Read Shadow File")!, printed);
    sub.end();
    await new Promise((r) => setTimeout(r, 300));

    // with no subscriber the alert waits in the queue: get streams it once, then nothing
    const before = agent.alerts.length;
    expect(await traced(trace, "head -c1 /etc/shadow >/dev/null")).toBe(0);
    const queued = await agent.waitForAlert((x) => x.rule === "Read Shadow File" && x.output_fields["proc.name"] === "head", 10_000);
    expect(agent.alerts.length).toBeGreaterThan(before);
    const got = await drain(c.outputs);
    const mine = got.filter((r) => r.output_fields["proc.name"] === "head");
    expect(mine).toHaveLength(1);
    expectSameAlert(mine[0]!, queued);
    expect(await drain(c.outputs)).toEqual([]);

    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    expect(await version(c.version)).toMatchObject({ version: `${pkg.version}+vigil`, engine_version: "0.62.0", engine_minor: 62 });
    c.outputs.close();
    c.version.close();
    expect(await agent.stop()).toBe(0);
    expect(existsSync(grpcSock)).toBe(false);
  }, 90_000);

  it("TCP: served with the mTLS files of sinks.grpc.tls (config file); a client without a certificate is refused", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const config = join(dir, "grpc-tls.yaml");
    writeFileSync(
      config,
      `sinks:\n  grpc:\n    tls:\n      key_file: ${certs.serverKey}\n      cert_file: ${certs.serverCert}\n      ca_file: ${certs.caCert}\n`,
    );
    const trace = join(dir, "trace-b.sock");
    const agent = await startAgent([...agentArgs(trace), "--config", config, "--grpc-output", `127.0.0.1:${port}`]);
    running.push(agent);
    const good = clients(`127.0.0.1:${port}`, mtlsClient(certs.clientKey, certs.clientCert));
    expect(await version(good.version)).toHaveProperty("engine_version", "0.62.0");
    expect(await traced(trace, "cat /etc/shadow >/dev/null")).toBe(0);
    const printed = await agent.waitForAlert((x) => x.rule === "Read Shadow File", 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const got = await drain(good.outputs);
    expect(got.length).toBeGreaterThan(0);
    expectSameAlert(got.find((r) => r.output_fields["proc.pid"] === String(printed.output_fields["proc.pid"]))!, printed);
    good.outputs.close();
    good.version.close();
    const bare = clients(`127.0.0.1:${port}`, credentials.createSsl(readFileSync(certs.caCert)));
    await expect(version(bare.version)).rejects.toMatchObject({ code: 14 });
    bare.outputs.close();
    bare.version.close();
  }, 90_000);

  it("TCP without the TLS files: the agent refuses to start with a clear error", async () => {
    const trace = join(dir, "trace-c.sock");
    await expect(startAgent([...agentArgs(trace), "--grpc-output", "127.0.0.1:0"], 30_000)).rejects.toThrow(/only with mutual TLS/);
  }, 60_000);
});
