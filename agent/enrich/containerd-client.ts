// SPDX-License-Identifier: Apache-2.0
/**
 * containerd's gRPC API, as Vigil reads it: containers (labels, image, runtime spec,
 * extensions), images (target descriptor), content (small blobs: manifests), the event stream
 * and the version (liveness). Every call names its namespace in the `containerd-namespace`
 * header. Results are plain records; decoding problems become {@link EnrichError}s.
 */
import type { ClientReadableStream } from "@grpc/grpc-js";
import { EnrichError, EnrichErrorCode, RpcError } from "./errors.js";
import { GrpcClient } from "./grpc-client.js";
import { containerdProtos } from "./protos.js";

const CONTAINERS = "containerd.services.containers.v1.Containers";
const IMAGES = "containerd.services.images.v1.Images";
const CONTENT = "containerd.services.content.v1.Content";
const EVENTS = "containerd.services.events.v1.Events";
const VERSION = "containerd.services.version.v1.Version";

/** gRPC NOT_FOUND. */
const GRPC_NOT_FOUND = 5;

interface AnyMsg {
  type_url?: string;
  typeUrl?: string;
  value?: Uint8Array;
}
interface Timestamp {
  seconds?: number;
  nanos?: number;
}
interface RawContainer {
  id?: string;
  labels?: Record<string, string>;
  image?: string;
  runtime?: { name?: string };
  spec?: AnyMsg;
  snapshotter?: string;
  snapshotKey?: string;
  createdAt?: Timestamp;
  extensions?: Record<string, AnyMsg>;
  sandbox?: string;
}
interface RawImage {
  name?: string;
  target?: { mediaType?: string; digest?: string; size?: number };
}
interface RawEnvelope {
  timestamp?: Timestamp;
  namespace?: string;
  topic?: string;
  event?: AnyMsg;
}

/** One container as containerd stores it. */
export interface ContainerRecord {
  id: string;
  namespace: string;
  labels: Map<string, string>;
  image: string;
  runtime: string;
  /** The OCI runtime spec, parsed from JSON (undefined when absent or unparsable). */
  spec: unknown;
  snapshotter: string;
  snapshotKey: string;
  /** ns since the epoch. */
  createdAtNs: number | undefined;
  /** Extension blobs by name (the CRI plugin keeps JSON metadata there). */
  extensions: Map<string, Uint8Array>;
}

/** One image's target descriptor. */
export interface ImageRecord {
  name: string;
  mediaType: string;
  /** `sha256:<hex>` of the manifest or index the name points at. */
  digest: string;
  size: number;
}

/** A container or task event, reduced to what the enricher acts on. */
export interface RuntimeEvent {
  namespace: string;
  topic: string;
  containerId: string;
  pid: number | undefined;
}

/** A running subscription. */
export interface Subscription {
  cancel(): void;
}

function typeUrl(a: AnyMsg | undefined): string {
  const u = a?.type_url ?? a?.typeUrl ?? "";
  return u.slice(u.lastIndexOf("/") + 1);
}

function tsNs(t: Timestamp | undefined): number | undefined {
  if (t?.seconds === undefined) return undefined;
  return t.seconds * 1e9 + (t.nanos ?? 0);
}

