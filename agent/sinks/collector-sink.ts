// SPDX-License-Identifier: Apache-2.0
/**
 * The sink that delivers alerts to a collector without losing them: `export` appends the batch
 * to the on-disk {@link Spool} (and returns once it is there, per the spool's fsync policy); a
 * sender loop reads from the acknowledged cursor, pushes batches over gRPC (or publishes them to
 * NATS JetStream when the address is `nats://...`, nats-client.ts), and advances the cursor only
 * after the collector (or JetStream) acknowledged them. A failed push is retried with exponential
 * backoff and jitter (200 ms doubling to 30 s); after a restart the sender resumes from the
 * cursor. At-least-once on the wire, exactly-once in the store (the collector dedups by ID).
 * Alerts are dropped only when the spool is full (counted, logged once per burst).
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import { CollectorClient, type CaptureUpload, type PushTransport } from "./collector-client.js";
import { SinkError } from "./errors.js";
import { NatsPushClient } from "./nats-client.js";
import { Spool, type SpoolPosition } from "./spool.js";
import type { ExportResult, Sink } from "./types.js";
import { DEFAULT_NATS_CONNECTION, isNatsAddress, parseNatsServers, type Alert, type NatsConnectionConfig } from "../../proto/index.js";

/** Options of {@link createCollectorSink}. */
export interface CollectorSinkOptions {
  /** Collector `HOST:PORT`, or NATS servers `nats://HOST:PORT[,nats://...]` (`tls://` too). */
  address: string;
  /** With a NATS address: authentication, TLS, cluster name and subject prefix (`sinks.collector.nats`). */
  nats?: NatsConnectionConfig | undefined;
  /** Deadline of one push (gRPC) or of one publish's PubAck (NATS), ms. Default 10 s. */
  timeoutMs?: number | undefined;
  /** Bearer token (from the configuration; none when undefined), or a function asked before each push. */
  token?: string | (() => string | undefined) | undefined;
  spoolDir: string;
  /** Spool cap in bytes. Default 256 MiB. */
  maxSpoolBytes?: number;
  /** Spool fsync policy. Default `batch` (fdatasync per export). */
  fsync?: "batch" | "none";
  /** PEM CA: connect with TLS; a function is asked before each push (see CollectorClientOptions). */
  tlsCa?: Buffer | (() => Buffer | undefined) | undefined;
  /** TLS without `tlsCa`: the system's roots. */
  tls?: boolean | undefined;
  /** Largest batch pushed at once. Default 500 records / 4 MiB. */
  maxBatch?: number;
  maxBatchBytes?: number;
  /** Backoff bounds (ms). Default 200 → 30000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** The node name this agent reports to the collector (the configured `hostname:`). Default os.hostname(). */
  hostname?: string;
  logger: Logger;
}

/** The collector sink: a {@link Sink} with counters and capture shipping. */
export interface CollectorSink extends Sink {
  /** Spools a capture to ship with (after) its alert; false when it was dropped (spool full). */
  exportCapture(c: CaptureUpload): boolean;
  stats(): Record<string, number>;
}

/** Creates the sink, opens (and recovers) its spool and starts the sender. */
export function createCollectorSink(opts: CollectorSinkOptions): CollectorSink {
  return new CollectorSinkImpl(opts);
}

class CollectorSinkImpl implements CollectorSink {
  readonly name = "collector";
  private readonly spool: Spool;
  private readonly client: PushTransport;
  private readonly log: Logger;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly backoffMin: number;
  private readonly backoffMax: number;
  private pos: SpoolPosition;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private readonly address: string;
  private readonly hostname: string;
  private failing = false;
  private batchLimit: number;
  private flushWaiters: (() => void)[] = [];
  private readonly counters = {
    exported: 0,
    dropped_spool_full: 0,
    sent: 0,
    acked: 0,
    captures_sent: 0,
    rejected_by_collector: 0,
    poison_dropped: 0,
    push_failures: 0,
    retries: 0,
    sender_errors: 0,
    captures_dropped: 0,
    spool_write_errors: 0,
  };

  constructor(opts: CollectorSinkOptions) {
    this.log = opts.logger.child({ component: "collector-sink" });
    this.spool = new Spool({
      dir: opts.spoolDir,
      logger: this.log,
      ...(opts.maxSpoolBytes !== undefined ? { maxBytes: opts.maxSpoolBytes } : {}),
      ...(opts.fsync !== undefined ? { fsync: opts.fsync } : {}),
    });
    this.spool.open();
    this.address = opts.address;
    this.hostname = opts.hostname ?? hostname();
    this.pos = this.spool.cursor;
    this.client = isNatsAddress(opts.address)
      ? new NatsPushClient({
          servers: parseNatsServers(opts.address),
          nats: opts.nats ?? DEFAULT_NATS_CONNECTION,
          timeoutMs: opts.timeoutMs,
          defaultName: `vigil-agent ${this.hostname}`,
          logger: this.log,
        })
      : new CollectorClient({
          address: opts.address,
          token: opts.token,
          tlsCa: opts.tlsCa,
          tls: opts.tls,
          ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        });
    this.maxBatch = opts.maxBatch ?? 500;
    this.batchLimit = this.maxBatch;
    this.maxBatchBytes = opts.maxBatchBytes ?? 4 * 1024 * 1024;
    this.backoffMin = opts.backoffMinMs ?? 200;
    this.backoffMax = opts.backoffMaxMs ?? 30_000;
    this.loop = this.run();
  }

