// SPDX-License-Identifier: Apache-2.0
/**
 * What the AWS destinations (cloudwatch_logs, securityhub, sns, sqs) share: the SDK v3 client
 * options, SDK errors as {@link DeliveryError}s, and the alert's Falco JSON bounded to a service's
 * size limit.
 *
 * Credentials come from the SDK's default provider chain, never from the forwarder's settings:
 * environment variables, the shared config files, web identity (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE
 * and AWS_ROLE_ARN), the container credentials endpoint (EKS Pod Identity, ECS), then the instance
 * metadata service. https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/setting-credentials-node.html
 * The region is the forwarder's `region`, else one the destination reads off its ARN or queue URL,
 * else the SDK's (AWS_REGION, the profile). The endpoint is the SDK's, which honours
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (the tests point those at a local server; so can
 * a user, for VPC endpoints or a proxy). https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 *
 * The SDK makes one attempt per send (`maxAttempts: 1`): the forwarder's runner owns retries,
 * backoff and Retry-After, and a second retry loop underneath would multiply its waits.
 */
import { readFileSync } from "node:fs";
import { Agent as HttpsAgent } from "node:https";
import type { Logger } from "pino";
import { alertToFalcoJson } from "../../proto/index.js";
import { DeliveryError, type DeliveryItem, permanentStatus, retryAfterMs } from "./destination.js";
import { alertTime } from "./format.js";
import type { TlsFiles } from "./http.js";

/** Error codes AWS services use for throttling (retryable whatever the status). */
const THROTTLING_CODES = new Set([
  "BandwidthLimitExceeded",
  "LimitExceededException",
  "PriorRequestNotComplete",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "Throttled",
  "ThrottledException",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "TransactionInProgressException",
]);

/**
 * 400 codes that say nothing against the alert: credentials that expired or a clock that drifted
 * (the SDK corrects its offset after such an answer), a request that timed out, and a destination
 * that does not exist (yet): a log group, a queue, a topic, Security Hub not enabled. AWS's JSON
 * protocols answer most of these with 400, so the status alone (401/403/404 are retried too)
 * does not catch them; dead-lettering every alert
 * until someone fixes the setup would be worse than waiting with the error on show.
 */
const RETRYABLE_4XX_CODES = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "RequestExpired",
  "RequestInTheFuture",
  "RequestTimeTooSkewed",
  "RequestTimeout",
  "RequestTimeoutException",
  "ResourceNotFoundException",
  "NotFound",
  "NotFoundException",
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
  "InvalidAccessException",
]);

const WHITESPACE_RE = /\s+/g;

/** 401/403/404: the keys, the policy or the resource are refused, not the alert. */
const SETUP_STATUSES = new Set([401, 403, 404]);

/** Whether an AWS error code names throttling. */
export function isThrottlingCode(code: string): boolean {
  return THROTTLING_CODES.has(code);
}

/** The shape of the SDK's errors (ServiceException and the network/credential errors). */
interface SdkErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $fault?: "client" | "server";
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  $response?: { headers?: Record<string, string | undefined> };
}

/** A header of the SDK's raw response (names are lower case there, but not always). */
function header(h: Record<string, string | undefined> | undefined, name: string): string | undefined {
  if (h === undefined) return undefined;
  for (const k of Object.keys(h)) if (k.toLowerCase() === name) return h[k];
  return undefined;
}

/**
 * An SDK error as a DeliveryError: throttling, 5xx, network failures, timeouts, missing or
 * expired credentials, access denied and unknown keys or resources (401/403/404: the setup is
 * refused, not the alert) and the codes above are retryable, with the service's
 * Retry-After when it sent one; other 4xx (validation, too large, bad content) are permanent. The
 * message names the operation, the error code and status and the service's text; it never holds
 * credentials (the SDK's messages do not, and no request header is quoted).
 */
export function awsDeliveryError(what: string, err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const code = e.name ?? "Error";
  const status = e.$metadata?.httpStatusCode;
  const throttled = status === 429 || e.$retryable?.throttling === true || THROTTLING_CODES.has(code);
  const permanent = !throttled && status !== undefined && permanentStatus(status) && !SETUP_STATUSES.has(status) && !RETRYABLE_4XX_CODES.has(code);
  const text = (typeof e.message === "string" ? e.message : "").replace(WHITESPACE_RE, " ").slice(0, 400);
  const net = e.code !== undefined && e.code !== code ? ` ${e.code}` : "";
  return new DeliveryError(`${what}: ${code}${net}${status !== undefined ? ` (HTTP ${status})` : ""}${text !== "" ? `: ${text}` : ""}`, {
    permanent,
    retryAfterMs: retryAfterMs(header(e.$response?.headers, "retry-after")),
    status,
    cause: err,
  });
}

