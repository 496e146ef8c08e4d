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
 * never the file. A file that is not a readable baseline is set aside and the baseline starts
 * empty (counted and logged once by the caller), never stopping the agent.
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
}

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
}

function same(a: BaselineEntry, b: BaselineEntry): boolean {
  return a.sha256 === b.sha256 && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

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
  readonly path: string;

  constructor(private readonly stateDir: string) {
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
    return { sha256: Buffer.from(r.sha256.buffer, r.sha256.byteOffset, r.sha256.byteLength).toString("hex"), size: r.size, mtimeMs: r.mtime_ms, ino: r.ino };
  }

  set(key: string, e: BaselineEntry): void {
    const old = this.get(key);
    if (old !== undefined && same(old, e)) return;
    this.pending.set(key, { ...e });
    if (this.pending.size >= MAX_PENDING) {
      try {
        this.flush();
      } catch {
        // kept pending; the next save() retries and reports
      }
    }
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
    try {
      this.open();
      return true;
    } catch {
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
    db.exec(
      "CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, sha256 BLOB NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ino INTEGER NOT NULL) WITHOUT ROWID",
    );
    this.getStmt = db.prepare("SELECT sha256, size, mtime_ms, ino FROM files WHERE key = ?");
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
    try {
      const put = db.prepare(
        "INSERT INTO files (key, sha256, size, mtime_ms, ino) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, mtime_ms = excluded.mtime_ms, ino = excluded.ino",
      );
      const del = db.prepare("DELETE FROM files WHERE key = ?");
      inTransaction(db, () => {
        for (const [k, e] of batch) {
          if (e === null) del.run(k);
          else put.run(k, Buffer.from(e.sha256, "hex"), e.size, e.mtimeMs, e.ino);
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
