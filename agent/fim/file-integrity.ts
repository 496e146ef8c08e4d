// SPDX-License-Identifier: Apache-2.0
/**
 * File integrity monitoring: turns an alert of a rule tagged `fim` into a change record with the
 * file's SHA-256 before and after.
 *
 * - "After" is read through the writing process's own root (`/proc/<pid>/root/<path>`), so a file
 *   in a container is read from that container's file system; when the process is already gone,
 *   an ancestor in the same container, or any process of that container, lends its root.
 * - "Before" comes from the baseline kept on disk (host files are baselined by a background scan at
 *   start; every change updates it), or, for a container file changed for the first time, from the
 *   container's image layers (the overlay's lowerdirs).
 * - For a file opened for writing, the module waits (bounded) until the writer closed the file
 *   descriptor before hashing, so the hash is of the finished content. A rewrite that leaves the
 *   content as it was is reported as `unchanged`.
 * - Files above the size cap, non-regular files and unreadable paths are reported with a note and
 *   no hash; nothing here ever throws into the pipeline.
 */
import { readdir, readFile, readlink, stat, lstat } from "node:fs/promises";
import { posix } from "node:path";
import { EVENTS, type ParamSpec } from "../../rules/event-table.js";
import type { SyscallEvent } from "../../rules/event.js";
import type { Logger } from "../log.js";
import { Baseline, baselineKey, type BaselineEntry } from "./baseline.js";
import { ScanBudget } from "./budget.js";
import { hashFile, type HashResult } from "./hash.js";
import { lowerDirsOf } from "./lower-layers.js";
import { DEFAULT_FIM_EXCLUDES, DEFAULT_FIM_PATHS, WatchSet } from "./watch-set.js";
import type { Alert } from "../../proto/index.js";

/** What kind of change an event is. */
export const FimOp = {
  Write: "write",
  Delete: "delete",
  Rename: "rename",
  Mode: "mode",
  Owner: "owner",
  Link: "link",
  Symlink: "symlink",
} as const;
export type FimOp = (typeof FimOp)[keyof typeof FimOp];

/** The `fim.action` values. */
export type FimAction = "created" | "modified" | "unchanged" | "written" | "deleted" | "renamed" | "mode_changed" | "owner_changed" | "linked" | "symlinked";

export interface FileIntegrityOptions {
  /** Directory for the on-disk baseline (created if missing). */
  stateDir: string;
  /** Watched path prefixes and fnmatch globs (default: {@link DEFAULT_FIM_PATHS}). */
  paths?: string[];
  /** Excluded prefixes and globs (default: {@link DEFAULT_FIM_EXCLUDES}). */
  excludes?: string[];
  /** Files larger than this are not hashed (default 32 MiB). */
  maxFileBytes?: number;
  logger: Logger;
  /** Longest wait for a writer to close the file before hashing, ms (default 500). */
  settleMs?: number;
  /** Baseline the host's watched trees in the background at start (default true). */
  scanOnStart?: boolean;
  /** Most files the start scan visits (default 500000). */
  maxScanFiles?: number;
  /** Where the host's root filesystem is seen (`/host` in the DaemonSet; default `/`). */
  hostRoot?: string;
  /** The start scan hashes at most this many bytes per second (default 8 MiB/s; 0 = unlimited). */
  scanBytesPerSecond?: number;
  /** The start scan uses at most this percent of one core (default 5; 100 = unlimited). */
  scanCpuPercent?: number;
  /** Most files the on-disk baseline keeps (default 1,000,000). */
  maxBaselineEntries?: number;
}

/** Defaults of the start scan's budget: about 2 % of a core's worth of hashing on average. */
export const DEFAULT_SCAN_BYTES_PER_SECOND = 8 * 1024 * 1024;
export const DEFAULT_SCAN_CPU_PERCENT = 5;

interface PathSpec {
  /** Read `fd.name`. */
  fd: boolean;
  /** Param index of the path, -1 if none. */
  arg: number;
  /** Param index of its dirfd, -1 if none. */
  dirfd: number;
}

