// SPDX-License-Identifier: Apache-2.0
/** Agent configuration: schema, environment variables, loading. */
export { loadConfig, MAX_CONFIG_BYTES } from "./load.js";
export { configSchema, bytes } from "./schema.js";
export { configLeaves, configFromEnv, parseEnvValue, CONFIG_FILE_ENV } from "./env.js";
export { ConfigError } from "./errors.js";
export type { Config, ConfigInput } from "./schema.js";
export type { LoadConfigOptions, DeepPartial } from "./load.js";
export type { ConfigLeaf, LeafKind } from "./env.js";
export type { ConfigErrorCode, ConfigIssue } from "./errors.js";
