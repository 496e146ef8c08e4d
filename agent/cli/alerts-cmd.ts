// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil alerts query --collector HOST:PORT [--token T] [filters] [--output json]`: stored alerts
 * from a collector, oldest first, printed as they stream in: one JSON object per line (NDJSON, each
 * alert with its `id` and Falco's fields, as `vigil tail --output json` prints) with
 * `--output json`, one colored line per alert otherwise.
 */
import { Option, type Command } from "commander";
import { formatAlertLine } from "../../collector/alert-line.js";
import { normalizeFilter } from "../../collector/filter.js";
import { queryAlerts } from "../../collector/tail-client.js";
import { alertToJson, type AlertFilter } from "../../proto/index.js";

/** Filter options shared by `vigil alerts query` and `vigil tail`. */
export interface FilterCliOptions {
  since?: string;
  until?: string;
  rule?: string;
  priority?: string;
  tag: string[];
  node?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  image?: string;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Adds the filter options (`full` adds those only stored queries use). */
export function addFilterOptions(cmd: Command, full: boolean): Command {
  cmd
    .option("--since <time>", "from this time: RFC 3339, epoch seconds, or a duration back from now (15m, 2h, 7d)")
    .option("--rule <name>", "rule name (* matches any text)")
    .option("--priority <name>", "at least this priority (emergency..debug)")
    .option("--tag <tag>", "alert has this tag (repeatable: all must match)", collect, [])
    .option("--namespace <ns>", "Kubernetes namespace")
    .option("--pod <name>", "Kubernetes pod name");
  if (full)
    cmd
      .option("--until <time>", "before this time")
      .option("--node <name>", "node (agent hostname)")
      .option("--container <id|name>", "container ID or name")
      .option("--image <ref>", "image repository or full reference");
  return cmd;
}

/** The filter from parsed options (validated; throws one clear message). */
export function filterFromCli(o: FilterCliOptions): AlertFilter {
  const f: AlertFilter = {};
  for (const k of ["since", "until", "rule", "priority", "node", "namespace", "pod", "container", "image"] as const) {
    const v = o[k];
    if (v !== undefined) f[k] = v;
  }
  if (o.tag.length > 0) f.tags = o.tag;
  // validate here for one clear line; the collector validates again
  const n = normalizeFilter(f);
  // send absolute times so "15m" means 15 minutes before this command, not before the server's clock
  return { ...f, ...(n.since !== undefined ? { since: n.since } : {}), ...(n.until !== undefined ? { until: n.until } : {}) };
}

/** Adds `vigil alerts query`. */
export function registerAlerts(program: Command): void {
  const alerts = program.command("alerts").description("work with alerts stored by a collector");
  const q = alerts
    .command("query")
    .description("print stored alerts matching filters (oldest first)")
    .option("--collector <host:port>", "collector address (default: the local agent's embedded collector)", "127.0.0.1:7460")
    .option("--token <token>", "bearer token (default: VIGIL_TOKEN)")
    .option("--tls", "connect with HTTPS")
    .option("--limit <n>", "at most this many alerts", "1000")
    .addOption(new Option("--output <format>", "output format").choices(["json", "text"]).default("text"));
  addFilterOptions(q, true);
  q.action(async (o: FilterCliOptions & { collector: string; token?: string; limit: string; output: "json" | "text"; tls?: boolean }) => {
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`bad --limit "${o.limit}"`);
    const filter = filterFromCli(o);
    const color = (process.stdout.isTTY ?? false) && process.env["NO_COLOR"] === undefined;
    // printed as they arrive; the next alert is read only once stdout has taken this one
    const print = (line: string): Promise<void> | undefined =>
      process.stdout.write(line) ? undefined : new Promise<void>((resolve) => process.stdout.once("drain", resolve));
    await queryAlerts({
      address: o.collector,
      token: o.token,
      filter,
      limit,
      https: o.tls === true,
      onAlert: (a) => print(`${o.output === "json" ? JSON.stringify(alertToJson(a)) : formatAlertLine(a, color)}\n`),
    }).catch((err: unknown) => {
      throw new Error(`query failed: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
    });
  });
}
