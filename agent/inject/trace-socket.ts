// SPDX-License-Identifier: Apache-2.0
/**
 * The sidecar's end of the tracer socket: a unix stream server in the shared volume that
 * `vigil-trace` processes connect to (one connection per traced container process tree). Each
 * connection gets its own consumer (typically a FrameDecoder and an EventState: frames of one
 * tracer form one stream). The socket is made connectable by any user, since workloads run as
 * whatever user their image says; the volume is private to the task or pod.
 *
 * Bad peers are contained: a connection beyond `maxConnections` is refused and counted, a
 * consumer that throws closes only its own connection, and a stale socket file from a previous
 * agent is replaced.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Logger } from "pino";

/** What the server feeds for one tracer connection. */
export interface TraceConnectionConsumer {
  push(chunk: Uint8Array): void;
  /** The tracer went away (or was cut off). */
  end(): void;
}

export interface TraceSocketOptions {
  path: string;
  logger: Logger;
  /** Called for each accepted connection (id counts from 1). */
  onConnection: (id: number) => TraceConnectionConsumer;
  /** Connections at once; more are refused and counted (default 256). */
  maxConnections?: number;
}

export interface TraceSocketServer {
  readonly path: string;
  close(): Promise<void>;
  stats(): Record<string, number>;
}

/** Starts listening on `path` (replacing a stale socket file, never any other file). */
export async function startTraceSocket(o: TraceSocketOptions): Promise<TraceSocketServer> {
  const log = o.logger.child({ component: "trace-socket" });
  const max = o.maxConnections ?? 256;
  const counters = { connections: 0, open_connections: 0, refused: 0, consumer_errors: 0, bytes: 0 };
  const sockets = new Set<Socket>();
  let nextId = 0;

  mkdirSync(dirname(o.path), { recursive: true });
  try {
    if (lstatSync(o.path).isSocket()) unlinkSync(o.path);
  } catch {
    // absent: nothing to replace
  }

  const server: Server = createServer((s) => {
    if (sockets.size >= max) {
      counters.refused++;
      s.destroy();
      return;
    }
    const id = ++nextId;
    counters.connections++;
    sockets.add(s);
    counters.open_connections = sockets.size;
    let consumer: TraceConnectionConsumer | undefined;
    try {
      consumer = o.onConnection(id);
    } catch (err) {
      counters.consumer_errors++;
      log.error({ err, connection: id }, "trace connection consumer failed");
      s.destroy();
      return;
    }
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      sockets.delete(s);
      counters.open_connections = sockets.size;
      try {
        consumer?.end();
      } catch (err) {
        counters.consumer_errors++;
        log.debug({ err, connection: id }, "trace connection end failed");
      }
    };
    s.on("data", (chunk: Buffer) => {
      counters.bytes += chunk.length;
      try {
        consumer?.push(chunk);
      } catch (err) {
        counters.consumer_errors++;
        log.warn({ err, connection: id }, "trace connection consumer failed; closing it");
        s.destroy();
      }
    });
    s.on("close", finish);
    s.on("error", () => undefined);
    log.debug({ connection: id }, "tracer connected");
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err }, "trace socket error"));
  // workloads run as any user: they must be able to connect (the volume itself is private)
  chmodSync(o.path, 0o777);
  log.info({ path: o.path }, "trace socket listening");

  return {
    path: o.path,
    stats: () => ({ ...counters }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          try {
            unlinkSync(o.path);
          } catch {
            // already gone
          }
          resolve();
        });
      }),
  };
}
