// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil forwarders status --collector HOST:PORT [--token T] [--output json]`: each forwarder of a
 * collector with its state, cursor, lag (alerts and seconds), delivered / failed / retried /
 * dead-lettered counts, alerts lost to retention (expired) and last error (`GET /api/v1/forwarders`). Exits 0; a forwarder with dead
 * letters or in retry is shown, not an error of this command.
 */
import { Option, type Command } from "commander";
import { fetchForwarders, type ForwarderStatusLine } from "../../collector/tail-client.js";

/** One table row per forwarder (text output). */
export function formatForwarders(list: readonly ForwarderStatusLine[]): string {
  if (list.length === 0) return "no forwarders configured\n";
  const rows = [["NAME", "TYPE", "STATE", "CURSOR", "LAG", "LAG_S", "SENT", "FAILED", "RETRIED", "DEAD", "EXPIRED", "LAST ERROR"]];
  for (const f of list) {
    rows.push([
      f.name,
      f.type,
      f.state,
      f.cursor === undefined ? "-" : String(f.cursor),
      String(f.lagAlerts),
      f.lagSeconds.toFixed(1),
      String(f.counters["sent"] ?? 0),
      String(f.counters["failed"] ?? 0),
      String(f.counters["retried"] ?? 0),
      String(f.deadLetters),
      String(f.expired ?? 0),
      f.lastError === undefined ? "" : `${f.lastErrorAt ?? ""} ${f.lastError.replace(/[\r\n\t]+/g, " ").slice(0, 120)}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

/** Adds `vigil forwarders status`. */
export function registerForwarders(program: Command): void {
  const f = program.command("forwarders").description("the collector's forwarders (Slack, SIEM, Alertmanager...)");
  f.command("status")
    .description("each forwarder's state, cursor, lag, counters and last error")
    .option("--collector <host:port>", "collector address (default: the local agent's embedded collector)", "127.0.0.1:7460")
    .option("--token <token>", "bearer token (default: VIGIL_TOKEN)")
    .option("--tls", "connect with HTTPS")
    .addOption(new Option("--output <format>", "output format").choices(["json", "text"]).default("text"))
    .action(async (o: { collector: string; token?: string; tls?: boolean; output: "json" | "text" }) => {
      const list = await fetchForwarders({ address: o.collector, token: o.token, https: o.tls === true }).catch((err: unknown) => {
        throw new Error(`forwarders status failed: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
      });
      process.stdout.write(o.output === "json" ? `${JSON.stringify({ forwarders: list }, null, 2)}\n` : formatForwarders(list));
    });
}
