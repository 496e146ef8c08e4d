// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's Falco-style output channels and their shared format options (Vigil's own names;
 * `vigil agent --falco-config falco.yaml` maps Falco's keys onto them, agent/config/falco-yaml.ts):
 *
 * - `output:` how an alert is rendered for every output (Falco's `json_output`,
 *   `json_include_*_property`, `time_format_iso_8601`), the suggested fields and `append_output`
 *   entries, and the per-output queue (`outputs_queue.capacity`, `output_timeout`, `buffered_outputs`);
 * - `sinks.file`, `sinks.program`, `sinks.syslog`, `sinks.http`, `sinks.grpc`: Falco's
 *   `file_output`, `program_output`, `syslog_output`, `http_output`, `grpc` + `grpc_output`.
 *
 * Each output is its own sink with a bounded queue: a slow or dead one never holds up the event
 * path or the others (agent/sinks/outputs/).
 */
import { z } from "zod";
import { appendOutputSchema } from "../engine/append-output-schema.js";

const absPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => s.startsWith("/"), "must be an absolute path");
const optionalFile = z.string().max(4096).default("");

/** Falco's format options, shared by every output. */
export const outputSchema = z.strictObject({
  /** Alerts as Falco's JSON object instead of Falco's text line (`json_output`). */
  json: z.boolean().default(false),
  /** JSON carries `output`, the formatted text (`json_include_output_property`). */
  json_include_output_property: z.boolean().default(true),
  /** JSON carries `tags` (`json_include_tags_property`). */
  json_include_tags_property: z.boolean().default(true),
  /** JSON carries `message`, the output without its time and priority prefix (`json_include_message_property`). */
  json_include_message_property: z.boolean().default(false),
  /** JSON carries `output_fields` (`json_include_output_fields_property`). */
  json_include_output_fields_property: z.boolean().default(true),
  /** The text line's time as ISO 8601 instead of the time of day (`time_format_iso_8601`). */
  time_format_iso_8601: z.boolean().default(false),
  /**
   * Falco 0.44's suggested fields (`append_output: - suggested_output: true`): the container and
   * Kubernetes fields appended to every rule's output and output_fields.
   */
  suggested_fields: z.boolean().default(true),
  /** `append_output` entries (agent/engine): extra text and fields for the rules they match. */
  append: appendOutputSchema.default([]),
  /** Alerts waiting per output; past it the oldest is dropped and counted (`outputs_queue.capacity`, bounded here). */
  queue_capacity: z.number().int().min(1).max(10_000_000).default(10_000),
  /** One write or request of an output before it counts as failed, ms (`output_timeout`). */
  timeout_ms: z.number().int().min(10).max(600_000).default(2000),
  /** Flush file and program outputs per batch rather than per alert (`buffered_outputs`). */
  buffered: z.boolean().default(false),
});

/** `file_output`: alerts appended to a file. */
export const fileSinkSchema = z.strictObject({
  enabled: z.boolean().default(false),
  filename: absPath.default("/var/log/vigil/events.txt"),
  /** Keep the file open between alerts (else opened and closed per batch, so rotation is seen at once). */
  keep_alive: z.boolean().default(false),
});

/** `program_output`: alerts written to a program's stdin, one per line. */
export const programSinkSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** argv: the program and its arguments, run without a shell. */
  program: z.array(z.string().min(1).max(4096)).max(256).default([]),
  /** One long-lived process (restarted if it dies) instead of one per batch. */
  keep_alive: z.boolean().default(false),
});

/** `syslog_output`: RFC 5424 to the local socket, or (Vigil's extension) to a remote server. */
export const syslogSinkSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Empty: the local socket (/dev/log); unix:///PATH another local socket; else udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (RFC 5424). */
  address: z.string().max(1024).default(""),
  /** On a local socket: `local` is what syslog(3) (and Falco) writes, which rsyslog's system socket parses; `rfc5424` for readers that parse it. */
  format: z.enum(["local", "rfc5424"]).default("local"),
  facility: z.number().int().min(0).max(23).default(1),
  ca_file: optionalFile,
  cert_file: optionalFile,
  key_file: optionalFile,
});

/** `http_output`: each alert POSTed (Falco's JSON, or its text line). */
export const httpSinkSchema = z.strictObject({
  enabled: z.boolean().default(false),
  url: z.string().max(4096).default(""),
  user_agent: z.string().max(256).default("vigil"),
  headers: z.record(z.string().min(1).max(256), z.string().max(8192)).default({}),
  /** Skip verifying the server's certificate (Falco's `insecure`). */
  insecure: z.boolean().default(false),
  ca_cert: optionalFile,
  ca_bundle: optionalFile,
  ca_path: z.string().max(4096).default(""),
  /** Present client_cert/client_key (Falco's `mtls`). */
  mtls: z.boolean().default(false),
  client_cert: optionalFile,
  client_key: optionalFile,
  /** gzip the request bodies (`compress_uploads`). */
  compress_uploads: z.boolean().default(false),
  keep_alive: z.boolean().default(false),
  /** Print the server's answers on stdout (`echo`). */
  echo: z.boolean().default(false),
  /** Timeouts in a row after which the output pauses and logs (`max_consecutive_timeouts`). */
  max_consecutive_timeouts: z.number().int().min(1).max(1_000_000).default(5),
  retry_min_ms: z.number().int().min(10).max(600_000).default(500),
  retry_max_ms: z.number().int().min(10).max(3_600_000).default(30_000),
});

/** `grpc` + `grpc_output`: Falco's gRPC outputs API served (agent/sinks/falco-outputs-server.ts). */
export const grpcSinkSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** unix:///run/vigil/vigil.sock, or HOST:PORT (then tls is required). */
  address: z.string().max(1024).default("unix:///run/vigil/vigil.sock"),
  tls: z
    .strictObject({
      key_file: optionalFile,
      cert_file: optionalFile,
      ca_file: optionalFile,
    })
    .prefault({}),
});

export type OutputConfig = z.output<typeof outputSchema>;
export type FileSinkConfig = z.output<typeof fileSinkSchema>;
export type ProgramSinkConfig = z.output<typeof programSinkSchema>;
export type SyslogSinkConfig = z.output<typeof syslogSinkSchema>;
export type HttpSinkConfig = z.output<typeof httpSinkSchema>;
export type GrpcSinkConfig = z.output<typeof grpcSinkSchema>;
