// SPDX-License-Identifier: Apache-2.0
/**
 * Kernel predicate push-down against the real kernel and the real agent: the same workload of
 * relevant opens (sensitive files, through a symlink too, "../" traversals, a truncated log,
 * another process's environment) mixed with thousands of irrelevant ones (reads of ordinary
 * files, failed opens, writes under /tmp) raises the same alerts with the filter on as with
 * `--no-kernel-filter`, for Falco's stable rules alone and with Vigil's packs added; and with
 * Falco's rules the probe really drops events in the kernel (kernel_filtered).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type JsonAlert, type RunningAgent } from "../helpers/agent.js";
import { packPaths } from "../helpers/packs.js";
import { STABLE_RULES } from "../rules/stable-path.js";

const PACKS = packPaths();

const WORKLOAD = `
const fs = require("node:fs");
const [dir, marker] = process.argv.slice(2);
const tryOpen = (p, flags) => { try { fs.closeSync(fs.openSync(p, flags)); } catch {} };
const noise = () => {
  for (let i = 0; i < 2000; i++) tryOpen("/etc/hostname", "r");
  for (let i = 0; i < 500; i++) tryOpen("/nonexistent-" + marker + "/x" + i, "r");
  for (let i = 0; i < 200; i++) tryOpen(dir + "/scratch-" + (i % 7), "w");
};
noise();
tryOpen("/etc/shadow", "r");
tryOpen(dir + "/innocent-link", "r");
tryOpen("/etc/../etc/../etc/hostname", "r");
tryOpen("/etc/../etc/../etc/missing-" + marker, "r");
tryOpen("/var/log/vigil-pushdown-" + marker + ".log", "w");
tryOpen("/proc/1/environ", "r");
tryOpen("/etc/pam.d/other", "r");
noise();
`;

function runWorkload(dir: string, marker: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(dir, "workload.cjs"), dir, marker], { stdio: "ignore" });
    c.on("error", reject);
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`workload exited with ${code}`))));
  });
}

function kernelFiltered(agent: RunningAgent): number {
  let n = -1;
  for (const l of agent.logs) {
    const s = (l["stats"] as Record<string, Record<string, number>> | undefined)?.["source_ebpf"];
    if (s?.["kernel_filtered"] !== undefined) n = s["kernel_filtered"];
  }
  return n;
}

/** Runs the workload under an agent; returns the alerts about it as "rule | file" and the kernel drop count. */
async function alertsUnder(rules: string[], filter: boolean, dir: string, marker: string): Promise<{ alerts: string[]; filtered: number }> {
  const args = ["--no-containerd", "--stats-interval", "1", ...rules.flatMap((r) => ["--rules", r])];
  if (!filter) args.push("--no-kernel-filter");
  const agent = await startAgent(args, 90_000);
  try {
    await runWorkload(dir, marker);
    // the last relevant open is /etc/pam.d/other, then noise: wait until its alert is in
    await agent.waitForAlert((a) => a.output.includes(marker) && a.output.includes("/etc/pam.d/other"), 15_000).catch(() => undefined);
    // the probe reports its counters every second: wait for a report taken after the workload
    await new Promise((r) => setTimeout(r, 1500));
    const seen = agent.logs.length;
    await agent.waitForLog((l) => agent.logs.indexOf(l) >= seen && l["stats"] !== undefined, 5_000).catch(() => undefined);
    const mine = agent.alerts.filter((a: JsonAlert) => a.output.includes(marker));
    return { alerts: [...new Set(mine.map((a) => `${a.rule} | ${String(a.output_fields["fd.name"] ?? "")}`))].sort(), filtered: kernelFiltered(agent) };
  } finally {
    await agent.stop("SIGINT");
  }
}

describe("kernel filters: same alerts with and without push-down (real kernel)", () => {
  let dir: string;
  const logs: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-pushdown-"));
    writeFileSync(join(dir, "workload.cjs"), WORKLOAD);
    symlinkSync("/etc/shadow", join(dir, "innocent-link"));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const l of logs) rmSync(l, { force: true });
  });

  for (const [label, rules] of [
    ["Falco's stable rules", [STABLE_RULES]],
    ["Falco's stable rules + Vigil's packs", [...PACKS, STABLE_RULES]],
  ] as const) {
    it(label, async () => {
      const marker = `pd${process.pid}${label.length}`;
      logs.push(`/var/log/vigil-pushdown-${marker}.log`);
      const on = await alertsUnder([...rules], true, dir, marker);
      const off = await alertsUnder([...rules], false, dir, marker);
      expect(on.alerts).toEqual(off.alerts);
      // the workload is relevant: the sensitive reads (one through a symlink) and the traversal alert
      expect(on.alerts.some((a) => a.endsWith("| /etc/shadow"))).toBe(true);
      expect(on.alerts.some((a) => a.endsWith("| /etc/hostname"))).toBe(true);
      expect(on.alerts.some((a) => a.endsWith("| /etc/pam.d/other"))).toBe(true);
      expect(off.filtered).toBe(0);
      if (rules.length === 1) {
        // 4,000 reads of /etc/hostname, 1,000 failed opens, node's own opens: dropped in the kernel
        expect(on.alerts.some((a) => a.includes("vigil-pushdown-"))).toBe(true);
        expect(on.filtered).toBeGreaterThan(4000);
      }
    }, 240_000);
  }
});
