// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet path's benchmarks (BENCHMARKS.md "Fleet: NATS JetStream and PostgreSQL"), all with
 * real processes started here in temporary directories, fresh for each part: a 3-node NATS cluster
 * with JetStream (Debian's nats-server, stream R3), PostgreSQL 15 with fsync on, `vigil collector
 * --nats --store` replicas, simulated agents and the real agent. The vigil processes run from a
 * build of the tree (tsc into .cache/, removed at the end), as production runs dist/.
 *
 *   node --import ./test/sinks/helpers/register-ts.mjs test/bench/fleet.ts [drain] [agents] [latency]
 *
 * - `drain`: for K = 1, 2, 3 collectors: the collectors start and store a warm-up, the tables are
 *   emptied, the collectors are frozen (SIGSTOP), the stream is pre-loaded with `--alerts`
 *   realistic alerts (sample-alert.mjs, pipelined publishes), then all K are resumed at once and
 *   timed until the shared consumer has nothing pending or unacknowledged; CPU (utime + stime from
 *   /proc) of each collector, of each nats-server and of PostgreSQL (the postmaster, its children
 *   alive and reaped), and how busy the whole machine was. Also bytes per message in the stream
 *   (counted and on disk), bytes per stored alert and WAL bytes per alert in PostgreSQL, peak RSS.
 *   `--fleet "store_concurrency: 1"` adds collector.fleet settings.
 * - `agents`: `--agents` simulated agents in one process (test/fleet/sim-agents.ts: each its own
 *   spool and NATS connection, the agent's real sink), one alert every `--agent-period` seconds
 *   each for `--agent-seconds`, with 3 collectors: RSS and CPU of each nats-server, collector, and
 *   the agents' process while all are connected.
 * - `latency` (root, probe built): the real `vigil agent --collector nats://...` (eBPF, built-in
 *   rules) → JetStream → a collector → PostgreSQL → a `vigil tail --output json` child;
 *   `cat /etc/shadow` every `--period` ms, a warm-up and then `--runs` times; latency = the tail's
 *   read time − the alert's kernel time, split at the insert's `received`. Then the same with the
 *   agent's embedded collector (gRPC → SQLite) as the baseline, alternating `--rounds` times.
 *
 * With no part named, all three run (latency only as root with the probe built).
 */
import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { alertMessage } from "../../proto/fleet-codec.js";
import { startNats, type NatsTestCluster } from "../helpers/nats.js";
import { startPostgres, type PgServer } from "../helpers/postgres.js";
import { statsOf, TOKEN, waitFor, writeCollectorConfig } from "../fleet/harness.js";
import { REPO, spawnTs } from "../sinks/helpers/run-ts.js";
import { sampleAlert } from "./sample-alert.mjs";

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    alerts: { type: "string", default: "100000" },
    collectors: { type: "string", default: "1,2,3" },
    /** Extra collector.fleet settings for the drain, YAML lines (e.g. "store_concurrency: 2"). */
    fleet: { type: "string", default: "" },
    agents: { type: "string", default: "1000" },
    "agent-period": { type: "string", default: "5" },
    "agent-seconds": { type: "string", default: "60" },
    runs: { type: "string", default: "300" },
    period: { type: "string", default: "50" },
    rounds: { type: "string", default: "2" },
  },
});
for (const k of ["alerts", "agents", "agent-period", "agent-seconds", "runs", "period", "rounds"] as const) {
  const x = Number(v[k]);
  if (!Number.isFinite(x) || x <= 0) throw new Error(`--${k} must be a positive number, not "${v[k]}"`);
}
if (!/^[1-9]\d?(,[1-9]\d?)*$/.test(v.collectors!)) throw new Error(`--collectors must be a list of collector counts such as 1,2,3, not "${v.collectors}"`);
const sections = new Set(positionals.length > 0 ? positionals : ["drain", "agents", "latency"]);
for (const s of sections) if (!["drain", "agents", "latency"].includes(s)) throw new Error(`unknown section ${s}: drain, agents, latency`);