interface OpSpec {
  op: FimOp;
  /** The path the change lands on. */
  path: PathSpec;
  /** For rename/link: the old path. */
  from?: PathSpec;
  /** The result is the fd of an opened file: wait for it to be closed before hashing. */
  waitFd?: boolean;
}

const AT_FDCWD = -100;

function spec(code: number, name: string): { arg: number; dirfd: number } {
  const ev = EVENTS[code];
  if (ev === undefined) return { arg: -1, dirfd: -1 };
  const arg = ev.params.findIndex((p) => p.name === name);
  const p = ev.params[arg] as ParamSpec | undefined;
  const dirfd = p?.dirfd !== undefined ? ev.params.findIndex((q) => q.name === p.dirfd) : -1;
  return { arg, dirfd };
}

/** Per event code: which change it is and where its paths are. Built once. */
function buildOpTable(): (OpSpec | undefined)[] {
  const table: (OpSpec | undefined)[] = [];
  const byName = (n: string) => EVENTS.find((e) => e.name === n)?.code ?? -1;
  const put = (name: string, op: FimOp, path: PathSpec, from?: PathSpec, waitFd = false) => {
    const code = byName(name);
    if (code < 0) return;
    table[code] = from === undefined ? { op, path, waitFd } : { op, path, from, waitFd };
  };
  const fdp = (name: string, argName?: string): PathSpec => ({ fd: true, ...(argName ? spec(byName(name), argName) : { arg: -1, dirfd: -1 }) });
  const argp = (name: string, argName: string): PathSpec => ({ fd: false, ...spec(byName(name), argName) });
  for (const n of ["open", "openat", "openat2", "creat"]) put(n, FimOp.Write, fdp(n, "name"), undefined, true);
  put("truncate", FimOp.Write, argp("truncate", "path"));
  put("ftruncate", FimOp.Write, fdp("ftruncate"));
  put("unlink", FimOp.Delete, argp("unlink", "path"));
  put("rmdir", FimOp.Delete, argp("rmdir", "path"));
  put("unlinkat", FimOp.Delete, argp("unlinkat", "name"));
  for (const n of ["rename", "renameat", "renameat2"]) put(n, FimOp.Rename, argp(n, "newpath"), argp(n, "oldpath"));
  for (const n of ["link", "linkat"]) put(n, FimOp.Link, argp(n, "newpath"), argp(n, "oldpath"));
  put("symlink", FimOp.Symlink, argp("symlink", "linkpath"));
  put("symlinkat", FimOp.Symlink, argp("symlinkat", "linkpath"));
  put("chmod", FimOp.Mode, argp("chmod", "filename"));
  put("fchmodat", FimOp.Mode, argp("fchmodat", "filename"));
  put("fchmod", FimOp.Mode, fdp("fchmod"));
  put("chown", FimOp.Owner, argp("chown", "path"));
  put("lchown", FimOp.Owner, argp("lchown", "path"));
  put("fchownat", FimOp.Owner, argp("fchownat", "pathname"));
  put("fchown", FimOp.Owner, fdp("fchown"));
  return table;
}

const OPS = buildOpTable();

/** A path as copied out of the event: absolute, or relative to a dirfd still to be resolved. */
interface RawPath {
  abs: string | undefined;
  rel: string | undefined;
  dirfd: number;
}

