// SPDX-License-Identifier: Apache-2.0
/**
 * The built-in rule packs as the tests load them: every rules file of rules/files (not its
 * subdirectories), in the agent's load order (byte order of the full paths, as Falco sorts a rules
 * directory), so a pack added to the directory is covered by every test that takes this list.
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { rulesFilesOfDirectory } from "../../rules/load/files.js";

/** rules/files of this checkout. */
export const PACK_DIR = fileURLToPath(new URL("../../rules/files/", import.meta.url));

/** The file holding the shared macros and lists; every other pack is loaded after it. */
export const BASE_PACK = "00-vigil-base.yaml";

/** File names of every pack, base file first (load order). */
export function packNames(): string[] {
  const names = rulesFilesOfDirectory(PACK_DIR).map((p) => basename(p));
  if (names[0] !== BASE_PACK) throw new Error(`${PACK_DIR}: ${BASE_PACK} must be the first rules file, found ${names[0] ?? "none"}`);
  return names;
}

/** Full paths of every pack, in load order. */
export function packPaths(): string[] {
  return packNames().map((n) => join(PACK_DIR, n));
}

/** A pack file as loadRuleFiles takes it. */
export function packFile(name: string): { path: string; text: string } {
  const path = join(PACK_DIR, name);
  return { path, text: readFileSync(path, "utf8") };
}

/** Every pack, as loadRuleFiles takes them, in load order. */
export function packFiles(): { path: string; text: string }[] {
  return packNames().map(packFile);
}
