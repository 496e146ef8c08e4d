// SPDX-License-Identifier: Apache-2.0
/**
 * Renders a capture like a syscall trace, one line per event:
 *
 *     12:00:01.123456789 web(abcdef123456) bash[4242] openat(dirfd=AT_FDCWD, name=/etc/shadow, flags=O_RDONLY, mode=0) = 3
 *
 * (time, container, process[pid], event(arguments) = result), with a marker line where the
 * alert was raised. Filters select by event type, pid, process name or text in the arguments.
 */
import { EVENTS, type ParamSpec } from "../../rules/event-table.js";
import type { ArgValue, SockTuple } from "../../rules/event.js";
import { addrText, bytesText, enumText, flagsText, modeText, resText, tupleText } from "../../rules/compile/text.js";
import { F, type CaptureFile, type EventTuple } from "../../proto/index.js";

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

// eslint-disable-next-line no-control-regex
const CTRL = /[\x00-\x1f\x7f-\x9f]/g;
const clean = (s: string) => s.replace(CTRL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

function isTuple(v: unknown): v is SockTuple {
  return typeof v === "object" && v !== null && "family" in v && "dip" in v;
}

/** Text of one param value by its kind. */
export function argText(spec: ParamSpec | undefined, v: ArgValue | null): string {
  if (v === undefined || v === null) return "<NA>";
  if (spec !== undefined) {
    try {
      switch (spec.kind) {
        case "errno":
          return resText(Number(v));
        case "fd": {
          const n = Number(v);
          return n === -100 ? "AT_FDCWD" : String(n);
        }
        case "flags":
          if (spec.table && (typeof v === "number" || typeof v === "bigint")) return flagsText(spec.table, v) || "0";
          break;
        case "enum":
          if (spec.table && (typeof v === "number" || typeof v === "bigint")) return enumText(spec.table, v);
          break;
        case "mode":
          if (typeof v === "number") return modeText(v);
          break;
        case "sockaddr":
          if (isTuple(v)) return addrText(v);
          break;
        case "tuple":
          if (isTuple(v)) return tupleText(v);
          break;
        case "bytes":
          if (v instanceof Uint8Array) return bytesText(v.subarray(0, 256));
          break;
        default:
          break;
      }
    } catch {
      // fall through to the generic form
    }
  }
  if (typeof v === "string") return clean(v);
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof Uint8Array) return bytesText(v.subarray(0, 256));
  if (Array.isArray(v)) return clean(v.join(" "));
  if (isTuple(v)) return tupleText(v);
  return "?";
}

function timeText(sec: number, nsec: number): string {
  return `${new Date(sec * 1000).toISOString().slice(11, 19)}.${String(nsec).padStart(9, "0")}`;
}

/** One event as a trace line. */
export function traceLine(c: CaptureFile, e: EventTuple): string {
  const spec = EVENTS[e[F.type]];
  const name = spec?.name ?? `event${e[F.type]}`;
  const params = spec?.params ?? [];
  const args = e[F.args];
  const parts: string[] = [];
  let res = "";
  for (let i = 0; i < args.length; i++) {
    const p = params[i];
    const v = args[i] ?? null;
    if (i === 0 && p !== undefined && (p.name === "res" || p.name === "fd")) {
      // a negative result is -errno whatever the param's kind
      res = typeof v === "number" && v < 0 ? resText(v) : argText(p, v);
      continue;
    }
    const text = argText(p, v);
    parts.push(`${p?.name ?? `arg${i}`}=${text}`);
  }
  if (res === "") res = resText(e[F.res]);
  const ctr = c.container.id === "host" ? "host" : `${clean(c.container.name ?? c.container.k8s?.containerName ?? "")}(${c.container.id})`;
  return `${timeText(e[F.sec], e[F.nsec])} ${ctr} ${clean(e[F.comm])}[${e[F.pid]}] ${name}(${parts.join(", ")}) = ${res}`;
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