/** Everything decorate needs, copied synchronously (the source may reuse the event object). */
interface Job {
  op: FimOp;
  path: RawPath;
  from: RawPath | undefined;
  pid: number;
  /** pids of the process and its ancestors in the same container, nearest first. */
  rootPids: number[];
  containerId: string;
  containerFullId: string;
  fdNum: number;
  symlinkTarget: string | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function readPath(e: SyscallEvent, p: PathSpec): RawPath {
  if (p.fd && e.fd !== undefined && e.fd.name.startsWith("/")) return { abs: posix.normalize(e.fd.name), rel: undefined, dirfd: AT_FDCWD };
  if (p.arg < 0) return { abs: undefined, rel: undefined, dirfd: AT_FDCWD };
  const v = e.args[p.arg];
  if (typeof v !== "string" || v.length === 0) return { abs: undefined, rel: undefined, dirfd: AT_FDCWD };
  if (v.startsWith("/")) return { abs: posix.normalize(v), rel: undefined, dirfd: AT_FDCWD };
  const d = p.dirfd >= 0 ? e.args[p.dirfd] : undefined;
  const dirfd = typeof d === "number" ? d : typeof d === "bigint" ? Number(d) : AT_FDCWD;
  if (dirfd === AT_FDCWD) {
    const cwd = e.proc.cwd;
    return cwd.startsWith("/") ? { abs: posix.normalize(posix.join(cwd, v)), rel: undefined, dirfd } : { abs: undefined, rel: v, dirfd };
  }
  return { abs: undefined, rel: v, dirfd };
}

/** FIM decoration of alerts from rules tagged `fim`. */
export class FileIntegrity {
  private readonly log: Logger;
  private readonly watch: WatchSet;
  private readonly baseline: Baseline;
  private readonly maxBytes: number;
  private readonly settleMs: number;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly containerPid = new Map<string, number>();
  private saveTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;
  private scanDone = false;
  private readonly counters = {
    decorated: 0,
    not_fim_rule: 0,
    not_fim_event: 0,
    not_watched: 0,
    hashed: 0,
    hash_errors: 0,
    too_large: 0,
    not_regular: 0,
    root_unavailable: 0,
    unresolved_path: 0,
    writer_waits: 0,
    writer_wait_timeouts: 0,
    before_from_baseline: 0,
    before_from_image: 0,
    unchanged: 0,
    scan_files_hashed: 0,
    scan_files_skipped: 0,
    /** Regular files the start scan looked at (hashed, reused or skipped). */
    scan_files_done: 0,
    /** Files whose stored hash was reused: inode, device, size, mtime and ctime unchanged. */
    scan_files_reused: 0,
    scan_bytes_hashed: 0,
    /** Times the scan's budget made it sleep, and for how long in all. */
    scan_throttle_waits: 0,
    scan_throttle_ms: 0,
    /** CPU charged to the scan (µs), and its wall time once complete (ms). */
    scan_cpu_us: 0,
    scan_duration_ms: 0,
    scan_complete: 0,
    baseline_full: 0,
    baseline_save_failures: 0,
    baseline_corrupt: 0,
    decorate_errors: 0,
  };

  private readonly hostPrefix: string;

  constructor(private readonly opts: FileIntegrityOptions) {
    this.log = opts.logger.child({ component: "fim" });
    this.hostPrefix = (opts.hostRoot ?? "/").replace(/\/+$/, "");
    this.watch = new WatchSet(opts.paths ?? DEFAULT_FIM_PATHS, opts.excludes ?? DEFAULT_FIM_EXCLUDES);
    this.baseline = new Baseline(opts.stateDir, opts.maxBaselineEntries);
    this.maxBytes = opts.maxFileBytes ?? 32 * 1024 * 1024;
    this.settleMs = opts.settleMs ?? 500;
  }

  /** Loads the baseline from disk and starts the background scan of the host's watched trees. */
  async start(): Promise<void> {
    const ok = await this.baseline.load();
    if (!ok) {
      this.counters.baseline_corrupt++;
      this.log.warn({ file: this.baseline.path, reason: this.baseline.setAsideReason }, "FIM baseline was not readable; set aside, rebuilding");
    }
    this.saveTimer = setInterval(() => void this.save(), 10_000);
    this.saveTimer.unref();
    if (this.opts.scanOnStart ?? true) {
      this.scanning = this.scan().catch((err: unknown) => this.log.warn({ err }, "FIM baseline scan failed"));
    } else {
      this.scanDone = true;
    }
    this.log.info({ entries: this.baseline.size, roots: this.watch.roots.length }, "FIM started");
  }

