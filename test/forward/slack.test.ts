// SPDX-License-Identifier: Apache-2.0
/**
 * The Slack destination against a real local server that checks each request against Slack's
 * published incoming-webhook message format:
 * - https://api.slack.com/messaging/webhooks (POST JSON to the webhook URL; `text`, `blocks`, `attachments`)
 * - https://api.slack.com/reference/messaging/attachments (`color`, `fallback`, `blocks` in an attachment)
 * - https://api.slack.com/reference/block-kit/blocks (section text ≤ 3000, fields ≤ 10 × 2000,
 *   context ≤ 10 elements, header plain_text ≤ 150, ≤ 50 blocks)
 * - https://api.slack.com/reference/block-kit/composition-objects#text (`plain_text`/`mrkdwn`, `verbatim`, `emoji`)
 * - https://api.slack.com/reference/surfaces/formatting#escaping (`&`, `<`, `>` as entities)
 * - https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks (answers)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type Destination } from "../../collector/forward/destination.js";
import { PRIORITY_COLOURS } from "../../collector/forward/format.js";
import { createSlackDestination } from "../../collector/forward/slack.js";
import type { ForwarderOf } from "../../proto/index.js";
import { forwarderSchema } from "../../proto/forwarders.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { HOSTILE, hostileAlert, itemOf, makeAlert, quietLogger, type RawRecorder, startRawRecorder } from "./raw-recorder.js";

const HOOK_PATH = "/services/T0SECRET01/B0SECRET02/xoxbSecretPart0123456789";
const COLLECTOR = "https://vigil.example:8443";

function slackCfg(o: Record<string, unknown>): ForwarderOf<"slack"> {
  return forwarderSchema.parse({ name: "team-chat", type: "slack", collector_url: COLLECTOR, retry_min_ms: 10, ...o }) as ForwarderOf<"slack">;
}

type Json = Record<string, unknown>;

/** Problems of a message against Slack's published format (empty when it conforms). */
function slackProblems(m: unknown): string[] {
  const p: string[] = [];
  if (m === null || typeof m !== "object" || Array.isArray(m)) return ["message is not a JSON object"];
  const msg = m as Json;
  for (const k of Object.keys(msg))
    if (!["text", "blocks", "attachments", "mrkdwn", "thread_ts", "unfurl_links", "unfurl_media"].includes(k)) p.push(`unknown top-level field ${k}`);
  if (msg["text"] === undefined && msg["blocks"] === undefined && msg["attachments"] === undefined) p.push("one of text, blocks, attachments is required");
  if (msg["text"] !== undefined && (typeof msg["text"] !== "string" || msg["text"].length > 40_000))
    p.push("text must be a string of at most 40,000 characters");
  let blockCount = 0;
  const textObject = (t: unknown, where: string, max: number, kinds = ["plain_text", "mrkdwn"]): void => {
    if (t === null || typeof t !== "object") {
      p.push(`${where}: not a text object`);
      return;
    }
    const o = t as Json;
    if (!kinds.includes(o["type"] as string)) p.push(`${where}: type ${String(o["type"])}`);
    if (typeof o["text"] !== "string" || o["text"].length < 1 || o["text"].length > max)
      p.push(`${where}: text length ${String((o["text"] as string)?.length)} not in 1..${max}`);
    if (o["verbatim"] !== undefined && (o["type"] !== "mrkdwn" || typeof o["verbatim"] !== "boolean")) p.push(`${where}: verbatim only on mrkdwn`);
    if (o["emoji"] !== undefined && (o["type"] !== "plain_text" || typeof o["emoji"] !== "boolean")) p.push(`${where}: emoji only on plain_text`);
  };
  const checkBlocks = (blocks: unknown, where: string): void => {
    if (!Array.isArray(blocks) || blocks.length === 0) {
      p.push(`${where}: blocks must be a non-empty array`);
      return;
    }
    blockCount += blocks.length;
    blocks.forEach((b: Json, i) => {
      const w = `${where}[${i}]`;
      switch (b["type"]) {
        case "section":
          if (b["text"] === undefined && b["fields"] === undefined) p.push(`${w}: section needs text or fields`);
          if (b["text"] !== undefined) textObject(b["text"], `${w}.text`, 3000);
          if (b["fields"] !== undefined) {
            const f = b["fields"];
            if (!Array.isArray(f) || f.length < 1 || f.length > 10) p.push(`${w}: 1..10 fields`);
            else
              f.forEach((x, j) => {
                textObject(x, `${w}.fields[${j}]`, 2000);
              });
          }
          break;
        case "context": {
          const e = b["elements"];
          if (!Array.isArray(e) || e.length < 1 || e.length > 10) p.push(`${w}: 1..10 context elements`);
          else
            e.forEach((x, j) => {
              textObject(x, `${w}.elements[${j}]`, 3000);
            });
          break;
        }
        case "header":
          textObject(b["text"], `${w}.text`, 150, ["plain_text"]);
          break;
        case "divider":
          break;
        default:
          p.push(`${w}: unexpected block type ${String(b["type"])}`);
      }
    });
  };
  if (msg["blocks"] !== undefined) checkBlocks(msg["blocks"], "blocks");
  if (msg["attachments"] !== undefined) {
    const at = msg["attachments"];
    if (!Array.isArray(at) || at.length > 100) p.push("attachments: at most 100");
    else
      at.forEach((a: Json, i) => {
        if (a["color"] !== undefined && !/^(#[0-9a-fA-F]{6}|good|warning|danger)$/.test(String(a["color"])))
          p.push(`attachments[${i}].color ${String(a["color"])}`);
        if (a["fallback"] !== undefined && typeof a["fallback"] !== "string") p.push(`attachments[${i}].fallback`);
        if (a["blocks"] !== undefined) checkBlocks(a["blocks"], `attachments[${i}].blocks`);
      });
  }
  if (blockCount > 50) p.push(`${blockCount} blocks (at most 50)`);
  return p;
}

/** Every mrkdwn string of a message (the top-level text is mrkdwn). */
function mrkdwnTexts(m: Json): string[] {
  const out: string[] = [];
  if (typeof m["text"] === "string") out.push(m["text"]);
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") {
      const o = v as Json;
      if (o["type"] === "mrkdwn" && typeof o["text"] === "string") out.push(o["text"]);
      for (const x of Object.values(o)) walk(x);
    }
  };
  walk(m["attachments"]);
  walk(m["blocks"]);
  return out;
}

