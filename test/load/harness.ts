// SPDX-License-Identifier: Apache-2.0
/**
 * Attacker harness for load tests against a real collector: the built CLI runs in a child
 * process (`node dist/agent/cli/main.js collector`), its memory is sampled from /proc, `/healthz`
 * is probed from a worker thread, and each attack helper opens real connections on loopback.
 * Used by test/load/*.test.ts (CI-sized) and test/bench/attack-figures.mjs (full size).
 *
 * Addresses: the probes and the legitimate client come from 127.0.0.1; attackers from other
 * loopback addresses (127.0.0.2 and up), so a per-IP connection cap meant for one client does not
 * shut the probe out.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect as h2connect, constants as h2c, type ClientHttp2Session } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { v7 as uuidv7 } from "uuid";
import { WebSocket } from "ws";
import type { Alert } from "../../proto/index.js";

/** The repository root (test/load/..). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The built CLI (`npx tsc -p tsconfig.json` first; vitest's global setup builds it). */
export const CLI = process.env["VIGIL_LOAD_CLI"] ?? join(REPO, "dist", "agent", "cli", "main.js");

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the collector child

/** Options of {@link startCollectorChild}. */
export interface CollectorChildOptions {
  token?: string;
  /** Collector limits (snake_case keys of proto/collector-limits.ts), passed as `VIGIL_COLLECTOR_LIMITS_<KEY>`. */
  limits?: Record<string, number | string>;
  /** Extra node flags (e.g. `--max-old-space-size=256`). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  /** Open-file limit of the child (`ulimit -n`); default: this process's. */
  nofile?: number;
}

/** A collector running in a child process. */
export interface CollectorChild {
  child: ChildProcess;
  pid: number;
  /** `127.0.0.1:PORT`. */
  address: string;
  host: string;
  port: number;
  token: string;
  /** Its log lines (stdout and stderr), the first 20,000. */
  logs: string[];
  /** True while the process has not exited. */
  alive(): boolean;
  /** SIGTERM, then SIGKILL after 3 s; removes the data directory. */
  stop(): Promise<void>;
}

/** The environment variables that set `limits` (the config loader's `VIGIL_COLLECTOR_LIMITS_<KEY>`). */
export function limitsEnv(limits: Record<string, number | string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(limits)) env[`VIGIL_COLLECTOR_LIMITS_${k.toUpperCase()}`] = String(v);
  return env;
}

/** Starts `vigil collector --listen 127.0.0.1:0` in a child; resolves once it logged "vigil collector ready". */
export async function startCollectorChild(o: CollectorChildOptions = {}): Promise<CollectorChild> {
  const token = o.token ?? "load-test-token";
  const data = mkdtempSync(join(tmpdir(), "vigil-load-"));
  const argv = [...(o.nodeArgs ?? []), CLI, "collector", "--listen", "127.0.0.1:0", "--data", data, "--token", token];
  // with a file limit, sh sets it and execs node (same pid)
  const [cmd, args] =
    o.nofile === undefined ? [process.execPath, argv] : ["/bin/sh", ["-c", `ulimit -n ${o.nofile} && exec "$0" "$@"`, process.execPath, ...argv]];
  const child = spawn(cmd, args, {
    cwd: REPO,
    env: { ...process.env, VIGIL_TOKEN: "", ...limitsEnv(o.limits) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  let address: string | undefined;
  let onReady: ((a: string) => void) | undefined;
  const onLine = (line: string) => {
    if (logs.length < 20_000) logs.push(line);
    if (address !== undefined || !line.includes("vigil collector ready")) return;
    try {
      const rec = JSON.parse(line) as { msg?: string; address?: string };
      if (rec.msg === "vigil collector ready" && typeof rec.address === "string") {
        address = rec.address;
        onReady?.(address);
      }
    } catch {
      // not a JSON log line
    }
  };
  for (const s of [child.stdout!, child.stderr!]) {
    let rest = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      const parts = (rest + d).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) onLine(p);
    });
  }
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const addr = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`collector not ready after ${o.readyTimeoutMs ?? 20_000} ms:\n${logs.join("\n")}`));
    }, o.readyTimeoutMs ?? 20_000);
    onReady = (a) => {
      clearTimeout(t);
      resolve(a);
    };
    child.once("exit", (code, sig) => {
      clearTimeout(t);
      reject(new Error(`collector exited (${code ?? sig}) before ready:\n${logs.join("\n")}`));
    });
  });
  const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid!,
    address: addr,
    host: "127.0.0.1",
    port,
    token,
    logs,
    alive,
    stop: async () => {
      if (alive()) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- memory and fd sampling

/** Samples a process's VmRSS/VmHWM every `intervalMs` and its open fds every 5th sample. */
export class ProcSampler {
  /** Largest VmRSS seen, and the kernel's high-water mark (VmHWM), in bytes. */
  peakRss = 0;
  hwm = 0;
  lastRss = 0;
  peakFds = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  /** Stops sampling after one last sample. */
  stop(): this {
    clearInterval(this.timer);
    this.sample();
    return this;
  }

  /** The peak resident set in MiB (the larger of the samples and VmHWM). */
  get peakMiB(): number {
    return Math.max(this.peakRss, this.hwm) / MiB;
  }

  private sample(): void {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    } catch {
      return; // exited
    }
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    this.lastRss = kb("VmRSS");
    this.peakRss = Math.max(this.peakRss, this.lastRss);
    this.hwm = Math.max(this.hwm, kb("VmHWM"));
    if (this.samples++ % 5 === 0) {
      try {
        this.peakFds = Math.max(this.peakFds, readdirSync(`/proc/${this.pid}/fd`).length);
      } catch {
        // exited
      }
    }
  }
}

