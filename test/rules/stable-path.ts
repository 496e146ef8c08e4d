// SPDX-License-Identifier: Apache-2.0
/** Where the tests read Falco's stable rules: in place, beside the repository (never copied in). */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const STABLE_RULES = resolve(REPO_ROOT, "../shared/corpus/falco/falco_rules.yaml");
