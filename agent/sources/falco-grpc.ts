// SPDX-License-Identifier: Apache-2.0
/**
 * Ingests alerts from an existing Falco (≤ 0.43) through its gRPC outputs API:
 * `falco.outputs.service/sub` (bidi stream; like client-go's `OutputsWatch`, an empty `request`
 * is sent whenever no response arrived for `pollMs`) or `get` (drains the queue, then ends, and
 * is polled again). Each `response` becomes an {@link Alert} with a fresh UUIDv7; the stream
 * reconnects with backoff. Falco's socket is `unix:///run/falco/falco.sock` by default.
 */
import { hostname as osHostname } from "node:os";
import { credentials, makeGenericClientConstructor, type Client, type ClientDuplexStream, type ClientReadableStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { uuidv7 } from "../../proto/uuid7.js";
import { FALCO_OUTPUTS_SERVICE, falcoProto, PRIORITY_NAMES, type Alert } from "../../proto/index.js";

/** Options of {@link FalcoGrpcSource}. */
export interface FalcoGrpcSourceOptions {
  /** `unix:///run/falco/falco.sock` or `HOST:PORT`. */
  address: string;
  /** `sub` (default) or `get`. */
  mode?: "sub" | "get";
  /** Keep-alive request interval for `sub`, poll interval for `get` (ms). Default 1000. */
  pollMs?: number;
  /** mTLS as Falco's network mode requires: CA, client cert and key (PEM). */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  /** Host name of alerts that name none (the configured `hostname:`). Default os.hostname(). */
  hostname?: string;
  logger: Logger;
  onAlert(a: Alert): void;
}

interface FalcoResponse {
  time?: { seconds?: number | string; nanos?: number };
  priority?: number;
  rule?: string;
  output?: string;
  output_fields?: Record<string, string>;
  hostname?: string;
  tags?: string[];
  source?: string;
  source_deprecated?: number;
}

const LEGACY_SOURCES = ["syscall", "k8s_audit", "internal", "plugin"];

/** Converts one decoded Falco `response` to an alert. Throws on a response that is not an alert. */
export function falcoResponseToAlert(r: FalcoResponse, fallbackHost: string): Alert {
  if (typeof r.rule !== "string" || r.rule === "") throw new Error("response without a rule");
  const secs = Number(r.time?.seconds ?? 0);
  const nanos = Number(r.time?.nanos ?? 0);
  const iso = new Date(secs * 1000).toISOString().slice(0, 19);
  const time = `${iso}.${String(Math.max(0, Math.min(999_999_999, nanos))).padStart(9, "0")}Z`;
  const fields: Alert["output_fields"] = {};
  // Falco serialises every value with JSON dump(): "null" was a missing value
  for (const [k, v] of Object.entries(r.output_fields ?? {})) fields[k] = v === "null" ? null : v;
  const pr = PRIORITY_NAMES[r.priority ?? 7] ?? "Debug";
  const source = r.source !== undefined && r.source !== "" ? r.source : (LEGACY_SOURCES[r.source_deprecated ?? 0] ?? "syscall");
  return {
    id: uuidv7(),
    time,
    rule: r.rule,
    priority: pr,
    source,
    hostname: r.hostname !== undefined && r.hostname !== "" ? r.hostname : fallbackHost,
    output: r.output ?? "",
    output_fields: fields,
    tags: r.tags ?? [],
  };
}

const OutputsClient = makeGenericClientConstructor(FALCO_OUTPUTS_SERVICE, "service");

/** A Falco gRPC outputs subscription. */
export class FalcoGrpcSource {
  readonly name = "falco-grpc";
  private client: (Client & Record<string, Function>) | undefined;
  private stream: ClientDuplexStream<Buffer, Buffer> | ClientReadableStream<Buffer> | undefined;
  private stopped = false;
  private backoff = 200;
  private timer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastResponse = 0;
  private readonly host: string;
  private badLogged = false;
  private readonly counters = { alerts: 0, bad_responses: 0, reconnects: 0, stream_errors: 0 };

  constructor(private readonly o: FalcoGrpcSourceOptions) {
    this.host = o.hostname ?? osHostname();
  }

  /** Connects (and keeps reconnecting) until stop(). */
  start(): void {
    const creds = this.o.tls ? credentials.createSsl(this.o.tls.ca, this.o.tls.key ?? null, this.o.tls.cert ?? null) : credentials.createInsecure();
    this.client = new OutputsClient(this.o.address, creds, {}) as unknown as Client & Record<string, Function>;
    this.open();
  }

  private onData = (buf: Buffer): void => {
    this.lastResponse = Date.now();
    this.backoff = 200;
    const { response } = falcoProto();
    let a: Alert;
    try {
      a = falcoResponseToAlert(response.toObject(response.decode(buf), { longs: Number, enums: Number, defaults: false }) as FalcoResponse, this.host);
    } catch (err) {
      this.counters.bad_responses++;
      if (!this.badLogged) {
        this.badLogged = true;
        this.o.logger.warn({ err }, "bad Falco gRPC response skipped (logged once)");
      }
      return;
    }
    this.counters.alerts++;
    try {
      this.o.onAlert(a);
    } catch (err) {
      this.o.logger.error({ err }, "alert consumer failed");
    }
  };

  private open(): void {
    if (this.stopped || !this.client) return;
    const { request } = falcoProto();
    const empty = Buffer.from(request.encode({}).finish());
    const poll = this.o.pollMs ?? 1000;
    if ((this.o.mode ?? "sub") === "sub") {
      const s = this.client["sub"]!() as ClientDuplexStream<Buffer, Buffer>;
      this.stream = s;
      s.on("data", this.onData);
      s.on("error", (err: Error) => this.onEnd(s, err));
      s.on("end", () => this.onEnd(s, undefined));
      s.write(empty);
      this.lastResponse = Date.now();
      this.pollTimer = setInterval(() => {
        if (Date.now() - this.lastResponse >= poll && this.stream === s) s.write(empty);
      }, poll);
    } else {
      const s = this.client["get"]!(empty) as ClientReadableStream<Buffer>;
      this.stream = s;
      s.on("data", this.onData);
      s.on("error", (err: Error) => this.onEnd(s, err));
      s.on("end", () => {
        if (this.stream !== s) return;
        this.stream = undefined;
        this.timer = setTimeout(() => this.open(), poll);
      });
    }
  }

  private onEnd(s: unknown, err: Error | undefined): void {
    if (this.stream !== s) return;
    this.stream = undefined;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.stopped) return;
    this.counters.reconnects++;
    if (err) {
      this.counters.stream_errors++;
      this.o.logger.warn({ err, address: this.o.address }, "Falco gRPC stream failed, reconnecting");
    }
    this.timer = setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(10_000, this.backoff * 2);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
    this.client?.close();
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }
}
