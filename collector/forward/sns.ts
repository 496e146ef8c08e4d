// SPDX-License-Identifier: Apache-2.0
/**
 * The `sns` destination: each alert published to `topic_arn` (SNS Publish, one message per
 * request) through the AWS SDK v3 (aws.ts: default credential chain, region, errors). The message
 * is the alert's Falco JSON (cut to fit SNS's 256 KiB when larger, saying so), with the message
 * attributes `priority` and `rule` (String) for subscription filter policies, and a Subject
 * (`[Priority] rule`, for e-mail subscriptions). For a FIFO topic (`.fifo`), MessageGroupId is the
 * forwarder's name (one group: the topic keeps the forwarder's order) and
 * MessageDeduplicationId the alert ID, so a resend within SNS's 5-minute deduplication interval
 * is dropped; a standard topic has no deduplication (subscribers can use the `uuid`).
 *
 * https://docs.aws.amazon.com/sns/latest/api/API_Publish.html,
 * https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html,
 * https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/forwarders.js";
import { awsClientOptions, awsDeliveryError, boundedFalcoJson, plainText } from "./aws.js";
import type { DeliveryItem, DeliveryOutcome, Destination, ItemFailure } from "./destination.js";

/** SNS's message size limit (message plus attributes). */
export const SNS_MAX_BYTES = 256 * 1024;

/** Room kept for the attributes (priority, rule of at most 1024 characters) and their names. */
const ATTRIBUTES_ROOM = 4 * 1024 + 64;

const TOPIC_ARN_RE = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const NOT_SUBJECT_RE = /[^\x20-\x7e]+/g;

/** The topic's region and whether it is FIFO; throws a clear error for anything but a topic ARN. */
export function parseTopicArn(arn: string): { region: string; fifo: boolean } {
  const m = TOPIC_ARN_RE.exec(arn);
  if (m === null) throw new Error(`sns topic_arn ${JSON.stringify(arn.slice(0, 300))}: expected arn:aws:sns:REGION:ACCOUNT:TOPIC`);
  return { region: m[1] as string, fifo: m[2] !== undefined };
}

/** The Subject of an alert: printable ASCII, under 100 characters. */
export function snsSubject(priority: string, rule: string): string {
  return `[${priority}] ${rule}`.replace(NOT_SUBJECT_RE, " ").trim().slice(0, 99);
}

/** The SNS destination of a forwarder. */
export function createSnsDestination(cfg: ForwarderOf<"sns">, ctx: { logger: Logger }): Destination {
  const { region, fifo } = parseTopicArn(cfg.topic_arn);
  const log = ctx.logger.child({ forwarder: cfg.name, destination: "sns" });
  const client = new SNSClient(awsClientOptions(cfg, log, region));

  const publish = async (item: DeliveryItem, signal: AbortSignal) => {
    const a = item.alert;
    await client.send(
      new PublishCommand({
        TopicArn: cfg.topic_arn,
        Message: boundedFalcoJson(item, SNS_MAX_BYTES - ATTRIBUTES_ROOM),
        Subject: snsSubject(a.priority, a.rule),
        MessageAttributes: {
          priority: { DataType: "String", StringValue: a.priority },
          rule: { DataType: "String", StringValue: plainText(a.rule, 1024) },
        },
        ...(fifo ? { MessageGroupId: cfg.name, MessageDeduplicationId: a.id } : {}),
      }),
      { abortSignal: signal },
    );
  };

  return {
    maxBatch: 1,
    async send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome> {
      const failed: ItemFailure[] = [];
      for (let i = 0; i < items.length; i++) {
        try {
          await publish(items[i] as DeliveryItem, signal);
        } catch (err) {
          const e = awsDeliveryError(`SNS ${cfg.topic_arn}: Publish`, err);
          if (i === 0) throw e;
          // what was published stays published; the rest is retried (or refused) on its own
          for (let j = i; j < items.length; j++) failed.push({ index: j, permanent: false, error: e.message });
          break;
        }
      }
      return { failed };
    },
    close() {
      client.destroy();
    },
  };
}
