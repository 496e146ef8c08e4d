import type { Alert, PriorityName } from "../proto/index.js";
// SPDX-License-Identifier: Apache-2.0
/**
 * One terminal line per alert, for `vigil tail` and `vigil alerts query`: time, priority
 * (colored), rule, namespace/pod (or container), process, and the rule's message.
 */

const COLOR: Record<PriorityName, string> = {
  Emergency: "\x1b[1;97;41m",
  Alert: "\x1b[1;91m",
  Critical: "\x1b[1;91m",
  Error: "\x1b[91m",
  Warning: "\x1b[93m",
  Notice: "\x1b[96m",
  Informational: "\x1b[37m",
  Debug: "\x1b[90m",
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
const BOLD = "\x1b[1m";

/** Strips control characters (alerts carry attacker-controlled text; no terminal escapes). */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => (c === "\n" || c === "\t" ? " " : "?"));
}

/** The message part of Falco's output line (`<time>: <Priority> <message>`). */
function message(a: Alert): string {
  const o = a.output;
  const m = /^\S+: \S+ (.*)$/s.exec(o);
  return m ? m[1]! : o;
}

/** Formats one alert as a single line; colors when asked. */
export function formatAlertLine(a: Alert, color: boolean): string {
  const f = a.output_fields;
  const ns = f["k8s.ns.name"];
  const pod = f["k8s.pod.name"];
  const cid = f["container.id"];
  const where =
    typeof ns === "string" && typeof pod === "string" ? `${ns}/${pod}` : typeof cid === "string" && cid !== "host" ? `container:${cid}` : `host:${a.hostname}`;
  const pname = f["proc.name"];
  const pid = f["proc.pid"];
  const proc = pname !== undefined && pname !== null ? `${String(pname)}${pid !== undefined && pid !== null ? `[${String(pid)}]` : ""}` : "-";
  const t = a.time.length >= 23 ? a.time.slice(0, 23).replace("T", " ") : a.time;
  const blocked = a.blocked === true ? " BLOCKED" : "";
  const parts = [t, a.priority.padEnd(13), clean(a.rule) + blocked, clean(where), clean(proc), clean(message(a))];
  if (!color) return parts.join(" ");
  return `${DIM}${parts[0]}${RESET} ${COLOR[a.priority] ?? ""}${parts[1]}${RESET} ${BOLD}${parts[2]}${RESET} ${DIM}${parts[3]}${RESET} ${parts[4]} ${parts[5]}`;
}
