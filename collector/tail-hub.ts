// SPDX-License-Identifier: Apache-2.0
/**
 * Live tail over WebSocket. Each client has a server-side filter and a bounded send queue: an
 * alert is serialized once (to one Buffer) for all clients, and a client whose unsent bytes
 * (`ws.bufferedAmount`: queued in ws plus in the socket) exceed its bound is dropped (counted,
 * closed with 4008), so a slow reader never slows the others or the ingest.
 *
 * The hub keeps a watermark: the highest seq it has broadcast (or been told is settled with no
 * alert of its own). Everything at or below it is in the store; everything above it will be
 * broadcast, in seq order. On one collector the ingest broadcasts each batch it stored; on the
 * fleet path the feed (fleet/feed.ts) broadcasts what every replica stored, once the shared
 * consumer's ack floor says it is settled.
 *
 * Resume without gaps or duplicates: a client may ask for history (`after=<alert id>` or
 * `since=<time>`). It is replayed in pages in store order (seq) up to the watermark, each bounded
 * by count and by `page_bytes`, the next read only once the client's queue has room, while live
 * broadcasts skip the client. A page read is a promise (PostgreSQL): when the watermark moved
 * while it was read, the alerts broadcast meanwhile are read as history too; only a page that
 * reached the current watermark switches the client to live, in the same turn of the event loop,
 * so an alert is either in a page or broadcast after the switch, never both or neither.
 *
 * Messages: text frames holding one or more JSON lines (NDJSON, each ending in `\n`; a batch
 * stored at once travels as one frame, or as several of at most `page_bytes` when larger):
 * `{"type":"alert","seq":N,"alert":{...}}`, and
 * `{"type":"live","seq":N}` once history is done (N: the store position the client is at, which
 * it can resume after with `after_seq=N` even if no alert matched its filter yet).
 */
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import { compileFilter, type AlertKeys } from "./filter.js";
import type { AlertPage, AlertReader, StoredAlert } from "./store-api.js";
import { alertToJson, DEFAULT_COLLECTOR_LIMITS, tailAlertLine, tailLiveLine, type Alert, type AlertFilter } from "../proto/index.js";

/** Counters of the tail hub. */
export interface TailCounters {
  clients: number;
  clients_total: number;
  clients_dropped_slow: number;
  messages_sent: number;
  history_sent: number;
  /** Clients that did not answer a ping within a heartbeat interval (dead peers, half-open TCP). */
  clients_dropped_unresponsive: number;
  /** Client frames over ws_max_payload (the client is closed with 1009). */
  ws_frames_too_large: number;
}

interface Client {
  ws: WebSocket;
  match: (a: Alert, k: AlertKeys) => boolean;
  /** seq of the last alert sent (or skipped by the filter). */
  cursor: number;
  /** History replay in progress: live broadcasts skip this client. */
  replaying: boolean;
  filter: AlertFilter;
  dead: boolean;
  /** Answered the last heartbeat ping. */
  alive: boolean;
}

const HISTORY_PAGE = 500;

/** The fan-out of stored alerts to WebSocket clients. */
export class TailHub {
  private readonly clients = new Set<Client>();
  readonly counters: TailCounters = {
    clients: 0,
    clients_total: 0,
    clients_dropped_slow: 0,
    messages_sent: 0,
    history_sent: 0,
    clients_dropped_unresponsive: 0,
    ws_frames_too_large: 0,
  };
  private readonly heartbeat: NodeJS.Timeout | undefined;
  /** The highest seq broadcast or settled: history reads stop at it, live clients start at it. */
  private mark: number;