const CLK_TCK = 100;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (s: string) => process.stdout.write(`${s}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const mib = (kib: number) => +(kib / 1024).toFixed(1);

/** utime + stime of a process (seconds); 0 when it is gone. */
function cpuOf(pid: number, children = false): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // fields after the comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    const t = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
    return t / CLK_TCK;
  } catch {
    return 0;
  }
}

function ppidOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

/** VmRSS in KiB. */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Bytes allocated on disk under a directory (st_blocks, as du). */
function duBytes(path: string): number {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += statSync(join(e.parentPath, e.name)).blocks * 512;
  }
  return total;
}

/** Busy core-seconds of the whole machine so far (/proc/stat: all but idle and iowait). */
function machineBusy(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3]! - f[4]!) / CLK_TCK;
}

/** PostgreSQL's postmaster pid. */
function postmasterOf(pg: PgServer): number {
  return Number(readFileSync(join(pg.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

/** CPU of the postmaster and every backend and worker: its own, its reaped children's, its live children's. */
function pgCpu(pg: PgServer): number {
  const pm = postmasterOf(pg);
  let t = cpuOf(pm, true);
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (ppidOf(pid) === pm) t += cpuOf(pid);
  }
  return t;
}

/** The monitoring port of a test nats-server (from its config file). */
function monitorPort(nats: NatsTestCluster, i: number): number {
  const m = /http: "127\.0\.0\.1:(\d+)"/.exec(readFileSync(join(nats.dir, `n${i}.conf`), "utf8"));
  if (!m) throw new Error("no monitor port in the nats config");
  return Number(m[1]);
}

async function varz(nats: NatsTestCluster, i: number): Promise<{ connections: number; mem: number }> {
  const r = await fetch(`http://127.0.0.1:${monitorPort(nats, i)}/varz`);
  return (await r.json()) as { connections: number; mem: number };
}

function pct(sorted: number[], p: number): number {
  return +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1);
}

// --- the vigil CLI: compiled, as production runs it ------------------------------------------

/**
 * The collectors, the agent and `vigil tail` run from a build of the current tree (tsc into
 * .cache/, removed at the end), as the image runs dist/: from the TypeScript sources through the
 * test loader each process would carry a module-hooks thread (a second V8 isolate, the compiler
 * when a file changed), which inflates RSS. When the tree does not compile, the sources are used
 * and the report says so.
 */
const BUILD = join(REPO, ".cache", `fleet-bench-dist-${process.pid}`);
let fromSources = false;
try {
  execFileSync(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--outDir", BUILD], {
    cwd: REPO,
    stdio: "pipe",
  });
} catch (err) {
  fromSources = true;
  rmSync(BUILD, { recursive: true, force: true });
  const out = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
  process.stdout.write(`the tree does not compile; running vigil from the sources (RSS includes the loader thread):\n${out.slice(0, 2000)}\n`);
}

/** `vigil ARGS` as a child process. */
function vigil(args: string[], opts: SpawnOptions = {}): ChildProcess {
  if (fromSources) return spawnTs("agent/cli/main.ts", args, opts);
  return spawn(process.execPath, [join(BUILD, "agent", "cli", "main.js"), ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], ...opts });
}

