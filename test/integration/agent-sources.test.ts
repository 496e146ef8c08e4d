// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's other inputs and outputs, end to end with the real CLI: vigil-trace frames on the
 * ptrace socket, a gap reported by a tracer, kernel drops as an internal alert, an audit capture
 * shipped to the embedded collector and replayed with `--source replay:FILE`, and the alerts of a
 * (fake, real-schema) Falco gRPC outputs server going through the agent's sinks.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { fakeFalco } from "../sinks/falco-interop.helpers.js";
import { CLI, REPO_ROOT, runChild, startAgent, type RunningAgent } from "../helpers/agent.js";

const TRACE = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");
const dir = mkdtempSync(join(tmpdir(), "vigil-sources-"));
const running: RunningAgent[] = [];

afterEach(async () => {
  for (const a of running.splice(0)) await a.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function traced(sock: string, script: string, extra: string[] = []): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn(
      TRACE,
      ["--socket", sock, ...extra, "--syscalls", "open,openat,openat2,execve,execveat,clone,clone3,fork,vfork", "--", "sh", "-c", script],
      { stdio: "ignore" },
    );
    c.on("exit", (code) => resolve(code));
  });
}

describe("ptrace source (vigil-trace socket)", () => {
  it("a shadow read under vigil-trace raises the built-in rule's alert in the agent", async () => {
    const sock = join(dir, "trace-1.sock");
    const agent = await startAgent(["--source", "ptrace", "--trace-socket", sock, "--no-containerd", "--stats-interval", "0"]);
    running.push(agent);
    const code = await traced(sock, "cat /etc/shadow >/dev/null; exit 3");
    expect(code).toBe(3); // the workload's exit code comes back
    const a = await agent.waitForAlert((x) => x.rule === "Read Shadow File" && x.output_fields["proc.name"] === "cat", 5000);
    expect(a.output_fields["fd.name"]).toBe("/etc/shadow");
    expect(a.output_fields["proc.pname"]).toBe("sh");
  }, 60_000);

  it("events a tracer could not deliver while the agent was away raise an internal alert", async () => {
    const sock = join(dir, "trace-2.sock");
    // the tracer overflows a 64 KiB buffer before any agent listens, then waits for one
    const script = "i=0; while [ $i -lt 400 ]; do cat /etc/hostname >/dev/null; i=$((i+1)); done; sleep 6; cat /etc/hostname >/dev/null";
    const done = traced(sock, script, ["--buffer-kb", "64"]);
    await new Promise((r) => setTimeout(r, 1500));
    const agent = await startAgent(["--source", "ptrace", "--trace-socket", sock, "--no-containerd", "--stats-interval", "0"]);
    running.push(agent);
    expect(await done).toBe(0);
    const a = await agent.waitForAlert((x) => x.rule === "Vigil Tracer Events Lost", 8000);
    expect(a.source).toBe("internal");
    expect(a.priority).toBe("Critical");
    expect(Number(a.output_fields["vigil.drops"])).toBeGreaterThan(0);
  }, 60_000);
});