/** The options every AWS client of a forwarder gets. */
export interface AwsClientOptions {
  region?: string;
  maxAttempts: number;
  requestHandler: Record<string, unknown>;
  logger: { debug(...a: unknown[]): void; info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
}

function readTls(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`tls.${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

/**
 * SDK client options for a forwarder: region (`region`, else `regionHint`, else the SDK's own
 * resolution), one attempt, the forwarder's deadline, a keep-alive agent with the forwarder's TLS
 * files (a CA bundle for a proxy or private endpoint, a client certificate), and the SDK's own
 * log lines at debug level (warnings at warn).
 */
export function awsClientOptions(cfg: { region: string; timeout_ms: number; tls: TlsFiles }, log: Logger, regionHint = ""): AwsClientOptions {
  const t = cfg.tls;
  if ((t.cert_file === "") !== (t.key_file === "")) throw new Error("tls.cert_file and tls.key_file go together");
  const agent = new HttpsAgent({
    keepAlive: true,
    maxSockets: 8,
    ...(t.ca_file !== "" ? { ca: readTls(t.ca_file, "ca_file") } : {}),
    ...(t.cert_file !== "" ? { cert: readTls(t.cert_file, "cert_file"), key: readTls(t.key_file, "key_file") } : {}),
  });
  const region = cfg.region !== "" ? cfg.region : regionHint;
  return {
    ...(region !== "" ? { region } : {}),
    maxAttempts: 1,
    requestHandler: {
      httpsAgent: agent,
      connectionTimeout: Math.min(cfg.timeout_ms, 10_000),
      requestTimeout: cfg.timeout_ms,
      throwOnRequestTimeout: true,
    },
    logger: {
      debug: (...a: unknown[]) => log.debug({ sdk: a.map(String).join(" ").slice(0, 1000) }, "aws sdk"),
      info: (...a: unknown[]) => log.debug({ sdk: a.map(String).join(" ").slice(0, 1000) }, "aws sdk"),
      warn: (...a: unknown[]) => log.warn({ sdk: a.map(String).join(" ").slice(0, 1000) }, "aws sdk warning"),
      error: (...a: unknown[]) => log.warn({ sdk: a.map(String).join(" ").slice(0, 1000) }, "aws sdk error"),
    },
  };
}

// JSON.stringify leaves these noncharacters as they are; SQS (and XML-based consumers) refuse them
const NONCHARACTER_RE = /[\ufffe\uffff]/g;
const escapeNonchar = (c: string) => `\\u${c.charCodeAt(0).toString(16)}`;

/** Caps tried in turn on every string of the alert (characters) until its JSON fits. */
const STRING_CAPS = [16_384, 4096, 1024, 256, 64] as const;

function capString(s: string, cap: number): string {
  return s.length <= cap ? s : `${s.slice(0, cap)}…`;
}

/**
 * The alert's Falco JSON (plus `count` when repeats were grouped) in at most `maxBytes` UTF-8
 * bytes. A larger one keeps its keys, ID, rule, priority and time, and has its output, field
 * values and tags cut (each string to 16 KiB, then less) with `"truncated": true`; at the last,
 * the fields are dropped.
 */
export function boundedFalcoJson(item: DeliveryItem, maxBytes: number): string {
  const o = alertToFalcoJson(item.alert);
  if (item.count > 1) o["count"] = item.count;
  const within = (x: Record<string, unknown>) => {
    const s = JSON.stringify(x).replace(NONCHARACTER_RE, escapeNonchar);
    return Buffer.byteLength(s, "utf8") <= maxBytes ? s : undefined;
  };
  const whole = within(o);
  if (whole !== undefined) return whole;
  const a = item.alert;
  for (const cap of STRING_CAPS) {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a.output_fields)) fields[capString(k, 256)] = typeof v === "string" ? capString(v, cap) : v;
    const s = within({ ...o, output: capString(a.output, cap), output_fields: fields, tags: a.tags.map((t) => capString(t, cap)), truncated: true });
    if (s !== undefined) return s;
  }
  const bare = within({ ...o, output: capString(a.output, 1024), output_fields: {}, tags: a.tags.slice(0, 16).map((t) => capString(t, 64)), truncated: true });
  if (bare !== undefined) return bare;
  // only a limit far below any service's would get here
  throw new DeliveryError(`alert ${a.id} does not fit in ${maxBytes} bytes even without its fields`, { permanent: true });
}

const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const controlToSpace = (c: string) => (c === "\n" || c === "\r" || c === "\t" || c === "\u2028" || c === "\u2029" ? " " : "");

/** A string without control characters (line breaks become spaces), at most `max` characters, `…` when cut. */
export function plainText(s: string, max: number): string {
  const clean = s.replace(CONTROL_RE, controlToSpace);
  return clean.length <= max ? clean : `${clean.slice(0, Math.max(0, max - 1))}…`;
}

/** Epoch milliseconds of an alert time; now when it is unreadable (a stored alert's never is). */
export function alertTimeMs(time: string): number {
  return alertTime(time)?.ms ?? Date.now();
}