  async export(batch: readonly Alert[]): Promise<ExportResult> {
    if (this.stopped) return { ok: false, error: new SinkError("shut_down", "collector sink is shut down") };
    if (batch.length === 0) return { ok: true };
    let r;
    try {
      r = this.spool.append(batch.map((alert) => ({ kind: "alert" as const, alert })));
    } catch (err) {
      this.counters.spool_write_errors++;
      return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
    }
    this.counters.exported += r.kept;
    this.kick();
    if (r.dropped > 0) {
      this.counters.dropped_spool_full += r.dropped;
      return { ok: false, error: new SinkError("spool_full", `spool full: ${r.dropped} alert(s) dropped`) };
    }
    return { ok: true };
  }

  exportCapture(c: CaptureUpload): boolean {
    if (this.stopped) return false;
    let kept = false;
    try {
      kept = this.spool.append([{ kind: "capture", ...c }]).kept === 1;
    } catch (err) {
      this.counters.spool_write_errors++;
      this.log.error({ err }, "capture could not be spooled");
    }
    if (!kept) this.counters.captures_dropped++;
    this.kick();
    return kept;
  }

  private kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** The sender; an unexpected error (disk I/O on the spool) is logged and retried, never fatal. */
  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.send();
      } catch (err) {
        this.counters.sender_errors++;
        this.log.error({ err }, "collector sink sender failed, retrying");
        await this.sleep(this.backoffMax / 10);
      }
    }
  }

  private async send(): Promise<void> {
    let backoff = this.backoffMin;
    while (!this.stopped) {
      const { records, end } = this.spool.read(this.pos, this.batchLimit, this.maxBatchBytes);
      if (records.length === 0) {
        if (end.seg !== this.pos.seg || end.off !== this.pos.off) {
          // only skipped (corrupt/undecodable) bytes: move past them
          this.pos = end;
          this.spool.commit(end);
          continue;
        }
        for (const w of this.flushWaiters.splice(0)) w();
        await this.sleep(1000);
        continue;
      }
      const alerts: Alert[] = [];
      const captures: CaptureUpload[] = [];
      for (const r of records) {
        if (r.kind === "alert") alerts.push(r.alert);
        else captures.push({ alertId: r.alertId, data: r.data, eventCount: r.eventCount, containerId: r.containerId });
      }
      try {
        const res = await this.client.push(alerts, captures, this.hostname);
        this.counters.sent += alerts.length;
        this.counters.acked += res.ackedIds.length;
        this.counters.captures_sent += res.ackedCaptureIds.length;
        if (res.rejected.length > 0) {
          this.counters.rejected_by_collector += res.rejected.length;
          this.log.error({ rejected: res.rejected.slice(0, 10), count: res.rejected.length }, "collector refused alerts for good");
        }
        this.pos = end;
        this.spool.commit(end);
        if (this.failing) {
          this.log.info({ retries: this.counters.retries }, "collector reachable again, delivery resumed");
          this.failing = false;
        }
        backoff = this.backoffMin;
        this.batchLimit = Math.min(this.maxBatch, this.batchLimit * 2);
      } catch (err) {
        this.counters.push_failures++;
        if (err instanceof SinkError && err.code === "refused") {
          if (records.length > 1) {
            // too large or unreadable as a whole: halve until the bad record is alone
            this.batchLimit = Math.max(1, Math.floor(records.length / 2));
            continue;
          }
          this.counters.poison_dropped++;
          this.log.error({ err }, "collector refused a record for good, skipping it");
          this.pos = end;
          this.spool.commit(end);
          continue;
        }
        if (!this.failing) {
          this.failing = true;
          this.log.warn({ err, address: this.address }, "collector push failed, retrying with backoff");
        }
        for (const w of this.flushWaiters.splice(0)) w();
        this.counters.retries++;
        await this.sleep(backoff * (0.75 + Math.random() * 0.5));
        backoff = Math.min(this.backoffMax, backoff * 2);
      }
    }
  }

  /** Resolves once everything spooled was acknowledged, a push failed, or after 10 s. */
  async forceFlush(): Promise<void> {
    if (this.stopped || this.spool.drained(this.pos)) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 10_000);
      this.flushWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.kick();
    });
  }

  /** Stops the sender and closes the spool; what is not acknowledged is sent after a restart. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.kick();
    await this.loop;
    await this.client.close();
    this.spool.close();
  }

  stats(): Record<string, number> {
    const s: Record<string, number> = { ...this.counters, backlog: this.spool.drained(this.pos) ? 0 : 1 };
    for (const [k, v] of Object.entries(this.spool.counters)) s[`spool_${k}`] = v;
    for (const [k, v] of Object.entries(this.client.stats?.() ?? {})) s[`transport_${k}`] = v;
    return s;
  }
}