describe("kernel drops", () => {
  it("a ring buffer too small for a burst raises one internal alert", async () => {
    const rules = join(dir, "openat.yaml");
    // enables openat in the kernel, matches nothing; without the rule's predicate pushed into the
    // probe (it would keep the burst in the kernel), so every open fills the small ring
    writeFileSync(rules, "- rule: Never\n  desc: d\n  condition: evt.type = openat and fd.name = /nonexistent/vigil\n  output: x\n  priority: DEBUG\n");
    const agent = await startAgent(
      ["--rules", rules, "--no-containerd", "--no-capture", "--stats-interval", "0", "--no-kernel-filter", "--metrics-port", "0"],
      60_000,
      {
        VIGIL_SOURCES_EBPF_RINGBUF_MB: "1",
        VIGIL_SOURCES_EBPF_WAKEUP_KB: "4096",
        VIGIL_SOURCES_EBPF_POLL_MS: "1000",
        // a record into an empty ring wakes the loader, which then keeps up; a busy ring drained
        // only once a second (the batch pause) overflows as the old timer-only loader did
        VIGIL_SOURCES_EBPF_BATCH_US: "1000000",
        VIGIL_SOURCES_EBPF_STATS_MS: "100",
        VIGIL_METRICS_HOST: "127.0.0.1",
      },
      ["--no-embedded-collector", "--no-fim-scan"],
    );
    const port = Number((await agent.waitForLog((l) => l["msg"] === "metrics and health endpoint listening", 1000))["port"]);
    running.push(agent);
    const mk = spawnSync("make", ["-s", "-C", join(REPO_ROOT, "native-bridge"), "bench"], { encoding: "utf8" });
    expect(mk.status, mk.stderr).toBe(0);
    await runChild(join(REPO_ROOT, "native-bridge", "build", "bench-openclose"), ["100000"]);
    const a = await agent.waitForAlert((x) => x.rule === "Vigil Kernel Events Dropped", 10_000);
    expect(a.source).toBe("internal");
    expect(Number(a.output_fields["vigil.drops"])).toBeGreaterThan(0);
    expect(a.output).toMatch(/dropped events/);
    // and the Prometheus counter follows the probe's count
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^vigil_kernel_drops_total (\d+)/m.exec(text);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(Number(a.output_fields["vigil.drops"]));
  }, 90_000);
});

describe("audit captures", () => {
  it("a capture rule's alert ships its capture to the embedded collector; replaying it raises the alert again", async () => {
    const secret = join(dir, "capture-me.txt");
    writeFileSync(secret, "x\n");
    const rules = join(dir, "capture.yaml");
    writeFileSync(
      rules,
      [
        "- rule: Capture Me Read",
        "  desc: a read of the test file, with a capture",
        `  condition: evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.name = ${secret}`,
        "  output: test file read (proc.name=%proc.name fd.name=%fd.name)",
        "  priority: WARNING",
        "  capture: true",
        "  capture_duration: 300",
        "",
      ].join("\n"),
    );
    const token = "capture-test-token-0123456789";
    const data = mkdtempSync(join(dir, "data-"));
    const agent = await startAgent(
      ["--rules", rules, "--no-containerd", "--stats-interval", "0", "--embedded-collector", "127.0.0.1:0", "--token", token, "--data", data],
      60_000,
      {},
      ["--no-metrics", "--no-fim-scan"],
    );
    running.push(agent);
    const listening = await agent.waitForLog((l) => l["msg"] === "embedded collector listening (vigil tail follows it)", 1000);
    const address = String(listening["address"]);
    await runChild("sh", ["-c", `cat ${secret} >/dev/null; echo after >/dev/null`]);
    const alert = await agent.waitForAlert((a) => a.rule === "Capture Me Read", 5000);
    expect(alert.output_fields["proc.name"]).toBe("cat");

    // the capture reaches the collector after its 300 ms window
    let blob: Buffer | undefined;
    for (let i = 0; i < 50 && blob === undefined; i++) {
      const r = await fetch(`http://${address}/api/v1/captures/${alert.uuid}`, { headers: { authorization: `Bearer ${token}` } });
      if (r.status === 200) blob = Buffer.from(await r.arrayBuffer());
      else await new Promise((res) => setTimeout(res, 200));
    }
    expect(blob).toBeDefined();
    const file = join(dir, "capture.bin");
    writeFileSync(file, blob!);

    // `vigil capture inspect` shows the open that raised it
    const inspect = spawnSync(process.execPath, [CLI, "capture", "inspect", "--file", file, "--output", "json"], { encoding: "utf8" });
    expect(inspect.status, inspect.stderr).toBe(0);
    const cap = JSON.parse(inspect.stdout) as { rule: string; events: { comm: string; event: string; fd: string | null }[] };
    expect(cap.rule).toBe("Capture Me Read");
    expect(cap.events.some((e) => e.comm === "cat" && e.fd === secret)).toBe(true);

    // replaying the capture through the same rules raises the alert again, then the agent exits 0
    const replay = await startAgent(["--source", `replay:${file}`, "--rules", rules, "--no-containerd", "--no-capture", "--stats-interval", "0"]);
    const again = await replay.waitForAlert((a) => a.rule === "Capture Me Read", 5000);
    expect(again.output_fields["fd.name"]).toBe(secret);
    expect(await replay.stop("SIGCONT")).toBe(0);
  }, 90_000);
});