// ---------------------------------------------------------------- /healthz prober

/** One /healthz probe. */
export interface Probe {
  /** Wall-clock start (ms). */
  t: number;
  ms: number;
  ok: boolean;
  err?: string;
}

/** Latency summary of a set of probes (a failed probe counts at the time it took to fail). */
export interface LatencyStats {
  probes: number;
  failures: number;
  maxMs: number;
  p99Ms: number;
  /** Probes that took 1 s or more (answered or not). */
  slow: number;
  /** First failure reasons, for messages. */
  errors: string[];
}

/** Summarizes probes. */
export function latencyStats(probes: readonly Probe[]): LatencyStats {
  const ms = probes.map((p) => p.ms).sort((a, b) => a - b);
  const p99 = ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.ceil(ms.length * 0.99) - 1)]!;
  const failed = probes.filter((p) => !p.ok);
  return {
    probes: probes.length,
    failures: failed.length,
    maxMs: Math.round(ms.at(-1) ?? 0),
    p99Ms: Math.round(p99),
    slow: ms.filter((x) => x >= 1000).length,
    errors: [...new Set(failed.map((p) => p.err ?? "failed"))].slice(0, 5),
  };
}

/** Probes `/healthz` every `intervalMs` from a worker thread, over a fresh connection each time. */
export class HealthProber {
  readonly probes: Probe[] = [];
  private readonly worker: Worker;
  private readonly done: Promise<void>;
  private stopped = false;

  constructor(host: string, port: number, opts: { intervalMs?: number; timeoutMs?: number; localAddress?: string } = {}) {
    this.worker = new Worker(new URL("./health-worker.mjs", import.meta.url), {
      workerData: { host, port, intervalMs: opts.intervalMs ?? 200, timeoutMs: opts.timeoutMs ?? 3000, localAddress: opts.localAddress ?? "127.0.0.1" },
    });
    this.done = new Promise<void>((resolve) => {
      this.worker.on("message", (m: Probe | { done: true }) => {
        if ("done" in m) resolve();
        else this.probes.push(m);
      });
      this.worker.on("error", () => resolve());
      this.worker.on("exit", () => resolve());
    });
  }

  /** Probes started in [from, to). */
  between(from: number, to = Infinity): LatencyStats {
    return latencyStats(this.probes.filter((p) => p.t >= from && p.t < to));
  }

