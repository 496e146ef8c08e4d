// SPDX-License-Identifier: Apache-2.0
/**
 * Client of the collector's WebSocket tail, used by `vigil tail`. It reconnects by itself
 * (backoff 200 ms doubling to 5 s) and resumes exactly where it was: after the last store
 * position it saw (`after_seq`, sent with every alert and with the `live` marker), so nothing
 * is missed and nothing repeated across reconnects. IDs are also remembered (last 10,000) so a
 * replay can never print an alert twice.
 */
import WebSocket from "ws";
import { clientToken, filterToParams, WS_PROTOCOL, type Alert, type AlertFilter } from "../proto/index.js";

/** Options of {@link TailClient}. */
export interface TailClientOptions {
  /** Collector `HOST:PORT`. */
  address: string;
  token?: string | undefined;
  filter: AlertFilter;
  /** Use wss:// (with this CA when given). */
  tls?: { ca?: Buffer } | undefined;
  onAlert(a: Alert & { uuid?: string }): void;
  /** Connection state changes (for a status line / tests). */
  onState?(state: "connected" | "live" | "disconnected", detail?: string): void;
  /** A refusal that retrying cannot fix (401, 400). */
  onFatal?(message: string): void;
}

/** A self-reconnecting tail subscription. */
export class TailClient {
  private ws: WebSocket | undefined;
  private lastSeq: number | undefined;
  private stopped = false;
  private backoff = 200;
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  readonly counters = { connects: 0, alerts: 0, duplicates_skipped: 0, disconnects: 0 };

  constructor(private readonly o: TailClientOptions) {}

  start(): void {
    this.connect();
  }

  private url(): string {
    const p = filterToParams(this.o.filter);
    if (this.lastSeq !== undefined) {
      // resuming: history is replayed from the exact position, `since` would only narrow it
      p.set("after_seq", String(this.lastSeq));
    }
    return `${this.o.tls ? "wss" : "ws"}://${this.o.address}/api/v1/tail?${p.toString()}`;
  }

  private connect(): void {
    if (this.stopped) return;
    const headers: Record<string, string> = {};
    const token = clientToken(this.o.token);
    if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
    // the token travels only in the Authorization header; the subprotocol names the message format
    const ws = new WebSocket(this.url(), [WS_PROTOCOL], { headers, ...(this.o.tls?.ca ? { ca: this.o.tls.ca } : {}), maxPayload: 16 * 1024 * 1024 });
    this.ws = ws;
    ws.on("open", () => {
      this.counters.connects++;
      this.backoff = 200;
      this.o.onState?.("connected");
    });
    ws.on("unexpected-response", (_req, res) => {
      const code = res.statusCode ?? 0;
      if (code === 401 || code === 400 || code === 404) {
        this.stopped = true;
        this.o.onFatal?.(code === 401 ? "collector refused the token (401)" : `collector refused the tail request (${code})`);
      }
      ws.terminate();
    });
    ws.on("message", (data: WebSocket.RawData) => {
      // a frame holds one or more JSON lines
      for (const line of data.toString().split("\n")) if (line !== "") this.onLine(line);
    });
    ws.on("error", () => undefined);
    ws.on("close", (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return;
      this.counters.disconnects++;
      this.o.onState?.("disconnected", `${code} ${reason.toString()}`);
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(5000, this.backoff * 2);
    });
  }

  private onLine(line: string): void {
    let m: { type?: string; seq?: number; alert?: Alert & { uuid?: string } };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return;
    }
    if (typeof m.seq === "number") this.lastSeq = Math.max(this.lastSeq ?? 0, m.seq);
    if (m.type === "live") this.o.onState?.("live");
    else if (m.type === "alert" && m.alert) {
      const id = m.alert.id;
      if (this.seen.has(id)) {
        this.counters.duplicates_skipped++;
        return;
      }
      this.seen.add(id);
      this.seenOrder.push(id);
      if (this.seenOrder.length > 10_000) this.seen.delete(this.seenOrder.shift()!);
      this.counters.alerts++;
      this.o.onAlert(m.alert);
    }
  }

  /** Closes the connection and stops reconnecting. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close();
  }
}

/** Longest NDJSON line `queryAlerts` accepts, in bytes (an alert is at most about 1 MiB of text; JSON escapes can grow it). */
const MAX_QUERY_LINE = 16 * 1024 * 1024;

