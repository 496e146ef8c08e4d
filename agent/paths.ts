// SPDX-License-Identifier: Apache-2.0
/**
 * Locates files shipped beside the code (built-in rules, the probe binary) whether the agent
 * runs from TypeScript sources (tests) or from `dist/` (the built CLI).
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The repository (package) root: the nearest ancestor holding package.json and rules/files. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "rules", "files"))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the vigil package root (package.json beside rules/files)");
    dir = up;
  }
}

/** A path inside the package root. */
export function packagePath(...parts: string[]): string {
  return resolve(packageRoot(), ...parts);
}
