// SPDX-License-Identifier: Apache-2.0
/**
 * Forwarders: the collector delivers stored alerts to where teams look (chat, paging, SIEM, log
 * stores, AWS), each forwarder with its own persistent cursor in the store. This is the
 * configuration contract (`forwarders:` of `vigil collector --config FILE`): common settings
 * (filters, batching, retries, noise control, TLS) plus each destination type's own.
 *
 * Secrets (tokens, passwords, routing keys, webhook URLs with a key in them) come from a file
 * (`*_file`, a mounted Secret) or an environment variable (`*_env`, its name), never inline;
 * `url` may be given as `url_file`/`url_env` for destinations whose URL is the secret (Slack,
 * Teams).
 */
import { z } from "zod";
import { PRIORITY_WORDS } from "./priority.js";

const glob = z.string().min(1).max(256);
/** `<name>_file` (a file holding the secret) and `<name>_env` (the name of a variable holding it). */
function secret<N extends string>(name: N): { [K in `${N}_file` | `${N}_env`]: z.ZodDefault<z.ZodString> } {
  return { [`${name}_file`]: z.string().max(4096).default(""), [`${name}_env`]: z.string().max(256).default("") } as {
    [K in `${N}_file` | `${N}_env`]: z.ZodDefault<z.ZodString>;
  };
}
const httpUrl = z
  .string()
  .max(2048)
  .refine((s) => s === "" || /^https?:\/\/[^\s]+$/.test(s), "expected an http:// or https:// URL");

/** Settings every forwarder has. */
const common = {
  /** Unique; names the cursor, the metrics and the dead letters. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "lowercase letters, digits, - and _ (at most 63)"),
  enabled: z.boolean().default(true),
  /** Only alerts at least this severe. */
  min_priority: z.enum(PRIORITY_WORDS as unknown as [string, ...string[]]).optional(),
  /** Only alerts of these rules (`*` globs); empty = all. */
  rules: z.array(glob).max(256).default([]),
  /** Only alerts carrying at least one of these tags; empty = all. */
  tags: z.array(z.string().min(1).max(128)).max(256).default([]),
  /** Only alerts of these Kubernetes namespaces (`*` globs); empty = all. */
  namespaces: z.array(glob).max(256).default([]),
  /** Only alerts of these sources (`syscall`, `k8s_audit`...; `*` globs); empty = all. */
  sources: z.array(glob).max(64).default([]),
  /** Where a new forwarder starts: alerts stored from now on (`end`) or every stored alert (`beginning`). */
  start: z.enum(["end", "beginning"]).default("end"),
  /** Most alerts per request (destinations with a batch API); 0 = the destination's default. */
  batch_size: z.number().int().min(0).max(10_000).default(0),
  /** Backoff between retries: doubled from min up to max, with jitter; a Retry-After wins when longer. */
  retry_min_ms: z.number().int().min(10).max(600_000).default(500),
  retry_max_ms: z.number().int().min(10).max(3_600_000).default(60_000),
  /** One request's deadline. */
  timeout_ms: z.number().int().min(100).max(300_000).default(10_000),
  /** Messages per minute at most (alerts wait, none is dropped); 0 = no limit. */
  rate_limit_per_minute: z.number().int().min(0).max(1_000_000).default(0),
  /** Repeats of the same rule in the same container within this window become one message with a count; 0 = off. */
  group_window_seconds: z.number().int().min(0).max(86_400).default(0),
  /** TLS to the destination: a CA bundle to verify it, a client certificate and key (mutual TLS). */
  tls: z
    .strictObject({
      ca_file: z.string().default(""),
      cert_file: z.string().default(""),
      key_file: z.string().default(""),
    })
    .prefault({}),
};

/** Chat message template: `{{rule}}`, `{{priority}}`, `{{output}}`, `{{node}}`, `{{namespace}}`, `{{pod}}`, `{{container}}`, `{{time}}`, `{{id}}`, `{{count}}`, `{{link}}`; empty = the built-in layout. */
const template = z.string().max(4096).default("");
/** Base URL of the collector as users reach it (links to an alert in chat messages); empty = no link. */
const collectorUrl = httpUrl.default("");

