// SPDX-License-Identifier: Apache-2.0
/**
 * Writes alerts to stdout: Falco-shaped JSON lines (`--output json`) or readable, colored lines.
 */
import type { ExportResult, Sink } from "./types.js";
import type { Alert } from "../../proto/alert.js";
import { alertToFalcoJson } from "../../proto/falco-json.js";
import type { PriorityName } from "../../proto/priority.js";

/** ANSI colors by priority: red for the worst, yellow for warnings, cyan for notices. */
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
const BOLD = "\x1b[1m";
const DIM = "\x1b[2m";

export type StdoutFormat = "json" | "text";

/** Renders one alert as a Falco JSON alert line (key order as Falco prints it). */
export function alertToJsonLine(a: Alert): string {
  return JSON.stringify(alertToFalcoJson(a));
}

/** Renders one alert as a human line; colors only when asked. */
export function alertToTextLine(a: Alert, color: boolean): string {
  const f = a.output_fields;
  const where: string[] = [];
  const ns = f["k8s.ns.name"];
  const pod = f["k8s.pod.name"];
  const cid = f["container.id"];
  if (typeof ns === "string" && typeof pod === "string") where.push(`${ns}/${pod}`);
  else if (typeof cid === "string" && cid !== "host") where.push(`container=${cid}`);
  const t = a.time.slice(11, 23);
  const msg = a.output.slice(a.output.indexOf(" ", a.output.indexOf(": ") + 2) + 1);
  const blocked = a.blocked === true ? " [BLOCKED]" : "";
  if (!color) return `${t} ${a.priority} ${a.rule}${blocked}${where.length ? ` (${where.join(" ")})` : ""}: ${msg}`;
  return (
    `${DIM}${t}${RESET} ${COLOR[a.priority]}${a.priority.padEnd(8)}${RESET} ${BOLD}${a.rule}${RESET}` +
    `${blocked ? `\x1b[1;95m${blocked}${RESET}` : ""}${where.length ? ` ${DIM}(${where.join(" ")})${RESET}` : ""}\n    ${msg}`
  );
}

/** A sink printing to a writable stream (stdout by default). */
export class StdoutSink implements Sink {
  readonly name = "stdout";
  private readonly color: boolean;

  constructor(
    private readonly format: StdoutFormat,
    private readonly out: NodeJS.WritableStream = process.stdout,
    color?: boolean,
  ) {
    this.color = color ?? ((process.stdout.isTTY ?? false) && process.env["NO_COLOR"] === undefined);
  }

  async export(batch: readonly Alert[]): Promise<ExportResult> {
    let text = "";
    for (const a of batch) text += (this.format === "json" ? alertToJsonLine(a) : alertToTextLine(a, this.color)) + "\n";
    if (text.length === 0) return { ok: true };
    return new Promise((resolve) => {
      this.out.write(text, (err) => resolve(err ? { ok: false, error: err } : { ok: true }));
    });
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
