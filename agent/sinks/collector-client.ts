// SPDX-License-Identifier: Apache-2.0
/**
 * gRPC client of the collector's ingest service (`vigil.collector.v1.Ingest/Push`), with the
 * bearer token in the `authorization` metadata and optional TLS.
 */
import { Metadata, credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { SinkError } from "./errors.js";
import { alertToProto, INGEST_SERVICE, vigilProto, type Alert } from "../../proto/index.js";

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

/** Options of {@link CollectorClient}. */
export interface CollectorClientOptions {
  /** `HOST:PORT`. */
  address: string;
  token?: string | undefined;
  /** PEM CA certificate(s): connect with TLS. */
  tlsCa?: Buffer | undefined;
  /** Deadline of one push (ms). Default 10 s. */
  timeoutMs?: number;
}

const IngestClient = makeGenericClientConstructor(INGEST_SERVICE, "Ingest");

/** Pushes batches to a collector. */
export class CollectorClient {
  private readonly client: Client & { Push: Function };
  private readonly meta = new Metadata();
  private readonly timeoutMs: number;

  constructor(opts: CollectorClientOptions) {
    const creds = opts.tlsCa ? credentials.createSsl(opts.tlsCa) : credentials.createInsecure();
    this.client = new IngestClient(opts.address, creds, {
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5000,
    }) as unknown as Client & { Push: Function };
    const token = opts.token;
    if (token !== undefined && token !== "") this.meta.set("authorization", `Bearer ${token}`);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
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

  /** Sends pre-encoded bytes (tests use it to send malformed requests). */
  pushRaw(body: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client.Push(body, this.meta, { deadline: Date.now() + this.timeoutMs }, (err: ServiceError | null, resp?: Buffer) => {
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
    this.client.close();
  }
}
