// SPDX-License-Identifier: Apache-2.0
/**
 * Debian's Chromium for the console's browser tests, driven by playwright-core: where it is
 * (VIGIL_CHROMIUM names another binary), and a headless launch. A test skips itself, with a line
 * saying why, only when there is none (scripts/setup.sh installs the `chromium` package).
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** The Chromium binary, or undefined when none is installed. */
export const CHROMIUM: string | undefined = process.env["VIGIL_CHROMIUM"] ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** Says on stderr that `test` is skipped for want of Chromium (call at module level, when {@link CHROMIUM} is undefined). */
export function noChromiumNote(test: string): void {
  process.stderr.write(`${test}: skipped: no Chromium (apt-get install chromium, or set VIGIL_CHROMIUM)\n`);
}

/** Launches {@link CHROMIUM} headless (no sandbox: the tests run as root). */
export function launchChromium(): Promise<Browser> {
  if (CHROMIUM === undefined) throw new Error("no Chromium installed");
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}
