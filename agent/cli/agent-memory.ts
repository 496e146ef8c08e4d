// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent`'s memory settings (issue 22): the V8 flags of `memory.heap_growing_percent` and
 * `memory.maglev`, set at start; V8's memory saver mode switched with the event rate
 * (`memory.saver`, agent/memory-saver.ts); and the code pages handed back each time the node turns
 * quiet (`memory.trim_code`, agent/memory-trim.ts). Their stats are `vigil_memory_*` on /metrics.
 */
import { setFlagsFromString } from "node:v8";
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { metrics } from "../metrics/index.js";
import { MemorySaver } from "../memory-saver.js";
import { CodeTrim } from "../memory-trim.js";

/**
 * memory.heap_growing_percent and memory.maglev, set before the agent allocates its state: V8 reads
 * the growth factor at every full collection and the tier at every tier-up decision, and
 * NODE_OPTIONS accepts neither flag (so the DaemonSet could not set them). Returns the V8 flags it
 * set.
 */
export function applyMemorySettings(
  mem: Pick<Config["memory"], "heap_growing_percent" | "maglev">,
  set: (flag: string) => void = setFlagsFromString,
): string[] {
  const flags: string[] = [];
  if (mem.heap_growing_percent !== 0) flags.push(`--heap-growing-percent=${mem.heap_growing_percent}`);
  if (!mem.maglev) flags.push("--no-maglev");
  for (const f of flags) set(f);
  return flags;
}

/**
 * memory.saver: V8's memory saver mode with the event rate (started once the agent is ready); and
 * memory.trim_code: the code pages handed back each time the node turns quiet.
 */
export function memorySaver(mem: Config["memory"], events: () => number, logger: Logger, closers: (() => Promise<void>)[]): MemorySaver {
  const log = logger.child({ component: "memory" });
  const trim = codeTrim(mem, log);
  const saver = new MemorySaver({
    mode: mem.saver,
    maxEventsPerSecond: mem.saver_max_events_per_s,
    quietSeconds: mem.saver_quiet_seconds,
    events,
    onSwitch: (on, rate) => {
      log.debug({ events_per_s: rate }, on ? "memory saver on (quiet node)" : "memory saver off (busy node)");
      if (on && trim) trimCode(trim, log);
    },
  });
  metrics.registerStats("memory", () => (trim ? { ...saver.stats(), ...trim.stats() } : saver.stats()), { gauges: ["saver_on", "code_trimmed_bytes"] });
  closers.push(async () => saver.stop());
  return saver;
}

/** One trim on a quiet node: logged at debug, a refusal by the kernel warned of once. */
function trimCode(trim: CodeTrim, log: Logger): void {
  const r = trim.trim();
  if (!r.failed) {
    log.debug({ rss_file_kib_before: r.rssFileBeforeKiB, rss_file_kib_after: r.rssFileAfterKiB, mappings: r.mappings }, "code pages trimmed");
  } else if (trim.stats().code_trim_failures === 1) {
    log.warn({ errno: r.errno }, "memory.trim_code: the kernel refused MADV_PAGEOUT (Linux 5.4 or later); code pages stay mapped");
  }
}

/** The code-page trim of memory.trim_code, or undefined (off, or the addon is not there: said once). */
function codeTrim(mem: Config["memory"], log: Logger): CodeTrim | undefined {
  if (!mem.trim_code || mem.saver === "off") return undefined;
  const t = CodeTrim.load();
  if (t instanceof Error) {
    log.warn({ err: t.message }, "memory.trim_code: no code-page trim on this agent");
    return undefined;
  }
  return t;
}
