// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet path's settings as zod schemas (the agent's `sinks.collector.nats`, the collector's
 * `collector.nats` and `collector.fleet`); the contract itself is fleet.ts. Only what validates
 * a configuration imports this (the agent's configuration worker, the other commands).
 */
import { z } from "zod";

/** A subject prefix: one or more tokens of `A-Z a-z 0-9 _ -`. */
const subjectPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9_-]{1,32}){0,3}$/, "a subject prefix: dot-separated tokens of letters, digits, _ and -")
  .default("vigil");

/**
 * How to reach NATS (the agent's `sinks.collector.nats`, the collector's `collector.nats`).
 * Secrets are read from files (mounted Secrets) or given inline in the file; never in a URL.
 */
export const natsConnectionSchema = z.strictObject({
  /** Cluster name: the third subject token (`vigil.alerts.<cluster>.<node>`). */
  cluster: z.string().max(64).default("default"),
  subject_prefix: subjectPrefix,
  /** Connection name the server shows (`nats server report connections`). */
  name: z.string().max(128).default(""),
  user: z.string().max(256).default(""),
  password: z.string().max(4096).default(""),
  password_file: z.string().default(""),
  token: z.string().max(4096).default(""),
  token_file: z.string().default(""),
  /** NKey seed file (`SU...`): the user signs the server's nonce. */
  nkey_seed_file: z.string().default(""),
  /** Decentralized auth: a `.creds` file (user JWT + NKey seed). */
  creds_file: z.string().default(""),
  tls: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** PEM CA bundle to verify the servers; empty = Node's default roots. */
      ca_file: z.string().default(""),
      /** Client certificate and key (mutual TLS). */
      cert_file: z.string().default(""),
      key_file: z.string().default(""),
    })
    .prefault({}),
});
export type NatsConnectionConfig = z.infer<typeof natsConnectionSchema>;

/** The stream and the shared consumer (the collector's `collector.fleet`). */
export const fleetStreamSchema = z.strictObject({
  stream: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default("VIGIL"),
  consumer: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default("vigil-collectors"),
  /** Replicas: 0 = 3 when the cluster has at least 3 servers, else 1. */
  replicas: z.number().int().min(0).max(5).default(0),
  /** An undelivered alert waits this long at most (longer than any store outage you plan for). */
  max_age_seconds: z
    .number()
    .int()
    .min(60)
    .default(7 * 86_400),
  /** Backlog bytes; when full, publishes are refused (discard new) and agents keep alerts in their spool. */
  max_bytes: z
    .number()
    .int()
    .min(1024 * 1024)
    .default(8 * 1024 ** 3),
  /** Largest message: a capture chunk (256 KiB) plus headers must fit; above the servers' max_payload (1 MiB by default) nothing is gained. */
  max_msg_bytes: z
    .number()
    .int()
    .min(512 * 1024)
    .max(8 * 1024 * 1024)
    .default(1024 * 1024),
  /** A resend with the same Nats-Msg-Id inside this window is dropped by JetStream. */
  duplicate_window_seconds: z.number().int().min(1).max(86_400).default(600),
  /** A delivered message not acknowledged within this goes to another collector. */
  ack_wait_ms: z.number().int().min(500).max(3_600_000).default(30_000),
  /** Unacknowledged messages in all collectors together. */
  max_ack_pending: z.number().int().min(1).max(1_000_000).default(20_000),
  /** Messages one collector asks for at once (and stores per transaction at most). */
  batch: z.number().int().min(1).max(10_000).default(1000),
  /**
   * Batches one collector stores at the same time (each its own transaction on its own pooled
   * connection, so at most `collector.store.pool_size` run at once): while one waits for
   * PostgreSQL's commit or JetStream's acknowledgement, the next is decoded and sent. 2 drained a
   * pre-loaded stream 14-50 % faster than 1 on the 2-core benchmark machine (BENCHMARKS.md, Fleet);
   * 3 was no better than 2 there.
   */
  store_concurrency: z.number().int().min(1).max(16).default(2),
});
export type FleetStreamConfig = z.infer<typeof fleetStreamSchema>;
