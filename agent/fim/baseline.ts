// SPDX-License-Identifier: Apache-2.0
/**
 * The FIM baseline: the last known SHA-256 of each watched file, keyed by container and path,
 * kept on disk under the state directory so that a restart still knows what files looked like.
 *
 * It lives in an SQLite file (node:sqlite, as the collector's store), not in the heap: a host
 * baseline holds tens of thousands of files and is read only when a FIM alert needs a "before",
 * so the agent's memory stays flat whatever the watched trees hold. Changes are kept in a small
 * pending map and written in one transaction per save (every few seconds, or when the map
 * fills), with WAL and `synchronous = NORMAL`: a crash loses at most the last unsaved changes,
 * never the file (each save is one SQLite transaction: all of it lands or none). A file that is
 * not a readable baseline of this format version (corrupt, another program's database, an older
 * layout) is set aside and the baseline starts empty (counted and logged once by the caller),
 * never stopping the agent. The number of entries is capped: past the cap new files are not
 * added (counted), known ones are still updated.
 */
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { FimError } from "./errors.js";

/** One known file. */
export interface BaselineEntry {
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
  /** Device of the file system holding it; with `ino`, the file's identity. */
  dev?: number;
  /** Inode change time: moves on every write, chmod, chown, rename and link. */
  ctimeMs?: number;
  mode?: number;
}

/** Format version, kept in SQLite's `user_version`; a file of another version is rebuilt. */
export const BASELINE_VERSION = 2;
const COLUMNS = "key,sha256,size,mtime_ms,ino,dev,ctime_ms,mode";

const FILE = "fim-baseline.sqlite";
/** Pending changes written at once past this many. */
const MAX_PENDING = 2048;

/** Key of a file: `<container id>:<path as the container sees it>` (`host:` for the host). */
export function baselineKey(containerId: string, path: string): string {
  return `${containerId}:${path}`;
}

interface Row {
  sha256: Uint8Array;
  size: number;
  mtime_ms: number;
  ino: number;
  dev: number | null;
  ctime_ms: number | null;
  mode: number | null;
}

function same(a: BaselineEntry, b: BaselineEntry): boolean {
  return (
    a.sha256 === b.sha256 && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev && a.ctimeMs === b.ctimeMs && a.mode === b.mode
  );
}

function entryOf(r: Row): BaselineEntry {
  const e: BaselineEntry = {
    sha256: Buffer.from(r.sha256.buffer, r.sha256.byteOffset, r.sha256.byteLength).toString("hex"),
    size: r.size,
    mtimeMs: r.mtime_ms,
    ino: r.ino,
  };
  if (r.dev !== null) e.dev = r.dev;
  if (r.ctime_ms !== null) e.ctimeMs = r.ctime_ms;
  if (r.mode !== null) e.mode = r.mode;
  return e;
}

/** Thrown by open() for a readable SQLite file that is not a baseline of this version. */
class ForeignFile extends Error {}

/** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
function inTransaction(db: DatabaseSync, fn: () => void): void {
  db.exec("BEGIN");
  try {
    fn();
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

export class Baseline {
  private db: DatabaseSync | undefined;
  private getStmt: StatementSync | undefined;
  /** Changes not yet written: an entry, or null for a deletion. */
  private pending = new Map<string, BaselineEntry | null>();
  private stored = 0;
  /** Pending entries for keys not on disk (approximate: for the cap only). */
  private pendingNew = 0;
  /** New files refused because the baseline was full. */
  refused = 0;
  /** Why the last load() set the file aside: "corrupt" or "foreign". */
  setAsideReason: "corrupt" | "foreign" | undefined;
  readonly path: string;

  /** `maxEntries`: most files kept (default 1,000,000). */
  constructor(
    private readonly stateDir: string,
    private readonly maxEntries = 1_000_000,
  ) {
    this.path = join(stateDir, FILE);
  }

  /** Files known (written and pending). */
  get size(): number {
    let n = this.stored;
    if (this.db === undefined) return this.pending.size;
    for (const [k, v] of this.pending) {
      const onDisk = this.getStmt!.get(k) !== undefined;
      if (v === null && onDisk) n--;
      else if (v !== null && !onDisk) n++;
    }
    return n;
  }

  get(key: string): BaselineEntry | undefined {
    const p = this.pending.get(key);
    if (p !== undefined) return p ?? undefined;
    const r = this.getStmt?.get(key) as Row | undefined;
    if (r === undefined) return undefined;
    return entryOf(r);
  }

  /** Records a file; returns false when it is new and the baseline is full. */
  set(key: string, e: BaselineEntry): boolean {
    const old = this.get(key);
    if (old !== undefined && same(old, e)) return true;
    if (old === undefined) {
      if (this.stored + this.pendingNew >= this.maxEntries) {
        this.refused++;
        return false;
      }
      this.pendingNew++;
    }
    this.pending.set(key, { ...e });
    if (this.pending.size >= MAX_PENDING) {
      try {
        this.flush();
      } catch {
        // kept pending; the next save() retries and reports
      }
    }
    return true;
  }

  delete(key: string): void {
    if (this.get(key) !== undefined) this.pending.set(key, null);
  }

  /** Opens (or creates) the file; returns false (and sets the bad file aside) when it was corrupt. */
  async load(): Promise<boolean> {
    try {
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new FimError("STATE_DIR", `cannot create FIM state dir ${this.stateDir}`, { cause: err });
    }
    this.setAsideReason = undefined;
    try {
      this.open();
      return true;
    } catch (err) {
      this.setAsideReason = err instanceof ForeignFile ? "foreign" : "corrupt";
      this.close();
      await rename(this.path, `${this.path}.corrupt-${Date.now()}`).catch(() => undefined);
      for (const ext of ["-wal", "-shm"]) await rename(`${this.path}${ext}`, `${this.path}${ext}.corrupt-${Date.now()}`).catch(() => undefined);
      try {
        this.open();
      } catch (err) {
        throw new FimError("BASELINE_WRITE", `cannot create FIM baseline ${this.path}`, { cause: err });
      }
      return false;
    }
  }

  private open(): void {
    const db = new DatabaseSync(this.path);
    this.db = db;
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA cache_size = -2048"); // 2 MiB of pages at most
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    if (tables.length === 0 && version === 0) {
      inTransaction(db, () => {
        db.exec(
          "CREATE TABLE files (key TEXT PRIMARY KEY, sha256 BLOB NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ino INTEGER NOT NULL, dev INTEGER, ctime_ms REAL, mode INTEGER) WITHOUT ROWID",
        );
        db.exec(`PRAGMA user_version = ${BASELINE_VERSION}`);
      });
    } else {
      // another program's database, or a baseline of another format version
      if (version !== BASELINE_VERSION || tables.length !== 1 || tables[0] !== "files") throw new ForeignFile(`version ${version}, tables ${tables.join(",")}`);
      const cols = (db.prepare("PRAGMA table_info(files)").all() as { name: string }[]).map((c) => c.name).join(",");
      if (cols !== COLUMNS) throw new ForeignFile(`columns ${cols}`);
    }
    this.getStmt = db.prepare("SELECT sha256, size, mtime_ms, ino, dev, ctime_ms, mode FROM files WHERE key = ?");
    this.stored = (db.prepare("SELECT count(*) AS n FROM files").get() as { n: number }).n;
  }

  private close(): void {
    try {
      this.db?.close();
    } catch {
      // already unusable
    }
    this.db = undefined;
    this.getStmt = undefined;
  }

  /** Writes the pending changes in one transaction. */
  private flush(): void {
    const db = this.db;
    if (db === undefined || this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingNew = 0;
    try {
      const put = db.prepare(
        "INSERT INTO files (key, sha256, size, mtime_ms, ino, dev, ctime_ms, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, mtime_ms = excluded.mtime_ms, ino = excluded.ino, dev = excluded.dev, ctime_ms = excluded.ctime_ms, mode = excluded.mode",
      );
      const del = db.prepare("DELETE FROM files WHERE key = ?");
      inTransaction(db, () => {
        for (const [k, e] of batch) {
          if (e === null) del.run(k);
          else put.run(k, Buffer.from(e.sha256, "hex"), e.size, e.mtimeMs, e.ino, e.dev ?? null, e.ctimeMs ?? null, e.mode ?? null);
        }
      });
      this.stored = (db.prepare("SELECT count(*) AS n FROM files").get() as { n: number }).n;
    } catch (err) {
      // keep the changes for the next try (newer pending ones win)
      for (const [k, e] of batch) if (!this.pending.has(k)) this.pending.set(k, e);
      throw new FimError("BASELINE_WRITE", `cannot write FIM baseline ${this.path}`, { cause: err });
    }
  }

  /** Writes the changes made since the last save. */
  async save(): Promise<void> {
    this.flush();
  }

  /** Saves and closes the file. */
  async closeFile(): Promise<void> {
    this.flush();
    this.close();
  }
}
