// SPDX-License-Identifier: Apache-2.0
/**
 * Ingest from an existing Falco (≤ 0.43) over its gRPC outputs API. The "Falco" here is a real
 * grpc-js server built from the real schema with @grpc/proto-loader, behaving like Falco's
 * (one global queue; `sub` writes what is queued on each request; `get` drains and ends).
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FalcoGrpcSource, falcoResponseToAlert } from "../../agent/sources/falco-grpc.js";
import { startCollector } from "../../collector/server.js";
import { fakeFalco } from "../sinks/falco-interop.helpers.js";
import { ndjson, quiet, tempDir, waitFor } from "./helpers.js";
import { createInterface } from "node:readline";
import { spawnTs } from "../sinks/helpers/run-ts.js";
import type { Alert } from "../../proto/index.js";

const falcoResp = (i: number) => ({
  time: { seconds: 1795000000 + i, nanos: 5000 + i },
  priority: "WARNING",
  source_deprecated: "SYSCALL",
  rule: `Falco rule ${i}`,
  output: `12:00:00.000005000: Warning Something happened (proc.name=bash fd.name=/etc/shadow) ${i}`,
  output_fields: { "proc.name": "bash", "proc.pid": "4242", "fd.name": "/etc/shadow", "user.loginname": "null", "k8s.ns.name": "prod" },
  hostname: "falco-host",
  tags: ["T1003.008", "filesystem"],
  source: "syscall",
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("Falco gRPC outputs source", () => {
  it("converts a response like Falco's client would read it", () => {
    const a = falcoResponseToAlert(
      {
        time: { seconds: 1795000000, nanos: 7 },
        priority: 2,
        rule: "r",
        output: "o",
        output_fields: { a: "1", b: "null" },
        tags: ["x"],
        source: "",
        source_deprecated: 1,
      },
      "me",
    );
    expect(a).toMatchObject({
      time: "2026-11-18T11:06:40.000000007Z",
      priority: "Critical",
      source: "k8s_audit",
      hostname: "me",
      output_fields: { a: "1", b: null },
      tags: ["x"],
    });
    expect(() => falcoResponseToAlert({}, "me")).toThrow();
  });

  it.each(["sub", "get"] as const)("%s: receives every alert once, over a unix socket", async (mode) => {
    const falco = await fakeFalco(`unix://${join(tempDir(), "falco.sock")}`);
    cleanups.push(() => falco.server.forceShutdown());
    for (let i = 0; i < 5; i++) falco.push(falcoResp(i));
    const got: Alert[] = [];
    const src = new FalcoGrpcSource({ address: falco.address, mode, pollMs: 100, logger: quiet(), onAlert: (a) => got.push(a) });
    src.start();
    cleanups.push(() => src.stop());
    await waitFor(() => got.length === 5, 5000, "first 5");
    for (let i = 5; i < 8; i++) falco.push(falcoResp(i));
    await waitFor(() => got.length === 8, 5000, "3 more (keep-alive requests / polling)");
    expect(got.map((a) => a.rule)).toEqual(Array.from({ length: 8 }, (_v, i) => `Falco rule ${i}`));
    expect(got[0]).toMatchObject({
      priority: "Warning",
      source: "syscall",
      hostname: "falco-host",
      tags: ["T1003.008", "filesystem"],
      output_fields: { "proc.pid": "4242", "user.loginname": null },
    });
    expect(got[0]!.time).toBe(`${new Date(1795000000 * 1000).toISOString().slice(0, 19)}.000005000Z`);
    expect(new Set(got.map((a) => a.id)).size).toBe(8);
    if (mode === "sub") expect(falco.subRequests).toBeGreaterThan(1);
  });

  it("reconnects after Falco restarts", async () => {
    const addr = `unix://${join(tempDir(), "falco.sock")}`;
    let falco = await fakeFalco(addr);
    const got: Alert[] = [];
    const src = new FalcoGrpcSource({ address: addr, pollMs: 100, logger: quiet(), onAlert: (a) => got.push(a) });
    src.start();
    cleanups.push(() => src.stop());
    falco.push(falcoResp(1));
    await waitFor(() => got.length === 1, 5000, "before restart");
    falco.server.forceShutdown();
    await new Promise((r) => setTimeout(r, 300));
    falco = await fakeFalco(addr);
    cleanups.push(() => falco.server.forceShutdown());
    falco.push(falcoResp(2));
    await waitFor(() => got.length === 2, 15_000, "after restart");
  });

  it("Falco's alerts are stored and queryable like Vigil's own", async () => {
    const falco = await fakeFalco(`unix://${join(tempDir(), "falco.sock")}`);
    cleanups.push(() => falco.server.forceShutdown());
    const col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), logger: quiet() });
    cleanups.push(() => col.close());
    const src = new FalcoGrpcSource({ address: falco.address, pollMs: 100, logger: quiet(), onAlert: (a) => col.ingest([a]) });
    src.start();
    cleanups.push(() => src.stop());
    for (let i = 0; i < 3; i++) falco.push(falcoResp(i));
    await waitFor(() => col.store.count() === 3, 5000, "stored");
    const r = ndjson(await (await fetch(`http://${col.address}/api/v1/alerts?namespace=prod&rule=Falco*`)).text()) as { rule: string; hostname: string }[];
    expect(r.map((a) => a.rule)).toEqual(["Falco rule 0", "Falco rule 1", "Falco rule 2"]);
    expect(r[0]!.hostname).toBe("falco-host");
  });

  it("vigil collector --falco-grpc stores a Falco's alerts (CLI)", async () => {
    const falco = await fakeFalco(`unix://${join(tempDir(), "falco.sock")}`);
    cleanups.push(() => falco.server.forceShutdown());
    for (let i = 0; i < 4; i++) falco.push(falcoResp(i));
    const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), "--falco-grpc", falco.address]);
    cleanups.push(() => void child.kill("SIGKILL"));
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on("line", (l) => {
        const m = /"msg":"vigil collector ready".*"address":"([^"]+)"|"address":"([^"]+)".*"msg":"vigil collector ready"/.exec(l);
        if (m) resolve((m[1] ?? m[2])!);
      });
      child.on("exit", (c) => reject(new Error(`collector exited ${c}`)));
    });
    let rules: string[] = [];
    await waitFor(
      async () => {
        const r = ndjson(await (await fetch(`http://${address}/api/v1/alerts?node=falco-host`)).text()) as { rule: string }[];
        rules = r.map((a) => a.rule);
        return rules.length === 4;
      },
      10_000,
      "4 Falco alerts stored",
    );
    expect(rules).toEqual(["Falco rule 0", "Falco rule 1", "Falco rule 2", "Falco rule 3"]);
  });
});
