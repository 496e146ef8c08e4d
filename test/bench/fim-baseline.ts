// SPDX-License-Identifier: Apache-2.0
/**
 * What the FIM start scan costs: a baseline of N files (default 11,000, about what a node's
 * watched trees hold) in a temp dir, three times in a row with one state dir:
 *   1. cold, no budget (what every start cost before the budget and the persisted baseline);
 *   2. cold again (fresh state dir) with the default budget (fim.baseline defaults);
 *   3. warm: a restart over the baseline that run 2 left on disk.
 * For each: wall time, files hashed and reused, bytes hashed, hashed bytes/s, the process's CPU
 * over the run as % of one core, and the event loop's delay (p99 and max, ms) while it ran, which
 * is what the event path would feel. File sizes are a fixed spread (most small, a few of 256 KiB),
 * so runs compare.
 *
 * usage: node --import ./test/sinks/helpers/register-ts.mjs test/bench/fim-baseline.ts [--files N] [--json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pino } from "pino";
import { DEFAULT_SCAN_BYTES_PER_SECOND, DEFAULT_SCAN_CPU_PERCENT, FileIntegrity } from "../../agent/fim/index.js";

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive whole number`);
  return v;
};
const files = arg("--files", 11_000);
const json = args.includes("--json");

const SIZES = [512, 1024, 2048, 4096, 4096, 8192, 8192, 16_384, 32_768, 65_536];
const root = mkdtempSync(join(tmpdir(), "vigil-fim-bench-"));
const tree = join(root, "tree");
let total = 0;
for (let i = 0; i < files; i++) {
  const d = join(tree, `d${i % 100}`);
  if (i < 100) mkdirSync(d, { recursive: true });
  const size = SIZES[i % SIZES.length] as number;
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32LE(i, 0);
  writeFileSync(join(d, `f${i}`), b);
  total += size;
}

interface Row {
  run: string;
  seconds: number;
  hashed: number;
  reused: number;
  mib_hashed: number;
  mib_per_s: number;
  cpu_pct: number;
  loop_p99_ms: number;
  loop_max_ms: number;
}

async function run(name: string, stateDir: string, budget: { scanBytesPerSecond: number; scanCpuPercent: number }): Promise<Row> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  h.enable();
  const fim = new FileIntegrity({ stateDir, paths: [tree], logger: pino({ level: "silent" }), ...budget });
  await fim.start();
  await fim.scanComplete();
  const secs = (performance.now() - t0) / 1000;
  h.disable();
  const cpu = process.cpuUsage(cpu0);
  const s = fim.stats();
  await fim.stop();
  const mib = (s.scan_bytes_hashed ?? 0) / 1024 / 1024;
  return {
    run: name,
    seconds: +secs.toFixed(2),
    hashed: s.scan_files_hashed ?? 0,
    reused: s.scan_files_reused ?? 0,
    mib_hashed: +mib.toFixed(1),
    mib_per_s: +(mib / secs).toFixed(1),
    cpu_pct: +((100 * (cpu.user + cpu.system)) / 1e6 / secs).toFixed(1),
    loop_p99_ms: +(h.percentile(99) / 1e6).toFixed(1),
    loop_max_ms: +(h.max / 1e6).toFixed(1),
  };
}

try {
  const rows = [
    await run("cold, no budget", join(root, "s1"), { scanBytesPerSecond: 0, scanCpuPercent: 100 }),
    await run("cold, default budget", join(root, "s2"), { scanBytesPerSecond: DEFAULT_SCAN_BYTES_PER_SECOND, scanCpuPercent: DEFAULT_SCAN_CPU_PERCENT }),
    await run("warm restart, default budget", join(root, "s2"), {
      scanBytesPerSecond: DEFAULT_SCAN_BYTES_PER_SECOND,
      scanCpuPercent: DEFAULT_SCAN_CPU_PERCENT,
    }),
  ];
  if (json) console.log(JSON.stringify({ files, mib: +(total / 1024 / 1024).toFixed(1), rows }));
  else {
    console.log(`${files} files, ${(total / 1024 / 1024).toFixed(1)} MiB`);
    console.table(rows);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
