// SPDX-License-Identifier: Apache-2.0
/**
 * The `syslog` destination: each alert as one RFC 5424 message, over UDP (RFC 5426: one datagram
 * per message), TCP (RFC 6587 octet-counting framing) or TLS (RFC 5425: the same framing inside
 * TLS 1.2+, the server verified against `tls.ca_file` or the system CAs, a client certificate
 * when `tls.cert_file` is set).
 *
 * https://www.rfc-editor.org/rfc/rfc5424 (format), https://www.rfc-editor.org/rfc/rfc5426 (UDP),
 * https://www.rfc-editor.org/rfc/rfc6587#section-3.4.1 (octet counting),
 * https://www.rfc-editor.org/rfc/rfc5425 (TLS).
 *
 * A message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [vigil@32473 id="..." ...] MSG`:
 * PRI = facility × 8 + severity, where Falco's priorities are syslog's severities one to one
 * (Emergency 0 … Debug 7); TIMESTAMP the alert's time (microseconds, the most RFC 5424 allows);
 * HOSTNAME the node; MSGID the rule as a token; the structured data carries the alert ID and its
 * keys (32473 is the private enterprise number RFC 5612 reserves for documentation, so the SD-ID
 * cannot clash with a registered one); MSG the alert's output without control characters (a UTF-8
 * MSG starts with a BOM, as RFC 5424 §6.4 requires, when it holds anything beyond ASCII).
 *
 * Sizes: a message is at most 2048 bytes over UDP (the size RFC 5426 says every receiver should
 * take; larger datagrams fragment or get dropped) and 8096 over TCP/TLS (rsyslog's default
 * maxMessageSize, measured: its docs say "8k"; a longer frame is split into two messages there),
 * just under the 8192 RFC 5425 asks receivers to take. A longer one is cut: the
 * structured data then says `truncated="<bytes before>"` and MSG ends with `[truncated]`.
 *
 * Syslog over TCP has no acknowledgement, so over plain TCP each batch gets a connection of its
 * own, written and then half-closed: the server reads to the end of the stream and closes its side,
 * and only that close confirms the batch. A server that dies with the batch unread resets the
 * connection instead, and the batch is retried (measured against rsyslog stopped mid-stream: every
 * loss showed as a reset, none as a success). A server that does not close after the end of the
 * stream within two seconds is taken as having read it (logged once): delivery is then unconfirmed,
 * as it would be without this. Over TLS the same trick does not hold (rsyslog takes the bytes off the
 * TLS session and may drop them at shutdown, measured), so TLS keeps one connection, reopened when
 * it breaks, and a batch counts once the kernel took it: the message written in the instant the
 * server shuts down can be lost. A batch that fails is resent whole, so a receiver may get a message
 * twice. UDP datagrams can be lost silently; use TCP when every alert must arrive.
 */
import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/forwarders.js";
import { normalizeTime, priorityNumber, type Alert } from "../../proto/index.js";
import { alertKeys } from "../filter.js";
import { DeliveryError, type DeliveryItem, type Destination } from "./destination.js";

/** The SD-ID of Vigil's structured data element. */
export const SYSLOG_SD_ID = "vigil@32473";

/** Largest message per transport, in bytes (see the module comment). */
export const SYSLOG_MAX_BYTES = { udp: 2048, tcp: 8096, tls: 8096 } as const;

/** Messages per batch when `batch_size` is 0. */
const DEFAULT_BATCH = 100;

/** The room MSG keeps at least when the structured data has to shrink. */
const MIN_MSG_BYTES = 256;

/** Byte caps tried in turn on each structured-data value until the message fits. */
const SD_VALUE_CAPS = [1024, 256, 64, 16] as const;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const TRUNCATED_MARK = " [truncated]";

