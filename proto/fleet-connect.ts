// SPDX-License-Identifier: Apache-2.0
/**
 * How agents and collectors connect to NATS: the `connect()` options of a configuration
 * (fleet.ts `natsConnectionSchema`). Apart from fleet.ts and not re-exported by the contracts'
 * index, so only the code that talks to NATS loads the NATS client (every other command starts
 * without it).
 */
import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from "@nats-io/transport-node";
import type { NatsConnectionConfig } from "./fleet.js";

function readSecret(file: string, what: string): string {
  let v: string;
  try {
    v = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new Error(`cannot read the NATS ${what} file ${file}: ${(err as Error).message}`);
  }
  if (v === "") throw new Error(`the NATS ${what} file ${file} is empty`);
  return v;
}

/**
 * The options of `connect()` (@nats-io/transport-node) for a configuration: servers, secrets read
 * from their files, TLS files, and reconnect forever (a broker that is down only delays).
 * Throws a clear error when a secret file cannot be read or the settings contradict each other.
 */
export function natsConnectOptions(cfg: NatsConnectionConfig, servers: string[], defaultName: string): ConnectionOptions {
  const o: ConnectionOptions = {
    servers,
    name: cfg.name !== "" ? cfg.name : defaultName,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    maxPingOut: 3,
    timeout: 5_000,
  };
  const password = cfg.password_file !== "" ? readSecret(cfg.password_file, "password") : cfg.password;
  if (cfg.user !== "") {
    o.user = cfg.user;
    o.pass = password;
  } else if (password !== "") throw new Error("a NATS password without a user");
  const token = cfg.token_file !== "" ? readSecret(cfg.token_file, "token") : cfg.token;
  if (token !== "") o.token = token;
  if (cfg.nkey_seed_file !== "" && cfg.creds_file !== "") throw new Error("NATS nkey_seed_file and creds_file exclude each other");
  if (cfg.nkey_seed_file !== "") o.authenticator = nkeyAuthenticator(new TextEncoder().encode(readSecret(cfg.nkey_seed_file, "NKey seed")));
  if (cfg.creds_file !== "") o.authenticator = credsAuthenticator(new TextEncoder().encode(readSecret(cfg.creds_file, "creds")));
  const tls = cfg.tls;
  if (tls.enabled || tls.ca_file !== "" || tls.cert_file !== "" || servers.some((s) => s.startsWith("tls://"))) {
    if ((tls.cert_file === "") !== (tls.key_file === "")) throw new Error("NATS tls.cert_file and tls.key_file go together");
    o.tls = {
      ...(tls.ca_file !== "" ? { caFile: tls.ca_file } : {}),
      ...(tls.cert_file !== "" ? { certFile: tls.cert_file, keyFile: tls.key_file } : {}),
    };
  }
  return o;
}
