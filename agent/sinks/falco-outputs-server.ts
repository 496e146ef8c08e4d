// SPDX-License-Identifier: Apache-2.0
/**
 * A Falco-compatible gRPC outputs SERVER, as a sink: tools written for Falco's gRPC outputs API
 * (client-go `OutputsWatch`, falco-exporter…) read Vigil's alerts from it. Same package, service
 * and field numbers as Falco 0.43 (`falco.outputs.service/sub`, `/get`), plus
 * `falco.version.service/version`.
 *
 * Falco's semantics are kept: one process-wide queue that clients compete for (each alert is
 * delivered once, not fanned out). `get` streams what is queued and ends; `sub` answers each
 * request with what is queued, and — unlike Falco, which waits for the next request — also
 * pushes alerts that arrive while the client is subscribed (to one subscriber, round-robin),
 * which a client-go consumer handles the same way. The queue is bounded: past `maxQueue` the
 * oldest alert is dropped and counted.
 *
 * What a client can hold is bounded (`limits`, falco-outputs-limits-schema.ts): connections,
 * concurrent streams per connection, the request size (Falco's requests are empty), subscribers,
 * and the unsent bytes of each subscriber. A subscriber that does not read is dropped (counted)
 * once its bytes reach the bound, so a stalled client never grows memory nor blocks the
 * pipeline. Who can reach it: by default a unix socket (file permissions decide, like Falco's),
 * or TCP with mTLS and/or a bearer token checked on the call's metadata before any message.
 */
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import type { Server as NetServer, Socket } from "node:net";
import { Server, ServerCredentials, status, type sendUnaryData, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { FalcoOutputsLimits, FalcoOutputsLimitsInput } from "./falco-outputs-limits-schema.js";
import { withDefaults } from "../../proto/with-defaults.js";
import { metrics as defaultMetrics, type Metrics } from "../metrics/metrics.js";
import type { ExportResult, Sink } from "./types.js";
import {
  FALCO_OUTPUTS_SERVICE,
  FALCO_VERSION_SERVICE,
  falcoProto,
  priorityNumber,
  statusCounter,
  TokenCheck,
  type Alert,
  type RefusalCounters,
} from "../../proto/index.js";
import { VERSION, versionParts } from "../version.js";

/** The limits when none are given (what `falcoOutputsLimitsSchema.parse({})` returns; falco-outputs-limits-schema.ts documents each). */
export const DEFAULT_FALCO_OUTPUTS_LIMITS: Readonly<FalcoOutputsLimits> = Object.freeze({
  max_connections: 64,
  max_receive_bytes: 4 * 1024,
  max_concurrent_streams: 8,
  max_subscribers: 16,
  subscriber_queue_bytes: 1024 * 1024,
  idle_timeout_ms: 60_000,
  keepalive_time_ms: 30_000,
  keepalive_timeout_ms: 10_000,
  handshake_timeout_ms: 10_000,
});

/** Options of {@link startFalcoOutputsServer}. */
export interface FalcoOutputsServerOptions {
  /** `unix:///run/vigil/falco.sock` or `HOST:PORT`. */
  address: string;
  /** The `output` text as the configuration renders it (Falco's time prefix); default: the alert's own. */
  renderOutput?: ((a: Alert) => string) | undefined;
  /** Optional bearer token (Falco itself uses a local socket or mTLS). */
  token?: string | undefined;
  /** mTLS like Falco's network mode: server cert/key and the CA that signs clients. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined;
  maxQueue?: number;
  logger: Logger;
  /** Connection, stream, request and subscriber bounds; missing keys take {@link DEFAULT_FALCO_OUTPUTS_LIMITS}. */
  limits?: FalcoOutputsLimitsInput | undefined;
  /** Where failures, refusals and drops are counted (`server="falco_outputs"`); defaults to the process-wide `metrics`. */
  metrics?: Metrics | undefined;
}

/** A running Falco outputs server sink. */
export interface FalcoOutputsServer extends Sink {
  /** The bound address (`unix://…` or `HOST:PORT`). */
  readonly address: string;
  stats(): Record<string, number>;
}

const SOURCES: Record<string, number> = { syscall: 0, k8s_audit: 1, internal: 2 };

/** Encodes an alert as Falco's `response` (output_fields values rendered like Falco's JSON dump()). */
export function alertToFalcoResponse(a: Alert, output: string = a.output): Buffer {
  const { response } = falcoProto();
  const ms = Date.parse(a.time.slice(0, 19) + "Z");
  const frac = /\.(\d{1,9})Z$/.exec(a.time)?.[1] ?? "0";
  const fields: Record<string, string> = {};
  for (const k in a.output_fields) {
    const v = a.output_fields[k];
    fields[k] = v === null || v === undefined ? "null" : typeof v === "string" ? v : String(v);
  }
  const msg = response
    .encode({
      time: { seconds: Number.isNaN(ms) ? 0 : Math.floor(ms / 1000), nanos: Number(frac.padEnd(9, "0")) },
      priority: priorityNumber(a.priority) ?? 7,
      source_deprecated: SOURCES[a.source] ?? 3,
      rule: a.rule,
      output,
      output_fields: fields,
      hostname: a.hostname,
      tags: a.tags,
      source: a.source,
    })
    .finish();
  return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
}

const SERVER = "falco_outputs";

interface Subscriber {
  call: ServerDuplexStream<Buffer, Buffer>;
  /** Bytes written to the call and not yet handed to the transport. */
  pending: number;
  subscribed: boolean;
}

/**
 * grpc-js offers no connection cap nor TLS handshake timeout; its bound listeners are plain
 * `net`/`tls` servers, reached here through its (private) listener map. Returns how many were
 * found, so a grpc-js that renames the map is noticed (logged) rather than silently uncapped.
 */
function listenersOf(server: Server): NetServer[] {
  const map = (server as unknown as { http2Servers?: unknown }).http2Servers;
  return map instanceof Map ? ([...map.keys()] as NetServer[]) : [];
}

/** Starts the server; resolves once it listens. */
export async function startFalcoOutputsServer(o: FalcoOutputsServerOptions): Promise<FalcoOutputsServer> {
  const log = o.logger.child({ component: "falco-outputs" });
  const m = o.metrics ?? defaultMetrics;
  // the defaults overlaid with what the caller gave (no zod in the agent: the schema is for those who validate input)
  const limits = withDefaults(DEFAULT_FALCO_OUTPUTS_LIMITS, o.limits);
  const maxQueue = o.maxQueue ?? 10_000;
  const auth = new TokenCheck(o.token);
  const queue: Buffer[] = [];
  const subs: Subscriber[] = [];
  let openSubs = 0;
  let rr = 0;
  let dropBurst = 0;
  let slowBurst = 0;
  let connDropBurst = 0;
  let lastErrorLog = 0;
  const refusals: RefusalCounters = {
    refused_unauthenticated: 0,
    refused_too_large: 0,
    refused_malformed: 0,
    refused_other: 0,
    refused_transport_or_cancelled: 0,
  };
  const c = {
    queued: 0,
    delivered: 0,
    dropped_queue_full: 0,
    subscribers: 0,
    get_calls: 0,
    subscribers_refused: 0,
    subscribers_dropped_slow: 0,
    connections_refused: 0,
    handler_errors: 0,
  };

  const authorized = (call: { metadata: { get(k: string): unknown[] } }) => {
    const h = call.metadata.get("authorization")[0];
    return auth.ok(typeof h === "string" ? h : undefined);
  };

  /** A handler failure: INTERNAL to the client, counted, logged at most every 10 s. */
  const failed = (call: { emit(e: "error", v: unknown): boolean }, err: unknown) => {
    c.handler_errors++;
    m.serverHandlerErrors.inc({ server: SERVER });
    const now = Date.now();
    if (now - lastErrorLog >= 10_000) {
      lastErrorLog = now;
      log.error({ err, handler_errors: c.handler_errors }, "Falco outputs handler failed: answered INTERNAL");
    }
    try {
      call.emit("error", { code: status.INTERNAL, details: "internal error" });
    } catch {
      // the call is already gone
    }
  };
  /** Runs `fn` so that whatever it throws ends `call` with INTERNAL. */
  const guarded =
    <A extends unknown[]>(call: { emit(e: "error", v: unknown): boolean }, fn: (...a: A) => void) =>
    (...a: A): void => {
      try {
        fn(...a);
      } catch (err) {
        failed(call, err);
      }
    };

  const leave = (sub: Subscriber) => {
    const i = subs.indexOf(sub);
    if (i >= 0) subs.splice(i, 1);
    c.subscribers = subs.length;
  };

  /** Writes to a subscriber, keeping count of the bytes the transport has not taken yet. */
  const writeTo = (sub: Subscriber, buf: Buffer) => {
    sub.pending += buf.length;
    sub.call.write(buf, () => {
      sub.pending -= buf.length;
    });
    c.delivered++;
  };

  const dropSlow = (sub: Subscriber) => {
    leave(sub);
    c.subscribers_dropped_slow++;
    m.serverSubscribersDropped.inc({ server: SERVER, reason: "slow" });
    if (slowBurst++ === 0)
      log.warn({ subscriber_queue_bytes: limits.subscriber_queue_bytes }, "Falco outputs subscriber not reading: dropped (its queue is full)");
    try {
      sub.call.emit("error", { code: status.RESOURCE_EXHAUSTED, details: "subscriber too slow: its queue is full" });
    } catch {
      // already closed
    }
  };

  const server = new Server({
    interceptors: [statusCounter(refusals)],
    "grpc.max_receive_message_length": limits.max_receive_bytes,
    "grpc.max_concurrent_streams": limits.max_concurrent_streams,
    "grpc.max_connection_idle_ms": limits.idle_timeout_ms,
    "grpc.keepalive_time_ms": limits.keepalive_time_ms,
    "grpc.keepalive_timeout_ms": limits.keepalive_timeout_ms,
  });
  server.addService(FALCO_OUTPUTS_SERVICE, {
    get: (call: ServerWritableStream<Buffer, Buffer>) => {
      guarded(call, () => {
        if (!authorized(call)) {
          call.emit("error", { code: status.UNAUTHENTICATED, details: "missing or bad bearer token" });
          return;
        }
        try {
          falcoProto().request.decode(call.request);
        } catch {
          call.emit("error", { code: status.INVALID_ARGUMENT, details: "malformed request" });
          return;
        }
        c.get_calls++;
        while (queue.length > 0) {
          call.write(queue.shift()!);
          c.delivered++;
        }
        call.end();
      })();
    },
    sub: (call: ServerDuplexStream<Buffer, Buffer>) => {
      guarded(call, () => {
        if (!authorized(call)) {
          call.emit("error", { code: status.UNAUTHENTICATED, details: "missing or bad bearer token" });
          return;
        }
        if (openSubs >= limits.max_subscribers) {
          c.subscribers_refused++;
          m.serverRequestsRefused.inc({ server: SERVER, reason: "subscribers_full" });
          call.emit("error", { code: status.RESOURCE_EXHAUSTED, details: `too many subscribers (limit ${limits.max_subscribers})` });
          return;
        }
        openSubs++;
        let closed = false;
        let released = false;
        const sub: Subscriber = { call, pending: 0, subscribed: false };
        const close = () => {
          closed = true;
          leave(sub);
        };
        // the slot is freed when the stream is gone, not when it is told to end: a dropped slow
        // subscriber still holds its unsent bytes until then, so the cap bounds those too
        const release = () => {
          close();
          if (released) return;
          released = true;
          openSubs--;
        };
        call.on(
          "data",
          guarded(call, (b: Buffer) => {
            if (closed) return;
            try {
              falcoProto().request.decode(b);
            } catch {
              close();
              call.emit("error", { code: status.INVALID_ARGUMENT, details: "malformed request" });
              return;
            }
            // what is queued, as far as this subscriber's bound allows (the rest stays queued)
            while (queue.length > 0 && sub.pending < limits.subscriber_queue_bytes) writeTo(sub, queue.shift()!);
            if (!sub.subscribed) {
              sub.subscribed = true;
              subs.push(sub);
              c.subscribers = subs.length;
            }
          }),
        );
        call.on(
          "end",
          guarded(call, () => {
            close();
            call.end();
          }),
        );
        call.on("error", close);
        call.on("cancelled", release);
        call.on("finish", release);
        call.on("close", release);
      })();
    },
  });
  server.addService(FALCO_VERSION_SERVICE, {
    version: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      try {
        const { versionResponse } = falcoProto();
        const vp = versionParts();
        if (!authorized(call)) return cb({ code: status.UNAUTHENTICATED, details: "missing or bad bearer token" });
        const v = versionResponse
          .encode({
            version: `${VERSION}+vigil`,
            major: vp.major,
            minor: vp.minor,
            patch: vp.patch,
            prerelease: vp.prerelease,
            build: "vigil",
            engine_major: 0,
            engine_minor: 62,
            engine_patch: 0,
            engine_version: "0.62.0",
            engine_fields_checksum: "",
          })
          .finish();
        cb(null, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      } catch (err) {
        c.handler_errors++;
        m.serverHandlerErrors.inc({ server: SERVER });
        log.error({ err }, "Falco version handler failed: answered INTERNAL");
        cb({ code: status.INTERNAL, details: "internal error" });
      }
    },
  });

  if (o.address.startsWith("unix://")) {
    const path = o.address.replace(/^unix:\/\//, "");
    // a socket left by a dead process is replaced; any other file is never deleted
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
      unlinkSync(path);
    }
  }
  const creds = o.tls
    ? ServerCredentials.createSsl(o.tls.ca ?? null, [{ private_key: o.tls.key, cert_chain: o.tls.cert }], o.tls.ca !== undefined)
    : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(o.address, creds, (err, p) => (err ? reject(err) : resolve(p))));
  const address = o.address.startsWith("unix:") ? o.address : o.address.replace(/:0$/, `:${port}`);

  const listeners = listenersOf(server);
  if (listeners.length === 0) log.warn("grpc-js listeners not found: the connection cap and handshake timeout are not applied");
  let open = 0;
  for (const l of listeners) {
    l.maxConnections = limits.max_connections;
    (l as NetServer & { handshakeTimeout?: number }).handshakeTimeout = limits.handshake_timeout_ms;
    l.on("drop", () => {
      c.connections_refused++;
      m.serverConnectionsRefused.inc({ server: SERVER });
      if (connDropBurst++ === 0) log.warn({ max_connections: limits.max_connections }, "connection limit reached: new connections are closed at accept");
    });
    l.on("connection", (sock: Socket) => {
      if (connDropBurst > 0 && open < limits.max_connections / 2) {
        log.info({ refused: connDropBurst }, "connection limit: accepting connections again");
        connDropBurst = 0;
      }
      open++;
      m.serverConnections.inc({ server: SERVER });
      sock.once("close", () => {
        open--;
        m.serverConnections.dec({ server: SERVER });
      });
    });
  }
  log.info({ address }, "Falco gRPC outputs server listening");
  let stopping: Promise<void> | undefined;

  return {
    name: "falco-grpc-outputs",
    address,
    async export(batch: readonly Alert[]): Promise<ExportResult> {
      for (const a of batch) {
        const buf = alertToFalcoResponse(a, o.renderOutput?.(a) ?? a.output);
        let sent = false;
        while (subs.length > 0) {
          const sub = subs[rr++ % subs.length]!;
          if (sub.pending + buf.length > limits.subscriber_queue_bytes) {
            dropSlow(sub);
            continue;
          }
          writeTo(sub, buf);
          sent = true;
          if (slowBurst > 0) {
            log.info({ dropped: slowBurst }, "Falco outputs subscribers reading again");
            slowBurst = 0;
          }
          break;
        }
        if (sent) continue;
        if (queue.length >= maxQueue) {
          queue.shift();
          c.dropped_queue_full++;
          if (dropBurst++ === 0) log.warn({ maxQueue }, "Falco outputs queue full (no consumer): dropping the oldest alerts");
        } else if (dropBurst > 0 && queue.length < maxQueue / 2) {
          log.info({ dropped: dropBurst }, "Falco outputs queue has room again");
          dropBurst = 0;
        }
        queue.push(buf);
        c.queued++;
      }
      return { ok: true };
    },
    async forceFlush() {},
    shutdown() {
      // once: the pipeline stops its sinks, and an owner (grpc-output.ts) may close it too
      stopping ??= (async () => {
        for (const s of subs.splice(0)) s.call.end();
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 1000);
          server.tryShutdown(() => {
            clearTimeout(t);
            resolve();
          });
        });
      })();
      return stopping;
    },
    stats: () => ({ ...c, backlog: queue.length, ...refusals }),
  };
}

export type { FalcoOutputsLimits, FalcoOutputsLimitsInput } from "./falco-outputs-limits-schema.js";
