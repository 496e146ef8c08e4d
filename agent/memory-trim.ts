// SPDX-License-Identifier: Apache-2.0
/**
 * Code pages handed back while the node is quiet (`memory.trim_code`; issue 22).
 *
 * About half of an idle agent's resident memory is the node executable itself: code and read-only
 * data mapped from the file, most of it touched once at start (module loading, compiling the
 * start-up code, the configuration checks) and kept mapped since, with its neighbours (the
 * kernel's fault-around). Measured (BENCHMARKS.md, "Agent memory: code pages and undici"): 54 MiB of file
 * pages at idle, 27 MiB once trimmed, and it stays there through bursts of processes and opens.
 *
 * The trim is native-bridge/mem/vigil-mem.c (a Node-API addon: madvise(MADV_PAGEOUT) on the
 * process's private read-only file mappings). It runs each time the memory saver finds the node
 * quiet (agent/memory-saver.ts; so never with `memory.saver: off`), and a busy node never pays the
 * re-faults on its event path. Without
 * the addon (a checkout without the native build) or on a kernel without MADV_PAGEOUT (before
 * 5.4), the agent says so once and runs as before.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { packagePath } from "./paths.js";

interface Addon {
  trimCode(): { mappings: number; bytes: number; errno: number };
}

/** One trim: what was advised and what it gave back. */
export interface TrimResult {
  /** Mappings advised. */
  mappings: number;
  /** KiB of file pages resident before and right after (RssFile of /proc/self/status). */
  rssFileBeforeKiB: number;
  rssFileAfterKiB: number;
  /** The first madvise error (an errno), 0 when none. */
  errno: number;
  /** Nothing was advised: the kernel refused every mapping (counted in `code_trim_failures`). */
  failed: boolean;
}

/** Default location of the addon: the package's native build, beside vigil-probe. */
export function defaultTrimAddonPath(): string {
  return packagePath("native-bridge", "build", "vigil-mem.node");
}

/** RssFile of /proc/self/status in KiB, or -1. */
export function rssFileKiB(): number {
  try {
    const m = /^RssFile:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "latin1"));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** Hands the agent's code pages back to the kernel; counts what it did. */
export class CodeTrim {
  private trims = 0;
  private failures = 0;
  private lastFreedKiB = 0;

  private constructor(private readonly addon: Addon) {}

  /** Loads the addon at `path`; an Error saying why when it cannot be used here. */
  static load(path: string = defaultTrimAddonPath()): CodeTrim | Error {
    if (!existsSync(path)) return new Error(`${path} is not built (make -C native-bridge)`);
    try {
      const addon = createRequire(import.meta.url)(path) as Partial<Addon>;
      if (typeof addon.trimCode !== "function") return new Error(`${path} has no trimCode()`);
      return new CodeTrim(addon as Addon);
    } catch (e) {
      return new Error(`${path} did not load: ${(e as Error).message}`);
    }
  }

  /** One trim now. */
  trim(): TrimResult {
    const before = rssFileKiB();
    const r = this.addon.trimCode();
    const after = rssFileKiB();
    const failed = r.errno !== 0 && r.mappings === 0;
    if (failed) this.failures++;
    else this.trims++;
    this.lastFreedKiB = before >= 0 && after >= 0 ? Math.max(0, before - after) : 0;
    return { mappings: r.mappings, rssFileBeforeKiB: before, rssFileAfterKiB: after, errno: r.errno, failed };
  }

  /** For /metrics (`vigil_memory_code_trims`, ...). */
  stats(): { code_trims: number; code_trim_failures: number; code_trimmed_bytes: number } {
    return { code_trims: this.trims, code_trim_failures: this.failures, code_trimmed_bytes: this.lastFreedKiB * 1024 };
  }
}
