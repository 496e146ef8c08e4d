// SPDX-License-Identifier: Apache-2.0
/**
 * The FIM start scan's budget and its persistent baseline, against real files in a temp dir:
 * the byte budget holds over a scan of many files, a second start reads no unchanged file
 * (reads counted through a spy on hashFile), a changed file is re-hashed, a corrupt or foreign
 * baseline file is set aside and rebuilt, and the budget's arithmetic on a fake clock.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../agent/config/schema.js";
import { type BudgetClock, FileIntegrity, ScanBudget } from "../../agent/fim/index.js";
import { alert, event, fileFd, thread } from "./event-fixture.js";

const reads = vi.hoisted(() => ({ paths: [] as string[] }));
vi.mock("../../agent/fim/hash.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../agent/fim/hash.js")>();
  return {
    ...real,
    hashFile: (path: string, ...rest: Parameters<typeof real.hashFile> extends [string, ...infer R] ? R : never) => {
      reads.paths.push(path);
      return real.hashFile(path, ...rest);
    },
  };
});

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

describe("FIM start scan", () => {
  let dir: string;
  let watched: string;
  let state: string;
  const FILES = 200;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fim-scan-"));
    watched = join(dir, "etc");
    state = join(dir, "state");
    for (let d = 0; d < 4; d++) {
      mkdirSync(join(watched, `d${d}`), { recursive: true });
      for (let i = 0; i < FILES / 4; i++) writeFileSync(join(watched, `d${d}`, `f${i}`), `file ${d}/${i}\n`.repeat(100));
    }
    reads.paths.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (opts: Partial<ConstructorParameters<typeof FileIntegrity>[0]> = {}) => {
    const { logger, lines } = captureLogger();
    const fim = new FileIntegrity({ stateDir: state, paths: [watched], logger, scanBytesPerSecond: 0, scanCpuPercent: 100, ...opts });
    await fim.start();
    await fim.scanComplete();
    return { fim, lines };
  };

  it("hashes within the byte budget and yields between files", async () => {
    // 64 files x 32 KiB = 2 MiB at 1 MiB/s: at least ~1.75 s (2 MiB less a 250 ms burst)
    rmSync(watched, { recursive: true });
    mkdirSync(watched);
    for (let i = 0; i < 64; i++) writeFileSync(join(watched, `b${i}`), Buffer.alloc(32 * 1024, i));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const t0 = performance.now();
    const { fim, lines } = await start({ scanBytesPerSecond: 1024 * 1024 });
    const secs = (performance.now() - t0) / 1000;
    clearInterval(ticker);
    const s = fim.stats();
    await fim.stop();
    expect(s.scan_bytes_hashed).toBe(64 * 32 * 1024);
    expect(s.scan_files_hashed).toBe(64);
    // a lower bound on time never flakes on a slow machine; the upper one is generous
    expect(secs).toBeGreaterThan(1.6);
    expect(secs).toBeLessThan(60);
    expect(s.scan_bytes_hashed / secs).toBeLessThan(1.2 * 1024 * 1024);
    expect(s.scan_throttle_waits).toBeGreaterThan(10);
    // the event loop kept turning while the scan ran (a 20 ms timer fired many times)
    expect(ticks).toBeGreaterThan(20);
    const done = lines.filter((l) => l.msg === "FIM baseline scan done");
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ files: 64, hashed: 64, reused: 0, bytesHashed: 64 * 32 * 1024 });
    expect(done[0]?.durationMs).toBeGreaterThan(1600);
  }, 90_000);

  it("reuses the persisted baseline on a second start without reading unchanged files, and re-hashes a changed one", async () => {
    const first = await start();
    expect(first.fim.stats()).toMatchObject({ scan_files_hashed: FILES, scan_files_reused: 0, scan_files_done: FILES, scan_complete: 1 });
    await first.fim.stop();
    expect(reads.paths).toHaveLength(FILES);

    const changed = join(watched, "d2", "f7");
    writeFileSync(changed, "changed\n");
    const touched = join(watched, "d1", "f3"); // same content, new mtime: re-read, same hash
    utimesSync(touched, new Date(), new Date(Date.now() + 5000));
    reads.paths.length = 0;
    const second = await start();
    const s = second.fim.stats();
    expect(s).toMatchObject({ scan_files_hashed: 2, scan_files_reused: FILES - 2, scan_files_done: FILES, baseline_entries: FILES });
    expect(s.scan_bytes_hashed).toBe("changed\n".length + "file 1/3\n".repeat(100).length);
    expect(reads.paths.sort()).toEqual([touched, changed].sort());
    expect(second.lines.find((l) => l.msg === "FIM baseline scan done")).toMatchObject({ reused: FILES - 2, hashed: 2 });

    // the "before" of a later change is the re-hashed content, as it always was
    writeFileSync(changed, "changed again\n");
    const a = alert();
    await second.fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: changed }, thread(process.pid, dir), fileFd(99999, changed), 3));
    expect(a.output_fields).toMatchObject({ "fim.action": "modified", "fim.sha256_before": sha("changed\n"), "fim.sha256_after": sha("changed again\n") });
    await second.fim.stop();
  });

  it.each([
    ["corrupt", (p: string) => writeFileSync(p, "SQLite format 3\u0000" + "garbage".repeat(100))],
    [
      "foreign",
      (p: string) => {
        const db = new DatabaseSync(p);
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
        db.close();
      },
    ],
    [
      "older layout",
      (p: string) => {
        const db = new DatabaseSync(p);
        db.exec(
          "CREATE TABLE files (key TEXT PRIMARY KEY, sha256 BLOB NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ino INTEGER NOT NULL) WITHOUT ROWID",
        );
        db.close();
      },
    ],
  ])("sets a %s baseline file aside with one log line and rebuilds it", async (why, spoil) => {
    const first = await start();
    await first.fim.stop();
    const file = join(state, "fim-baseline.sqlite");
    for (const n of readdirSync(state)) rmSync(join(state, n));
    spoil(file);
    reads.paths.length = 0;
    const second = await start();
    expect(second.fim.stats()).toMatchObject({ baseline_corrupt: 1, scan_files_hashed: FILES, scan_files_reused: 0, baseline_entries: FILES });
    const warned = second.lines.filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ msg: "FIM baseline was not readable; set aside, rebuilding", reason: why === "corrupt" ? "corrupt" : "foreign" });
    await second.fim.stop();
    expect(readdirSync(state).some((n) => n.includes(".corrupt-"))).toBe(true);
    // the rebuilt file is reused by a third start
    reads.paths.length = 0;
    const third = await start();
    expect(third.fim.stats()).toMatchObject({ baseline_corrupt: 0, scan_files_hashed: 0, scan_files_reused: FILES });
    expect(reads.paths).toHaveLength(0);
    await third.fim.stop();
  });

  it("caps the baseline's entries", async () => {
    const { fim } = await start({ maxBaselineEntries: 50 });
    const s = fim.stats();
    await fim.stop();
    expect(s.baseline_entries).toBe(50);
    expect(s.scan_files_hashed).toBe(50);
    expect(s.baseline_full).toBe(FILES - 50);
  });
});

/** A fake clock: sleeping advances it; CPU advances by what the test says a step used. */
function fakeClock() {
  const c = { t: 0, cpu: 0, slept: 0 };
  const clock: BudgetClock = {
    now: () => c.t,
    cpuMicros: () => c.cpu,
    sleep: async (ms) => {
      c.t += ms;
      c.slept += ms;
    },
  };
  return { c, clock };
}