  constructor(
    private readonly store: AlertReader,
    /** The watermark at start: everything stored so far (SQLite: its highest seq). */
    watermark: number,
    private readonly logger: Logger,
    /** Unsent bytes a client may have before it is dropped. */
    private readonly maxQueueBytes: number = DEFAULT_COLLECTOR_LIMITS.tail_queue_bytes,
    /** Bytes of alert JSON per history page read from the store and per live frame (limits.page_bytes). */
    private readonly pageBytes: number = DEFAULT_COLLECTOR_LIMITS.page_bytes,
    /**
     * Every this, each client is pinged and one that did not answer the previous ping is
     * terminated (limits.keepalive_time_ms): a dead or half-open peer does not keep its slot of
     * max_tail_clients until TCP notices. 0 = no heartbeat.
     */
    heartbeatMs: number = DEFAULT_COLLECTOR_LIMITS.keepalive_time_ms,
  ) {
    this.mark = watermark;
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.counters.clients_dropped_unresponsive++;
        this.remove(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        // a socket closing under us: its close event removes it
      }
    }
  }

  /**
   * Adds a client. `filter` must be normalized. With `afterSeq` (resume) or a `since` in the
   * filter, history is replayed first; otherwise the client gets alerts stored from now on.
   */
  add(ws: WebSocket, filter: AlertFilter, afterSeq: number | undefined): void {
    const replay = afterSeq !== undefined || filter.since !== undefined;
    const c: Client = {
      ws,
      match: compileFilter(filter),
      cursor: replay ? (afterSeq ?? 0) : this.mark,
      replaying: replay,
      filter,
      dead: false,
      alive: true,
    };
    this.clients.add(c);
    this.counters.clients = this.clients.size;
    this.counters.clients_total++;
    ws.on("close", () => this.remove(c));
    ws.on("error", (err: Error & { code?: string }) => {
      if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.counters.ws_frames_too_large++;
      this.remove(c);
    });
    ws.on("pong", () => (c.alive = true));
    // clients never need to send; anything they send is ignored
    if (replay) void this.replayPage(c);
    else this.sendRaw(c, Buffer.from(tailLiveLine(c.cursor)));
  }

  private remove(c: Client): void {
    c.dead = true;
    this.clients.delete(c);
    this.counters.clients = this.clients.size;
  }

  /** The watermark: the highest seq broadcast or settled. */
  get watermark(): number {
    return this.mark;
  }

  /** Moves the watermark to a settled seq with nothing (more) to broadcast up to it. */
  advance(seq: number): void {
    if (seq <= this.mark) return;
    this.mark = seq;
    for (const fn of this.watchers) fn();
  }

  private readonly watchers = new Set<() => void>();

  /** Calls `fn` whenever the watermark moves (forwarders wake up on it). */
  onAdvance(fn: () => void): void {
    this.watchers.add(fn);
  }

  private async replayPage(c: Client): Promise<void> {
    if (c.dead) return;
    const upTo = this.mark;
    let page: AlertPage;
    try {
      page = await this.store.queryPage(c.filter, {
        order: "seq",
        after: { seq: c.cursor, time: "" },
        limit: HISTORY_PAGE,
        maxBytes: this.pageBytes,
        upTo,
      });
    } catch (err) {
      this.logger.error({ err }, "tail history query failed");
      c.ws.close(1011, "history failed");
      return;
    }
    if (c.dead) return;
    // History never overfills the client's queue (that would drop it as slow): before each frame,
    // if the frame does not fit in half the bound on top of what is unsent, wait for the socket to
    // drain; the next page starts after c.cursor. A frame larger than that waits for an empty queue.
    const half = this.maxQueueBytes / 2;
    let need = 0;
    for (const s of page.rows) {
      const f = Buffer.from(tailAlertLine(s.seq, s.json));
      const queued = c.ws.bufferedAmount;
      if (queued > 0 && queued + f.length > half) {
        need = f.length;
        break;
      }
      c.cursor = s.seq;
      this.counters.history_sent++;
      this.sendRaw(c, f);
      if (c.dead) return;
    }
    if (need === 0 && !page.more) {
      // every match up to the page's watermark was sent
      c.cursor = Math.max(c.cursor, upTo);
      if (this.mark === upTo) {
        // caught up: later alerts are broadcast (this turn of the event loop, no await in between)
        c.replaying = false;
        this.sendRaw(c, Buffer.from(tailLiveLine(c.cursor)));
        return;
      }
      // broadcasts went by (skipping this client) while the page was read: read them as history
      need = 1;
    }
    if (need === 0) {
      // the page ended (by count or bytes) without the cursor moving past a match: continue past it
      if (page.next !== undefined) c.cursor = Math.max(c.cursor, page.next.seq);
      need = 1;
    }
    const fits = () => c.ws.bufferedAmount === 0 || c.ws.bufferedAmount + need <= half;
    // one page at a time: the next is read only once this one has mostly left
    setImmediate(() => {
      if (fits()) return void this.replayPage(c);
      const wait = () => (c.dead || fits() ? void this.replayPage(c) : setTimeout(wait, 5));
      setTimeout(wait, 5);
    });
  }

  /**
   * Broadcasts newly stored alerts (seq order) to live clients whose filter matches: one frame
   * per client per batch, each alert serialized once; clients that match the whole batch share
   * one buffer.
   */
  publish(inserted: readonly StoredAlert[]): void {
    if (inserted.length === 0) return;
    this.advance(inserted[inserted.length - 1]!.seq);
    if (this.clients.size === 0) return;
    const lines: (Buffer | undefined)[] = new Array<Buffer | undefined>(inserted.length);
    let all: Buffer | undefined;
    for (const c of this.clients) {
      if (c.replaying) continue;
      const parts: Buffer[] = [];
      let everything = true;
      for (let i = 0; i < inserted.length; i++) {
        const s = inserted[i]!;
        if (s.seq <= c.cursor) {
          everything = false;
          continue;
        }
        c.cursor = s.seq;
        if (!c.match(s.alert, s.keys)) {
          everything = false;
          continue;
        }
        parts.push((lines[i] ??= frame(s)));
      }
      if (parts.length === 0) continue;
      let size = 0;
      for (const b of parts) size += b.length;
      if (size <= this.pageBytes) {
        const data = parts.length === 1 ? parts[0]! : everything ? (all ??= Buffer.concat(parts)) : Buffer.concat(parts);
        this.sendRaw(c, data, parts.length);
        continue;
      }
      // a large batch goes out in frames of at most page_bytes (one alert at least), not as one
      // frame bigger than the client's queue bound or its WebSocket payload limit
      let from = 0;
      while (from < parts.length && !c.dead) {
        let to = from + 1;
        let bytes = parts[from]!.length;
        while (to < parts.length && bytes + parts[to]!.length <= this.pageBytes) bytes += parts[to++]!.length;
        this.sendRaw(c, to - from === 1 ? parts[from]! : Buffer.concat(parts.slice(from, to)), to - from);
        from = to;
      }
    }
  }

  private sendRaw(c: Client, data: Buffer, messages = 1): void {
    if (c.dead) return;
    const queued = c.ws.bufferedAmount;
    if (queued + data.length > this.maxQueueBytes) {
      c.dead = true;
      this.counters.clients_dropped_slow++;
      this.logger.warn({ queuedBytes: queued, limitBytes: this.maxQueueBytes }, "slow tail client dropped");
      this.clients.delete(c);
      this.counters.clients = this.clients.size;
      c.ws.close(4008, "slow client: queue full");
      setTimeout(() => c.ws.terminate(), 1000).unref();
      return;
    }
    this.counters.messages_sent += messages;
    c.ws.send(data, { binary: false });
  }

  /** Closes every client. */
  closeAll(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    for (const c of this.clients) {
      c.dead = true;
      c.ws.close(1001, "collector stopping");
      setTimeout(() => c.ws.terminate(), 500).unref();
    }
    this.clients.clear();
    this.counters.clients = 0;
  }
}

function frame(s: StoredAlert): Buffer {
  return Buffer.from(tailAlertLine(s.seq, JSON.stringify(alertToJson(s.alert))));
}
