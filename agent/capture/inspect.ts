// SPDX-License-Identifier: Apache-2.0
/**
 * Renders a capture like a syscall trace, one line per event:
 *
 *     12:00:01.123456789 web(abcdef123456) bash[4242] openat(dirfd=AT_FDCWD, name=/etc/shadow, flags=O_RDONLY, mode=0) = 3
 *
 * (time, container, process[pid], event(arguments) = result), with a marker line where the
 * alert was raised. Filters select by event type, pid, process name or text in the arguments.
 */
import { EVENTS } from "../../rules/event-table.js";
import { argText, cleanText as clean, traceRow } from "../../rules/trace-text.js";
import { F, type CaptureFile, type EventTuple } from "../../proto/capture.js";

export { argText };

/** Which events to show. */
export interface TraceFilter {
  /** Falco event names (`openat`, `execve`). */
  types?: string[];
  pid?: number;
  /** Process name (comm). */
  comm?: string;
  /** Substring of the rendered arguments or fd name. */
  grep?: string;
}

function timeText(sec: number, nsec: number): string {
  return `${new Date(sec * 1000).toISOString().slice(11, 19)}.${String(nsec).padStart(9, "0")}`;
}

/** One event as a trace line. */
export function traceLine(c: CaptureFile, e: EventTuple): string {
  const r = traceRow(e);
  const ctr = c.container.id === "host" ? "host" : `${clean(c.container.name ?? c.container.k8s?.containerName ?? "")}(${c.container.id})`;
  return `${timeText(e[F.sec], e[F.nsec])} ${ctr} ${clean(e[F.comm])}[${e[F.pid]}] ${r.name}(${r.args.map(([k, v]) => `${k}=${v}`).join(", ")}) = ${r.res}`;
}

function selectLine(c: CaptureFile, e: EventTuple, f: TraceFilter, types: Set<string> | undefined): string | undefined {
  if (types && !types.has(EVENTS[e[F.type]]?.name ?? "")) return undefined;
  if (f.pid !== undefined && e[F.pid] !== f.pid && e[F.tid] !== f.pid) return undefined;
  if (f.comm !== undefined && e[F.comm] !== f.comm) return undefined;
  const line = traceLine(c, e);
  if (f.grep !== undefined && !line.includes(f.grep) && !e[F.fdName].includes(f.grep)) return undefined;
  return line;
}

/** Indexes of the events a filter keeps. */
export function selectEvents(c: CaptureFile, f: TraceFilter = {}): number[] {
  const types = f.types && f.types.length > 0 ? new Set(f.types) : undefined;
  const out: number[] = [];
  c.events.forEach((e, i) => {
    if (selectLine(c, e, f, types) !== undefined) out.push(i);
  });
  return out;
}

/** The capture as trace lines (header, events, the alert marker), filtered. */
export function renderTrace(c: CaptureFile, f: TraceFilter = {}): string[] {
  const types = f.types && f.types.length > 0 ? new Set(f.types) : undefined;
  const out: string[] = [];
  const k8s = c.container.k8s;
  out.push(
    `# capture of alert ${c.alertId} (rule "${clean(c.rule)}") on ${clean(c.hostname)}; container ${c.container.id}` +
      `${c.container.name ? ` ${clean(c.container.name)}` : ""}${c.container.image ? ` image ${clean(c.container.image)}` : ""}` +
      `${k8s?.namespace ? ` pod ${clean(k8s.namespace)}/${clean(k8s.podName ?? "")}` : ""}; ${c.events.length} events`,
  );
  c.events.forEach((e, i) => {
    if (i === c.alertIndex) out.push(`---- alert ${c.alertId} raised here ----`);
    const line = selectLine(c, e, f, types);
    if (line !== undefined) out.push(line);
  });
  if (c.alertIndex >= c.events.length) out.push(`---- alert ${c.alertId} raised here ----`);
  return out;
}
