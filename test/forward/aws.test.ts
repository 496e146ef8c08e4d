// SPDX-License-Identifier: Apache-2.0
/**
 * The AWS destinations (cloudwatch_logs, securityhub, sns, sqs) through the real AWS SDK v3
 * against a local endpoint (test/helpers/aws-endpoint.ts) that verifies every request's SigV4
 * signature and wire protocol, then answers like the service: the models below keep what each
 * service would store and enforce the published limits and rules of the operations used.
 *
 * Docs: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html,
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html,
 * https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html,
 * https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html,
 * https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format-type-taxonomy.html,
 * https://docs.aws.amazon.com/sns/latest/api/API_Publish.html,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html,
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html (AWS_ENDPOINT_URL_<SERVICE>),
 * https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html,
 * https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html.
 */
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { awsDeliveryError, boundedFalcoJson } from "../../collector/forward/aws.js";
import { CWL_LIMITS, createCloudwatchLogsDestination } from "../../collector/forward/cloudwatch-logs.js";
import { DeliveryError, type DeliveryItem, type DeliveryOutcome, type Destination } from "../../collector/forward/destination.js";
import { createSecurityhubDestination, findingTypes, SEVERITY_LABEL } from "../../collector/forward/securityhub.js";
import { createSnsDestination, snsSubject } from "../../collector/forward/sns.js";
import { createSqsDestination } from "../../collector/forward/sqs.js";
import { forwarderSchema } from "../../proto/forwarders.js";
import { alertToFalcoJson, isoFromMs, PRIORITY_NAMES, type Alert } from "../../proto/index.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { type AwsEndpoint, AwsServiceError, startAwsEndpoint, TEST_CREDENTIALS, type TestCredentials, verifySigV4 } from "../helpers/aws-endpoint.js";
import { makeTestTls } from "../helpers/image-pods.js";

const REGION = "eu-west-3";
const ACCOUNT = "123456789012";

// ---------------------------------------------------------------------------------------------
// environment: the SDK's default chain and endpoints, isolated per test

