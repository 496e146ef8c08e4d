// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet path's contract: agents (and collectors taking gRPC/HTTP ingest) publish alerts to
 * NATS JetStream; stateless collectors consume them from one durable pull consumer and store them
 * in PostgreSQL. What both sides agree on lives here: subjects, headers, the capture chunking,
 * the stream's settings and how to connect (servers, authentication, TLS). The settings' schemas
 * are in fleet-schema.ts (zod), apart so that the agent, which is given them validated, never
 * loads zod.
 *
 * Wire format:
 * - an alert is one message on `<prefix>.alerts.<cluster>.<node>`: the protobuf
 *   `vigil.collector.v1.Alert` (proto/vigil/collector.proto), header `Nats-Msg-Id` = the alert ID
 *   (JetStream drops a resend inside the duplicate window; the store drops it after that) and
 *   `Vigil-Agent` = the node name as the agent reports it (the subject tokens are sanitized);
 * - a capture travels as chunks of at most {@link CAPTURE_CHUNK_BYTES} on
 *   `<prefix>.captures.<cluster>.<node>`, each with `Nats-Msg-Id` = `<alert id>/<i>`,
 *   `Vigil-Capture` = the alert ID, `Vigil-Chunk` = `<i>/<n>` (0-based index, count),
 *   `Vigil-Event-Count` and `Vigil-Container-Id`; collectors store the chunks as they come (any
 *   replica may get any chunk) and a capture is readable once all `n` are stored;
 * - collectors announce a committed batch on `<prefix>._stored` (core NATS, no payload that
 *   matters): the tails of every replica then read what became settled.
 */
import type { NatsConnectionConfig } from "./fleet-schema.js";

/** Largest capture chunk (bytes of the gzip'd msgpack capture per message). */
export const CAPTURE_CHUNK_BYTES = 256 * 1024;
/** Most chunks of one capture (16 MiB / 256 KiB: the capture size limit of the gRPC path). */
export const MAX_CAPTURE_CHUNKS = 64;

/** Header names. */
export const FLEET_HEADERS = {
  msgId: "Nats-Msg-Id",
  agent: "Vigil-Agent",
  capture: "Vigil-Capture",
  chunk: "Vigil-Chunk",
  eventCount: "Vigil-Event-Count",
  containerId: "Vigil-Container-Id",
} as const;

/**
 * A name as one subject token: characters other than `A-Z a-z 0-9 _ -` become `_` (a node name
 * such as `ip-10-0-1-2.ec2.internal` holds dots, which separate tokens), at most 64 characters,
 * `_` when empty.
 */
export function subjectToken(s: string): string {
  const t = s.slice(0, 64).replace(/[^A-Za-z0-9_-]/g, "_");
  return t === "" ? "_" : t;
}

/** Subjects of one prefix. */
export function fleetSubjects(prefix: string) {
  return {
    /** Stream subjects. */
    alertsAll: `${prefix}.alerts.>`,
    capturesAll: `${prefix}.captures.>`,
    alerts: (cluster: string, node: string) => `${prefix}.alerts.${subjectToken(cluster)}.${subjectToken(node)}`,
    captures: (cluster: string, node: string) => `${prefix}.captures.${subjectToken(cluster)}.${subjectToken(node)}`,
    /** Core NATS: "a collector committed a batch". */
    stored: `${prefix}._stored`,
    /** True when a stream subject is a capture chunk's. */
    isCapture: (subject: string) => subject.startsWith(`${prefix}.captures.`),
  };
}

/** A `nats://` / `tls://` server list as given on a command line (`a:4222,nats://b:4222`). */
export function parseNatsServers(list: string): string[] {
  const out: string[] = [];
  for (const raw of list.split(",")) {
    const s = raw.trim();
    if (s === "") continue;
    let u: URL;
    try {
      u = new URL(s.includes("://") ? s : `nats://${s}`);
    } catch {
      throw new Error(`bad NATS server "${s.slice(0, 80)}": use nats://HOST:PORT`);
    }
    if (u.protocol !== "nats:" && u.protocol !== "tls:") throw new Error(`bad NATS server "${s.slice(0, 80)}": the scheme must be nats:// or tls://`);
    if (u.username !== "" || u.password !== "")
      throw new Error("credentials in a NATS URL are refused (they end up in process lists and logs): use the nats user/password_file or token_file settings");
    if (u.hostname === "") throw new Error(`bad NATS server "${s.slice(0, 80)}": no host`);
    out.push(`${u.protocol}//${u.host}`);
  }
  if (out.length === 0) throw new Error("no NATS server given");
  return out;
}

/** True when a collector address names NATS servers (`nats://...`, `tls://...`). */
export function isNatsAddress(address: string): boolean {
  return /^(nats|tls):\/\//i.test(address.trim());
}

/** The connection settings when none are given (what `natsConnectionSchema.parse({})` returns). */
export const DEFAULT_NATS_CONNECTION: Readonly<NatsConnectionConfig> = Object.freeze({
  cluster: "default",
  subject_prefix: "vigil",
  name: "",
  user: "",
  password: "",
  password_file: "",
  token: "",
  token_file: "",
  nkey_seed_file: "",
  creds_file: "",
  tls: Object.freeze({ enabled: false, ca_file: "", cert_file: "", key_file: "" }),
});

export type { FleetStreamConfig, NatsConnectionConfig } from "./fleet-schema.js";
