// SPDX-License-Identifier: Apache-2.0
/**
 * EKS audit logs from CloudWatch Logs. With control-plane logging of type `audit` on, EKS writes
 * the API server's audit events to the log group `/aws/eks/<cluster>/cluster`, one Event (JSON)
 * per log event, in streams named `kube-apiserver-audit-<id>`
 * (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html).
 *
 * The reader polls FilterLogEvents (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html)
 * with `logStreamNamePrefix`, a time window `[startTime, endTime]` and `nextToken` paging until
 * the answer has no token (a page may be empty and still carry one). Each page goes through the
 * intake (rules, store) before the position moves past it; the position (position.ts) is saved
 * after every page, so a restart resumes there, and a replay is idempotent anyway (deterministic
 * alert IDs). Log events arrive late (a stream's events are delivered in batches): each poll
 * starts `overlap` before the newest time read, and event IDs already read are skipped.
 *
 * Throttling (ThrottlingException, LimitExceededException, HTTP 429) is retried on the same page
 * with exponential backoff and jitter; other failures end the poll, are counted and logged once
 * per burst, and the next poll waits the interval doubled up to `max_backoff` until one succeeds.
 * Credentials come from the SDK's default chain (IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE;
 * EKS Pod Identity; instance profile); the region from the configuration, else the SDK's.
 * The IAM policy needs `logs:FilterLogEvents` (and `logs:DescribeLogStreams`, which the
 * prefix filter may need) on the log group.
 */
import { createHash } from "node:crypto";
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  type FilterLogEventsCommandInput,
  type FilterLogEventsCommandOutput,
} from "@aws-sdk/client-cloudwatch-logs";
import type { Logger } from "pino";
import { BurstLog } from "../burst-log.js";
import { cloudwatchAuditCounters, type CloudWatchAuditCounters } from "./counters.js";
import { awsClientOptions, isThrottlingCode } from "../forward/aws.js";
import type { AuditIntake } from "./intake.js";
import { auditItem, type AuditBatch } from "./parse.js";
import { readPosition, writePosition, type ReadPosition } from "./position.js";

/** Options of {@link CloudWatchAuditReader}. */
export interface CloudWatchAuditOptions {
  /** `/aws/eks/<cluster>/cluster`. */
  logGroup: string;
  /** AWS region; empty: the SDK's (AWS_REGION, the profile). */
  region?: string | undefined;
  /** Streams read: names starting with this (default `kube-apiserver-audit-`). */
  streamPrefix?: string | undefined;
  /** Between polls (ms, default 10 s). */
  pollIntervalMs?: number | undefined;
  /** Where a first run starts: `now` (default) or `beginning` (everything the group retains). */
  start?: "now" | "beginning" | undefined;
  /** How far before the newest event read each poll starts again (ms, default 60 s): late events. */
  overlapMs?: number | undefined;
  /** The read position file. */
  positionFile: string;
  /** The cluster's name for alerts; default the `<cluster>` of the log group, else the intake's choice. */
  cluster?: string | undefined;
  /** FilterLogEvents `limit` (1..10000, default 10000). */
  pageSize?: number | undefined;
  /** Per-request timeout (ms, default 30 s). */
  timeoutMs?: number | undefined;
  /** First throttling backoff (ms, default 1 s); doubled per retry up to `maxBackoffMs`. */
  backoffMs?: number | undefined;
  /** Longest wait between retries (ms, default 60 s). */
  maxBackoffMs?: number | undefined;
}

/** Most event IDs remembered in memory for the overlap window. */
const MAX_SEEN = 200_000;

const EKS_GROUP_RE = /^\/aws\/eks\/([^/]+)\/cluster$/;

/** The cluster named by an EKS control-plane log group, if it is one. */
export function clusterOfLogGroup(group: string): string | undefined {
  return EKS_GROUP_RE.exec(group)?.[1];
}

