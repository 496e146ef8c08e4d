// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil capture inspect ID` / `vigil capture inspect --file PATH`: prints an audit capture like
 * a syscall trace (time, container, process, event, arguments, result), with filters. An ID is
 * only ever an alert ID, fetched from a collector (`--collector HOST:PORT`); a local file is
 * read only when named with `--file`, so an argument meant as an ID never opens a path.
 */
import { readFile } from "node:fs/promises";
import { Option, type Command } from "commander";
import { fetchCapture } from "../../collector/tail-client.js";
import { decodeCapture, F } from "../../proto/index.js";
import { argText, renderTrace, selectEvents } from "../capture/inspect.js";
import { EVENTS } from "../../rules/event-table.js";

interface InspectOptions {
  file?: string;
  collector?: string;
  token?: string;
  tls?: boolean;
  type: string[];
  pid?: string;
  comm?: string;
  grep?: string;
  output: "json" | "text";
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, ...v.split(",").filter((s) => s !== "")];
}

/** The alert ID charset (uuid v7 and Falco-style IDs); anything else is not an ID. */
const ALERT_ID = /^[0-9A-Za-z][0-9A-Za-z._:-]*$/;
/** Longest alert ID accepted. */
export const MAX_ALERT_ID_LENGTH = 64;

/** True when `s` can be an alert ID (`[0-9A-Za-z][0-9A-Za-z._:-]*`, at most 64 characters). */
export function isAlertId(s: string): boolean {
  return s.length <= MAX_ALERT_ID_LENGTH && ALERT_ID.test(s);
}

/** The capture bytes `inspect` was asked for: a file with `--file`, else an alert ID from a collector. */
async function loadCapture(id: string | undefined, o: InspectOptions): Promise<Buffer> {
  if (o.file !== undefined) {
    if (id !== undefined) throw new Error("give an alert ID or --file PATH, not both");
    return readFile(o.file).catch((err: unknown) => {
      const code = (err as { code?: unknown }).code;
      throw new Error(code === "ENOENT" ? `no such file "${o.file}"` : `cannot read "${o.file}": ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  if (id === undefined) throw new Error("give an alert ID (with --collector) or --file PATH");
  if (!isAlertId(id)) {
    const shown = JSON.stringify(id.length > MAX_ALERT_ID_LENGTH ? `${id.slice(0, MAX_ALERT_ID_LENGTH)}...` : id);
    throw new Error(`${shown} is not an alert ID (letters, digits and . _ : -, at most ${MAX_ALERT_ID_LENGTH}); to read a capture file use --file PATH`);
  }
  if (o.collector === undefined) throw new Error(`capture ${id}: give --collector HOST:PORT to fetch it by alert ID (or --file PATH for a capture file)`);
  return fetchCapture({ address: o.collector, token: o.token, id, https: o.tls === true }).catch((err: unknown) => {
    throw new Error(`cannot fetch capture ${id}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
  });
}

/** Adds `vigil capture inspect`. */
export function registerCapture(program: Command): void {
  const cap = program.command("capture").description("audit captures: the events around an alert");
  cap
    .command("inspect")
    .description("print a capture like a syscall trace")
    .argument("[id]", "alert ID, fetched from --collector")
    .option("--file <path>", "read the capture from this file instead")
    .option("--collector <host:port>", "collector to fetch the capture from")
    .option("--token <token>", "bearer token (default: VIGIL_TOKEN)")
    .option("--tls", "connect with HTTPS")
    .option("--type <names>", "only these event types (comma-separated, repeatable)", collect, [])
    .option("--pid <pid>", "only this pid/tid")
    .option("--comm <name>", "only this process name")
    .option("--grep <text>", "only events whose line contains this text")
    .addOption(new Option("--output <format>", "output format").choices(["json", "text"]).default("text"))
    .action(async (id: string | undefined, o: InspectOptions) => {
      const capture = await decodeCapture(await loadCapture(id, o));
      const unknown = o.type.filter((t) => !EVENTS.some((e) => e.name === t));
      if (unknown.length > 0) throw new Error(`unknown event type(s): ${unknown.join(", ")}`);
      let pid: number | undefined;
      if (o.pid !== undefined) {
        pid = Number(o.pid);
        if (!Number.isInteger(pid)) throw new Error(`bad --pid "${o.pid}"`);
      }
      const filter = {
        types: o.type,
        ...(pid !== undefined ? { pid } : {}),
        ...(o.comm !== undefined ? { comm: o.comm } : {}),
        ...(o.grep !== undefined ? { grep: o.grep } : {}),
      };
      if (o.output === "text") {
        process.stdout.write(renderTrace(capture, filter).join("\n") + "\n");
        return;
      }
      const events = selectEvents(capture, filter).map((i) => {
        const e = capture.events[i]!;
        const spec = EVENTS[e[F.type]];
        const args: Record<string, string> = {};
        e[F.args].forEach((v, i) => {
          args[spec?.params[i]?.name ?? `arg${i}`] = argText(spec?.params[i], v ?? null);
        });
        return {
          time: `${new Date(e[F.sec] * 1000).toISOString().slice(0, 19)}.${String(e[F.nsec]).padStart(9, "0")}Z`,
          after_alert: i >= capture.alertIndex,
          container: capture.container.id,
          pid: e[F.pid],
          tid: e[F.tid],
          comm: e[F.comm],
          exepath: e[F.exepath],
          event: spec?.name ?? String(e[F.type]),
          args,
          fd: e[F.fdName] !== "" ? e[F.fdName] : null,
        };
      });
      process.stdout.write(
        JSON.stringify({ alert_id: capture.alertId, rule: capture.rule, hostname: capture.hostname, container: capture.container, events }) + "\n",
      );
    });
}
