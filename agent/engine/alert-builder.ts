// SPDX-License-Identifier: Apache-2.0
/**
 * Turns a rule match into an {@link Alert}: a UUIDv7 id given at birth, Falco's time string
 * with nanoseconds, the Falco text line and typed output fields, with what Falco 0.44 appends
 * to rule outputs (the suggested container/Kubernetes fields and `append_output`, append-output.ts).
 */
import { hostname as osHostname } from "node:os";
import { uuidv7 } from "../../proto/uuid7.js";
import type { CompiledRule } from "../../rules/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import type { Alert } from "../../proto/index.js";
import { compileOutputOptions, DEFAULT_OUTPUT_OPTIONS, type OutputAppender } from "./append-output.js";

/** ISO 8601 UTC with nanoseconds, as Falco prints `time`. */
export function isoTimeNs(sec: number, nsec: number): string {
  const iso = new Date(sec * 1000).toISOString(); // 2026-11-28T12:00:00.000Z
  return `${iso.slice(0, 19)}.${String(nsec).padStart(9, "0")}Z`;
}

/** What a blocked alert's text line ends with. */
export const BLOCKED_SUFFIX = " (blocked)";
/** Rule name of the alert for a blocked exec no rule reported. */
export const BLOCKED_RULE = "Drift Program Blocked";

/** Builds alerts for one host. */
export class AlertBuilder {
  private readonly appender: OutputAppender;

  /**
   * `host`: the configured node name (`hostname:`), resolved once by the caller; default os.hostname().
   * `appender`: compiled `output` options (compileOutputOptions); default Falco 0.44's: the suggested fields.
   */
  constructor(
    private readonly host: string = osHostname(),
    appender?: OutputAppender,
  ) {
    this.appender = appender ?? compileOutputOptions(DEFAULT_OUTPUT_OPTIONS).appender;
  }

  build(rule: CompiledRule, e: SyscallEvent): Alert {
    const out = rule.format(e);
    const fields = out.fields;
    const message = this.appender.apply(rule, e, out.message, fields);
    const time = isoTimeNs(e.sec, e.nsec);
    const alert: Alert = {
      id: uuidv7(),
      time,
      rule: rule.name,
      priority: rule.priorityName,
      source: rule.source,
      hostname: this.host,
      output: `${time}: ${rule.priorityName} ${message}`,
      output_fields: fields,
      tags: [...rule.tags],
    };
    if (e.blocked === true) {
      // drift prevention killed the program in the kernel before its first instruction
      alert.blocked = true;
      alert.output += BLOCKED_SUFFIX;
    }
    return alert;
  }

  /**
   * The alert for an exec the kernel blocked that no loaded rule reported (the rules may be
   * tuned or narrower than the prevention policy): people must still learn of the kill.
   */
  blockedExec(e: SyscallEvent): Alert {
    const p = e.proc;
    const c = p.container;
    const time = isoTimeNs(e.sec, e.nsec);
    const cmdline = [p.comm, ...p.args].join(" ");
    const fields: Alert["output_fields"] = {
      "evt.type": e.type === 2 ? "execveat" : "execve",
      "proc.exepath": p.exepath,
      "proc.cmdline": cmdline,
      "proc.pid": p.pid,
      "proc.pname": p.parent?.comm ?? null,
      "proc.is_exe_upper_layer": p.exeUpperLayer ?? null,
      "proc.is_exe_from_memfd": p.exeFromMemfd ?? null,
      "user.uid": p.uid,
      "container.id": c.id,
      "container.name": c.name ?? null,
      "container.image.repository": c.imageRepository ?? null,
      "container.image.tag": c.imageTag ?? null,
      "k8s.ns.name": c.k8s?.namespace ?? null,
      "k8s.pod.name": c.k8s?.podName ?? null,
    };
    const na = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined ? "<NA>" : String(v));
    const base = `Drift blocked: a program not in the image was killed before it ran | exepath=${na(p.exepath)} cmdline=${cmdline} pid=${p.pid} parent=${na(fields["proc.pname"])}`;
    // the container and Kubernetes part as the rule alerts carry it: the suggested fields when on
    const suggested = this.appender.suggested;
    const message =
      suggested === undefined
        ? `${base} container_id=${c.id} container_name=${na(c.name)} image=${na(c.imageRepository)} k8s_ns=${na(fields["k8s.ns.name"])} k8s_pod=${na(fields["k8s.pod.name"])}`
        : `${base} ${suggested.format(e).message}`;
    return {
      id: uuidv7(),
      time,
      rule: BLOCKED_RULE,
      priority: "Critical",
      source: "syscall",
      hostname: this.host,
      output: `${time}: Critical ${message}${BLOCKED_SUFFIX}`,
      output_fields: fields,
      tags: ["container", "process", "drift", "prevention", "mitre_execution", "T1204.002"],
      blocked: true,
    };
  }

  /** An alert about the agent itself (source `internal`), timed now. */
  internal(name: string, priority: Alert["priority"], message: string, fields: Alert["output_fields"], tags: readonly string[]): Alert {
    const ms = Date.now();
    const time = isoTimeNs(Math.floor(ms / 1000), (ms % 1000) * 1_000_000);
    return {
      id: uuidv7(),
      time,
      rule: name,
      priority,
      source: "internal",
      hostname: this.host,
      output: `${time}: ${priority} ${message}`,
      output_fields: fields,
      tags: [...tags],
    };
  }
}
