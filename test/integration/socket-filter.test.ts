// SPDX-License-Identifier: Apache-2.0
/**
 * Socket filters against the real kernel and the real agent (issue 19, Stratum over write/writev):
 * with 45-mining.yaml alone, the agent asks the probe for `write:sockjson` and `writev:sockjson`;
 * a workload writing a Stratum subscribe 3000 times to a file (write), then 500 HTTP requests on a
 * TCP socket (not JSON), sees those writes dropped in the kernel (the probe's `filtered` counter,
 * kernel_filtered in the agent's stats, grows by their number) and no alert, while the Stratum text
 * written to the TCP socket (write, then writev of two buffers) alerts, with the socket named. With
 * `--no-kernel-filter` nothing is dropped.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";

const FILE_WRITES = 3000;
const HTTP_WRITES = 500;
const PACK = fileURLToPath(new URL("../../rules/files/45-mining.yaml", import.meta.url));

// file writes of the Stratum text, then one write and one writev (two buffers) of it on a TCP socket
const WORKLOAD = String.raw`
const fs = require("node:fs");
const net = require("node:net");
const [dir, marker, n] = process.argv.slice(2);
const line = '{"id":1,"method":"mining.subscribe","params":["' + marker + '"]}\n';
const fd = fs.openSync(dir + "/file-" + marker, "w");
for (let i = 0; i < Number(n); i++) fs.writeSync(fd, line);
fs.closeSync(fd);
const server = net.createServer((s) => s.resume());
server.listen(0, "127.0.0.1", () => {
  const c = net.connect(server.address().port, "127.0.0.1", () => {
    // HTTP on the same socket: a socket write, but not JSON (one write call each, the socket drains at once)
    const http = "GET /status HTTP/1.1\r\nHost: " + marker + "\r\n\r\n";
    for (let i = 0; i < ${HTTP_WRITES}; i++) c.write(http);
    c.write(line, () => {
      c.cork();
      c.write('{"id":2,"method":"mining.authorize",');
      c.write('"params":["' + marker + '","x"]}\n');
      c.uncork();
      setTimeout(() => { c.destroy(); server.close(); }, 300);
    });
  });
});
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

describe("socket filters in the kernel (real kernel)", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-sockfilter-"));
    writeFileSync(join(dir, "workload.cjs"), WORKLOAD);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function under(filter: boolean, marker: string) {
    const args = ["--no-containerd", "--stats-interval", "1", "--rules", PACK];
    if (!filter) args.push("--no-kernel-filter");
    const agent = await startAgent(args, 90_000);
    try {
      await waitStats(agent);
      const before = kernelFiltered(agent);
      await run(join(dir, "workload.cjs"), [dir, marker, String(FILE_WRITES)]);
      const mine = () => agent.alerts.filter((a) => a.output.includes(marker));
      await agent.waitForAlert(() => mine().length >= 2, 15_000).catch(() => undefined);
      await waitStats(agent);
      const line = agent.logs.find((l) => l["resultFilters"] !== undefined)?.["resultFilters"] as Record<string, string> | undefined;
      return { alerts: mine(), filtered: kernelFiltered(agent) - Math.max(before, 0), line };
    } finally {
      await agent.stop("SIGINT");
    }
  }

  it("drops file writes before a frame is built; Stratum written on a TCP socket alerts (write and writev)", async () => {
    const m = `sf${process.pid}s`;
    const on = await under(true, m);
    expect(on.line?.["write"]).toBe("sockjson");
    expect(on.line?.["writev"]).toBe("sockjson");
    // the file writes, and the socket writes of HTTP (a few may be coalesced by libuv into one writev)
    expect(on.filtered).toBeGreaterThanOrEqual(FILE_WRITES + HTTP_WRITES / 2);
    // one alert per socket write (the subscribe; the authorize's first buffer), none for the file
    expect(on.alerts.map((a) => a.rule)).toEqual(["Stratum Mining Protocol Written To Socket", "Stratum Mining Protocol Written To Socket"]);
    expect(on.alerts.map((a) => a.output_fields["evt.type"]).sort()).toEqual(["write", "writev"]);
    for (const a of on.alerts) expect(a.output).toMatch(/connection=127\.0\.0\.1:\d+->127\.0\.0\.1:\d+/);
  }, 180_000);

  it("sends every write with --no-kernel-filter, and alerts the same", async () => {
    const m = `sf${process.pid}x`;
    const off = await under(false, m);
    expect(off.filtered).toBe(0);
    expect(off.alerts.length).toBe(2);
  }, 180_000);
});
