// SPDX-License-Identifier: Apache-2.0
/**
 * The JetStream stream agents publish to and the one durable pull consumer all collectors share:
 * created at collector start when missing, validated when present. Settings JetStream can change
 * in place (limits, duplicate window, more replicas, the consumer's ack wait and pending limit) are
 * updated to the configuration; settings it cannot change, or whose change would alter what the
 * fleet path guarantees (storage, retention, discard policy, subjects, fewer replicas, a push or
 * filtered consumer), fail with `stream_conflict` and a message naming each one.
 *
 * Replicas when `collector.fleet.replicas` is 0 (auto): the stream is created with 3 and the
 * server's answer decides. A single server answers "replicas > 1 not supported in non-clustered
 * mode" (10074) and a cluster with fewer than 3 JetStream servers up answers "no suitable peers
 * for placement" (10005): both get 1 replica. No account on a client connection can count the
 * cluster's servers without the system account (`nc.info.connect_urls` lists only the servers up
 * and is empty with `no_advertise`), while placement is exactly the question "can 3 servers hold
 * it". A stream created with fewer than 3 in auto mode is raised to 3 by the next collector start
 * that finds 3 servers up.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerUpdateConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
  type StreamUpdateConfig,
} from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { fleetSubjects, type FleetStreamConfig } from "../../proto/index.js";
import { CollectorError } from "../errors.js";

/** JetStream API error codes this file reacts to. */
const Code = {
  /** JetStream system temporarily unavailable (no meta leader yet). */
  unavailable: 10008,
  /** No suitable peers for placement (fewer servers up than replicas). */
  noPeers: 10005,
  /** Replicas > 1 not supported in non-clustered mode. */
  notClustered: 10074,
  /** Stream name already in use with a different configuration. */
  streamExists: 10058,
  streamNotFound: 10059,
  consumerNotFound: 10014,
  /** Consumer name already in use (2.9), consumer already exists (2.10+). */
  consumerExists: 10013,
  consumerExists210: 10148,
  /** Multiple non-filtered consumers not allowed on a work-queue stream. */
  workQueueOverlap: 10099,
} as const;

const NS_PER_MS = 1_000_000;
const NS_PER_S = 1_000_000_000;

/** What {@link ensureStream} did. */
export interface EnsureStreamResult {
  replicas: number;
  created: boolean;
  /** Settings updated in place, as `name: X → Y`. */
  updated: string[];
}

/** What {@link ensureConsumer} did. */
export interface EnsureConsumerResult {
  created: boolean;
  updated: string[];
}

/** Options of the ensure functions. */
export interface EnsureOptions {
  /** How long to retry while JetStream is unavailable (no meta leader, timeouts). Default 30 s. */
  retryForMs?: number;
}

const apiCode = (err: unknown): number | undefined => (err instanceof JetStreamApiError ? err.code : undefined);

/** Errors that go away once the cluster has a leader again. */
function transient(err: unknown): boolean {
  return err instanceof natsErrors.TimeoutError || apiCode(err) === Code.unavailable;
}

/** Runs fn, retrying transient JetStream errors until the deadline. */
async function retrying<T>(what: string, retryForMs: number, logger: Logger, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + retryForMs;
  let wait = 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!transient(err) || Date.now() + wait > end) throw err;
      logger.warn({ err: (err as Error).message }, `${what}: no answer from JetStream (timeout, or no leader yet), retrying`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(5000, wait * 2);
    }
  }
}

const seconds = (ns: number) => `${ns / NS_PER_S} s`;
const list = (a: readonly string[] | undefined) => `[${[...(a ?? [])].sort().join(", ")}]`;

