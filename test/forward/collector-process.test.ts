// SPDX-License-Identifier: Apache-2.0
/**
 * Forwarders as a user runs them: `vigil collector --listen HOST:PORT --data DIR --token T
 * --config FILE` with the YAML (a Slack forwarder and a webhook "SIEM"), real HTTP
 * receivers, alerts posted as Falco's http_output would. Then the collector is killed with
 * SIGKILL while a webhook request is in flight and started again on the same data directory:
 * the cursor resumes, every alert arrives, in order, and the one batch that was in flight when
 * it died is resent with the same Idempotency-Key (so the receiver keeps one copy).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnTs } from "../sinks/helpers/run-ts.js";

const TOKEN = "forwarders-process-token";

interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

function receiver(opts: { delayMs?: () => number } = {}): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const delay = opts.delayMs?.() ?? 0;
      setTimeout(() => {
        got.push({ path: req.url ?? "", headers: req.headers, body });
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok");
      }, delay);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, got })),
  );
}

async function startCollectorProc(args: string[]): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawnTs("agent/cli/main.ts", ["collector", ...args], { env: { ...process.env, VIGIL_LOG_FORMAT: "json" } });
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`collector did not start: ${err.slice(-2000)}`)), 60_000);
    proc.stderr!.on("data", () => {
      const m = /"address":"([^"]+)"[^\n]*"msg":"vigil collector ready"/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    proc.once("exit", (code) => reject(new Error(`collector exited ${code}: ${err.slice(-2000)}`)));
  });
  return { proc, address };
}

const falcoAlert = (n: number) => ({
  uuid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
  output: `10:00:00.000000000: Warning Sensitive file opened for reading (file=/etc/shadow n=${n})`,
  priority: "Warning",
  rule: "Read sensitive file untrusted",
  time: new Date().toISOString(),
  output_fields: { "fd.name": "/etc/shadow", "proc.name": "cat", "k8s.ns.name": "prod", "k8s.pod.name": "web-1" },
  hostname: "node-7",
  source: "syscall",
  tags: ["filesystem", "T1555"],
});

async function post(address: string, n: number): Promise<void> {
  const r = await fetch(`http://${address}/api/v1/falco`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(falcoAlert(n)),
  });
  if (r.status !== 200) throw new Error(`post ${n}: ${r.status}`);
}

async function until(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("vigil collector --config with forwarders:", () => {
  let dir: string;
  let slack: Awaited<ReturnType<typeof receiver>>;
  let siem: Awaited<ReturnType<typeof receiver>>;
  let slow = false;
  let config: string;
  let proc: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fwd-proc-"));
    slack = await receiver();
    siem = await receiver({ delayMs: () => (slow ? 3000 : 0) });
    config = join(dir, "collector.yaml");
    // the contract, pointed at local receivers
    writeFileSync(
      config,
      `forwarders:
  - name: team-chat
    type: slack
    url: ${slack.url}/services/T000/B000/XXXX
    min_priority: warning
  - name: siem
    type: webhook
    url: ${siem.url}/ingest
`,
    );
  });

  afterAll(async () => {
    proc?.kill("SIGKILL");
    for (const r of [slack, siem]) {
      r?.server.closeAllConnections();
      r?.server.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("delivers to the team's channel and the SIEM, and resumes its cursor after a SIGKILL mid-batch", async () => {
    const data = join(dir, "data");
    const args = ["--listen", "127.0.0.1:0", "--data", data, "--token", TOKEN, "--config", config];
    let c = await startCollectorProc(args);
    proc = c.proc;
    for (let n = 0; n < 5; n++) await post(c.address, n);
    await until("5 at the SIEM and in Slack", () => siem.got.length === 5 && slack.got.length === 5);
    expect(siem.got.map((g) => (JSON.parse(g.body) as { uuid: string }).uuid)).toEqual([0, 1, 2, 3, 4].map((n) => falcoAlert(n).uuid));
    expect(siem.got.every((g) => g.path === "/ingest" && g.headers["idempotency-key"] === (JSON.parse(g.body) as { uuid: string }).uuid)).toBe(true);
    const msg = JSON.parse(slack.got[0]!.body) as { text?: string; attachments?: unknown[] };
    expect(JSON.stringify(msg)).toContain("Read sensitive file untrusted");
    expect(slack.got[0]!.path).toBe("/services/T000/B000/XXXX");

    // the SIEM now answers slowly: the collector dies while a request is in flight
    slow = true;
    for (let n = 5; n < 10; n++) await post(c.address, n);
    await new Promise((r) => setTimeout(r, 1000));
    c.proc.kill("SIGKILL");
    await new Promise((r) => c.proc.once("exit", r));
    slow = false;
    c = await startCollectorProc(args);
    proc = c.proc;
    for (let n = 10; n < 15; n++) await post(c.address, n);
    await until("every alert at the SIEM", () => new Set(siem.got.map((g) => g.headers["idempotency-key"])).size === 15, 30_000);
    // the dead collector's in-flight request is answered (and recorded) 3 s after it was sent
    await new Promise((r) => setTimeout(r, 3500));
    const keys = siem.got.map((g) => String(g.headers["idempotency-key"]));
    // in order of first arrival, each alert once after dropping resends by key
    const firsts = keys.filter((k, i) => keys.indexOf(k) === i);
    expect(firsts).toEqual(Array.from({ length: 15 }, (_, n) => falcoAlert(n).uuid));
    // only what was in flight at the kill came again
    expect(keys.length - firsts.length).toBe(1);
    const status = await fetch(`http://${c.address}/api/v1/forwarders`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const list = ((await status.json()) as { forwarders: { name: string; lagAlerts: number }[] }).forwarders;
    expect(list.map((f) => f.name).sort()).toEqual(["siem", "team-chat"]);
    await until("Slack caught up", () => new Set(slack.got.map((g) => g.body)).size >= 15, 20_000);
  }, 120_000);

  it("refuses a configuration with a forwarder it cannot set up, naming it", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "forwarders:\n  - name: pager\n    type: pagerduty\n    routing_key_file: /nonexistent/key\n");
    const p = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", join(dir, "bad"), "--config", bad]);
    let err = "";
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => p.once("exit", r));
    expect(code).not.toBe(0);
    expect(err).toContain("forwarder pager (pagerduty)");
    expect(err).toContain("routing_key_file");
  }, 60_000);
});
