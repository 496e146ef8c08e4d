// SPDX-License-Identifier: Apache-2.0
/**
 * The text of one recorded event of an audit capture, as a syscall trace shows it: the event's
 * name, each parameter by name in its kind's text form (`flags=O_RDONLY`, `dirfd=AT_FDCWD`), and
 * the result (`3`, `ENOENT`, `SUCCESS`). `vigil capture inspect` (agent/capture/inspect.ts) and
 * the web console's alert detail both render captures with it; it runs in a browser too (no node
 * built-ins, only the event table and the text forms).
 *
 * A capture may come from anywhere: every value is read defensively (a field of the wrong type
 * renders as text, never throws), and control characters are escaped.
 */
import type { EventTuple } from "../proto/capture-format.js";
import type { ArgValue, SockTuple } from "../proto/event-values.js";
import { F } from "../proto/capture-format.js";
import { addrText, bytesText, enumText, flagsText, modeText, resText, tupleText } from "./compile/text.js";
import { EVENTS, type ParamSpec } from "./event-table.js";

const CTRL = /[\x00-\x1f\x7f-\x9f]/g;

/** Text with control characters escaped (`\x1b`); anything that is not a string is turned into one first. */
export function cleanText(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return s.replace(CTRL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

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
  if (typeof v === "string") return cleanText(v);
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof Uint8Array) return bytesText(v.subarray(0, 256));
  if (Array.isArray(v)) return cleanText(v.join(" "));
  if (isTuple(v)) {
    try {
      return tupleText(v);
    } catch {
      return "?";
    }
  }
  return "?";
}

/** One event of a capture as trace text. */
export interface TraceRow {
  /** Falco event name (`openat`), `event<N>` for a code this version does not know. */
  name: string;
  /** The parameters but the result, in order: `[name, text]`. */
  args: [string, string][];
  /** The result as Falco's `evt.res` shows it (`3`, `ENOENT`, `SUCCESS`). */
  res: string;
  /** Whether the result is an error (a negative result). */
  failed: boolean;
}

/** The name, parameters and result of one recorded event. */
export function traceRow(e: EventTuple): TraceRow {
  const type = e[F.type];
  const spec = typeof type === "number" ? EVENTS[type] : undefined;
  const name = spec?.name ?? `event${cleanText(type)}`;
  const params = spec?.params ?? [];
  const args: readonly ArgValue[] = Array.isArray(e[F.args]) ? e[F.args] : [];
  const out: [string, string][] = [];
  let res: string | undefined;
  let failed = false;
  for (let i = 0; i < args.length; i++) {
    const p = params[i];
    const v = args[i] ?? null;
    if (i === 0 && p !== undefined && (p.name === "res" || p.name === "fd")) {
      // a negative result is -errno whatever the param's kind
      failed = typeof v === "number" && v < 0;
      res = failed ? resText(v as number) : argText(p, v);
      continue;
    }
    out.push([p?.name ?? `arg${i}`, argText(p, v)]);
  }
  if (res === undefined) {
    const r = Number(e[F.res]);
    failed = r < 0;
    res = Number.isNaN(r) ? "<NA>" : resText(r);
  }
  return { name, args: out, res, failed };
}
