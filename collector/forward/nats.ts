// SPDX-License-Identifier: Apache-2.0
/**
 * The `nats` destination: each alert's Falco JSON published on `<subject_prefix>.<priority>`
 * (lowercase: `vigil.forward.critical`) with the header `Nats-Msg-Id` = the alert ID, through the
 * official client (@nats-io/transport-node), authenticated by user/password or token (read from
 * their file or variable on every connect, so a rotated secret is used at the next reconnect),
 * TLS from the forwarder's files.
 *
 * Core NATS or JetStream, per subject: when a JetStream stream covers the subject (asked once a
 * minute with `$JS.API.STREAM.NAMES`), the alert is published to JetStream and counts as
 * delivered once the stream acknowledged storing it; the `Nats-Msg-Id` header makes a resend
 * within the stream's duplicate window a no-op, so a retried batch stores nothing twice. That is
 * the only way NATS can confirm delivery, so it is used whenever a stream is there to confirm.
 * Otherwise the batch is a core publish followed by a flush (a PING the server answers after it
 * processed every message before it): the server got the messages, and a publish permission it
 * refused is reported; whether any subscriber was listening, core NATS cannot tell.
 * https://docs.nats.io/nats-concepts/jetstream/streams, https://docs.nats.io/using-nats/developer/develop_jetstream/model_deep_dive#message-deduplication
 *
 * A message larger than the server's max_payload (or the stream's max_msg_size) is refused for
 * good (that alert goes to the dead letters); anything else (down, timeout, stream full, a subject
 * the user may not publish to: the setup is refused, not the alert, as with an HTTP 403) is
 * retryable. While the connection is down a send fails at once (the client reconnects in the
 * background) instead of buffering.
 */