const SAVED = { ...process.env };
/** Only the test endpoint and the given keys (null: none) in the environment. */
function resetEnv(ep: AwsEndpoint, creds: TestCredentials | null = TEST_CREDENTIALS): void {
  for (const k of Object.keys(process.env)) if (k.startsWith("AWS_")) delete process.env[k];
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: ep.url,
    AWS_ENDPOINT_URL_SECURITYHUB: ep.url,
    AWS_ENDPOINT_URL_SNS: ep.url,
    AWS_ENDPOINT_URL_SQS: ep.url,
    AWS_ENDPOINT_URL_STS: ep.url,
    // no shared files, no instance metadata: only what a test sets
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AWS_EC2_METADATA_DISABLED: "true",
  });
  if (creds !== null) {
    process.env["AWS_ACCESS_KEY_ID"] = creds.accessKeyId;
    process.env["AWS_SECRET_ACCESS_KEY"] = creds.secretAccessKey;
    if (creds.sessionToken !== undefined) process.env["AWS_SESSION_TOKEN"] = creds.sessionToken;
  }
}
afterAll(() => {
  for (const k of Object.keys(process.env)) if (!(k in SAVED)) delete process.env[k];
  Object.assign(process.env, SAVED);
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A temp dir removed after the test. */
function tmp(prefix: string): string {
  const d = tempDir(prefix);
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function make<D extends Destination>(create: (cfg: never, ctx: { logger: ReturnType<typeof quiet> }) => D, cfg: Record<string, unknown>): D {
  const d = create(forwarderSchema.parse({ name: "aws-fw", timeout_ms: 5000, ...cfg }) as never, { logger: quiet() });
  cleanups.push(() => d.close?.());
  return d;
}

const items = (alerts: Alert[]): DeliveryItem[] => alerts.map((alert, i) => ({ seq: i + 1, alert, count: 1 }));
const send = (d: Destination, its: DeliveryItem[]) => d.send(its, new AbortController().signal) as Promise<DeliveryOutcome>;

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** An alert whose strings hold every character a message could be broken by. */
function hostileAlert(over: Partial<Alert> = {}): Alert {
  return makeAlert({
    rule: 'Evil "rule" <b>x</b>\n\u0000\ufffe',
    output: 'out\r\n<script>alert(1)</script> \u001b[31m "q" \\ \u2028 \ud800 end',
    fields: { "proc.cmdline": "sh -c 'x'\n\u0007", "k8s.ns.name": "ns", "k8s.pod.name": "pod-1", "container.id": "c0ffee000001", "container.name": "app" },
    ...over,
  });
}

/** An alert whose Falco JSON is over 1 MiB. */
function hugeAlert(): Alert {
  const fields: Alert["output_fields"] = { "k8s.ns.name": "big", "container.id": "c0ffee000002" };
  for (let i = 0; i < 70; i++) fields[`big.${i}`] = "é".repeat(16 * 1024);
  return makeAlert({ output: "x".repeat(64 * 1024), fields });
}

// ---------------------------------------------------------------------------------------------
// service models: what the service stores and the rules it enforces

/** CloudWatch Logs: groups of streams of events; PutLogEvents' constraints. */
class LogsModel {
  groups = new Map<string, Map<string, { timestamp: number; message: string }[]>>();
  putRequests: { timestamp: number; message: string }[][] = [];

  install(ep: AwsEndpoint): void {
    ep.on("logs:CreateLogStream", (r) => {
      const g = this.groups.get(String(r.input["logGroupName"]));
      if (g === undefined) return new AwsServiceError("ResourceNotFoundException", "The specified log group does not exist.");
      const s = String(r.input["logStreamName"]);
      if (g.has(s)) return new AwsServiceError("ResourceAlreadyExistsException", "The specified log stream already exists");
      g.set(s, []);
      return {};
    });
    ep.on("logs:PutLogEvents", (r) => {
      const g = this.groups.get(String(r.input["logGroupName"]));
      if (g === undefined) return new AwsServiceError("ResourceNotFoundException", "The specified log group does not exist.");
      const stream = g.get(String(r.input["logStreamName"]));
      if (stream === undefined) return new AwsServiceError("ResourceNotFoundException", "The specified log stream does not exist.");
      const events = r.input["logEvents"] as { timestamp: number; message: string }[];
      if (!Array.isArray(events) || events.length < 1 || events.length > CWL_LIMITS.maxEvents)
        return new AwsServiceError("InvalidParameterException", "logEvents must hold 1 to 10000 events");
      let bytes = 0;
      for (let i = 0; i < events.length; i++) {
        const e = events[i] as { timestamp: number; message: string };
        if (!Number.isInteger(e.timestamp) || typeof e.message !== "string" || e.message === "")
          return new AwsServiceError("InvalidParameterException", `event ${i}: timestamp and message required`);
        const size = Buffer.byteLength(e.message) + 26;
        if (size > 256 * 1024) return new AwsServiceError("InvalidParameterException", `event ${i} is larger than 256 KB`);
        bytes += size;
        if (i > 0 && e.timestamp < (events[i - 1]?.timestamp ?? 0))
          return new AwsServiceError("InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.");
      }
      if (bytes > CWL_LIMITS.maxRequestBytes) return new AwsServiceError("InvalidParameterException", "Upload too large");
      if ((events.at(-1)?.timestamp ?? 0) - (events[0]?.timestamp ?? 0) > CWL_LIMITS.maxSpanMs)
        return new AwsServiceError("InvalidParameterException", "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
      this.putRequests.push(events);
      const now = Date.now();
      let tooOld: number | undefined;
      let tooNew: number | undefined;
      events.forEach((e, i) => {
        if (e.timestamp < now - CWL_LIMITS.maxAgeMs) tooOld = i;
        else if (e.timestamp > now + CWL_LIMITS.maxAheadMs) tooNew ??= i;
        else stream.push(e);
      });
      const info = {
        ...(tooOld !== undefined ? { tooOldLogEventEndIndex: tooOld } : {}),
        ...(tooNew !== undefined ? { tooNewLogEventStartIndex: tooNew } : {}),
      };
      return { nextSequenceToken: "49590", ...(Object.keys(info).length > 0 ? { rejectedLogEventsInfo: info } : {}) };
    });
  }
}

const SEVERITY_LABELS = new Set(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]);
const TYPE_NAMESPACES = new Set(["Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications"]);

/** Security Hub: findings by ID (an import with a known ID updates it); ASFF's required attributes checked. */
class SecurityHubModel {
  findings = new Map<string, Record<string, unknown>>();
  imports = 0;

  /** Why a finding is invalid (undefined when valid). */
  static invalid(f: Record<string, unknown>): string | undefined {
    const productArn = `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`;
    const str = (k: string, max: number) => typeof f[k] === "string" && (f[k] as string).trim() !== "" && (f[k] as string).length <= max;
    if (f["SchemaVersion"] !== "2018-10-08") return "SchemaVersion";
    if (!str("Id", 512) || !str("GeneratorId", 512)) return "Id/GeneratorId";
    if (f["ProductArn"] !== productArn) return `ProductArn ${String(f["ProductArn"])}`;
    if (f["AwsAccountId"] !== ACCOUNT) return "AwsAccountId must be the caller's account";
    if (!str("Title", 256)) return "Title";
    if (!str("Description", 1024)) return "Description";
    for (const k of ["CreatedAt", "UpdatedAt"]) if (!str(k, 64) || Number.isNaN(Date.parse(f[k] as string))) return k;
    const sev = f["Severity"] as { Label?: string } | undefined;
    if (sev?.Label === undefined || !SEVERITY_LABELS.has(sev.Label)) return "Severity.Label";
    const types = f["Types"] as string[] | undefined;
    if (!Array.isArray(types) || types.length < 1 || types.length > 50) return "Types";
    for (const t of types) if (!TYPE_NAMESPACES.has(t.split("/")[0] ?? "") || t.split("/").length > 3) return `Types ${t}`;
    const res = f["Resources"] as { Type?: string; Id?: string }[] | undefined;
    if (!Array.isArray(res) || res.length < 1 || res.length > 32) return "Resources";
    for (const r of res) if (typeof r.Type !== "string" || typeof r.Id !== "string" || r.Id === "") return "Resources.Type/Id";
    if (Buffer.byteLength(JSON.stringify(f)) > 240 * 1024) return "finding larger than 240 KB";
    if (/[\u0000-\u001f]/.test(String(f["Title"]) + String(f["Description"]))) return "control characters in Title/Description";
    return undefined;
  }

  install(ep: AwsEndpoint): void {
    ep.on("securityhub:DescribeHub", () => ({
      HubArn: `arn:aws:securityhub:${REGION}:${ACCOUNT}:hub/default`,
      SubscribedAt: "2026-01-01T00:00:00.000Z",
      AutoEnableControls: true,
    }));
    ep.on("securityhub:BatchImportFindings", (r) => {
      const fs = r.input["Findings"] as Record<string, unknown>[] | undefined;
      if (!Array.isArray(fs) || fs.length < 1 || fs.length > 100) return new AwsServiceError("InvalidInputException", "Findings must hold 1 to 100 findings");
      this.imports++;
      const failed: { Id: string; ErrorCode: string; ErrorMessage: string }[] = [];
      for (const f of fs) {
        const why = SecurityHubModel.invalid(f);
        if (why !== undefined) failed.push({ Id: String(f["Id"] ?? ""), ErrorCode: "InvalidInput", ErrorMessage: `Finding does not adhere to ASFF: ${why}` });
        else this.findings.set(f["Id"] as string, f);
      }
      return { FailedCount: failed.length, SuccessCount: fs.length - failed.length, FailedFindings: failed };
    });
  }
}

/** SNS: published messages; FIFO topics need a group and deduplicate by ID within 5 minutes. */
class SnsModel {
  messages: { message: string; subject?: string; attributes: Record<string, { type: string; value: string }>; groupId?: string; dedupId?: string }[] = [];
  dedup = new Set<string>();
  constructor(readonly topics: string[]) {}

  install(ep: AwsEndpoint): void {
    ep.on("sns:Publish", (r) => {
      const f = r.input as Record<string, string>;
      const arn = f["TopicArn"] ?? "";
      if (!this.topics.includes(arn)) return new AwsServiceError("NotFound", "Topic does not exist", 404);
      const message = f["Message"] ?? "";
      if (message === "") return new AwsServiceError("InvalidParameter", "Invalid parameter: Empty message");
      const attributes: Record<string, { type: string; value: string }> = {};
      for (let n = 1; f[`MessageAttributes.entry.${n}.Name`] !== undefined; n++) {
        attributes[f[`MessageAttributes.entry.${n}.Name`] as string] = {
          type: f[`MessageAttributes.entry.${n}.Value.DataType`] ?? "",
          value: f[`MessageAttributes.entry.${n}.Value.StringValue`] ?? "",
        };
      }
      let size = Buffer.byteLength(message);
      for (const [k, v] of Object.entries(attributes)) size += Buffer.byteLength(k) + Buffer.byteLength(v.type) + Buffer.byteLength(v.value);
      if (size > 256 * 1024) return new AwsServiceError("InvalidParameter", "Invalid parameter: Message too long");
      const subject = f["Subject"];
      if (subject !== undefined && (subject.length >= 100 || !/^[!-~][ -~]*$/.test(subject)))
        return new AwsServiceError("InvalidParameter", "Invalid parameter: Subject");
      const fifo = arn.endsWith(".fifo");
      const groupId = f["MessageGroupId"];
      const dedupId = f["MessageDeduplicationId"];
      if (fifo && (groupId === undefined || dedupId === undefined))
        return new AwsServiceError("InvalidParameter", "Invalid parameter: The MessageGroupId parameter is required for FIFO topics");
      if (!fifo && groupId !== undefined && dedupId !== undefined)
        return new AwsServiceError("InvalidParameter", "Invalid parameter: MessageDeduplicationId is only for FIFO topics");
      const id = `m-${this.messages.length}`;
      if (fifo && this.dedup.has(dedupId ?? ""))
        return `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId><SequenceNumber>1</SequenceNumber></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`;
      if (fifo) this.dedup.add(dedupId ?? "");
      this.messages.push({
        message,
        attributes,
        ...(subject !== undefined ? { subject } : {}),
        ...(groupId !== undefined ? { groupId } : {}),
        ...(dedupId !== undefined ? { dedupId } : {}),
      });
      return `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId>${fifo ? "<SequenceNumber>10000000000000000001</SequenceNumber>" : ""}</PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`;
    });
  }
}

const SQS_BODY_RE = /^[\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;

/** SQS: queues of messages; SendMessageBatch's limits, per-entry failures, FIFO deduplication. */
class SqsModel {
  queues = new Map<string, { body: string; attributes: Record<string, { DataType: string; StringValue: string }>; groupId?: string; dedupId?: string }[]>();
  dedup = new Set<string>();
  /** Bodies containing this are refused (SenderFault), to test per-entry failures. */
  refuseMarker = "\u0000never";
  throttleMarker = "\u0000never";

  install(ep: AwsEndpoint): void {
    ep.on("sqs:SendMessageBatch", (r) => {
      const url = String(r.input["QueueUrl"]);
      const q = this.queues.get(new URL(url).pathname);
      if (q === undefined)
        return new AwsServiceError("QueueDoesNotExist", "The specified queue does not exist.", 400, { queryCode: "AWS.SimpleQueueService.NonExistentQueue" });
      const entries = r.input["Entries"] as {
        Id: string;
        MessageBody: string;
        MessageAttributes?: Record<string, { DataType: string; StringValue: string }>;
        MessageGroupId?: string;
        MessageDeduplicationId?: string;
      }[];
      if (!Array.isArray(entries) || entries.length === 0)
        return new AwsServiceError("EmptyBatchRequest", "no entries", 400, { queryCode: "AWS.SimpleQueueService.EmptyBatchRequest" });
      if (entries.length > 10)
        return new AwsServiceError("TooManyEntriesInBatchRequest", "at most 10", 400, { queryCode: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest" });
      const ids = new Set(entries.map((e) => e.Id));
      if (ids.size !== entries.length)
        return new AwsServiceError("BatchEntryIdsNotDistinct", "Ids must be distinct", 400, { queryCode: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct" });
      let total = 0;
      for (const e of entries) {
        if (!/^[A-Za-z0-9_-]{1,80}$/.test(e.Id))
          return new AwsServiceError("InvalidBatchEntryId", `bad Id ${e.Id}`, 400, { queryCode: "AWS.SimpleQueueService.InvalidBatchEntryId" });
        total += Buffer.byteLength(e.MessageBody);
        for (const [k, v] of Object.entries(e.MessageAttributes ?? {}))
          total += Buffer.byteLength(k) + Buffer.byteLength(v.DataType) + Buffer.byteLength(v.StringValue);
      }
      if (total > 256 * 1024)
        return new AwsServiceError("BatchRequestTooLong", "Batch requests cannot be longer than 262144 bytes", 400, {
          queryCode: "AWS.SimpleQueueService.BatchRequestTooLong",
        });
      const fifo = url.endsWith(".fifo");
      const ok: { Id: string; MessageId: string; MD5OfMessageBody: string; SequenceNumber?: string }[] = [];
      const failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
      for (const e of entries) {
        if (!SQS_BODY_RE.test(e.MessageBody)) {
          failed.push({ Id: e.Id, SenderFault: true, Code: "InvalidMessageContents", Message: "Invalid characters found" });
          continue;
        }
        if (e.MessageBody.includes(this.refuseMarker)) {
          failed.push({ Id: e.Id, SenderFault: true, Code: "InvalidParameterValue", Message: "refused by the test" });
          continue;
        }
        if (e.MessageBody.includes(this.throttleMarker)) {
          failed.push({ Id: e.Id, SenderFault: false, Code: "RequestThrottled", Message: "slow down" });
          continue;
        }
        if (fifo && (e.MessageGroupId === undefined || e.MessageDeduplicationId === undefined)) {
          failed.push({ Id: e.Id, SenderFault: true, Code: "MissingParameter", Message: "The request must contain the parameter MessageGroupId." });
          continue;
        }
        if (!fifo && e.MessageGroupId !== undefined && e.MessageDeduplicationId !== undefined) {
          failed.push({ Id: e.Id, SenderFault: true, Code: "InvalidParameterValue", Message: "MessageDeduplicationId is only for FIFO queues" });
          continue;
        }
        const md5 = createHash("md5").update(e.MessageBody, "utf8").digest("hex");
        ok.push({ Id: e.Id, MessageId: `msg-${q.length}`, MD5OfMessageBody: md5, ...(fifo ? { SequenceNumber: String(1e19 + q.length) } : {}) });
        if (fifo && this.dedup.has(e.MessageDeduplicationId ?? "")) continue;
        if (fifo) this.dedup.add(e.MessageDeduplicationId ?? "");
        q.push({
          body: e.MessageBody,
          attributes: e.MessageAttributes ?? {},
          ...(e.MessageGroupId !== undefined ? { groupId: e.MessageGroupId } : {}),
          ...(e.MessageDeduplicationId !== undefined ? { dedupId: e.MessageDeduplicationId } : {}),
        });
      }
      return { Successful: ok, Failed: failed };
    });
  }
}

// ---------------------------------------------------------------------------------------------

describe("SigV4 verification (the test server's own check)", () => {
  // the "get-vanilla" case of AWS's Signature Version 4 test suite
  const vanilla = {
    method: "GET",
    url: "/",
    body: Buffer.alloc(0),
    headers: {
      host: "example.amazonaws.com",
      "x-amz-date": "20150830T123600Z",
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
  };
  const key = [{ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" }];
  const at = Date.UTC(2015, 7, 30, 12, 36);

  it("accepts AWS's published example and refuses any change to it", () => {
    expect(verifySigV4(vanilla, key, at)).toEqual({ ok: true, accessKeyId: "AKIDEXAMPLE", region: "us-east-1", service: "service" });
    expect(verifySigV4({ ...vanilla, url: "/x" }, key, at).ok).toBe(false);
    expect(verifySigV4({ ...vanilla, body: Buffer.from("x") }, key, at).ok).toBe(false);
    expect(verifySigV4({ ...vanilla, headers: { ...vanilla.headers, host: "example.amazonaws.co" } }, key, at).ok).toBe(false);
    expect(verifySigV4(vanilla, [{ ...key[0], secretAccessKey: "wrong" } as TestCredentials], at)).toMatchObject({ ok: false, code: "SignatureDoesNotMatch" });
    expect(verifySigV4(vanilla, key, at + 16 * 60_000)).toMatchObject({ ok: false, code: "RequestTimeTooSkewed" });
  });
});

describe("AWS destinations", () => {
  let ep: AwsEndpoint;
  let logs: LogsModel;
  let hub: SecurityHubModel;
  let sns: SnsModel;
  let sqs: SqsModel;
  const topic = `arn:aws:sns:${REGION}:${ACCOUNT}:vigil-alerts`;
  const fifoTopic = `arn:aws:sns:${REGION}:${ACCOUNT}:vigil-alerts.fifo`;
  let queueUrl: string;
  let fifoQueueUrl: string;

  beforeAll(async () => {
    ep = await startAwsEndpoint({ region: REGION });
    queueUrl = `${ep.url}/${ACCOUNT}/vigil-alerts`;
    fifoQueueUrl = `${ep.url}/${ACCOUNT}/vigil-alerts.fifo`;
  });
  afterAll(async () => {
    await ep?.close();
  });
  beforeEach(() => {
    resetEnv(ep);
    ep.requests.length = 0;
    ep.rejections.length = 0;
    logs = new LogsModel();
    logs.groups.set("/vigil/alerts", new Map());
    logs.install(ep);
    hub = new SecurityHubModel();
    hub.install(ep);
    sns = new SnsModel([topic, fifoTopic]);
    sns.install(ep);
    sqs = new SqsModel();
    sqs.queues.set(`/${ACCOUNT}/vigil-alerts`, []);
    sqs.queues.set(`/${ACCOUNT}/vigil-alerts.fifo`, []);
    sqs.install(ep);
  });
  afterEach(() => {
    // every request the SDK made was signed right and spoke the service's protocol
    expect(ep.rejections).toEqual([]);
  });

  describe("cloudwatch_logs", () => {
    const cwl = (over: Record<string, unknown> = {}) =>
      make(createCloudwatchLogsDestination, { type: "cloudwatch_logs", log_group: "/vigil/alerts", log_stream: "node-a", ...over });

    it("creates the missing stream, then puts the alerts' Falco JSON in time order", async () => {
      const d = cwl();
      const base = Date.now() - 60_000;
      // the runner's order is the store's; the alerts' times are not in order
      const alerts = [2, 0, 1, 3].map((i) => makeAlert({ time: isoFromMs(base + i * 1000) }));
      alerts.push(hostileAlert({ time: isoFromMs(base + 4000) }));
      expect(await send(d, items(alerts))).toEqual({ failed: [] });
      expect(ep.requests.map((r) => `${r.service}:${r.operation}`)).toEqual(["logs:PutLogEvents", "logs:CreateLogStream", "logs:PutLogEvents"]);
      const stored = logs.groups.get("/vigil/alerts")?.get("node-a") ?? [];
      const want = [...alerts].sort((a, b) => a.time.localeCompare(b.time));
      expect(stored.map((e) => JSON.parse(e.message))).toEqual(want.map((a) => alertToFalcoJson(a)));
      expect(stored.map((e) => e.timestamp)).toEqual(want.map((a) => Date.parse(`${a.time.slice(0, 23)}Z`)));
      // the stream exists now: one request per batch
      await send(d, items([makeAlert()]));
      expect(ep.requests.at(-1)?.operation).toBe("PutLogEvents");
      expect(ep.requests).toHaveLength(4);
    });

    it("splits a batch over the request size and the 24-hour span; marks a grouped alert with its count", async () => {
      const d = cwl();
      const now = Date.now();
      const big = Array.from({ length: 10 }, (_, i) => ({ ...hugeAlert(), time: isoFromMs(now - 60_000 + i) }));
      const old = [makeAlert({ time: isoFromMs(now - 3 * 86_400_000) }), makeAlert({ time: isoFromMs(now - 2 * 86_400_000) })];
      const batch = items([...big, ...old]);
      batch.push({ seq: 99, alert: makeAlert({ time: isoFromMs(now - 30_000) }), count: 4 });
      expect(await send(d, batch)).toEqual({ failed: [] });
      // the two old ones (a day apart) in one request; the ten cut huge ones (over 1 MiB together) in two more
      const bytes = (req: { message: string }[]) => req.reduce((n, e) => n + Buffer.byteLength(e.message) + 26, 0);
      expect(logs.putRequests.map((r) => r.length)).toEqual([2, expect.any(Number), expect.any(Number)]);
      expect(bytes(logs.putRequests[1] ?? []) + bytes(logs.putRequests[2] ?? [])).toBeGreaterThan(1_048_576);
      for (const req of logs.putRequests) expect(bytes(req)).toBeLessThanOrEqual(1_048_576);
      const stored = logs.groups.get("/vigil/alerts")?.get("node-a") ?? [];
      expect(stored).toHaveLength(13);
      const bigOne = JSON.parse(stored.find((e) => e.message.includes(big[0]?.id ?? "?"))?.message ?? "{}");
      expect(bigOne).toMatchObject({ uuid: big[0]?.id, rule: big[0]?.rule, truncated: true });
      expect(JSON.parse(stored.at(-1)?.message ?? "{}")).toMatchObject({ uuid: batch.at(-1)?.alert.id, count: 4 });
    });

    it("refuses alerts older than 14 days for good, stamps one from a fast clock with the time of sending", async () => {
      const d = cwl();
      logs.groups.get("/vigil/alerts")?.set("node-a", []);
      const now = Date.now();
      const alerts = [makeAlert({ time: isoFromMs(now - 15 * 86_400_000) }), makeAlert(), makeAlert({ time: isoFromMs(now + 5 * 3_600_000) })];
      const out = await send(d, items(alerts));
      expect(out.failed).toEqual([{ index: 0, permanent: true, error: expect.stringContaining("older than 14 days") }]);
      const stored = logs.groups.get("/vigil/alerts")?.get("node-a") ?? [];
      expect(stored.map((e) => JSON.parse(e.message).uuid)).toEqual([alerts[1]?.id, alerts[2]?.id]);
      expect(JSON.parse(stored[1]?.message ?? "{}").time).toBe(alerts[2]?.time);
      expect(Math.abs((stored[1]?.timestamp ?? 0) - Date.now())).toBeLessThan(60_000);
    });

    it("errors: throttling retryable with Retry-After, 5xx retryable, validation permanent, access denied and a missing group retryable", async () => {
      const d = cwl();
      logs.groups.get("/vigil/alerts")?.set("node-a", []);
      const cases: [AwsServiceError, boolean, number | undefined][] = [
        [new AwsServiceError("ThrottlingException", "Rate exceeded", 400, { retryAfter: "7" }), false, 7000],
        [new AwsServiceError("ServiceUnavailableException", "try later", 503), false, undefined],
        [new AwsServiceError("InvalidParameterException", "bad event", 400), true, undefined],
        // the setup is refused, not the alert (destination.ts): retried with the error on show
        [new AwsServiceError("AccessDeniedException", "not authorized to perform logs:PutLogEvents", 403), false, undefined],
      ];
      for (const [answer, permanent, retryAfter] of cases) {
        ep.on("logs:PutLogEvents", () => answer);
        const err = await rejection(send(d, items([makeAlert()])));
        expect(err.permanent).toBe(permanent);
        expect(err.retryAfterMs).toBe(retryAfter);
        expect(err.status).toBe(answer.status);
        expect(err.message).toContain(answer.code);
        expect(err.message).toContain(answer.message);
        expect(err.message).not.toContain(TEST_CREDENTIALS.secretAccessKey);
      }
      logs.install(ep);
      const noGroup = cwl({ log_group: "/missing" });
      const err = await rejection(send(noGroup, items([makeAlert()])));
      expect(err.permanent).toBe(false);
      expect(err.message).toContain("The specified log group does not exist.");
    });
  });

  describe("securityhub", () => {
    const shub = (over: Record<string, unknown> = {}) => make(createSecurityhubDestination, { type: "securityhub", ...over });

    it("imports ASFF findings (account from DescribeHub); a re-import updates by ID instead of adding", async () => {
      const d = shub();
      const a = makeAlert({
        priority: "Critical",
        rule: "Terminal shell in container",
        tags: ["container", "mitre_execution", "T1059", "mitre_persistence"],
        fields: {
          "proc.name": "bash",
          "proc.pid": 4242,
          "proc.ppid": 1,
          "proc.exepath": "/bin/bash",
          "k8s.ns.name": "prod",
          "k8s.pod.name": "web-7",
          "container.id": "abcdef123456",
          "container.name": "web",
          "container.image.repository": "docker.io/library/nginx",
          "container.image.tag": "1.25",
        },
      });
      const batch: DeliveryItem[] = [
        { seq: 1, alert: a, count: 3 },
        ...items([hostileAlert(), makeAlert({ source: "k8s_audit", priority: "Debug", tags: [] })]),
      ];
      expect(await send(d, batch)).toEqual({ failed: [] });
      expect(ep.requests.map((r) => r.operation)).toEqual(["DescribeHub", "BatchImportFindings"]);
      expect(hub.findings.size).toBe(3);
      const f = hub.findings.get(a.id) as Record<string, unknown>;
      const t = new Date(Date.parse(`${a.time.slice(0, 23)}Z`)).toISOString();
      expect(f).toMatchObject({
        SchemaVersion: "2018-10-08",
        Id: a.id,
        ProductArn: `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`,
        GeneratorId: "Terminal shell in container",
        AwsAccountId: ACCOUNT,
        Title: "Terminal shell in container",
        Types: ["TTPs/Execution", "TTPs/Persistence"],
        CreatedAt: t,
        UpdatedAt: t,
        FirstObservedAt: t,
        Severity: { Label: "CRITICAL", Original: "Critical" },
        FindingProviderFields: { Severity: { Label: "CRITICAL", Original: "Critical" }, Types: ["TTPs/Execution", "TTPs/Persistence"] },
        Process: { Name: "bash", Pid: 4242, ParentPid: 1, Path: "/bin/bash" },
        ProductFields: expect.objectContaining({ "vigil/count": "3", "vigil/mitre_techniques": "T1059", "vigil/namespace": "prod" }),
      });
      expect(f["Description"]).toBe(`[×3] ${a.output}`);
      expect(f["Resources"]).toEqual([
        {
          Partition: "aws",
          Region: REGION,
          Type: "Container",
          Id: "abcdef123456",
          Details: { Container: { Name: "web", ImageName: "docker.io/library/nginx:1.25" } },
        },
        { Partition: "aws", Region: REGION, Type: "Other", Id: "k8s:pod/prod/web-7", Details: { Other: { namespace: "prod", pod: "web-7" } } },
        { Partition: "aws", Region: REGION, Type: "Other", Id: "k8s:node/node-a" },
      ]);
      expect(hub.findings.get(batch[2]?.alert.id ?? "")?.["Types"]).toEqual(["Unusual Behaviors/Application"]);
      expect(hub.findings.get(batch[1]?.alert.id ?? "")?.["Description"]).not.toMatch(/[\u0000-\u001f]/);

      // the runner resends a batch it could not confirm: the same IDs, nothing added
      expect(await send(d, batch)).toEqual({ failed: [] });
      expect(hub.findings.size).toBe(3);
      expect(ep.requests.filter((r) => r.operation === "DescribeHub")).toHaveLength(1);
    });

    it("maps every priority to a severity label and MITRE tags to types", () => {
      expect(PRIORITY_NAMES.map((p) => SEVERITY_LABEL[p])).toEqual([
        "CRITICAL",
        "CRITICAL",
        "CRITICAL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "INFORMATIONAL",
        "INFORMATIONAL",
      ]);
      expect(findingTypes(makeAlert({ tags: ["MITRE_Credential_Access", "mitre_exfiltration", "T1552"] }))).toEqual([
        "TTPs/Credential Access",
        "Effects/Data Exfiltration",
      ]);
      expect(findingTypes(makeAlert({ tags: ["network"] }))).toEqual(["Unusual Behaviors/Process"]);
    });

    it("account_id from the configuration (no DescribeHub); a finding Security Hub refuses fails alone, for good", async () => {
      const d = shub({ account_id: ACCOUNT, batch_size: 500 });
      expect(d.maxBatch).toBe(100);
      const bad = makeAlert();
      // the model refuses a finding whose title is blank once control characters are gone
      const blank = makeAlert({ rule: "\u0000\u0001" });
      const out = await send(d, items([makeAlert(), blank, bad]));
      expect(ep.requests.map((r) => r.operation)).toEqual(["BatchImportFindings"]);
      expect(out.failed).toEqual([{ index: 1, permanent: true, error: expect.stringContaining("InvalidInput: Finding does not adhere to ASFF") }]);
      expect(hub.findings.size).toBe(2);
    });

    it("errors: LimitExceededException (429) retryable, InvalidInputException permanent, not subscribed and AccessDenied retryable", async () => {
      const d = shub({ account_id: ACCOUNT });
      const cases: [AwsServiceError, boolean][] = [
        [new AwsServiceError("LimitExceededException", "Rate exceeded", 429, { retryAfter: "2" }), false],
        [new AwsServiceError("InternalException", "oops", 500), false],
        [new AwsServiceError("InvalidInputException", "Findings is invalid", 400), true],
        [new AwsServiceError("InvalidAccessException", "Account 123456789012 is not subscribed to AWS Security Hub", 401), false],
        [new AwsServiceError("AccessDeniedException", "not authorized", 403), false],
      ];
      for (const [answer, permanent] of cases) {
        ep.on("securityhub:BatchImportFindings", () => answer);
        const err = await rejection(send(d, items([makeAlert()])));
        expect([err.permanent, err.status]).toEqual([permanent, answer.status]);
        expect(err.message).toContain(answer.code);
        if (answer.opts.retryAfter !== undefined) expect(err.retryAfterMs).toBe(2000);
      }
    });
  });

  describe("sns", () => {
    const snsDest = (over: Record<string, unknown> = {}) => make(createSnsDestination, { type: "sns", topic_arn: topic, ...over });

    it("publishes the Falco JSON with priority/rule attributes and a subject, one alert per request", async () => {
      const d = snsDest();
      expect(d.maxBatch).toBe(1);
      const alerts = [makeAlert({ priority: "Error", rule: "Write below etc" }), hostileAlert()];
      for (const a of alerts) expect(await send(d, items([a]))).toEqual({ failed: [] });
      expect(sns.messages).toHaveLength(2);
      alerts.forEach((a, i) => {
        const m = sns.messages[i];
        expect(JSON.parse(m?.message ?? "{}")).toEqual(alertToFalcoJson(a));
        expect(m?.attributes["priority"]).toEqual({ type: "String", value: a.priority });
        expect(m?.attributes["rule"]?.type).toBe("String");
        expect(m?.subject).toBe(snsSubject(a.priority, a.rule));
        expect(m?.groupId).toBeUndefined();
      });
      expect(sns.messages[0]?.attributes["rule"]?.value).toBe("Write below etc");
      expect(sns.messages[1]?.attributes["rule"]?.value).toBe('Evil "rule" <b>x</b> \ufffe');
      expect(sns.messages[0]?.subject).toBe("[Error] Write below etc");
    });

    it("FIFO topic: MessageGroupId = forwarder, MessageDeduplicationId = alert ID, so a resend is dropped", async () => {
      const d = snsDest({ topic_arn: fifoTopic });
      const a = makeAlert();
      await send(d, items([a]));
      await send(d, items([a]));
      expect(sns.messages).toEqual([expect.objectContaining({ groupId: "aws-fw", dedupId: a.id })]);
    });

    it("a 1 MiB alert is cut to SNS's 256 KiB and says so", async () => {
      const d = snsDest();
      const a = hugeAlert();
      await send(d, items([a]));
      const body = JSON.parse(sns.messages[0]?.message ?? "{}");
      expect(body).toMatchObject({ uuid: a.id, truncated: true });
    });

    it("errors: Throttled retryable, InvalidParameter permanent, AuthorizationError and a missing topic retryable", async () => {
      const d = snsDest();
      const cases: [AwsServiceError, boolean][] = [
        [new AwsServiceError("Throttled", "Rate exceeded", 400), false],
        [new AwsServiceError("InternalError", "oops", 500), false],
        [new AwsServiceError("InvalidParameter", "Invalid parameter: Message", 400), true],
        [new AwsServiceError("AuthorizationError", "not authorized to perform SNS:Publish", 403), false],
      ];
      for (const [answer, permanent] of cases) {
        ep.on("sns:Publish", () => answer);
        const err = await rejection(send(d, items([makeAlert()])));
        expect([err.permanent, err.status]).toEqual([permanent, answer.status]);
        expect(err.message).toContain(answer.message);
      }
      sns.install(ep);
      const missing = snsDest({ topic_arn: `arn:aws:sns:${REGION}:${ACCOUNT}:nope` });
      const err = await rejection(send(missing, items([makeAlert()])));
      expect([err.permanent, err.status]).toEqual([false, 404]);
    });

    it("refuses a topic_arn that is not one", () => {
      expect(() => snsDest({ topic_arn: "vigil-alerts" })).toThrow("expected arn:aws:sns:REGION:ACCOUNT:TOPIC");
    });
  });

  describe("sqs", () => {
    const sqsDest = (over: Record<string, unknown> = {}) => make(createSqsDestination, { type: "sqs", queue_url: queueUrl, ...over });

    it("sends up to 10 alerts per SendMessageBatch with attributes; the SDK checks SQS's body MD5s", async () => {
      const d = sqsDest();
      expect(d.maxBatch).toBe(10);
      const alerts = Array.from({ length: 9 }, () => makeAlert());
      alerts.push(hostileAlert());
      expect(await send(d, items(alerts))).toEqual({ failed: [] });
      expect(ep.requests.map((r) => r.operation)).toEqual(["SendMessageBatch"]);
      expect(((ep.requests[0]?.input["Entries"] ?? []) as { Id: string }[]).map((e) => e.Id)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
      const q = sqs.queues.get(`/${ACCOUNT}/vigil-alerts`) ?? [];
      expect(q.map((m) => JSON.parse(m.body))).toEqual(alerts.map((a) => alertToFalcoJson(a)));
      expect(q[0]?.attributes).toEqual({ priority: { DataType: "String", StringValue: "Warning" }, rule: { DataType: "String", StringValue: "Test rule" } });
    });

    it("a wrong MD5 in SQS's answer fails the batch (retryable)", async () => {
      ep.on("sqs:SendMessageBatch", (r) => ({
        Successful: (r.input["Entries"] as { Id: string }[]).map((e) => ({ Id: e.Id, MessageId: "m", MD5OfMessageBody: "0".repeat(32) })),
        Failed: [],
      }));
      const err = await rejection(send(sqsDest(), items([makeAlert()])));
      expect(err.permanent).toBe(false);
      expect(err.message).toContain("MD5");
    });

    it("an entry SQS refuses fails alone: permanent when the sender is at fault, else retryable", async () => {
      sqs.refuseMarker = "REFUSE-ME";
      sqs.throttleMarker = "THROTTLE-ME";
      const d = sqsDest();
      const alerts = [makeAlert(), makeAlert({ output: "REFUSE-ME" }), makeAlert(), makeAlert({ output: "THROTTLE-ME" })];
      const out = await send(d, items(alerts));
      expect(out.failed).toEqual([
        { index: 1, permanent: true, error: expect.stringContaining("InvalidParameterValue: refused by the test") },
        { index: 3, permanent: false, error: expect.stringContaining("RequestThrottled") },
      ]);
      expect(sqs.queues.get(`/${ACCOUNT}/vigil-alerts`)).toHaveLength(2);
    });

    it("splits entries over 256 KiB per request; a 1 MiB alert is cut and says so", async () => {
      const d = sqsDest();
      const alerts = [hugeAlert(), hugeAlert(), makeAlert()];
      expect(await send(d, items(alerts))).toEqual({ failed: [] });
      // each cut huge one is over half of 256 KiB: one per request, the small one with the second
      expect(ep.requests.filter((r) => r.operation === "SendMessageBatch").map((r) => (r.input["Entries"] as unknown[]).length)).toEqual([1, 2]);
      const q = sqs.queues.get(`/${ACCOUNT}/vigil-alerts`) ?? [];
      expect(q.map((m) => JSON.parse(m.body).uuid)).toEqual(alerts.map((a) => a.id));
      expect(JSON.parse(q[0]?.body ?? "{}").truncated).toBe(true);
    });

    it("FIFO queue: group = forwarder, deduplication ID = alert ID, so a resend is dropped", async () => {
      const d = sqsDest({ queue_url: fifoQueueUrl });
      const alerts = [makeAlert(), makeAlert()];
      await send(d, items(alerts));
      await send(d, items(alerts));
      const q = sqs.queues.get(`/${ACCOUNT}/vigil-alerts.fifo`) ?? [];
      expect(q.map((m) => [m.groupId, m.dedupId])).toEqual(alerts.map((a) => ["aws-fw", a.id]));
    });

    it("errors: throttling, access denied and a missing queue retryable, validation permanent, the endpoint down retryable", async () => {
      const d = sqsDest();
      const cases: [AwsServiceError, boolean][] = [
        [new AwsServiceError("ThrottlingException", "Rate exceeded", 400, { queryCode: "ThrottlingException" }), false],
        [new AwsServiceError("InvalidParameterValue", "bad value", 400, { queryCode: "InvalidParameterValue" }), true],
        [new AwsServiceError("AccessDenied", "Access to the resource is denied.", 403, { queryCode: "AccessDenied" }), false],
      ];
      for (const [answer, permanent] of cases) {
        ep.on("sqs:SendMessageBatch", () => answer);
        const err = await rejection(send(d, items([makeAlert()])));
        expect([err.permanent, err.status]).toEqual([permanent, answer.status]);
      }
      sqs.install(ep);
      const missing = sqsDest({ queue_url: `${ep.url}/${ACCOUNT}/nope` });
      const e1 = await rejection(send(missing, items([makeAlert()])));
      expect(e1.permanent).toBe(false);
      expect(e1.message).toContain("The specified queue does not exist.");

      const down = await startAwsEndpoint({ region: REGION });
      const url = down.url;
      await down.close();
      process.env["AWS_ENDPOINT_URL_SQS"] = url;
      const e2 = await rejection(send(sqsDest({ queue_url: `${url}/${ACCOUNT}/vigil-alerts` }), items([makeAlert()])));
      expect(e2.permanent).toBe(false);
      expect(e2.message).toMatch(/ECONNREFUSED/);
    });
  });

  describe("credentials", () => {
    it("a wrong secret is refused by the signature check (retryable: the setup, not the alert), and the error does not show the secret", async () => {
      const wrong = { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: "Wrong-Secret-Key-0123456789abcdefghijklmn" };
      resetEnv(ep, wrong);
      const d = make(createSqsDestination, { type: "sqs", queue_url: queueUrl });
      const err = await rejection(send(d, items([makeAlert()])));
      expect(err.permanent).toBe(false);
      expect(err.status).toBe(403);
      expect(err.message).toContain("SignatureDoesNotMatch");
      expect(err.message).not.toContain(wrong.secretAccessKey);
      expect(ep.rejections).toHaveLength(1);
      ep.rejections.length = 0;
    });

    it("no credentials anywhere: a retryable error that says so", async () => {
      resetEnv(ep, null);
      const d = make(createSqsDestination, { type: "sqs", queue_url: queueUrl });
      const err = await rejection(send(d, items([makeAlert()])));
      expect(err.permanent).toBe(false);
      expect(err.message).toMatch(/credential/i);
      expect(ep.requests).toHaveLength(0);
    });
  });

  describe("TLS to the endpoint", () => {
    it("verified against tls.ca_file; without it the certificate is refused (retryable)", async () => {
      const dir = tmp("vigil-aws-tls-");
      const pki = makeTestTls(join(dir, "pki"), ["localhost"]);
      writeFileSync(join(dir, "ca.crt"), pki["ca.crt"]);
      const tls = await startAwsEndpoint({ region: REGION, tls: { cert: pki["tls.crt"], key: pki["tls.key"] } });
      cleanups.push(() => tls.close());
      const model = new SqsModel();
      model.queues.set(`/${ACCOUNT}/secure`, []);
      model.install(tls);
      process.env["AWS_ENDPOINT_URL_SQS"] = tls.url;
      const queue = `${tls.url}/${ACCOUNT}/secure`;
      const d = make(createSqsDestination, { type: "sqs", queue_url: queue, tls: { ca_file: join(dir, "ca.crt") } });
      expect(await send(d, items([makeAlert()]))).toEqual({ failed: [] });
      expect(model.queues.get(`/${ACCOUNT}/secure`)).toHaveLength(1);
      const unverified = make(createSqsDestination, { type: "sqs", queue_url: queue });
      const err = await rejection(send(unverified, items([makeAlert()])));
      expect(err.permanent).toBe(false);
      expect(err.message).toMatch(/certificate/i);
      expect(tls.rejections).toEqual([]);
    });
  });
});

describe("credentials from the default chain on EKS", () => {
  const roleCreds: TestCredentials = {
    accessKeyId: "ASIAVIGILIRSA0000001",
    secretAccessKey: "irsa/Secret0123456789abcdefGHIJKLMNOPQR",
    sessionToken: "irsa-session-token-xyz",
  };
  const podCreds: TestCredentials = {
    accessKeyId: "ASIAVIGILPODID000001",
    secretAccessKey: "podid/Secret0123456789abcdefGHIJKLMNOPQ",
    sessionToken: "pod-identity-session-token",
  };

  it("IRSA: the projected token is exchanged with STS AssumeRoleWithWebIdentity; requests are signed with the role's session", async () => {
    const dir = tmp("vigil-aws-irsa-");
    writeFileSync(join(dir, "token"), "eyJhbGciOi.projected-sa-token.sig");
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/vigil-forwarder`;
    const ep = await startAwsEndpoint({
      region: REGION,
      credentials: [],
      webIdentity: { token: "eyJhbGciOi.projected-sa-token.sig", roleArn, credentials: roleCreds },
    });
    cleanups.push(() => ep.close());
    const model = new SqsModel();
    model.queues.set(`/${ACCOUNT}/q`, []);
    model.install(ep);
    resetEnv(ep, null);
    Object.assign(process.env, { AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "token"), AWS_ROLE_ARN: roleArn, AWS_ROLE_SESSION_NAME: "vigil" });
    const d = make(createSqsDestination, { type: "sqs", queue_url: `${ep.url}/${ACCOUNT}/q` });
    expect(await send(d, items([makeAlert()]))).toEqual({ failed: [] });
    expect(ep.rejections).toEqual([]);
    expect(ep.credentialRequests).toEqual(["web-identity"]);
    expect(ep.requests.map((r) => [r.operation, r.accessKeyId, r.headers["x-amz-security-token"]])).toEqual([
      ["SendMessageBatch", roleCreds.accessKeyId, roleCreds.sessionToken],
    ]);
  });

  it("EKS Pod Identity: the container credentials endpoint with the projected token; requests signed with those credentials", async () => {
    const dir = tmp("vigil-aws-podid-");
    writeFileSync(join(dir, "token"), "pod-identity-projected-token");
    const ep = await startAwsEndpoint({
      region: REGION,
      credentials: [],
      containerCredentials: { token: "pod-identity-projected-token", credentials: podCreds, accountId: ACCOUNT },
    });
    cleanups.push(() => ep.close());
    const model = new LogsModel();
    model.groups.set("g", new Map([["s", []]]));
    model.install(ep);
    resetEnv(ep, null);
    Object.assign(process.env, {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${ep.url}/pod-identity/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, "token"),
    });
    const d = make(createCloudwatchLogsDestination, { type: "cloudwatch_logs", log_group: "g", log_stream: "s" });
    expect(await send(d, items([makeAlert()]))).toEqual({ failed: [] });
    expect(ep.rejections).toEqual([]);
    expect(ep.credentialRequests).toEqual(["container"]);
    expect(ep.requests.map((r) => [r.operation, r.accessKeyId, r.headers["x-amz-security-token"]])).toEqual([
      ["PutLogEvents", podCreds.accessKeyId, podCreds.sessionToken],
    ]);
    expect(model.groups.get("g")?.get("s")).toHaveLength(1);
  });
});

describe("aws.ts helpers", () => {
  it("boundedFalcoJson keeps small alerts whole and cuts large ones to the limit, as valid JSON", () => {
    const a = hostileAlert();
    expect(JSON.parse(boundedFalcoJson({ seq: 1, alert: a, count: 1 }, 256 * 1024))).toEqual(alertToFalcoJson(a));
    const huge = hugeAlert();
    for (const limit of [256 * 1024, 64 * 1024, 8 * 1024, 2048]) {
      const s = boundedFalcoJson({ seq: 1, alert: huge, count: 2 }, limit);
      expect(Buffer.byteLength(s)).toBeLessThanOrEqual(limit);
      expect(JSON.parse(s)).toMatchObject({ uuid: huge.id, rule: huge.rule, priority: huge.priority, time: huge.time, count: 2, truncated: true });
    }
    // U+FFFE is escaped (SQS refuses it raw), the JSON still reads back the same
    const nc = makeAlert({ output: "a\ufffeb" });
    const s = boundedFalcoJson({ seq: 1, alert: nc, count: 1 }, 4096);
    expect(s).toContain("\\ufffe");
    expect(JSON.parse(s).output).toBe("a\ufffeb");
  });

  it.each([
    [{ name: "ThrottlingException", $metadata: { httpStatusCode: 400 } }, false],
    [{ name: "SomethingElse", $metadata: { httpStatusCode: 429 } }, false],
    [{ name: "Anything", $metadata: { httpStatusCode: 400 }, $retryable: { throttling: true } }, false],
    [{ name: "InternalFailure", $metadata: { httpStatusCode: 500 } }, false],
    [{ name: "ExpiredTokenException", $metadata: { httpStatusCode: 400 } }, false],
    [{ name: "ValidationException", $metadata: { httpStatusCode: 400 } }, true],
    [{ name: "AccessDeniedException", $metadata: { httpStatusCode: 403 } }, false],
    [{ name: "ResourceNotFoundException", $metadata: { httpStatusCode: 400 } }, false],
    [{ name: "InvalidParameterException", $metadata: { httpStatusCode: 400 } }, true],
    [{ name: "TimeoutError" }, false],
    [{ name: "CredentialsProviderError", message: "Could not load credentials from any providers" }, false],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), false],
  ])("awsDeliveryError(%j).permanent = %s", (err, permanent) => {
    expect(awsDeliveryError("op", err).permanent).toBe(permanent);
  });

  it("awsDeliveryError takes Retry-After from the raw response", () => {
    const e = awsDeliveryError("op", {
      name: "ThrottlingException",
      message: "slow",
      $metadata: { httpStatusCode: 400 },
      $response: { headers: { "retry-after": "12" } },
    });
    expect(e.retryAfterMs).toBe(12_000);
    expect(e.message).toBe("op: ThrottlingException (HTTP 400): slow");
  });
});
