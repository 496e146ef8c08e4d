// SPDX-License-Identifier: Apache-2.0
/**
 * The FIM baseline: the last known SHA-256 of each watched file, keyed by container and path,
 * kept on disk under the state directory so that a restart still knows what files looked like.
 * The file is rewritten atomically (temp file + rename); a corrupt file is set aside and the
 * baseline starts empty (counted and logged once), never stopping the agent.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FimError } from "./errors.js";

/** One known file. */
export interface BaselineEntry {
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

const FILE = "fim-baseline.json";
const VERSION = 1;

type Row = [string, number, number, number];

/** Key of a file: `<container id>:<path as the container sees it>` (`host:` for the host). */
export function baselineKey(containerId: string, path: string): string {
  return `${containerId}:${path}`;
}

export class Baseline {
  private readonly map = new Map<string, BaselineEntry>();
  private dirty = false;
  readonly path: string;

  constructor(private readonly stateDir: string) {
    this.path = join(stateDir, FILE);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): BaselineEntry | undefined {
    return this.map.get(key);
  }

  set(key: string, e: BaselineEntry): void {
    const old = this.map.get(key);
    if (old !== undefined && old.sha256 === e.sha256 && old.size === e.size && old.mtimeMs === e.mtimeMs && old.ino === e.ino) return;
    this.map.set(key, e);
    this.dirty = true;
  }

  delete(key: string): void {
    if (this.map.delete(key)) this.dirty = true;
  }

  /** Loads the file; returns false (and sets the bad file aside) when it was corrupt. */
  async load(): Promise<boolean> {
    try {
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new FimError("STATE_DIR", `cannot create FIM state dir ${this.stateDir}`, { cause: err });
    }
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch {
      return true;
    }
    try {
      const doc = JSON.parse(text) as { version?: unknown; entries?: unknown };
      if (doc.version !== VERSION || typeof doc.entries !== "object" || doc.entries === null) throw new Error("bad shape");
      for (const [k, v] of Object.entries(doc.entries as Record<string, unknown>)) {
        if (!Array.isArray(v) || v.length !== 4) continue;
        const [sha256, size, mtimeMs, ino] = v as Row;
        if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) continue;
        this.map.set(k, { sha256, size: Number(size), mtimeMs: Number(mtimeMs), ino: Number(ino) });
      }
      return true;
    } catch {
      await rename(this.path, `${this.path}.corrupt-${Date.now()}`).catch(() => undefined);
      return false;
    }
  }

  /** Writes the baseline if it changed since the last save. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const entries: Record<string, Row> = {};
    for (const [k, e] of this.map) entries[k] = [e.sha256, e.size, e.mtimeMs, e.ino];
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, JSON.stringify({ version: VERSION, entries }), { mode: 0o600 });
      await rename(tmp, this.path);
    } catch (err) {
      this.dirty = true;
      throw new FimError("BASELINE_WRITE", `cannot write FIM baseline ${this.path}`, { cause: err });
    }
  }
}