  /** Stops probing once the probes in flight settle. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.worker.postMessage("stop");
    await this.done;
    await this.worker.terminate();
  }
}

// ---------------------------------------------------------------- connection floods

/** What happened to the connections of a flood. */
export interface FloodResult {
  attempted: number;
  /** Connections that completed the TCP handshake. */
  connected: number;
  /** Connection attempts that failed (refused, reset). */
  connectErrors: number;
  /** Connections the server closed, and after how long (ms from connect). */
  closedByServer: number[];
  /** Connections still open when {@link Flood.close} was called. */
  stillOpen: number;
}

/** A running flood of attacker connections. */
export interface Flood {
  /** Resolves once every connection attempt has connected or failed. */
  opened: Promise<void>;
  /** Connections open now. */
  open(): number;
  /** Closes what is still open and reports. */
  close(): FloodResult;
}

/** Source addresses 127.0.0.<first>.. for `n` connections at most `perIp` per address. */
export function sourceIps(n: number, perIp: number, first = 2): string[] {
  const ips: string[] = [];
  const count = Math.ceil(n / perIp);
  if (first + count > 254) throw new Error("too many source addresses");
  for (let i = 0; i < count; i++) ips.push(`127.0.0.${first + i}`);
  return ips;
}

interface FloodOptions {
  host: string;
  port: number;
  n: number;
  /** Source addresses, used round-robin (see {@link sourceIps}). */
  from?: string[];
  /** Connections opened at once (the listen backlog drops SYNs beyond it). */
  batch?: number;
  /** Called once per connection when it is established. */
  onConnect?: (s: Socket, i: number) => void;
}

/** Opens `n` TCP connections and calls `onConnect` on each; tracks who closes them. */
export function flood(o: FloodOptions): Flood {
  const from = o.from ?? ["127.0.0.2"];
  const batch = o.batch ?? 200;
  const sockets = new Set<Socket>();
  const closedByServer: number[] = [];
  let connected = 0;
  let connectErrors = 0;
  let closing = false;
  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
      const s = netConnect({ host: o.host, port: o.port, localAddress: from[i % from.length]! });
      let at = 0;
      s.on("error", () => undefined);
      s.once("connect", () => {
        at = performance.now();
        connected++;
        sockets.add(s);
        o.onConnect?.(s, i);
        resolve();
      });
      s.once("close", () => {
        sockets.delete(s);
        if (at === 0) connectErrors++;
        else if (!closing) closedByServer.push(performance.now() - at);
        resolve();
      });
      s.on("data", () => undefined); // read whatever the server says, so it is never blocked on us
    });
  const opened = (async () => {
    for (let i = 0; i < o.n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, o.n - i) }, (_, k) => openOne(i + k)));
  })();
  return {
    opened,
    open: () => sockets.size,
    close: () => {
      closing = true;
      const stillOpen = sockets.size;
      for (const s of sockets) s.destroy();
      return { attempted: o.n, connected, connectErrors, closedByServer, stillOpen };
    },
  };
}

/** `n` TCP connections that never send a byte. */
export function idleConnections(o: Omit<FloodOptions, "onConnect">): Flood {
  return flood(o);
}

/** The HTTP/2 client connection preface. */
export const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** `n` connections that send the HTTP/2 preface (no SETTINGS) and then nothing. */
export function h2PrefaceSilence(o: Omit<FloodOptions, "onConnect">): Flood {
  return flood({ ...o, onConnect: (s) => s.write(H2_PREFACE) });
}

/** `n` half HTTP/1 requests, each then sent one more header byte every `byteEveryMs` (slowloris). */
export function slowloris(o: Omit<FloodOptions, "onConnect"> & { byteEveryMs?: number }): Flood {
  const live = new Set<Socket>();
  const f = flood({
    ...o,
    onConnect: (s) => {
      s.write(`GET /api/v1/alerts HTTP/1.1\r\nHost: collector\r\nX-Slow: `);
      live.add(s);
      s.once("close", () => live.delete(s));
    },
  });
  const timer = setInterval(() => {
    for (const s of live) if (s.writable) s.write("a");
  }, o.byteEveryMs ?? 2000);
  return {
    ...f,
    close: () => {
      clearInterval(timer);
      return f.close();
    },
  };
}

/**
 * `n` POSTs whose Content-Length promises `claimed` bytes, of which one is sent. With `token`
 * they are authenticated (only the request timeout can end them); without, the server can
 * refuse them on their headers.
 */
