// SPDX-License-Identifier: Apache-2.0
/**
 * gRPC client of the collector's ingest service (`vigil.collector.v1.Ingest/Push`), with the
 * bearer token in the `authorization` metadata and optional TLS.
 */
import { Metadata, credentials, makeGenericClientConstructor, status, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";
import { SinkError } from "./errors.js";
import { alertToProto, INGEST_SERVICE, vigilProto, type Alert } from "../../proto/index.js";
import { getCACertificates } from "node:tls";

/** A capture to ship: gzip'd msgpack of the events around an alert. */
export interface CaptureUpload {
  alertId: string;
  data: Uint8Array;
  eventCount: number;
  containerId: string;
}

/** The collector's answer to one push. */
export interface PushResult {
  ackedIds: string[];
  ackedCaptureIds: string[];
  rejected: { id: string; reason: string }[];
}

/**
 * How the collector sink ships a spooled batch: gRPC to a collector ({@link CollectorClient}) or
 * JetStream publishes (NatsPushClient, nats-client.ts). `push` rejects with a SinkError
 * (`refused`: the batch holds a record never accepted; anything else: retry the batch).
 */
export interface PushTransport {
  push(alerts: readonly Alert[], captures: readonly CaptureUpload[], agent?: string): Promise<PushResult>;
  close(): void | Promise<void>;
  /** Transport counters (merged into the sink's stats). */
  stats?(): Record<string, number>;
}

/** Options of {@link CollectorClient}. */
export interface CollectorClientOptions {
  /** `HOST:PORT`. */
  address: string;
  /** Bearer token, or a function asked before each push (a token file that may appear or rotate). */
  token?: string | (() => string | undefined) | undefined;
  /**
   * PEM CA certificate(s): connect with TLS, verifying the collector against them. A function is
   * asked before each push (a CA file that may appear or rotate): the connection is remade when
   * the bytes change, and while it returns undefined pushes fail (never in plaintext).
   */
  tlsCa?: Buffer | (() => Buffer | undefined) | undefined;
  /** Connect with TLS even without `tlsCa`, verifying against Node's default roots (bundled, NODE_EXTRA_CA_CERTS, --use-system-ca). */
  tls?: boolean | undefined;
  /** Deadline of one push (ms). Default 10 s. */
  timeoutMs?: number;
}

const IngestClient = makeGenericClientConstructor(INGEST_SERVICE, "Ingest");

/** The generic gRPC client of the Ingest service (bytes in, bytes out). */
type IngestStub = Client & {
  Push(body: Buffer, meta: Metadata, options: CallOptions, cb: (err: ServiceError | null, resp?: Buffer) => void): void;
};

/** Pushes batches to a collector. */
export class CollectorClient implements PushTransport {
  private client: IngestStub | undefined;
  private clientCa: Buffer | undefined;
  private readonly address: string;
  private readonly caOf: (() => Buffer | undefined) | undefined;
  private meta = new Metadata();
  private metaToken: string | undefined;
  private readonly tokenOf: () => string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: CollectorClientOptions) {
    this.address = opts.address;
    const token = opts.token;
    this.tokenOf = typeof token === "function" ? token : () => token;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    if (typeof opts.tlsCa === "function") {
      this.caOf = opts.tlsCa;
      return;
    }
    // without a CA of its own, TLS verifies against Node's default roots: the bundled ones,
    // NODE_EXTRA_CA_CERTS and, with --use-system-ca, the system's (grpc-js alone would not read them)
    const roots = opts.tlsCa ?? (opts.tls === true ? Buffer.from(getCACertificates("default").join("\n")) : undefined);
    this.client = this.connect(roots);
  }

  private connect(roots: Buffer | undefined): IngestStub {
    const creds = roots ? credentials.createSsl(roots) : credentials.createInsecure();
    return new IngestClient(this.address, creds, {
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5000,
    }) as unknown as IngestStub;
  }

  /** The channel for this push: with a CA source, remade when the CA changed; undefined without a CA. */
  private channel(): IngestStub | undefined {
    if (this.caOf === undefined) return this.client;
    const ca = this.caOf();
    if (ca === undefined) return undefined;
    if (this.client === undefined || this.clientCa === undefined || !ca.equals(this.clientCa)) {
      this.client?.close();
      this.client = this.connect(ca);
      this.clientCa = ca;
    }
    return this.client;
  }

  /** Sends one batch; rejects with a SinkError (`unauthenticated`, `refused` or `send_failed`). */
  push(alerts: readonly Alert[], captures: readonly CaptureUpload[], agent = ""): Promise<PushResult> {
    const { PushRequest, PushResponse } = vigilProto();
    const msg = PushRequest.encode({
      alerts: alerts.map(alertToProto),
      captures: captures.map((c) => ({ alert_id: c.alertId, data: c.data, event_count: c.eventCount, container_id: c.containerId })),
      agent,
    }).finish();
    return this.pushRaw(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength)).then((buf) => {
      const r = PushResponse.toObject(PushResponse.decode(buf), { arrays: true }) as {
        acked_ids: string[];
        acked_capture_ids: string[];
        rejected: { id?: string; reason?: string }[];
      };
      return {
        ackedIds: r.acked_ids,
        ackedCaptureIds: r.acked_capture_ids,
        rejected: r.rejected.map((x) => ({ id: x.id ?? "", reason: x.reason ?? "" })),
      };
    });
  }

  /** The call metadata, rebuilt only when the token changed. */
  private metadata(): Metadata {
    const token = this.tokenOf();
    if (token !== this.metaToken) {
      this.meta = new Metadata();
      if (token !== undefined && token !== "") this.meta.set("authorization", `Bearer ${token}`);
      this.metaToken = token;
    }
    return this.meta;
  }

  /** Sends pre-encoded bytes (tests use it to send malformed requests). */
  pushRaw(body: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const client = this.channel();
      if (client === undefined) {
        reject(new SinkError("send_failed", "push failed: the collector's CA certificate cannot be read"));
        return;
      }
      client.Push(body, this.metadata(), { deadline: Date.now() + this.timeoutMs }, (err: ServiceError | null, resp?: Buffer) => {
        if (err) {
          const code =
            err.code === status.UNAUTHENTICATED
              ? "unauthenticated"
              : // RESOURCE_EXHAUSTED with retry-after is the collector's rate limit, not a too-large push
                err.code === status.INVALID_ARGUMENT || (err.code === status.RESOURCE_EXHAUSTED && err.metadata?.get("retry-after").length === 0)
                ? "refused"
                : "send_failed";
          reject(Object.assign(new SinkError(code, `push failed: ${err.details || err.message}`, { cause: err }), { grpcCode: err.code }));
        } else resolve(resp ?? Buffer.alloc(0));
      });
    });
  }

  close(): void {
    this.client?.close();
  }
}
