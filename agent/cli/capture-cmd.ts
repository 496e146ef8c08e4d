// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil capture inspect ID|FILE`: prints an audit capture like a syscall trace (time,
 * container, process, event, arguments, result), with filters. FILE is a capture file; an ID
 * is fetched from a collector (`--collector HOST:PORT`).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { Option, type Command } from "commander";
import { fetchCapture } from "../../collector/tail-client.js";
import { decodeCapture, F } from "../capture/format.js";
import { argText, renderTrace, selectEvents } from "../capture/inspect.js";
import { EVENTS } from "../../rules/event-table.js";

interface InspectOptions {
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

/** Adds `vigil capture inspect`. */
export function registerCapture(program: Command): void {
  const cap = program.command("capture").description("audit captures: the events around an alert");
  cap
    .command("inspect")
    .description("print a capture like a syscall trace")
    .argument("<id|file>", "alert ID (fetched from --collector) or capture file")
    .option("--collector <host:port>", "collector to fetch the capture from")
    .option("--token <token>", "bearer token (default: VIGIL_TOKEN)")
    .option("--tls", "connect with HTTPS")
    .option("--type <names>", "only these event types (comma-separated, repeatable)", collect, [])
    .option("--pid <pid>", "only this pid/tid")
    .option("--comm <name>", "only this process name")
    .option("--grep <text>", "only events whose line contains this text")
    .addOption(new Option("--output <format>", "output format").choices(["json", "text"]).default("text"))
    .action(async (what: string, o: InspectOptions) => {
      let data: Buffer;
      if (existsSync(what)) data = await readFile(what);
      else if (o.collector !== undefined) {
        data = await fetchCapture({ address: o.collector, token: o.token, id: what, https: o.tls === true }).catch((err: unknown) => {
          throw new Error(`cannot fetch capture ${what}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
        });
      } else throw new Error(`no such file "${what}" (give --collector to fetch a capture by alert ID)`);
      const capture = await decodeCapture(data);
      const unknown = o.type.filter((t) => !EVENTS.some((e) => e.name === t));
      if (unknown.length > 0) throw new Error(`unknown event type(s): ${unknown.join(", ")}`);
      let pid: number | undefined;
      if (o.pid !== undefined) {
        pid = Number(o.pid);
        if (!Number.isInteger(pid)) throw new Error(`bad --pid "${o.pid}"`);
      }
      const filter = { types: o.type, ...(pid !== undefined ? { pid } : {}), ...(o.comm !== undefined ? { comm: o.comm } : {}), ...(o.grep !== undefined ? { grep: o.grep } : {}) };
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