/** The stream settings the configuration asks for (replicas aside). */
export function desiredStreamConfig(cfg: FleetStreamConfig, prefix: string): StreamConfig {
  const s = fleetSubjects(prefix);
  return {
    name: cfg.stream,
    subjects: [s.alertsAll, s.capturesAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    max_age: cfg.max_age_seconds * NS_PER_S,
    max_bytes: cfg.max_bytes,
    max_msg_size: cfg.max_msg_bytes,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    duplicate_window: cfg.duplicate_window_seconds * NS_PER_S,
    num_replicas: cfg.replicas === 0 ? 3 : cfg.replicas,
  } as StreamConfig;
}

function conflictError(kind: "stream" | "consumer", name: string, conflicts: string[], fix: string): CollectorError {
  return new CollectorError(
    "stream_conflict",
    `the JetStream ${kind} ${name} exists with settings that conflict with collector.fleet:\n  ${conflicts.join("\n  ")}\n${fix}`,
  );
}

/** Compares an existing stream with the configuration: what conflicts, what can be updated in place. */
function compareStream(
  have: StreamConfig,
  want: StreamConfig,
  auto: boolean,
  clustered: boolean,
): { conflicts: string[]; updates: Partial<StreamUpdateConfig>; changes: string[] } {
  const conflicts: string[] = [];
  const updates: Partial<StreamUpdateConfig> = {};
  const changes: string[] = [];
  const fixed = (name: string, h: unknown, w: unknown) => {
    if (h !== w) conflicts.push(`${name}: existing ${String(h)}, configured ${String(w)}`);
  };
  fixed("storage", have.storage, want.storage);
  fixed("retention", have.retention, want.retention);
  fixed("discard", have.discard, want.discard);
  // exactly these subjects: a wider one would pull other traffic (the core NATS `_stored`
  // announcements) into the work queue the collectors drain
  if (list(have.subjects) !== list(want.subjects)) conflicts.push(`subjects: existing ${list(have.subjects)}, configured ${list(want.subjects)}`);
  if (have.sealed) conflicts.push("sealed: existing true (a sealed stream takes no messages), configured false");
  if (have.mirror) conflicts.push(`mirror: existing ${have.mirror.name} (a mirror takes no publishes), configured none`);
  if (!auto && !clustered && want.num_replicas > 1)
    conflicts.push(`replicas: existing ${have.num_replicas} on a single server (not clustered), configured ${want.num_replicas}`);
  if (!auto && clustered && have.num_replicas > want.num_replicas)
    conflicts.push(`replicas: existing ${have.num_replicas}, configured ${want.num_replicas} (fewer replicas are not applied automatically)`);

  const inPlace = (
    name: string,
    key: "max_age" | "max_bytes" | "max_msg_size" | "duplicate_window" | "max_msgs" | "max_msgs_per_subject",
    show: (v: number) => string,
  ) => {
    const h = have[key] ?? -1;
    const w = want[key] ?? -1;
    if (h !== w) {
      (updates as Record<string, number>)[key] = w;
      changes.push(`${name}: ${show(h)} → ${show(w)}`);
    }
  };
  const plain = (v: number) => String(v);
  inPlace("max_age", "max_age", seconds);
  inPlace("max_bytes", "max_bytes", plain);
  inPlace("max_msg_size", "max_msg_size", plain);
  inPlace("duplicate_window", "duplicate_window", seconds);
  inPlace("max_msgs", "max_msgs", plain);
  inPlace("max_msgs_per_subject", "max_msgs_per_subject", plain);
  if (!auto && clustered && have.num_replicas < want.num_replicas) {
    updates.num_replicas = want.num_replicas;
    changes.push(`replicas: ${have.num_replicas} → ${want.num_replicas}`);
  }
  return { conflicts, updates, changes };
}

async function streamInfoOf(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (apiCode(err) === Code.streamNotFound) return undefined;
    throw err;
  }
}