function isThrottled(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } } | undefined;
  return e?.$metadata?.httpStatusCode === 429 || e?.$retryable?.throttling === true || (typeof e?.name === "string" && isThrottlingCode(e.name));
}

/** Reads an EKS cluster's audit log group into an {@link AuditIntake}. */
export class CloudWatchAuditReader {
  readonly counters: CloudWatchAuditCounters = cloudwatchAuditCounters();
  readonly cluster: string | undefined;
  private readonly client: CloudWatchLogsClient;
  private readonly log: Logger;
  private readonly o: Required<Omit<CloudWatchAuditOptions, "region" | "cluster">>;
  private readonly abort = new AbortController();
  private pos: ReadPosition | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly failLog: BurstLog;
  private readonly saveLog: BurstLog;

  constructor(
    opts: CloudWatchAuditOptions,
    private readonly intake: AuditIntake,
    logger: Logger,
  ) {
    if (opts.logGroup === "") throw new Error("k8s_audit.cloudwatch.log_group is empty");
    this.o = {
      logGroup: opts.logGroup,
      streamPrefix: opts.streamPrefix ?? "kube-apiserver-audit-",
      pollIntervalMs: opts.pollIntervalMs ?? 10_000,
      start: opts.start ?? "now",
      overlapMs: opts.overlapMs ?? 60_000,
      positionFile: opts.positionFile,
      pageSize: Math.max(1, Math.min(opts.pageSize ?? 10_000, 10_000)),
      timeoutMs: opts.timeoutMs ?? 30_000,
      backoffMs: opts.backoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 60_000,
    };
    this.cluster = opts.cluster !== undefined && opts.cluster !== "" ? opts.cluster : clusterOfLogGroup(opts.logGroup);
    this.log = logger.child({ component: "k8s-audit-cloudwatch", logGroup: opts.logGroup });
    this.client = new CloudWatchLogsClient(
      awsClientOptions({ region: opts.region ?? "", timeout_ms: this.o.timeoutMs, tls: { ca_file: "", cert_file: "", key_file: "" } }, this.log),
    );
    this.failLog = new BurstLog(this.log, "reading the audit log group failed: retrying");
    this.saveLog = new BurstLog(this.log, "saving the audit read position failed");
  }

  /** Where the reader stands (for tests and status). */
  get position(): Readonly<ReadPosition> | undefined {
    return this.pos;
  }

  /** Loads the saved position and starts polling. */
  async start(): Promise<void> {
    const saved = await readPosition(this.o.positionFile);
    if (saved instanceof Error) this.log.warn({ err: saved }, "audit read position unreadable: starting afresh");
    else if (saved !== undefined && saved.logGroup !== this.o.logGroup)
      this.log.warn({ saved: saved.logGroup }, "audit read position is for another log group: starting afresh");
    else if (saved !== undefined) this.pos = saved;
    if (this.pos === undefined) {
      const since = this.o.start === "beginning" ? 0 : Date.now();
      this.pos = { logGroup: this.o.logGroup, since, time: undefined, seen: new Map() };
      this.log.info({ start: this.o.start, since: new Date(since).toISOString() }, "reading the audit log group from its start position");
      // saved at once: a restart before the first event must not move `now` forward past events
      await this.save(this.pos);
    } else
      this.log.info(
        { resumeAt: this.pos.time === undefined ? null : new Date(this.pos.time).toISOString(), remembered: this.pos.seen.size },
        "resuming the audit log group from the saved position",
      );
    this.loop = this.run();
  }