function toRecord(ns: string, c: RawContainer): ContainerRecord {
  let spec: unknown;
  const v = c.spec?.value;
  if (v !== undefined && v.length > 0) {
    try {
      spec = JSON.parse(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8"));
    } catch (err) {
      throw new EnrichError(EnrichErrorCode.BadSpec, "runtime spec is not JSON", { cause: err });
    }
  }
  const extensions = new Map<string, Uint8Array>();
  for (const [k, a] of Object.entries(c.extensions ?? {})) if (a.value !== undefined) extensions.set(k, a.value);
  return {
    id: c.id ?? "",
    namespace: ns,
    labels: new Map(Object.entries(c.labels ?? {})),
    image: c.image ?? "",
    runtime: c.runtime?.name ?? "",
    spec,
    snapshotter: c.snapshotter ?? "",
    snapshotKey: c.snapshotKey ?? "",
    createdAtNs: tsNs(c.createdAt),
    extensions,
  };
}

/** containerd's API over one socket. */
export class ContainerdClient {
  private readonly rpc: GrpcClient;

  constructor(readonly socket: string) {
    this.rpc = new GrpcClient(socket, containerdProtos());
  }

  /** The daemon's version; fails fast when it does not answer. */
  version(timeoutMs = 2000): Promise<{ version: string; revision: string }> {
    return this.rpc.unary(VERSION, "Version", {}, { timeoutMs });
  }

  /** A container by ID in a namespace, or undefined when the namespace does not have it. */
  async getContainer(namespace: string, id: string, timeoutMs = 5000): Promise<ContainerRecord | undefined> {
    try {
      const r = await this.rpc.unary<{ container?: RawContainer }>(CONTAINERS, "Get", { id }, { namespace, timeoutMs });
      return r.container ? toRecord(namespace, r.container) : undefined;
    } catch (err) {
      if (err instanceof RpcError && err.grpcCode === GRPC_NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** Every container of a namespace. */
  async listContainers(namespace: string, timeoutMs = 10_000): Promise<ContainerRecord[]> {
    const r = await this.rpc.unary<{ containers: RawContainer[] }>(CONTAINERS, "List", { filters: [] }, { namespace, timeoutMs });
    const out: ContainerRecord[] = [];
    for (const c of r.containers) {
      try {
        out.push(toRecord(namespace, c));
      } catch {
        // one bad spec must not hide the others; the per-ID lookup reports it
      }
    }
    return out;
  }

  /** An image's target, or undefined when the namespace has no such image. */
  async getImage(namespace: string, name: string, timeoutMs = 5000): Promise<ImageRecord | undefined> {
    try {
      const r = await this.rpc.unary<{ image?: RawImage }>(IMAGES, "Get", { name }, { namespace, timeoutMs });
      const t = r.image?.target;
      if (t?.digest === undefined) return undefined;
      return { name, mediaType: t.mediaType ?? "", digest: t.digest, size: t.size ?? 0 };
    } catch (err) {
      if (err instanceof RpcError && err.grpcCode === GRPC_NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** A content blob (manifest, index, config) up to maxBytes. */
  readBlob(namespace: string, digest: string, maxBytes = 1 << 20, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let stream: ClientReadableStream<unknown>;
      try {
        stream = this.rpc.serverStream(CONTENT, "Read", { digest, offset: 0, size: 0 }, { namespace, timeoutMs });
      } catch (err) {
        reject(err);
        return;
      }
      stream.on("data", (m: { data?: Uint8Array }) => {
        if (m.data === undefined) return;
        total += m.data.length;
        if (total > maxBytes) {
          stream.cancel();
          reject(new EnrichError(EnrichErrorCode.BadSpec, "blob too large"));
          return;
        }
        chunks.push(Buffer.from(m.data));
      });
      stream.on("error", (err: Error & { code?: number; details?: string }) =>
        reject(new RpcError(`/${CONTENT}/Read`, err.code ?? 2, err.details ?? err.message, { cause: err })),
      );
      stream.on("end", () => resolve(Buffer.concat(chunks)));
    });
  }

  /**
   * Subscribes to container and task events of the given namespaces. `onEvent` gets decoded
   * events (undecodable ones go to `onBadEvent`); `onClose` is called once when the stream ends
   * for any reason other than `cancel()`.
   */
  subscribe(
    namespaces: readonly string[],
    onEvent: (e: RuntimeEvent) => void,
    onBadEvent: (err: unknown) => void,
    onClose: (err: Error | undefined) => void,
  ): Subscription {
    const filters: string[] = [];
    for (const ns of namespaces) {
      filters.push(`namespace==${JSON.stringify(ns)},topic~="^/containers/"`);
      filters.push(`namespace==${JSON.stringify(ns)},topic~="^/tasks/(create|start)$"`);
    }
    const root = containerdProtos();
    const stream = this.rpc.serverStream(EVENTS, "Subscribe", { filters });
    let closed = false;
    const close = (err: Error | undefined): void => {
      if (closed) return;
      closed = true;
      onClose(err);
    };
    stream.on("data", (env: RawEnvelope) => {
      try {
        const name = typeUrl(env.event);
        if (!name.startsWith("containerd.events.")) return;
        let type;
        try {
          type = root.lookupType(name);
        } catch {
          return; // a payload Vigil does not read
        }
        const v = env.event?.value ?? new Uint8Array(0);
        const msg = type.toObject(type.decode(v), { longs: Number }) as { id?: string; containerId?: string; pid?: number };
        const containerId = name.startsWith("containerd.events.Container") ? msg.id : msg.containerId;
        if (containerId === undefined || containerId === "") return;
        onEvent({ namespace: env.namespace ?? "", topic: env.topic ?? "", containerId, pid: msg.pid });
      } catch (err) {
        onBadEvent(new EnrichError(EnrichErrorCode.BadEvent, "undecodable runtime event", { cause: err }));
      }
    });
    stream.on("error", (err: Error) => close(err));
    stream.on("end", () => close(undefined));
    return {
      cancel: () => {
        closed = true;
        stream.cancel();
      },
    };
  }

  /** Closes the channel. */
  close(): void {
    this.rpc.close();
  }
}
