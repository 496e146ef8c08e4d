// SPDX-License-Identifier: Apache-2.0
/**
 * Microsoft Teams: one Adaptive Card message per alert (`maxBatch` 1), `POST <url>`.
 *
 * The format: a `message` whose `attachments` hold one Adaptive Card
 * (`application/vnd.microsoft.card.adaptive`, `contentUrl: null`, the card in `content`), as
 * documented for incoming webhooks in
 * https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
 * ("Send Adaptive Cards using an incoming webhook"). Not the legacy MessageCard: Microsoft is
 * retiring Office 365 connectors, and their replacement, a Teams Workflow started by "When a
 * Teams webhook request is received" (the "Send webhook alerts to a channel" template), supports
 * Adaptive Cards only ("Workflows support Adaptive Cards only. It doesn't support the older
 * message card format", same page). This one payload works for both kinds of URL during the move.
 * Card version 1.4 (every element used exists since 1.2; Teams renders up to 1.5).
 *
 * The card: a full-width bleeding Container whose `style` carries the priority colour (Adaptive
 * Cards have no free colours: attention = red for Emergency..Error, warning = amber, accent =
 * blue for Notice, good = green for Informational, emphasis = grey for Debug) with the priority
 * and rule (`×N` when grouped, `[blocked]`), the output in monospace, the facts (node,
 * namespace, pod, container, image, time, repeats, tags, source), and an `Action.OpenUrl` to the
 * alert in the collector.
 *
 * Safety: the built-in layout puts alert strings only in `TextRun`s of `RichTextBlock`s, which
 * are not parsed as Markdown (https://learn.microsoft.com/en-us/adaptive-cards/schema-explorer/text-run);
 * `{{` is broken with a zero-width space so `{{DATE(...)}}`-style functions cannot fire. With the
 * `template` option the rendered text goes in a `TextBlock`, which is Markdown
 * (https://learn.microsoft.com/microsoftteams/platform/concepts/cards/cards-format): values are
 * backslash-escaped (CommonMark) so they cannot form links, emphasis or lists. Size: Teams takes
 * about 28 KB per message; the body is kept under 24 KB (UTF-8), the output cut first, saying so.
 *
 * Answers: a Workflow URL answers 202; a connector URL answers 200 with body `1`, and reports
 * most failures as 200 too, with "Microsoft Teams endpoint returned HTTP error <status>" in the
 * body (the connectors page above: "Connectors do not throw 429s"), which is read here as that
 * status (`permanentStatus`): 429, 5xx and a refusal of the URL itself (401, 403, 404, 410: a
 * disabled flow, a removed connector) are retried, 400 and 413 refused for good. Connectors allow
 * 4 requests a second and 100 an hour per URL; a Workflow answers 429 with Retry-After when
 * throttled.
 */
import { Buffer } from "node:buffer";
import type { Logger } from "pino";
import type { ForwarderOf, PriorityName } from "../../proto/index.js";
import { chatDestination } from "./chat.js";
import type { DeliveryError, DeliveryItem, Destination } from "./destination.js";
import { chatFacts, type CompiledTemplate, fitText, MAX_FACT_CHARS, renderTemplate, truncateText } from "./format.js";
import { statusError } from "./http.js";
import { redactText } from "./secrets.js";

/** Largest request body sent (bytes; Teams' limit is about 28 KB). */
export const TEAMS_MAX_BYTES = 24 * 1024;
/** Longest output shown before the size check cuts further. */
const OUTPUT_CHARS = 8000;

/** Container style and text colour of each priority. */
const STYLE: Record<PriorityName, { style: string; color: string }> = {
  Emergency: { style: "attention", color: "Attention" },
  Alert: { style: "attention", color: "Attention" },
  Critical: { style: "attention", color: "Attention" },
  Error: { style: "attention", color: "Attention" },
  Warning: { style: "warning", color: "Warning" },
  Notice: { style: "accent", color: "Accent" },
  Informational: { style: "good", color: "Good" },
  Debug: { style: "emphasis", color: "Default" },
};

