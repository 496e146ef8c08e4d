// SPDX-License-Identifier: Apache-2.0
/**
 * PagerDuty destination: the Events API v2, one `trigger` event per request to `cfg.url`
 * (`https://events.pagerduty.com/v2/enqueue` by default), as documented in
 * https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ (fields and limits),
 * https://developer.pagerduty.com/docs/events-api-v2/overview/ (response codes, 512 KB per event)
 * and https://developer.pagerduty.com/docs/events-api-v2/rate-limits/ (429).
 *
 * `dedup_key` is the alert ID, so a resend while PagerDuty's alert is open only adds a log entry
 * to it. The payload: `summary` (the output on one line, ×N first when repeats were grouped,
 * at most 1024 characters), `source` (the node), `severity` (Emergency/Alert/Critical →
 * critical, Error → error, Warning → warning, the rest → info), `timestamp`, `component` (the
 * pod, else the container), `group` (the namespace), `class` (the rule) and `custom_details`
 * (the alert's context and output fields, long strings cut so the event stays under 512 KB).
 * A link to the alert when `collector_url` is set.
 *
 * Answers: 202 accepted; 400 refused for good (dead letter); 429 and 5xx retried, after the
 * server's Retry-After or else 30 s (PagerDuty's advice for its rate limit).
 */
import type { Logger } from "pino";
import { DeliveryError, type DeliveryItem, type Destination, type ItemFailure } from "./destination.js";
import { alertLink, alertTime, cutAlertStrings, fitJson, fitText, longestAlertString, severityOf, truncateText } from "./format.js";
import { HttpClient } from "./http.js";
import { RotatingSecret } from "./secrets.js";
import { alertKeys } from "../filter.js";
import type { ForwarderOf } from "../../proto/index.js";

/** PagerDuty's limit on `payload.summary`. */
export const SUMMARY_MAX = 1024;
/** PagerDuty refuses events over 512 KB; this leaves room for the headers' share of proxies. */
export const EVENT_MAX_BYTES = 500_000;
/** Wait after a 429 without Retry-After (PagerDuty suggests retrying 30 s apart). */
const RATE_LIMIT_WAIT_MS = 30_000;
const TEXT_MAX = 1024;

/** The Events API v2 trigger event of one item, as JSON within {@link EVENT_MAX_BYTES} (exported for tests). */
export function pagerdutyEvent(item: DeliveryItem, routingKey: string, collectorUrl: string): string {
  const a = item.alert;
  const t = alertTime(a.time);
  if (t === undefined) throw new DeliveryError(`alert ${a.id} has no valid time`, { permanent: true });
  const k = alertKeys(a);
  const link = alertLink(collectorUrl, a.id);
  const summary = fitText(item.count > 1 ? `[×${item.count}] ${a.output}` : a.output, SUMMARY_MAX, undefined, true);
  const build = (cap: number) => {
    const cut = cutAlertStrings(a, cap);
    const details: Record<string, unknown> = {
      rule: a.rule,
      priority: a.priority,
      source: a.source,
      node: a.hostname,
      alert_id: a.id,
      time: t.iso,
      count: item.count,
      output: cut.output,
      output_fields: cut.output_fields,
      tags: a.tags,
    };
    if (k.namespace !== null) details["namespace"] = k.namespace;
    if (k.pod !== null) details["pod"] = k.pod;
    if (k.containerName !== null) details["container"] = k.containerName;
    if (k.image !== null) details["image"] = k.image;
    if (a.blocked === true) details["blocked"] = true;
    if (cap !== Number.POSITIVE_INFINITY) details["truncated"] = `strings cut to ${cap} characters to fit PagerDuty's 512 KB limit`;
    const payload: Record<string, unknown> = {
      summary,
      source: truncateText(a.hostname !== "" ? a.hostname : "unknown", TEXT_MAX),
      severity: severityOf(a.priority),
      timestamp: new Date(t.ms).toISOString(),
      class: truncateText(a.rule, TEXT_MAX),
      custom_details: details,
    };
    const component = k.pod ?? k.containerName;
    if (component !== null) payload["component"] = truncateText(component, TEXT_MAX);
    if (k.namespace !== null) payload["group"] = truncateText(k.namespace, TEXT_MAX);
    const event: Record<string, unknown> = {
      routing_key: routingKey,
      event_action: "trigger",
      dedup_key: a.id,
      payload,
      client: "Vigil",
    };
    if (collectorUrl !== "") event["client_url"] = collectorUrl;
    if (link !== "") event["links"] = [{ href: link, text: "Alert in Vigil" }];
    return event;
  };
  const fit = fitJson(build, EVENT_MAX_BYTES, longestAlertString(a));
  if (fit === undefined) throw new DeliveryError(`alert ${a.id} does not fit in a PagerDuty event (512 KB) even with its strings cut`, { permanent: true });
  return fit.json;
}

/** Makes the PagerDuty destination of a forwarder. */
export function createPagerdutyDestination(cfg: ForwarderOf<"pagerduty">, ctx: { logger: Logger }): Destination {
  if (cfg.url === "") throw new Error("url is required");
  const key = new RotatingSecret("routing_key", cfg.routing_key_file, cfg.routing_key_env, "", ctx.logger);
  if (!key.present) throw new Error("routing_key_file or routing_key_env is required (the integration key of an Events API v2 integration)");
  const http = new HttpClient(cfg.url, cfg.timeout_ms, cfg.tls, ctx.logger);
  const log = ctx.logger;

  const sendOne = async (item: DeliveryItem, signal: AbortSignal): Promise<void> => {
    const routingKey = key.get();
    const body = pagerdutyEvent(item, routingKey, cfg.collector_url);
    try {
      const answer = await http.request(cfg.url, {
        headers: { "content-type": "application/json", accept: "application/json" },
        body,
        signal,
        secrets: [routingKey],
      });
      log.debug({ status: answer.status, alert: item.alert.id }, "event sent to pagerduty");
    } catch (err) {
      if (err instanceof DeliveryError && err.status === 429 && err.retryAfterMs === undefined)
        throw new DeliveryError(err.message, { retryAfterMs: RATE_LIMIT_WAIT_MS, status: 429 });
      throw err;
    }
  };

  return {
    // one event per request: the Events API has no batch form
    maxBatch: 1,
    async send(items, signal) {
      if (items.length === 1) {
        await sendOne(items[0]!, signal);
        return { failed: [] };
      }
      const failed: ItemFailure[] = [];
      let held: string | undefined;
      for (let i = 0; i < items.length; i++) {
        if (held !== undefined) {
          // after a 429 or an outage, the rest wait for the retry rather than hammer the API
          failed.push({ index: i, permanent: false, error: held });
          continue;
        }
        try {
          await sendOne(items[i]!, signal);
        } catch (err) {
          const permanent = err instanceof DeliveryError && err.permanent;
          const error = err instanceof Error ? err.message : String(err);
          failed.push({ index: i, permanent, error });
          if (!permanent) held = error;
        }
      }
      return { failed };
    },
    close() {
      http.close();
    },
  };
}