describe("Falco gRPC outputs", () => {
  it("alerts of a Falco gRPC outputs server come out of the agent's sinks", async () => {
    const falco = await fakeFalco(`unix://${join(dir, "falco.sock")}`);
    falco.push({
      time: { seconds: 1795000000, nanos: 5 },
      priority: "CRITICAL",
      source_deprecated: "SYSCALL",
      rule: "Terminal shell in container",
      output: "12:00:00.000000005: Critical A shell was spawned in a container (proc.name=bash)",
      output_fields: { "proc.name": "bash", "container.id": "abcdef012345" },
      hostname: "falco-node",
      tags: ["T1059", "container"],
      source: "syscall",
    });
    try {
      const agent = await startAgent(["--source", "", "--falco-grpc", falco.address, "--no-containerd", "--stats-interval", "0"]);
      running.push(agent);
      const a = await agent.waitForAlert((x) => x.rule === "Terminal shell in container", 5000);
      expect(a.priority).toBe("Critical");
      expect(a.hostname).toBe("falco-node");
      expect(a.output_fields["proc.name"]).toBe("bash");
      expect(a.tags).toEqual(["T1059", "container"]);
    } finally {
      falco.server.forceShutdown();
    }
  }, 60_000);
});

describe("embedded collector", () => {
  it("is authenticated on loopback with a generated root-only token that the CLI clients pick up", async () => {
    const data = mkdtempSync(join(dir, "data-"));
    const agent = await startAgent(["--no-containerd", "--stats-interval", "0", "--embedded-collector", "127.0.0.1:0", "--data", data], 60_000, {}, [
      "--no-metrics",
      "--no-fim-scan",
    ]);
    running.push(agent);
    const listening = await agent.waitForLog((l) => l["msg"] === "embedded collector listening (vigil tail follows it)", 1000);
    const address = String(listening["address"]);
    const st = statSync(join(data, "collector-token"));
    expect(st.mode & 0o777).toBe(0o600);
    const { pid } = await runChild("cat", ["/etc/shadow"]);
    await agent.waitForAlert((a) => a.output_fields["proc.pid"] === pid, 5000);

    const query = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [CLI, "alerts", "query", "--collector", address, "--rule", "Read Shadow File", "--output", "json"], {
        encoding: "utf8",
        env: { ...process.env, VIGIL_TOKEN: "", VIGIL_TOKEN_FILE: "", ...env },
      });
    // without the token: refused
    const refused = query({ VIGIL_DATA: mkdtempSync(join(dir, "empty-")) });
    expect(refused.status).not.toBe(0);
    // with the agent's state directory readable: the stored alert (it reaches the store after the spool)
    let rows: { output_fields: Record<string, unknown> }[] = [];
    for (let i = 0; i < 50 && !rows.some((r) => r.output_fields["proc.pid"] === pid); i++) {
      const ok = query({ VIGIL_DATA: data });
      expect(ok.status, ok.stderr).toBe(0);
      rows = ok.stdout
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as (typeof rows)[number]);
      if (!rows.some((r) => r.output_fields["proc.pid"] === pid)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows.some((r) => r.output_fields["proc.pid"] === pid)).toBe(true);
  }, 60_000);
});
