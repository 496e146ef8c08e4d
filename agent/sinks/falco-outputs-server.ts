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
 */
import { existsSync, unlinkSync } from "node:fs";
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { priorityNumber } from "../../collector/alert-codec.js";
import { TokenCheck } from "../../collector/auth.js";
import { statusCounter, type RefusalCounters } from "../../collector/grpc-status-counter.js";
import { FALCO_OUTPUTS_SERVICE, FALCO_VERSION_SERVICE, falcoProto } from "../../collector/proto.js";
import type { Alert, ExportResult, Sink } from "./types.js";

/** Options of {@link startFalcoOutputsServer}. */
export interface FalcoOutputsServerOptions {
  /** `unix:///run/vigil/falco.sock` or `HOST:PORT`. */
  address: string;
  /** Optional bearer token (Falco itself uses a local socket or mTLS). */
  token?: string | undefined;
  /** mTLS like Falco's network mode: server cert/key and the CA that signs clients. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined;
  maxQueue?: number;
  logger: Logger;
}

/** A running Falco outputs server sink. */
export interface FalcoOutputsServer extends Sink {
  /** The bound address (`unix://…` or `HOST:PORT`). */
  readonly address: string;
  stats(): Record<string, number>;
}

const SOURCES: Record<string, number> = { syscall: 0, k8s_audit: 1, internal: 2 };

/** Encodes an alert as Falco's `response` (output_fields values rendered like Falco's JSON dump()). */
export function alertToFalcoResponse(a: Alert): Buffer {
  const { response } = falcoProto();
  const ms = Date.parse(a.time.slice(0, 19) + "Z");
  const frac = /\.(\d{1,9})Z$/.exec(a.time)?.[1] ?? "0";
  const fields: Record<string, string> = {};
  for (const k in a.output_fields) {
    const v = a.output_fields[k];
    fields[k] = v === null || v === undefined ? "null" : typeof v === "string" ? v : String(v);
  }
  const msg = response.encode({
    time: { seconds: Number.isNaN(ms) ? 0 : Math.floor(ms / 1000), nanos: Number(frac.padEnd(9, "0")) },
    priority: priorityNumber(a.priority) ?? 7,
    source_deprecated: SOURCES[a.source] ?? 3,
    rule: a.rule,
    output: a.output,
    output_fields: fields,
    hostname: a.hostname,
    tags: a.tags,
    source: a.source,
  }).finish();
  return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
}

/** Starts the server; resolves once it listens. */
export async function startFalcoOutputsServer(o: FalcoOutputsServerOptions): Promise<FalcoOutputsServer> {
  const log = o.logger.child({ component: "falco-outputs" });
  const maxQueue = o.maxQueue ?? 10_000;
  const auth = new TokenCheck(o.token);
  const queue: Buffer[] = [];
  const subs: ServerDuplexStream<Buffer, Buffer>[] = [];
  let rr = 0;
  let dropBurst = 0;
  const refusals: RefusalCounters = { refused_unauthenticated: 0, refused_too_large: 0, refused_malformed: 0, refused_other: 0, refused_transport_or_cancelled: 0 };
  const c = { queued: 0, delivered: 0, dropped_queue_full: 0, subscribers: 0, get_calls: 0 };

  const authorized = (call: { metadata: { get(k: string): unknown[] } }) => {
    const h = call.metadata.get("authorization")[0];
    return auth.ok(typeof h === "string" ? h : undefined);
  };

  const drainTo = (w: { write(b: Buffer): boolean }) => {
    while (queue.length > 0) {
      w.write(queue.shift()!);
      c.delivered++;
    }
  };

  const server = new Server({ interceptors: [statusCounter(refusals)], "grpc.max_receive_message_length": 64 * 1024 });
  server.addService(FALCO_OUTPUTS_SERVICE, {
    get: (call: ServerWritableStream<Buffer, Buffer>) => {
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
      drainTo(call);
      call.end();
    },
    sub: (call: ServerDuplexStream<Buffer, Buffer>) => {
      if (!authorized(call)) {
        call.emit("error", { code: status.UNAUTHENTICATED, details: "missing or bad bearer token" });
        return;
      }
      let subscribed = false;
      const leave = () => {
        const i = subs.indexOf(call);
        if (i >= 0) subs.splice(i, 1);
        c.subscribers = subs.length;
      };
      call.on("data", (b: Buffer) => {
        try {
          falcoProto().request.decode(b);
        } catch {
          leave();
          call.emit("error", { code: status.INVALID_ARGUMENT, details: "malformed request" });
          return;
        }
        drainTo(call);
        if (!subscribed) {
          subscribed = true;
          subs.push(call);
          c.subscribers = subs.length;
        }
      });
      call.on("end", () => {
        leave();
        call.end();
      });
      call.on("cancelled", leave);
      call.on("error", leave);
    },
  });
  server.addService(FALCO_VERSION_SERVICE, {
    version: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      const { versionResponse } = falcoProto();
      if (!authorized(call)) return cb({ code: status.UNAUTHENTICATED, details: "missing or bad bearer token" });
      const m = versionResponse.encode({
        version: "0.1.0+vigil",
        major: 0,
        minor: 1,
        patch: 0,
        prerelease: "",
        build: "vigil",
        engine_major: 0,
        engine_minor: 62,
        engine_patch: 0,
        engine_version: "0.62.0",
        engine_fields_checksum: "",
      }).finish();
      cb(null, Buffer.from(m.buffer, m.byteOffset, m.byteLength));
    },
  });

  if (o.address.startsWith("unix://")) {
    const path = o.address.replace(/^unix:\/\//, "");
    if (existsSync(path)) unlinkSync(path);
  }
  const creds = o.tls ? ServerCredentials.createSsl(o.tls.ca ?? null, [{ private_key: o.tls.key, cert_chain: o.tls.cert }], o.tls.ca !== undefined) : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(o.address, creds, (err, p) => (err ? reject(err) : resolve(p))));
  const address = o.address.startsWith("unix:") ? o.address : o.address.replace(/:0$/, `:${port}`);
  log.info({ address }, "Falco gRPC outputs server listening");

  return {
    name: "falco-grpc-outputs",
    address,
    async export(batch: readonly Alert[]): Promise<ExportResult> {
      for (const a of batch) {
        const buf = alertToFalcoResponse(a);
        if (subs.length > 0) {
          const s = subs[rr++ % subs.length]!;
          s.write(buf);
          c.delivered++;
          continue;
        }
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
    async shutdown() {
      for (const s of subs.splice(0)) s.end();
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
    },
    stats: () => ({ ...c, backlog: queue.length, ...refusals }),
  };
}