/** A collector replica. */
interface CollectorProc {
  readonly address: string;
  readonly proc: ChildProcess;
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** `vigil collector --nats ... --store postgres://...`; resolves once it logged that it is ready. */
async function startCollectorProc(config: string): Promise<CollectorProc> {
  const proc = vigil(
    ["collector", "--listen", "127.0.0.1:0", "--token", TOKEN, "--nats", nats.urls.join(","), "--store", pg.url, "--config", config, "--retention", "0"],
    {
      env: { ...process.env, VIGIL_LOG_FORMAT: "json", VIGIL_LOG_LEVEL: "info" },
    },
  );
  children.push(proc);
  proc.stdout!.resume();
  let err = "";
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const address = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`collector did not start: ${err.slice(-3000)}`)), 60_000);
    proc.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-100_000);
      const m = /"address":"([^"]+)"[^\n]*"msg":"vigil collector ready"/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`collector exited with ${code}: ${err.slice(-3000)}`));
    });
  });
  return {
    address,
    proc,
    signal: (sig) => proc.kill(sig),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGCONT");
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// --- the servers, shared by every section ---------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "vigil-bench-fleet-"));
// PostgreSQL as in production: fsync, full-page writes and synchronous commit on (the test
// helper turns the first two off); memory for a small dedicated server
const PG_SETTINGS = { fsync: "on", full_page_writes: "on", synchronous_commit: "on", shared_buffers: "256MB", max_wal_size: "2GB" };
log(`fleet bench: ${new Date().toISOString()}, load ${load()}, node ${process.version}, vigil from ${fromSources ? "the sources" : "a build"}, dir ${dir}`);
let nats: NatsTestCluster;
let pg: PgServer;
let servers = false;
const children: ChildProcess[] = [];
let collectors: CollectorProc[] = [];

/** A fresh 3-node NATS cluster and PostgreSQL for each section (a drained stream leaves nats-server's memory grown). */
async function startServers(): Promise<void> {
  [nats, pg] = await Promise.all([startNats({ nodes: 3, maxFileStore: 4 * 1024 ** 3 }), startPostgres({ settings: PG_SETTINGS })]);
  servers = true;
}

async function stopServers(): Promise<void> {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(collectors.map((c) => c.stop()));
  collectors = [];
  if (!servers) return;
  servers = false;
  await nats.close();
  await pg.stop();
}

const cleanup = async () => {
  await stopServers();
  rmSync(dir, { recursive: true, force: true });
  rmSync(BUILD, { recursive: true, force: true });
};
process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));

const baseConfig = (extra: string) => `collector:
  fleet:
    max_bytes: 2147483648
    ack_wait_ms: 300000
${extra
  .split(/\\n|\n/)
  .filter((l) => l.trim() !== "")
  .map((l) => `    ${l.trim()}`)
  .join("\n")}
  nats:
    cluster: bench
`;

const startCollectors = async (k: number, config: string): Promise<CollectorProc[]> => {
  // the first creates the stream and the consumer; the others validate them
  const first = await startCollectorProc(config);
  const rest = await Promise.all(Array.from({ length: k - 1 }, () => startCollectorProc(config)));
  return [first, ...rest];
};

async function adminQuery<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const c = await pg.adminClient(pg.database);
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Bytes of the alerts table (every partition, indexes and TOAST) and of alert_ids. */
async function storeBytes(): Promise<{ alerts: number; alertIds: number; rows: number }> {
  const [r] = await adminQuery<{ alerts: string; ids: string; rows: string }>(
    `SELECT (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'alerts'::regclass) AS alerts,
            pg_total_relation_size('alert_ids') AS ids, (SELECT count(*) FROM alerts) AS rows`,
  );
  return { alerts: Number(r!.alerts), alertIds: Number(r!.ids), rows: Number(r!.rows) };
}

/** Publishes n sample alerts over one connection per server, `window` in flight in all. */
async function preload(n: number, nodes: number, window = 1500): Promise<{ seconds: number }> {
  const conns: NatsConnection[] = await Promise.all(nats.urls.map((u) => connect({ servers: u })));
  const jss = conns.map((nc) => jetstream(nc, { timeout: 60_000 }));
  const t0 = performance.now();
  let next = 0;
  const worker = async (w: number) => {
    const js = jss[w % jss.length]!;
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const node = `node-${i % nodes}`;
      const m = alertMessage(`vigil.alerts.bench.${node}`, sampleAlert(i, { hostname: node, pod: `web-${i % 97}` }), node);
      await js.publish(m.subject, m.data, { msgID: m.msgId, headers: m.headers });
    }
  };
  await Promise.all(Array.from({ length: window }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.close()));
  return { seconds };
}