  /** Stops the scan, waits for pending decorations and saves the baseline. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.saveTimer) clearInterval(this.saveTimer);
    await this.scanning;
    await Promise.allSettled([...this.chains.values()]);
    await this.save();
    await this.baseline.closeFile().catch(() => undefined);
  }

  /** Resolves once the start scan has finished (for tests and readiness reporting). */
  async scanComplete(): Promise<void> {
    await this.scanning;
  }

  /** Counters for the stats line and /metrics. */
  stats(): Record<string, number> {
    return { ...this.counters, baseline_full: this.baseline.refused, baseline_entries: this.baseline.size };
  }

  /** True when the FIM module watches `path` (absolute, as the process sees it). */
  watches(path: string): boolean {
    return this.watch.matches(path);
  }

  /**
   * Adds `fim.*` fields (action, path, sha256_before, sha256_after, unchanged...) to an alert of a
   * rule tagged "fim" (other alerts are left alone, so it can be called for every alert). May wait
   * briefly for the writer to close the file. Never throws. Everything it needs from `e` is copied
   * before the first await, so the source may reuse the event object as soon as this returns its
   * promise.
   */
  async decorate(alert: Alert, e: SyscallEvent): Promise<void> {
    if (!alert.tags.includes("fim")) {
      this.counters.not_fim_rule++;
      return;
    }
    let job: Job | undefined;
    try {
      job = this.jobOf(e);
    } catch (err) {
      this.counters.decorate_errors++;
      this.log.debug({ err }, "FIM could not read the event");
      return;
    }
    if (job === undefined) {
      this.counters.not_fim_event++;
      return;
    }
    const j = job;
    const key = `${j.containerId}\u0000${j.path.abs ?? j.path.rel ?? ""}`;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const run = prev
      .then(() => this.process(alert, j))
      .catch((err: unknown) => {
        this.counters.decorate_errors++;
        this.log.debug({ err }, "FIM decoration failed");
      });
    this.chains.set(key, run);
    await run;
    if (this.chains.get(key) === run) this.chains.delete(key);
  }

  private jobOf(e: SyscallEvent): Job | undefined {
    const spec = OPS[e.type];
    if (spec === undefined) return undefined;
    const rootPids: number[] = [];
    const cid = e.proc.container.id;
    for (let t: typeof e.proc | undefined = e.proc, n = 0; t !== undefined && n < 16; t = t.parent, n++) {
      if (t.container.id !== cid) break;
      if (t.pid > 0 && !rootPids.includes(t.pid)) rootPids.push(t.pid);
    }
    let symlinkTarget: string | undefined;
    if (spec.op === FimOp.Symlink) {
      const ti = EVENTS[e.type]?.params.findIndex((p) => p.name === "target") ?? -1;
      const v = ti >= 0 ? e.args[ti] : undefined;
      symlinkTarget = typeof v === "string" ? v : undefined;
    }
    return {
      op: spec.op,
      path: readPath(e, spec.path),
      from: spec.from ? readPath(e, spec.from) : undefined,
      pid: e.proc.pid,
      rootPids,
      containerId: cid,
      containerFullId: e.proc.container.fullId,
      fdNum: spec.waitFd === true ? (e.fd?.num ?? (e.res >= 0 ? e.res : -1)) : -1,
      symlinkTarget,
    };
  }

  private async resolve(p: RawPath | undefined, pid: number): Promise<string | undefined> {
    if (p === undefined) return undefined;
    if (p.abs !== undefined) return p.abs;
    if (p.rel === undefined) return undefined;
    try {
      const base = p.dirfd === AT_FDCWD ? await readlink(`/proc/${pid}/cwd`) : await readlink(`/proc/${pid}/fd/${p.dirfd}`);
      if (!base.startsWith("/")) return undefined;
      return posix.normalize(posix.join(base, p.rel));
    } catch {
      return undefined;
    }
  }