/**
 * Creates the fleet stream when missing (subjects `<prefix>.alerts.>` and `<prefix>.captures.>`,
 * file storage, work-queue retention, discard new, the configured limits and replicas) or
 * validates the existing one: in-place changes are applied, conflicts throw
 * `CollectorError("stream_conflict")`; JetStream still unavailable after `retryForMs` throws the
 * NATS error itself (worth waiting for). Safe when several collectors start together.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  cfg: FleetStreamConfig,
  prefix: string,
  logger: Logger,
  opts: EnsureOptions = {},
): Promise<EnsureStreamResult> {
  const log = logger.child({ stream: cfg.stream });
  const retryForMs = opts.retryForMs ?? 30_000;
  if (cfg.duplicate_window_seconds > cfg.max_age_seconds)
    throw new CollectorError(
      "stream_conflict",
      `collector.fleet: duplicate_window_seconds (${cfg.duplicate_window_seconds}) must not exceed max_age_seconds (${cfg.max_age_seconds})`,
    );
  const want = desiredStreamConfig(cfg, prefix);
  const auto = cfg.replicas === 0;
  const fix =
    `Fix: change collector.fleet to match, use another stream (collector.fleet.stream), update the stream ` +
    `(\`nats stream edit ${cfg.stream}\`, where JetStream allows it), or delete it (\`nats stream rm ${cfg.stream}\`; undelivered alerts in it are lost).`;

  for (let attempt = 0; ; attempt++) {
    const info = await retrying("stream info", retryForMs, log, () => streamInfoOf(jsm, cfg.stream));
    if (info === undefined) {
      const create = (replicas: number) => retrying("stream create", retryForMs, log, () => jsm.streams.add({ ...want, num_replicas: replicas }));
      let failure: unknown;
      try {
        const si = await create(want.num_replicas);
        log.info({ replicas: si.config.num_replicas, subjects: want.subjects }, "JetStream stream created");
        return { replicas: si.config.num_replicas, created: true, updated: [] };
      } catch (err) {
        failure = err;
      }
      const code = apiCode(failure);
      // too few servers for 3 replicas; not when the servers lack room ("insufficient storage"): that
      // is the configured size, which one replica would not fix
      const fewerServers = code === Code.notClustered || (code === Code.noPeers && !/insufficient/i.test((failure as Error).message));
      if (auto && fewerServers) {
        try {
          const si = await create(1);
          if (code === Code.noPeers)
            log.warn(
              "fewer than 3 JetStream servers can hold a replica: stream created with 1 replica; a collector start that finds 3 servers up raises it to 3 (or set collector.fleet.replicas)",
            );
          else log.info("single NATS server: JetStream stream created with 1 replica");
          return { replicas: si.config.num_replicas, created: true, updated: [] };
        } catch (err) {
          failure = err;
        }
      }
      // another collector created it first (with other settings, or our add raced its add)
      if (apiCode(failure) === Code.streamExists && attempt < 3) continue;
      // still no answer after retrying: the caller may wait longer (not a conflict)
      if (transient(failure)) throw failure;
      const text = (failure as Error).message;
      const hint = /insufficient storage/i.test(text)
        ? ` (collector.fleet.max_bytes ${cfg.max_bytes} must fit in the JetStream max_file_store of each server holding a replica)`
        : "";
      throw new CollectorError("stream_conflict", `cannot create the JetStream stream ${cfg.stream}: ${text}${hint}`, { cause: failure });
    }

    // a single server's stream has no cluster; it accepts a replica count it cannot honour
    const clustered = info.cluster?.name !== undefined && info.cluster.name !== "";
    const { conflicts, updates, changes } = compareStream(info.config, want, auto, clustered);
    if (conflicts.length > 0) throw conflictError("stream", cfg.stream, conflicts, fix);
    let replicas = info.config.num_replicas;
    if (changes.length > 0) {
      try {
        const si = await retrying("stream update", retryForMs, log, () => jsm.streams.update(cfg.stream, updates));
        replicas = si.config.num_replicas;
      } catch (err) {
        if (transient(err)) throw err;
        throw new CollectorError(
          "stream_conflict",
          `the JetStream stream ${cfg.stream} differs from collector.fleet (${changes.join("; ")}) and updating it failed: ${(err as Error).message}\n${fix}`,
          { cause: err },
        );
      }
      log.info({ changes }, "JetStream stream updated to collector.fleet");
    }
    if (auto && clustered && replicas < 3) {
      try {
        const si = await jsm.streams.update(cfg.stream, { num_replicas: 3 });
        log.info({ from: replicas, to: si.config.num_replicas }, "JetStream stream replicas raised (3 servers up now)");
        changes.push(`replicas: ${replicas} → ${si.config.num_replicas}`);
        replicas = si.config.num_replicas;
      } catch (err) {
        const code = apiCode(err);
        if (code !== Code.notClustered && code !== Code.noPeers) log.warn({ err: (err as Error).message }, "could not raise the stream's replicas to 3");
      }
    }
    return { replicas, created: false, updated: changes };
  }
}

/** The consumer settings the configuration asks for. */
export function desiredConsumerConfig(cfg: FleetStreamConfig): Partial<ConsumerConfig> {
  return {
    durable_name: cfg.consumer,
    ack_policy: AckPolicy.Explicit,
    ack_wait: cfg.ack_wait_ms * NS_PER_MS,
    max_ack_pending: cfg.max_ack_pending,
    max_deliver: -1,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
  };
}