export function lyingContentLength(o: Omit<FloodOptions, "onConnect"> & { token?: string; claimed?: number }): Flood & { statuses: Map<number, number> } {
  const statuses = new Map<number, number>();
  const f = flood({
    ...o,
    onConnect: (s) => {
      const auth = o.token === undefined ? "" : `Authorization: Bearer ${o.token}\r\n`;
      s.write(`POST /api/v1/falco HTTP/1.1\r\nHost: collector\r\n${auth}Content-Type: application/json\r\nContent-Length: ${o.claimed ?? 1_000_000}\r\n\r\n{`);
      let seen = false;
      s.on("data", (d: Buffer) => {
        if (seen) return;
        const m = /^HTTP\/1\.1 (\d{3})/.exec(d.toString("latin1", 0, 16));
        if (m) {
          seen = true;
          statuses.set(Number(m[1]), (statuses.get(Number(m[1])) ?? 0) + 1);
        }
      });
    },
  });
  return { ...f, statuses };
}

// ---------------------------------------------------------------- gRPC pushes

/** Outcome of a set of raw gRPC pushes. */
export interface PushFloodResult {
  pushes: number;
  /** Count by outcome: `grpc-status <n>`, `rst <code>`, `error <code>`, `timeout`. */
  outcomes: Record<string, number>;
  /** Time to the server's first answer (headers, trailers or reset), ms, sorted. */
  answerMs: number[];
  /** From the first push to the last answer, ms. */
  elapsedMs: number;
}

/** The gRPC ingest method path (proto/vigil/collector.proto). */
export const PUSH_PATH = "/vigil.collector.v1.Ingest/Push";

/**
 * `connections` × `streamsPerConnection` parallel raw gRPC pushes (node:http2, one gRPC frame
 * of `messageBytes` bytes of zeros each), unauthenticated unless `token` is given.
 */
export async function grpcPushFlood(o: {
  host: string;
  port: number;
  connections: number;
  streamsPerConnection: number;
  messageBytes: number;
  token?: string;
  from?: string[];
  timeoutMs?: number;
}): Promise<PushFloodResult> {
  const payload = Buffer.alloc(o.messageBytes);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(o.messageBytes, 1);
  const outcomes: Record<string, number> = {};
  const answerMs: number[] = [];
  const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  const t0 = performance.now();
  const sessions: ClientHttp2Session[] = [];
  const one = (session: ClientHttp2Session) =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      let answered = false;
      let status: string | undefined;
      const answer = () => {
        if (!answered) {
          answered = true;
          answerMs.push(performance.now() - start);
        }
      };
      const headers: Record<string, string> = {
        [h2c.HTTP2_HEADER_METHOD]: "POST",
        [h2c.HTTP2_HEADER_PATH]: PUSH_PATH,
        [h2c.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
        te: "trailers",
      };
      if (o.token !== undefined) headers["authorization"] = `Bearer ${o.token}`;
      let req;
      try {
        req = session.request(headers);
      } catch (err) {
        count(`error ${(err as NodeJS.ErrnoException).code ?? "request"}`);
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        if (status === undefined) status = "timeout";
        req.close(h2c.NGHTTP2_CANCEL);
      }, o.timeoutMs ?? 30_000);
      req.on("response", (h) => {
        answer();
        if (h["grpc-status"] !== undefined) status ??= `grpc-status ${String(h["grpc-status"])}`;
      });
      req.on("trailers", (h) => {
        answer();
        if (h["grpc-status"] !== undefined) status ??= `grpc-status ${String(h["grpc-status"])}`;
      });
      req.on("data", () => undefined);
      req.on("error", (err: NodeJS.ErrnoException) => {
        answer();
        // a reset stream is told apart by its RST_STREAM code, read on close
        if (err.code !== "ERR_HTTP2_STREAM_ERROR") status ??= `error ${err.code ?? "stream"}`;
      });
      req.on("close", () => {
        clearTimeout(timer);
        answer();
        count(status ?? `rst ${req.rstCode}`);
        resolve();
      });
      req.write(prefix);
      req.end(payload);
    });
  const all: Promise<void>[] = [];
  for (let c = 0; c < o.connections; c++) {
    const from = o.from?.[c % o.from.length];
    // node's client session counts the message it queues against maxSessionMemory (10 MB by
    // default) and resets its own stream with ENHANCE_YOUR_CALM past it: raise it, as a real
    // attacker's client would not have it
    const session = h2connect(`http://${o.host}:${o.port}`, { maxSessionMemory: 4096, ...(from === undefined ? {} : { localAddress: from }) });
    session.on("error", () => undefined);
    sessions.push(session);
    for (let s = 0; s < o.streamsPerConnection; s++) all.push(one(session));
  }
  await Promise.all(all);
  for (const s of sessions) s.destroy();
  return { pushes: all.length, outcomes, answerMs: answerMs.sort((a, b) => a - b), elapsedMs: Math.round(performance.now() - t0) };
}

