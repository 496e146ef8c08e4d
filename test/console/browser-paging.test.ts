// SPDX-License-Identifier: Apache-2.0
/**
 * The console's list over more alerts than one page, in Debian's Chromium (playwright-core) against
 * a collector holding 12,000 alerts: the first page is the newest 5,000, asked newest first
 * (`order=desc`) with no summary round trip before it; "Load older" at the end of the list adds
 * the pages before its last alert (`before=<id>`) down to the oldest, then goes away; the source
 * filter is the collector's (the query and the live tail carry `source`, and only matching alerts
 * arrive).
 *
 * Skipped, with a line saying why, only when no Chromium is installed.
 */
import type { Browser, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { type Alert, isoFromMs } from "../../proto/index.js";
import { CHROMIUM, launchChromium, noChromiumNote } from "../helpers/chromium.js";
import { makeAlert, quiet } from "../collector/helpers.js";

if (CHROMIUM === undefined) noChromiumNote("browser-paging.test");

const TOKEN = "paging-token-0123456789";
const N = 12_000;

describe.skipIf(CHROMIUM === undefined)("console list paging in Chromium", () => {
  let col: RunningCollector;
  let browser: Browser;
  let base: string;
  /** Stored alerts, oldest first. */
  const alerts: Alert[] = [];

  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, logger: quiet(), retentionMs: 0 });
    base = `http://${col.address}`;
    const start = Date.now() - 12 * 3_600_000;
    for (let i = 0; i < N; i++)
      alerts.push(
        makeAlert({
          time: `${isoFromMs(start + i * 3000).slice(0, 23)}000000Z`,
          rule: `Rule ${i % 7}`,
          source: i % 10 === 0 ? "k8s_audit" : "syscall",
        }),
      );
    // stored in an order unlike their time order: the list goes by alert time
    const shuffled = [...alerts].sort((a, b) => (a.id < b.id ? 1 : -1));
    for (let i = 0; i < N; i += 1000) col.ingest(shuffled.slice(i, i + 1000));
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await col?.close();
  });

  /** The list's count, without the time to first rows after it. */
  const count = async (page: Page) => (await page.locator(".top-bar .count").textContent())?.replace(/ \(\d+ ms\)$/, "");
  /** The data-id of the list's first and last rows in the DOM after scrolling to its top or bottom. */
  const edgeId = async (page: Page, where: "top" | "bottom"): Promise<string | null> => {
    await page.locator(".list").evaluate((el, w) => {
      el.scrollTop = w === "top" ? 0 : el.scrollHeight;
      el.dispatchEvent(new Event("scroll"));
    }, where);
    const rows = page.locator(".list .row");
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    // the rows are placed by translateY: the one furthest down is the last
    return page.locator(".list").evaluate((el, w) => {
      const rs = [...el.querySelectorAll<HTMLElement>(".row")];
      const ys = rs.map((r) => Number(/translateY\((\d+)px\)/.exec(r.style.transform)?.[1] ?? 0));
      return rs[ys.indexOf(w === "top" ? Math.min(...ys) : Math.max(...ys))]?.dataset["id"] ?? null;
    }, where);
  };

  it("loads the newest page first, then older pages to the oldest alert", { timeout: 60_000 }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const queries: URL[] = [];
    page.on("request", (r: Request) => {
      const u = new URL(r.url());
      if (u.pathname === "/api/v1/alerts") queries.push(u);
    });
    await page.goto(`${base}/#token=${TOKEN}`);
    await expect.poll(() => count(page), { timeout: 15_000 }).toBe("5,000 alerts");
    // newest first, no cursor
    expect(queries[0]!.searchParams.get("order")).toBe("desc");
    expect(queries[0]!.searchParams.get("before")).toBeNull();
    expect(queries[0]!.searchParams.get("limit")).toBe("5000");
    expect(await edgeId(page, "top")).toBe(alerts[N - 1]!.id);

    const older = page.getByRole("button", { name: /Load 5,000 older/ });
    await edgeId(page, "bottom");
    await older.click();
    await expect.poll(() => count(page)).toBe("10,000 alerts");
    expect(queries[1]!.searchParams.get("before")).toBe(alerts[N - 5000]!.id);
    expect(queries[1]!.searchParams.get("order")).toBe("desc");
    await edgeId(page, "bottom");
    await older.click();
    await expect.poll(() => count(page)).toBe("12,000 alerts");
    expect(await edgeId(page, "bottom")).toBe(alerts[0]!.id);
    // the last page came short: nothing older, no button
    await expect.poll(() => older.count()).toBe(0);
    // every alert once
    expect(queries).toHaveLength(3);
    await ctx.close();
  });

  it("filters by source on the collector: the query and the live tail", { timeout: 60_000 }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const queries: URL[] = [];
    const sockets: URL[] = [];
    page.on("request", (r: Request) => {
      const u = new URL(r.url());
      if (u.pathname === "/api/v1/alerts") queries.push(u);
    });
    page.on("websocket", (ws) => sockets.push(new URL(ws.url())));
    await page.goto(`${base}/?source=k8s_audit#token=${TOKEN}`);
    await expect.poll(() => count(page), { timeout: 15_000 }).toBe("1,200 alerts");
    expect(queries[0]!.searchParams.get("source")).toBe("k8s_audit");
    expect(sockets.at(-1)!.searchParams.get("source")).toBe("k8s_audit");
    await expect.poll(() => page.locator(".tail-state").getAttribute("data-state")).toBe("live");
    expect(await page.locator('.filters input[name="source"]').inputValue()).toBe("k8s_audit");
    // live: the k8s_audit alert arrives, the syscall one never does
    const audit = makeAlert({ rule: "Live audit", source: "k8s_audit" });
    const sys = makeAlert({ rule: "Live syscall", source: "syscall" });
    col.ingest([sys, audit]);
    await expect.poll(() => count(page)).toBe("1,201 alerts");
    expect(await edgeId(page, "top")).toBe(audit.id);
    expect(await page.locator(`.list .row[data-id="${sys.id}"]`).count()).toBe(0);
    await ctx.close();
  });
});
