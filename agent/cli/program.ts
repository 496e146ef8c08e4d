// SPDX-License-Identifier: Apache-2.0
/**
 * The `vigil` program (main.ts runs it once the Node.js version is known to be enough): one
 * command line, one subcommand per file in this folder. Each `register*` adds its
 * subcommand to the program; bad input exits non-zero with one clear line.
 *
 * Only the subcommand named on the command line is loaded: `vigil agent` never imports the
 * collector, the webhook, NATS or the admission code the other subcommands need (tens of MiB of
 * modules resident for the agent's lifetime). Without a known subcommand (`vigil --help`,
 * `vigil help x`, a typo) every one is registered, so help and errors list them all.
 */
import { Command, CommanderError } from "commander";
import { VERSION } from "../version.js";

type Register = (program: Command) => void;

/** The subcommands in the order help lists them, each loaded on demand. */
const SUBCOMMANDS: ReadonlyArray<readonly [string, () => Promise<Register>]> = [
  ["agent", async () => (await import("./agent-cmd.js")).registerAgent],
  ["rules", async () => (await import("./rules-cmd.js")).registerRules],
  ["collector", async () => (await import("./collector-cmd.js")).registerCollector],
  ["alerts", async () => (await import("./alerts-cmd.js")).registerAlerts],
  ["tail", async () => (await import("./tail-cmd.js")).registerTail],
  ["capture", async () => (await import("./capture-cmd.js")).registerCapture],
  ["inject", async () => (await import("./inject-cmd.js")).registerInject],
  ["webhook", async () => (await import("./webhook-cmd.js")).registerWebhook],
  ["forwarders", async () => (await import("./forwarders-cmd.js")).registerForwarders],
];

/** The subcommands to load for these arguments (argv without node and the script): the named one, or all. */
function subcommandsFor(args: readonly string[]): string[] {
  const first = args[0];
  const all = SUBCOMMANDS.map(([name]) => name);
  return first !== undefined && all.includes(first) ? [first] : all;
}

const program = new Command();
program.name("vigil").description("Runtime security agent for Kubernetes nodes and AWS Fargate").version(VERSION).showHelpAfterError(false).exitOverride();

try {
  const wanted = new Set(subcommandsFor(process.argv.slice(2)));
  for (const [name, load] of SUBCOMMANDS) if (wanted.has(name)) (await load())(program);
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" are successful exits
    process.exit(err.exitCode);
  }
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
