// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent`'s configuration, read and validated: the zod schema, the falco.yaml mapping, the
 * environment and the flags. The agent runs this in a worker thread (agent-config-thread.ts) so
 * that zod and the schema objects (about 12 MiB) are freed with it instead of staying resident
 * in the agent; tests and tools may call it directly.
 */
import { applySetting, readFalcoYaml, type FalcoYaml } from "../config/falco-yaml.js";
import { loadConfig, type DeepPartial } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { flagsToOverrides, type AgentFlags } from "./agent-flags.js";

/** The validated configuration and, with `--falco-config`, what was read from the falco.yaml. */
export interface AgentConfig {
  cfg: Config;
  falco: FalcoYaml | undefined;
}

/**
 * The configuration: defaults < `--config` file < `VIGIL_*` environment < a `--falco-config`
 * falco.yaml (with `-o` settings) < flags. Without a falco.yaml, `-o key=value` sets Vigil's own keys.
 */
export function agentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv): AgentConfig {
  const settings = flags.option ?? [];
  let falco: FalcoYaml | undefined;
  let translated: { value: DeepPartial<Config>; origin: string } | undefined;
  if (flags.falcoConfig !== undefined) {
    falco = readFalcoYaml(flags.falcoConfig, settings);
    translated = { value: falco.config, origin: flags.falcoConfig };
  } else if (settings.length > 0) {
    const value: Record<string, unknown> = {};
    for (const s of settings) applySetting(value, s);
    translated = { value: value as DeepPartial<Config>, origin: "-o" };
  }
  const cfg = loadConfig({
    ...(flags.config !== undefined ? { file: flags.config } : {}),
    env,
    overrides: flagsToOverrides(flags),
    ...(translated !== undefined ? { translated } : {}),
  });
  return { cfg, falco };
}
