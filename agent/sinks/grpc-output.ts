// SPDX-License-Identifier: Apache-2.0
/**
 * `sinks.grpc` (Falco's `grpc` + `grpc_output`): starts the Falco-compatible gRPC outputs server
 * (falco-outputs-server.ts) where the configuration says, the way Falco 0.43 does:
 *
 * - `unix:///PATH`: a local socket, no authentication but the file's permissions. The parent
 *   folder is created (0750) when missing, a stale socket left by a dead process is removed (a
 *   live one, or a file that is not a socket, is an error: never someone else's file), and the
 *   socket is made 0660 (owner and group).
 * - `HOST:PORT`: TCP, only with mutual TLS (Falco's network mode requires it too): the server's
 *   key and certificate and the CA that signs the clients' certificates. A client without a
 *   certificate signed by that CA fails the TLS handshake. Without the three files it refuses
 *   to start.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { dirname, isAbsolute } from "node:path";
import type { Logger } from "pino";
import { parseHostPort, type Alert } from "../../proto/index.js";
import { falcoTextLine } from "./outputs/falco-format.js";
import type { GrpcSinkConfig } from "../config/outputs-schema.js";
import type { Metrics } from "../metrics/metrics.js";
import { startFalcoOutputsServer, type FalcoOutputsLimitsInput, type FalcoOutputsServer } from "./falco-outputs-server.js";

/** Mode of the unix socket (Falco's: read/write for owner and group). */
export const GRPC_SOCKET_MODE = 0o660;
/** Mode of a socket folder this creates. */
export const GRPC_SOCKET_DIR_MODE = 0o750;

/** A started gRPC output. */
export interface GrpcOutput {
  /** The sink the pipeline exports to (its shutdown stops the server). */
  sink: FalcoOutputsServer;
  /** `unix:///PATH` or `HOST:PORT` as bound (the port resolved when 0 was asked). */
  address: string;
  /** Stops the server and removes the socket file. */
  close(): Promise<void>;
}

/** Options beyond the configuration (tests, the agent's metrics). */
export interface GrpcOutputOptions {
  /** Alerts held while no client reads (oldest dropped past it); default 10,000. */
  maxQueue?: number | undefined;
  limits?: FalcoOutputsLimitsInput | undefined;
  metrics?: Metrics | undefined;
  /** `output:` options: the response's `output` text carries Falco's time prefix (time of day, or ISO 8601) as the other outputs do. */
  format?: { time_format_iso_8601: boolean } | undefined;
}

/** A bad `sinks.grpc` setting or a socket path in use. */
export class GrpcOutputError extends Error {
  override name = "GrpcOutputError";
}

/** Whether something accepts connections on the unix socket `path`. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (alive: boolean) => {
      s.destroy();
      resolve(alive);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.setTimeout(1000, () => done(true));
  });
}

/** Creates the folder of `path` when missing and removes a stale socket there. */
async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  if (!existsSync(dir)) {
    try {
      mkdirSync(dir, { recursive: true, mode: GRPC_SOCKET_DIR_MODE });
    } catch (err) {
      throw new GrpcOutputError(`sinks.grpc: cannot create the socket folder ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new GrpcOutputError(`sinks.grpc: ${path} exists and is not a socket: refusing to replace it`);
  if (await socketAlive(path)) throw new GrpcOutputError(`sinks.grpc: another process serves ${path} (a second agent?): refusing to replace it`);
  unlinkSync(path);
}

function readPem(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new GrpcOutputError(`sinks.grpc: cannot read tls.${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Checks `cfg.address` and `cfg.tls` and what they need (folder, files), without binding:
 * `{kind: "unix", path}` or `{kind: "tcp", tls}`. Throws {@link GrpcOutputError} with the reason.
 */
export function resolveGrpcOutput(
  cfg: Pick<GrpcSinkConfig, "address" | "tls">,
): { kind: "unix"; path: string } | { kind: "tcp"; address: string; tls: { key: Buffer; cert: Buffer; ca: Buffer } } {
  const address = cfg.address.trim();
  if (address.startsWith("unix://")) {
    const path = address.slice("unix://".length);
    if (!isAbsolute(path)) throw new GrpcOutputError(`sinks.grpc: address ${address}: the socket path must be absolute (unix:///run/vigil/vigil.sock)`);
    if (Buffer.byteLength(path) > 107) throw new GrpcOutputError(`sinks.grpc: socket path ${path} is longer than a unix socket address allows (107 bytes)`);
    return { kind: "unix", path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address))
    throw new GrpcOutputError(`sinks.grpc: address ${address}: expected unix:///PATH or HOST:PORT (TCP with mutual TLS)`);
  try {
    parseHostPort(address);
  } catch (err) {
    throw new GrpcOutputError(`sinks.grpc: address ${address}: expected unix:///PATH or HOST:PORT (${(err as Error).message})`, { cause: err });
  }
  const missing = (["key_file", "cert_file", "ca_file"] as const).filter((k) => cfg.tls[k] === "");
  if (missing.length > 0)
    throw new GrpcOutputError(
      `sinks.grpc: a TCP address (${address}) is served only with mutual TLS, like Falco: set tls.key_file, tls.cert_file and tls.ca_file (missing: ${missing.join(", ")}), or use a unix:/// socket`,
    );
  return {
    kind: "tcp",
    address,
    tls: { key: readPem("key_file", cfg.tls.key_file), cert: readPem("cert_file", cfg.tls.cert_file), ca: readPem("ca_file", cfg.tls.ca_file) },
  };
}

/** Starts Falco's gRPC outputs API as configured; resolves once it listens. */
export async function startGrpcOutput(cfg: GrpcSinkConfig, logger: Logger, o: GrpcOutputOptions = {}): Promise<GrpcOutput> {
  const where = resolveGrpcOutput(cfg);
  const common = {
    logger,
    ...(o.maxQueue !== undefined ? { maxQueue: o.maxQueue } : {}),
    ...(o.limits !== undefined ? { limits: o.limits } : {}),
    ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
    ...(o.format !== undefined ? { renderOutput: (a: Alert) => falcoTextLine(a, o.format!) } : {}),
  };
  let sink: FalcoOutputsServer;
  let socketPath: string | undefined;
  if (where.kind === "unix") {
    await prepareSocketPath(where.path);
    sink = await startFalcoOutputsServer({ ...common, address: `unix://${where.path}` });
    socketPath = where.path;
    try {
      chmodSync(where.path, GRPC_SOCKET_MODE);
    } catch (err) {
      await sink.shutdown();
      throw new GrpcOutputError(`sinks.grpc: cannot set the mode of ${where.path}: ${(err as Error).message}`, { cause: err });
    }
  } else {
    try {
      sink = await startFalcoOutputsServer({ ...common, address: where.address, tls: where.tls });
    } catch (err) {
      throw new GrpcOutputError(`sinks.grpc: cannot serve on ${where.address}: ${(err as Error).message}`, { cause: err });
    }
  }
  logger.info({ address: sink.address, mtls: where.kind === "tcp" }, "Falco gRPC outputs API served (grpc_output)");
  let closed = false;
  return {
    sink,
    address: sink.address,
    close: async () => {
      if (closed) return;
      closed = true;
      await sink.shutdown();
      if (socketPath !== undefined) {
        try {
          if (lstatSync(socketPath).isSocket()) unlinkSync(socketPath);
        } catch {
          // already gone
        }
      }
    },
  };
}
