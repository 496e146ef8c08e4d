// SPDX-License-Identifier: Apache-2.0
/**
 * What the console reads out of an alert: the alert itself (the collector's JSON form), the
 * process ancestry from Falco's proc.* fields, the container and Kubernetes context, and the MITRE
 * ATT&CK tactics and techniques named by its tags. Pure functions: no DOM.
 */
import type { Alert, AlertFieldValue } from "../../../proto/alert.js";
import { PRIORITY_NAMES, type PriorityName, priorityNumber } from "../../../proto/priority.js";

/** An alert as the console holds it. */
export type ConsoleAlert = Alert;

/** Reads an alert from the collector's JSON (query lines, tail messages, the detail); undefined when it is not one. */
export function parseAlert(v: unknown): ConsoleAlert | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const id = o["id"] ?? o["uuid"];
  const pn = typeof o["priority"] === "string" ? priorityNumber(o["priority"]) : undefined;
  if (typeof id !== "string" || typeof o["time"] !== "string" || typeof o["rule"] !== "string" || pn === undefined) return undefined;
  const fields: Record<string, AlertFieldValue> = {};
  const of = o["output_fields"];
  if (of !== null && typeof of === "object" && !Array.isArray(of)) {
    for (const [k, x] of Object.entries(of as Record<string, unknown>)) {
      fields[k] = x === null || typeof x === "string" || typeof x === "number" || typeof x === "boolean" ? x : JSON.stringify(x);
    }
  }
  const tags = Array.isArray(o["tags"]) ? (o["tags"] as unknown[]).filter((t): t is string => typeof t === "string") : [];
  const a: ConsoleAlert = {
    id,
    time: o["time"] as string,
    rule: o["rule"] as string,
    priority: PRIORITY_NAMES[pn] as PriorityName,
    source: typeof o["source"] === "string" ? o["source"] : "",
    hostname: typeof o["hostname"] === "string" ? o["hostname"] : "",
    output: typeof o["output"] === "string" ? o["output"] : "",
    output_fields: fields,
    tags,
  };
  if (o["blocked"] === true) a.blocked = true;
  return a;
}

/** A field as text ("" when absent or null). */
export function fieldText(a: ConsoleAlert, k: string): string {
  const v = a.output_fields[k];
  return v === undefined || v === null ? "" : String(v);
}

/** One process of an alert's ancestry, the alert's own process first. */
export interface AncestryEntry {
  /** 0 = the process itself, 1 = its parent, N = proc.aname[N]. */
  level: number;
  name: string;
  pid: string;
  cmdline: string;
  exe: string;
}

/**
 * The process ancestry from the proc.* fields the alert carries: proc.name/pid/cmdline/exepath,
 * proc.pname/ppid/pcmdline/pexepath, then proc.aname[N]/apid[N]/acmdline[N]/aexepath[N] for
 * N ≥ 2 (proc.aname[1] is the parent again). Levels without any field are left out.
 */
export function ancestry(a: ConsoleAlert): AncestryEntry[] {
  const f = (k: string) => fieldText(a, k);
  const out: AncestryEntry[] = [];
  const push = (level: number, name: string, pid: string, cmdline: string, exe: string) => {
    if (name !== "" || pid !== "" || cmdline !== "" || exe !== "") out.push({ level, name, pid, cmdline, exe });
  };
  push(0, f("proc.name"), f("proc.pid"), f("proc.cmdline"), f("proc.exepath") || f("proc.exe"));
  push(
    1,
    f("proc.pname") || f("proc.aname[1]"),
    f("proc.ppid") || f("proc.apid[1]"),
    f("proc.pcmdline") || f("proc.acmdline[1]"),
    f("proc.pexepath") || f("proc.pexe") || f("proc.aexepath[1]") || f("proc.aexe[1]"),
  );
  let max = 1;
  for (const k of Object.keys(a.output_fields)) {
    const m = /^proc\.a(?:name|pid|cmdline|exepath|exe)\[(\d{1,2})\]$/.exec(k);
    if (m) max = Math.max(max, Number(m[1]));
  }
  for (let n = 2; n <= max; n++)
    push(n, f(`proc.aname[${n}]`), f(`proc.apid[${n}]`), f(`proc.acmdline[${n}]`), f(`proc.aexepath[${n}]`) || f(`proc.aexe[${n}]`));
  return out;
}