async function streamState(): Promise<{ messages: number; bytes: number }> {
  const nc = await connect({ servers: nats.urls });
  try {
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info("VIGIL");
    return { messages: si.state.messages, bytes: si.state.bytes };
  } finally {
    await nc.close();
  }
}

/**
 * Until the shared consumer has nothing pending or unacknowledged: a collector acks after its
 * commit (asked of the consumer's leader, not of the collectors, whose CPU is measured).
 */
async function waitDrained(timeoutMs: number, onPoll?: () => void): Promise<void> {
  const nc = await connect({ servers: nats.urls });
  try {
    const jsm = await jetstreamManager(nc);
    const t0 = performance.now();
    for (;;) {
      onPoll?.();
      const ci = await jsm.consumers.info("VIGIL", "vigil-collectors");
      if (ci.num_pending === 0 && ci.num_ack_pending === 0 && ci.ack_floor.stream_seq >= ci.delivered.stream_seq) return;
      if (performance.now() - t0 > timeoutMs) throw new Error(`not drained after ${timeoutMs} ms: ${JSON.stringify(ci)}`);
      await sleep(50);
    }
  } finally {
    await nc.close();
  }
}

// --- drain: stored alerts per second with K collectors --------------------------------------

async function drain(): Promise<void> {
  const n = Number(v.alerts);
  const ks = v.collectors!.split(",").map(Number);
  const config = writeCollectorConfig(dir, "drain", baseConfig(v.fleet!));
  log(`\n## drain: ${n} alerts pre-loaded into the R3 stream, then K collectors resumed at once (config: ${JSON.stringify(readFileSync(config, "utf8"))})`);
  log(`PostgreSQL settings: ${JSON.stringify(PG_SETTINGS)}`);
  for (const k of ks) {
    collectors = await startCollectors(k, config);
    // warm-up (the JIT, the pools, the partitions): a tenth of the run through the running collectors
    await preload(Math.ceil(n / 10), 500);
    await waitDrained(120_000);
    // each run starts from empty tables
    await adminQuery("TRUNCATE alerts, alert_ids");
    await adminQuery("CHECKPOINT");
    await sleep(1000);
    const warm = await Promise.all(collectors.map((c) => statsOf(c.address)));
    for (const c of collectors) c.signal("SIGSTOP");
    const natsBefore = nats.servers.map((s) => cpuOf(s.pid!));
    const pre = await preload(n, 500);
    const natsPre = nats.servers.map((s, i) => cpuOf(s.pid!) - natsBefore[i]!).reduce((a, b) => a + b, 0);
    const st = await streamState();
    const disk = nats.servers.map((_, i) => duBytes(join(nats.dir, `n${i}`, "jetstream")));
    log(
      `K=${k}: pre-loaded ${st.messages} messages (${st.bytes} bytes, ${(st.bytes / st.messages).toFixed(0)} B/message per replica) in ${pre.seconds.toFixed(1)} s ` +
        `(${Math.round(n / pre.seconds)}/s published, R3, 1,500 publishes in flight; nats CPU ${((natsPre / n) * 1e6).toFixed(1)} ms per 1,000 published); ` +
        `JetStream store on disk ${disk.map((b) => mib(b / 1024)).join(" ")} MiB = ${(disk.reduce((a, b) => a + b, 0) / 3 / st.messages).toFixed(0)} B/message per server`,
    );
    await sleep(1000);
    const [lsn0] = await adminQuery<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
    const before = {
      col: collectors.map((c) => cpuOf(c.proc.pid!)),
      nats: nats.servers.map((s) => cpuOf(s.pid!)),
      pg: pgCpu(pg),
      busy: machineBusy(),
      load: load(),
    };
    const t0 = performance.now();
    for (const c of collectors) c.signal("SIGCONT");
    const peak = { col: collectors.map(() => 0), nats: nats.servers.map(() => 0) };
    await waitDrained(600_000, () => {
      for (const [i, c] of collectors.entries()) peak.col[i] = Math.max(peak.col[i]!, rssOf(c.proc.pid!));
      for (const [i, x] of nats.servers.entries()) peak.nats[i] = Math.max(peak.nats[i]!, rssOf(x.pid!));
    });
    const seconds = (performance.now() - t0) / 1000;
    const after = {
      col: collectors.map((c) => cpuOf(c.proc.pid!)),
      nats: nats.servers.map((s) => cpuOf(s.pid!)),
      pg: pgCpu(pg),
      busy: machineBusy(),
    };
    const [wal] = await adminQuery<{ bytes: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsn0!.lsn}') AS bytes`);
    const colCpu = after.col.map((x, i) => x - before.col[i]!);
    const natsCpu = after.nats.map((x, i) => x - before.nats[i]!);
    const pgCpuS = after.pg - before.pg;
    const colSum = colCpu.reduce((a, b) => a + b, 0);
    const natsSum = natsCpu.reduce((a, b) => a + b, 0);
    // the counters of the measured drain (minus the warm-up's)
    const last = (await Promise.all(collectors.map((c) => statsOf(c.address)))).map((x, i) =>
      Object.fromEntries(Object.entries(x).map(([key, val]) => [key, val - (warm[i]![key] ?? 0)])),
    );
    const per = last.map((x) => x["fleet_alerts_stored"] ?? 0);
    const stored = per.reduce((a, b) => a + b, 0);
    const bytes = await storeBytes();
    log(
      `K=${k}: stored ${stored} in ${seconds.toFixed(2)} s = ${Math.round(stored / seconds)} alerts/s; per collector ${JSON.stringify(per)}; ` +
        `batches ${last.reduce((s, x) => s + (x["fleet_batches"] ?? 0), 0)}, redelivered ${last.reduce((s, x) => s + (x["fleet_redelivered"] ?? 0), 0)}, ` +
        `duplicates ${last.reduce((s, x) => s + (x["fleet_alerts_duplicate"] ?? 0), 0)}, store errors ${last.reduce((s, x) => s + (x["fleet_store_errors"] ?? 0), 0)}; rows in PostgreSQL ${bytes.rows}`,
    );
    log(
      `K=${k}: CPU s: collectors ${colCpu.map((x) => x.toFixed(2)).join(" ")} (sum ${colSum.toFixed(2)}), nats ${natsCpu.map((x) => x.toFixed(2)).join(" ")} (sum ${natsSum.toFixed(2)}), postgres ${pgCpuS.toFixed(2)}; ` +
        `total ${(colSum + natsSum + pgCpuS).toFixed(2)}; the machine was busy ${(after.busy - before.busy).toFixed(2)} of ${(availableParallelism() * seconds).toFixed(2)} core-seconds ` +
        `(others, this bench's polling included: ${(after.busy - before.busy - colSum - natsSum - pgCpuS).toFixed(2)}); load before ${before.load}`,
    );
    log(
      `K=${k}: per 1,000 alerts: collector ${((colSum / stored) * 1e6).toFixed(1)} ms CPU (${Math.round(stored / colSum)} alerts per collector CPU-second), ` +
        `nats ${((natsSum / stored) * 1e6).toFixed(1)} ms, postgres ${((pgCpuS / stored) * 1e6).toFixed(1)} ms, all ${(((colSum + natsSum + pgCpuS) / stored) * 1e6).toFixed(1)} ms`,
    );
    log(`K=${k}: peak RSS MiB during the drain: collectors ${peak.col.map(mib).join(" ")}, nats ${peak.nats.map(mib).join(" ")}`);
    log(
      `K=${k}: PostgreSQL bytes: alerts ${bytes.alerts} + alert_ids ${bytes.alertIds} for ${bytes.rows} rows = ${((bytes.alerts + bytes.alertIds) / bytes.rows).toFixed(0)} B/alert; ` +
        `WAL written during the drain ${Number(wal!.bytes)} B = ${(Number(wal!.bytes) / stored).toFixed(0)} B/alert (the first after a checkpoint: full-page images)`,
    );
    for (const c of collectors) await c.stop();
    collectors = [];
  }
}

