// SPDX-License-Identifier: Apache-2.0
/**
 * The timeline of the view's range (alerts per bucket, stacked by priority, most severe at the
 * bottom) and its top rules, namespaces, images and nodes, from `GET /api/v1/summary`. A bar
 * narrows the range to its bucket; a top entry filters on it. Each bar's segment carries its
 * priority and count (`data-priority`, `data-count`). A live view gets a fresh summary as alerts
 * arrive (console.tsx).
 */
import { PRIORITY_NAMES } from "../../../proto/priority.js";
import type { Summary, TopEntry } from "./api.js";

const W = 1000;
const H = 120;

function tickLabel(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  return spanMs > 2 * 86_400_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

function Top(props: { title: string; entries: TopEntry[]; onPick(key: string): void }) {
  const max = props.entries[0]?.count ?? 1;
  return (
    <section class="top">
      <h3>{props.title}</h3>
      {props.entries.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <ol>
          {props.entries.map((e) => (
            <li key={e.key}>
              <button type="button" class="top-key" title={`Filter on ${e.key}`} onClick={() => props.onPick(e.key)}>
                {e.key}
              </button>
              <span class="top-meter">
                <span class="top-fill" style={{ width: `${Math.max(2, (e.count / max) * 100)}%` }} />
              </span>
              <span class="top-count">{e.count.toLocaleString("en")}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** The timeline and top lists. */
export function SummaryView(props: {
  summary: Summary;
  onRange(since: number, until: number): void;
  /** The URL of the view narrowed to a bucket. */
  rangeHref(since: number, until: number): string;
  onPick(key: "rule" | "namespace" | "image" | "node", value: string): void;
}) {
  const s = props.summary;
  const n = s.buckets.length;
  let max = 1;
  const totals = s.buckets.map((b) => {
    let t = 0;
    for (const p of PRIORITY_NAMES) t += b.counts[p] ?? 0;
    max = Math.max(max, t);
    return t;
  });
  const bw = n > 0 ? W / n : W;
  const bars = [];
  for (let i = 0; i < n; i++) {
    const b = s.buckets[i]!;
    if (totals[i] === 0) continue;
    let y = H;
    for (const p of PRIORITY_NAMES) {
      const c = b.counts[p] ?? 0;
      if (c === 0) continue;
      const h = (c / max) * (H - 4);
      y -= h;
      bars.push(
        <rect
          key={`${i}${p}`}
          class={`bar p-${p.toLowerCase()}`}
          data-priority={p}
          data-count={c}
          x={i * bw + 0.5}
          y={y}
          width={Math.max(1, bw - 1)}
          height={h}
        />,
      );
    }
    const from = b.t;
    const to = b.t + s.bucketMs;
    bars.push(
      <a
        key={`hit${i}`}
        href={props.rangeHref(from, to)}
        onClick={(e) => {
          e.preventDefault();
          props.onRange(from, to);
        }}
      >
        <title>{`${new Date(from).toISOString().slice(0, 16)}Z: ${totals[i]} alerts`}</title>
        <rect class="bar-hit" x={i * bw} y={0} width={bw} height={H} />
      </a>,
    );
  }
  const span = s.to - s.from;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => s.from + f * span);
  return (
    <div class="summary">
      <section class="timeline" aria-label="Alerts over time">
        <h3>
          {s.total.toLocaleString("en")} alerts in range <span class="muted">(max {max.toLocaleString("en")} per bar; click a bar to zoom)</span>
        </h3>
        <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" class="chart" role="img" aria-label="Alerts per time bucket, stacked by priority">
          <title>Alerts per time bucket, stacked by priority</title>
          {bars}
        </svg>
        <div class="ticks">
          {ticks.map((t) => (
            <span key={t}>{Number.isFinite(t) ? tickLabel(t, span) : ""}</span>
          ))}
        </div>
        <div class="legend">
          {PRIORITY_NAMES.map((p) => (
            <span key={p} class="legend-item">
              <span class={`swatch p-${p.toLowerCase()}`} />
              {p}
            </span>
          ))}
        </div>
      </section>
      <Top title="Top rules" entries={s.top.rules} onPick={(k) => props.onPick("rule", k)} />
      <Top title="Top namespaces" entries={s.top.namespaces} onPick={(k) => props.onPick("namespace", k)} />
      <Top title="Top images" entries={s.top.images} onPick={(k) => props.onPick("image", k)} />
      <Top title="Top nodes" entries={s.top.nodes} onPick={(k) => props.onPick("node", k)} />
    </div>
  );
}
