// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil collector` run from sources: the read-only token from --read-token, its file and the
 * configuration (collector.read_token); a read token without the collector's token, or equal to
 * it, is one clear error; the console page is served from the repository's build.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, spawnTs } from "../sinks/helpers/run-ts.js";
import { tempDir } from "../collector/helpers.js";
import { send } from "./server-helpers.js";

const TOKEN = "cli-admin-token";
const READ = "cli-read-token";
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

async function collector(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), ...args], { env: { ...process.env, ...env } });
  children.push(child);
  let err = "";
  return new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (l) => {
      err += `${l}\n`;
      try {
        const o = JSON.parse(l) as { msg?: string; address?: string };
        if (o.msg === "vigil collector ready") resolve(o.address!);
      } catch {
        // not a log line
      }
    });
    child.on("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
}

/** The read token reads and cannot write; the admin token writes. */
async function checkRoles(address: string): Promise<void> {
  const base = `http://${address}`;
  const body = JSON.stringify({ output: "x", priority: "Warning", rule: "r", time: new Date().toISOString() });
  expect((await send(base, "/api/v1/alerts", { headers: { authorization: `Bearer ${READ}` } })).status).toBe(200);
  expect((await send(base, "/api/v1/falco", { method: "POST", headers: { authorization: `Bearer ${READ}` }, body })).status).toBe(403);
  expect((await send(base, "/api/v1/falco", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body })).status).toBe(200);
  const login = await send(base, "/api/v1/session", { method: "POST", body: JSON.stringify({ token: READ }) });
  expect(JSON.parse(login.body)).toEqual({ role: "read" });
}

describe("vigil collector: the read-only token and the console", () => {
  it("--read-token", async () => {
    const address = await collector(["--token", TOKEN, "--read-token", READ]);
    await checkRoles(address);
    // the console page, from dist/console (npm run build; the test setup builds it)
    const page = await send(`http://${address}`, "/");
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<script type="module" src="\/assets\/main-[A-Z0-9]+\.js">/);
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  });

  it("--read-token-file, VIGIL_READ_TOKEN and collector.read_token", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "read"), `${READ}\n`);
    await checkRoles(await collector(["--token", TOKEN, "--read-token-file", join(dir, "read")]));
    await checkRoles(await collector(["--token", TOKEN], { VIGIL_READ_TOKEN: READ }));
    writeFileSync(join(dir, "c.yaml"), `collector:\n  read_token: ${READ}\n`);
    await checkRoles(await collector(["--token", TOKEN, "--config", join(dir, "c.yaml")]));
  });

  it("a read token without the collector's token, or equal to it, is a clear error", async () => {
    const none = await runCli(["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), "--read-token", READ]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("needs the collector's token");
    const same = await runCli(["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), "--token", TOKEN, "--read-token", TOKEN]);
    expect(same.code).not.toBe(0);
    expect(same.stderr).toContain("must differ");
    expect(same.stderr).not.toContain(TOKEN);
  });
});
