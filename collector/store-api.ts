// SPDX-License-Identifier: Apache-2.0
/**
 * What the query API and the live tail need from a store, whichever it is: the embedded SQLite
 * store (store.ts, synchronous: its values come back as they are) or the fleet's PostgreSQL store
 * (pg-store.ts: promises). Callers `await` every result, so one code path serves both.
 *
 * `seq` is the store's order: SQLite's own row sequence on one collector; on the fleet path, the
 * JetStream stream sequence of the alert's message (one order all replicas agree on, which is
 * each node's publish order).
 */
import type { AlertKeys } from "./filter.js";
import type { SummaryCounts, SummaryPlan } from "./summary.js";
import type { Alert, AlertFilter } from "../proto/index.js";

/** One alert as stored, with its store sequence number and filter keys. */
export interface StoredAlert {
  seq: number;
  alert: Alert;
  keys: AlertKeys;
}

/** A stored audit capture. */
export interface StoredCapture {
  alertId: string;
  data: Buffer;
  eventCount: number;
  containerId: string;
}

/** Result of inserting a batch. */
export interface InsertResult {
  /** Newly stored alerts, in seq order (what the live tail broadcasts). */
  inserted: StoredAlert[];
  /** Alerts that were already stored. */
  duplicates: number;
}

/** Where a page of {@link AlertReader.queryPage} starts: after this alert (keyset cursor). */
export interface PageCursor {
  /** The last alert's store position. */
  seq: number;
  /** Its normalized time (needed for time order). */
  time: string;
}

/** Options of {@link AlertReader.queryPage}. */
export interface PageOptions {
  /** `time`: alert time, then store order (queries); `seq`: store order (the tail's history). */
  order: "time" | "seq";
  /** With `order: "time"`: newest first (time, then store order, both descending). */
  desc?: boolean | undefined;
  /** Start after this alert (in the page's order: with `desc`, before it in time); the first page when absent. */
  after?: PageCursor | undefined;
  /** Most alerts in the page. */
  limit: number;
  /** The page holds at most this many bytes of alert JSON, or one alert when that one alone is larger. */
  maxBytes: number;
  /** Only alerts with seq at most this (the tail's settled watermark); no bound when absent. */
  upTo?: number | undefined;
}

/** One alert of a page: its position and its JSON as query results and the tail carry it. */
export interface PageRow {
  seq: number;
  /** Normalized alert time. */
  time: string;
  /** `alertToJson` of the alert, as text (sent as is: no parse, no re-serialization). */
  json: string;
}

/** One page of matching alerts. */
export interface AlertPage {
  rows: PageRow[];
  /** Bytes of the rows' JSON. */
  bytes: number;
  /** The cursor after the last row (the next page's `after`); undefined when the page is empty. */
  next: PageCursor | undefined;
  /** False when the store holds no further match (the page ended before its limits). */
  more: boolean;
}

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** What one retention run removed. */
export interface RetentionResult {
  /** Alerts deleted. */
  removed: number;
  /**
   * Per forwarder (by cursor name), the deleted alerts it had not reached yet (matching its
   * filters or not): lost to it. Only forwarders with such alerts are listed.
   */
  unsent: { forwarder: string; alerts: number }[];
}

/** The read side of a store, plus retention and close. */
export interface AlertReader {
  /** One page of matching alerts (PageOptions.upTo bounds seq from above). */
  queryPage(f: AlertFilter, o: PageOptions): MaybePromise<AlertPage>;
  /** Whole result (tests and small reads). */
  query(f: AlertFilter, limit: number, afterSeq?: number): MaybePromise<StoredAlert[]>;
  /** A stored capture by alert ID (complete: every chunk stored). */
  getCapture(alertId: string): MaybePromise<StoredCapture | undefined>;
  /** A stored alert's JSON (as queries send it) by ID. */
  getAlert(id: string): MaybePromise<string | undefined>;
  /** The seq of a stored alert ID. */
  seqOf(id: string): MaybePromise<number | undefined>;
  /** The cursor of a stored alert ID (a page given it as `after` continues past that alert). */
  cursorOf(id: string): MaybePromise<PageCursor | undefined>;
  /** Number of stored alerts. */
  count(): MaybePromise<number>;
  /** The counts of `GET /api/v1/summary` over the plan's range and filter (summary.ts), computed in the store. */
  summary(plan: SummaryPlan): MaybePromise<SummaryCounts>;
  /**
   * Deletes alerts (and captures) older than `maxAgeMs` by alert time; returns how many, and
   * for each forwarder how many of them were still after its cursor (added to its expired count).
   */
  applyRetention(maxAgeMs: number, now?: number): MaybePromise<RetentionResult>;
  close(): MaybePromise<void>;
}
