// SPDX-License-Identifier: Apache-2.0
/**
 * Alertmanager destination: `POST <url>/api/v2/alerts` with a JSON array of `postableAlert`s
 * (https://prometheus.io/docs/alerting/latest/clients/,
 * https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml).
 *
 * Labels (they identify an alert in Alertmanager: a resend with the same labels updates the same
 * alert, so it is a no-op): `alertname` = the rule, `priority` (Falco's), `severity` (critical,
 * error, warning or info, what routing trees match on), `source`, `node`, and `namespace` and
 * `pod` when the alert has them, then the forwarder's `labels` for names the alert does not set
 * (an extra label cannot disguise an alert as another rule or pod). Repeats of a rule in the same
 * pod therefore become one Alertmanager alert whose annotations are the newest.
 * Annotations: `summary` (the output on one line, at most 1024 characters), `description` (the
 * output and the alert's context, at most 8 KiB), both sanitized (control characters shown as
 * `\xNN`, bidi controls dropped) and cut saying so, `alert_id`, `count` when repeats were
 * grouped, `tags`. `startsAt` is the alert's time and `endsAt` that time +
 * `resolve_after_seconds`, when Alertmanager resolves it; `generatorURL` links to the alert when
 * `collector_url` is set.
 */
import type { Logger } from "pino";
import { batchOf, DeliveryError, type DeliveryItem, type Destination } from "./destination.js";
import { alertLink, alertTime, fitText, joinUrl, severityOf, truncateText } from "./format.js";
import { HttpClient } from "./http.js";
import { Credentials } from "./secrets.js";
import { alertKeys } from "../filter.js";
import { TIME_MAX_MS, type Alert, type ForwarderOf } from "../../proto/index.js";

/** Prometheus sends Alertmanager batches of at most 64 alerts. */
const NATURAL_BATCH = 64;
/** Longest label value sent. */
const LABEL_MAX = 1024;
const SUMMARY_MAX = 1024;
const DESCRIPTION_MAX = 8 * 1024;

/** One element of the `postableAlerts` array. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** The postableAlert of one item (exported for tests). */
export function toPostableAlert(item: DeliveryItem, cfg: ForwarderOf<"alertmanager">): PostableAlert {
  const a: Alert = item.alert;
  const t = alertTime(a.time);
  if (t === undefined) throw new DeliveryError(`alert ${a.id} has no valid time`, { permanent: true });
  const k = alertKeys(a);
  const labels: Record<string, string> = {};
  const put = (name: string, v: string | null) => {
    if (v !== null && v !== "") labels[name] = truncateText(v, LABEL_MAX);
  };
  put("alertname", a.rule);
  put("priority", a.priority);
  put("severity", severityOf(a.priority));
  put("source", a.source);
  put("node", a.hostname);
  put("namespace", k.namespace);
  put("pod", k.pod);
  for (const [name, v] of Object.entries(cfg.labels)) if (!(name in labels) && v !== "") labels[name] = v;

  const link = alertLink(cfg.collector_url, a.id);
  const lines = [fitText(a.output, DESCRIPTION_MAX / 2), `rule: ${a.rule}`, `priority: ${a.priority}`, `node: ${a.hostname}`];
  if (k.namespace !== null || k.pod !== null) lines.push(`pod: ${k.namespace ?? "-"}/${k.pod ?? "-"}`);
  if (k.containerName !== null || k.image !== null) lines.push(`container: ${k.containerName ?? "-"}${k.image !== null ? ` (${k.image})` : ""}`);
  if (item.count > 1) lines.push(`repeats: ×${item.count} within the grouping window`);
  lines.push(`alert: ${link !== "" ? link : a.id}`);
  const annotations: Record<string, string> = {
    summary: fitText(item.count > 1 ? `[×${item.count}] ${a.output}` : a.output, SUMMARY_MAX, undefined, true),
    description: fitText(lines.join("\n"), DESCRIPTION_MAX),
    alert_id: a.id,
  };
  if (item.count > 1) annotations["count"] = String(item.count);
  if (a.tags.length > 0) annotations["tags"] = truncateText(a.tags.join(","), LABEL_MAX);

  const endMs = Math.min(t.ms + cfg.resolve_after_seconds * 1000, TIME_MAX_MS);
  const out: PostableAlert = { labels, annotations, startsAt: t.iso, endsAt: new Date(endMs).toISOString() };
  if (link !== "") out.generatorURL = link;
  return out;
}

/** Makes the Alertmanager destination of a forwarder. */
export function createAlertmanagerDestination(cfg: ForwarderOf<"alertmanager">, ctx: { logger: Logger }): Destination {
  if (cfg.url === "") throw new Error("url is required (the Alertmanager's base URL)");
  const creds = new Credentials(cfg, ctx.logger);
  const url = joinUrl(cfg.url, "/api/v2/alerts");
  const http = new HttpClient(cfg.url, cfg.timeout_ms, cfg.tls, ctx.logger);
  const log = ctx.logger;
  return {
    maxBatch: batchOf(NATURAL_BATCH, cfg.batch_size),
    async send(items, signal) {
      // one alert without a usable time is refused alone; the others go
      const alerts: PostableAlert[] = [];
      const failed: { index: number; permanent: boolean; error: string }[] = [];
      items.forEach((item, index) => {
        try {
          alerts.push(toPostableAlert(item, cfg));
        } catch (err) {
          failed.push({ index, permanent: true, error: err instanceof Error ? err.message : String(err) });
        }
      });
      if (alerts.length === 0) return { failed };
      const headers: Record<string, string> = { "content-type": "application/json" };
      const auth = creds.authorization();
      if (auth !== undefined) headers["authorization"] = auth;
      await http.request(url, { headers, body: JSON.stringify(alerts), signal, secrets: creds.secrets() });
      log.debug({ alerts: alerts.length }, "alerts posted to alertmanager");
      return { failed };
    },
    close() {
      http.close();
    },
  };
}
