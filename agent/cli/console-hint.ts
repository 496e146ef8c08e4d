// SPDX-License-Identifier: Apache-2.0
/**
 * What `vigil agent` tells the person at its terminal once it is ready with an embedded collector:
 * where the web console is, and the command that prints the token to log in with (the token
 * itself is never printed: it would end up in scrollback, terminal logs and CI output). Plain
 * lines on stderr, whatever the log format, so a newcomer reads them among the alerts.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultConsoleDirs } from "../../collector/console/static.js";

/** What the hint is made from. */
export interface ConsoleHintInput {
  /** `HOST:PORT` the embedded collector bound. */
  address: string;
  /** Whether the console build is there (see {@link consoleBuilt}). */
  built: boolean;
  /** The absolute path of the file holding the token; undefined when the token was given inline. */
  tokenFile: string | undefined;
  /** Whether the token can go in a `#token=` fragment as it is (no characters to escape). */
  fragmentSafe: boolean;
  /** Prefix the commands reading the root-only token file with `sudo ` (the agent runs under sudo). */
  sudo: boolean;
}

/** Whether a console build is where the collector looks for one (dist/console/index.html). */
export function consoleBuilt(dirs: readonly string[] = defaultConsoleDirs()): boolean {
  return dirs.some((d) => existsSync(join(d, "index.html")));
}

/**
 * The console's URL for a bound address: a wildcard address (0.0.0.0, ::) is reached on loopback.
 * The embedded collector serves plain HTTP.
 */
export function consoleUrl(address: string): string {
  const i = address.lastIndexOf(":");
  let host = address.slice(0, i);
  const port = address.slice(i + 1);
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  else if (host === "[::]" || host === "::") host = "[::1]";
  else if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `http://${host}:${port}/`;
}

/** A word for a POSIX shell: as it is when it holds nothing special, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The lines to print (no trailing newlines). */
export function consoleHint(i: ConsoleHintInput): string[] {
  const url = consoleUrl(i.address);
  if (!i.built)
    return [`vigil agent: no web console: it was not built (npm run build, or node scripts/build-console.mjs; the collector at ${url} serves it once built)`];
  if (i.tokenFile === undefined)
    return [`vigil agent: web console at ${url} (log in with the collector token you configured: --token, VIGIL_TOKEN or sinks.collector.token)`];
  const read = `${i.sudo ? "sudo " : ""}cat ${shellWord(i.tokenFile)}`;
  const lines = [`vigil agent: web console at ${url}`, `vigil agent:   log in with the token this prints: ${read}`];
  // the URL goes inside double quotes: only when nothing in it is special there
  if (i.fragmentSafe && /^http:\/\/[A-Za-z0-9.:[\]-]+\/$/.test(url))
    lines.push(`vigil agent:   or open the address this prints (it logs in, then leaves the address bar): echo "${url}#token=$(${read})"`);
  return lines;
}

/** Whether a token can be put after `#token=` without escaping (the generated ones are base64url). */
export function fragmentSafe(token: string): boolean {
  return /^[A-Za-z0-9._~-]+$/.test(token);
}
