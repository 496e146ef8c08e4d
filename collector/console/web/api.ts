// SPDX-License-Identifier: Apache-2.0
/**
 * The console's calls to its collector (same origin only: the CSP allows nothing else). The
 * session cookie authenticates every call; the token itself is sent once, in the body of
 * `POST /api/v1/session`, and never kept by the page.
 */
import type { AlertFilter } from "../../../proto/tail.js";
import { filterToParams } from "../../../proto/tail.js";
import { type ConsoleAlert, parseAlert } from "./model.js";

/** The role a session has: `admin` (the collector's token) or `read` (the read-only token). */
export type Role = "admin" | "read";

/** An API answer that was not a success, with the collector's own message. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === "string") message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { credentials: "same-origin", cache: "no-store", ...init });
  if (!res.ok) throw await failure(res);
  return res;
}

/** The current session's role, or undefined when there is no (valid) session. */
export async function getSession(): Promise<Role | undefined> {
  const res = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
  if (res.status === 401) return undefined;
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { role?: unknown };
  return body.role === "read" ? "read" : "admin";
}

/** Logs in with a token: the collector answers with the HttpOnly session cookie. */
export async function login(token: string): Promise<Role> {
  const res = await call("/api/v1/session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = (await res.json()) as { role?: unknown };
  return body.role === "read" ? "read" : "admin";
}

/** Ends the session (the collector forgets it and clears the cookie). */
export async function logout(): Promise<void> {
  await call("/api/v1/session", { method: "DELETE" });
}

/** Options of {@link queryAlerts}. */
export interface QueryOptions {
  /** Newest first (`order=desc`); oldest first when absent. */
  newestFirst?: boolean;
  /** With `newestFirst`: only alerts older than this one (`before=<id>`: the next page after it). */
  before?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Alerts of a query, at most `limit`, as `GET /api/v1/alerts` streams them (NDJSON, read as it arrives). */
export async function queryAlerts(filter: AlertFilter, limit: number, opts: QueryOptions = {}): Promise<ConsoleAlert[]> {
  const p = filterToParams(filter);
  p.set("limit", String(limit));
  if (opts.newestFirst === true) {
    p.set("order", "desc");
    if (opts.before !== undefined) p.set("before", opts.before);
  }
  const res = await call(`/api/v1/alerts?${p}`, opts.signal !== undefined ? { signal: opts.signal } : {});
  const out: ConsoleAlert[] = [];
  const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (reader === undefined) return out;
  let rest = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += value;
    let nl: number;
    let from = 0;
    while ((nl = rest.indexOf("\n", from)) >= 0) {
      const a = parseAlert(JSON.parse(rest.slice(from, nl)));
      if (a !== undefined) out.push(a);
      from = nl + 1;
    }
    rest = rest.slice(from);
  }
  if (rest.trim() !== "") throw new ApiError(0, "the alert stream ended in the middle of a line (the query was cut short)");
  return out;
}

/** One stored alert by ID. */
export async function getAlert(id: string, signal?: AbortSignal): Promise<ConsoleAlert> {
  const res = await call(`/api/v1/alerts/${encodeURIComponent(id)}`, signal !== undefined ? { signal } : {});
  const a = parseAlert(await res.json());
  if (a === undefined) throw new ApiError(0, "the collector sent an alert the console cannot read");
  return a;
}

/** What is known of an alert's capture without downloading it. */
export interface CaptureInfo {
  bytes: number;
  events: number;
  /** Where the browser downloads it (the session cookie authenticates the GET). */
  href: string;
}

/** The capture of an alert, or undefined when it has none (404). Reads the headers only. */
export async function getCaptureInfo(id: string, signal?: AbortSignal): Promise<CaptureInfo | undefined> {
  const href = `/api/v1/captures/${encodeURIComponent(id)}`;
  const res = await fetch(href, { credentials: "same-origin", cache: "no-store", ...(signal !== undefined ? { signal } : {}) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw await failure(res);
  // the body is not needed here: stop reading it
  void res.body?.cancel();
  return { bytes: Number(res.headers.get("content-length") ?? 0), events: Number(res.headers.get("x-vigil-event-count") ?? 0), href };
}

/** Counts per priority of one bucket of the timeline. */
export interface SummaryBucket {
  /** Bucket start (epoch ms). */
  t: number;
  counts: Record<string, number>;
}

/** One entry of a top list. */
export interface TopEntry {
  key: string;
  count: number;
}

/** `GET /api/v1/summary`: the timeline and top lists of a filter's range. */
export interface Summary {
  from: number;
  to: number;
  bucketMs: number;
  buckets: SummaryBucket[];
  top: { rules: TopEntry[]; namespaces: TopEntry[]; images: TopEntry[]; nodes: TopEntry[] };
  total: number;
}

function msOf(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") return Date.parse(v);
  return Number.NaN;
}

function topOf(v: unknown): TopEntry[] {
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is TopEntry => e !== null && typeof e === "object" && typeof e.key === "string" && typeof e.count === "number");
}

/** The summary of a filter's range in at most `buckets` buckets; undefined when the collector has no summary API. */
export async function getSummary(filter: AlertFilter, buckets: number, signal?: AbortSignal): Promise<Summary | undefined> {
  const p = filterToParams(filter);
  p.set("buckets", String(buckets));
  const res = await fetch(`/api/v1/summary?${p}`, { credentials: "same-origin", cache: "no-store", ...(signal !== undefined ? { signal } : {}) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw await failure(res);
  const b = (await res.json()) as Record<string, unknown>;
  const top = (b["top"] ?? {}) as Record<string, unknown>;
  const list = Array.isArray(b["buckets"]) ? (b["buckets"] as unknown[]) : [];
  return {
    from: msOf(b["from"]),
    to: msOf(b["to"]),
    bucketMs: Number(b["bucketMs"]),
    buckets: list.map((x) => {
      const o = (x ?? {}) as Record<string, unknown>;
      return { t: msOf(o["t"]), counts: (o["counts"] ?? {}) as Record<string, number> };
    }),
    top: { rules: topOf(top["rules"]), namespaces: topOf(top["namespaces"]), images: topOf(top["images"]), nodes: topOf(top["nodes"]) },
    total: Number(b["total"] ?? 0),
  };
}

/** One forwarder as `GET /api/v1/forwarders` reports it (collector/forward: the runner's state, its cursor and lag). */
export interface ForwarderInfo {
  name: string;
  type: string;
  /** `running` (holds the lease), `standby` (another collector runs it), `retrying`, `stopped`. */
  state: string;
  /** Sequence number of the last alert it passed (delivered, filtered or dead-lettered); undefined before the first. */
  cursor: number | undefined;
  /** Sequence number up to which alerts are stored and settled. */
  watermark: number;
  /** Alerts between the cursor and the watermark, and the age of the oldest of them (seconds). */
  lagAlerts: number;
  lagSeconds: number;
  deadLetters: number;
  /** Alerts retention deleted before the forwarder reached them. */
  expired: number;
  /** sent, requests, failed, retried, dead_lettered, filtered, grouped… */
  counters: Record<string, number>;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  lastDeliveredAt: string | undefined;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const optText = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Reads one forwarder of the collector's answer; undefined when it is not one. */
export function parseForwarder(v: unknown): ForwarderInfo | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o["name"] !== "string" || typeof o["type"] !== "string") return undefined;
  const counters: Record<string, number> = {};
  const c = o["counters"];
  if (c !== null && typeof c === "object" && !Array.isArray(c)) for (const [k, x] of Object.entries(c)) if (typeof x === "number") counters[k] = x;
  return {
    name: o["name"],
    type: o["type"],
    state: typeof o["state"] === "string" ? o["state"] : "unknown",
    cursor: typeof o["cursor"] === "number" ? o["cursor"] : undefined,
    watermark: num(o["watermark"]),
    lagAlerts: num(o["lagAlerts"]),
    lagSeconds: num(o["lagSeconds"]),
    deadLetters: num(o["deadLetters"]),
    expired: num(o["expired"]),
    counters,
    lastError: optText(o["lastError"]),
    lastErrorAt: optText(o["lastErrorAt"]),
    lastDeliveredAt: optText(o["lastDeliveredAt"]),
  };
}

/** The collector's forwarders and their status (an empty list when none is configured). */
export async function getForwarders(signal?: AbortSignal): Promise<ForwarderInfo[]> {
  const res = await call("/api/v1/forwarders", signal !== undefined ? { signal } : {});
  const body = (await res.json()) as { forwarders?: unknown };
  const list = Array.isArray(body.forwarders) ? body.forwarders : [];
  return list.map(parseForwarder).filter((f): f is ForwarderInfo => f !== undefined);
}

/** One alert a forwarder gave up on. */
export interface DeadLetter {
  alertId: string;
  seq: number;
  error: string;
  at: string;
}

/** A forwarder's newest dead letters (at most `limit`). */
export async function getDeadLetters(name: string, limit: number, signal?: AbortSignal): Promise<DeadLetter[]> {
  const res = await call(`/api/v1/forwarders/${encodeURIComponent(name)}/dead-letters?limit=${limit}`, signal !== undefined ? { signal } : {});
  const body = (await res.json()) as { dead_letters?: unknown };
  const list = Array.isArray(body.dead_letters) ? (body.dead_letters as unknown[]) : [];
  return list.flatMap((x) => {
    if (x === null || typeof x !== "object") return [];
    const o = x as Record<string, unknown>;
    return typeof o["alert_id"] === "string"
      ? [{ alertId: o["alert_id"], seq: num(o["seq"]), error: optText(o["error"]) ?? "", at: optText(o["at"]) ?? "" }]
      : [];
  });
}