  /** A `/proc/<pid>/root` prefix that shows the container's files, or "" for the host. */
  private async rootOf(j: Job): Promise<string | undefined> {
    for (const pid of j.rootPids) {
      try {
        await stat(`/proc/${pid}/root/`);
        return `/proc/${pid}/root`;
      } catch {
        // gone: try the next ancestor
      }
    }
    if (j.containerId === "host") return this.hostPrefix;
    const cached = this.containerPid.get(j.containerId);
    if (cached !== undefined) {
      try {
        await stat(`/proc/${cached}/root/`);
        return `/proc/${cached}/root`;
      } catch {
        this.containerPid.delete(j.containerId);
      }
    }
    const pid = await this.findContainerPid(j.containerFullId || j.containerId);
    if (pid === undefined) return undefined;
    this.containerPid.set(j.containerId, pid);
    return `/proc/${pid}/root`;
  }

  /** Any live process of a container, found by its id in /proc/<pid>/cgroup. */
  private async findContainerPid(id: string): Promise<number | undefined> {
    if (id.length < 12) return undefined;
    let pids: string[];
    try {
      pids = await readdir("/proc");
    } catch {
      return undefined;
    }
    for (const s of pids) {
      if (s.charCodeAt(0) < 48 || s.charCodeAt(0) > 57) continue;
      try {
        const cg = await readFile(`/proc/${s}/cgroup`, "utf8");
        if (cg.includes(id)) return Number(s);
      } catch {
        // raced with exit
      }
    }
    return undefined;
  }

  /** Waits until the writer closed fd `fdNum` (or exited), at most settleMs. */
  private async waitForClose(pid: number, fdNum: number): Promise<void> {
    if (fdNum < 0) return;
    const link = `/proc/${pid}/fd/${fdNum}`;
    let first: string;
    try {
      first = await readlink(link);
    } catch {
      return;
    }
    this.counters.writer_waits++;
    const deadline = Date.now() + this.settleMs;
    while (Date.now() < deadline) {
      await sleep(10);
      try {
        if ((await readlink(link)) !== first) return;
      } catch {
        return;
      }
    }
    this.counters.writer_wait_timeouts++;
  }

  private note(h: HashResult): string | undefined {
    switch (h.kind) {
      case "ok":
        this.counters.hashed++;
        return undefined;
      case "missing":
        return "missing";
      case "not_regular":
        this.counters.not_regular++;
        return "not_regular";
      case "too_large":
        this.counters.too_large++;
        return "too_large";
      case "error":
        this.counters.hash_errors++;
        return `error_${h.code}`;
    }
  }

  /** The image's copy of a container file (first lowerdir holding it). */
  private async imageCopy(j: Job, path: string): Promise<BaselineEntry | undefined> {
    for (const pid of j.rootPids.length > 0 ? j.rootPids : [j.pid]) {
      const lowers = await lowerDirsOf(pid);
      if (lowers.length === 0) continue;
      for (const dir of lowers) {
        const h = await hashFile(dir + path, this.maxBytes);
        if (h.kind === "ok") return { sha256: h.sha256, size: h.size, mtimeMs: h.mtimeMs, ino: h.ino };
        if (h.kind !== "missing") return undefined;
      }
      return undefined;
    }
    return undefined;
  }

