// SPDX-License-Identifier: Apache-2.0
/**
 * Result filters against the real kernel and the real agent (issue 19, failed attempts): with a
 * rule that needs failed chmod calls only, the probe drops the successful ones before it builds a
 * frame (the probe's `filtered` counter, kernel_filtered in the agent's stats, grows by at least
 * their number) and the rule still sees every failure; with a rule needing successes the reverse;
 * with `--no-kernel-filter` nothing is dropped and the alerts are the same. A failed execve carries
 * the path it tried (evt.arg.filename) and the caller's process fields.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";

const OK_CALLS = 3000;
const FAILED_CALLS = 40;

// successful chmods of a file, failed ones (ENOENT) of a missing path; both name the marker
const WORKLOAD = `
const fs = require("node:fs");
const [dir, marker, ok, failed] = process.argv.slice(2);
const file = dir + "/present-" + marker;
fs.writeFileSync(file, "x");
for (let i = 0; i < Number(ok); i++) fs.chmodSync(file, 0o600 + (i % 2) * 0o40);
for (let i = 0; i < Number(failed); i++) { try { fs.chmodSync(dir + "/missing-" + marker + "-" + i, 0o600); } catch {} }
`;

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [file, ...args], { stdio: "ignore" });
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

async function waitStats(agent: RunningAgent): Promise<void> {
  // the probe reports its counters every second: wait for a report taken after the workload
  await new Promise((r) => setTimeout(r, 1500));
  const seen = agent.logs.length;
  await agent.waitForLog((l) => agent.logs.indexOf(l) >= seen && l["stats"] !== undefined, 5_000).catch(() => undefined);
}

function rule(name: string, cond: string, output: string): string {
  return `- rule: ${name}\n  desc: result filter test\n  condition: ${cond}\n  output: "${output}"\n  priority: WARNING\n`;
}

describe("result filters in the kernel (real kernel)", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-resfilter-"));
    writeFileSync(join(dir, "workload.cjs"), WORKLOAD);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function under(cond: string, filter: boolean, marker: string, calls: { ok: number; failed: number }, wantAlerts: number) {
    const rules = join(dir, `rules-${marker}-${filter ? "on" : "off"}.yaml`);
    writeFileSync(rules, rule("chmod outcome", `evt.type = chmod and evt.arg.filename contains ${marker} and ${cond}`, "chmod %evt.arg.filename err=%evt.res"));
    const args = ["--no-containerd", "--stats-interval", "1", "--rules", rules];
    if (!filter) args.push("--no-kernel-filter");
    const agent = await startAgent(args, 90_000);
    try {
      const before = await (async () => {
        await waitStats(agent);
        return kernelFiltered(agent);
      })();
      await run(join(dir, "workload.cjs"), [dir, marker, String(calls.ok), String(calls.failed)]);
      await agent.waitForAlert(() => agent.alerts.filter((a) => a.output.includes(marker)).length >= wantAlerts, 15_000).catch(() => undefined);
      await waitStats(agent);
      const alerts = agent.alerts.filter((a) => a.output.includes(marker));
      const line = agent.logs.find((l) => l["resultFilters"] !== undefined)?.["resultFilters"] as Record<string, string> | undefined;
      return { alerts: alerts.length, filtered: kernelFiltered(agent) - Math.max(before, 0), line };
    } finally {
      await agent.stop("SIGINT");
    }
  }

  it("drops successful calls when every rule of the type needs a failure", async () => {
    const m = `rf${process.pid}f`;
    const calls = { ok: OK_CALLS, failed: FAILED_CALLS };
    const on = await under("evt.failed = true", true, m, calls, FAILED_CALLS);
    expect(on.line?.["chmod"]).toBe("fail");
    expect(on.alerts).toBe(FAILED_CALLS);
    expect(on.filtered).toBeGreaterThanOrEqual(OK_CALLS);
    const off = await under("evt.failed = true", false, `${m}x`, calls, FAILED_CALLS);
    expect(off.alerts).toBe(FAILED_CALLS);
    expect(off.filtered).toBe(0);
  }, 240_000);

  it("drops failed calls when every rule of the type needs a success", async () => {
    const m = `rf${process.pid}o`;
    // few successes (each one alerts), many failures
    const on = await under("evt.rawres = 0", true, m, { ok: FAILED_CALLS, failed: OK_CALLS }, FAILED_CALLS);
    expect(on.line?.["chmod"]).toBe("ok");
    expect(on.alerts).toBe(FAILED_CALLS);
    expect(on.filtered).toBeGreaterThanOrEqual(OK_CALLS);
  }, 240_000);

  it("a failed execve names the program it tried; the process fields are the caller's", async () => {
    const marker = `rfx${process.pid}`;
    const target = join(dir, `noexec-${marker}`);
    writeFileSync(target, "#!/bin/sh\necho never\n", { mode: 0o644 });
    const rules = join(dir, "exec.yaml");
    writeFileSync(
      rules,
      rule(
        "exec refused",
        `evt.type = execve and evt.failed = true and evt.arg.filename contains ${marker}`,
        "refused %evt.arg.filename err=%evt.res exe=%proc.exe",
      ),
    );
    const agent = await startAgent(["--no-containerd", "--rules", rules], 90_000);
    try {
      const r = spawnSync(target, [], { stdio: "ignore" });
      expect(r.error).toBeDefined();
      const a = await agent.waitForAlert((x) => x.output.includes(marker), 15_000);
      expect(a.output).toContain(`refused ${target} err=EACCES`);
      expect(a.output_fields["proc.exe"]).not.toContain(marker);
    } finally {
      await agent.stop("SIGINT");
    }
  }, 120_000);
});
