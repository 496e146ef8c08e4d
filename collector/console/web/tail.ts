// SPDX-License-Identifier: Apache-2.0
/**
 * The live tail as the console reads it: a WebSocket to `/api/v1/tail` (proto/tail.ts) on the
 * page's own origin, authenticated by the session cookie the browser sends with the upgrade.
 * After a drop it reconnects with `after_seq=` the last position it saw, so nothing is missed or
 * repeated; the delay doubles from 1 s to 30 s while the collector stays unreachable.
 */
import { type AlertFilter, filterToParams, WS_PROTOCOL } from "../../../proto/tail.js";
import { type ConsoleAlert, parseAlert } from "./model.js";

/** The state of the tail, as the console shows it. */
export type TailState = "connecting" | "live" | "retrying" | "closed";

/** What the tail reports. */
export interface TailHandlers {
  alerts(batch: ConsoleAlert[]): void;
  state(s: TailState, detail?: string): void;
}

/** A live tail that reconnects until closed. */
export class LiveTail {
  private ws: WebSocket | undefined;
  private seq: number | undefined;
  private delay = 1000;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly filter: AlertFilter,
    private readonly on: TailHandlers,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const p = filterToParams(this.filter);
    if (this.seq !== undefined) p.set("after_seq", String(this.seq));
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/v1/tail${p.size > 0 ? `?${p}` : ""}`;
    this.on.state("connecting");
    const ws = new WebSocket(url, WS_PROTOCOL);
    this.ws = ws;
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== "string") return;
      const batch: ConsoleAlert[] = [];
      for (const line of ev.data.split("\n")) {
        if (line === "") continue;
        let m: { type?: unknown; seq?: unknown; alert?: unknown };
        try {
          m = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof m.seq === "number") this.seq = m.seq;
        if (m.type === "alert") {
          const a = parseAlert(m.alert);
          if (a !== undefined) batch.push(a);
        } else if (m.type === "live") {
          this.delay = 1000;
          this.on.state("live");
        }
      }
      if (batch.length > 0) this.on.alerts(batch);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.closed) return;
      const wait = this.delay;
      this.delay = Math.min(this.delay * 2, 30_000);
      this.on.state("retrying", ev.reason !== "" ? ev.reason : `connection closed (${ev.code})`);
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }

  /** Stops the tail for good. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close(1000, "done");
    this.ws = undefined;
    this.on.state("closed");
  }
}
