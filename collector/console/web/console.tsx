// SPDX-License-Identifier: Apache-2.0
/**
 * The console once signed in: filter bar, timeline and top lists, the live alert list and the
 * open alert's detail. The view lives in the URL (view-state.ts). Loading a view: the live tail
 * opens first, and once it says `live` (everything stored so far is behind it) the newest stored
 * alerts are queried (newest first, one page), so an alert stored in between is in one or the
 * other, never lost (seen twice, it is kept once, by ID); the timeline and top lists come
 * alongside, the list never waits for them. "Load older" at the end of the list asks for the page
 * before its last alert (`before=<id>`). The collector applies every filter, source included, to
 * the query and the tail alike.
 *
 * The timeline and top lists of a live view follow the tail: every live alert (it matches the
 * view's filters: the collector filtered the tail) asks for the summary again, throttled to one
 * request every {@link SUMMARY_MIN_INTERVAL_MS} (refresh-throttle.ts), and every
 * {@link SUMMARY_IDLE_MS} without alerts so a relative range ("last 1 h") slides. Refetched rather
 * than counted in the browser: the top lists hold only the 10 first keys, so a burst of a rule
 * outside them could not be ranked, and the collector's rollups answer a 24 h summary in ~10 ms
 * whatever the burst's size.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, getSummary, queryAlerts, type Role, type Summary } from "./api.js";
import { AlertDetail } from "./alert-detail.js";
import { AlertList } from "./alert-list.js";
import { FilterBar } from "./filter-bar.js";
import { type Page, PageNav } from "./nav.js";
import type { ConsoleAlert } from "./model.js";
import { SummaryView } from "./summary-view.js";
import { RefreshThrottle } from "./refresh-throttle.js";
import { LiveTail, type TailState } from "./tail.js";
import { isLive, queryFilter, readView, tailFilter, type View, viewToSearch } from "./view-state.js";

/** Stored alerts a view loads at once, and each "load older" adds. */
export const QUERY_LIMIT = 5000;
/** Most alerts the list holds (live ones push the oldest out). */
export const LIST_CAP = 50_000;
const TIMELINE_BUCKETS = 60;
/** Least time between two summary requests while live alerts arrive. */
export const SUMMARY_MIN_INTERVAL_MS = 3000;
/** Wait after the first live alert of a quiet spell before asking (a burst's first alerts share it). */
const SUMMARY_SETTLE_MS = 300;
/** Summary refresh of a live view when no alert arrives (its relative range slides). */
const SUMMARY_IDLE_MS = 30_000;

interface ListState {
  alerts: ConsoleAlert[];
  ids: Set<string>;
  /** Arrived while paused, oldest first. */
  pending: ConsoleAlert[];
}

