// SPDX-License-Identifier: Apache-2.0
/**
 * The `vigil` program (main.ts runs it once the Node.js version is known to be enough): one
 * command line, one subcommand per file in this folder. Each `register*` adds its
 * subcommand to the program; bad input exits non-zero with one clear line.
 */
import { Command, CommanderError } from "commander";
import { registerAgent } from "./agent-cmd.js";
import { registerRules } from "./rules-cmd.js";
import { registerCollector } from "./collector-cmd.js";
import { registerAlerts } from "./alerts-cmd.js";
import { registerTail } from "./tail-cmd.js";
import { registerCapture } from "./capture-cmd.js";
import { registerInject } from "./inject-cmd.js";
import { registerWebhook } from "./webhook-cmd.js";
import { registerForwarders } from "./forwarders-cmd.js";
import { VERSION } from "../version.js";

const program = new Command();
program.name("vigil").description("Runtime security agent for Kubernetes nodes and AWS Fargate").version(VERSION).showHelpAfterError(false).exitOverride();

registerAgent(program);
registerRules(program);
registerCollector(program);
registerAlerts(program);
registerTail(program);
registerCapture(program);
registerInject(program);
registerWebhook(program);
registerForwarders(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" are successful exits
    process.exit(err.exitCode);
  }
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
