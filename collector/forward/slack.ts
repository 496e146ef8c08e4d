// SPDX-License-Identifier: Apache-2.0
/**
 * Slack through an incoming webhook: one message per alert (an incoming webhook takes one message
 * per request, so `maxBatch` is 1), `POST <url>` with a JSON message
 * (https://api.slack.com/messaging/webhooks).
 *
 * The message: a top-level `text` (the line shown first and in notifications: bold priority,
 * rule, `×N` when repeats were grouped, `[blocked]`) and one attachment with the priority's
 * colour bar (`color`, https://api.slack.com/reference/messaging/attachments), a plain-text
 * `fallback`, and Block Kit blocks (https://api.slack.com/reference/block-kit/blocks): the output
 * in a code block, a fields section (node, namespace, pod, container, image, time in the reader's
 * time zone, repeats, tags, source) and a context line with the alert ID and a link to it in the
 * collector. With the `template` option the rendered template is the `text` and the attachment
 * keeps a one-line context (priority, time, link).
 *
 * Safety (https://api.slack.com/reference/surfaces/formatting#escaping): alert values are
 * sanitized (format.ts), `&`, `<` and `>` become entities (so no `<!channel>`, `<@user>` or
 * `<https://evil|label>` can be injected), a backtick becomes `ˋ` (U+02CB, so a value cannot
 * close the code block it sits in), and every mrkdwn text object is `verbatim` (no automatic
 * linking of URLs or channel names). Limits: a section's text 3,000 characters, a field 2,000, 10
 * fields, 10 context elements, 50 blocks; texts are cut to them, saying so.
 *
 * Answers (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
 * 200 `ok`; 400 `invalid_payload`/`invalid_blocks` (refused for good); 403 `action_prohibited`,
 * 404 `channel_not_found`/`no_service`, 410 `channel_is_archived` (the webhook as a whole:
 * retried until fixed, see `permanentStatus` in destination.ts); 429 with Retry-After (Slack
 * allows about one message per second per webhook); 500 `rollup_error` (retried).
 */
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/index.js";
import { chatDestination } from "./chat.js";
import type { DeliveryItem, Destination } from "./destination.js";
import { alertTime, chatFacts, type CompiledTemplate, fitText, MAX_FACT_CHARS, renderTemplate, truncateText } from "./format.js";

/** Slack's limits (Block Kit reference) and ours. */
export const SLACK_LIMITS = {
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  contextElements: 10,
  blocks: 50,
  /** The top-level text (Slack truncates beyond 40,000; 4,000 is its advice). */
  text: 3000,
  fallback: 300,
} as const;

const SLACK_SPECIAL = /[&<>`]/g;
const SLACK_ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "\u02cb" };

/** A (sanitized) value escaped for Slack mrkdwn: `&`, `<`, `>` as entities, a backtick as `ˋ`. */
export function escapeSlack(s: string): string {
  return s.replace(SLACK_SPECIAL, (c) => SLACK_ENTITY[c] ?? c);
}

const URL_UNSAFE = /[|`<> ]/g;
const AMP = /&/g;

/** A URL for `<url|label>`: the characters that would end it percent-encoded, `&` as an entity. */
function slackUrl(u: string): string {
  return u.replace(URL_UNSAFE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).replace(AMP, "&amp;");
}

/** Slack's date formatting: the reader's time zone, the ISO time as fallback; plain text when not a time. */
function slackTime(t: string): string {
  const at = alertTime(t);
  if (at === undefined) return fitText(t, 64, escapeSlack, true);
  return `<!date^${Math.floor(at.ms / 1000)}^{date_short_pretty} {time_secs}|${at.iso}>`;
}

type TextObject = { type: "mrkdwn"; text: string; verbatim: true } | { type: "plain_text"; text: string; emoji: false };
const md = (text: string): TextObject => ({ type: "mrkdwn", text, verbatim: true });

/** The JSON message Slack gets for one item. */
export interface SlackMessage {
  text: string;
  attachments: { color: string; fallback: string; blocks: Record<string, unknown>[] }[];
}

/** Builds the message of one item (`template` compiled once at creation; undefined = built-in layout). */
export function slackMessage(item: DeliveryItem, collectorUrl: string, template: CompiledTemplate | undefined): SlackMessage {
  const f = chatFacts(item, collectorUrl);
  const a = item.alert;
  const suffix = `${f.count > 1 ? ` ×${f.count}` : ""}${f.blocked ? " [blocked]" : ""}`;
  const fallback = fitText(`${f.priority}: ${a.rule}${suffix} | ${a.output}`, SLACK_LIMITS.fallback, escapeSlack, true);
  const link = f.link !== "" ? `<${slackUrl(f.link)}|Open in Vigil>` : "";
  if (template !== undefined) {
    const text = truncateText(renderTemplate(template, item, { escape: escapeSlack, collectorUrl, maxValueChars: 2500 }), SLACK_LIMITS.text);
    const context = [`*${f.priority}*${suffix}`, slackTime(a.time), link].filter((s) => s !== "").join(" · ");
    return { text, attachments: [{ color: f.colour, fallback, blocks: [{ type: "context", elements: [md(context)] }] }] };
  }
  const text = `*${f.priority}* ${fitText(a.rule, 500, escapeSlack, true)}${suffix}`;
  const blocks: Record<string, unknown>[] = [];
  if (a.output !== "") blocks.push({ type: "section", text: md(`\`\`\`${fitText(a.output, SLACK_LIMITS.sectionText - 6, escapeSlack)}\`\`\``) });
  const fields = f.fields
    .slice(0, SLACK_LIMITS.fields)
    .map((x) => md(`*${x.label}*\n${x.key === "time" ? slackTime(x.value) : fitText(x.value, MAX_FACT_CHARS, escapeSlack, true)}`));
  if (fields.length > 0) blocks.push({ type: "section", fields });
  const context = [md(`ID ${fitText(a.id, 100, escapeSlack, true)}`)];
  if (link !== "") context.push(md(link));
  blocks.push({ type: "context", elements: context });
  return { text, attachments: [{ color: f.colour, fallback, blocks }] };
}

/** The Slack destination of a forwarder. */
export function createSlackDestination(cfg: ForwarderOf<"slack">, ctx: { logger: Logger }): Destination {
  return chatDestination(cfg, ctx, "slack: set url, url_file or url_env (the incoming webhook URL)", (item, template) =>
    JSON.stringify(slackMessage(item, cfg.collector_url, template)),
  );
}