/**
 * Streams stored alerts (`GET /api/v1/alerts`, NDJSON): each alert goes to `onAlert` as its line
 * arrives, oldest first, and the next chunk is read only once `onAlert` (and any promise it
 * returns) is done, so memory stays at one chunk and one line whatever the result size. Resolves
 * with the number of alerts; throws with the collector's message on a refusal, and when the
 * stream ends early (the result would otherwise look complete while it is not).
 */
export async function queryAlerts(o: {
  address: string;
  token?: string | undefined;
  filter: AlertFilter;
  limit?: number;
  https?: boolean;
  onAlert(a: Alert & { uuid?: string }): void | Promise<void>;
}): Promise<number> {
  const p = filterToParams(o.filter);
  if (o.limit !== undefined) p.set("limit", String(o.limit));
  const headers: Record<string, string> = {};
  const token = clientToken(o.token);
  if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
  const r = await fetch(`${o.https ? "https" : "http"}://${o.address}/api/v1/alerts?${p.toString()}`, { headers });
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { error?: string };
    throw new Error(body.error ?? `HTTP ${r.status}`);
  }
  if (r.body === null) return 0;
  const reader = r.body.getReader();
  // lines are cut on the newline byte (never inside a UTF-8 sequence) and each decoded once
  let parts: Uint8Array[] = [];
  let partLen = 0;
  let n = 0;
  const line = async (bytes: Uint8Array) => {
    if (bytes.length === 0) return;
    const a = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")) as Alert & { uuid?: string };
    n++;
    const done = o.onAlert(a);
    if (done !== undefined) await done;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let from = 0;
      for (let nl = value.indexOf(10); nl >= 0; nl = value.indexOf(10, from)) {
        const piece = value.subarray(from, nl);
        const whole = parts.length === 0 ? piece : Buffer.concat([...parts, piece]);
        parts = [];
        partLen = 0;
        from = nl + 1;
        await line(whole);
      }
      if (from < value.length) {
        parts.push(value.subarray(from));
        partLen += value.length - from;
        if (partLen > MAX_QUERY_LINE) throw new Error(`query result line over ${MAX_QUERY_LINE} bytes`);
      }
    }
    await line(Buffer.concat(parts));
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    throw err instanceof SyntaxError ? new Error("query result is not NDJSON", { cause: err }) : err;
  }
  return n;
}

/** Fetches a stored capture blob. */
export async function fetchCapture(o: { address: string; token?: string | undefined; id: string; https?: boolean }): Promise<Buffer> {
  const headers: Record<string, string> = {};
  const token = clientToken(o.token);
  if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
  const r = await fetch(`${o.https ? "https" : "http"}://${o.address}/api/v1/captures/${encodeURIComponent(o.id)}`, { headers });
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { error?: string };
    throw new Error(body.error ?? `HTTP ${r.status}`);
  }
  return Buffer.from(await r.arrayBuffer());
}

/** A forwarder's status as `GET /api/v1/forwarders` answers it (forward/index.ts ForwarderReport). */
export interface ForwarderStatusLine {
  name: string;
  type: string;
  state: string;
  cursor?: number;
  watermark: number;
  lagAlerts: number;
  lagSeconds: number;
  deadLetters: number;
  /** Alerts retention deleted before the forwarder reached them. */
  expired: number;
  counters: Record<string, number>;
  lastError?: string;
  lastErrorAt?: string;
  lastDeliveredAt?: string;
}

/** Fetches every forwarder's status from a collector. */
export async function fetchForwarders(o: { address: string; token?: string | undefined; https?: boolean }): Promise<ForwarderStatusLine[]> {
  const headers: Record<string, string> = {};
  const token = clientToken(o.token);
  if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
  const r = await fetch(`${o.https ? "https" : "http"}://${o.address}/api/v1/forwarders`, { headers });
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { error?: string };
    throw new Error(body.error ?? `HTTP ${r.status}`);
  }
  return ((await r.json()) as { forwarders: ForwarderStatusLine[] }).forwarders;
}
