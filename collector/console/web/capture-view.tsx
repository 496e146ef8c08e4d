// SPDX-License-Identifier: Apache-2.0
/**
 * The audit capture of an alert as a syscall trace: one row per recorded event (time from the
 * triggering event, process and pid, syscall, arguments, result), the event that raised the alert
 * highlighted and scrolled to, the events recorded after it dimmed, a filter, and the download.
 *
 * The decoding code (msgpackr, the event table) is a chunk of its own, loaded the first time a
 * capture is shown: the list does not pay for it. What is read is bounded (capture-trace.ts).
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { CaptureFile } from "../../../proto/capture-format.js";
import type { CaptureInfo } from "./api.js";
import type { TraceView } from "./capture-trace.js";

type Loaded = { mod: typeof import("./capture-trace.js"); capture: CaptureFile };

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function load(href: string, signal: AbortSignal): Promise<Loaded> {
  const mod = await import("./capture-trace.js");
  const res = await fetch(href, { credentials: "same-origin", cache: "no-store", signal });
  if (!res.ok || res.body === null) throw new Error(`the collector answered ${res.status}`);
  const gz = await mod.readBounded(res.body, mod.TRACE_LIMITS.compressedBytes);
  return { mod, capture: await mod.decodeCaptureBytes(gz) };
}

function Trace(props: { loaded: Loaded; alertPid: number | undefined }) {
  const [filter, setFilter] = useState("");
  const { mod, capture } = props.loaded;
  const view: TraceView = useMemo(
    () => mod.traceView(capture, { ...(props.alertPid !== undefined ? { alertPid: props.alertPid } : {}), filter }),
    [capture, filter, props.alertPid],
  );
  const box = useRef<HTMLDivElement>(null);
  // the triggering event in the middle of the box (the box scrolls, not the page)
  useEffect(() => {
    const b = box.current;
    const tr = b?.querySelector<HTMLElement>("tr.trigger");
    if (b && tr) b.scrollTop = Math.max(0, tr.offsetTop - b.clientHeight / 2);
  }, [view]);
  const first = view.rows[0]?.index ?? 0;
  const last = view.rows[view.rows.length - 1]?.index ?? 0;
  return (
    <div class="trace">
      <div class="trace-bar">
        <input
          type="search"
          name="trace-filter"
          placeholder="Filter: syscall, process, pid, argument…"
          aria-label="Filter the trace"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <span class="trace-count muted">
          {filter.trim() === ""
            ? view.rows.length < view.total
              ? `events ${first + 1}–${last + 1} of ${view.total} (download for all)`
              : `${view.total} events`
            : `${view.matched} of ${view.total} events match${view.rows.length < view.matched ? ` (first ${view.rows.length} shown)` : ""}`}
          {view.trigger !== undefined ? "; the highlighted one raised the alert" : ""}
        </span>
      </div>
      <div class="trace-box" ref={box}>
        <table class="trace-table">
          <thead>
            <tr>
              <th scope="col" title="Seconds from the event that raised the alert">
                Δt (s)
              </th>
              <th scope="col">Process</th>
              <th scope="col">Syscall</th>
              <th scope="col">Arguments</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {view.rows.map((r) => (
              <tr
                key={r.index}
                data-index={r.index}
                class={`${r.trigger ? "trigger" : ""}${r.after ? " after" : ""}`}
                {...(r.trigger ? { "aria-current": "true" as const, title: "This event raised the alert" } : {})}
              >
                <td class="t-rel" title={`${r.abs} UTC`}>
                  {r.rel}
                </td>
                <td class="t-proc">
                  {r.comm}
                  <span class="muted">
                    [{r.pid}
                    {r.tid !== "" ? `/${r.tid}` : ""}]
                  </span>
                </td>
                <td class="t-sys">{r.syscall}</td>
                <td class="t-args">{r.args}</td>
                <td class={`t-res${r.failed ? " error" : ""}`}>{r.res}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** The capture section of an alert's detail: its summary, the download link, and the trace. */
export function CaptureView(props: { info: CaptureInfo; alertId: string; alertPid: number | undefined }) {
  const { info } = props;
  const [state, setState] = useState<{ loaded?: Loaded; error?: string }>({});
  useEffect(() => {
    const ac = new AbortController();
    setState({});
    load(info.href, ac.signal).then(
      (loaded) => !ac.signal.aborted && setState({ loaded }),
      (err: unknown) => !ac.signal.aborted && setState({ error: err instanceof Error ? err.message : String(err) }),
    );
    return () => ac.abort();
  }, [info.href]);
  return (
    <div>
      <p class="capture">
        {info.events} events, {formatBytes(info.bytes)} (gzip msgpack: <code>vigil capture inspect --file FILE</code> prints it){" "}
        <a href={info.href} download={`vigil-capture-${props.alertId}.msgpack.gz`}>
          Download
        </a>
      </p>
      {state.loaded !== undefined ? (
        <Trace loaded={state.loaded} alertPid={props.alertPid} />
      ) : state.error !== undefined ? (
        <p class="error trace-error">The capture cannot be shown here: {state.error}. The download has it as recorded.</p>
      ) : (
        <p class="muted">Reading the capture…</p>
      )}
    </div>
  );
}