// ---------------------------------------------------------------- HTTP helpers

/** One HTTP/1.1 request; resolves with status and body (truncated at `maxBody`). */
export function httpGet(
  host: string,
  port: number,
  path: string,
  opts: { token?: string; localAddress?: string; timeoutMs?: number; maxBody?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: "close" };
    if (opts.token !== undefined) headers["authorization"] = `Bearer ${opts.token}`;
    const req = httpRequest(
      { host, port, path, method: "GET", agent: false, headers, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < (opts.maxBody ?? 64 * MiB)) chunks.push(c);
          size += c.length;
        });
        res.on("end", () => {
          clearTimeout(t);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", (e) => reject(e));
      },
    );
    const t = setTimeout(() => req.destroy(new Error(`GET ${path.slice(0, 60)} timed out`)), opts.timeoutMs ?? 10_000);
    req.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
    req.end();
  });
}

/** `n` requests with a wrong token, `concurrency` at a time, from `localAddress`; counts statuses. */
export async function badTokenFlood(o: {
  host: string;
  port: number;
  n: number;
  concurrency?: number;
  localAddress?: string;
}): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < o.n) {
      next++;
      const k = await httpGet(o.host, o.port, "/api/v1/alerts?limit=1", {
        token: `wrong-${next}`,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        timeoutMs: 5000,
      }).then(
        (r) => String(r.status),
        (e: NodeJS.ErrnoException) => `error ${e.code ?? e.message}`,
      );
      statuses[k] = (statuses[k] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 20 }, worker));
  return statuses;
}

// ---------------------------------------------------------------- the legitimate client

/** A valid alert (the collector's schema) with the given rule name. */
export function alert(rule: string, extra: Record<string, string | number> = {}): Alert {
  const t = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
  return {
    id: uuidv7(),
    time: t,
    rule,
    priority: "Warning",
    source: "syscall",
    hostname: "load-node",
    output: `${t}: Warning load test`,
    output_fields: { "proc.name": "sh", "k8s.ns.name": "load", ...extra },
    tags: ["load"],
  };
}

/** The collector's gRPC client, loaded from the build (dist) the child runs. */
export async function clientFor(c: { address: string; token: string }, timeoutMs = 10_000) {
  const mod = (await import(join(REPO, "dist", "agent", "sinks", "collector-client.js"))) as typeof import("../../agent/sinks/collector-client.js");
  return new mod.CollectorClient({ address: c.address, token: c.token, timeoutMs });
}

/**
 * A legitimate client's round trip: one alert pushed with the real client (token in metadata),
 * then queried back over HTTP. Resolves with what went wrong, or undefined when it was served.
 */
export async function legitRoundTrip(c: { address: string; host: string; port: number; token: string }): Promise<string | undefined> {
  const client = await clientFor(c);
  const a = alert(`legit-${uuidv7()}`);
  try {
    const r = await client.push([a], []);
    if (!r.ackedIds.includes(a.id)) return `push not acknowledged: ${JSON.stringify(r)}`;
  } catch (err) {
    return `push failed: ${(err as Error).message}`;
  } finally {
    client.close();
  }
  try {
    const q = await httpGet(c.host, c.port, `/api/v1/alerts?rule=${encodeURIComponent(a.rule)}&limit=10`, { token: c.token });
    if (q.status !== 200) return `query answered ${q.status}: ${q.body.slice(0, 200)}`;
    if (!q.body.includes(a.id)) return `query did not return the pushed alert: ${q.body.slice(0, 200)}`;
  } catch (err) {
    return `query failed: ${(err as Error).message}`;
  }
  return undefined;
}

