// SPDX-License-Identifier: Apache-2.0
/**
 * Real nats-server processes for the fleet tests (Debian's `nats-server`, /usr/sbin/nats-server):
 * one server or a 3-node cluster on loopback, JetStream on, each with its own config file and
 * store directory under one temp dir, optional authentication and TLS. Every server can be killed
 * (SIGKILL by default), stopped and started again on the same ports with the same store (it
 * rejoins the cluster). Servers left running when the test process exits are killed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The server binary: NATS_SERVER, else Debian's (/usr/sbin), else the one on PATH. */
export const NATS_SERVER_BIN = process.env["NATS_SERVER"] ?? ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find((p) => existsSync(p)) ?? "nats-server";

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  nodes: 1 | 3;
  /** Clients must authenticate (routes between the servers do not). */
  auth?: { user: string; password: string } | { token: string } | { nkey: string };
  /** PEM contents: clients connect with TLS (`tls://` URLs); `ca` verifies client certificates when `verify` is set. */
  tls?: { cert: string; key: string; ca: string; verify?: boolean };
  /** Per-server JetStream file store limit (default 1 GiB). */
  maxFileStore?: number;
  /** How long to wait for a server to be ready (default 30 s). */
  readyTimeoutMs?: number;
}

/** One server of the cluster. */
export interface NatsTestServer {
  /** `nats://127.0.0.1:PORT` (`tls://` with TLS). */
  readonly url: string;
  readonly port: number;
  /** The pid while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Sends the signal (SIGKILL by default) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Graceful stop (SIGTERM; SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Starts it again with the same ports, config and store; resolves once it is healthy. */
  start(): Promise<void>;
}

/** A running server or cluster. */
export interface NatsTestCluster {
  readonly urls: string[];
  readonly servers: NatsTestServer[];
  /** The temp dir holding configs and stores. */
  readonly dir: string;
  /** Stops every server; configs and stores stay (startAll brings the cluster back with its data). */
  stopAll(): Promise<void>;
  /** Starts every stopped server and waits until all are healthy. */
  startAll(): Promise<void>;
  /** Stops every server and removes the temp dir. */
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const p of running) p.kill("SIGKILL");
  });
}

/** A free loopback port (bound then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Distinct free ports. */
async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

/** A config string value (nats-server's config reads JSON strings). */
const q = (s: string) => JSON.stringify(s);

/** GET http://127.0.0.1:port/path → status (0 when the connection failed). */
function httpStatus(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpGet({ host: "127.0.0.1", port, path, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        if (body.length < 4096) body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, body: "" }));
  });
}

class ServerProc implements NatsTestServer {
  private proc: ChildProcess | undefined;
  private stderr = "";
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly url: string,
    readonly port: number,
    private readonly monitorPort: number,
    private readonly confPath: string,
    private readonly readyTimeoutMs: number,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Spawns the process (without waiting for it to be ready). */
  spawn(): void {
    if (this.proc !== undefined) return;
    installExitHook();
    this.stderr = "";
    const p = spawn(NATS_SERVER_BIN, ["-c", this.confPath], { stdio: ["ignore", "ignore", "pipe"] });
    this.proc = p;
    running.add(p);
    p.stderr?.setEncoding("utf8");
    p.stderr?.on("data", (c: string) => {
      // the last 16 KiB: enough to say why a server did not start
      this.stderr = (this.stderr + c).slice(-16_384);
    });
    this.exited = new Promise<void>((resolve) => {
      p.once("exit", () => {
        running.delete(p);
        if (this.proc === p) this.proc = undefined;
        resolve();
      });
      p.once("error", (err) => {
        this.stderr += `\nspawn failed: ${err.message}`;
        running.delete(p);
        if (this.proc === p) this.proc = undefined;
        resolve();
      });
    });
  }