  /** Stops polling (an in-flight request is aborted) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
    this.failLog.close();
    this.saveLog.close();
    this.client.destroy();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.min(attempt, 20));
    // full jitter on the upper half: readers of several collectors do not retry in step
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.poll();
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        this.counters.k8s_audit_cloudwatch_errors++;
        failures++;
        const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        this.failLog.hit({ error: e.name, status: e.$metadata?.httpStatusCode, reason: String(e.message ?? err).slice(0, 300) });
      }
      await this.sleep(failures === 0 ? this.o.pollIntervalMs : Math.max(this.o.pollIntervalMs, this.backoff(failures - 1)));
    }
  }

  /** One page, throttling retried on the same request. */
  private async page(input: FilterLogEventsCommandInput): Promise<FilterLogEventsCommandOutput> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.client.send(new FilterLogEventsCommand(input), { abortSignal: this.abort.signal });
      } catch (err) {
        if (!isThrottled(err) || this.stopped) throw err;
        this.counters.k8s_audit_cloudwatch_throttled++;
        await this.sleep(this.backoff(attempt));
        if (this.stopped) throw err;
      }
    }
  }

  /** Reads everything from the position to now, page by page. */
  private async poll(): Promise<void> {
    const pos = this.pos;
    if (pos === undefined) return;
    this.counters.k8s_audit_cloudwatch_polls++;
    const endTime = Date.now();
    const startTime = Math.max(pos.since, pos.time === undefined ? pos.since : pos.time - this.o.overlapMs);
    if (startTime > endTime) return;
    let nextToken: string | undefined;
    do {
      const out = await this.page({
        logGroupName: this.o.logGroup,
        logStreamNamePrefix: this.o.streamPrefix,
        startTime,
        endTime,
        limit: this.o.pageSize,
        ...(nextToken !== undefined ? { nextToken } : {}),
      });
      this.counters.k8s_audit_cloudwatch_pages++;
      const events = out.events ?? [];
      this.counters.k8s_audit_cloudwatch_events += events.length;
      const batch: AuditBatch = { items: [], bad: [] };
      const fresh: [string, number][] = [];
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        if (e === undefined) continue;
        const ts = typeof e.timestamp === "number" ? e.timestamp : 0;
        const msg = e.message ?? "";
        const id = e.eventId ?? `${e.logStreamName ?? ""}:${ts}:${createHash("sha256").update(msg).digest("hex")}`;
        if (pos.seen.has(id)) {
          this.counters.k8s_audit_cloudwatch_duplicates++;
          continue;
        }
        fresh.push([id, ts]);
        let obj: unknown;
        try {
          obj = JSON.parse(msg);
        } catch {
          // CloudWatch cuts very long lines; a cut event is not JSON
          batch.bad.push({ index: i, reason: "log event is not JSON (cut by CloudWatch Logs?)" });
          continue;
        }
        const item = auditItem(obj);
        if (typeof item === "string") batch.bad.push({ index: i, reason: item });
        else batch.items.push(item);
      }
      // stored before the position moves past them: a failure here retries the page
      if (batch.items.length + batch.bad.length > 0) await this.intake.process(batch, this.cluster, "cloudwatch");
      if (fresh.length > 0) {
        this.advance(pos, fresh);
        await this.save(pos);
      }
      nextToken = out.nextToken ?? undefined;
    } while (nextToken !== undefined && nextToken !== "" && !this.stopped);
  }

  /** Records events as read and drops what fell out of the overlap window. */
  private advance(pos: ReadPosition, fresh: readonly [string, number][]): void {
    let high = pos.time ?? 0;
    for (const [id, ts] of fresh) {
      pos.seen.set(id, ts);
      if (ts > high) high = ts;
    }
    pos.time = high;
    const floor = high - this.o.overlapMs;
    for (const [id, ts] of pos.seen) if (ts < floor) pos.seen.delete(id);
    // insertion order is read order: the oldest go first
    for (const id of pos.seen.keys()) {
      if (pos.seen.size <= MAX_SEEN) break;
      pos.seen.delete(id);
    }
  }

  private async save(pos: ReadPosition): Promise<void> {
    try {
      await writePosition(this.o.positionFile, pos);
    } catch (err) {
      this.counters.k8s_audit_cloudwatch_position_errors++;
      this.saveLog.hit({ err, file: this.o.positionFile });
    }
  }
}
