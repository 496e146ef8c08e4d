// SPDX-License-Identifier: Apache-2.0
/**
 * The web console in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against a real `vigil collector` process holding real alerts (posted through Falco's HTTP
 * ingest, the path Falco's http_output takes). Logs in (the form, then a `#token=` fragment),
 * watches a new alert arrive over the live tail (the timeline's total, bars and top lists count it,
 * and a burst of 3,000 costs a summary request every 3 s at most), filters by priority and rule (the URL says so
 * and a reload restores it), opens an alert's detail (fields, MITRE link, process ancestry,
 * container and Kubernetes context, the audit capture as a syscall trace), walks the list by keyboard, and logs out (the cookie stops
 * working). Screenshots go to the test's temporary folder (printed).
 *
 * Skipped, with a line saying why, only when no Chromium is installed (scripts/setup.sh installs
 * Debian's `chromium`; VIGIL_CHROMIUM names another binary).
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaptureRecorder } from "../../agent/capture/recorder.js";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import type { Alert } from "../../proto/index.js";
import { container, openat, proc } from "../capture/helpers.js";
import { CHROMIUM, launchChromium, noChromiumNote } from "../helpers/chromium.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { spawnTs } from "../sinks/helpers/run-ts.js";

if (CHROMIUM === undefined) noChromiumNote("browser.test");

const TOKEN = "browser-test-token-0123456789";

/** A Falco JSON alert as Falco's http_output posts it. */
function falcoAlert(rule: string, priority: string, fields: Record<string, unknown>, tags: string[], ageMs = 0): Record<string, unknown> {
  const time = new Date(Date.now() - ageMs).toISOString();
  return {
    output: `${time}: ${priority} ${rule} (${Object.entries(fields)
      .slice(0, 3)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ")})`,
    priority,
    rule,
    time,
    output_fields: fields,
    source: "syscall",
    tags,
    hostname: "node-a",
  };
}

const SHADOW_FIELDS = {
  "proc.name": "cat",
  "proc.pid": 4242,
  "proc.cmdline": "cat /etc/shadow",
  "proc.exepath": "/usr/bin/cat",
  "proc.pname": "bash",
  "proc.ppid": 4200,
  "proc.pcmdline": "bash -i",
  "proc.aname[2]": "containerd-shim-runc-v2",
  "proc.apid[2]": 4100,
  "proc.aname[3]": "systemd",
  "proc.apid[3]": 1,
  "fd.name": "/etc/shadow",
  "user.name": "root",
  "container.id": "3f2a9c1b7d4e",
  "container.name": "web",
  "container.image.repository": "docker.io/library/nginx",
  "container.image.tag": "1.27",
  "k8s.ns.name": "payments",
  "k8s.pod.name": "web-7d9f-abcde",
};
const SHADOW_TAGS = ["maturity_stable", "filesystem", "mitre_credential_access", "T1003.008"];