const DOUBLE_BRACE = /\{(?=\{)/g;

/** A (sanitized) value for a TextRun: no Markdown there, only `{{` functions to defuse. */
export function teamsPlain(s: string): string {
  return s.replace(DOUBLE_BRACE, "{\u200b");
}

const MD_SPECIAL = /[\\`*_~[\]()<>#|!&]/g;
const MD_BULLET = /^([ \t]*)([-+])/gm;
const MD_NUMBERED = /^([ \t]*\d+)\./gm;
const NEWLINE = /\n/g;

/** A (sanitized) value escaped for Adaptive Card Markdown (TextBlock): CommonMark backslash escapes, paragraphs for line breaks. */
export function escapeTeamsMarkdown(s: string): string {
  return teamsPlain(s).replace(MD_SPECIAL, "\\$&").replace(MD_BULLET, "$1\\$2").replace(MD_NUMBERED, "$1\\.").replace(NEWLINE, "\n\n");
}

const run = (text: string, extra: Record<string, unknown> = {}) => ({ type: "TextRun", text, ...extra });

/** The message (card inside) of one item with the output and fact values cut to `cap` characters. */
function teamsMessage(item: DeliveryItem, collectorUrl: string, template: CompiledTemplate | undefined, cap: number): Record<string, unknown> {
  const f = chatFacts(item, collectorUrl);
  const a = item.alert;
  const st = STYLE[f.priority] ?? { style: "default", color: "Default" };
  const suffix = `${f.count > 1 ? ` ×${f.count}` : ""}${f.blocked ? " [blocked]" : ""}`;
  const rule = fitText(a.rule, Math.min(300, Math.max(40, cap)), teamsPlain, true);
  const body: Record<string, unknown>[] = [];
  if (template !== undefined) {
    const text = truncateText(
      renderTemplate(template, item, { escape: escapeTeamsMarkdown, collectorUrl, maxValueChars: Math.max(40, cap) }),
      Math.max(200, cap * 2),
    );
    body.push({ type: "Container", style: st.style, bleed: true, items: [{ type: "TextBlock", text, wrap: true }] });
  } else {
    body.push({
      type: "Container",
      style: st.style,
      bleed: true,
      items: [{ type: "RichTextBlock", inlines: [run(f.priority, { weight: "Bolder", color: st.color }), run(` ${rule}${suffix}`, { weight: "Bolder" })] }],
    });
    if (a.output !== "") body.push({ type: "RichTextBlock", inlines: [run(fitText(a.output, cap, teamsPlain), { fontType: "Monospace" })] });
    for (const x of f.fields)
      body.push({
        type: "RichTextBlock",
        spacing: "None",
        inlines: [run(`${x.label}: `, { weight: "Bolder" }), run(fitText(x.value, Math.min(MAX_FACT_CHARS, Math.max(40, cap)), teamsPlain, true))],
      });
  }
  const card: Record<string, unknown> = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    msteams: { width: "Full" },
    fallbackText: `${f.priority}: ${rule}${suffix}`,
    body,
  };
  if (f.link !== "") card["actions"] = [{ type: "Action.OpenUrl", title: "Open in Vigil", url: f.link }];
  return { type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }] };
}

/** The JSON body for one item, within {@link TEAMS_MAX_BYTES} (the output and long values cut first). */
export function teamsBody(item: DeliveryItem, collectorUrl: string, template: CompiledTemplate | undefined): string {
  let cap = OUTPUT_CHARS;
  for (;;) {
    const json = JSON.stringify(teamsMessage(item, collectorUrl, template, cap));
    const bytes = Buffer.byteLength(json);
    if (bytes <= TEAMS_MAX_BYTES || cap === 0) return json;
    cap = Math.max(0, Math.min(cap - 1, Math.floor((cap * TEAMS_MAX_BYTES) / bytes) - 64));
  }
}

const CONNECTOR_ERROR = /returned HTTP error (\d{3})/;
const DELIVERY_FAILED = /delivery failed/i;

/** A connector's 200 that reports a failure in its body, as the error it stands for (`secrets` kept out of it). */
function connectorFailure(body: string, secrets: readonly string[]): DeliveryError | undefined {
  const m = CONNECTOR_ERROR.exec(body);
  if (m === null && !DELIVERY_FAILED.test(body)) return undefined;
  return statusError("Teams", m !== null ? Number(m[1]) : undefined, redactText(body, secrets));
}

/** The Teams destination of a forwarder. */
export function createTeamsDestination(cfg: ForwarderOf<"teams">, ctx: { logger: Logger }): Destination {
  return chatDestination(
    cfg,
    ctx,
    "teams: set url, url_file or url_env (the Workflow or incoming webhook URL)",
    (item, template) => teamsBody(item, cfg.collector_url, template),
    connectorFailure,
  );
}