// line breaks and tabs become spaces, other C0/C1 controls and DEL go
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NON_ASCII_RE = /[^\u0000-\u007f]/;
const NOT_PRINTUSASCII_RE = /[^!-~]/g;
const NOT_TOKEN_RE = /[^A-Za-z0-9._-]+/g;
const EDGE_UNDERSCORES_RE = /^_+|_+$/g;
const SD_ESCAPE_RE = /["\\\]]/g;

function dropControls(s: string): string {
  return s.replace(CONTROL_RE, (c) => (c === "\t" || c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029" ? " " : ""));
}

/** The longest prefix of `b` of at most `max` bytes that does not split a UTF-8 sequence. */
function utf8Prefix(b: Buffer, max: number): Buffer {
  if (b.length <= max) return b;
  let end = Math.max(0, max);
  // a continuation byte (10xxxxxx) at the cut belongs to the character before it
  while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/** `s` cut to at most `max` UTF-8 bytes; `cut` tells whether anything was lost. */
function cutUtf8(s: string, max: number): { text: string; cut: boolean } {
  if (s.length * 3 <= max) return { text: s, cut: false };
  const b = Buffer.from(s, "utf8");
  if (b.length <= max) return { text: s, cut: false };
  return { text: utf8Prefix(b, max).toString("utf8"), cut: true };
}

/** Syslog severity of a Falco priority (the same numbers: Emergency 0 … Debug 7). */
export function syslogSeverity(priority: string): number {
  return priorityNumber(priority) ?? 5;
}

/** RFC 5424 TIMESTAMP of an alert time: UTC with microseconds, or `-` when the time is unreadable. */
function timestamp(t: string): string {
  const n = normalizeTime(t);
  // YYYY-MM-DDTHH:MM:SS.ffffff: TIME-SECFRAC has at most 6 digits
  return n === undefined ? "-" : `${n.slice(0, 26)}Z`;
}

/** A header field of PRINTUSASCII (`-` when nothing is left). */
function headerField(s: string, max: number): string {
  const v = s.replace(NOT_PRINTUSASCII_RE, "_").slice(0, max);
  return v === "" ? "-" : v;
}

/** MSGID: the rule as a token of letters, digits, `.`, `_` and `-` (at most 32). */
export function syslogMsgId(rule: string): string {
  const v = rule.replace(NOT_TOKEN_RE, "_").replace(EDGE_UNDERSCORES_RE, "").slice(0, 32).replace(EDGE_UNDERSCORES_RE, "");
  return v === "" ? "-" : v;
}

/** The structured-data parameters of an alert, in order (values not yet escaped). */
function sdParams(a: Alert, count: number): [string, string][] {
  const k = alertKeys(a);
  const p: [string, string][] = [
    ["id", a.id],
    ["rule", a.rule],
    ["priority", a.priority],
    ["source", a.source],
  ];
  if (k.namespace !== null) p.push(["namespace", k.namespace]);
  if (k.pod !== null) p.push(["pod", k.pod]);
  if (k.containerId !== null) p.push(["container_id", k.containerId]);
  if (k.containerName !== null) p.push(["container_name", k.containerName]);
  if (k.image !== null) p.push(["image", k.image]);
  if (a.tags.length > 0) p.push(["tags", a.tags.join(",")]);
  p.push(["count", String(count)]);
  if (a.blocked === true) p.push(["blocked", "true"]);
  return p;
}

/** One SD-ELEMENT: values without control characters, cut to `cap` bytes, `"`, `\` and `]` escaped. */
function sdElement(params: readonly [string, string][], cap: number): string {
  let out = `[${SYSLOG_SD_ID}`;
  for (const [name, raw] of params) {
    // the ID is never cut: it is what a receiver deduplicates and links by
    const v = cutUtf8(dropControls(raw), name === "id" ? Number.POSITIVE_INFINITY : cap).text;
    out += ` ${name}="${v.replace(SD_ESCAPE_RE, "\\$&")}"`;
  }
  return `${out}]`;
}

/** Options of {@link formatSyslog}. */
export interface SyslogFormat {
  facility: number;
  appName: string;
  /** Largest message in bytes. */
  maxBytes: number;
}

/** One alert as an RFC 5424 message (bytes, at most `maxBytes`). */
export function formatSyslog(item: DeliveryItem, f: SyslogFormat): Buffer {
  const a = item.alert;
  const pri = f.facility * 8 + syslogSeverity(a.priority);
  const header = Buffer.from(`<${pri}>1 ${timestamp(a.time)} ${headerField(a.hostname, 255)} ${headerField(f.appName, 48)} - ${syslogMsgId(a.rule)} `, "utf8");
  const params = sdParams(a, item.count);
  const text = dropControls(a.output);
  const msg = Buffer.from(text, "utf8");
  const bom = NON_ASCII_RE.test(text) ? BOM : Buffer.alloc(0);
  const full = Buffer.from(sdElement(params, Number.POSITIVE_INFINITY), "utf8");
  const fullLength = header.length + full.length + 1 + bom.length + msg.length;
  if (fullLength <= f.maxBytes) return Buffer.concat([header, full, Buffer.from(" "), bom, msg], fullLength);

  // too long: shrink the structured data until MSG keeps some room, then cut MSG
  params.push(["truncated", String(fullLength)]);
  let sd = Buffer.alloc(0);
  for (const cap of SD_VALUE_CAPS) {
    sd = Buffer.from(sdElement(params, cap), "utf8");
    if (header.length + sd.length + 1 + MIN_MSG_BYTES <= f.maxBytes) break;
  }
  const mark = Buffer.from(TRUNCATED_MARK);
  const room = f.maxBytes - header.length - sd.length - 1 - bom.length;
  const body = msg.length <= room ? msg : Buffer.concat([utf8Prefix(msg, room - mark.length), mark]);
  return Buffer.concat([header, sd, Buffer.from(" "), bom, body]);
}

/** `HOST:PORT` or `[IPv6]:PORT` → parts; throws a clear error for anything else. */
export function parseSyslogAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (m === null || !(port >= 1 && port <= 65_535)) throw new Error(`syslog address ${JSON.stringify(address)}: expected HOST:PORT or [IPv6]:PORT`);
  return { host: m[1] ?? m[2] ?? "", port };
}

/** How messages leave. */
interface Transport {
  send(msgs: readonly Buffer[], signal: AbortSignal): Promise<void>;
  close(): void;
}

function readTlsFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`tls.${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

/** Rejects when the signal aborts or the deadline passes, whichever first; `cleanup` stops both. */
function deadline(signal: AbortSignal, ms: number, what: string): { promise: Promise<never>; cleanup: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeliveryError(`${what}: no progress within ${ms} ms`)), ms);
    onAbort = () => reject(new DeliveryError(`${what}: aborted`));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  // the caller races it; a rejection after the race was won must not be unhandled
  promise.catch(() => undefined);
  return {
    promise,
    cleanup: () => {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    },
  };
}

function netError(what: string, err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = err as NodeJS.ErrnoException;
  return new DeliveryError(`${what}: ${e.code !== undefined && !e.message.includes(e.code) ? `${e.code} ` : ""}${e.message}`, { cause: err });
}

/** Closes a UDP socket that may be closed already (dgram throws then). */
function closeQuietly(s: UdpSocket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

/**
 * UDP: one datagram per message on a connected socket. The kernel reports an ICMP port
 * unreachable for an earlier datagram as an error event; the next send fails with it (retryable),
 * so the forwarder's status shows that nothing listens there (the refused datagrams are lost:
 * UDP has no delivery guarantee).
 */
class UdpTransport implements Transport {
  private socket: UdpSocket | undefined;
  private refused: Error | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  private async open(): Promise<UdpSocket> {
    const { address, family } = await lookup(this.host);
    const s = createSocket(family === 6 ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.connect(this.port, address, () => {
        s.off("error", reject);
        resolve();
      });
    });
    s.on("error", (err) => {
      if (this.socket === s) this.refused = err;
    });
    this.socket = s;
    return s;
  }

  async send(msgs: readonly Buffer[], signal: AbortSignal): Promise<void> {
    const where = `syslog udp ${this.host}:${this.port}`;
    const d = deadline(signal, this.timeoutMs, where);
    try {
      const refused = this.refused;
      this.refused = undefined;
      if (refused !== undefined) throw new DeliveryError(`${where}: an earlier datagram was refused (${refused.message})`, { cause: refused });
      const s = this.socket ?? (await Promise.race([this.open(), d.promise]));
      for (const m of msgs) {
        await Promise.race([
          new Promise<void>((resolve, reject) => {
            s.send(m, (err) => (err ? reject(err) : resolve()));
          }),
          d.promise,
        ]);
      }
    } catch (err) {
      // a refused datagram, a resolution failure: start afresh next time (the address may have moved)
      const s = this.socket;
      this.socket = undefined;
      if (s !== undefined) closeQuietly(s);
      throw netError(where, err);
    } finally {
      d.cleanup();
    }
  }

  close(): void {
    if (this.socket !== undefined) closeQuietly(this.socket);
    this.socket = undefined;
  }
}

/** How long a half-closed TCP connection may wait for the server's close. */
const CONFIRM_MS = 2000;

/** TCP (a connection per batch, confirmed by the server's close) or TLS (one connection, reopened when it breaks), octet-counting framing. */
class StreamTransport implements Transport {
  private socket: Socket | undefined;
  private unconfirmedLogged = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
    private readonly tls: { ca_file: string; cert_file: string; key_file: string } | undefined,
    private readonly log: Logger,
  ) {}

  private get where(): string {
    return `syslog ${this.tls !== undefined ? "tls" : "tcp"} ${this.host}:${this.port}`;
  }

  private open(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      let s: Socket;
      const ready = this.tls !== undefined ? "secureConnect" : "connect";
      if (this.tls !== undefined) {
        const t = this.tls;
        // read on every connection, so rotated certificates are picked up
        s = tlsConnect({
          host: this.host,
          port: this.port,
          ...(isIP(this.host) === 0 ? { servername: this.host } : {}),
          minVersion: "TLSv1.2",
          ...(t.ca_file !== "" ? { ca: readTlsFile(t.ca_file, "ca_file") } : {}),
          ...(t.cert_file !== "" ? { cert: readTlsFile(t.cert_file, "cert_file"), key: readTlsFile(t.key_file, "key_file") } : {}),
        });
      } else s = netConnect({ host: this.host, port: this.port });
      const fail = (err: Error) => {
        s.destroy();
        reject(err);
      };
      s.once("error", fail);
      s.once(ready, () => {
        s.off("error", fail);
        s.setNoDelay(true);
        s.setKeepAlive(true, 30_000);
        const gone = () => {
          if (this.socket === s) this.socket = undefined;
          s.destroy();
        };
        s.on("error", (err) => {
          this.log.debug({ err: err.message }, "syslog connection error");
          gone();
        });
        // a syslog server sends nothing; reading lets its FIN be seen (then the next batch reconnects)
        s.on("data", () => undefined);
        s.on("end", gone);
        s.on("close", gone);
        this.socket = s;
        resolve(s);
      });
    });
  }

  async send(msgs: readonly Buffer[], signal: AbortSignal): Promise<void> {
    const d = deadline(signal, this.timeoutMs, this.where);
    let s: Socket | undefined;
    try {
      s = this.socket !== undefined && !this.socket.destroyed ? this.socket : await Promise.race([this.open(), d.promise]);
      const parts: Buffer[] = [];
      for (const m of msgs) parts.push(Buffer.from(`${m.length} `), m);
      const frame = Buffer.concat(parts);
      const sock = s;
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          sock.write(frame, (err) => (err ? reject(err) : resolve()));
        }),
        d.promise,
      ]);
      if (this.tls === undefined) {
        // the end of our stream; the server's close after reading it is the acknowledgement
        this.socket = undefined;
        const confirmed = await Promise.race([
          new Promise<boolean>((resolve, reject) => {
            const t = setTimeout(() => resolve(false), CONFIRM_MS);
            sock.once("close", (hadError) => {
              clearTimeout(t);
              if (hadError) reject(new Error("the server reset the connection before reading the batch"));
              else resolve(true);
            });
            sock.end();
          }),
          d.promise.then(() => false),
        ]);
        if (!confirmed) {
          if (!this.unconfirmedLogged) {
            this.unconfirmedLogged = true;
            this.log.warn({ where: this.where }, "the syslog server did not close after the end of a batch: delivery taken as done, unconfirmed");
          }
          sock.destroy();
        }
      }
    } catch (err) {
      // whatever broke (refused, reset, TLS verification, a stalled write), the next batch starts on a new connection
      if (s !== undefined) s.destroy();
      if (this.socket === s) this.socket = undefined;
      throw netError(this.where, err);
    } finally {
      d.cleanup();
    }
  }

  close(): void {
    this.socket?.end();
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/** The syslog destination of a forwarder. */
export function createSyslogDestination(cfg: ForwarderOf<"syslog">, ctx: { logger: Logger }): Destination {
  const { host, port } = parseSyslogAddress(cfg.address);
  const log = ctx.logger.child({ forwarder: cfg.name, destination: "syslog" });
  if (cfg.protocol === "tls") {
    if ((cfg.tls.cert_file === "") !== (cfg.tls.key_file === "")) throw new Error("syslog tls.cert_file and tls.key_file go together");
    // unreadable files are a configuration error now rather than a failed send later
    if (cfg.tls.ca_file !== "") readTlsFile(cfg.tls.ca_file, "ca_file");
    if (cfg.tls.cert_file !== "") {
      readTlsFile(cfg.tls.cert_file, "cert_file");
      readTlsFile(cfg.tls.key_file, "key_file");
    }
  }
  const transport: Transport =
    cfg.protocol === "udp"
      ? new UdpTransport(host, port, cfg.timeout_ms)
      : new StreamTransport(host, port, cfg.timeout_ms, cfg.protocol === "tls" ? cfg.tls : undefined, log);
  const format: SyslogFormat = { facility: cfg.facility, appName: cfg.app_name, maxBytes: SYSLOG_MAX_BYTES[cfg.protocol] };
  return {
    maxBatch: cfg.batch_size > 0 ? Math.min(cfg.batch_size, DEFAULT_BATCH) : DEFAULT_BATCH,
    async send(items, signal) {
      await transport.send(
        items.map((it) => formatSyslog(it, format)),
        signal,
      );
      return { failed: [] };
    },
    close() {
      transport.close();
    },
  };
}
