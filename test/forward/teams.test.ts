// SPDX-License-Identifier: Apache-2.0
/**
 * The Teams destination against a real local server that checks each request against the
 * published format of an Adaptive Card message to a Teams webhook / Workflow:
 * - https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
 *   ("Send Adaptive Cards using an incoming webhook": `type: message`, `attachments` with
 *   `contentType: application/vnd.microsoft.card.adaptive`, `contentUrl: null`, the card in
 *   `content`; rate limits; connectors answer 200 with "Microsoft Teams endpoint returned HTTP
 *   error 429" in the body; Workflows accept Adaptive Cards only)
 * - https://adaptivecards.io/explorer/ and https://learn.microsoft.com/en-us/adaptive-cards/schema-explorer/text-run
 *   (AdaptiveCard, Container `style`/`bleed`, RichTextBlock `inlines`, TextRun properties and
 *   enumerations, TextBlock, Action.OpenUrl; "Markdown is not supported" in a TextRun)
 * - https://learn.microsoft.com/microsoftteams/platform/concepts/cards/cards-format (Markdown in
 *   TextBlock, `msteams.width: Full`)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type Destination } from "../../collector/forward/destination.js";
import { createTeamsDestination, TEAMS_MAX_BYTES } from "../../collector/forward/teams.js";
import type { ForwarderOf, PriorityName } from "../../proto/index.js";
import { forwarderSchema } from "../../proto/forwarders.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { hostileAlert, itemOf, makeAlert, quietLogger, type RawRecorder, startRawRecorder } from "./raw-recorder.js";

const HOOK_PATH = "/workflows/7f3c0e2a4b1d4e8f9a6b5c4d3e2f1a0b/triggers/manual/paths/invoke?api-version=1&sig=WorkflowSigSecret0123456789";
const COLLECTOR = "https://vigil.example:8443";

function teamsCfg(o: Record<string, unknown>): ForwarderOf<"teams"> {
  return forwarderSchema.parse({ name: "team-chat", type: "teams", collector_url: COLLECTOR, ...o }) as ForwarderOf<"teams">;
}

type Json = Record<string, unknown>;

const ENUMS: Record<string, readonly string[]> = {
  weight: ["Default", "Lighter", "Bolder"],
  color: ["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"],
  fontType: ["Default", "Monospace"],
  size: ["Default", "Small", "Medium", "Large", "ExtraLarge"],
  spacing: ["None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"],
  style: ["default", "emphasis", "good", "attention", "warning", "accent"],
};
const PROPS: Record<string, readonly string[]> = {
  TextBlock: ["type", "text", "wrap", "weight", "color", "size", "fontType", "isSubtle", "maxLines", "spacing", "separator", "horizontalAlignment", "id"],
  RichTextBlock: ["type", "inlines", "spacing", "separator", "horizontalAlignment", "id"],
  TextRun: ["type", "text", "weight", "color", "size", "fontType", "isSubtle", "italic", "strikethrough", "underline", "highlight"],
  Container: ["type", "items", "style", "bleed", "spacing", "separator", "id"],
  "Action.OpenUrl": ["type", "title", "url"],
};

/** Problems of a Teams webhook message with an Adaptive Card (empty when it conforms). */
function teamsProblems(m: unknown): string[] {
  const p: string[] = [];
  const msg = m as Json;
  if (msg === null || typeof msg !== "object") return ["not a JSON object"];
  if (msg["type"] !== "message") p.push("type must be message");
  const at = msg["attachments"];
  if (!Array.isArray(at) || at.length < 1) return [...p, "attachments must hold the card"];
  for (const [i, a] of (at as Json[]).entries()) {
    if (a["contentType"] !== "application/vnd.microsoft.card.adaptive") p.push(`attachments[${i}].contentType`);
    if (a["contentUrl"] !== null && a["contentUrl"] !== undefined) p.push(`attachments[${i}].contentUrl`);
    const card = a["content"] as Json;
    if (card?.["type"] !== "AdaptiveCard") p.push("content.type must be AdaptiveCard");
    const version = String(card?.["version"]);
    if (!/^1\.[0-6]$/.test(version)) p.push(`version ${version}`);
    const v = Number(version.slice(2));
    const check = (e: Json, where: string): void => {
      const t = e["type"] as string;
      const allowed = PROPS[t];
      if (allowed === undefined) {
        p.push(`${where}: element type ${t}`);
        return;
      }
      for (const k of Object.keys(e)) if (!allowed.includes(k)) p.push(`${where}: ${t} has no property ${k}`);
      for (const [k, vals] of Object.entries(ENUMS)) if (e[k] !== undefined && !vals.includes(e[k] as string)) p.push(`${where}.${k}: ${String(e[k])}`);
      if ((t === "RichTextBlock" || t === "TextRun") && v < 2) p.push(`${where}: ${t} needs version 1.2`);
      if (t === "Container" && (e["bleed"] !== undefined || (e["style"] !== undefined && e["style"] !== "default" && e["style"] !== "emphasis")) && v < 2)
        p.push(`${where}: Container style/bleed need version 1.2`);
      if (t === "TextBlock" || t === "TextRun") if (typeof e["text"] !== "string") p.push(`${where}: text required`);
      if (t === "RichTextBlock") {
        const inl = e["inlines"];
        if (!Array.isArray(inl) || inl.length === 0) p.push(`${where}: inlines required`);
        else for (const [j, x] of (inl as Json[]).entries()) if (typeof x !== "string") check(x, `${where}.inlines[${j}]`);
      }
      if (t === "Container") {
        const items = e["items"];
        if (!Array.isArray(items) || items.length === 0) p.push(`${where}: items required`);
        else for (const [j, x] of (items as Json[]).entries()) check(x, `${where}.items[${j}]`);
      }
      if (t === "Action.OpenUrl") {
        if (typeof e["title"] !== "string") p.push(`${where}: title`);
        try {
          new URL(String(e["url"]));
        } catch {
          p.push(`${where}: url is not a URI`);
        }
      }
    };
    const body = card?.["body"];
    if (!Array.isArray(body)) p.push("body must be an array");
    else for (const [j, e] of (body as Json[]).entries()) check(e, `body[${j}]`);
    if (card?.["actions"] !== undefined) for (const [j, e] of (card["actions"] as Json[]).entries()) check(e, `actions[${j}]`);
    for (const k of Object.keys(card ?? {}))
      if (!["$schema", "type", "version", "body", "actions", "msteams", "fallbackText"].includes(k)) p.push(`card has no property ${k}`);
  }
  return p;
}

