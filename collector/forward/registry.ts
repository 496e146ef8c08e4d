// SPDX-License-Identifier: Apache-2.0
/**
 * Which module makes each destination type. Modules load only when a forwarder of their type is
 * configured (the AWS SDK, the NATS client and the rest stay out of a collector that does not
 * use them).
 */
import type { Logger } from "pino";
import type { Destination } from "./destination.js";
import type { ForwarderConfig, ForwarderType } from "../../proto/index.js";

type Factory = (cfg: ForwarderConfig, ctx: { logger: Logger }) => Destination | Promise<Destination>;

/** Module and factory of each type. */
const MODULES: Record<ForwarderType, { file: string; factory: string }> = {
  slack: { file: "slack", factory: "createSlackDestination" },
  teams: { file: "teams", factory: "createTeamsDestination" },
  webhook: { file: "webhook", factory: "createWebhookDestination" },
  alertmanager: { file: "alertmanager", factory: "createAlertmanagerDestination" },
  pagerduty: { file: "pagerduty", factory: "createPagerdutyDestination" },
  loki: { file: "loki", factory: "createLokiDestination" },
  elasticsearch: { file: "elasticsearch", factory: "createElasticsearchDestination" },
  syslog: { file: "syslog", factory: "createSyslogDestination" },
  nats: { file: "nats", factory: "createNatsDestination" },
  cloudwatch_logs: { file: "cloudwatch-logs", factory: "createCloudwatchLogsDestination" },
  securityhub: { file: "securityhub", factory: "createSecurityhubDestination" },
  sns: { file: "sns", factory: "createSnsDestination" },
  sqs: { file: "sqs", factory: "createSqsDestination" },
};

/** Makes the destination of a forwarder. */
export async function createDestination(cfg: ForwarderConfig, ctx: { logger: Logger }): Promise<Destination> {
  const m = MODULES[cfg.type];
  const mod = (await import(`./${m.file}.js`)) as Record<string, Factory | undefined>;
  const make = mod[m.factory];
  if (typeof make !== "function") throw new Error(`no destination module for type ${cfg.type}`);
  return make(cfg, ctx);
}
