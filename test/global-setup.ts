// SPDX-License-Identifier: Apache-2.0
/**
 * Builds what the integration tests run (the TypeScript CLI, the web console and the probe) so that
 * `npx vitest run` works on its own; both builds are incremental. A failed build is reported
 * here and left to the tests that need it to fail (`scripts/test.sh` builds strictly first).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  if (process.env["VIGIL_SKIP_BUILD"] === "1") return;
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const tsc = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: root, encoding: "utf8" });
  if (tsc.status !== 0) process.stderr.write(`global-setup: TypeScript build failed:\n${tsc.stdout}${tsc.stderr}\n`);
  const web = spawnSync(process.execPath, ["scripts/build-console.mjs"], { cwd: root, encoding: "utf8" });
  if (web.status !== 0) process.stderr.write(`global-setup: console build failed:\n${web.stdout}${web.stderr}\n`);
  if (existsSync(join(root, "native-bridge", "Makefile"))) {
    const mk = spawnSync("make", ["-s", "-C", "native-bridge"], { cwd: root, encoding: "utf8" });
    if (mk.status !== 0) process.stderr.write(`global-setup: probe build failed:\n${mk.stdout}${mk.stderr}\n`);
  }
}