/** Every element of a card body, depth first. */
function elements(m: Json): Json[] {
  const out: Json[] = [];
  const walk = (e: Json) => {
    out.push(e);
    for (const x of (e["items"] as Json[] | undefined) ?? []) walk(x);
    for (const x of (e["inlines"] as Json[] | undefined) ?? []) walk(x);
  };
  const card = ((m["attachments"] as Json[])[0]!["content"] as Json) ?? {};
  for (const e of card["body"] as Json[]) walk(e);
  return out;
}
const card = (m: Json) => (m["attachments"] as Json[])[0]!["content"] as Json;
const runs = (m: Json) => elements(m).filter((e) => e["type"] === "TextRun");

let server: RawRecorder;
let dir: string;
const destinations: Destination[] = [];
beforeAll(async () => {
  server = await startRawRecorder();
  dir = mkdtempSync(join(tmpdir(), "vigil-teams-"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const d of destinations.splice(0)) await d.close?.();
  server.requests.length = 0;
  server.answer(() => ({ status: 202 }));
});

function make(o: Record<string, unknown> = {}): Destination {
  const d = createTeamsDestination(teamsCfg({ url: `${server.url}${HOOK_PATH}`, ...o }), { logger: quietLogger() });
  destinations.push(d);
  return d;
}
const signal = new AbortController().signal;

describe("teams: the card", () => {
  it("posts an Adaptive Card message with the priority colour, rule, output, pod/namespace/node, time and a link", async () => {
    server.answer(() => ({ status: 202 }));
    const d = make();
    expect(d.maxBatch).toBe(1);
    await expect(d.send([itemOf(makeAlert())], signal)).resolves.toBeUndefined();
    const r = server.requests[0]!;
    expect(r.method).toBe("POST");
    expect(r.url).toBe(HOOK_PATH);
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(teamsProblems(r.json)).toEqual([]);
    const m = r.json as Json;
    const c = card(m);
    expect(c["version"]).toBe("1.4");
    expect(c["msteams"]).toEqual({ width: "Full" });
    const head = (c["body"] as Json[])[0]!;
    expect(head).toMatchObject({ type: "Container", style: "attention", bleed: true });
    const texts = runs(m).map((x) => x["text"]);
    expect(runs(m)[0]).toMatchObject({ text: "Critical", color: "Attention", weight: "Bolder" });
    expect(texts[1]).toBe(" Terminal shell in container");
    expect(runs(m).find((x) => x["fontType"] === "Monospace")?.["text"]).toBe(makeAlert().output);
    const line = texts.join("");
    for (const s of [
      "Node: ip-10-0-1-23.ec2.internal",
      "Namespace: payments",
      "Pod: web-7d9f8-abcde",
      "Container: web (3f2a1b4c5d6e)",
      "Time: 2026-11-28T12:00:00.123456789Z",
    ])
      expect(line).toContain(s);
    expect(c["actions"]).toEqual([{ type: "Action.OpenUrl", title: "Open in Vigil", url: `${COLLECTOR}/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab` }]);
  });

  it("maps each priority to a container style and says when repeats were grouped", async () => {
    const want: [PriorityName, string, string][] = [
      ["Emergency", "attention", "Attention"],
      ["Error", "attention", "Attention"],
      ["Warning", "warning", "Warning"],
      ["Notice", "accent", "Accent"],
      ["Informational", "good", "Good"],
      ["Debug", "emphasis", "Default"],
    ];
    const d = make({ collector_url: "" });
    for (const [p] of want) await d.send([itemOf(makeAlert({ priority: p, blocked: true }), 4)], signal);
    want.forEach(([p, style, color], i) => {
      const m = server.requests[i]!.json as Json;
      expect(teamsProblems(m)).toEqual([]);
      expect((card(m)["body"] as Json[])[0]!["style"]).toBe(style);
      expect(runs(m)[0]).toMatchObject({ text: p, color });
      expect(runs(m)[1]!["text"]).toBe(" Terminal shell in container ×4 [blocked]");
      expect(card(m)["actions"]).toBeUndefined();
    });
  });

  it("keeps hostile strings in TextRuns (no Markdown there), without controls, bidi overrides or {{ functions", async () => {
    await make().send([itemOf(hostileAlert())], signal);
    const m = server.requests[0]!.json as Json;
    expect(teamsProblems(m)).toEqual([]);
    expect(elements(m).filter((e) => e["type"] === "TextBlock")).toEqual([]);
    const all = JSON.stringify(card(m)["body"]);
    expect(all).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(all).not.toContain("{{");
    const output = runs(m).find((x) => x["fontType"] === "Monospace")?.["text"] as string;
    expect(output).toContain("<!channel>");
    expect(output).toContain("\\x1b[31mred");
    expect(output).toContain("{\u200b{DATE(");
  });

  it("renders the template as Markdown with every value backslash-escaped", async () => {
    await make({ template: "**{{rule}}** in {{namespace}}/{{pod}} ×{{count}} [details]({{link}})\n\n{{output}}" }).send([itemOf(hostileAlert(), 3)], signal);
    const m = server.requests[0]!.json as Json;
    expect(teamsProblems(m)).toEqual([]);
    const blocks = elements(m).filter((e) => e["type"] === "TextBlock");
    expect(blocks).toHaveLength(1);
    const text = blocks[0]!["text"] as string;
    expect(text.startsWith("**Rule \\<\\!channel\\>")).toBe(true);
    expect(text).toContain(`×3 [details](${COLLECTOR}/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab)`);
    expect(text).toContain("\\[click\\]\\(https://evil.example/x\\)");
    // the only unescaped link is the template's own
    expect([...text.matchAll(/(?<!\\)\[[^\]\\]*\]\(/g)].map((x) => x[0])).toEqual(["[details]("]);
    expect(text).toContain("\n\n\\- list item\n\n1\\. numbered\n\n\\# heading");
    expect(text).not.toContain("{{");
    expect((card(m)["body"] as Json[])[0]).toMatchObject({ type: "Container", style: "attention" });
  });

  it("keeps the body under Teams' size limit for a 1 MiB output, multi-byte text and long facts, saying so", async () => {
    const d = make();
    const wide = "😀".repeat(300);
    const alerts = [
      makeAlert({ output: "x".repeat(1 << 20) }),
      makeAlert({ output: "€".repeat(1 << 20) }),
      makeAlert(
        { output: wide.repeat(1000), rule: wide, hostname: wide, tags: [wide, wide] },
        { "k8s.ns.name": wide, "k8s.pod.name": wide, "container.name": wide, "container.image.repository": wide },
      ),
    ];
    for (const a of alerts) await d.send([itemOf(a)], signal);
    for (const [i, r] of server.requests.entries()) {
      expect(teamsProblems(r.json)).toEqual([]);
      expect(r.raw.length).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
      // the multi-byte ones are cut by size, using most of the room
      if (i > 0) expect(r.raw.length).toBeGreaterThan(TEAMS_MAX_BYTES * 0.75);
      expect(runs(r.json as Json).find((x) => x["fontType"] === "Monospace")?.["text"]).toMatch(/\[truncated: \d+ characters in all\]$/);
    }
  });
});

describe("teams: answers", () => {
  const connector = (status: number) =>
    `Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error ${status} with ContextId tcid=0,server=msgapi-production,cv=abc.0..`;
  const cases: {
    name: string;
    status: number;
    body: string;
    headers?: Record<string, string>;
    ok?: boolean;
    permanent?: boolean;
    retryAfterMs?: number;
    errStatus?: number;
  }[] = [
    { name: "202 from a Workflow is delivered", status: 202, body: "", ok: true },
    { name: "200 `1` from a connector is delivered", status: 200, body: "1", ok: true },
    { name: "a connector's 200 reporting 429 is retryable", status: 200, body: connector(429), permanent: false, errStatus: 429 },
    { name: "a connector's 200 reporting 413 is refused for good", status: 200, body: connector(413), permanent: true, errStatus: 413 },
    { name: "a connector's 200 reporting 400 is refused for good", status: 200, body: connector(400), permanent: true, errStatus: 400 },
    {
      name: "429 with Retry-After is retryable after that wait",
      status: 429,
      body: "throttled",
      headers: { "retry-after": "3" },
      permanent: false,
      retryAfterMs: 3000,
      errStatus: 429,
    },
    { name: "500 is retryable", status: 500, body: "oops", permanent: false, errStatus: 500 },
    { name: "400 is refused for good", status: 400, body: "Bad payload received by generic incoming webhook.", permanent: true, errStatus: 400 },
    { name: "403 (a disabled flow) is retried, not dead-lettered", status: 403, body: "forbidden", permanent: false, errStatus: 403 },
  ];
  for (const c of cases)
    it(c.name, async () => {
      server.answer(() => ({ status: c.status, body: c.body, ...(c.headers !== undefined ? { headers: c.headers } : {}) }));
      const res = await make()
        .send([itemOf(makeAlert())], signal)
        .then(
          (v) => ({ v }),
          (e: unknown) => ({ e }),
        );
      if (c.ok === true) {
        expect(res).toEqual({ v: undefined });
        return;
      }
      const e = (res as { e: DeliveryError }).e;
      expect(e).toBeInstanceOf(DeliveryError);
      expect(e.permanent).toBe(c.permanent);
      expect(e.status).toBe(c.errStatus);
      expect(e.retryAfterMs).toBe(c.retryAfterMs);
    });
});

describe("teams: secrets and TLS", () => {
  it("reads the URL from url_env and keeps its signature out of error messages", async () => {
    process.env["VIGIL_TEST_TEAMS_URL"] = `${server.url}${HOOK_PATH}`;
    try {
      server.answer((r) => ({ status: 400, body: `Bad payload for ${server.url}${r.url} (sig=WorkflowSigSecret0123456789)` }));
      const d = make({ url: "", url_env: "VIGIL_TEST_TEAMS_URL" });
      const e = (await d.send([itemOf(makeAlert())], signal).catch((x: unknown) => x)) as DeliveryError;
      expect(server.requests[0]!.url).toBe(HOOK_PATH);
      expect(e).toBeInstanceOf(DeliveryError);
      expect(e.permanent).toBe(true);
      expect(e.message).toContain("Bad payload");
      expect(e.message).not.toContain("WorkflowSigSecret");
      expect(e.message).not.toContain("7f3c0e2a4b1d4e8f9a6b5c4d3e2f1a0b");
      expect(() => make({ url: "", url_env: "VIGIL_TEST_TEAMS_UNSET" })).toThrow("url_env names VIGIL_TEST_TEAMS_UNSET, which is not set");
    } finally {
      delete process.env["VIGIL_TEST_TEAMS_URL"];
    }
  });

  it("verifies an HTTPS server with the tls.ca_file CA, and refuses it without", async () => {
    const tlsDir = join(dir, "tls");
    const t = makeTestTls(tlsDir, ["localhost"]);
    const secure = await startRawRecorder({ cert: t["tls.crt"], key: t["tls.key"] });
    secure.answer(() => ({ status: 202 }));
    try {
      const ok = createTeamsDestination(teamsCfg({ url: `${secure.url}${HOOK_PATH}`, tls: { ca_file: join(tlsDir, "ca.crt") } }), { logger: quietLogger() });
      destinations.push(ok);
      await ok.send([itemOf(makeAlert())], signal);
      expect(teamsProblems(secure.requests[0]!.json)).toEqual([]);
      const untrusted = createTeamsDestination(teamsCfg({ url: `${secure.url}${HOOK_PATH}` }), { logger: quietLogger() });
      destinations.push(untrusted);
      const e = (await untrusted.send([itemOf(makeAlert())], signal).catch((x: unknown) => x)) as DeliveryError;
      expect(e).toBeInstanceOf(DeliveryError);
      expect(e.permanent).toBe(false);
      expect(e.message).not.toContain("WorkflowSigSecret");
      expect(secure.requests).toHaveLength(1);
    } finally {
      await secure.close();
    }
  });
});

describe("teams: the checker itself", () => {
  it("flags what Teams refuses", () => {
    expect(teamsProblems({ type: "message", attachments: [] })).toContain("attachments must hold the card");
    const bad = {
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          content: { type: "AdaptiveCard", version: "1.1", body: [{ type: "RichTextBlock", inlines: [{ type: "TextRun", text: "x", color: "Red" }] }] },
        },
      ],
    };
    expect(teamsProblems(bad)).toEqual([
      "body[0]: RichTextBlock needs version 1.2",
      "body[0].inlines[0].color: Red",
      "body[0].inlines[0]: TextRun needs version 1.2",
    ]);
  });
});
