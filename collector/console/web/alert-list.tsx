// SPDX-License-Identifier: Apache-2.0
/**
 * The alert list, newest first, virtualised: only the rows in view (plus a few either side) are
 * in the DOM, each a fixed height, so 50,000 rows cost what 40 do. Keyboard: j/k move the
 * selection (the page's handler), Enter opens it; each row is a link to its detail view, which a
 * plain click opens in place.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { type ConsoleAlert, fieldText, priorityWord, shortTime } from "./model.js";

/** Height of one row in pixels (styles.css `.row` says the same). */
export const ROW_HEIGHT = 30;
const OVERSCAN = 8;

function where(a: ConsoleAlert): string {
  const ns = fieldText(a, "k8s.ns.name");
  const pod = fieldText(a, "k8s.pod.name");
  if (ns !== "" || pod !== "") return `${ns}/${pod}`;
  return fieldText(a, "container.name") || fieldText(a, "container.id");
}

/** The list; `selected` is an index into `alerts`. */
export function AlertList(props: {
  alerts: readonly ConsoleAlert[];
  selected: number;
  openId: string | undefined;
  /** The URL of an alert's detail (each row is a link to it). */
  hrefOf(id: string): string;
  onSelect(i: number): void;
  onOpen(i: number): void;
  /** Called with true when the list is scrolled to its top (new alerts in view). */
  onAtTop(top: boolean): void;
  /** Rows added at the top since the last render, to keep the rows in view where they are. */
  addedOnTop: number;
  /** Shown after the last row (the "load older" button). */
  footer?: ComponentChildren;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = box.current;
    if (el === null) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  // rows inserted above a scrolled list push what the reader looks at down: scroll by as much
  useLayoutEffect(() => {
    const el = box.current;
    if (el === null || props.addedOnTop === 0 || el.scrollTop === 0) return;
    el.scrollTop += props.addedOnTop * ROW_HEIGHT;
  }, [props.alerts]);

  // keep the selected row in view
  useEffect(() => {
    const el = box.current;
    if (el === null || props.selected < 0) return;
    const top = props.selected * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
  }, [props.selected]);

  const n = props.alerts.length;
  const start = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(n, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const rows = [];
  for (let i = start; i < end; i++) {
    const a = props.alerts[i]!;
    const cls = `row${i === props.selected ? " selected" : ""}${a.id === props.openId ? " open" : ""}`;
    rows.push(
      <a
        key={a.id}
        class={cls}
        href={props.hrefOf(a.id)}
        aria-current={i === props.selected ? "true" : undefined}
        data-id={a.id}
        style={{ transform: `translateY(${i * ROW_HEIGHT}px)` }}
        onClick={(e) => {
          if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
          e.preventDefault();
          props.onSelect(i);
          props.onOpen(i);
        }}
      >
        <span class="c-time">{shortTime(a.time)}</span>
        <span class={`c-prio prio p-${priorityWord(a.priority)}`}>{a.priority}</span>
        <span class="c-rule">
          {a.blocked === true && <span class="blocked">blocked</span>}
          {a.rule}
        </span>
        <span class="c-node">{a.hostname}</span>
        <span class="c-where">{where(a)}</span>
        <span class="c-output">{a.output}</span>
      </a>,
    );
  }
  return (
    <div
      class="list"
      ref={box}
      tabIndex={-1}
      onScroll={(e) => {
        const t = (e.currentTarget as HTMLDivElement).scrollTop;
        setScrollTop(t);
        props.onAtTop(t < ROW_HEIGHT);
      }}
    >
      <div class="list-spacer" style={{ height: `${n * ROW_HEIGHT}px` }}>
        {rows}
      </div>
      {n === 0 && <p class="empty">No alerts match this view.</p>}
      {props.footer}
    </div>
  );
}