describe("ScanBudget", () => {
  it("holds bytes per second over many charges (one burst at most)", async () => {
    const { c, clock } = fakeClock();
    const b = new ScanBudget({ bytesPerSecond: 1_000_000, cpuPercent: 100, clock });
    for (let i = 0; i < 1000; i++) await b.bytes(10_000); // 10 MB
    expect(c.t).toBeGreaterThanOrEqual(10_000 - 250);
    expect(c.t).toBeLessThanOrEqual(10_000);
  });

  it("holds CPU percent: 1 ms of CPU per step at 5 % needs 20 ms of wall time per step", async () => {
    const { c, clock } = fakeClock();
    const b = new ScanBudget({ bytesPerSecond: 0, cpuPercent: 5, clock });
    for (let i = 0; i < 500; i++) {
      b.beginStep();
      c.cpu += 1000;
      c.t += 1;
      await b.endStep();
    }
    expect(b.cpuMicros).toBe(500_000);
    // 0.5 s of CPU at 5 % = 10 s of wall time, less one burst
    expect(c.t).toBeGreaterThanOrEqual(10_000 - 250);
    expect(c.t).toBeLessThanOrEqual(10_000 + 1);
  });

  it("banks no more than a burst after an idle spell, and never waits when unlimited", async () => {
    const { c, clock } = fakeClock();
    const b = new ScanBudget({ bytesPerSecond: 1000, cpuPercent: 100, clock });
    c.t += 60_000;
    await b.bytes(1000);
    expect(c.slept).toBe(750);
    const u = new ScanBudget({ bytesPerSecond: 0, cpuPercent: 100, clock });
    for (let i = 0; i < 100; i++) await u.bytes(1e9);
    expect(u.waits).toBe(0);
  });

  it.each([
    [{ bytesPerSecond: -1, cpuPercent: 5 }, /bytes_per_second/],
    [{ bytesPerSecond: Number.NaN, cpuPercent: 5 }, /bytes_per_second/],
    [{ bytesPerSecond: 0, cpuPercent: 0 }, /cpu_percent/],
    [{ bytesPerSecond: 0, cpuPercent: 101 }, /cpu_percent/],
  ])("rejects %o", (opts, msg) => expect(() => new ScanBudget(opts)).toThrow(msg));
});

describe("fim.baseline config", () => {
  it("has defaults that keep the scan to a few percent of a core", () => {
    const cfg = configSchema.parse({});
    expect(cfg.fim.baseline).toEqual({ bytes_per_second: 8 * 1024 * 1024, cpu_percent: 5, max_entries: 1_000_000 });
  });

  it("takes byte sizes and rejects out-of-range values with the key's path", () => {
    expect(configSchema.parse({ fim: { baseline: { bytes_per_second: "2MiB", cpu_percent: 10 } } }).fim.baseline.bytes_per_second).toBe(2 * 1024 * 1024);
    for (const bad of [{ cpu_percent: 0 }, { cpu_percent: 150 }, { bytes_per_second: "fast" }, { max_entries: 5 }, { unknown: 1 }]) {
      const r = configSchema.safeParse({ fim: { baseline: bad } });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toContain('"baseline"');
    }
  });
});
