// SPDX-License-Identifier: Apache-2.0
/**
 * One resource kept in step with the API server, the list/watch protocol of client-go's
 * reflector: a paginated list (`limit`, `continue`) gives the objects and the resourceVersion to
 * watch from; the watch (`allowWatchBookmarks`, a server-side `timeoutSeconds` so the stream is
 * renewed every few minutes) carries ADDED/MODIFIED/DELETED and BOOKMARK events, each advancing
 * the resourceVersion; a stream that ends or breaks is resumed from that resourceVersion; `410
 * Gone` (the version left the server's window: HTTP 410, or an ERROR event with a Status of code
 * 410) means a relist. Errors back off with jitter, doubling up to a ceiling.
 */
import type { Logger } from "pino";
import { isGone, K8sApiError, K8sApiErrorCode, toApiError } from "./errors.js";
import { resourceVersionOf, uidOf } from "./objects.js";
import type { Transport, WatchHandle } from "./transport.js";

/** A resource to list and watch. */
export interface ResourceSpec {
  /** The resource's plural (`pods`, `replicasets`): names it in logs and metrics. */
  readonly resource: string;
  /** The list/watch path: `/api/v1/pods`, `/apis/apps/v1/replicasets`. */
  readonly path: string;
  /** Ask for PartialObjectMetadata (metadata only). */
  readonly metadataOnly: boolean;
  /** A field selector (`spec.nodeName=NODE`). */
  readonly fieldSelector?: string | undefined;
}

/** Where a reflector's objects go. */
export interface ReflectorSink {
  upsert(object: unknown): void;
  remove(object: unknown): void;
  /** A complete list was applied: every object whose UID is not in `seen` is gone. */
  replace(seen: ReadonlySet<string>): void;
}

export interface ReflectorOptions {
  logger: Logger;
  /** Objects per list page (`limit`; default 500). */
  pageSize?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A watch asks the server to end it after between this and twice this many seconds (default 300). */
  watchTimeoutSeconds?: number;
  /** Randomness for jitter (tests pass a fixed one). */
  random?: () => number;
  /** Told of every failure (after it was counted) and of every recovery. */
  onHealth?: (healthy: boolean, err: K8sApiError | undefined) => void;
}

/** Counters of one reflector (exported as metrics by the context). */
export interface ReflectorStats {
  lists: number;
  relists: number;
  list_pages: number;
  watches: number;
  watch_restarts: number;
  watch_events: number;
  bookmarks: number;
  gone: number;
  errors: number;
}

const MAX_PAGES = 100_000;

/** Keeps one resource in step with the API server. */
export class Reflector {
  readonly stats: ReflectorStats = { lists: 0, relists: 0, list_pages: 0, watches: 0, watch_restarts: 0, watch_events: 0, bookmarks: 0, gone: 0, errors: 0 };
  /** The resourceVersion the next watch starts from; undefined = list first. */
  resourceVersion: string | undefined;
  /** A complete list has been applied at least once. */
  synced = false;
  healthy = false;
  lastError: K8sApiError | undefined;

  private readonly log: Logger;
  private readonly pageSize: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly timeoutS: number;
  private readonly random: () => number;
  private readonly onHealth: ((healthy: boolean, err: K8sApiError | undefined) => void) | undefined;
  private backoffMs: number;
  private stopped = true;
  private running: Promise<void> | undefined;
  private watchHandle: WatchHandle | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(
    readonly spec: ResourceSpec,
    private readonly transport: Transport,
    private readonly sink: ReflectorSink,
    opts: ReflectorOptions,
  ) {
    this.log = opts.logger;
    this.pageSize = opts.pageSize ?? 500;
    this.minMs = opts.backoffMinMs ?? 500;
    this.maxMs = opts.backoffMaxMs ?? 30_000;
    this.timeoutS = opts.watchTimeoutSeconds ?? 300;
    this.random = opts.random ?? Math.random;
    this.onHealth = opts.onHealth;
    this.backoffMs = this.minMs;
  }