describe.skipIf(CHROMIUM === undefined)("web console in Chromium", () => {
  let collector: ChildProcess | undefined;
  let browser: Browser | undefined;
  let base = "";
  const shots = tempDir("vigil-console-shots-");
  let shadowId = "";
  let captureBytes = 0;

  async function post(alert: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${base}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(alert),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { id: string }).id;
  }

  /** The timeline's bars added up: one priority's, or all. */
  function barSum(page: Page, priority?: string): Promise<number> {
    const sel = priority === undefined ? ".timeline rect.bar" : `.timeline rect.bar[data-priority="${priority}"]`;
    return page.locator(sel).evaluateAll((els) => els.reduce((n, e) => n + Number(e.getAttribute("data-count")), 0));
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(shots, `${name}.png`) });
  }

  beforeAll(async () => {
    const child = spawnTs("agent/cli/main.ts", ["collector", "--listen", "127.0.0.1:0", "--data", tempDir(), "--token", TOKEN]);
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
    // stored before the browser comes: 60 alerts over the last hour, and the one to open
    for (let i = 0; i < 60; i++) {
      const [rule, prio] =
        i % 3 === 0 ? ["Read sensitive file untrusted", "Error"] : i % 3 === 1 ? ["Terminal shell in container", "Notice"] : ["Write below etc", "Warning"];
      await post(
        falcoAlert(
          rule,
          prio,
          { ...SHADOW_FIELDS, "proc.pid": 5000 + i, "k8s.ns.name": i % 2 === 0 ? "payments" : "default" },
          ["filesystem"],
          (60 - i) * 60_000,
        ),
      );
    }
    // the alert to open, with a real audit capture (three opens recorded in its container), pushed as the agent does
    const box = container(SHADOW_FIELDS["container.id"]);
    const rec = new CaptureRecorder({ perContainer: 16, logger: quiet() });
    for (const f of ["/etc/passwd", "/etc/group", "/etc/shadow"]) rec.record(openat(proc(box), f));
    const shadow: Alert = makeAlert({
      rule: "Read sensitive file untrusted",
      priority: "Critical",
      time: new Date(Date.now() - 1000).toISOString(),
      output: "Critical Sensitive file opened for reading (user=root command=cat /etc/shadow file=/etc/shadow)",
      output_fields: SHADOW_FIELDS,
      tags: SHADOW_TAGS,
    });
    shadowId = shadow.id;
    const cap = (await rec.capture({ alertId: shadow.id, rule: shadow.rule, containerId: box.id, durationMs: 0 }))!;
    captureBytes = cap.data.length;
    const client = new CollectorClient({ address, token: TOKEN });
    await client.push([shadow], [cap]);
    client.close();
    browser = await launchChromium();
    process.stderr.write(`browser.test: screenshots in ${shots}\n`);
  });

  afterAll(async () => {
    await browser?.close();
    if (collector !== undefined && collector.exitCode === null) collector.kill("SIGKILL");
  });

  it("logs in, follows the live tail, filters by URL, opens the detail, logs out", { timeout: 60_000 }, async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      // failed requests are checked one by one below
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
    });
    const refused: string[] = [];
    page.on("response", (r) => {
      if (r.status() >= 400) refused.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
    });

    // the login form; a wrong token is refused with a clear line
    await page.goto(`${base}/`);
    await page.getByLabel("Token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator(".login .error").textContent()).toContain("not accepted");
    await shot(page, "1-login");
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();

    // the stored alerts, newest first, and the tail live
    await page.locator(".tail-state[data-state=live]").waitFor();
    await page.locator(`.row[data-id="${shadowId}"]`).waitFor();
    expect(await page.locator(".top-bar .count").textContent()).toMatch(/^61 alerts/);
    expect(await page.locator(".row").first().getAttribute("data-id")).toBe(shadowId);
    const cookies = await ctx.cookies(base);
    const session = cookies.find((c) => c.name === "vigil_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");

    // the timeline and top lists as loaded: 61 alerts, one Critical
    await expect.poll(() => page.locator(".timeline h3").textContent()).toMatch(/^61 alerts in range/);
    expect(await barSum(page, "Critical")).toBe(1);
    expect(await barSum(page)).toBe(61);

    // a new alert arrives over the WebSocket tail, on top
    const liveId = await post(
      falcoAlert("Drop and execute new binary in container", "Critical", { ...SHADOW_FIELDS, "proc.name": "xmrig" }, ["mitre_execution"]),
    );
    await page.locator(`.row[data-id="${liveId}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator(".row").first().getAttribute("data-id")).toBe(liveId);
    expect(await page.locator(".top-bar .count").textContent()).toMatch(/^62 alerts/);
    // ... and the timeline and top lists count it: the total, its priority's bars, its rule
    await expect.poll(() => page.locator(".timeline h3").textContent(), { timeout: 10_000 }).toMatch(/^62 alerts in range/);
    expect(await barSum(page, "Critical")).toBe(2);
    expect(await barSum(page)).toBe(62);
    expect(await page.locator(".top", { hasText: "Top rules" }).locator("li").allTextContents()).toContain("Drop and execute new binary in container1");
    await shot(page, "2-live-list");

    // paused: a new alert is counted, not shown, until resumed
    await page.getByRole("button", { name: "Pause" }).click();
    const heldId = await post(falcoAlert("Terminal shell in container", "Notice", SHADOW_FIELDS, []));
    await page.locator(".new-count").waitFor();
    expect(await page.locator(".new-count").textContent()).toBe("1 new");
    expect(await page.locator(`.row[data-id="${heldId}"]`).count()).toBe(0);
    await page.getByRole("button", { name: "Resume" }).click();
    await page.locator(`.row[data-id="${heldId}"]`).waitFor();

    // filter: Error and above, rules starting "Read sensitive"; the URL says so
    await page.locator('select[name="priority"]').selectOption("error");
    await page.locator('input[name="rule"]').fill("Read sensitive*");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("rule")).toBe("Read sensitive*");
    expect(new URL(page.url()).searchParams.get("priority")).toBe("error");
    await expect.poll(() => page.locator(".top-bar .count").textContent()).toMatch(/^21 alerts/);
    const rules = await page.locator(".row .c-rule").allTextContents();
    expect(new Set(rules)).toEqual(new Set(["Read sensitive file untrusted"]));
    // the timeline and top lists count the same view (GET /api/v1/summary)
    await expect.poll(() => page.locator(".timeline h3").textContent()).toMatch(/^21 alerts in range/);
    expect(await page.locator(".top", { hasText: "Top namespaces" }).locator("li").allTextContents()).toEqual(["payments11", "default10"]);
    await shot(page, "3-filtered");

    // the shared URL, reloaded, shows the same view
    const shared = page.url();
    await page.reload();
    await expect.poll(() => page.locator(".top-bar .count").textContent()).toMatch(/^21 alerts/);
    expect(await page.locator('input[name="rule"]').inputValue()).toBe("Read sensitive*");
    expect(await page.locator('select[name="priority"]').inputValue()).toBe("error");
    expect(page.url()).toBe(shared);

    // the detail: by keyboard (j selects the newest, Enter opens it)
    await page.locator("body").press("j");
    await page.locator("body").press("Enter");
    await expect.poll(() => new URL(page.url()).searchParams.get("alert")).toBe(shadowId);
    const detail = page.locator(".detail");
    await detail.locator("h2", { hasText: "Read sensitive file untrusted" }).waitFor();
    await detail.locator(".fields th", { hasText: "fd.name" }).waitFor();
    expect(await detail.locator(".fields tr").count()).toBe(Object.keys(SHADOW_FIELDS).length);
    expect(await detail.locator('a[href="https://attack.mitre.org/techniques/T1003/008/"]').textContent()).toBe("T1003.008");
    expect(await detail.locator('a[href="https://attack.mitre.org/tactics/TA0006/"]').textContent()).toContain("Credential Access");
    expect(await detail.locator(".ancestry .proc-name").allTextContents()).toEqual(["cat", "bash", "containerd-shim-runc-v2", "systemd"]);
    expect(await detail.locator(".ancestry .proc-cmd").first().textContent()).toBe("cat /etc/shadow");
    const dl = await detail.locator(".pairs").allTextContents();
    expect(dl.join(" ")).toContain("payments");
    expect(dl.join(" ")).toContain("docker.io/library/nginx:1.27");
    // its capture: summary and a download link the session cookie opens
    await detail.locator(".capture").waitFor();
    expect(await detail.locator(".capture").textContent()).toMatch(/^3 events, /);
    const href = await detail.locator(".capture a").getAttribute("href");
    expect(href).toBe(`/api/v1/captures/${shadowId}`);
    expect(await page.evaluate(async (u) => (await (await fetch(u)).arrayBuffer()).byteLength, href!)).toBe(captureBytes);
    // ... and the capture itself as a syscall trace: one row per recorded open, times from the one that raised the alert
    const trace = detail.locator(".trace-table tbody tr");
    await expect.poll(() => trace.count()).toBe(3);
    expect(await trace.locator(".t-rel").allTextContents()).toEqual(["-2.000000", "-1.000000", "0"]);
    expect(await trace.locator(".t-proc").allTextContents()).toEqual(["cat[4242]", "cat[4242]", "cat[4242]"]);
    expect(await trace.locator(".t-sys").allTextContents()).toEqual(["openat", "openat", "openat"]);
    expect(await trace.locator(".t-res").allTextContents()).toEqual(["3", "3", "3"]);
    const trigger = detail.locator(".trace-table tr.trigger");
    expect(await trigger.getAttribute("aria-current")).toBe("true");
    expect(await trigger.locator(".t-args").textContent()).toBe("dirfd=AT_FDCWD, name=/etc/shadow, flags=O_RDONLY, mode=00, dev=2049, ino=12345");
    expect(await trace.first().locator(".t-args").textContent()).toContain("name=/etc/passwd");
    await detail.getByLabel("Filter the trace").fill("group");
    await expect.poll(() => trace.count()).toBe(1);
    expect(await detail.locator(".trace-count").textContent()).toMatch(/^1 of 3 events match/);
    await detail.getByLabel("Filter the trace").fill("");
    await expect.poll(() => trace.count()).toBe(3);
    await shot(page, "4-detail");
    // the dark theme follows the system setting
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await bg();
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await bg()).not.toBe(light);
    await shot(page, "4-detail-dark");
    await page.emulateMedia({ colorScheme: "light" });

    // the detail's URL opens the detail on its own; Esc closes it
    await page.reload();
    await detail.locator("h2", { hasText: "Read sensitive file untrusted" }).waitFor();
    await page.locator("body").press("Escape");
    await expect.poll(() => new URL(page.url()).searchParams.get("alert")).toBe(null);
    expect(await detail.count()).toBe(0);

    // log out: back to the form, and the old cookie opens nothing
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Token").waitFor();
    expect((await ctx.cookies(base)).find((c) => c.name === "vigil_session")).toBeUndefined();
    const replay = await fetch(`${base}/api/v1/alerts?limit=1`, { headers: { cookie: `vigil_session=${session!.value}` } });
    expect(replay.status).toBe(401);
    await shot(page, "5-logged-out");
    expect(pageErrors).toEqual([]);
    // the only refusals: no session yet, the wrong token, alerts without a capture
    for (const r of refused) expect(r).toMatch(/^(GET \/api\/v1\/session 401|POST \/api\/v1\/session 401|GET \/api\/v1\/captures\/[\w-]+ 404)$/);
    await ctx.close();
  });

  it("a #token= fragment logs in and leaves the address bar at once", { timeout: 30_000 }, async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(`${base}/?priority=critical#token=${encodeURIComponent(TOKEN)}`);
    expect(page.url()).toBe(`${base}/?priority=critical`);
    await page.locator(`.row[data-id="${shadowId}"]`).waitFor();
    expect(await page.evaluate(() => location.hash)).toBe("");
    // the token is in no history entry either: the entry was replaced, not added to
    await page.goBack();
    expect(page.url()).toBe("about:blank");
    await page.goForward();
    expect(page.url()).toBe(`${base}/?priority=critical`);
    await ctx.close();
  });

  it("a burst of live alerts updates the timeline and top lists of the view it matches, a few requests in all", { timeout: 60_000 }, async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const summaries: number[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/v1/summary") summaries.push(Date.now());
    });
    await page.goto(`${base}/?rule=${encodeURIComponent("Burst*")}#token=${encodeURIComponent(TOKEN)}`);
    await page.locator(".tail-state[data-state=live]").waitFor();
    await expect.poll(() => page.locator(".timeline h3").textContent()).toMatch(/^0 alerts in range/);
    const before = summaries.length;
    // 3,000 alerts of the view's rule and 600 of another, pushed as agents do, a batch every 0.5 s for ~6 s
    const client = new CollectorClient({ address: base.slice("http://".length), token: TOKEN });
    const started = Date.now();
    for (let i = 0; i < 12; i++) {
      const batch: Alert[] = [];
      for (let j = 0; j < 250; j++) batch.push(makeAlert({ rule: "Burst of shells", priority: "Informational", fields: { "k8s.ns.name": `ns-${j % 5}` } }));
      for (let j = 0; j < 50; j++) batch.push(makeAlert({ rule: "Other rule", priority: "Critical" }));
      await client.push(batch, []);
      await new Promise((r) => setTimeout(r, 500));
    }
    const pushed = Date.now();
    client.close();
    await expect.poll(() => page.locator(".timeline h3").textContent(), { timeout: 15_000 }).toMatch(/^3,000 alerts in range/);
    const settled = Date.now();
    expect(await barSum(page, "Informational")).toBe(3000);
    expect(await barSum(page)).toBe(3000);
    expect(await page.locator(".top", { hasText: "Top rules" }).locator("li").allTextContents()).toEqual(["Burst of shells3,000"]);
    expect(await page.locator(".top", { hasText: "Top namespaces" }).locator("li").allTextContents()).toEqual([
      "ns-0600",
      "ns-1600",
      "ns-2600",
      "ns-3600",
      "ns-4600",
    ]);
    await expect.poll(() => page.locator(".top-bar .count").textContent()).toMatch(/^3,000 alerts/);
    // throttled: one request every 3 s at most while the burst lasts (the first waits out the interval from the page's own)
    const during = summaries.slice(before);
    process.stderr.write(
      `browser.test: burst of 3,600 alerts pushed in ${pushed - started} ms, summary final after ${settled - started} ms, ${during.length} summary requests (at ${during.map((t) => t - started).join(", ")} ms)\n`,
    );
    // the burst lasts more than one interval: counted while it goes on, not only at its end
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during.length).toBeLessThanOrEqual(Math.floor((settled - started) / 3000) + 2);
    for (let i = 1; i < during.length; i++) expect(during[i]! - during[i - 1]!).toBeGreaterThanOrEqual(2500);
    await shot(page, "6-burst");
    await ctx.close();
  });
});
