// SPDX-License-Identifier: Apache-2.0
/**
 * Which module makes each destination type. Modules load only when a forwarder of their type is
 * configured (the AWS SDK, the NATS client and the rest stay out of a collector that does not
 * use them); each import is spelled out, so the compiler checks every factory against its type.
 */
import type { Logger } from "pino";
import type { Destination } from "./destination.js";
import type { ForwarderConfig } from "../../proto/index.js";

/** Makes the destination of a forwarder. */
export async function createDestination(cfg: ForwarderConfig, ctx: { logger: Logger }): Promise<Destination> {
  switch (cfg.type) {
    case "slack":
      return (await import("./slack.js")).createSlackDestination(cfg, ctx);
    case "teams":
      return (await import("./teams.js")).createTeamsDestination(cfg, ctx);
    case "webhook":
      return (await import("./webhook.js")).createWebhookDestination(cfg, ctx);
    case "alertmanager":
      return (await import("./alertmanager.js")).createAlertmanagerDestination(cfg, ctx);
    case "pagerduty":
      return (await import("./pagerduty.js")).createPagerdutyDestination(cfg, ctx);
    case "loki":
      return (await import("./loki.js")).createLokiDestination(cfg, ctx);
    case "elasticsearch":
      return (await import("./elasticsearch.js")).createElasticsearchDestination(cfg, ctx);
    case "syslog":
      return (await import("./syslog.js")).createSyslogDestination(cfg, ctx);
    case "nats":
      return (await import("./nats.js")).createNatsDestination(cfg, ctx);
    case "cloudwatch_logs":
      return (await import("./cloudwatch-logs.js")).createCloudwatchLogsDestination(cfg, ctx);
    case "securityhub":
      return (await import("./securityhub.js")).createSecurityhubDestination(cfg, ctx);
    case "sns":
      return (await import("./sns.js")).createSnsDestination(cfg, ctx);
    case "sqs":
      return (await import("./sqs.js")).createSqsDestination(cfg, ctx);
    default: {
      const never: never = cfg;
      throw new Error(`no destination for type ${(never as { type: string }).type}`);
    }
  }
}
