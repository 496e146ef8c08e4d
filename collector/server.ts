// SPDX-License-Identifier: Apache-2.0
/**
 * `startCollector`: the whole collector in one process (the `vigil collector` command, or
 * embedded in the agent). One public port carries both protocols: each new connection's first
 * bytes decide — the HTTP/2 preface goes to the gRPC ingest server (grpc-js, bound on loopback
 * to an ephemeral port), anything else to the HTTP/1.1 server (query API, Falco `http_output`,
 * WebSocket tail). With TLS, the public port terminates TLS first.
 *
 * What a client can make it hold is bounded before authentication (limits.ts has every value):
 * - connections: `max_connections` in all and `max_connections_per_ip`, counted on the raw TCP
 *   connection before TLS or any protocol; over a cap it is closed at once (counted, one log
 *   line per burst). The first bytes must come within `first_bytes_timeout_ms`.
 * - HTTP/1: Node's header, request and keep-alive timeouts and header size from the limits;
 *   bodies bounded by `max_body_bytes` and the in-flight budget (http-api.ts).
 * - HTTP/2: a proxied connection whose client sends nothing for `idle_timeout_ms` is closed
 *   (grpc-js itself closes sessions idle without calls, and pings with keepalive); streams per
 *   connection capped by `max_concurrent_streams`; the receive limit is `max_message_bytes`.
 * - gRPC memory: the token is checked on the metadata, before grpc-js reads the message; an
 *   accepted call reserves `max_message_bytes` (the most grpc-js may buffer for it) from the
 *   in-flight budget `inflight_bytes` shared with HTTP bodies, until it ends (grpc-guard.ts).
 *   Each gRPC connection costs three descriptors (client, proxy, grpc-js side).
 */
