// SPDX-License-Identifier: Apache-2.0
/**
 * The `cloudwatch_logs` destination: each alert's Falco JSON as one log event of
 * `log_group`/`log_stream` (PutLogEvents, the stream created when it is missing; the group is the
 * operator's: while it is missing the forwarder waits with that error), through the AWS SDK v3
 * (aws.ts: default credential chain, region, errors).
 *
 * PutLogEvents' rules (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
 * events in chronological order (a batch is sorted by alert time; the runner's order is the
 * store's); at most 10,000 events and 1,048,576 bytes (messages in UTF-8 plus 26 bytes each) per
 * request, spanning at most 24 hours (a batch that does not fit is split into several requests);
 * an event of at most 256 KiB (a larger alert is cut, aws.ts `boundedFalcoJson`); nothing older
 * than 14 days (refused here for good, as the service would) and nothing more than 2 hours ahead
 * (stamped with the time of sending instead: a node's clock running fast must not lose the
 * alert; the message keeps the alert's own time). Events the service still rejects
 * (rejectedLogEventsInfo: older than the group's retention, say) fail for good, each on its own.
 *
 * CloudWatch Logs has no idempotency key: a batch resent after a failure the service did not
 * report (a timeout) may store an event twice; each carries the alert ID (`uuid`) to tell.
 */
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  type InputLogEvent,
  PutLogEventsCommand,
  type RejectedLogEventsInfo,
} from "@aws-sdk/client-cloudwatch-logs";
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/forwarders.js";
import { alertTimeMs, awsClientOptions, awsDeliveryError, boundedFalcoJson } from "./aws.js";
import type { DeliveryItem, DeliveryOutcome, Destination, ItemFailure } from "./destination.js";

/** PutLogEvents limits. */
export const CWL_LIMITS = {
  maxEvents: 10_000,
  maxRequestBytes: 1_048_576,
  eventOverheadBytes: 26,
  maxEventBytes: 256 * 1024 - 26,
  maxSpanMs: 24 * 3_600_000,
  maxAgeMs: 14 * 86_400_000,
  maxAheadMs: 2 * 3_600_000,
} as const;

/** Alerts per batch when `batch_size` is 0 (usually one request; larger ones are split). */
const DEFAULT_BATCH = 1000;

/** One log event and the batch item it came from. */
export interface LogEvent {
  index: number;
  timestamp: number;
  message: string;
  bytes: number;
}

/** Events in time order, split into requests within the limits. */
export function planLogRequests(events: LogEvent[]): LogEvent[][] {
  const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp || a.index - b.index);
  const out: LogEvent[][] = [];
  let cur: LogEvent[] = [];
  let bytes = 0;
  for (const e of sorted) {
    const size = e.bytes + CWL_LIMITS.eventOverheadBytes;
    const first = cur[0];
    if (
      first !== undefined &&
      (cur.length >= CWL_LIMITS.maxEvents || bytes + size > CWL_LIMITS.maxRequestBytes || e.timestamp - first.timestamp > CWL_LIMITS.maxSpanMs)
    ) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Which events of a request the service rejected, and why. */
function rejectedOf(info: RejectedLogEventsInfo | undefined, n: number): Map<number, string> {
  const out = new Map<number, string>();
  if (info === undefined) return out;
  const { tooNewLogEventStartIndex: tooNew, tooOldLogEventEndIndex: tooOld, expiredLogEventEndIndex: expired } = info;
  for (let i = 0; i < n; i++) {
    if (tooNew !== undefined && i >= tooNew) out.set(i, "CloudWatch Logs rejected the event: more than 2 hours in the future");
    else if (expired !== undefined && i <= expired) out.set(i, "CloudWatch Logs rejected the event: older than the log group's retention");
    else if (tooOld !== undefined && i <= tooOld) out.set(i, "CloudWatch Logs rejected the event: older than 14 days");
  }
  return out;
}

/** The CloudWatch Logs destination of a forwarder. */
export function createCloudwatchLogsDestination(cfg: ForwarderOf<"cloudwatch_logs">, ctx: { logger: Logger }): Destination {
  const log = ctx.logger.child({ forwarder: cfg.name, destination: "cloudwatch_logs" });
  const client = new CloudWatchLogsClient(awsClientOptions(cfg, log));
  const where = `CloudWatch Logs ${cfg.log_group}/${cfg.log_stream}`;
  let streamReady = false;

  const put = async (events: InputLogEvent[], signal: AbortSignal) => {
    const cmd = new PutLogEventsCommand({ logGroupName: cfg.log_group, logStreamName: cfg.log_stream, logEvents: events });
    try {
      return await client.send(cmd, { abortSignal: signal });
    } catch (err) {
      if ((err as Error).name !== "ResourceNotFoundException" || streamReady) throw err;
      // the stream is missing (or the group: then CreateLogStream says so)
      try {
        await client.send(new CreateLogStreamCommand({ logGroupName: cfg.log_group, logStreamName: cfg.log_stream }), { abortSignal: signal });
        log.info({ group: cfg.log_group, stream: cfg.log_stream }, "created the CloudWatch Logs stream");
      } catch (e) {
        if ((e as Error).name !== "ResourceAlreadyExistsException") throw e;
      }
      streamReady = true;
      return await client.send(cmd, { abortSignal: signal });
    }
  };

  return {
    maxBatch: cfg.batch_size > 0 ? Math.min(cfg.batch_size, CWL_LIMITS.maxEvents) : DEFAULT_BATCH,
    async send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome> {
      const now = Date.now();
      const failed: ItemFailure[] = [];
      const events: LogEvent[] = [];
      items.forEach((item, index) => {
        let timestamp = alertTimeMs(item.alert.time);
        if (timestamp < now - CWL_LIMITS.maxAgeMs + 60_000) {
          failed.push({ index, permanent: true, error: `${where}: the alert is older than 14 days, which CloudWatch Logs refuses` });
          return;
        }
        if (timestamp > now + CWL_LIMITS.maxAheadMs - 60_000) timestamp = now;
        const message = boundedFalcoJson(item, CWL_LIMITS.maxEventBytes);
        events.push({ index, timestamp, message, bytes: Buffer.byteLength(message, "utf8") });
      });
      const requests = planLogRequests(events);
      for (let r = 0; r < requests.length; r++) {
        const req = requests[r] as LogEvent[];
        let out: Awaited<ReturnType<typeof put>>;
        try {
          out = await put(
            req.map((e) => ({ timestamp: e.timestamp, message: e.message })),
            signal,
          );
          streamReady = true;
        } catch (err) {
          const e = awsDeliveryError(`${where}: PutLogEvents`, err);
          if (err instanceof Error && err.name === "ResourceNotFoundException") streamReady = false;
          // nothing stored yet: the batch failed; else what was stored stays, the rest is retried
          if (r === 0) throw e;
          for (const rest of requests.slice(r)) for (const ev of rest) failed.push({ index: ev.index, permanent: e.permanent, error: e.message });
          break;
        }
        for (const [i, why] of rejectedOf(out.rejectedLogEventsInfo, req.length)) {
          const ev = req[i];
          if (ev !== undefined) failed.push({ index: ev.index, permanent: true, error: `${where}: ${why}` });
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
