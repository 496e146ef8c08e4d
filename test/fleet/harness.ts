// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet tests' moving parts, all real processes: `vigil collector --nats ... --store
 * postgres://...` replicas (the CLI from sources), simulated agent processes (sim-agents.ts: the
 * agent's real spool and NATS transport), WebSocket tail clients and the query API.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { spawnTs } from "../sinks/helpers/run-ts.js";

export const TOKEN = "fleet-test-token-0123456789";

/** A collector replica process. */
export interface CollectorProc {
  readonly name: string;
  readonly address: string;
  readonly proc: ChildProcess;
  /** stderr so far (the JSON log). */
  log(): string;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after 10 s; resolves on exit. */
  stop(): Promise<void>;
}

/** Writes a collector config file (collector.fleet, collector.limits...) into `dir`; returns its path. */
export function writeCollectorConfig(dir: string, name: string, yaml: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

/** Starts `vigil collector` in fleet mode; resolves once it logged `vigil collector ready`. */
export async function startCollectorProc(o: {
  name: string;
  natsUrls: string[];
  pgUrl: string;
  config: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<CollectorProc> {
  const proc = spawnTs(
    "agent/cli/main.ts",
    ["collector", "--listen", "127.0.0.1:0", "--token", TOKEN, "--nats", o.natsUrls.join(","), "--store", o.pgUrl, "--config", o.config, "--retention", "0"],
    { env: { ...process.env, VIGIL_LOG_FORMAT: "json", VIGIL_LOG_LEVEL: "info", ...o.env } },
  );
  let err = "";
  let out = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
  });
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const address = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`collector ${o.name} did not start: ${err.slice(-3000)}`)), o.timeoutMs ?? 60_000);
    const check = () => {
      const m = /"address":"([^"]+)"[^\n]*"msg":"vigil collector ready"/.exec(err + out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    proc.stderr!.on("data", check);
    proc.stdout!.on("data", check);
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`collector ${o.name} exited with ${code}: ${err.slice(-3000)}`));
    });
  });
  return {
    name: o.name,
    address,
    proc,
    log: () => err,
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

/** A simulated-agents process and what it reported raised. */
export interface AgentsProc {
  readonly proc: ChildProcess;
  /** Raised alert IDs (printed after each export returned). */
  readonly raised: Set<string>;
  /** Highest k raised per agent (-1: none). */
  lastRaised(agent: number): number;
  readonly drained: Promise<void>;
  kill(): Promise<void>;
}

/** Starts sim-agents.ts. */
export function startAgents(o: {
  natsUrls: string[];
  spool: string;
  agents: number;
  count: number;
  from?: number;
  rate: number;
  prefix: string;
  raised?: Set<string>;
}): AgentsProc {
  const proc = spawnTs("test/fleet/sim-agents.ts", [
    "--servers",
    o.natsUrls.join(","),
    "--spool",
    o.spool,
    "--agents",
    String(o.agents),
    "--count",
    String(o.count),
    "--from",
    String(o.from ?? 0),
    "--rate",
    String(o.rate),
    "--prefix",
    o.prefix,
  ]);
  const raised = o.raised ?? new Set<string>();
  const last = new Map<number, number>();
  let buf = "";
  let err = "";
  let resolveDrained: () => void = () => undefined;
  let rejectDrained: (e: Error) => void = () => undefined;
  const drained = new Promise<void>((res, rej) => {
    resolveDrained = res;
    rejectDrained = rej;
  });
  drained.catch(() => undefined);
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf("\n");
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^RAISED (\d+) (\d+)$/.exec(line);
      if (m) {
        const a = Number(m[1]);
        const k = Number(m[2]);
        raised.add(`${o.prefix}-${a}-${k}`);
        if (k > (last.get(a) ?? -1)) last.set(a, k);
      } else if (line === "DRAINED") resolveDrained();
      i = buf.indexOf("\n");
    }
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.once("exit", (code, sig) => {
    if (sig !== "SIGKILL" && sig !== "SIGTERM") rejectDrained(new Error(`sim agents exited with ${code}: ${err.slice(-2000)}`));
  });
  return {
    proc,
    raised,
    lastRaised: (a) => last.get(a) ?? -1,
    drained,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** A live tail client (raw WebSocket): every alert line it got, in order. */
export interface TailProc {
  readonly ids: string[];
  readonly seqs: number[];
  readonly closed: boolean;
  close(): void;
}

/** Connects a tail client to a replica (live from now). */
export async function startTail(address: string): Promise<TailProc> {
  const ws = new WebSocket(`ws://${address}/api/v1/tail`, ["vigil.v1", `vigil.bearer.${TOKEN}`]);
  const ids: string[] = [];
  const seqs: number[] = [];
  let closed = false;
  let live: () => void = () => undefined;
  const isLive = new Promise<void>((r) => (live = r));
  ws.on("message", (data: Buffer) => {
    for (const line of data.toString().split("\n")) {
      if (line === "") continue;
      const m = JSON.parse(line) as { type: string; seq: number; alert?: { id: string } };
      if (m.type === "live") live();
      else if (m.type === "alert") {
        ids.push(m.alert!.id);
        seqs.push(m.seq);
      }
    }
  });
  ws.on("close", () => (closed = true));
  ws.on("error", () => (closed = true));
  await isLive;
  return {
    ids,
    seqs,
    get closed() {
      return closed;
    },
    close: () => ws.close(),
  };
}

/** Every stored alert ID with this tag (the sim agents tag alerts with their prefix), through the query API of a replica. */
export async function storedIds(address: string, tag: string): Promise<string[]> {
  const r = await fetch(`http://${address}/api/v1/alerts?limit=100000&tag=${encodeURIComponent(tag)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (r.status !== 200) throw new Error(`query: ${r.status} ${await r.text()}`);
  const text = await r.text();
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

/** A replica's counters (`GET /api/v1/stats`). */
export async function statsOf(address: string): Promise<Record<string, number>> {
  const r = await fetch(`http://${address}/api/v1/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (r.status !== 200) throw new Error(`stats: ${r.status}`);
  return (await r.json()) as Record<string, number>;
}

/** Polls until `fn` returns true or the time is up (then throws with `what`). */
export async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The per-node order check: within each node, the tail's k values must increase. */
export function outOfOrder(ids: readonly string[]): string[] {
  const last = new Map<string, number>();
  const bad: string[] = [];
  for (const id of ids) {
    const m = /^(.*)-(\d+)-(\d+)$/.exec(id);
    if (!m) continue;
    const node = `${m[1]}-${m[2]}`;
    const k = Number(m[3]);
    if (k <= (last.get(node) ?? -1)) bad.push(id);
    last.set(node, k);
  }
  return bad;
}
