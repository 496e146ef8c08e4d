// SPDX-License-Identifier: Apache-2.0
/**
 * The first slice end to end: real kernel, real probe, real agent. `cat /etc/shadow` raises exactly
 * one alert naming that child; a child opening another file raises none.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, runChild, startAgent, type RunningAgent } from "../helpers/agent.js";

describe("vigil agent on the real kernel", () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await startAgent(["--no-containerd", "--stats-interval", "0"]);
  }, 90_000);

  afterAll(async () => {
    const code = await agent?.stop();
    expect(code).toBe(0);
  });

  it("alerts once on cat /etc/shadow with the child's pid, name and file", async () => {
    const { pid, code } = await runChild("cat", ["/etc/shadow"]);
    expect(code).toBe(0);
    const alert = await agent.waitForAlert((a) => a.output_fields["proc.pid"] === pid, 2000);
    expect(alert.rule).toBe("Read Shadow File");
    expect(alert.priority).toBe("Warning");
    expect(alert.source).toBe("syscall");
    expect(alert.output_fields["proc.name"]).toBe("cat");
    expect(alert.output_fields["fd.name"]).toBe("/etc/shadow");
    expect(alert.tags).toContain("T1003.008");
    expect(alert.output).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z: Warning Shadow password file opened/);
    expect(alert.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    // exactly one: give stragglers a moment
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.alerts.filter((a) => a.output_fields["proc.pid"] === pid)).toHaveLength(1);
  });

  it("raises nothing for a child opening another file", async () => {
    const { pid } = await runChild("cat", ["/etc/hostname"]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(agent.alerts.filter((a) => a.output_fields["proc.pid"] === pid)).toHaveLength(0);
  });
});

describe("vigil command line", () => {
  it.each([[["--help"]], [["agent", "--help"]]])("%j exits 0 with usage", (args) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: vigil/);
  });

  it("exits non-zero with one clear line when the probe cannot start", () => {
    const r = spawnSync(process.execPath, [CLI, "agent", "--no-containerd", "--no-embedded-collector", "--no-metrics", "--probe", "/nonexistent/vigil-probe"], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, VIGIL_LOG_LEVEL: "silent" },
    });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vigil agent: .*vigil-probe/);
  });

  it("says in one line what an unprivileged user lacks", (ctx) => {
    const nobody = { uid: 65534, gid: 65534 };
    // the checkout must be readable by that user (it is not under a private home, say)
    const probe = spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(CLI)})`], { ...nobody });
    if (probe.status !== 0) ctx.skip("the checkout is not readable by uid 65534");
    const data = mkdtempSync(join(tmpdir(), "vigil-nobody-"));
    chmodSync(data, 0o777);
    const r = spawnSync(process.execPath, [CLI, "agent", "--no-containerd", "--no-embedded-collector", "--no-metrics", "--no-fim", "--data", join(data, "d")], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, VIGIL_LOG_LEVEL: "silent" },
      ...nobody,
    });
    rmSync(data, { recursive: true, force: true });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vigil agent: vigil-probe: permission denied: .*root or the capabilities CAP_BPF/);
  });

  it("rejects an unknown output format with one line", () => {
    const r = spawnSync(process.execPath, [CLI, "agent", "--output", "xml"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/xml/);
  });
});
