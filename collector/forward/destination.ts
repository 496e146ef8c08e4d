// SPDX-License-Identifier: Apache-2.0
/**
 * What a forwarder's destination implements, and the helpers every destination shares. The
 * runner (runner.ts) reads the store in order with the forwarder's cursor, filters, groups and
 * paces, then hands a destination one batch at a time; the destination sends it and says what
 * happened. The runner owns retries, backoff, Retry-After, dead letters and the cursor, so a
 * destination only speaks its protocol:
 *
 * - resolve (or return `{ failed: [] }`) when every item was accepted (a duplicate the
 *   destination recognized counts as accepted);
 * - return `{ failed: [...] }` for per-item failures of a batch API (Elasticsearch bulk): each
 *   `permanent` one goes to the dead letters, the others are retried;
 * - throw a {@link DeliveryError} when the whole batch failed: `permanent` when the destination
 *   refused it for good ({@link permanentStatus}: the runner then isolates the bad item by
 *   halving the batch and dead-letters it alone), else retryable, with `retryAfterMs` when the
 *   destination said how long to wait. Any other throw is retryable.
 */
import { readFileSync } from "node:fs";
import type { Alert } from "../../proto/index.js";

/** One alert handed to a destination. */
export interface DeliveryItem {
  /** The store position (seq) of the alert (the first one of a group). */
  seq: number;
  alert: Alert;
  /** How many alerts this item stands for (> 1 when repeats were grouped). */
  count: number;
}

/** A per-item failure of a batch. */
export interface ItemFailure {
  /** Index into the batch. */
  index: number;
  permanent: boolean;
  error: string;
}

/** What a send achieved. */
export interface DeliveryOutcome {
  failed: ItemFailure[];
}

/** A destination's refusal or failure of a whole batch. */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  readonly retryAfterMs: number | undefined;
  /** HTTP status, when there was one (metrics and the status command show it). */
  readonly status: number | undefined;

  constructor(message: string, opts: { permanent?: boolean; retryAfterMs?: number | undefined; status?: number | undefined; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = "DeliveryError";
    this.permanent = opts.permanent === true;
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
  }
}

/** A destination of one forwarder. */
export interface Destination {
  /** Most items per send (1 for destinations without a batch API). */
  readonly maxBatch: number;
  /** Sends one batch (order kept within it); see the module comment for the outcome. */
  send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome | undefined>;
  /** Releases connections. */
  close?(): Promise<void> | void;
}

/**
 * A secret from `<name>_file` or `<name>_env` (trimmed of a final newline); `inline` when both are
 * empty. Re-read by callers that want rotation. Throws a clear error naming the setting (never
 * the value) when the file cannot be read or the variable is unset.
 */
export function readSecret(setting: string, file: string, env: string, inline = ""): string {
  if (file !== "") {
    let v: string;
    try {
      v = readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`${setting}_file ${file}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
    }
    v = v.replace(/\r?\n$/, "");
    if (v === "") throw new Error(`${setting}_file ${file} is empty`);
    return v;
  }
  if (env !== "") {
    const v = process.env[env];
    if (v === undefined || v === "") throw new Error(`${setting}_env names ${env}, which is not set`);
    return v;
  }
  return inline;
}

/**
 * Parses a `Retry-After` header (seconds, or an HTTP date) into milliseconds from `now`;
 * undefined when absent or unreadable. Capped at one hour.
 */
export function retryAfterMs(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    ms = Math.max(0, t - now);
  }
  return Math.min(ms, 3_600_000);
}

/**
 * Statuses that refuse the destination as configured rather than one message: 401 and 407 (a
 * wrong or revoked credential), 403 (a credential without the right, a disabled flow, an archived
 * channel), 404 and 410 (a wrong URL, a deleted webhook, a missing index). Made permanent, the
 * runner would dead-letter every alert one by one; retried, the alerts wait in the store while the
 * error shows as the forwarder's last error (`vigil forwarders status`) until someone fixes it.
 */
const DESTINATION_WIDE = new Set([401, 403, 404, 407, 410]);

/** Whether an HTTP status refuses the destination as configured (see {@link permanentStatus}). */
export function destinationWideStatus(status: number): boolean {
  return DESTINATION_WIDE.has(status);
}

/**
 * Whether an HTTP status (of a request, or of one item of a batch answer) is a refusal of that
 * message for good: a 4xx other than 408 and 425 (try again), 429 (slow down), and the
 * destination-wide refusals ({@link destinationWideStatus}), which are retried.
 */
export function permanentStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429 && !DESTINATION_WIDE.has(status);
}

/** At most the `natural` batch of a destination, or fewer when the forwarder's `batch_size` says so. */
export function batchOf(natural: number, batchSize: number): number {
  return batchSize > 0 ? Math.min(natural, batchSize) : natural;
}

/** One request of a send covering some items of the batch (by index). */
export interface PostUnit {
  indices: readonly number[];
  send: () => Promise<void>;
}

/**
 * Sends the requests of one batch in order. When the first fails the error is thrown (the runner
 * retries, or narrows down a refusal); when a later one fails, the items already delivered stay
 * delivered and the rest come back as retryable failures (they are sent again as a new batch, in
 * which a refusal is then isolated as usual).
 */
export async function postInOrder(units: readonly PostUnit[]): Promise<DeliveryOutcome | undefined> {
  for (let u = 0; u < units.length; u++) {
    try {
      await units[u]!.send();
    } catch (err) {
      if (u === 0) throw err;
      const error = err instanceof Error ? err.message : String(err);
      return { failed: units.slice(u).flatMap((x) => x.indices.map((index) => ({ index, permanent: false, error }))) };
    }
  }
  return undefined;
}
