// SPDX-License-Identifier: Apache-2.0
/**
 * What forwarders keep in the store, beside the alerts, so it survives restarts and is shared by
 * every collector of a fleet: each forwarder's cursor (the seq of the last alert handled), its
 * dead letters (alerts a destination refused for good, with the error), and a lease that lets
 * exactly one collector run a forwarder at a time (SQLite: the one collector; PostgreSQL: an
 * advisory lock held on a session of its own, released by PostgreSQL when that collector dies).
 */
import type { MaybePromise, StoredAlert } from "../store-api.js";

/** An alert a destination refused for good. */
export interface DeadLetter {
  forwarder: string;
  seq: number;
  alertId: string;
  error: string;
  /** When it was dead-lettered (ms since the epoch). */
  atMs: number;
}

/** The right to run one forwarder. */
export interface Lease {
  /** True once the lease can no longer be trusted (its session ended). */
  readonly lost: boolean;
  release(): MaybePromise<void>;
}

/** Most dead letters kept per forwarder (the oldest go first). */
export const MAX_DEAD_LETTERS = 10_000;

/** The store side of forwarders. */
export interface ForwarderStore {
  /** Alerts with after < seq <= upTo, in seq order, at most `limit`. */
  range(after: number, upTo: number, limit: number): MaybePromise<StoredAlert[]>;
  /** How many alerts have after < seq <= upTo. */
  countRange(after: number, upTo: number): MaybePromise<number>;
  getCursor(name: string): MaybePromise<number | undefined>;
  setCursor(name: string, seq: number): MaybePromise<void>;
  addDeadLetter(d: DeadLetter): MaybePromise<void>;
  /** The newest dead letters of a forwarder, newest first. */
  deadLetters(name: string, limit: number): MaybePromise<DeadLetter[]>;
  deadLetterCount(name: string): MaybePromise<number>;
  /** Alerts retention deleted while still after the forwarder's cursor (kept across restarts). */
  expiredCount(name: string): MaybePromise<number>;
  /** The forwarder's lease when no other collector holds it; undefined otherwise. */
  tryLease(name: string): MaybePromise<Lease | undefined>;
}
