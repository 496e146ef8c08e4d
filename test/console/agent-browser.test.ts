// SPDX-License-Identifier: Apache-2.0
/**
 * The newcomer's path through the console, end to end on the real kernel: `vigil agent` (the real
 * probe, its embedded collector with a generated token) prints the console's URL and the commands
 * that print the token; the test runs those commands as printed, opens the `#token=` URL in
 * Debian's Chromium (headless), then runs `cat /etc/shadow` from `sh` and watches the Read Shadow
 * File alert arrive over the live tail, opens its detail and finds its process ancestry
 * (cat ← sh ← this test's node process ← its parent) and the MITRE technique linked.
 * Screenshots go to the test's temporary folder (printed).
 *
 * Skipped, with a line saying why, only when no Chromium is installed.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../helpers/agent.js";
import { CHROMIUM, launchChromium, noChromiumNote } from "../helpers/chromium.js";
import { tempDir } from "../collector/helpers.js";

if (CHROMIUM === undefined) noChromiumNote("agent-browser.test");

/** What `sh -c` runs: the shell stays the parent of cat (it does not exec its last command). */
const SCRIPT = "cat /etc/shadow >/dev/null; exit 0";

/** The command-name (comm) of a process, as the probe reports proc.name. */
function comm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}

describe.skipIf(CHROMIUM === undefined)("console with a real agent", () => {
  let agent: RunningAgent | undefined;
  let browser: Browser | undefined;
  const shots = tempDir("vigil-agent-console-shots-");

  beforeAll(async () => {
    // the agent as the README runs it, but on a free port and a temporary state directory
    [agent, browser] = await Promise.all([
      startAgent(["--no-containerd", "--stats-interval", "0", "--embedded-collector", "127.0.0.1:0"], 60_000, {}, ["--no-metrics", "--no-fim-scan"]),
      launchChromium(),
    ]);
    process.stderr.write(`agent-browser.test: screenshots in ${shots}\n`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    expect(await agent?.stop()).toBe(0);
  });

  it("the printed URL and token command log in, and cat /etc/shadow arrives live with its process tree", { timeout: 60_000 }, async () => {
    const a = agent!;
    // the lines the agent printed once ready (plain text on stderr, beside its JSON log)
    const hint = (re: RegExp) => a.stderrText.map((l) => re.exec(l)?.[1]).find((m) => m !== undefined);
    await expect.poll(() => hint(/or open the address this prints .*: (echo .+)$/), { timeout: 5000 }).toBeDefined();
    const url = hint(/^vigil agent: web console at (http:\/\/127\.0\.0\.1:\d+\/)$/);
    const read = hint(/log in with the token this prints: (.+)$/)!;
    const open = hint(/or open the address this prints .*: (echo .+)$/)!;
    expect(url).toBeDefined();
    // the token itself was never printed, on stdout or stderr
    const token = execFileSync("sh", ["-c", read], { encoding: "utf8" }).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const l of [...a.stderrText, ...a.logs.map((o) => JSON.stringify(o)), ...a.alerts.map((o) => JSON.stringify(o))]) expect(l).not.toContain(token);
    const loginUrl = execFileSync("sh", ["-c", open], { encoding: "utf8" }).trim();
    expect(loginUrl).toBe(`${url}#token=${token}`);

    const ctx = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(loginUrl);
    // logged in, the token out of the address bar, the tail live
    await page.locator(".tail-state[data-state=live]").waitFor({ timeout: 10_000 });
    expect(page.url()).toBe(url);
    // and the stored alerts loaded: from here on, a new alert can only come over the tail
    await expect.poll(() => page.locator(".top-bar .count").textContent(), { timeout: 10_000 }).toMatch(/^\d+ alerts \(\d+ ms\)$/);
    await page.screenshot({ path: join(shots, "1-live.png") });

    // cat /etc/shadow from sh, from this test's process: a chain the detail must show
    const sh = spawn("sh", ["-c", SCRIPT], { stdio: "ignore" });
    expect(await new Promise((r) => sh.on("exit", r))).toBe(0);
    const alert = await a.waitForAlert((x) => x.rule === "Read Shadow File" && x.output_fields["proc.pcmdline"] === `sh -c ${SCRIPT}`, 5000);
    expect(alert.output_fields["proc.pname"]).toBe("sh");

    // it arrives over the WebSocket tail, on top of the list, without a reload
    const row = page.locator(`.row[data-id="${alert.uuid}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator(".c-rule").textContent()).toBe("Read Shadow File");
    await page.screenshot({ path: join(shots, "2-shadow-arrived.png") });

    // its detail: the process tree, the command lines, the MITRE technique
    await row.click();
    const detail = page.locator(".detail");
    await detail.locator("h2", { hasText: "Read Shadow File" }).waitFor();
    expect(await detail.locator(".ancestry .proc-name").allTextContents()).toEqual(["cat", "sh", comm(process.pid), comm(process.ppid)]);
    expect(await detail.locator(".ancestry .proc-cmd").allTextContents()).toEqual(["cat /etc/shadow", `sh -c ${SCRIPT}`]);
    expect(await detail.locator(".ancestry .self .proc-pid").textContent()).toBe(`pid ${String(alert.output_fields["proc.pid"])}`);
    expect(await detail.locator('a[href="https://attack.mitre.org/techniques/T1003/008/"]').textContent()).toBe("T1003.008");
    expect(await detail.locator(".fields th", { hasText: "fd.name" }).locator("xpath=following-sibling::td").textContent()).toBe("/etc/shadow");
    await detail.locator(".ancestry").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, "3-shadow-detail.png") });
    expect(pageErrors).toEqual([]);
    await ctx.close();
  });
});