import type { Server as HttpServer } from "node:http";
import { createServer as createHttpServer } from "../proto/node-http.js";
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { Server as GrpcServer, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { CollectorError } from "./errors.js";
import { AuthFailureLimiter } from "./auth-limiter.js";
import { ByteBudget } from "./byte-budget.js";
import { grpcGuard, type GrpcGuardCounters } from "./grpc-guard.js";
import { BurstLog } from "./burst-log.js";
import { ConnectionLimiter, FDS_PER_CONNECTION, openFileLimit } from "./conn-limit.js";
import { makeHttpApi, type HttpCounters } from "./http-api.js";
import { makeIngestHandler, storeTarget, type IngestCounters } from "./ingest.js";
import { AlertStore } from "./store.js";
import type { AlertReader, MaybePromise } from "./store-api.js";
import type { FleetOptions, RunningFleet } from "./fleet/index.js";
import type { DestinationFactory, ForwarderSet } from "./forward/index.js";
import { TailHub } from "./tail-hub.js";
import type { CloudWatchAuditOptions, CloudWatchAuditReader } from "./k8s-audit/cloudwatch.js";
import { auditIntakeCounters, cloudwatchAuditCounters } from "./k8s-audit/counters.js";
import { AuditIntake } from "./k8s-audit/intake.js";
import type { AuditRules } from "./k8s-audit/types.js";
import { makeAuditWebhook } from "./k8s-audit/webhook.js";
import { ConsoleStatic, defaultConsoleDirs } from "./console/static.js";
import { Roles, SessionStore } from "./console/session.js";
import {
  collectorLimits,
  INGEST_SERVICE,
  isLoopbackHost,
  parseHostPort,
  TokenCheck,
  validateAlert,
  WS_PROTOCOL,
  type Alert,
  type CollectorLimitsInput,
  type ForwarderConfig,
} from "../proto/index.js";

/** Options of {@link startCollector}. */
export interface CollectorOptions {
  /** `HOST:PORT`; port 0 picks a free one. */
  listen: string;
  /** Store directory, or `:memory:` (the embedded SQLite store; unused with `fleet`). */
  dataDir: string;
  /** Forwarders (`forwarders:` of the configuration): each delivers stored alerts to a destination with a cursor. */
  forwarders?: readonly ForwarderConfig[] | undefined;
  /** Makes their destinations (default: forward/registry.ts). */
  createDestination?: DestinationFactory | undefined;
  /** Fleet mode: NATS JetStream in, PostgreSQL store (fleet/index.ts). */
  fleet?: Omit<FleetOptions, "logger" | "retentionMs"> | undefined;
  /** Bearer token (the command line resolves --token, a token file or VIGIL_TOKEN). Required for non-loopback binds unless `insecure`. */
  token?: string | undefined;
  /** Read-only token (role `read`: GETs and the live tail, no ingest); needs `token`, and must differ from it. */
  readToken?: string | undefined;
  /** Console sessions: most held at once (least recently used dropped) and their lifetime from login. */
  sessions?: { maxSessions?: number; ttlMs?: number } | undefined;
  /** Allow a non-loopback bind without a token. */
  insecure?: boolean;
  /**
   * PEM certificate and key: serve TLS on the public port. With `clientCa` (PEM), clients may
   * present a certificate signed by that CA: such a client is authenticated on Falco's
   * `http_output` route without a bearer token (a stock Falco has no token setting, only mTLS);
   * a certificate that does not verify closes the connection (counted); no certificate, the token.
   */
  tls?: { cert: Buffer | string; key: Buffer | string; clientCa?: Buffer | string | undefined } | undefined;
  /** Delete alerts older than this (ms, by alert time); 0 = keep forever. Default 7 days. */
  retentionMs?: number;
  /** Every limit and timeout (proto/collector-limits.ts); missing keys take their defaults. */
  limits?: CollectorLimitsInput | undefined;
  /** Largest accepted PushRequest (bytes); overrides `limits.max_message_bytes`. */
  maxMessageBytes?: number;
  /** Unsent bytes a tail client may have before it is dropped; overrides `limits.tail_queue_bytes`. */
  tailQueueBytes?: number;
  /** Where the web console's build is (default: dist/console beside the compiled collector, or the repository's). */
  consoleDir?: string | undefined;
  /** The `k8s_audit` source: `POST /k8s-audit` (404 without it) and the CloudWatch Logs reader. */
  k8sAudit?: K8sAuditOptions | undefined;
  logger: Logger;
}

/** Options of the collector's `k8s_audit` source (collector/k8s-audit/). */
export interface K8sAuditOptions {
  /** The `k8s_audit` rules (loaded by the command line); none: events are counted, never alerted on. */
  rules?: AuditRules | undefined;
  /** Alerts' `hostname` when the source names no cluster (default "kubernetes"). */
  cluster?: string | undefined;
  /** Largest `POST /k8s-audit` body (default 12 MiB). */
  maxBodyBytes?: number | undefined;
  /** Read an EKS cluster's audit log group from CloudWatch Logs; the position file defaults to `<data>/k8s-audit-cloudwatch.json`. */
  cloudwatch?: (Omit<CloudWatchAuditOptions, "positionFile"> & { positionFile?: string | undefined }) | undefined;
}

/** A running collector. */
export interface RunningCollector {
  /** `HOST:PORT` actually bound. */
  address: string;
  /** The store queries read (SQLite's AlertStore, or PgAlertStore in fleet mode). */
  store: AlertReader;
  /** Stores alerts from an in-process producer (Falco source, embedded agent) like an ingest. */
  ingest(alerts: Alert[]): MaybePromise<{ stored: number; duplicates: number; invalid: number }>;
  stats(): Record<string, number>;
  /** Puts new `k8s_audit` rules in force (SIGHUP); throws when the collector has no k8s_audit source. */
  setAuditRules(rules: AuditRules): void;
  close(): Promise<void>;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0");
/** The k8s_audit counters of a collector without that source (always reported, as zeros). */
const NO_AUDIT_COUNTERS = Object.freeze(auditIntakeCounters());
const NO_CLOUDWATCH_COUNTERS = Object.freeze(cloudwatchAuditCounters());

/** Starts a collector; resolves once it listens. */
export async function startCollector(opts: CollectorOptions): Promise<RunningCollector> {
  const logger = opts.logger.child({ component: "collector" });
  const { host, port } = parseHostPort(opts.listen);
  const token = opts.token;
  if (!isLoopbackHost(host) && (token === undefined || token === "") && opts.insecure !== true)
    throw new CollectorError("unauthenticated", `a token is required to listen on ${host} (--token or VIGIL_TOKEN)`);
  const auth = new TokenCheck(token);
  const roles = new Roles(token, opts.readToken);
  const sessions = new SessionStore(opts.sessions);
  const limits = collectorLimits({
    ...opts.limits,
    ...(opts.maxMessageBytes !== undefined ? { max_message_bytes: opts.maxMessageBytes } : {}),
    ...(opts.tailQueueBytes !== undefined ? { tail_queue_bytes: opts.tailQueueBytes } : {}),
  });
  const maxMessageBytes = limits.max_message_bytes;
  const nofile = openFileLimit();
  // past the descriptor limit, accept() fails and connections are dropped with no answer or log line
  const fdsNeeded = limits.max_connections * FDS_PER_CONNECTION + 64;
  if (nofile !== undefined && nofile < fdsNeeded)
    logger.warn(
      { openFileLimit: nofile, maxConnections: limits.max_connections, fdsNeeded },
      "open-file limit is below what max_connections needs (3 descriptors per gRPC connection): raise ulimit -n or lower collector.limits.max_connections",
    );
  const budget = new ByteBudget(limits.inflight_bytes);
  const limiter = new AuthFailureLimiter(limits.auth_failures_per_minute);

  const retentionMs = opts.retentionMs ?? 7 * 86_400_000;
  // the NATS and PostgreSQL clients load only in fleet mode (the embedded collector never needs them)
  let fleet: RunningFleet | undefined;
  if (opts.fleet !== undefined) {
    const { startFleet } = await import("./fleet/index.js");
    fleet = await startFleet({ ...opts.fleet, retentionMs, logger });
  }
  const sqlite = fleet === undefined ? new AlertStore({ dataDir: opts.dataDir }) : undefined;
  const store: AlertReader = fleet?.store ?? sqlite!;
  const hub = new TailHub(
    store,
    fleet?.floor ?? sqlite!.maxSeq(),
    logger.child({ component: "tail" }),
    limits.tail_queue_bytes,
    limits.page_bytes,
    limits.keepalive_time_ms,
  );
  fleet?.feed.attach(hub);
  let forwarders: ForwarderSet | undefined;
  if ((opts.forwarders ?? []).some((f) => f.enabled)) {
    const { ForwarderSet } = await import("./forward/index.js");
    const createDestination = opts.createDestination ?? (await import("./forward/registry.js")).createDestination;
    forwarders = await ForwarderSet.start({
      forwarders: opts.forwarders ?? [],
      store: fleet?.store ?? sqlite!,
      watermark: () => hub.watermark,
      createDestination,
      logger,
    });
    const f = forwarders;
    hub.onAdvance(() => f.wake());
  }
  const ingestCounters: IngestCounters = {
    requests: 0,
    alerts_stored: 0,
    alerts_duplicate: 0,
    alerts_invalid: 0,
    captures_stored: 0,
    captures_duplicate: 0,
    captures_invalid: 0,
    captures_orphan_refused: 0,
    captures_orphan_stored: 0,
    store_errors: 0,
    internal_errors: 0,
  };
  const refusals: GrpcGuardCounters = {
    refused_unauthenticated: 0,
    refused_too_large: 0,
    refused_malformed: 0,
    refused_other: 0,
    refused_transport_or_cancelled: 0,
    auth_rate_limited: 0,
    inflight_refused: 0,
    grpc_internal_errors: 0,
    grpc_call_timeouts: 0,
  };
  const httpCounters: HttpCounters = {
    http_requests: 0,
    http_unauthenticated: 0,
    http_bad_request: 0,
    http_too_large: 0,
    http_not_found: 0,
    falco_http_alerts: 0,
    falco_http_duplicates: 0,
    ws_refused: 0,
    http_internal_errors: 0,
    http_timeouts: 0,
    http_client_cert_authenticated: 0,
    http_forbidden: 0,
    console_logins: 0,
    console_login_failures: 0,
  };
  const misc = {
    retention_deleted: 0,
    connections: 0,
    connections_idle_closed: 0,
    connections_refused_limit: 0,
    connections_refused_per_ip: 0,
    connection_errors: 0,
    tls_handshake_failed: 0,
    tls_client_cert_refused: 0,
    listener_errors: 0,
    local_alerts: 0,
  };
  const stats = (): Record<string, number> => ({
    ...ingestCounters,
    ...(audit?.counters ?? NO_AUDIT_COUNTERS),
    ...(auditReader?.counters ?? NO_CLOUDWATCH_COUNTERS),
    ...refusals,
    ...httpCounters,
    ...hub.counters,
    ...misc,
    connections_open: conns.open,
    console_sessions: sessions.size,
    inflight_bytes_in_use: budget.inUse,
    inflight_bytes_high_water: budget.highWater,
    ...fleet?.stats(),
  });
  const target = fleet?.target ?? storeTarget(sqlite!, (s) => hub.publish(s), limits.orphan_captures);

  const ingest = (alerts: Alert[]): MaybePromise<{ stored: number; duplicates: number; invalid: number }> => {
    const good = alerts.filter((a) => validateAlert(a) === undefined);
    const invalid = alerts.length - good.length;
    if (fleet !== undefined)
      return fleet.ingest(good).then((r) => {
        misc.local_alerts += r.stored;
        return { ...r, invalid };
      });
    const r = sqlite!.insert(good);
    misc.local_alerts += r.inserted.length;
    if (r.inserted.length > 0) hub.publish(r.inserted);
    return { stored: r.inserted.length, duplicates: r.duplicates, invalid };
  };

  // the k8s_audit source: its alerts take the same ingest path as every other alert
  let audit: AuditIntake | undefined;
  let auditReader: CloudWatchAuditReader | undefined;
  const ka = opts.k8sAudit;
  if (ka !== undefined) {
    audit = new AuditIntake({ rules: ka.rules, ingest, logger: logger.child({ component: "k8s-audit" }), cluster: ka.cluster });
    if (ka.cloudwatch !== undefined) {
      const dataDir = opts.dataDir;
      const positionFile =
        ka.cloudwatch.positionFile !== undefined && ka.cloudwatch.positionFile !== ""
          ? ka.cloudwatch.positionFile
          : dataDir !== "" && dataDir !== ":memory:"
            ? join(dataDir, "k8s-audit-cloudwatch.json")
            : undefined;
      if (positionFile === undefined)
        throw new Error("the CloudWatch audit reader needs a place for its read position: --data DIR or k8s_audit.cloudwatch.position_file");
      const { CloudWatchAuditReader } = await import("./k8s-audit/cloudwatch.js");
      auditReader = new CloudWatchAuditReader({ ...ka.cloudwatch, positionFile }, audit, logger);
    }
  }

  // gRPC on loopback, reached through the public port
  // the public port's proxy connects from loopback; it records which client each connection is for
  const proxiedClients = new Map<number, string>();
  const clientIp = (peer: string): string => {
    const i = peer.lastIndexOf(":");
    const ip = proxiedClients.get(Number(peer.slice(i + 1)));
    return ip ?? (i > 0 ? peer.slice(0, i) : peer);
  };
  const grpc = new GrpcServer({
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_concurrent_streams": limits.max_concurrent_streams,
    "grpc.keepalive_time_ms": limits.keepalive_time_ms,
    "grpc.keepalive_timeout_ms": limits.keepalive_timeout_ms,
    "grpc.max_connection_idle_ms": limits.idle_timeout_ms,
    interceptors: [
      grpcGuard({ auth, limiter, budget, reserveBytes: maxMessageBytes, callTimeoutMs: limits.request_timeout_ms, clientIp, counters: refusals, logger }),
    ],
  });
  grpc.addService(INGEST_SERVICE, {
    Push: makeIngestHandler({ target, auth, maxMessageBytes, counters: ingestCounters, logger }),
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpc.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  // the server answers with this subprotocol when the client offers it, never with the token one
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.ws_max_payload,
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  const http: HttpServer = createHttpServer({
    headersTimeout: Math.min(limits.headers_timeout_ms, limits.request_timeout_ms),
    requestTimeout: limits.request_timeout_ms,
    keepAliveTimeout: limits.keep_alive_timeout_ms,
    maxHeaderSize: limits.max_header_bytes,
    // Node checks header/request timeouts on this period (default 30 s): a fifth of the shortest
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(limits.headers_timeout_ms, limits.request_timeout_ms) / 5))),
  });
  const api = makeHttpApi({
    store,
    hub,
    wss,
    roles,
    sessions,
    tls: opts.tls !== undefined,
    limiter,
    budget,
    logger,
    counters: httpCounters,
    shared: refusals,
    hostname: osHostname(),
    ingest,
    stats,
    maxBodyBytes: limits.max_body_bytes,
    maxTailClients: limits.max_tail_clients,
    forwarders,
    queryLimits: limits,
    clientCertAuth: opts.tls?.clientCa !== undefined,
    k8sAudit: audit !== undefined ? makeAuditWebhook(audit, ka?.maxBodyBytes) : undefined,
    console: new ConsoleStatic(opts.consoleDir !== undefined ? [opts.consoleDir] : defaultConsoleDirs(), (err) =>
      logger.error({ err }, "console build unreadable: GET / answers 503"),
    ),
  });
  // this server never listens (connections are handed to it), and Node starts the periodic
  // header/request timeout check on "listening": without this, those timeouts never fire
  http.emit("listening");
  http.on("request", api.request);
  http.on("upgrade", api.upgrade);
  http.on("clientError", api.clientError);

  const sockets = new Set<Socket>();
  const conns = new ConnectionLimiter(limits.max_connections, limits.max_connections_per_ip);
  const limitLog = new BurstLog(logger, "connection limit reached: new connections refused");
  const perIpLog = new BurstLog(logger, "per-address connection limit reached: new connections from it refused");
  const idleLog = new BurstLog(logger, "idle connections closed");
  let routeErrorLogged = false;

  // Counted before TLS or any protocol: over a cap, the connection is closed at once.
  const admit = (socket: Socket): boolean => {
    const ip = socket.remoteAddress ?? "unknown";
    const why = conns.admit(ip);
    if (why !== undefined) {
      if (why === "limit") {
        misc.connections_refused_limit++;
        limitLog.hit({ open: conns.open, limit: limits.max_connections });
      } else {
        misc.connections_refused_per_ip++;
        perIpLog.hit({ ip, limit: limits.max_connections_per_ip });
      }
      socket.on("error", () => undefined);
      socket.destroy();
      return false;
    }
    misc.connections++;
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      conns.release(ip);
    });
    return true;
  };

  const closeIdle = (socket: Socket) => {
    misc.connections_idle_closed++;
    idleLog.hit({});
    socket.destroy();
  };

  // grpc-js closes sessions idle without calls; this also closes a client that went silent
  // before its SETTINGS or in the middle of a message. Only the client's bytes count (a live
  // client answers keepalive pings), not ours: a server ping to a dead client is no activity.
  const silenceTimer = (socket: Socket, ms: number) => {
    let last = Date.now();
    socket.on("data", () => (last = Date.now()));
    let timer: NodeJS.Timeout;
    const check = () => {
      const quiet = Date.now() - last;
      if (quiet >= ms) closeIdle(socket);
      else timer = setTimeout(check, ms - quiet);
    };
    timer = setTimeout(check, ms);
    socket.once("close", () => clearTimeout(timer));
  };

  // HTTP/2 preface → the gRPC server through a loopback connection; anything else → HTTP/1.1
  const dispatch = (socket: Socket, head: Buffer) => {
    if (head.subarray(0, PREFACE.length).equals(PREFACE)) {
      const up = connect(grpcPort, "127.0.0.1");
      up.setNoDelay(true);
      sockets.add(up);
      let upPort = 0;
      up.once("connect", () => {
        upPort = up.localPort ?? 0;
        proxiedClients.set(upPort, socket.remoteAddress ?? "unknown");
      });
      up.on("close", () => {
        sockets.delete(up);
        if (upPort !== 0) proxiedClients.delete(upPort);
      });
      up.on("error", () => socket.destroy());
      socket.on("close", () => up.destroy());
      up.on("close", () => socket.destroy());
      silenceTimer(socket, limits.idle_timeout_ms);
      up.write(head);
      socket.pipe(up);
      up.pipe(socket);
      socket.resume();
    } else {
      socket.unshift(head);
      http.emit("connection", socket);
      socket.resume();
    }
  };

  // `socket` was admitted (net: just now; TLS: its raw connection)
  const route = (socket: Socket) => {
    socket.on("error", () => undefined);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    // a connection that never says which protocol it speaks is closed (slowloris)
    const idle = setTimeout(() => closeIdle(socket), limits.first_bytes_timeout_ms);
    idle.unref();
    socket.once("close", () => clearTimeout(idle));
    const onData = (chunk: Buffer) => {
      try {
        head = Buffer.concat([head, chunk]);
        if (head.length < PREFACE.length && PREFACE.subarray(0, head.length).equals(head)) return;
        socket.off("data", onData);
        clearTimeout(idle);
        socket.pause();
        dispatch(socket, head);
      } catch (err) {
        misc.connection_errors++;
        if (!routeErrorLogged) {
          routeErrorLogged = true;
          logger.error({ err }, "connection routing failed (logged once)");
        }
        socket.destroy();
      }
    };
    socket.on("data", onData);
  };

  let front: NetServer;
  if (opts.tls) {
    // The server's order wins: a client offering both gets HTTP/1.1, so the HTTP API answers it.
    // gRPC clients offer only h2 and still get it. With h2 first, the kubelet's HTTPS probe (Go
    // offers h2 and http/1.1) and curl-based clients sent HTTP/2 GET /healthz to grpc-js: 415.
    // With a client CA the certificate is asked for but not required (rejectUnauthorized: false):
    // a client without one still comes in with a token. One that presents a certificate that
    // does not verify against the CA is closed as soon as the handshake ends, before any byte
    // of HTTP or gRPC is read (counted, one log line per burst).
    const clientCa = opts.tls.clientCa;
    const certRefusedLog = new BurstLog(logger, "client certificate not signed by the client CA (or expired): connection closed");
    front = createTlsServer(
      {
        cert: opts.tls.cert,
        key: opts.tls.key,
        ALPNProtocols: ["http/1.1", "h2"],
        handshakeTimeout: limits.first_bytes_timeout_ms,
        ...(clientCa !== undefined ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}),
      },
      (socket: TLSSocket) => {
        if (clientCa !== undefined && !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
          misc.tls_client_cert_refused++;
          certRefusedLog.hit({ ip: socket.remoteAddress, reason: String(socket.authorizationError) });
          socket.on("error", () => undefined);
          socket.destroy();
          return;
        }
        route(socket);
      },
    );
    // the caps apply to the raw TCP connection, before the TLS handshake costs anything
    front.on("connection", (raw: Socket) => {
      raw.on("error", () => undefined);
      admit(raw);
    });
    front.on("tlsClientError", () => misc.tls_handshake_failed++);
  } else
    front = createNetServer((socket) => {
      if (admit(socket)) route(socket);
    });
  // accept errors (EMFILE...) repeat for every attempt: one line per burst
  const acceptLog = new BurstLog(logger, "listener error");
  front.on("error", (err) => {
    misc.listener_errors++;
    acceptLog.hit({ err });
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(port, host, () => {
      front.off("error", reject);
      resolve();
    });
  });
  const addr = front.address();
  const boundPort = typeof addr === "object" && addr !== null ? addr.port : port;
  const address = host.includes(":") ? `[${host}]:${boundPort}` : `${host}:${boundPort}`;

  const runRetention = async () => {
    if (retentionMs <= 0) return;
    try {
      const r = await store.applyRetention(retentionMs);
      misc.retention_deleted += r.removed;
      if (r.removed > 0) logger.info({ deleted: r.removed }, "retention applied");
      for (const u of r.unsent)
        logger.warn(
          { forwarder: u.forwarder, alerts: u.alerts },
          "retention deleted alerts this forwarder had not reached (it lags more than the retention): lost to it, but for the page it holds",
        );
    } catch (err) {
      logger.error({ err }, "retention failed");
    }
  };
  await runRetention();
  const retentionTimer = setInterval(() => void runRetention(), 60_000);
  retentionTimer.unref();
  await auditReader?.start();

  logger.info(
    {
      address,
      tls: opts.tls !== undefined,
      clientCa: opts.tls?.clientCa !== undefined,
      auth: auth.required,
      ...(fleet !== undefined ? { store: "postgres", nats: opts.fleet?.servers } : { dataDir: opts.dataDir }),
    },
    "collector listening",
  );

  let closed = false;
  return {
    address,
    store,
    ingest,
    stats,
    setAuditRules: (rules: AuditRules) => {
      if (audit === undefined) throw new CollectorError("not_found", "this collector has no k8s_audit source");
      audit.setRules(rules);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(retentionTimer);
      await auditReader?.stop();
      audit?.close();
      hub.closeAll();
      await forwarders?.stop();
      const stopped = new Promise<void>((resolve) => front.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await stopped;
      http.close();
      grpc.forceShutdown();
      wss.close();
      if (fleet !== undefined) await fleet.close();
      else sqlite!.close();
    },
  };
}
