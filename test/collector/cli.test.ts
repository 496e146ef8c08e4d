// SPDX-License-Identifier: Apache-2.0
/**
 * The command-line contract, with real processes: `vigil collector`, `vigil alerts query`,
 * `vigil tail` (following a collector that is killed and restarted).
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { runCli, spawnTs } from "../sinks/helpers/run-ts.js";
import { makeAlert, ndjson, tempDir, waitFor } from "./helpers.js";

const TOKEN = "cli-token";
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

/** Starts `vigil collector`; resolves with its address once it logged ready. */
async function collector(listen: string, data: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", listen, "--data", data, "--token", TOKEN]);
  children.push(child);
  let err = "";
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (l) => {
      err += l + "\n";
      try {
        const o = JSON.parse(l) as { msg?: string; address?: string };
        if (o.msg === "vigil collector ready") resolve(o.address!);
      } catch {
        // not a log line
      }
    });
    child.on("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
  return { child, address };
}

describe("vigil collector / alerts query / tail", () => {
  it("collector refuses a non-loopback listen without a token, with one clear line", async () => {
    const r = await runCli(["collector", "--listen", "0.0.0.0:0", "--data", tempDir()], { VIGIL_TOKEN: "" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^vigil: a token is required to listen on 0\.0\.0\.0/);
  });

  it("vigil collector takes its token from VIGIL_TOKEN when no flag names one", async () => {
    const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", tempDir()], {
      env: { ...process.env, VIGIL_TOKEN: "from-env" },
    });
    children.push(child);
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on("line", (l) => {
        try {
          const o = JSON.parse(l) as { msg?: string; address?: string };
          if (o.msg === "vigil collector ready") resolve(o.address!);
        } catch {
          // not a log line
        }
      });
      child.on("exit", (code) => reject(new Error(`collector exited ${code}`)));
    });
    expect((await fetch(`http://${address}/api/v1/stats`)).status).toBe(401);
    expect((await fetch(`http://${address}/api/v1/stats`, { headers: { authorization: "Bearer from-env" } })).status).toBe(200);
  });

  it("alerts query prints stored alerts as NDJSON, filtered, and refuses a bad token", async () => {
    const { address } = await collector("127.0.0.1:0", tempDir());
    const client = new CollectorClient({ address, token: TOKEN });
    const a1 = makeAlert({ rule: "Read sensitive file", priority: "Error" });
    const a2 = makeAlert({ rule: "Shell in container", priority: "Notice" });
    await client.push([a1, a2], []);
    client.close();
    const r = await runCli(["alerts", "query", "--collector", address, "--token", TOKEN, "--priority", "warning", "--output", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = ndjson(r.stdout) as { id: string; rule: string; output_fields: Record<string, unknown> }[];
    expect(rows.map((x) => x.id)).toEqual([a1.id]);
    expect(rows[0]).toMatchObject({ rule: "Read sensitive file", priority: "Error", output_fields: { "proc.pid": 1234 } });
    const text = await runCli(["alerts", "query", "--collector", address, "--namespace", "default"], { VIGIL_TOKEN: TOKEN });
    expect(text.code).toBe(0);
    expect(text.stdout.trim().split("\n")).toHaveLength(2);
    const bad = await runCli(["alerts", "query", "--collector", address, "--token", "nope"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bearer token/);
    const badFilter = await runCli(["alerts", "query", "--collector", address, "--token", TOKEN, "--since", "yesterday-ish"]);
    expect(badFilter.code).toBe(1);
    expect(badFilter.stderr.trim()).toMatch(/^vigil: bad time/);
  });

  it("tail exits with one clear line when the collector refuses its token", async () => {
    const { address } = await collector("127.0.0.1:0", tempDir());
    const r = await runCli(["tail", "--collector", address, "--token", "wrong"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("vigil: collector refused the token (401)");
  });

  it("tail follows live alerts with filters and survives a collector restart without gaps or duplicates", async () => {
    const data = tempDir();
    let col = await collector("127.0.0.1:0", data);
    const address = col.address;
    const tail = spawnTs("agent/cli/main.ts", ["tail", "--collector", address, "--token", TOKEN, "--namespace", "prod", "--output", "json"]);
    children.push(tail);
    const lines: { id: string; rule: string }[] = [];
    createInterface({ input: tail.stdout! }).on("line", (l) => lines.push(JSON.parse(l) as { id: string; rule: string }));
    const client = new CollectorClient({ address, token: TOKEN });
    const want: string[] = [];
    const push = async (n: number) => {
      const batch = Array.from({ length: n }, (_v, i) => makeAlert({ fields: { "k8s.ns.name": i % 2 === 0 ? "prod" : "dev" } }));
      want.push(...batch.filter((_a, i) => i % 2 === 0).map((a) => a.id));
      await client.push(batch, []);
    };
    // the tail connects asynchronously: push until its first line shows up, then count from there
    await waitFor(
      async () => {
        await push(2);
        return lines.length > 0;
      },
      15_000,
      "tail's first line",
    );
    const firstSeen = want.indexOf(lines[0]!.id);
    await push(20);
    await waitFor(() => lines.length === want.length - firstSeen, 5000, "live alerts");
    col.child.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    col = await collector(address, data);
    await waitFor(() => lines.length === want.length - firstSeen, 1000, "no change");
    await push(20);
    await waitFor(() => lines.length === want.length - firstSeen, 15_000, "alerts after the restart");
    expect(lines.map((l) => l.id)).toEqual(want.slice(firstSeen));
    client.close();
  });
});
