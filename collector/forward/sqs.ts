// SPDX-License-Identifier: Apache-2.0
/**
 * The `sqs` destination: alerts sent to `queue_url` with SendMessageBatch (at most 10 entries and
 * 256 KiB per request: a batch that does not fit is split) through the AWS SDK v3 (aws.ts). Each
 * message is the alert's Falco JSON (cut to fit 256 KiB when larger, saying so) with the message
 * attributes `priority` and `rule`; the entry Id is the alert's index in the batch. For a FIFO
 * queue (`.fifo`), MessageGroupId is the forwarder's name (one group: the queue keeps the
 * forwarder's order) and MessageDeduplicationId the alert ID, so a resend within SQS's 5-minute
 * deduplication interval is dropped. An entry SQS refuses is a failure of that alert alone:
 * permanent when the sender was at fault (SenderFault), retryable otherwise.
 *
 * The SDK speaks SQS's JSON protocol (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.SendMessageBatch`)
 * and checks the MD5 of every body SQS acknowledges.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html.
 */
import { SendMessageBatchCommand, type SendMessageBatchCommandOutput, type SendMessageBatchRequestEntry, SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/forwarders.js";
import { awsClientOptions, awsDeliveryError, boundedFalcoJson, isThrottlingCode, plainText } from "./aws.js";
import type { DeliveryItem, DeliveryOutcome, Destination, ItemFailure } from "./destination.js";

/** SendMessageBatch limits: entries per request, bytes per request and per message (body plus attributes). */
export const SQS_LIMITS = { maxEntries: 10, maxRequestBytes: 256 * 1024, maxMessageBytes: 256 * 1024 } as const;

/** Room kept for the attributes (priority, rule of at most 1024 characters) and their names. */
const ATTRIBUTES_ROOM = 4 * 1024 + 64;

const QUEUE_URL_REGION_RE = /^https:\/\/(?:sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|([a-z0-9-]+)\.queue\.amazonaws\.com)\//;

/** The queue's region when its URL names one (`https://sqs.REGION.amazonaws.com/...`), and whether it is FIFO. */
export function parseQueueUrl(url: string): { region: string; fifo: boolean } {
  const m = QUEUE_URL_REGION_RE.exec(url);
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    throw new Error(`sqs queue_url ${JSON.stringify(url.slice(0, 300))} is not a URL`);
  }
  return { region: m?.[1] ?? m?.[2] ?? "", fifo: path.endsWith(".fifo") };
}

/** The SQS destination of a forwarder. */
export function createSqsDestination(cfg: ForwarderOf<"sqs">, ctx: { logger: Logger }): Destination {
  const { region, fifo } = parseQueueUrl(cfg.queue_url);
  const log = ctx.logger.child({ forwarder: cfg.name, destination: "sqs" });
  const client = new SQSClient(awsClientOptions(cfg, log, region));
  const where = `SQS ${cfg.queue_url}`;

  const entryOf = (item: DeliveryItem, index: number): { entry: SendMessageBatchRequestEntry; bytes: number } => {
    const a = item.alert;
    const body = boundedFalcoJson(item, SQS_LIMITS.maxMessageBytes - ATTRIBUTES_ROOM);
    const rule = plainText(a.rule, 1024);
    const entry: SendMessageBatchRequestEntry = {
      Id: String(index),
      MessageBody: body,
      MessageAttributes: {
        priority: { DataType: "String", StringValue: a.priority },
        rule: { DataType: "String", StringValue: rule },
      },
      ...(fifo ? { MessageGroupId: cfg.name, MessageDeduplicationId: a.id } : {}),
    };
    // what SQS counts: the body and each attribute's name, type and value
    const bytes = Buffer.byteLength(body) + Buffer.byteLength(rule) + a.priority.length + "priority".length + "rule".length + 2 * "String".length;
    return { entry, bytes };
  };

  return {
    maxBatch: cfg.batch_size > 0 ? Math.min(cfg.batch_size, SQS_LIMITS.maxEntries) : SQS_LIMITS.maxEntries,
    async send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome> {
      // entries in order, in requests of at most 10 entries and 256 KiB
      const requests: { index: number; entry: SendMessageBatchRequestEntry }[][] = [];
      let cur: { index: number; entry: SendMessageBatchRequestEntry }[] = [];
      let bytes = 0;
      items.forEach((item, index) => {
        const e = entryOf(item, index);
        if (cur.length > 0 && (cur.length >= SQS_LIMITS.maxEntries || bytes + e.bytes > SQS_LIMITS.maxRequestBytes)) {
          requests.push(cur);
          cur = [];
          bytes = 0;
        }
        cur.push({ index, entry: e.entry });
        bytes += e.bytes;
      });
      if (cur.length > 0) requests.push(cur);

      const failed: ItemFailure[] = [];
      for (let r = 0; r < requests.length; r++) {
        const req = requests[r] ?? [];
        let out: SendMessageBatchCommandOutput;
        try {
          out = await client.send(new SendMessageBatchCommand({ QueueUrl: cfg.queue_url, Entries: req.map((x) => x.entry) }), { abortSignal: signal });
        } catch (err) {
          const e = awsDeliveryError(`${where}: SendMessageBatch`, err);
          if (r === 0) throw e;
          for (const rest of requests.slice(r)) for (const x of rest) failed.push({ index: x.index, permanent: false, error: e.message });
          break;
        }
        for (const f of out.Failed ?? []) {
          const index = Number(f.Id);
          if (!Number.isInteger(index) || !req.some((x) => x.index === index)) continue;
          const code = f.Code ?? "Error";
          failed.push({
            index,
            permanent: f.SenderFault === true && !isThrottlingCode(code),
            error: `${where}: SQS refused the message: ${code}: ${plainText(f.Message ?? "", 400)}`,
          });
        }
      }
      failed.sort((a, b) => a.index - b.index);
      return { failed };
    },
    close() {
      client.destroy();
    },
  };
}