/** The only `<...>` sequences allowed: our link to the collector and Slack date tokens. */
function foreignMarkup(texts: string[]): string[] {
  const bad: string[] = [];
  for (const t of texts)
    for (const m of t.matchAll(/<[^>]*>/g))
      if (!m[0].startsWith(`<${COLLECTOR}/api/v1/alerts/`) && !/^<!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|[0-9T:.Z-]+>$/.test(m[0])) bad.push(m[0]);
  return bad;
}

const CONTROL_OR_BIDI = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let server: RawRecorder;
let dir: string;
const destinations: Destination[] = [];

beforeAll(async () => {
  server = await startRawRecorder();
  dir = mkdtempSync(join(tmpdir(), "vigil-slack-"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const d of destinations.splice(0)) await d.close?.();
  server.requests.length = 0;
  server.answer(() => ({ status: 200, body: "ok" }));
});

function make(o: Record<string, unknown> = {}): Destination {
  const d = createSlackDestination(slackCfg({ url: `${server.url}${HOOK_PATH}`, ...o }), { logger: quietLogger() });
  destinations.push(d);
  return d;
}

const signal = new AbortController().signal;

describe("slack: the message", () => {
  it("posts one Block Kit message in an attachment with the priority colour, rule, output, pod/namespace/node, time and link", async () => {
    const d = make();
    expect(d.maxBatch).toBe(1);
    await expect(d.send([itemOf(makeAlert())], signal)).resolves.toBeUndefined();
    expect(server.requests).toHaveLength(1);
    const r = server.requests[0]!;
    expect(r.method).toBe("POST");
    expect(r.url).toBe(HOOK_PATH);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(slackProblems(r.json)).toEqual([]);
    const m = r.json as Json;
    expect(m["text"]).toBe("*Critical* Terminal shell in container");
    const att = (m["attachments"] as Json[])[0]!;
    expect(att["color"]).toBe(PRIORITY_COLOURS.Critical);
    expect(att["fallback"]).toContain("Critical: Terminal shell in container");
    const blocks = att["blocks"] as Json[];
    expect((blocks[0]!["text"] as Json)["text"]).toBe(`\`\`\`${makeAlert().output}\`\`\``);
    const fields = (blocks[1]!["fields"] as Json[]).map((f) => f["text"]);
    expect(fields).toContain("*Node*\nip-10-0-1-23.ec2.internal");
    expect(fields).toContain("*Namespace*\npayments");
    expect(fields).toContain("*Pod*\nweb-7d9f8-abcde");
    expect(fields).toContain("*Container*\nweb (3f2a1b4c5d6e)");
    const sec = Date.UTC(2026, 10, 28, 12, 0, 0) / 1000;
    expect(fields).toContain(`*Time*\n<!date^${sec}^{date_short_pretty} {time_secs}|2026-11-28T12:00:00.123456789Z>`);
    const context = (blocks[2]!["elements"] as Json[]).map((e) => e["text"]);
    expect(context).toEqual([`ID 0192a4c5-7e10-7abc-8def-0123456789ab`, `<${COLLECTOR}/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab|Open in Vigil>`]);
    for (const t of mrkdwnTexts(m).slice(1)) expect(t.length).toBeGreaterThan(0);
  });

  it("says when repeats were grouped and when the action was blocked; no link without collector_url", async () => {
    const d = make({ collector_url: "" });
    await d.send([itemOf(makeAlert({ priority: "Warning", blocked: true }), 5)], signal);
    const m = server.requests[0]!.json as Json;
    expect(slackProblems(m)).toEqual([]);
    expect(m["text"]).toBe("*Warning* Terminal shell in container ×5 [blocked]");
    const att = (m["attachments"] as Json[])[0]!;
    expect(att["color"]).toBe(PRIORITY_COLOURS.Warning);
    const texts = mrkdwnTexts(m);
    expect(texts).toContain("*Repeats*\n×5 (grouped)");
    expect(texts.join("\n")).not.toContain("Open in Vigil");
  });

  it("neutralizes hostile alert strings: no mention, link, code-fence escape, control or bidi character gets through", async () => {
    const d = make();
    await d.send([itemOf(hostileAlert())], signal);
    const m = server.requests[0]!.json as Json;
    expect(slackProblems(m)).toEqual([]);
    const texts = mrkdwnTexts(m);
    expect(foreignMarkup(texts)).toEqual([]);
    const all = JSON.stringify(m);
    expect(all).not.toMatch(CONTROL_OR_BIDI);
    for (const t of texts) {
      expect(t).not.toContain("<!channel>");
      expect(t).not.toContain("<@U024BE7LH>");
      expect(t).not.toContain("<https://evil");
      expect(t).not.toContain("<script>");
    }
    const output = ((((m["attachments"] as Json[])[0]!["blocks"] as Json[])[0]!["text"] as Json)["text"] as string) ?? "";
    // our fence opens and closes the block; the output's own backticks cannot
    expect(output.startsWith("```") && output.endsWith("```")).toBe(true);
    expect(output.slice(3, -3)).not.toContain("`");
    expect(output).toContain("&lt;!channel&gt;");
    expect(output).toContain("\\x1b[31mred");
    expect(output).toContain("line one\nline two");
    expect(texts[0]).toContain("&lt;!channel&gt;");
  });

  it("cuts a 1 MiB output to Slack's 3,000-character section, saying so", async () => {
    const d = make();
    await d.send([itemOf(makeAlert({ output: `${"A&<".repeat(349_525)}z` }))], signal);
    const m = server.requests[0]!.json as Json;
    expect(slackProblems(m)).toEqual([]);
    const out = (((m["attachments"] as Json[])[0]!["blocks"] as Json[])[0]!["text"] as Json)["text"] as string;
    expect(out.length).toBeLessThanOrEqual(3000);
    expect(out).toContain("[truncated: 1048576 characters in all]```");
    expect(server.requests[0]!.raw.length).toBeLessThan(8 * 1024);
  });

  it("renders the template into the text with values escaped for mrkdwn, keeping the colour bar and link in the attachment", async () => {
    const d = make({ template: "{{priority}} *{{rule}}* in {{namespace}}/{{pod}} on {{node}} ×{{count}} <{{link}}|details>\n```{{output}}```" });
    await d.send([itemOf(hostileAlert(), 2)], signal);
    const m = server.requests[0]!.json as Json;
    expect(slackProblems(m)).toEqual([]);
    const text = m["text"] as string;
    expect(text.startsWith("Critical *Rule &lt;!channel&gt;")).toBe(true);
    expect(text).toContain(`×2 <${COLLECTOR}/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab|details>`);
    expect(foreignMarkup(mrkdwnTexts(m))).toEqual([]);
    const fence = text.slice(text.indexOf("```") + 3, text.lastIndexOf("```"));
    expect(fence).not.toContain("`");
    expect(text.length).toBeLessThanOrEqual(3000);
    const att = (m["attachments"] as Json[])[0]!;
    expect(att["color"]).toBe(PRIORITY_COLOURS.Critical);
    expect(JSON.stringify(att)).toContain("Open in Vigil");
  });
});

describe("slack: answers", () => {
  const cases: { name: string; status: number; headers?: Record<string, string>; body: string; permanent: boolean; retryAfterMs?: number }[] = [
    {
      name: "429 with Retry-After is retryable after that wait",
      status: 429,
      headers: { "retry-after": "7" },
      body: "rate_limited",
      permanent: false,
      retryAfterMs: 7000,
    },
    { name: "500 rollup_error is retryable", status: 500, body: "rollup_error", permanent: false },
    { name: "400 invalid_payload is refused for good", status: 400, body: "invalid_payload", permanent: true },
    { name: "404 no_service (a revoked webhook) is retried, not dead-lettered", status: 404, body: "no_service", permanent: false },
    { name: "410 channel_is_archived is retried until the configuration is fixed", status: 410, body: "channel_is_archived", permanent: false },
  ];
  for (const c of cases)
    it(c.name, async () => {
      server.answer(() => ({ status: c.status, body: c.body, ...(c.headers !== undefined ? { headers: c.headers } : {}) }));
      const err = await make()
        .send([itemOf(makeAlert())], signal)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(DeliveryError);
      const e = err as DeliveryError;
      expect(e.permanent).toBe(c.permanent);
      expect(e.status).toBe(c.status);
      expect(e.retryAfterMs).toBe(c.retryAfterMs);
      expect(e.message).toContain(c.body);
    });

  it("200 ok resolves; in a batch of two the second's failure leaves the first delivered", async () => {
    let n = 0;
    server.answer(() => (++n === 2 ? { status: 503, body: "busy" } : { status: 200, body: "ok" }));
    const r = await make().send([itemOf(makeAlert()), itemOf(makeAlert({ id: "second" }))], signal);
    expect(r?.failed).toEqual([{ index: 1, permanent: false, error: "HTTP 503: busy" }]);
  });
});

describe("slack: secrets and TLS", () => {
  it("reads the URL from url_file, re-reads it on each send, and never puts it in an error", async () => {
    const file = join(dir, "slack-url");
    writeFileSync(file, `${server.url}${HOOK_PATH}\n`);
    const d = make({ url: "", url_file: file });
    await d.send([itemOf(makeAlert())], signal);
    expect(server.requests[0]!.url).toBe(HOOK_PATH);
    writeFileSync(file, `${server.url}/services/T0ROTATED1/B0ROTATED2/rotatedSecret0123\n`);
    server.answer((r) => ({ status: 400, body: `invalid_payload for ${r.url} at ${server.url}${r.url}` }));
    const err = (await d.send([itemOf(makeAlert())], signal).catch((e: unknown) => e)) as DeliveryError;
    expect(server.requests[1]!.url).toBe("/services/T0ROTATED1/B0ROTATED2/rotatedSecret0123");
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.permanent).toBe(true);
    expect(err.message).toContain("invalid_payload");
    expect(err.message).not.toContain("rotatedSecret0123");
    expect(err.message).not.toContain("T0ROTATED1");
    // a file that is briefly unreadable: the last URL stays in use
    rmSync(file);
    server.answer(() => ({ status: 200, body: "ok" }));
    await d.send([itemOf(makeAlert())], signal);
    expect(server.requests[2]!.url).toBe("/services/T0ROTATED1/B0ROTATED2/rotatedSecret0123");
  });

  it("keeps the URL out of network errors and creation errors", async () => {
    const closed = await startRawRecorder();
    const url = `${closed.url}${HOOK_PATH}`;
    await closed.close();
    const d = make({ url });
    const err = (await d.send([itemOf(makeAlert())], signal).catch((e: unknown) => e)) as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.permanent).toBe(false);
    expect(err.message).not.toContain("xoxbSecretPart");
    const bad = join(dir, "bad-url");
    writeFileSync(bad, "hooks.slack.com/services/NOSCHEME/secretvalue\n");
    expect(() => make({ url: "", url_file: bad })).toThrow(/^url: not a URL$/);
    expect(() => make({ url: "", url_file: join(dir, "missing") })).toThrow(/url_file .*missing: ENOENT/);
    expect(() => make({ url: "" })).toThrow(/set url, url_file or url_env/);
  });

  it("verifies an HTTPS server with the tls.ca_file CA, and refuses it without", async () => {
    const tlsDir = join(dir, "tls");
    const t = makeTestTls(tlsDir, ["localhost"]);
    const secure = await startRawRecorder({ cert: t["tls.crt"], key: t["tls.key"] });
    try {
      const ok = createSlackDestination(slackCfg({ url: `${secure.url}${HOOK_PATH}`, tls: { ca_file: join(tlsDir, "ca.crt") } }), { logger: quietLogger() });
      destinations.push(ok);
      await ok.send([itemOf(makeAlert())], signal);
      expect(secure.requests).toHaveLength(1);
      expect(slackProblems(secure.requests[0]!.json)).toEqual([]);
      const untrusted = createSlackDestination(slackCfg({ url: `${secure.url}${HOOK_PATH}` }), { logger: quietLogger() });
      destinations.push(untrusted);
      const err = (await untrusted.send([itemOf(makeAlert())], signal).catch((e: unknown) => e)) as DeliveryError;
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err.permanent).toBe(false);
      expect(err.message).not.toContain("xoxbSecretPart");
      expect(secure.requests).toHaveLength(1);
    } finally {
      await secure.close();
    }
  });
});

describe("slack: the checker itself", () => {
  it("flags what Slack refuses", () => {
    expect(slackProblems({})).toContain("one of text, blocks, attachments is required");
    expect(slackProblems({ attachments: [{ color: "red", blocks: [{ type: "section", text: { type: "mrkdwn", text: "x".repeat(3001) } }] }] })).toHaveLength(2);
    expect(slackProblems({ blocks: [{ type: "section", fields: Array.from({ length: 11 }, () => ({ type: "mrkdwn", text: "x" })) }] })).toHaveLength(1);
    expect(foreignMarkup([HOSTILE.mention])).not.toEqual([]);
  });
});
