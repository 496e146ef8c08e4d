// SPDX-License-Identifier: Apache-2.0
/**
 * A small gRPC client over a unix socket for services described by protobufjs roots: unary and
 * server-streaming calls, messages converted to plain objects (int64 as number, missing fields
 * undefined, repeated/map fields always present). Used for containerd's API and the CRI.
 */
import { Client, Metadata, credentials, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { RpcError } from "./errors.js";

/** Per-call options. */
export interface CallOptions {
  /** Sent as the `containerd-namespace` header when set. */
  namespace?: string | undefined;
  /** Deadline in ms from now (unary calls default to 5000; streams have none unless set). */
  timeoutMs?: number | undefined;
}

interface MethodCodec {
  path: string;
  serialize: (v: object) => Buffer;
  deserialize: (b: Buffer) => unknown;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, arrays: true, objects: true, defaults: false };

/** The largest message accepted from the runtime (a runtime spec with many mounts fits easily). */
const MAX_RECEIVE = 16 * 1024 * 1024;

/** A gRPC client bound to one socket and one protobufjs root. */
export class GrpcClient {
  private readonly client: Client;
  private readonly codecs = new Map<string, MethodCodec>();

  constructor(
    readonly socket: string,
    private readonly root: protobuf.Root,
  ) {
    this.client = new Client(`unix://${socket}`, credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_RECEIVE,
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 2000,
      // containerd's CRI plugin and ctr use the authority "localhost"
      "grpc.default_authority": "localhost",
    });
  }

  private codec(service: string, method: string): MethodCodec {
    const key = `${service}/${method}`;
    let c = this.codecs.get(key);
    if (c === undefined) {
      const svc = this.root.lookupService(service);
      const m = svc.methods[method];
      if (m === undefined) throw new Error(`unknown method ${key}`);
      const req = this.root.lookupType(m.requestType);
      const res = this.root.lookupType(m.responseType);
      c = {
        path: `/${service}/${method}`,
        serialize: (v: object) => Buffer.from(req.encode(req.fromObject(v)).finish()),
        deserialize: (b: Buffer) => res.toObject(res.decode(b), TO_OBJECT),
      };
      this.codecs.set(key, c);
    }
    return c;
  }

  private static metadata(o: CallOptions | undefined): Metadata {
    const md = new Metadata();
    if (o?.namespace !== undefined) md.set("containerd-namespace", o.namespace);
    return md;
  }

  /** One request, one response. Rejects with {@link RpcError}. */
  unary<Res>(service: string, method: string, request: object, o?: CallOptions): Promise<Res> {
    let c: MethodCodec;
    try {
      c = this.codec(service, method);
    } catch (err) {
      return Promise.reject(err);
    }
    const deadline = Date.now() + (o?.timeoutMs ?? 5000);
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest(
        c.path,
        c.serialize,
        c.deserialize,
        request,
        GrpcClient.metadata(o),
        { deadline },
        (err: ServiceError | null, value?: unknown) => {
          if (err) reject(new RpcError(c.path, err.code, err.details || err.message, { cause: err }));
          else resolve(value as Res);
        },
      );
    });
  }

  /** A server stream; the caller listens for `data`, `error`, `end` and may `cancel()`. */
  serverStream(service: string, method: string, request: object, o?: CallOptions): ClientReadableStream<unknown> {
    const c = this.codec(service, method);
    const opts = o?.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
    return this.client.makeServerStreamRequest(c.path, c.serialize, c.deserialize, request, GrpcClient.metadata(o), opts);
  }

  /** Closes the channel; pending calls fail with CANCELLED/UNAVAILABLE. */
  close(): void {
    this.client.close();
  }
}
