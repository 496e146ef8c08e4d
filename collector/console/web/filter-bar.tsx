// SPDX-License-Identifier: Apache-2.0
/**
 * The filter form: range, priority (at least this severe), rule, tags, node, namespace, pod,
 * container, image, source. `*` matches any run of characters, as in the collector's filters.
 * Applying it writes the view to the URL (a new history entry), so Back undoes a filter.
 */
import { useEffect, useState } from "preact/hooks";
import { PRIORITY_NAMES } from "../../../proto/priority.js";
import type { AlertFilter } from "../../../proto/tail.js";
import { DEFAULT_SINCE, type View } from "./view-state.js";

const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];
const TEXT_KEYS = ["rule", "node", "namespace", "pod", "container", "image", "source"] as const;

interface Draft {
  range: string;
  since: string;
  until: string;
  priority: string;
  tags: string;
  source: string;
  rule: string;
  node: string;
  namespace: string;
  pod: string;
  container: string;
  image: string;
}

function draftOf(v: View): Draft {
  const f = v.filter;
  const preset = f.until === undefined && RANGES.includes(f.since ?? DEFAULT_SINCE);
  return {
    range: preset ? (f.since ?? DEFAULT_SINCE) : "custom",
    since: f.since ?? "",
    until: f.until ?? "",
    priority: f.priority ?? "",
    tags: (f.tags ?? []).join(", "),
    source: f.source ?? "",
    rule: f.rule ?? "",
    node: f.node ?? "",
    namespace: f.namespace ?? "",
    pod: f.pod ?? "",
    container: f.container ?? "",
    image: f.image ?? "",
  };
}

function viewOf(d: Draft): View {
  const f: AlertFilter = {};
  if (d.range === "custom") {
    if (d.since.trim() !== "") f.since = d.since.trim();
    if (d.until.trim() !== "") f.until = d.until.trim();
  } else if (d.range !== DEFAULT_SINCE) f.since = d.range;
  if (d.priority !== "") f.priority = d.priority;
  for (const k of TEXT_KEYS) if (d[k].trim() !== "") f[k] = d[k].trim();
  const tags = d.tags
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  if (tags.length > 0) f.tags = tags;
  return { filter: f };
}

/** The filter bar; `onApply` gets the new view (without an open alert). */
export function FilterBar(props: { view: View; onApply(v: View): void }) {
  const [d, setD] = useState<Draft>(() => draftOf(props.view));
  useEffect(() => setD(draftOf(props.view)), [props.view]);
  const set = (k: keyof Draft) => (e: Event) => setD({ ...d, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const text = (k: keyof Draft, label: string, placeholder = "") => (
    <label class="f">
      {label}
      <input name={k} value={d[k]} placeholder={placeholder} onInput={set(k)} spellcheck={false} />
    </label>
  );
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply(viewOf(d));
      }}
    >
      <label class="f f-select">
        Range
        <select name="range" value={d.range} onChange={set("range")}>
          {RANGES.map((r) => (
            <option key={r} value={r}>
              last {r}
            </option>
          ))}
          <option value="custom">custom</option>
        </select>
      </label>
      {d.range === "custom" && text("since", "Since", "2026-06-01T00:00:00Z or 2h")}
      {d.range === "custom" && text("until", "Until", "empty: now, live")}
      <label class="f f-select">
        Priority
        <select name="priority" value={d.priority} onChange={set("priority")}>
          <option value="">any</option>
          {PRIORITY_NAMES.map((p) => (
            <option key={p} value={p.toLowerCase()}>
              {p === "Emergency" ? p : `${p}+`}
            </option>
          ))}
        </select>
      </label>
      {text("rule", "Rule", "Read sensitive*")}
      {text("tags", "Tags", "mitre_execution, T1059")}
      {text("node", "Node")}
      {text("namespace", "Namespace")}
      {text("pod", "Pod")}
      {text("container", "Container")}
      {text("image", "Image")}
      {text("source", "Source", "syscall")}
      <div class="f-actions">
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={() => props.onApply({ filter: {} })}>
          Clear
        </button>
      </div>
    </form>
  );
}