  /** Waits until `/healthz` says OK (JetStream current, meta leader known in a cluster). */
  async waitReady(): Promise<void> {
    const end = Date.now() + this.readyTimeoutMs;
    let last = { status: 0, body: "" };
    for (;;) {
      if (this.proc === undefined) throw new Error(`nats-server ${this.name} exited while starting:\n${this.stderr.slice(-4000)}`);
      last = await httpStatus(this.monitorPort, "/healthz");
      if (last.status === 200) return;
      if (Date.now() > end)
        throw new Error(
          `nats-server ${this.name} not healthy after ${this.readyTimeoutMs} ms (last /healthz: ${last.status} ${last.body.trim()}):\n${this.stderr.slice(-4000)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    p.kill(signal);
    // SIGSTOP and the like do not end it
    if (signal === "SIGSTOP" || signal === "SIGCONT" || signal === "SIGHUP" || signal === "SIGUSR1" || signal === "SIGUSR2") return;
    await this.exited;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(t);
  }

  async start(): Promise<void> {
    this.spawn();
    await this.waitReady();
  }
}

/**
 * Starts one server or a 3-node cluster (JetStream on, loopback, free ports) and resolves once
 * every server is healthy: JetStream enabled and, in a cluster, the meta leader elected.
 */
export async function startNats(opts: StartNatsOptions): Promise<NatsTestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-nats-"));
  const n = opts.nodes;
  const ports = await freePorts(n * 3);
  const clientPorts = ports.slice(0, n);
  const clusterPorts = ports.slice(n, 2 * n);
  const monitorPorts = ports.slice(2 * n);
  const scheme = opts.tls !== undefined ? "tls" : "nats";
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;

  const lines: string[] = [];
  if (opts.auth !== undefined) {
    if ("token" in opts.auth) lines.push(`authorization { token: ${q(opts.auth.token)} }`);
    else if ("nkey" in opts.auth) lines.push(`authorization { users = [ { nkey: ${q(opts.auth.nkey)} } ] }`);
    else lines.push(`authorization { user: ${q(opts.auth.user)}, password: ${q(opts.auth.password)} }`);
  }
  if (opts.tls !== undefined) {
    writeFileSync(join(dir, "server.crt"), opts.tls.cert);
    writeFileSync(join(dir, "server.key"), opts.tls.key, { mode: 0o600 });
    writeFileSync(join(dir, "ca.crt"), opts.tls.ca);
    lines.push(
      `tls { cert_file: ${q(join(dir, "server.crt"))}, key_file: ${q(join(dir, "server.key"))}, ca_file: ${q(join(dir, "ca.crt"))}, verify: ${opts.tls.verify === true}, timeout: 5 }`,
    );
  }
  const shared = lines.join("\n");

  const servers: ServerProc[] = [];
  for (let i = 0; i < n; i++) {
    const name = `n${i}`;
    const store = join(dir, name, "jetstream");
    mkdirSync(store, { recursive: true });
    const conf = [
      `server_name: ${q(name)}`,
      `listen: "127.0.0.1:${clientPorts[i]}"`,
      `http: "127.0.0.1:${monitorPorts[i]}"`,
      `jetstream { store_dir: ${q(store)}, max_memory_store: 67108864, max_file_store: ${opts.maxFileStore ?? 1024 ** 3} }`,
      shared,
    ];
    if (n > 1) {
      const routes = clusterPorts.filter((_, j) => j !== i).map((p) => q(`nats-route://127.0.0.1:${p}`));
      conf.push(`cluster { name: "vigil-test", listen: "127.0.0.1:${clusterPorts[i]}", routes: [${routes.join(", ")}] }`);
    }
    const confPath = join(dir, `${name}.conf`);
    writeFileSync(confPath, `${conf.join("\n")}\n`);
    servers.push(new ServerProc(name, `${scheme}://127.0.0.1:${clientPorts[i]}`, clientPorts[i] ?? 0, monitorPorts[i] ?? 0, confPath, readyTimeoutMs));
  }

  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const startAll = async () => {
    for (const s of servers) s.spawn();
    await Promise.all(servers.map((s) => s.waitReady()));
  };
  try {
    await startAll();
  } catch (err) {
    await Promise.all(servers.map((s) => s.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    urls: servers.map((s) => s.url),
    servers,
    dir,
    stopAll,
    startAll,
    close: async () => {
      await Promise.all(servers.map((s) => s.kill("SIGCONT").then(() => s.stop())));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