/** Pushes `n` alerts with the given rule name (one push each, in parallel); counts outcomes. */
export async function pushRules(c: { address: string; token: string }, rule: string, n: number, timeoutMs = 10_000): Promise<Record<string, number>> {
  const client = await clientFor(c, timeoutMs);
  const out: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: n }, () =>
      client.push([alert(rule)], []).then(
        () => (out["acked"] = (out["acked"] ?? 0) + 1),
        (e: Error & { grpcCode?: number }) => (out[`grpc ${e.grpcCode ?? "?"}`] = (out[`grpc ${e.grpcCode ?? "?"}`] ?? 0) + 1),
      ),
    ),
  );
  client.close();
  return out;
}

/** A WebSocket tail client with `query` (e.g. `rule=<glob>`), token in the Authorization header. */
export function tailClient(c: { address: string; token: string }, query: string): Promise<{ ws: WebSocket; messages: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${c.address}/api/v1/tail?${query}`, { headers: { authorization: `Bearer ${c.token}` } });
    const messages: string[] = [];
    ws.on("message", (d) => messages.push(String(d)));
    ws.once("open", () => resolve({ ws, messages }));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`tail refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

// ---------------------------------------------------------------- one attack, measured

/** The figures of one attack run. */
export interface AttackFigures {
  attack: string;
  cases: number;
  /** 1 when the collector was not alive after the attack. */
  crashes: number;
  peakRssMiB: number;
  peakFds: number;
  during: LatencyStats;
  after: LatencyStats;
  /** What went wrong with the legitimate round trip after the attack (undefined: served). */
  legit: string | undefined;
  /** Attack-specific details (outcome counts, close times). */
  detail: Record<string, unknown>;
}

/**
 * Starts a collector, samples and probes it, runs `attack` (which resolves when the attack is
 * over and returns its case count and details), probes `afterMs` longer, checks a legitimate
 * round trip, stops the collector and returns the figures.
 */
export async function measureAttack(
  attack: string,
  opts: CollectorChildOptions & { afterMs?: number },
  run: (c: CollectorChild) => Promise<{ cases: number; detail?: Record<string, unknown> }>,
): Promise<AttackFigures & { logs: string[] }> {
  const c = await startCollectorChild(opts);
  const sampler = new ProcSampler(c.pid).start();
  const prober = new HealthProber(c.host, c.port);
  try {
    await sleep(300);
    const t0 = Date.now();
    const r = await run(c);
    const t1 = Date.now();
    await sleep(opts.afterMs ?? 2000);
    const legit = c.alive() ? await legitRoundTrip(c) : "collector not running";
    await prober.stop();
    sampler.stop();
    return {
      attack,
      cases: r.cases,
      crashes: c.alive() ? 0 : 1,
      peakRssMiB: Math.round(sampler.peakMiB),
      peakFds: sampler.peakFds,
      during: prober.between(t0, t1),
      after: prober.between(t1),
      legit,
      detail: r.detail ?? {},
      logs: c.logs,
    };
  } finally {
    await prober.stop().catch(() => undefined);
    sampler.stop();
    await c.stop();
  }
}

/** Closing delays (ms) summarized: how many, max, and how many over `overMs`. */
export function closeSummary(r: FloodResult, overMs: number): { closedByServer: number; maxCloseMs: number; lateOrNever: number } {
  const late = r.closedByServer.filter((ms) => ms > overMs).length + r.stillOpen;
  return { closedByServer: r.closedByServer.length, maxCloseMs: Math.round(Math.max(0, ...r.closedByServer)), lateOrNever: late };
}

export { sleep };

// ---------------------------------------------------------------- rules files

/** What `vigil rules check` did with a file. */
export interface RulesCheckRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  peakRssMiB: number;
  timedOut: boolean;
}

/** Runs `node <nodeArgs> dist/agent/cli/main.js rules check <files>` in a child, sampling its RSS. */
export function rulesCheck(files: string[], opts: { nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<RulesCheckRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? ["--max-old-space-size=256"]), CLI, "rules", "check", ...files], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const sampler = new ProcSampler(child.pid!, 50).start();
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout.length < 1_000_000 ? (stdout += d.toString()) : undefined));
    child.stderr!.on("data", (d: Buffer) => (stderr.length < 1_000_000 ? (stderr += d.toString()) : undefined));
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    child.on("exit", (code, signal) => {
      clearTimeout(t);
      sampler.stop();
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - t0), peakRssMiB: Math.round(sampler.peakMiB), timedOut });
    });
  });
}