async function consumerConfigOf(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerConfig | undefined> {
  try {
    return (await jsm.consumers.info(stream, name)).config;
  } catch (err) {
    if (apiCode(err) === Code.consumerNotFound) return undefined;
    if (apiCode(err) === Code.streamNotFound)
      throw new CollectorError("stream_conflict", `the JetStream stream ${stream} does not exist (ensure the stream first)`, { cause: err });
    throw err;
  }
}

/**
 * Creates the collectors' shared durable pull consumer when missing (explicit acks, the
 * configured ack wait and pending limit, redelivered forever, from the first message, no filter)
 * or validates the existing one (ack wait, pending limit and max deliveries are updated in place;
 * a push consumer, another ack or deliver policy, or a filter narrower than the stream conflict).
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  cfg: FleetStreamConfig,
  prefix: string,
  logger: Logger,
  opts: EnsureOptions = {},
): Promise<EnsureConsumerResult> {
  const log = logger.child({ stream: cfg.stream, consumer: cfg.consumer });
  const retryForMs = opts.retryForMs ?? 30_000;
  const want = desiredConsumerConfig(cfg);
  const s = fleetSubjects(prefix);
  const streamSubjects = list([s.alertsAll, s.capturesAll]);
  const fix =
    `Fix: change collector.fleet.consumer (another name), or delete the consumer (\`nats consumer rm ${cfg.stream} ${cfg.consumer}\`; ` +
    "unacknowledged messages stay in the stream and go to the new consumer).";

  for (let attempt = 0; ; attempt++) {
    const have = await retrying("consumer info", retryForMs, log, () => consumerConfigOf(jsm, cfg.stream, cfg.consumer));
    if (have === undefined) {
      try {
        await retrying("consumer create", retryForMs, log, () => jsm.consumers.add(cfg.stream, want));
        log.info({ ack_wait_ms: cfg.ack_wait_ms, max_ack_pending: cfg.max_ack_pending }, "JetStream consumer created");
        return { created: true, updated: [] };
      } catch (err) {
        if (transient(err)) throw err;
        const code = apiCode(err);
        if ((code === Code.consumerExists || code === Code.consumerExists210) && attempt < 3) continue;
        if (code === Code.workQueueOverlap) {
          let others: string[] = [];
          try {
            others = (await jsm.consumers.list(cfg.stream).next()).map((c) => c.name);
          } catch {
            // the names only make the message better
          }
          throw new CollectorError(
            "stream_conflict",
            `cannot create the consumer ${cfg.consumer} on ${cfg.stream}: the work-queue stream already has an unfiltered consumer (${others.join(", ") || "unknown"}); ` +
              "collectors must share one: set collector.fleet.consumer to its name, or delete it",
            { cause: err },
          );
        }
        throw new CollectorError("stream_conflict", `cannot create the JetStream consumer ${cfg.consumer} on ${cfg.stream}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }

    const conflicts: string[] = [];
    if (have.deliver_subject) conflicts.push(`kind: existing push (deliver_subject ${have.deliver_subject}), configured pull`);
    if (have.ack_policy !== want.ack_policy) conflicts.push(`ack_policy: existing ${have.ack_policy}, configured ${want.ack_policy}`);
    if (have.deliver_policy !== want.deliver_policy) conflicts.push(`deliver_policy: existing ${have.deliver_policy}, configured ${want.deliver_policy}`);
    const filters = have.filter_subjects?.length ? list(have.filter_subjects) : have.filter_subject ? list([have.filter_subject]) : "";
    if (filters !== "" && filters !== "[>]" && filters !== streamSubjects) conflicts.push(`filter: existing ${filters}, configured none (the whole stream)`);
    if (have.inactive_threshold)
      conflicts.push(`inactive_threshold: existing ${seconds(have.inactive_threshold)} (the consumer would be deleted when idle), configured none`);
    if (conflicts.length > 0) throw conflictError("consumer", `${cfg.stream}/${cfg.consumer}`, conflicts, fix);

    const updates: Partial<ConsumerUpdateConfig> = {};
    const changes: string[] = [];
    if (have.ack_wait !== want.ack_wait) {
      updates.ack_wait = want.ack_wait ?? 0;
      changes.push(`ack_wait: ${(have.ack_wait ?? 0) / NS_PER_MS} ms → ${cfg.ack_wait_ms} ms`);
    }
    if (have.max_ack_pending !== want.max_ack_pending) {
      updates.max_ack_pending = cfg.max_ack_pending;
      changes.push(`max_ack_pending: ${have.max_ack_pending} → ${cfg.max_ack_pending}`);
    }
    if ((have.max_deliver ?? -1) !== -1) {
      updates.max_deliver = -1;
      changes.push(`max_deliver: ${have.max_deliver} → -1 (redeliver until stored)`);
    }
    if (changes.length > 0) {
      try {
        await retrying("consumer update", retryForMs, log, () => jsm.consumers.update(cfg.stream, cfg.consumer, updates));
      } catch (err) {
        if (transient(err)) throw err;
        throw new CollectorError(
          "stream_conflict",
          `the JetStream consumer ${cfg.stream}/${cfg.consumer} differs from collector.fleet (${changes.join("; ")}) and updating it failed: ${(err as Error).message}\n${fix}`,
          { cause: err },
        );
      }
      log.info({ changes }, "JetStream consumer updated to collector.fleet");
    }
    return { created: false, updated: changes };
  }
}