  private async process(alert: Alert, j: Job): Promise<void> {
    const f = alert.output_fields;
    const path = await this.resolve(j.path, j.pid);
    const from = await this.resolve(j.from, j.pid);
    f["fim.path"] = path ?? null;
    if (from !== undefined) f["fim.source_path"] = from;
    if (path === undefined) {
      this.counters.unresolved_path++;
      f["fim.action"] = null;
      f["fim.note"] = "unresolved_path";
      return;
    }
    this.counters.decorated++;
    const key = baselineKey(j.containerId, path);
    const fromKey = from !== undefined ? baselineKey(j.containerId, from) : undefined;
    if (!this.watch.matches(path) && (from === undefined || !this.watch.matches(from))) {
      this.counters.not_watched++;
      f["fim.action"] = this.actionFor(j.op, undefined, undefined, false);
      f["fim.note"] = "not_watched";
      return;
    }

    // before: baseline, else the image's copy for a container file
    let before: BaselineEntry | undefined = this.baseline.get(key);
    let beforeFromImage = false;
    if (before !== undefined) this.counters.before_from_baseline++;
    else if (j.containerId !== "host" && j.op !== FimOp.Symlink) {
      before = await this.imageCopy(j, path);
      if (before !== undefined) {
        beforeFromImage = true;
        this.counters.before_from_image++;
      }
    }

    if (j.op === FimOp.Write) await this.waitForClose(j.pid, j.fdNum);

    const root = await this.rootOf(j);
    if (root === undefined) {
      this.counters.root_unavailable++;
      f["fim.note"] = "root_unavailable";
    }

    let after: HashResult | undefined;
    if (root !== undefined && j.op !== FimOp.Delete && j.op !== FimOp.Symlink) {
      after = await hashFile(root + path, this.maxBytes);
      const n = this.note(after);
      if (n !== undefined) f["fim.note"] = n;
    }

    // what we know about the file now goes into the baseline
    if (j.op === FimOp.Delete) this.baseline.delete(key);
    else if (after?.kind === "ok") this.baseline.set(key, entryOfHash(after));
    else if (after?.kind === "missing") this.baseline.delete(key);
    if (j.op === FimOp.Rename && fromKey !== undefined) this.baseline.delete(fromKey);

    const sha = after?.kind === "ok" ? after.sha256 : undefined;
    const knownAbsent = before === undefined && this.knownAbsent(j, path);
    f["fim.sha256_before"] = before?.sha256 ?? null;
    f["fim.sha256_after"] = sha ?? null;
    f["fim.size_after"] = after?.kind === "ok" ? after.size : null;
    if (beforeFromImage) f["fim.before_source"] = "image";
    else if (before !== undefined) f["fim.before_source"] = "baseline";
    const unchanged = before !== undefined && sha !== undefined ? before.sha256 === sha : null;
    f["fim.unchanged"] = unchanged;
    if (unchanged === true) this.counters.unchanged++;
    if (j.symlinkTarget !== undefined) f["fim.symlink_target"] = j.symlinkTarget;
    const action = this.actionFor(j.op, before, sha, knownAbsent);
    f["fim.action"] = action;
    alert.output += ` fim_action=${action} sha256_before=${before?.sha256 ?? "<NA>"} sha256_after=${sha ?? "<NA>"}`;
  }

  /** True when the file is known not to have existed before (the scan covered it, or the image lacks it). */
  private knownAbsent(j: Job, path: string): boolean {
    if (j.containerId !== "host") return true;
    return this.scanDone && this.watch.roots.some((r) => path === r || path.startsWith(r.endsWith("/") ? r : r + "/"));
  }

  private actionFor(op: FimOp, before: BaselineEntry | undefined, after: string | undefined, knownAbsent: boolean): FimAction {
    switch (op) {
      case FimOp.Write:
        if (before === undefined) return knownAbsent && after !== undefined ? "created" : "written";
        if (after === undefined) return "written";
        return before.sha256 === after ? "unchanged" : "modified";
      case FimOp.Delete:
        return "deleted";
      case FimOp.Rename:
        return "renamed";
      case FimOp.Mode:
        return "mode_changed";
      case FimOp.Owner:
        return "owner_changed";
      case FimOp.Link:
        return "linked";
      case FimOp.Symlink:
        return "symlinked";
    }
  }

  private async save(): Promise<void> {
    try {
      await this.baseline.save();
    } catch (err) {
      this.counters.baseline_save_failures++;
      if (this.counters.baseline_save_failures === 1) this.log.warn({ err }, "FIM baseline save failed");
    }
  }

