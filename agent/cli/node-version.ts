// SPDX-License-Identifier: Apache-2.0
/** The Node.js version Vigil needs (imported by main.ts before anything that needs it is loaded). */

/** The oldest Node.js Vigil runs on (`node:sqlite` without its experimental warning); package.json's `engines.node` says the same (a test checks). */
export const MIN_NODE = "24.15.0";

/** Whether version `have` (e.g. `20.20.2`) is older than `min`. */
export function olderThan(have: string, min: string): boolean {
  const a = have.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}