  /** Starts listing and watching in the background. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  /** Ends the watch and the loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watchHandle?.abort();
    if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
    this.wake?.();
    for (const w of this.syncWaiters.splice(0)) w();
    await this.running;
  }

  /** Resolves once a complete list has been applied (or the reflector stops). */
  whenSynced(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private async loop(): Promise<void> {
    let goneStreak = 0;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) {
          await this.list();
          if (this.stopped) break;
          this.setHealthy();
        }
        const started = Date.now();
        const events = await this.watchOnce();
        if (this.stopped) break;
        goneStreak = 0;
        // a clean end (the server's timeout, or it closed the stream): resume from the resourceVersion
        this.stats.watch_restarts++;
        this.setHealthy();
        // a server that ends every watch at once must not make this a busy loop
        if (events === 0 && Date.now() - started < 1000) await this.sleep(this.nextBackoff());
      } catch (err) {
        if (this.stopped) break;
        const e = toApiError(err, this.spec.resource);
        if (isGone(e)) {
          this.stats.gone++;
          this.resourceVersion = undefined;
          this.log.debug({ resource: this.spec.resource, err: e }, "resourceVersion too old (410 Gone): relisting");
          // relist at once, unless the server keeps answering Gone
          if (++goneStreak > 2) await this.sleep(this.nextBackoff());
          continue;
        }
        goneStreak = 0;
        this.stats.errors++;
        this.lastError = e;
        const was = this.healthy;
        this.healthy = false;
        this.log.debug({ resource: this.spec.resource, err: e, healthy: was }, "list/watch failed");
        this.onHealth?.(false, e);
        await this.sleep(this.nextBackoff());
      }
    }
  }

  private setHealthy(): void {
    this.backoffMs = this.minMs;
    if (this.healthy) return;
    this.healthy = true;
    this.lastError = undefined;
    this.onHealth?.(true, undefined);
  }

  /** The next delay: the current step with jitter (between half and all of it), then the step doubles. */
  private nextBackoff(): number {
    const step = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxMs);
    return Math.round(step * (0.5 + 0.5 * this.random()));
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = undefined;
        this.wake = undefined;
        resolve();
      }, ms);
      this.sleepTimer.unref();
    });
  }

  /** A complete, paginated list; applies every object and then the deletions it implies. */
  private async list(): Promise<void> {
    if (this.synced) this.stats.relists++;
    this.stats.lists++;
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv: string | undefined;
    let pages = 0;
    do {
      const q: Record<string, string> = { limit: String(this.pageSize) };
      if (this.spec.fieldSelector !== undefined) q["fieldSelector"] = this.spec.fieldSelector;
      if (cont !== undefined) q["continue"] = cont;
      const body = (await this.transport.getJson(this.spec.path, q, this.spec.metadataOnly, true)) as {
        items?: unknown;
        metadata?: { resourceVersion?: unknown; continue?: unknown };
      } | null;
      if (this.stopped) return;
      const items = body?.items;
      // `items: null` is how the API server writes an empty list
      if (items !== null && !Array.isArray(items)) throw new K8sApiError(K8sApiErrorCode.BadResponse, `list ${this.spec.path}: no items array`);
      for (const it of items ?? []) {
        const uid = uidOf(it);
        if (uid === undefined) continue;
        seen.add(uid);
        this.sink.upsert(it);
      }
      this.stats.list_pages++;
      const meta = body?.metadata;
      rv = typeof meta?.resourceVersion === "string" && meta.resourceVersion !== "" ? meta.resourceVersion : undefined;
      cont = typeof meta?.continue === "string" && meta.continue !== "" ? meta.continue : undefined;
      if (++pages > MAX_PAGES) throw new K8sApiError(K8sApiErrorCode.BadResponse, `list ${this.spec.path}: more than ${MAX_PAGES} pages`);
    } while (cont !== undefined);
    if (rv === undefined) throw new K8sApiError(K8sApiErrorCode.BadResponse, `list ${this.spec.path}: no resourceVersion`);
    this.sink.replace(seen);
    this.resourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** One watch stream from the current resourceVersion; resolves with the number of events it carried. */
  private async watchOnce(): Promise<number> {
    const q: Record<string, string> = {
      allowWatchBookmarks: "true",
      resourceVersion: this.resourceVersion ?? "",
      timeoutSeconds: String(Math.floor(this.timeoutS * (1 + this.random()))),
    };
    if (this.spec.fieldSelector !== undefined) q["fieldSelector"] = this.spec.fieldSelector;
    this.stats.watches++;
    let events = 0;
    let failure: K8sApiError | undefined;
    const handle = this.transport.watch(this.spec.path, q, this.spec.metadataOnly, {
      onEvent: (type, object) => {
        if (this.stopped || failure !== undefined) return;
        switch (type) {
          case "ADDED":
          case "MODIFIED":
            this.sink.upsert(object);
            break;
          case "DELETED":
            this.sink.remove(object);
            break;
          case "BOOKMARK":
            this.stats.bookmarks++;
            break;
          case "ERROR": {
            const st = object as { code?: unknown; message?: unknown } | null;
            const code = typeof st?.code === "number" ? st.code : 0;
            const msg = typeof st?.message === "string" ? st.message.slice(0, 300) : "";
            failure =
              code === 410
                ? new K8sApiError(K8sApiErrorCode.Gone, `watch ${this.spec.path}: 410 Gone ${msg}`, 410)
                : new K8sApiError(K8sApiErrorCode.Http, `watch ${this.spec.path}: ERROR ${code} ${msg}`, code);
            handle.abort();
            return;
          }
          default:
            return;
        }
        events++;
        this.stats.watch_events++;
        const rv = resourceVersionOf(object);
        if (rv !== undefined) this.resourceVersion = rv;
        if (!this.healthy) this.setHealthy();
      },
    });
    this.watchHandle = handle;
    try {
      await handle.done;
    } finally {
      this.watchHandle = undefined;
    }
    if (failure !== undefined) throw failure;
    return events;
  }
}
