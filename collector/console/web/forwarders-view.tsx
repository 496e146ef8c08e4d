// SPDX-License-Identifier: Apache-2.0
/**
 * The forwarders page (`?page=forwarders`): each forwarder the collector runs (Slack, a SIEM
 * webhook, Alertmanager…) with its state, its cursor against the stored alerts' watermark, its
 * lag in alerts and seconds, what it delivered, failed, retried, dead-lettered and lost to
 * retention, and its last error — what `vigil forwarders status` prints, from the same
 * `GET /api/v1/forwarders`, refreshed every 5 seconds. A forwarder's dead letters (the alerts it
 * gave up on, and why) open under its row.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, type DeadLetter, type ForwarderInfo, getDeadLetters, getForwarders, type Role } from "./api.js";
import { type Page, PageNav } from "./nav.js";

/** How often the page asks the collector again. */
export const FORWARDERS_REFRESH_MS = 5000;
/** Dead letters shown for one forwarder. */
const DEAD_LETTERS_SHOWN = 50;

/** Lag in seconds as a person reads it: `0 s`, `12.3 s`, `4 min`, `2.1 h`, `3.0 d`. */
export function lagText(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

const shortIso = (iso: string | undefined) => (iso === undefined ? "" : iso.replace("T", " ").replace(/\.\d+Z$|Z$/, ""));

function DeadLetters(props: { name: string; onUnauthorized(): void }) {
  const [list, setList] = useState<DeadLetter[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const ac = new AbortController();
    getDeadLetters(props.name, DEAD_LETTERS_SHOWN, ac.signal).then(
      (l) => !ac.signal.aborted && setList(l),
      (err: unknown) => {
        if (ac.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return props.onUnauthorized();
        setError(err instanceof Error ? err.message : String(err));
      },
    );
    return () => ac.abort();
  }, [props.name]);
  if (error !== undefined) return <p class="error">{error}</p>;
  if (list === undefined) return <p class="muted">Loading…</p>;
  if (list.length === 0) return <p class="muted">No dead letters.</p>;
  return (
    <table class="dead-letters">
      <thead>
        <tr>
          <th scope="col">When (UTC)</th>
          <th scope="col">Alert</th>
          <th scope="col">Seq</th>
          <th scope="col">Why it was refused</th>
        </tr>
      </thead>
      <tbody>
        {list.map((d) => (
          <tr key={`${d.seq}-${d.alertId}`}>
            <td class="nowrap">{shortIso(d.at)}</td>
            <td>
              <a href={`/?alert=${encodeURIComponent(d.alertId)}`}>{d.alertId}</a>
            </td>
            <td class="num">{d.seq}</td>
            <td class="wrap">{d.error}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Row(props: { f: ForwarderInfo; open: boolean; onToggle(): void; onUnauthorized(): void }) {
  const { f } = props;
  const n = (k: string) => (f.counters[k] ?? 0).toLocaleString("en");
  return (
    <>
      <tr class={`fwd state-${f.state}`} data-name={f.name}>
        <th scope="row">
          <span class="fwd-name">{f.name}</span> <span class="muted">{f.type}</span>
        </th>
        <td>
          <span class={`fwd-state s-${f.state}`}>{f.state}</span>
        </td>
        <td class="num fwd-cursor" title={`stored alerts are settled up to seq ${f.watermark}`}>
          {f.cursor === undefined ? "–" : f.cursor} / {f.watermark}
        </td>
        <td class={`num fwd-lag${f.lagAlerts > 0 ? " lagging" : ""}`}>
          {f.lagAlerts === 0 ? "0" : `${f.lagAlerts.toLocaleString("en")} (${lagText(f.lagSeconds)})`}
        </td>
        <td class="num fwd-sent">{n("sent")}</td>
        <td class="num fwd-failed">{n("failed")}</td>
        <td class="num fwd-retried">{n("retried")}</td>
        <td class="num fwd-dead">
          {f.deadLetters === 0 ? (
            "0"
          ) : (
            <button type="button" class="secondary dead-toggle" aria-expanded={props.open} onClick={props.onToggle} title="Show the alerts it gave up on">
              {f.deadLetters.toLocaleString("en")}
            </button>
          )}
        </td>
        <td class="num fwd-expired">{f.expired.toLocaleString("en")}</td>
        <td class="nowrap fwd-delivered">{shortIso(f.lastDeliveredAt)}</td>
        <td class="fwd-error">
          {f.lastError !== undefined && (
            <>
              <span class="error">{f.lastError}</span> <span class="muted">{shortIso(f.lastErrorAt)}</span>
            </>
          )}
        </td>
      </tr>
      {props.open && (
        <tr class="fwd-dead-row">
          <td colSpan={11}>
            <DeadLetters name={f.name} onUnauthorized={props.onUnauthorized} />
          </td>
        </tr>
      )}
    </>
  );
}

/** The forwarders page. */
export function ForwardersView(props: { role: Role; onLogout(): void; onUnauthorized(): void; onPage(p: Page): void }) {
  const [list, setList] = useState<ForwarderInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [at, setAt] = useState<string | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    const ac = new AbortController();
    getForwarders(ac.signal).then(
      (l) => {
        if (ac.signal.aborted) return;
        setList(l);
        setError(undefined);
        setAt(new Date().toISOString().slice(11, 19));
      },
      (err: unknown) => {
        if (ac.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return props.onUnauthorized();
        setError(err instanceof Error ? err.message : String(err));
      },
    );
    const t = setTimeout(refresh, FORWARDERS_REFRESH_MS);
    return () => {
      ac.abort();
      clearTimeout(t);
    };
  }, [tick]);

  return (
    <div class="console forwarders-page">
      <header class="top-bar">
        <span class="brand">Vigil</span>
        <PageNav page="forwarders" onPage={props.onPage} />
        <span class="count">{list === undefined ? "loading…" : `${list.length} forwarder${list.length === 1 ? "" : "s"}`}</span>
        <span class="spacer" />
        {at !== undefined && <span class="muted refreshed">updated {at} UTC</span>}
        <button type="button" class="secondary" onClick={refresh}>
          Refresh
        </button>
        <span class="role">{props.role === "read" ? "read-only" : "admin"}</span>
        <button type="button" class="logout" onClick={props.onLogout}>
          Log out
        </button>
      </header>
      {error !== undefined && (
        <p class="error banner" role="alert">
          {error}
        </p>
      )}
      <main class="fwd-main">
        {list !== undefined && list.length === 0 ? (
          <p class="empty">
            This collector runs no forwarders. Add them under <code>forwarders:</code> in its configuration (Slack, Teams, PagerDuty, a webhook, Loki,
            Elasticsearch, syslog…).
          </p>
        ) : (
          list !== undefined && (
            <table class="forwarders">
              <thead>
                <tr>
                  <th scope="col">Forwarder</th>
                  <th scope="col">State</th>
                  <th scope="col" title="Sequence of the last alert passed / the stored alerts' watermark">
                    Cursor
                  </th>
                  <th scope="col" title="Alerts not yet passed (age of the oldest)">
                    Lag
                  </th>
                  <th scope="col">Sent</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Retried</th>
                  <th scope="col">Dead letters</th>
                  <th scope="col" title="Alerts retention deleted before the forwarder reached them">
                    Expired
                  </th>
                  <th scope="col">Last delivered (UTC)</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {list.map((f) => (
                  <Row
                    key={f.name}
                    f={f}
                    open={open === f.name}
                    onToggle={() => setOpen((o) => (o === f.name ? undefined : f.name))}
                    onUnauthorized={props.onUnauthorized}
                  />
                ))}
              </tbody>
            </table>
          )
        )}
      </main>
    </div>
  );
}