function listOf(alerts: ConsoleAlert[]): ListState {
  return { alerts, ids: new Set(alerts.map((a) => a.id)), pending: [] };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The signed-in console. */
export function Console(props: { role: Role; onLogout(): void; onUnauthorized(): void; onPage(p: Page): void }) {
  const [view, setView] = useState<View>(() => readView(location.search));
  const listKey = useMemo(() => viewToSearch({ ...view, alert: undefined } as View), [view]);
  const list = useRef<ListState>(listOf([]));
  const [, setVersion] = useState(0);
  const [addedOnTop, setAddedOnTop] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [tailState, setTailState] = useState<TailState | "off">("off");
  const [tailDetail, setTailDetail] = useState<string | undefined>();
  const [summary, setSummary] = useState<Summary | undefined>();
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  const [newCount, setNewCount] = useState(0);
  const atTop = useRef(true);
  // the selection is read by the key handler before the next render: kept in a ref too
  const selRef = useRef(-1);
  const [selected, setSelectedState] = useState(-1);
  const setSelected = useCallback((v: number | ((s: number) => number)) => {
    const n = typeof v === "function" ? v(selRef.current) : v;
    selRef.current = n;
    setSelectedState(n);
  }, []);
  const [firstRenderMs, setFirstRenderMs] = useState<number | undefined>();
  /** Whether the store may hold older alerts than the list's last (its last page came full). */
  const [older, setOlder] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  /** The current view's abort signal (a "load older" in flight ends with its view). */
  const viewSignal = useRef<AbortSignal | undefined>(undefined);
  const unauthorized = props.onUnauthorized;

  const navigate = useCallback((v: View, replace = false) => {
    const url = `${location.pathname}${viewToSearch(v)}`;
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    setView(v);
  }, []);

  useEffect(() => {
    const onPop = () => setView(readView(location.search));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  // live alerts are added once per animation frame, newest first
  const incoming = useRef<ConsoleAlert[]>([]);
  const frame = useRef(0);
  const flush = useCallback(() => {
    frame.current = 0;
    const batch = incoming.current;
    incoming.current = [];
    const l = list.current;
    const fresh = batch.filter((a) => !l.ids.has(a.id));
    if (fresh.length === 0) return;
    for (const a of fresh) l.ids.add(a.id);
    if (pausedRef.current) {
      l.pending.push(...fresh);
      if (l.pending.length > LIST_CAP) l.pending.splice(0, l.pending.length - LIST_CAP);
      setNewCount((n) => n + fresh.length);
      return;
    }
    fresh.reverse();
    const next = fresh.concat(l.alerts);
    for (const a of next.splice(LIST_CAP)) l.ids.delete(a.id);
    l.alerts = next;
    setAddedOnTop(fresh.length);
    setSelected((s) => (s >= 0 ? Math.min(s + fresh.length, next.length - 1) : s));
    if (!atTop.current) setNewCount((n) => n + fresh.length);
    setVersion((v) => v + 1);
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    const started = performance.now();
    list.current = listOf([]);
    incoming.current = [];
    setVersion((v) => v + 1);
    setLoading(true);
    setError(undefined);
    setNote(undefined);
    setSummary(undefined);
    setNewCount(0);
    setSelected(-1);
    setAddedOnTop(0);
    setOlder(false);
    setLoadingOlder(false);
    viewSignal.current = ac.signal;
    let loaded = false;
    const early: ConsoleAlert[] = [];
    const failed = (err: unknown) => {
      if (ac.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) return unauthorized();
      setError(errorText(err));
      setLoading(false);
    };
    // the timeline and top lists: alongside the list, which does not wait for them
    const summaryRefresh = new RefreshThrottle(
      () =>
        getSummary(queryFilter(view), TIMELINE_BUCKETS, ac.signal).then(
          (s) => {
            if (!ac.signal.aborted && s !== undefined) setSummary(s);
          },
          (err: unknown) => {
            // a bad filter is the query's 400 too, said once; the list goes on without the charts
            if (!ac.signal.aborted && err instanceof ApiError && err.status === 401) failed(err);
          },
        ),
      SUMMARY_MIN_INTERVAL_MS,
      SUMMARY_SETTLE_MS,
    );
    const load = async () => {
      const f = queryFilter(view);
      summaryRefresh.now();
      const rows = await queryAlerts(f, QUERY_LIMIT, { newestFirst: true, signal: ac.signal });
      if (ac.signal.aborted) return;
      const l = list.current;
      const fresh = rows.filter((a) => !l.ids.has(a.id));
      l.alerts = fresh.concat(l.alerts).slice(0, LIST_CAP);
      l.ids = new Set(l.alerts.map((a) => a.id));
      loaded = true;
      incoming.current.push(...early);
      early.length = 0;
      setOlder(rows.length >= QUERY_LIMIT);
      setLoading(false);
      setVersion((v) => v + 1);
      requestAnimationFrame(() => {
        if (!ac.signal.aborted) setFirstRenderMs(Math.round(performance.now() - started));
      });
      if (incoming.current.length > 0 && frame.current === 0) frame.current = requestAnimationFrame(flush);
    };
    let tail: LiveTail | undefined;
    if (isLive(view)) {
      let queried = false;
      tail = new LiveTail(tailFilter(view), {
        alerts(batch) {
          summaryRefresh.request();
          if (!loaded) {
            early.push(...batch);
            if (early.length > LIST_CAP) early.splice(0, early.length - LIST_CAP);
            return;
          }
          incoming.current.push(...batch);
          if (frame.current === 0) frame.current = requestAnimationFrame(flush);
        },
        state(st, detail) {
          if (ac.signal.aborted) return;
          setTailState(st);
          setTailDetail(detail);
          if (!queried && (st === "live" || st === "retrying")) {
            queried = true;
            load().catch(failed);
          }
        },
      });
    } else {
      setTailState("off");
      load().catch(failed);
    }
    const refresh = isLive(view) ? setInterval(() => summaryRefresh.request(), SUMMARY_IDLE_MS) : undefined;
    return () => {
      ac.abort();
      summaryRefresh.close();
      clearInterval(refresh);
      tail?.close();
      if (frame.current !== 0) cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [listKey]);

  const togglePause = useCallback(() => {
    const next = !pausedRef.current;
    pausedRef.current = next;
    setPaused(next);
    if (!next) {
      const l = list.current;
      const p = l.pending;
      l.pending = [];
      if (p.length > 0) {
        incoming.current.push(...p);
        for (const a of p) l.ids.delete(a.id);
        if (frame.current === 0) frame.current = requestAnimationFrame(flush);
      }
      setNewCount(0);
    }
  }, []);

  /** The page of stored alerts before the list's last one, added at its end. */
  const loadOlder = () => {
    const signal = viewSignal.current;
    const last = list.current.alerts[list.current.alerts.length - 1];
    if (signal === undefined || last === undefined || loadingOlder) return;
    setLoadingOlder(true);
    queryAlerts(queryFilter(view), QUERY_LIMIT, { newestFirst: true, before: last.id, signal }).then(
      (rows) => {
        if (signal.aborted) return;
        const l = list.current;
        const room = LIST_CAP - l.alerts.length;
        const fresh = rows.filter((a) => !l.ids.has(a.id)).slice(0, Math.max(0, room));
        for (const a of fresh) l.ids.add(a.id);
        l.alerts = l.alerts.concat(fresh);
        setOlder(rows.length >= QUERY_LIMIT && room > rows.length);
        if (rows.length >= QUERY_LIMIT && room <= rows.length)
          setNote(`The list holds at most ${LIST_CAP.toLocaleString("en")} alerts: narrow the range or the filter to see older ones.`);
        setLoadingOlder(false);
        setVersion((v) => v + 1);
      },
      (err: unknown) => {
        if (signal.aborted) return;
        setLoadingOlder(false);
        if (err instanceof ApiError && err.status === 401) return unauthorized();
        setError(errorText(err));
      },
    );
  };

  const alerts = list.current.alerts;
  const open = (i: number) => {
    const a = list.current.alerts[i];
    if (a !== undefined) navigate({ ...view, alert: a.id });
  };
  const rangeView = (from: number, to: number): View => ({
    ...view,
    alert: undefined,
    filter: { ...view.filter, since: new Date(from).toISOString(), until: new Date(to).toISOString() },
  });
  const close = () => navigate({ ...view, alert: undefined } as View);

  // keyboard: j/k select, Enter opens, Esc closes, p pauses, / goes to the rule filter
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t !== null && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) {
        if (e.key === "Escape") t.blur();
        return;
      }
      const n = list.current.alerts.length;
      if (e.key === "j") setSelected((s) => Math.min(n - 1, s + 1));
      else if (e.key === "k") setSelected((s) => Math.max(n > 0 ? 0 : -1, s - 1));
      else if (e.key === "Enter" && selRef.current >= 0) open(selRef.current);
      else if (e.key === "Escape" && view.alert !== undefined) close();
      else if (e.key === "p") togglePause();
      else if (e.key === "/") document.querySelector<HTMLInputElement>('.filters input[name="rule"]')?.focus();
      else return;
      e.preventDefault();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  const liveLabel = tailState === "off" ? "range ended: not live" : tailState === "live" ? (paused ? "paused" : "live") : tailState;
  return (
    <div class={`console${view.alert !== undefined ? " with-detail" : ""}`}>
      <header class="top-bar">
        <span class="brand">Vigil</span>
        <PageNav page="alerts" onPage={props.onPage} />
        <span class={`tail-state t-${paused ? "paused" : tailState}`} title={tailDetail ?? ""} data-state={tailState}>
          {liveLabel}
        </span>
        {isLive(view) && (
          <button type="button" class="pause" onClick={togglePause} title="Pause or resume the live list (p)">
            {paused ? "Resume" : "Pause"}
          </button>
        )}
        {newCount > 0 && (
          <button
            type="button"
            class="new-count"
            onClick={() => {
              if (paused) togglePause();
              setNewCount(0);
              document.querySelector(".list")?.scrollTo({ top: 0 });
            }}
          >
            {newCount.toLocaleString("en")} new
          </button>
        )}
        <span class="count">
          {loading ? "loading…" : `${alerts.length.toLocaleString("en")} alerts`}
          {firstRenderMs !== undefined && !loading && <span class="muted"> ({firstRenderMs} ms)</span>}
        </span>
        <span class="spacer" />
        <span class="role">{props.role === "read" ? "read-only" : "admin"}</span>
        <button type="button" class="logout" onClick={props.onLogout}>
          Log out
        </button>
      </header>
      <FilterBar view={view} onApply={(v) => navigate(v)} />
      {summary !== undefined && (
        <SummaryView
          summary={summary}
          onRange={(from, to) => navigate(rangeView(from, to))}
          rangeHref={(from, to) => `${location.pathname}${viewToSearch(rangeView(from, to))}`}
          onPick={(k, v) => navigate({ ...view, alert: undefined, filter: { ...view.filter, [k]: v } } as View)}
        />
      )}
      {error !== undefined && (
        <p class="error banner" role="alert">
          {error}
        </p>
      )}
      {note !== undefined && <p class="note banner">{note}</p>}
      <div class="body">
        <AlertList
          alerts={alerts}
          selected={selected}
          openId={view.alert}
          addedOnTop={addedOnTop}
          hrefOf={(id) => `${location.pathname}${viewToSearch({ ...view, alert: id })}`}
          onSelect={setSelected}
          onOpen={open}
          onAtTop={(top) => {
            atTop.current = top;
            if (top && !paused) setNewCount(0);
          }}
          footer={
            older && (
              <div class="list-end">
                <button type="button" class="load-older" disabled={loadingOlder} onClick={loadOlder}>
                  {loadingOlder ? "loading…" : `Load ${QUERY_LIMIT.toLocaleString("en")} older`}
                </button>
              </div>
            )
          }
        />
        {view.alert !== undefined && (
          <AlertDetail key={view.alert} id={view.alert} known={alerts.find((a) => a.id === view.alert)} onClose={close} onUnauthorized={unauthorized} />
        )}
      </div>
    </div>
  );
}
