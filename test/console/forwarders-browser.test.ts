// SPDX-License-Identifier: Apache-2.0
/**
 * The console's forwarders page in Debian's Chromium against a real `vigil collector --config`
 * running two webhook forwarders at local receivers: `siem` delivers, but its receiver refuses one
 * alert for good (HTTP 400: a dead letter); `pager`'s receiver is down (HTTP 503: it retries, and
 * lags). Reached from the header's link, the page shows each one's state, cursor, lag, counters,
 * dead letters (opened under the row: the alert and why) and last error, as the collector's
 * GET /api/v1/forwarders reports them; its URL reloads to the same page; the header leads back to
 * the alerts. Screenshots go to the test's temporary folder.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../collector/helpers.js";
import { CHROMIUM, launchChromium, noChromiumNote } from "../helpers/chromium.js";
import { spawnTs } from "../sinks/helpers/run-ts.js";

if (CHROMIUM === undefined) noChromiumNote("forwarders-browser.test");

const TOKEN = "forwarders-browser-token-0123456789";
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/** A webhook receiver answering `status(body)`; counts what it accepted. */
function receiver(status: (body: string) => number): Promise<{ server: Server; url: string; accepted: string[] }> {
  const accepted: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const code = status(body);
      if (code === 200) accepted.push(body);
      res.writeHead(code, { "content-type": "text/plain" });
      res.end(code === 200 ? "ok" : "no");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, accepted })),
  );
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(CHROMIUM === undefined)("console forwarders page in Chromium", () => {
  let collector: ChildProcess | undefined;
  let browser: Browser | undefined;
  const receivers: Server[] = [];
  let base = "";
  const shots = tempDir("vigil-console-fwd-shots-");

  beforeAll(async () => {
    const siem = await receiver((body) => (body.includes(uuid(2)) ? 400 : 200));
    const pager = await receiver(() => 503);
    receivers.push(siem.server, pager.server);
    const dir = tempDir();
    const config = join(dir, "collector.yaml");
    writeFileSync(
      config,
      `forwarders:
  - name: siem
    type: webhook
    url: ${siem.url}/ingest
  - name: pager
    type: webhook
    url: ${pager.url}/down
    retry_min_ms: 200
    retry_max_ms: 1000
`,
    );
    const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", join(dir, "data"), "--token", TOKEN, "--config", config]);
    collector = child;
    let log = "";
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on("line", (l) => {
        log += `${l}\n`;
        try {
          const o = JSON.parse(l) as { msg?: string; address?: string };
          if (o.msg === "vigil collector ready") resolve(o.address!);
        } catch {
          // not a log line
        }
      });
      child.on("exit", (code) => reject(new Error(`collector exited ${code}: ${log}`)));
    });
    base = `http://${address}`;
    for (let n = 1; n <= 3; n++) {
      const res = await fetch(`${base}/`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          uuid: uuid(n),
          output: `Warning Sensitive file opened for reading (n=${n})`,
          priority: "Warning",
          rule: "Read sensitive file untrusted",
          time: new Date().toISOString(),
          output_fields: { "fd.name": "/etc/shadow", "proc.name": "cat" },
          hostname: "node-a",
          source: "syscall",
          tags: ["filesystem"],
        }),
      });
      expect(res.status).toBe(200);
    }
    // settled: the SIEM took 2 and dead-lettered 1, the pager has failed at least twice
    await until("siem settled, pager retrying", async () => {
      const r = await fetch(`${base}/api/v1/forwarders`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const list = ((await r.json()) as { forwarders: { name: string; deadLetters: number; counters: Record<string, number>; state: string }[] }).forwarders;
      const s = list.find((f) => f.name === "siem");
      const p = list.find((f) => f.name === "pager");
      return siem.accepted.length === 2 && s?.deadLetters === 1 && p?.state === "retrying" && (p.counters["failed"] ?? 0) >= 2;
    });
    browser = await launchChromium();
    process.stderr.write(`forwarders-browser.test: screenshots in ${shots}\n`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (collector !== undefined && collector.exitCode === null) collector.kill("SIGKILL");
    for (const s of receivers) {
      s.closeAllConnections();
      s.close();
    }
  });

  it("shows each forwarder's state, cursor, lag, counters, dead letters and last error", { timeout: 60_000 }, async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${base}/#token=${encodeURIComponent(TOKEN)}`);
    await page.locator(".tail-state[data-state=live]").waitFor();

    // from the header
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Forwarders" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("page")).toBe("forwarders");
    const siem = page.locator('tr.fwd[data-name="siem"]');
    const pager = page.locator('tr.fwd[data-name="pager"]');
    await siem.waitFor();
    expect(await page.locator(".top-bar .count").textContent()).toBe("2 forwarders");
    expect(await siem.locator("th").textContent()).toBe("siem webhook");
    expect(await siem.locator(".fwd-state").textContent()).toBe("running");
    expect(await siem.locator(".fwd-cursor").textContent()).toBe("3 / 3");
    expect(await siem.locator(".fwd-lag").textContent()).toBe("0");
    expect(await siem.locator(".fwd-sent").textContent()).toBe("2");
    expect(await siem.locator(".fwd-dead").textContent()).toBe("1");
    expect(await siem.locator(".fwd-error").textContent()).toContain("HTTP 400");
    expect(await siem.locator(".fwd-delivered").textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    // the pager: retrying, all three alerts behind it
    expect(await pager.locator(".fwd-state").textContent()).toBe("retrying");
    expect(await pager.locator(".fwd-lag").textContent()).toMatch(/^3 \(\d+(\.\d)? s\)$/);
    expect(await pager.locator(".fwd-sent").textContent()).toBe("0");
    expect(Number(await pager.locator(".fwd-failed").textContent())).toBeGreaterThanOrEqual(2);
    expect(await pager.locator(".fwd-error").textContent()).toContain("HTTP 503");
    expect(await pager.locator(".fwd-dead").textContent()).toBe("0");

    // the SIEM's dead letter: which alert, and why
    await siem.locator(".dead-toggle").click();
    const dead = page.locator(".dead-letters tbody tr");
    await dead.first().waitFor();
    expect(await dead.count()).toBe(1);
    expect(await dead.locator("a").textContent()).toBe(uuid(2));
    expect(await dead.locator("a").getAttribute("href")).toBe(`/?alert=${uuid(2)}`);
    expect(await dead.locator("td").last().textContent()).toContain("HTTP 400");
    await page.screenshot({ path: join(shots, "forwarders.png") });

    // the page's URL reloads to the page; it refreshes itself (the pager's failures go on)
    const failedBefore = Number(await pager.locator(".fwd-failed").textContent());
    await page.reload();
    await pager.waitFor();
    expect(new URL(page.url()).search).toBe("?page=forwarders");
    await expect.poll(async () => Number(await pager.locator(".fwd-failed").textContent()), { timeout: 15_000 }).toBeGreaterThan(failedBefore);

    // back to the alerts from the header
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Alerts" }).click();
    await page.locator(`.row[data-id="${uuid(3)}"]`).waitFor();
    expect(new URL(page.url()).search).toBe("");
    expect(await page.locator(".top-bar .count").textContent()).toMatch(/^3 alerts/);
    // and the browser's Back goes to the forwarders again
    await page.goBack();
    await pager.waitFor();
    expect(pageErrors).toEqual([]);
    await ctx.close();
  });
});