/** The container and Kubernetes context of an alert: label → value, only the fields it has. */
export function context(a: ConsoleAlert): { container: [string, string][]; kubernetes: [string, string][] } {
  const pick = (keys: [string, string][]) => keys.map(([label, k]): [string, string] => [label, fieldText(a, k)]).filter(([, v]) => v !== "");
  const image = fieldText(a, "container.image") || [fieldText(a, "container.image.repository"), fieldText(a, "container.image.tag")].filter((s) => s).join(":");
  const container = pick([
    ["ID", "container.id"],
    ["Name", "container.name"],
    ["Runtime", "container.type"],
    ["Privileged", "container.privileged"],
  ]);
  if (image !== "") container.splice(2, 0, ["Image", image]);
  const digest = fieldText(a, "container.image.digest");
  if (digest !== "") container.push(["Image digest", digest]);
  const kubernetes = pick([
    ["Namespace", "k8s.ns.name"],
    ["Pod", "k8s.pod.name"],
    ["Pod UID", "k8s.pod.uid"],
    ["Workload kind", "k8s_workload_kind"],
    ["Workload", "k8s_workload_name"],
    ["Deployment", "k8s.deployment.name"],
    ["Service account", "k8s.pod.sa"],
    ["Node", "k8s.node.name"],
  ]);
  return { container, kubernetes };
}

/** MITRE ATT&CK enterprise tactics by the word Falco's `mitre_*` tags use. */
const TACTICS: Record<string, [string, string]> = {
  reconnaissance: ["TA0043", "Reconnaissance"],
  resource_development: ["TA0042", "Resource Development"],
  initial_access: ["TA0001", "Initial Access"],
  execution: ["TA0002", "Execution"],
  persistence: ["TA0003", "Persistence"],
  privilege_escalation: ["TA0004", "Privilege Escalation"],
  defense_evasion: ["TA0005", "Defense Evasion"],
  credential_access: ["TA0006", "Credential Access"],
  discovery: ["TA0007", "Discovery"],
  lateral_movement: ["TA0008", "Lateral Movement"],
  collection: ["TA0009", "Collection"],
  exfiltration: ["TA0010", "Exfiltration"],
  command_and_control: ["TA0011", "Command and Control"],
  impact: ["TA0040", "Impact"],
};

/** A tag that names an ATT&CK tactic or technique, with its page. */
export interface MitreRef {
  kind: "tactic" | "technique";
  id: string;
  label: string;
  href: string;
}

/** The ATT&CK tactics (`mitre_credential_access`) and techniques (`T1003`, `T1003.008`) among the tags. */
export function mitre(tags: readonly string[]): MitreRef[] {
  const out: MitreRef[] = [];
  for (const tag of tags) {
    const t = /^T(\d{4})(?:\.(\d{3}))?$/i.exec(tag);
    if (t) {
      const id = `T${t[1]}${t[2] !== undefined ? `.${t[2]}` : ""}`;
      out.push({ kind: "technique", id, label: id, href: `https://attack.mitre.org/techniques/T${t[1]}/${t[2] !== undefined ? `${t[2]}/` : ""}` });
      continue;
    }
    const m = /^mitre_([a-z_]+)$/i.exec(tag);
    const tactic = m ? TACTICS[m[1]!.toLowerCase()] : undefined;
    if (tactic) out.push({ kind: "tactic", id: tactic[0], label: tactic[1], href: `https://attack.mitre.org/tactics/${tactic[0]}/` });
  }
  return out;
}

/** The lower-case priority word of an alert (CSS class and filter value). */
export function priorityWord(p: PriorityName): string {
  return p.toLowerCase();
}

/** `2026-11-28T12:00:00.123456789Z` → `2026-11-28 12:00:00.123` (UTC, as stored). */
export function shortTime(iso: string): string {
  return iso.length >= 23 ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso;
}
