// SPDX-License-Identifier: Apache-2.0
/**
 * The token of the agent's embedded collector. The collector is authenticated even on loopback
 * (any local user could otherwise read every alert): when no token is configured the agent
 * creates a random one in its state directory, readable by root only, and the CLI clients
 * (`vigil tail`, `vigil alerts query`, `vigil capture inspect`) use it when they are given none.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The agent's default state directory (`vigil agent --data`). */
export const DEFAULT_DATA_DIR = "/var/lib/vigil";
/** The file the token is kept in, under the state directory. */
export const LOCAL_TOKEN_FILE = "collector-token";

/** Reads the token in `dataDir`, or creates one (0600). */
export function loadOrCreateLocalToken(dataDir: string): string {
  const file = join(dataDir, LOCAL_TOKEN_FILE);
  try {
    const t = readFileSync(file, "utf8").trim();
    if (t.length >= 32) return t;
  } catch {
    // absent: created below
  }
  const t = randomBytes(32).toString("base64url");
  writeFileSync(file, `${t}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return t;
}

/**
 * The token a CLI client presents: the flag, else VIGIL_TOKEN, else VIGIL_TOKEN_FILE's content,
 * else the local agent's token when this user can read it.
 */
export function clientToken(flag: string | undefined): string | undefined {
  if (flag !== undefined && flag !== "") return flag;
  const env = process.env["VIGIL_TOKEN"];
  if (env !== undefined && env !== "") return env;
  const files = [process.env["VIGIL_TOKEN_FILE"], join(process.env["VIGIL_DATA"] ?? DEFAULT_DATA_DIR, LOCAL_TOKEN_FILE)];
  for (const f of files) {
    if (f === undefined || f === "") continue;
    try {
      const t = readFileSync(f, "utf8").trim();
      if (t !== "") return t;
    } catch {
      // unreadable or absent: next
    }
  }
  return undefined;
}
