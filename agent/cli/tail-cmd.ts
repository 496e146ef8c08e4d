// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil tail --collector HOST:PORT [--token T] [filters] [--since T] [--output json]`: follows a
 * collector's live alert stream, one line per alert colored by priority (or a JSON object per
 * line). Reconnects by itself and resumes after the last alert it saw: no gaps, no duplicates.
 */
import { Option, type Command } from "commander";
import { formatAlertLine } from "../../collector/alert-line.js";
import { TailClient } from "../../collector/tail-client.js";
import { addFilterOptions, filterFromCli, type FilterCliOptions } from "./alerts-cmd.js";
import { alertToJson } from "../../proto/index.js";

/** Adds `vigil tail`. */
export function registerTail(program: Command): void {
  const cmd = program
    .command("tail")
    .description("follow alerts live from a collector (colored by priority)")
    .option("--collector <host:port>", "collector address (default: the local agent's embedded collector)", "127.0.0.1:7460")
    .option("--token <token>", "bearer token (default: VIGIL_TOKEN)")
    .option("--tls", "connect with wss://")
    .addOption(new Option("--output <format>", "output format").choices(["json", "text"]).default("text"));
  addFilterOptions(cmd, false);
  cmd.action(async (o: FilterCliOptions & { collector: string; token?: string; output: "json" | "text"; tls?: boolean }) => {
    const filter = filterFromCli(o);
    const color = (process.stdout.isTTY ?? false) && process.env["NO_COLOR"] === undefined;
    const status = (s: string) => {
      if (o.output !== "json") process.stderr.write(`vigil tail: ${s}\n`);
    };
    await new Promise<void>((resolve, reject) => {
      const client = new TailClient({
        address: o.collector,
        token: o.token,
        filter,
        tls: o.tls === true ? {} : undefined,
        onAlert: (a) => {
          process.stdout.write(`${o.output === "json" ? JSON.stringify(alertToJson(a)) : formatAlertLine(a, color)}\n`);
        },
        onState: (s, detail) => {
          if (s === "live") status("following live alerts");
          else if (s === "disconnected") status(`disconnected (${detail ?? ""}), reconnecting`);
        },
        onFatal: (m) => reject(new Error(m)),
      });
      client.start();
      const stop = () => {
        client.stop();
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
  });
}
