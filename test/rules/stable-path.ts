// SPDX-License-Identifier: Apache-2.0
/** Where the tests read Falco's stable rules: in place, beside the repository (never copied in).
 * VIGIL_SHARED names the shared folder when the checkout does not sit beside it. */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SHARED_DIR =
  process.env.VIGIL_SHARED ?? [resolve(REPO_ROOT, "../shared"), "/work/shared"].find((d) => existsSync(d)) ?? resolve(REPO_ROOT, "../shared");
export const STABLE_RULES = resolve(SHARED_DIR, "corpus/falco/falco_rules.yaml");