  /**
   * Baselines the host's watched trees within the scan budget (bytes/s and CPU %, yielding to the
   * event loop between files). A file whose inode, device, size, mtime and ctime match its stored
   * entry keeps its stored hash without being read; any other file is hashed.
   */
  private async scan(): Promise<void> {
    const max = this.opts.maxScanFiles ?? 500_000;
    const budget = new ScanBudget({
      bytesPerSecond: this.opts.scanBytesPerSecond ?? DEFAULT_SCAN_BYTES_PER_SECOND,
      cpuPercent: this.opts.scanCpuPercent ?? DEFAULT_SCAN_CPU_PERCENT,
    });
    const pace = (n: number) => {
      this.counters.scan_bytes_hashed += n;
      return budget.bytes(n);
    };
    const c = this.counters;
    const started = performance.now();
    const buf = Buffer.allocUnsafe(256 * 1024);
    let visited = 0;
    const stack: string[] = [...this.watch.roots];
    try {
      while (stack.length > 0 && !this.stopped && visited < max) {
        budget.beginStep();
        try {
          visited += await this.scanOne(stack.pop() as string, stack, buf, pace);
        } finally {
          await budget.endStep();
          c.scan_throttle_waits = budget.waits;
          c.scan_throttle_ms = Math.round(budget.waitedMs);
          c.scan_cpu_us = budget.cpuMicros;
        }
      }
      this.scanDone = !this.stopped;
    } finally {
      await this.save();
    }
    c.scan_duration_ms = Math.round(performance.now() - started);
    if (this.stopped) return;
    c.scan_complete = 1;
    this.log.info(
      {
        durationMs: c.scan_duration_ms,
        files: c.scan_files_done,
        hashed: c.scan_files_hashed,
        reused: c.scan_files_reused,
        skipped: c.scan_files_skipped,
        bytesHashed: c.scan_bytes_hashed,
        cpuMs: Math.round(c.scan_cpu_us / 1000),
        throttledMs: c.scan_throttle_ms,
        entries: this.baseline.size,
      },
      "FIM baseline scan done",
    );
  }

  /** One scan step: a directory's names onto the stack, or one file baselined. Returns 1 for a regular file. */
  private async scanOne(p: string, stack: string[], buf: Buffer, pace: (n: number) => Promise<void>): Promise<number> {
    let st;
    try {
      st = await lstat(this.hostPrefix + p);
    } catch {
      return 0;
    }
    if (st.isDirectory()) {
      try {
        const names = await readdir(this.hostPrefix + p);
        for (const n of names) stack.push(p === "/" ? `/${n}` : `${p}/${n}`);
      } catch {
        // unreadable directory
      }
      return 0;
    }
    if (!st.isFile()) return 0;
    this.counters.scan_files_done++;
    if (!this.watch.matches(p) || st.size > this.maxBytes) {
      this.counters.scan_files_skipped++;
      return 1;
    }
    const key = baselineKey("host", p);
    const known = this.baseline.get(key);
    if (
      known !== undefined &&
      known.ino === st.ino &&
      known.dev === st.dev &&
      known.size === st.size &&
      known.mtimeMs === st.mtimeMs &&
      known.ctimeMs === st.ctimeMs
    ) {
      this.counters.scan_files_reused++;
      return 1;
    }
    const h = await hashFile(this.hostPrefix + p, this.maxBytes, buf, pace);
    if (h.kind === "ok") {
      if (this.baseline.set(key, entryOfHash(h))) this.counters.scan_files_hashed++;
      else this.counters.scan_files_skipped++;
    } else this.counters.scan_files_skipped++;
    return 1;
  }
}

function entryOfHash(h: Extract<HashResult, { kind: "ok" }>): BaselineEntry {
  return { sha256: h.sha256, size: h.size, mtimeMs: h.mtimeMs, ino: h.ino, dev: h.dev, ctimeMs: h.ctimeMs, mode: h.mode };
}