// --- agents: 1,000 connections --------------------------------------------------------------

async function agents(): Promise<void> {
  const n = Number(v.agents);
  const period = Number(v["agent-period"]);
  const secs = Number(v["agent-seconds"]);
  const count = Math.max(1, Math.round(secs / period));
  const config = writeCollectorConfig(dir, "agents", baseConfig(""));
  log(
    `\n## agents: ${n} simulated agents in one process (test/fleet/sim-agents.ts: each its own spool and NATS connection), one alert every ${period} s each (${count} each), 3 collectors`,
  );
  collectors = await startCollectors(3, config);
  await adminQuery("TRUNCATE alerts, alert_ids");
  await sleep(2000);
  const idle = {
    nats: nats.servers.map((s) => rssOf(s.pid!)),
    col: collectors.map((c) => rssOf(c.proc.pid!)),
  };
  log(`idle RSS MiB: nats ${idle.nats.map(mib).join(" ")}, collectors ${idle.col.map(mib).join(" ")}`);
  const t0 = performance.now();
  const ag = spawnTs("test/fleet/sim-agents.ts", [
    "--servers",
    nats.urls.join(","),
    "--spool",
    join(dir, "agents-spool"),
    "--agents",
    String(n),
    "--count",
    String(count),
    "--rate",
    String(1 / period),
    "--batch",
    "1",
    "--prefix",
    "bench",
  ]);
  children.push(ag);
  let raised = 0;
  let drained = false;
  let agErr = "";
  ag.stderr!.on("data", (d: Buffer) => (agErr = (agErr + d.toString()).slice(-4000)));
  createInterface({ input: ag.stdout! }).on("line", (l) => {
    if (l.startsWith("RAISED ")) raised++;
    else if (l === "DRAINED") drained = true;
  });
  ag.once("exit", (code) => {
    if (!drained) throw new Error(`sim agents exited with ${code}: ${agErr}`);
  });
  // from the moment every agent is connected to the end: peaks of RSS, and CPU
  const peak = { nats: [0, 0, 0], col: collectors.map(() => 0), agents: 0 };
  let samples = 0;
  let connectedAt = 0;
  let from: { nats: number[]; col: number[]; agents: number; raised: number } | undefined;
  while (!drained) {
    await sleep(1000);
    const vz = await Promise.all(nats.servers.map((_, i) => varz(nats, i)));
    if (vz.reduce((s2, x) => s2 + x.connections, 0) < n + collectors.length) continue;
    if (from === undefined) {
      connectedAt = (performance.now() - t0) / 1000;
      from = { nats: nats.servers.map((s2) => cpuOf(s2.pid!)), col: collectors.map((c) => cpuOf(c.proc.pid!)), agents: cpuOf(ag.pid!), raised };
    }
    samples++;
    for (const [i, s2] of nats.servers.entries()) peak.nats[i] = Math.max(peak.nats[i]!, rssOf(s2.pid!));
    for (const [i, c] of collectors.entries()) peak.col[i] = Math.max(peak.col[i]!, rssOf(c.proc.pid!));
    peak.agents = Math.max(peak.agents, rssOf(ag.pid!));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (from === undefined) throw new Error("the agents never were all connected at once");
  const window = seconds - connectedAt;
  const cpu = {
    nats: nats.servers.map((s2, i) => cpuOf(s2.pid!) - from!.nats[i]!),
    col: collectors.map((c, i) => cpuOf(c.proc.pid!) - from!.col[i]!),
    agents: cpuOf(ag.pid!) - from.agents,
  };
  const vz = await Promise.all(nats.servers.map((_, i) => varz(nats, i)));
  await waitFor("every agent alert stored", async () => (await storeBytes()).rows >= n * count, 120_000, 500);
  const alerts = raised - from.raised;
  log(
    `all ${n} agents connected after ${connectedAt.toFixed(1)} s; connections per server at the end ${vz.map((x) => x.connections).join(" ")}; ` +
      `${n * count} alerts raised and stored, ${alerts} of them in the ${window.toFixed(0)} s with all connected (${samples} samples)`,
  );
  log(
    `peak RSS MiB while connected: nats ${peak.nats.map(mib).join(" ")}, collectors ${peak.col.map(mib).join(" ")}, agents' process ${mib(peak.agents)} (${(peak.agents / n).toFixed(0)} KiB per agent)`,
  );
  const pct1 = (x: number) => `${((x / window) * 100).toFixed(1)}%`;
  log(
    `CPU over that window (% of one core): nats ${cpu.nats.map(pct1).join(" ")}, collectors ${cpu.col.map(pct1).join(" ")}, agents' process ${pct1(cpu.agents)}; load ${load()}`,
  );
  ag.kill("SIGKILL");
  for (const c of collectors) await c.stop();
  collectors = [];
}

// --- latency: syscall → vigil tail line -----------------------------------------------------

interface Agent {
  proc: ChildProcess;
  /** The embedded collector's address (embedded mode). */
  embedded: string | undefined;
  stop(): Promise<void>;
}

async function startAgent(mode: "fleet" | "embedded"): Promise<Agent> {
  const d = mkdtempSync(join(dir, `agent-${mode}-`));
  const args =
    mode === "fleet"
      ? ["agent", "--collector", nats.urls.join(","), "--spool", join(d, "spool"), "--data", d]
      : ["agent", "--embedded-collector", "127.0.0.1:0", "--token", TOKEN, "--data", d];
  const proc = vigil([...args, "--no-metrics", "--no-fim-scan", "--stats-interval", "0", "--output", "json"], {
    env: { ...process.env, VIGIL_LOG_FORMAT: "json", VIGIL_LOG_LEVEL: "info" },
  });
  children.push(proc);
  proc.stdout!.resume();
  let err = "";
  let embedded: string | undefined;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent (${mode}) not ready: ${err.slice(-3000)}`)), 120_000);
    proc.stderr!.on("data", (b: Buffer) => {
      err = (err + b.toString()).slice(-100_000);
      const m = /"address":"([^"]+)"[^\n]*embedded collector listening/.exec(err);
      if (m) embedded = m[1];
      if (/"msg":"[^"]*ready/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`agent (${mode}) exited with ${code}: ${err.slice(-3000)}`));
    });
  });
  return {
    proc,
    embedded,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** One measured alert: its ID, kernel time and the tail's read time (epoch ms). */
interface Sample {
  id: string;
  kernel: number;
  tail: number;
}

/**
 * Runs `cat /etc/shadow` `warm` + `runs` times, `period` ms apart, and returns the measured runs
 * (the first `warm` are not counted: the agent's, the collector's and the tail's code paths run
 * cold at first).
 */
async function measure(address: string, warm: number, runs: number, period: number): Promise<Sample[]> {
  const tail = vigil(["tail", "--collector", address, "--token", TOKEN, "--output", "json"]);
  children.push(tail);
  const waiters = new Map<string, (s: Sample) => void>();
  createInterface({ input: tail.stdout! }).on("line", (l) => {
    const now = Date.now();
    const a = JSON.parse(l) as { id: string; time: string; rule: string; output_fields: Record<string, unknown> };
    if (a.rule !== "Read Shadow File") return;
    const t = Date.parse(`${a.time.slice(0, 23)}Z`) + Number(a.time.slice(23, 29)) / 1e6;
    waiters.get(String(a.output_fields["proc.pid"]))?.({ id: a.id, kernel: t, tail: now });
  });
  const once = (timeoutMs: number): Promise<Sample> => {
    const c = spawn("cat", ["/etc/shadow"], { stdio: "ignore" });
    const key = String(c.pid);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(key);
        reject(new Error(`no tail line within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(key, (s) => {
        clearTimeout(timer);
        waiters.delete(key);
        resolve(s);
      });
    });
  };
  // the tail connects asynchronously: until a first line arrives
  for (let i = 0; ; i++) {
    try {
      await once(3000);
      break;
    } catch (err) {
      if (i > 10) throw err;
    }
  }
  const pending: Promise<Sample>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < warm + runs; i++) {
    pending.push(once(10_000));
    const wait = t0 + (i + 1) * period - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const out = await Promise.all(pending);
  tail.kill("SIGTERM");
  return out.slice(warm);
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${pct(s, 50)} ms, p90 ${pct(s, 90)} ms, p99 ${pct(s, 99)} ms, max ${s.at(-1)!.toFixed(1)} ms`;
};

async function latency(): Promise<void> {
  if (process.getuid?.() !== 0 || !existsSync(join(REPO, "native-bridge", "build", "vigil-probe"))) {
    log("\n## latency: skipped (needs root and the probe: make -C native-bridge)");
    return;
  }
  const runs = Number(v.runs);
  const period = Number(v.period);
  const warm = 60;
  log(`\n## latency: cat /etc/shadow ${warm} (warm-up, not counted) + ${runs} times, ${period} ms apart; the real agent (eBPF, built-in rules)`);
  const config = writeCollectorConfig(dir, "latency", baseConfig(""));
  collectors = await startCollectors(1, config);
  const col = collectors[0]!;
  for (let round = 1; round <= Number(v.rounds); round++) {
    for (const mode of ["fleet", "embedded"] as const) {
      const agent = await startAgent(mode);
      await sleep(2000);
      const address = mode === "fleet" ? col.address : agent.embedded!;
      const l0 = load();
      const busy0 = machineBusy();
      const t0 = performance.now();
      const samples = await measure(address, warm, runs, period);
      const busy = (machineBusy() - busy0) / ((performance.now() - t0) / 1000);
      log(
        `round ${round} ${mode === "fleet" ? "agent → NATS (R3) → collector → PostgreSQL → tail" : "agent → gRPC → embedded collector (SQLite) → tail"}: ` +
          `${summary(samples.map((x) => x.tail - x.kernel))} (${samples.length} samples); machine busy ${busy.toFixed(2)} cores on average (load ${l0} → ${load()})`,
      );
      if (mode === "fleet") {
        // where the time went: `received` is now() of the insert's transaction in PostgreSQL
        const rows = await adminQuery<{ id: string; received: Date }>(
          `SELECT id, received FROM alerts WHERE id IN (${samples.map((x) => `'${x.id.replace(/[^0-9A-Za-z-]/g, "")}'`).join(",")})`,
        );
        const received = new Map(rows.map((r) => [r.id, r.received.getTime()]));
        const got = samples.filter((x) => received.has(x.id));
        log(
          `  syscall → insert transaction start (probe, rules, spool, publish, R3 PubAck, consumer delivery, decode): ${summary(got.map((x) => received.get(x.id)! - x.kernel))}`,
        );
        log(
          `  insert transaction start → tail line (commit, ack, announce, ack floor, read back, WebSocket, vigil tail): ${summary(got.map((x) => x.tail - received.get(x.id)!))}`,
        );
      }
      await agent.stop();
    }
  }
  for (const c of collectors) await c.stop();
  collectors = [];
}

try {
  for (const [name, run] of [
    ["drain", drain],
    ["agents", agents],
    ["latency", latency],
  ] as const) {
    if (!sections.has(name)) continue;
    await startServers();
    await run();
    await stopServers();
  }
} finally {
  await cleanup();
}
process.exit(0);