export const forwarderSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...common, type: z.literal("slack"), url: httpUrl.default(""), ...secret("url"), template, collector_url: collectorUrl }),
  z.strictObject({ ...common, type: z.literal("teams"), url: httpUrl.default(""), ...secret("url"), template, collector_url: collectorUrl }),
  z.strictObject({
    ...common,
    type: z.literal("webhook"),
    url: httpUrl.default(""),
    ...secret("url"),
    /** Extra request headers (not secrets: use token_*). */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(1024)).default({}),
    /** `Authorization: Bearer <token>`. */
    ...secret("token"),
    /** HMAC-SHA256 of the body with this key, hex, in `signature_header` (`sha256=<hex>`). */
    ...secret("hmac_key"),
    signature_header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/)
      .default("X-Vigil-Signature"),
    /** One alert per request (Falco's http_output shape) or a JSON array per batch. */
    mode: z.enum(["single", "batch"]).default("single"),
  }),
  z.strictObject({
    ...common,
    type: z.literal("alertmanager"),
    /** Base URL; alerts go to `<url>/api/v2/alerts`. */
    url: httpUrl.default(""),
    user: z.string().default(""),
    ...secret("password"),
    ...secret("token"),
    /** `endsAt` = alert time + this (Alertmanager resolves it then). */
    resolve_after_seconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .default(3600),
    /** Extra labels on every alert. */
    labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/), z.string().max(256)).default({}),
    collector_url: collectorUrl,
  }),
  z.strictObject({
    ...common,
    type: z.literal("pagerduty"),
    url: httpUrl.default("https://events.pagerduty.com/v2/enqueue"),
    ...secret("routing_key"),
    collector_url: collectorUrl,
  }),
  z.strictObject({
    ...common,
    type: z.literal("loki"),
    /** Base URL; pushes go to `<url>/loki/api/v1/push`. */
    url: httpUrl.default(""),
    user: z.string().default(""),
    ...secret("password"),
    ...secret("token"),
    /** `X-Scope-OrgID`. */
    tenant: z.string().max(256).default(""),
    /** Extra stream labels. */
    labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/), z.string().max(256)).default({}),
  }),
  z.strictObject({
    ...common,
    type: z.literal("elasticsearch"),
    /** Base URL (Elasticsearch or OpenSearch); bulk requests go to `<url>/_bulk`. */
    url: httpUrl.default(""),
    /** Index per day: `<index_prefix>-YYYY.MM.DD`. */
    index_prefix: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,200}$/)
      .default("vigil-alerts"),
    user: z.string().default(""),
    ...secret("password"),
    ...secret("api_key"),
  }),
  z.strictObject({
    ...common,
    type: z.literal("syslog"),
    /** `HOST:PORT` of the syslog server. */
    address: z.string().min(1).max(300),
    protocol: z.enum(["udp", "tcp", "tls"]).default("tcp"),
    facility: z.number().int().min(0).max(23).default(4),
    app_name: z
      .string()
      .regex(/^[!-~]{1,48}$/)
      .default("vigil"),
  }),
  z.strictObject({
    ...common,
    type: z.literal("nats"),
    /** `nats://HOST:PORT[,...]`. */
    servers: z.string().min(1).max(2048),
    /** Subject `<subject_prefix>.<priority>` (lowercase priority). */
    subject_prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9_-]{1,32}){0,3}$/)
      .default("vigil.forward"),
    user: z.string().default(""),
    ...secret("password"),
    ...secret("token"),
  }),
  z.strictObject({
    ...common,
    type: z.literal("cloudwatch_logs"),
    region: z.string().default(""),
    log_group: z.string().min(1).max(512),
    log_stream: z.string().min(1).max(512),
  }),
  z.strictObject({
    ...common,
    type: z.literal("securityhub"),
    region: z.string().default(""),
    account_id: z
      .string()
      .regex(/^\d{12}$/)
      .optional(),
  }),
  z.strictObject({ ...common, type: z.literal("sns"), region: z.string().default(""), topic_arn: z.string().min(1).max(512) }),
  z.strictObject({ ...common, type: z.literal("sqs"), region: z.string().default(""), queue_url: httpUrl.refine((s) => s !== "", "required") }),
]);
export type ForwarderConfig = z.infer<typeof forwarderSchema>;
export type ForwarderType = ForwarderConfig["type"];

/** The `forwarders:` list: names unique. */
export const forwardersSchema = z
  .array(forwarderSchema)
  .max(64)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate forwarder name "${f.name}"` });
      seen.add(f.name);
    });
  });

/** A forwarder of one type (for destination modules). */
export type ForwarderOf<T extends ForwarderType> = Extract<ForwarderConfig, { type: T }>;