import { JetStreamApiError, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import {
  connect,
  type ConnectionOptions,
  errors as natsErrors,
  headers as natsHeaders,
  InvalidArgumentError,
  type MsgHdrs,
  type NatsConnection,
  PermissionViolationError,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/forwarders.js";
import { alertToFalcoJson, parseNatsServers, type Alert } from "../../proto/index.js";
import { DeliveryError, type DeliveryItem, type DeliveryOutcome, type Destination, type ItemFailure, readSecret } from "./destination.js";

/** Messages per batch when `batch_size` is 0. */
const DEFAULT_BATCH = 100;

/** How long a subject's stream lookup is trusted. */
const STREAM_LOOKUP_TTL_MS = 60_000;

/** JetStream API error codes of a publish. */
const JsCode = {
  /** Message size exceeds the stream's max_msg_size. */
  tooLarge: 10054,
} as const;

/** The subject of an alert: `<prefix>.<priority in lowercase>`. */
export function natsSubject(prefix: string, a: Alert): string {
  return `${prefix}.${a.priority.toLowerCase()}`;
}

/** The payload: Falco's JSON, plus `count` when repeats were grouped. */
export function natsPayload(item: DeliveryItem): Uint8Array {
  const o = alertToFalcoJson(item.alert);
  if (item.count > 1) o["count"] = item.count;
  return new TextEncoder().encode(JSON.stringify(o));
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error && err.cause.message !== err.message ? ` (${err.cause.message})` : "";
  return `${err.message}${cause}`;
}

/** The connect() options of a forwarder; secrets are checked now and read again on every connect. */
function connectOptions(cfg: ForwarderOf<"nats">, servers: string[]): ConnectionOptions {
  const hasPassword = cfg.password_file !== "" || cfg.password_env !== "";
  const hasToken = cfg.token_file !== "" || cfg.token_env !== "";
  if (hasPassword && cfg.user === "") throw new Error("nats password_file/password_env need user");
  if (cfg.user !== "" && !hasPassword) throw new Error("nats user needs password_file or password_env");
  if (cfg.user !== "" && hasToken) throw new Error("nats user/password and token exclude each other");
  const password = () => readSecret("password", cfg.password_file, cfg.password_env);
  const token = () => readSecret("token", cfg.token_file, cfg.token_env);
  // a missing file or variable is a configuration error now, not a failed connect later
  if (hasPassword) password();
  if (hasToken) token();
  const o: ConnectionOptions = {
    servers,
    name: `vigil forwarder ${cfg.name}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    maxPingOut: 3,
    timeout: cfg.timeout_ms,
  };
  if (hasPassword) o.authenticator = usernamePasswordAuthenticator(cfg.user, password);
  else if (hasToken) o.authenticator = tokenAuthenticator(token);
  const t = cfg.tls;
  if ((t.cert_file === "") !== (t.key_file === "")) throw new Error("nats tls.cert_file and tls.key_file go together");
  if (t.ca_file !== "" || t.cert_file !== "" || servers.some((s) => s.startsWith("tls://"))) {
    o.tls = {
      ...(t.ca_file !== "" ? { caFile: t.ca_file } : {}),
      ...(t.cert_file !== "" ? { certFile: t.cert_file, keyFile: t.key_file } : {}),
    };
  }
  return o;
}

/** One connection and what was learnt on it. */
interface Conn {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  connected: boolean;
  /** Publish permission violations reported by the server, by subject. */
  denied: Map<string, string>;
}

/** How one publish ended. */
type Published = { ok: true } | { ok: false; permanent: boolean; error: string };

class NatsDestination implements Destination {
  readonly maxBatch: number;
  private conn: Conn | undefined;
  private connecting: Promise<Conn> | undefined;
  private closed = false;
  private readonly servers: string[];
  private readonly options: ConnectionOptions;
  private readonly log: Logger;
  /** Subject → the stream that takes it (null: none), and when that was asked. */
  private readonly streams = new Map<string, { stream: string | null; at: number }>();

  constructor(
    private readonly cfg: ForwarderOf<"nats">,
    logger: Logger,
  ) {
    this.servers = parseNatsServers(cfg.servers);
    this.options = connectOptions(cfg, this.servers);
    this.log = logger.child({ forwarder: cfg.name, destination: "nats" });
    this.maxBatch = cfg.batch_size > 0 ? Math.min(cfg.batch_size, DEFAULT_BATCH) : DEFAULT_BATCH;
  }

  private async ready(): Promise<Conn> {
    if (this.closed) throw new DeliveryError("NATS forwarder is closed");
    if (this.conn?.nc.isClosed()) this.conn = undefined;
    if (this.conn === undefined) {
      this.connecting ??= this.open().finally(() => {
        this.connecting = undefined;
      });
      this.conn = await this.connecting;
    }
    if (!this.conn.connected) throw new DeliveryError(`not connected to NATS (${this.servers.join(",")}): reconnecting`);
    return this.conn;
  }

  private async open(): Promise<Conn> {
    let nc: NatsConnection;
    try {
      nc = await connect(this.options);
    } catch (err) {
      // an authentication failure too: the connection is refused, not the alert (fix the secret, the alerts wait)
      throw new DeliveryError(`cannot connect to NATS (${this.servers.join(",")}): ${describe(err)}`, { cause: err });
    }
    if (this.closed) {
      await nc.close();
      throw new DeliveryError("NATS forwarder is closed");
    }
    const c: Conn = {
      nc,
      js: jetstream(nc, { timeout: this.cfg.timeout_ms }),
      jsm: await jetstreamManager(nc, { timeout: this.cfg.timeout_ms, checkAPI: false }),
      connected: true,
      denied: new Map(),
    };
    this.log.info({ server: nc.getServer() }, "forwarder connected to NATS");
    void this.watch(c);
    void nc.closed().then((err) => {
      c.connected = false;
      if (this.conn === c) this.conn = undefined;
      if (err && !this.closed) this.log.warn({ err: describe(err) }, "forwarder's NATS connection closed");
    });
    return c;
  }

  private async watch(c: Conn): Promise<void> {
    for await (const s of c.nc.status()) {
      if (s.type === "disconnect") {
        c.connected = false;
        this.log.warn({ server: s.server }, "forwarder disconnected from NATS, reconnecting");
      } else if (s.type === "reconnect") {
        c.connected = true;
        this.streams.clear();
        this.log.info({ server: s.server }, "forwarder reconnected to NATS");
      } else if (s.type === "error") {
        if (s.error instanceof PermissionViolationError && s.error.operation === "publish") c.denied.set(s.error.subject, s.error.message);
        else this.log.warn({ err: describe(s.error) }, "forwarder's NATS connection error");
      }
    }
  }

  /** The stream taking `subject`, or null for none (no JetStream, no stream, no permission to ask). */
  private async streamOf(c: Conn, subject: string): Promise<string | null> {
    const known = this.streams.get(subject);
    if (known !== undefined && Date.now() - known.at < STREAM_LOOKUP_TTL_MS) return known.stream;
    let stream: string | null = null;
    try {
      stream = await c.jsm.streams.find(subject);
    } catch (err) {
      // a timeout says nothing: ask again next time rather than fall back to core NATS for a minute
      if (err instanceof natsErrors.TimeoutError)
        throw new DeliveryError(`NATS: no answer to the stream lookup of ${subject} within ${this.cfg.timeout_ms} ms`);
      this.log.debug({ subject, err: describe(err) }, "no JetStream stream for the subject: core NATS publish");
    }
    if (known?.stream !== stream) this.log.info({ subject, stream }, stream !== null ? "publishing to JetStream" : "publishing with core NATS");
    this.streams.set(subject, { stream, at: Date.now() });
    return stream;
  }

  private headersOf(item: DeliveryItem): MsgHdrs {
    const h = natsHeaders();
    h.set("Nats-Msg-Id", item.alert.id);
    if (item.count > 1) h.set("Vigil-Count", String(item.count));
    return h;
  }

  /** A publish error as a result. */
  private classify(err: unknown, subject: string, size: number, c: Conn): Published {
    if (err instanceof InvalidArgumentError && /max_payload/.test(err.message))
      return { ok: false, permanent: true, error: `${size} bytes: larger than the NATS server's max_payload (${c.nc.info?.max_payload ?? "?"} bytes)` };
    if (err instanceof JetStreamApiError && err.code === JsCode.tooLarge)
      return { ok: false, permanent: true, error: `${size} bytes: larger than the stream's max_msg_size (${err.message})` };
    if (err instanceof natsErrors.TimeoutError) return { ok: false, permanent: false, error: `no PubAck within ${this.cfg.timeout_ms} ms` };
    // the stream went away (deleted, or JetStream off): look again next time
    this.streams.delete(subject);
    return { ok: false, permanent: false, error: describe(err) };
  }

  /**
   * Publishes a batch in order. An item refused for good (too large) is a permanent failure of
   * that item, one the server denied (publish permission) a retryable one. At the first other
   * retryable failure the batch stops there: the whole batch failed when it was the first item,
   * else the rest is marked for a retry (what was published stays published).
   */
  async send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome> {
    const c = await this.ready();
    const failed: ItemFailure[] = [];
    const core: { index: number; subject: string }[] = [];
    let stopAt = items.length;
    let stopError = "";
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as DeliveryItem;
      const subject = natsSubject(this.cfg.subject_prefix, item.alert);
      const data = natsPayload(item);
      let r: Published;
      try {
        if (signal.aborted) throw new DeliveryError("aborted");
        const stream = await this.streamOf(c, subject);
        if (stream !== null) {
          await c.js.publish(subject, data, { msgID: item.alert.id, headers: this.headersOf(item), timeout: this.cfg.timeout_ms });
        } else {
          c.nc.publish(subject, data, { headers: this.headersOf(item) });
          core.push({ index: i, subject });
        }
        r = { ok: true };
      } catch (err) {
        r = err instanceof DeliveryError ? { ok: false, permanent: false, error: err.message } : this.classify(err, subject, data.length, c);
      }
      if (r.ok) continue;
      if (r.permanent) failed.push({ index: i, permanent: true, error: r.error });
      else {
        if (i === 0) throw new DeliveryError(`NATS publish failed: ${r.error}`);
        stopAt = i;
        stopError = r.error;
        break;
      }
    }
    if (core.length > 0) await this.flush(c, core, failed);
    for (let i = stopAt; i < items.length; i++) failed.push({ index: i, permanent: false, error: `NATS publish failed: ${stopError}` });
    failed.sort((a, b) => a.index - b.index);
    return { failed };
  }

  /** Waits until the server processed the core publishes, then marks those it refused (publish permission) for a retry. */
  private async flush(c: Conn, core: { index: number; subject: string }[], failed: ItemFailure[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.nc.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer to the flush within ${this.cfg.timeout_ms} ms`)), this.cfg.timeout_ms);
        }),
      ]);
    } catch (err) {
      throw new DeliveryError(`NATS publish not confirmed: ${describe(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    // the server's -ERR came before its PONG; let the status watcher record it
    await new Promise((r) => setImmediate(r));
    for (const p of core) {
      const denied = c.denied.get(p.subject);
      // retried, not dead-lettered: the user's permissions are the setup's fault, not the alert's
      if (denied !== undefined) failed.push({ index: p.index, permanent: false, error: `NATS refused the publish: ${denied}` });
    }
    c.denied.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn ?? (await this.connecting?.catch(() => undefined));
    this.conn = undefined;
    if (c === undefined || c.nc.isClosed()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      c.nc.drain().catch(() => undefined),
      new Promise<void>((r) => {
        timer = setTimeout(r, 5000);
      }),
    ]);
    clearTimeout(timer);
    if (!c.nc.isClosed()) await c.nc.close();
  }
}

/** The NATS destination of a forwarder; throws a clear error for contradictory settings or unreadable secrets. */
export function createNatsDestination(cfg: ForwarderOf<"nats">, ctx: { logger: Logger }): Destination {
  return new NatsDestination(cfg, ctx.logger);
}
