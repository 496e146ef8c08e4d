// SPDX-License-Identifier: Apache-2.0
/**
 * The collector's client protocol, shared by the collector and its clients (`vigil tail`,
 * `vigil alerts query`, forwarders): the alert filter as URL query parameters (of
 * `GET /api/v1/alerts` and the tail), and the live tail over WebSocket.
 *
 * Tail messages are text frames holding one or more JSON lines (NDJSON, each ending in `\n`):
 * `{"type":"alert","seq":N,"alert":{...}}` (the alert in the {@link alertToJson} form) and
 * `{"type":"live","seq":N}` once history is done. N is the store position the client is at; it
 * resumes after it with `after_seq=N`.
 */

/** The subprotocol the tail answers with when a client offers it. */
export const WS_PROTOCOL = "vigil.v1";
/** Prefix of the subprotocol that carries a bearer token (`vigil.bearer.<token>`). */
export const WS_BEARER_PREFIX = "vigil.bearer.";

/** A filter as given by a user (all optional). */
export interface AlertFilter {
  since?: string;
  until?: string;
  rule?: string;
  priority?: string;
  tags?: string[];
  node?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  image?: string;
  /** The event source (`syscall`, `k8s_audit`, …). */
  source?: string;
}

const FILTER_KEYS = ["since", "until", "rule", "priority", "node", "namespace", "pod", "container", "image", "source"] as const;

/** Reads a filter from URL query parameters (`tag` may repeat). */
export function filterFromParams(p: URLSearchParams): AlertFilter {
  const f: AlertFilter = {};
  for (const k of FILTER_KEYS) {
    const v = p.get(k);
    if (v !== null && v !== "") f[k] = v;
  }
  const tags = p.getAll("tag").filter((t) => t !== "");
  if (tags.length > 0) f.tags = tags;
  return f;
}

/** Writes a filter as URL query parameters. */
export function filterToParams(f: AlertFilter, p: URLSearchParams = new URLSearchParams()): URLSearchParams {
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v !== undefined) p.set(k, v);
  }
  for (const t of f.tags ?? []) p.append("tag", t);
  return p;
}

/** One tail message, as a client reads it. */
export type TailMessage = { type: "alert"; seq: number; alert: Record<string, unknown> } | { type: "live"; seq: number };

/** The line of a `live` message. */
export function tailLiveLine(seq: number): string {
  return `{"type":"live","seq":${seq}}\n`;
}

/** The line of an `alert` message around an alert already serialized as JSON (serialized once for all clients). */
export function tailAlertLine(seq: number, alertJson: string): string {
  return `{"type":"alert","seq":${seq},"alert":${alertJson}}\n`;
}
