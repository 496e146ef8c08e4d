// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's transport to the fleet path (`--collector nats://...`): each spooled alert becomes
 * a JetStream publish on `<prefix>.alerts.<cluster>.<node>` with `Nats-Msg-Id` = its ID, each
 * capture a series of chunks (proto/fleet-codec.ts builds both), and a batch counts as delivered
 * once every PubAck came. The collector sink retries a failed batch whole; JetStream's duplicate
 * window drops what it already holds.
 *
 * Alerts go one at a time, each after the previous PubAck, so the stream holds a node's alerts in
 * the order they were raised: pipelined, a failure in the middle (a leader election, a stream
 * that frees space while the batch is in flight) would let later alerts land first and the retry
 * append the earlier one after them. Capture chunks, whose order does not matter, go all in
 * flight at once. Nothing blocks for long: every publish has a deadline, and while the connection
 * is down a push fails at once (the client reconnects forever in the background; the sink's
 * backoff paces the retries, the spool holds the alerts).
 */
import { hostname as osHostname } from "node:os";
import { JetStreamApiError, jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect, errors as natsErrors, InvalidArgumentError, RequestError, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { SinkError } from "./errors.js";
import type { CaptureUpload, PushResult, PushTransport } from "./collector-client.js";
import { alertMessage, captureMessages, type FleetMessage } from "../../proto/fleet-codec.js";
import { natsConnectOptions } from "../../proto/fleet-connect.js";
import { fleetSubjects, type NatsConnectionConfig } from "../../proto/index.js";
import type { Alert } from "../../proto/index.js";

/** Options of {@link NatsPushClient}. */
export interface NatsPushClientOptions {
  /** Server URLs (parseNatsServers). */
  servers: string[];
  /** Authentication, TLS, cluster name and subject prefix (`sinks.collector.nats`). */
  nats: NatsConnectionConfig;
  /** Deadline of one publish's PubAck (ms). Default 10 s. */
  timeoutMs?: number | undefined;
  /** Connection name when `nats.name` is empty. Default `vigil-agent <hostname>`. */
  defaultName?: string;
  logger?: Logger | undefined;
}

/** JetStream API error codes a publish can get. */
const Code = {
  /** Message size exceeds maximum allowed (the stream's max_msg_size). */
  tooLarge: 10054,
  /** Store failed: maximum bytes/messages exceeded (discard new on a full stream). */
  storeFailed: 10077,
} as const;

/** How one publish ended. */
type Outcome = { ok: true; duplicate: boolean } | { ok: false; kind: "refused" | "full" | "timeout" | "failed"; message: string };

/** Pushes batches to NATS JetStream (the collector sink's transport for `nats://` addresses). */
export class NatsPushClient implements PushTransport {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private closed = false;
  private readonly servers: string[];
  private readonly cfg: NatsConnectionConfig;
  private readonly timeoutMs: number;
  private readonly defaultName: string;
  private readonly log: Logger | undefined;
  private readonly subjects: ReturnType<typeof fleetSubjects>;
  readonly counters = {
    published: 0,
    duplicates: 0,
    chunks_published: 0,
    /** Publishes refused because the stream is full (discard new). */
    stream_full: 0,
    /** Records refused for good (larger than the stream's or the server's limit). */
    too_large: 0,
    timeouts: 0,
    publish_errors: 0,
    /** Pushes failed at once because the connection was down. */
    not_connected: 0,
    connect_failures: 0,
    disconnects: 0,
  };

  constructor(opts: NatsPushClientOptions) {
    if (opts.servers.length === 0) throw new Error("no NATS server given");
    this.servers = opts.servers;
    this.cfg = opts.nats;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.defaultName = opts.defaultName ?? `vigil-agent ${osHostname()}`;
    this.log = opts.logger;
    this.subjects = fleetSubjects(opts.nats.subject_prefix);
  }

  /** True while connected (reconnects happen in the background). */
  get isConnected(): boolean {
    return this.connected;
  }

  /** The connection, made on first use; fails at once while it is down. */
  private async ready(): Promise<JetStreamClient> {
    if (this.closed) throw new SinkError("shut_down", "NATS client is closed");
    if (this.nc?.isClosed()) {
      // closed for good before its closed() callback ran: connect anew
      this.nc = undefined;
      this.js = undefined;
      this.connected = false;
    }
    if (this.nc === undefined) {
      this.connecting ??= this.open().finally(() => {
        this.connecting = undefined;
      });
      await this.connecting;
    }
    if (!this.connected || this.js === undefined) {
      this.counters.not_connected++;
      throw new SinkError("send_failed", `not connected to NATS (${this.servers.join(",")}): reconnecting`);
    }
    return this.js;
  }

  private async open(): Promise<void> {
    let nc: NatsConnection;
    try {
      // secrets are read from their files here: a reconnect after a closed connection re-reads them
      nc = await connect(natsConnectOptions(this.cfg, this.servers, this.defaultName));
    } catch (err) {
      this.counters.connect_failures++;
      throw new SinkError("send_failed", `cannot connect to NATS (${this.servers.join(",")}): ${describe(err)}`, { cause: err });
    }
    if (this.closed) {
      await nc.close();
      throw new SinkError("shut_down", "NATS client is closed");
    }
    this.nc = nc;
    this.js = jetstream(nc, { timeout: this.timeoutMs });
    this.connected = true;
    this.log?.info({ server: nc.getServer() }, "connected to NATS");
    void this.watch(nc);
    void nc.closed().then((err) => {
      if (this.nc !== nc) return;
      // closed for good (an authentication failure on reconnect, or close()): the next push connects anew
      this.nc = undefined;
      this.js = undefined;
      this.connected = false;
      if (err && !this.closed) this.log?.warn({ err: describe(err) }, "NATS connection closed");
    });
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.nc !== nc) return;
      if (s.type === "disconnect") {
        this.connected = false;
        this.counters.disconnects++;
        this.log?.warn({ server: s.server }, "disconnected from NATS, reconnecting");
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.log?.info({ server: s.server }, "reconnected to NATS");
      } else if (s.type === "error") this.log?.warn({ err: describe(s.error) }, "NATS connection error");
    }
  }

  /** One publish, classified; never rejects. */
  private async publish(js: JetStreamClient, m: FleetMessage): Promise<Outcome> {
    try {
      const ack = await js.publish(m.subject, m.data, { msgID: m.msgId, headers: m.headers, timeout: this.timeoutMs });
      if (ack.duplicate) this.counters.duplicates++;
      return { ok: true, duplicate: ack.duplicate };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === Code.tooLarge) {
        this.counters.too_large++;
        return { ok: false, kind: "refused", message: `larger than the stream's max_msg_size (${m.data.length} bytes)` };
      }
      if (err instanceof InvalidArgumentError && /max_payload/.test(err.message)) {
        this.counters.too_large++;
        return { ok: false, kind: "refused", message: `larger than the NATS server's max_payload (${this.nc?.info?.max_payload ?? "?"} bytes)` };
      }
      if (err instanceof JetStreamApiError && err.code === Code.storeFailed) {
        this.counters.stream_full++;
        return {
          ok: false,
          kind: "full",
          message: `the JetStream stream is full (${err.message}; discard new): alerts stay in the spool until collectors drain it`,
        };
      }
      if (err instanceof natsErrors.TimeoutError) {
        this.counters.timeouts++;
        return { ok: false, kind: "timeout", message: `no PubAck within ${this.timeoutMs} ms` };
      }
      this.counters.publish_errors++;
      // jetstream.publish reports no responders as "jetstream is not enabled", the request error as its cause
      if (err instanceof Error && err.cause instanceof RequestError && err.cause.isNoResponders())
        return { ok: false, kind: "failed", message: `no JetStream stream takes ${m.subject} (no responders): the collectors create it when they start` };
      return { ok: false, kind: "failed", message: describe(err) };
    }
  }

  /**
   * Publishes one batch: alerts in order, then capture chunks. Resolves when every message was
   * acknowledged (a duplicate counts), with records refused for good (too large) in `rejected`;
   * rejects with SinkError `send_failed` on anything else (down, full, timeout).
   */
  async push(alerts: readonly Alert[], captures: readonly CaptureUpload[], agent = ""): Promise<PushResult> {
    const js = await this.ready();
    const node = agent !== "" ? agent : osHostname();
    const alertSubject = this.subjects.alerts(this.cfg.cluster, node);
    const captureSubject = this.subjects.captures(this.cfg.cluster, node);
    const result: PushResult = { ackedIds: [], ackedCaptureIds: [], rejected: [] };

    for (const a of alerts) {
      const o = await this.publish(js, alertMessage(alertSubject, a, node));
      if (o.ok) {
        this.counters.published++;
        result.ackedIds.push(a.id);
      } else if (o.kind === "refused") result.rejected.push({ id: a.id, reason: o.message });
      else throw this.failure(o, result.ackedIds.length, alerts.length);
    }

    const chunked: { alertId: string; msgs: FleetMessage[] }[] = [];
    for (const c of captures) {
      try {
        chunked.push({ alertId: c.alertId, msgs: captureMessages(captureSubject, c) });
      } catch (err) {
        this.counters.too_large++;
        result.rejected.push({ id: c.alertId, reason: `capture: ${(err as Error).message}` });
      }
    }
    const outcomes = await Promise.all(chunked.map(async (c) => ({ alertId: c.alertId, all: await Promise.all(c.msgs.map((m) => this.publish(js, m))) })));
    let failed: Exclude<Outcome, { ok: true }> | undefined;
    for (const { alertId, all } of outcomes) {
      const bad = all.find((o): o is Exclude<Outcome, { ok: true }> => !o.ok);
      this.counters.chunks_published += all.filter((o) => o.ok).length;
      if (bad === undefined) result.ackedCaptureIds.push(alertId);
      else if (bad.kind === "refused" && all.every((o) => o.ok || o.kind === "refused"))
        result.rejected.push({ id: alertId, reason: `capture chunk ${bad.message}` });
      else failed ??= all.find((o): o is Exclude<Outcome, { ok: true }> => !o.ok && o.kind !== "refused");
    }
    if (failed !== undefined) throw this.failure(failed, result.ackedCaptureIds.length, captures.length, "captures");
    return result;
  }

  private failure(o: Exclude<Outcome, { ok: true }>, acked: number, total: number, what = "alerts"): SinkError {
    return Object.assign(new SinkError("send_failed", `NATS publish failed after ${acked} of ${total} ${what}: ${o.message}`), { reason: o.kind });
  }

  stats(): Record<string, number> {
    return { ...this.counters, connected: this.connected ? 1 : 0 };
  }

  /** Drains the connection (what is in flight completes), at most 5 s. */
  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    const nc = this.nc;
    this.nc = undefined;
    this.js = undefined;
    this.connected = false;
    if (nc === undefined || nc.isClosed()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      nc.drain().catch(() => undefined),
      new Promise<void>((r) => {
        timer = setTimeout(r, 5000);
      }),
    ]);
    clearTimeout(timer);
    if (!nc.isClosed()) await nc.close();
  }
}

/** An error's message (nats.js wraps some in a cause: the server's text is the useful part). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error && err.cause.message !== err.message ? ` (${err.cause.message})` : "";
  return `${err.message}${cause}`;
}
