// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil collector --listen HOST:PORT --data DIR [--token T] [--config FILE]`: runs the collector (gRPC ingest,
 * query API, WebSocket tail, Falco `http_output` endpoint) until SIGINT/SIGTERM; optionally
 * pulls alerts from an existing Falco's gRPC outputs API (`--falco-grpc`).
 *
 * Fleet mode: `vigil collector --listen HOST:PORT --token T --nats nats://HOST:PORT[,...] --store
 * postgres://USER@HOST:PORT/DB`: a stateless replica that consumes alerts from NATS JetStream into
 * PostgreSQL (collector/fleet/); any number of them share the work and the tail.
 *
 * Kubernetes audit: `POST /k8s-audit` takes the API server's audit webhook batches, evaluated by
 * the `k8s_audit` rules of `--rules FILE` (repeatable; default the built-in pack
 * rules/files/k8s-audit/), reloaded on SIGHUP; `--k8s-audit-log-group /aws/eks/<cluster>/cluster`
 * (or collector.k8s_audit.cloudwatch) also reads an EKS cluster's audit logs from CloudWatch Logs.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { createLogger } from "../log.js";
import { startCollector, type CollectorOptions } from "../../collector/server.js";
import { parseNatsServers } from "../../proto/index.js";
import { parseDuration } from "../../collector/filter.js";
import { loadConfig } from "../config/index.js";
import { loadAuditRules, type AuditRulesLoad } from "./k8s-audit-rules.js";

interface CollectorCmdOptions {
  listen: string;
  data: string;
  token?: string;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  retention: string;
  falcoGrpc?: string;
  tokenFile?: string;
  readToken?: string;
  readTokenFile?: string;
  config?: string;
  nats?: string;
  store?: string;
  storePasswordFile?: string;
  rules: string[];
  clusterName?: string;
  k8sAuditLogGroup?: string;
}

/** Logs a `k8s_audit` rules load: each diagnostic, then one summary line. */
function logAuditLoad(logger: ReturnType<typeof createLogger>, load: AuditRulesLoad, what: string): void {
  for (const d of load.diagnostics.slice(0, 200))
    logger[d.severity === "error" ? "error" : "warn"](
      { file: d.file, line: d.line, col: d.col, code: d.code, item: d.item, reason: d.message },
      "k8s_audit rules diagnostic",
    );
  if (load.files.length === 0) logger.warn("no k8s_audit rules files: audit events are counted, never alerted on");
  logger.info(
    {
      files: load.files,
      rules: load.rules.ruleCount,
      errors: load.diagnostics.filter((d) => d.severity === "error").length,
      ...(load.otherRules > 0 ? { otherSourceRulesSkipped: load.otherRules } : {}),
    },
    what,
  );
}

/** A `postgres://USER@HOST:PORT/DB` URL, checked: no password in it (process lists and logs show URLs). */
export function checkStoreUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error("bad --store URL: use postgres://USER@HOST:PORT/DB");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:")
    throw new Error("bad --store URL: only postgres://USER@HOST:PORT/DB is supported (without --store, the SQLite store in --data)");
  if (u.password !== "")
    throw new Error(
      "a password in the --store URL is refused (it shows in process lists and logs): use PGPASSWORD, --store-password-file or collector.store.password_file",
    );
  if (u.hostname === "") throw new Error("bad --store URL: no host");
  return url;
}

/** A PEM file that must hold at least one certificate; a clear error otherwise. */
function readPemFile(file: string, what: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the ${what} file ${file}: ${(err as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`${what} file ${file} holds no PEM certificate`);
  return pem;
}

/** Adds `vigil collector`. */
export function registerCollector(program: Command): void {
  program
    .command("collector")
    .description("run the collector: store alerts and captures, serve queries and the live tail")
    .requiredOption("--listen <host:port>", "address for gRPC ingest and HTTP/WebSocket (one port)")
    .option("--data <dir>", "data directory of the embedded SQLite store (required without --store)")
    .option("--nats <servers>", "fleet mode: consume alerts from NATS JetStream (nats://HOST:PORT[,nats://HOST:PORT...]); needs --store")
    .option("--store <url>", "fleet mode: the PostgreSQL store, postgres://USER@HOST:PORT/DB (password from PGPASSWORD or --store-password-file); needs --nats")
    .option("--store-password-file <file>", "read the PostgreSQL password from this file (a mounted Secret)")
    .option("--token <token>", "bearer token clients must present (default: VIGIL_TOKEN)")
    .option("--token-file <file>", "read the bearer token from this file (a mounted Secret; also VIGIL_TOKEN_FILE)")
    .option(
      "--read-token <token>",
      "read-only token: GETs, the live tail and the console, never a write (default: VIGIL_READ_TOKEN, collector.read_token); needs --token",
    )
    .option("--read-token-file <file>", "read the read-only token from this file (a mounted Secret; also VIGIL_READ_TOKEN_FILE)")
    .option("--insecure", "allow a non-loopback listen address without a token")
    .option("--tls-cert <file>", "PEM certificate: serve TLS")
    .option("--tls-key <file>", "PEM private key for --tls-cert")
    .option(
      "--client-ca <file>",
      "PEM CA: clients presenting a certificate it signed may post Falco alerts (http_output with mTLS) without a token; needs --tls-cert (also collector.tls.client_ca_file)",
    )
    .option("--retention <duration>", "delete alerts older than this (e.g. 7d, 12h; 0 = keep)", "7d")
    .option("--config <file>", "Vigil configuration file: the collector reads its collector.limits section (also VIGIL_COLLECTOR_LIMITS_<KEY> variables)")
    .option("--falco-grpc <address>", "also pull alerts from a Falco gRPC outputs server (unix:///run/falco/falco.sock or HOST:PORT)")
    .option(
      "--rules <file>",
      "k8s_audit rules file or folder for POST /k8s-audit and the EKS audit reader (repeatable; default the built-in pack rules/files/k8s-audit/; reloaded on SIGHUP)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      "--cluster-name <name>",
      "cluster name on audit alerts (their hostname) when the source names none (default: the events' cluster_name annotation, else kubernetes)",
    )
    .option("--k8s-audit-log-group <group>", "also read an EKS cluster's audit logs from this CloudWatch Logs group (/aws/eks/<cluster>/cluster)")
    .action(async (o: CollectorCmdOptions) => {
      const logger = createLogger();
      // limits: defaults < file < VIGIL_COLLECTOR_LIMITS_* (the agent's loader, one file format for both)
      const cfg = loadConfig({ ...(o.config !== undefined ? { file: o.config } : {}), env: process.env });
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new Error("--tls-cert and --tls-key go together");
      const clientCaFile = o.clientCa ?? (cfg.collector.tls.client_ca_file !== "" ? cfg.collector.tls.client_ca_file : undefined);
      if (clientCaFile !== undefined && o.tlsCert === undefined)
        throw new Error("--client-ca (collector.tls.client_ca_file) needs --tls-cert and --tls-key: client certificates are checked in the TLS handshake");
      const clientCa = clientCaFile === undefined ? undefined : readPemFile(clientCaFile, "client CA");
      const retentionMs = o.retention === "0" ? 0 : parseDuration(o.retention);
      if ((o.nats === undefined) !== (o.store === undefined))
        throw new Error("--nats and --store go together: replicas consume from JetStream into one shared PostgreSQL store");
      if (o.store === undefined && o.data === undefined) throw new Error("--data is required (or --nats with --store for the fleet mode)");
      let fleet: CollectorOptions["fleet"];
      if (o.nats !== undefined && o.store !== undefined) {
        const passwordFile = o.storePasswordFile ?? (cfg.collector.store.password_file !== "" ? cfg.collector.store.password_file : undefined);
        let storePassword: string | undefined;
        if (passwordFile !== undefined) {
          storePassword = readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
          if (storePassword === "") throw new Error(`store password file ${passwordFile} is empty`);
        }
        fleet = {
          servers: parseNatsServers(o.nats),
          nats: cfg.collector.nats,
          stream: cfg.collector.fleet,
          storeUrl: checkStoreUrl(o.store),
          storePassword,
          poolSize: cfg.collector.store.pool_size,
        };
      }
      const tokenFile = o.tokenFile ?? process.env["VIGIL_TOKEN_FILE"];
      if (o.token === undefined && tokenFile !== undefined) {
        const t = readFileSync(tokenFile, "utf8").trim();
        if (t === "") throw new Error(`token file ${tokenFile} is empty`);
        o.token = t;
      }
      // the environment is read here, at the entry point; the collector takes only what it is given
      if (o.token === undefined && (process.env["VIGIL_TOKEN"] ?? "") !== "") o.token = process.env["VIGIL_TOKEN"];
      // the read-only token: --read-token, its file, VIGIL_READ_TOKEN(_FILE), then the configuration
      const readTokenFile = o.readTokenFile ?? process.env["VIGIL_READ_TOKEN_FILE"];
      if (o.readToken === undefined && readTokenFile !== undefined) {
        const t = readFileSync(readTokenFile, "utf8").trim();
        if (t === "") throw new Error(`read token file ${readTokenFile} is empty`);
        o.readToken = t;
      }
      if (o.readToken === undefined && (process.env["VIGIL_READ_TOKEN"] ?? "") !== "") o.readToken = process.env["VIGIL_READ_TOKEN"];
      if (o.readToken === undefined && cfg.collector.read_token !== "") o.readToken = cfg.collector.read_token;
      const ka = cfg.collector.k8s_audit;
      const rulesPaths = o.rules.length > 0 ? o.rules : ka.rules;
      const loadRules = () => loadAuditRules(rulesPaths, { ruleMatching: ka.matching });
      const auditLoad = loadRules();
      logAuditLoad(logger, auditLoad, "k8s_audit rules loaded");
      const cw = ka.cloudwatch;
      const logGroup = o.k8sAuditLogGroup ?? cw.log_group;
      const col = await startCollector({
        listen: o.listen,
        dataDir: o.data ?? "",
        fleet,
        forwarders: cfg.forwarders,
        token: o.token,
        readToken: o.readToken,
        insecure: o.insecure === true,
        tls: o.tlsCert !== undefined && o.tlsKey !== undefined ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey), clientCa } : undefined,
        retentionMs,
        limits: cfg.collector.limits,
        k8sAudit: {
          rules: auditLoad.rules,
          cluster: o.clusterName ?? ka.cluster_name,
          maxBodyBytes: ka.max_body_bytes,
          cloudwatch:
            logGroup !== ""
              ? {
                  logGroup,
                  region: cw.region,
                  streamPrefix: cw.stream_prefix,
                  pollIntervalMs: cw.poll_interval_ms,
                  start: cw.start,
                  overlapMs: cw.overlap_ms,
                  positionFile: cw.position_file,
                }
              : undefined,
        },
        logger,
      });
      let stopFalco: (() => Promise<void>) | undefined;
      if (o.falcoGrpc !== undefined) {
        const { FalcoGrpcSource } = await import("../sources/falco-grpc.js");
        const src = new FalcoGrpcSource({
          address: o.falcoGrpc,
          logger: logger.child({ component: "falco-grpc" }),
          onAlert: (a) => {
            const r = col.ingest([a]);
            if (r instanceof Promise) r.catch((err: unknown) => logger.error({ err }, "Falco alert not stored"));
          },
        });
        src.start();
        stopFalco = () => src.stop();
      }
      const stats = setInterval(() => logger.info({ stats: col.stats() }, "collector stats"), 60_000);
      stats.unref();
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "collector stopping");
        void (async () => {
          await stopFalco?.();
          await col.close();
          process.exit(0);
        })();
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGHUP", () => {
        logger.info("SIGHUP: reloading the k8s_audit rules");
        // as the agent reloads: the new set is swapped in only when it loads without an error
        try {
          const load = loadRules();
          if (!load.ok) {
            for (const d of load.diagnostics)
              if (d.severity === "error")
                logger.error({ file: d.file, line: d.line, col: d.col, code: d.code, item: d.item, reason: d.message }, "k8s_audit rules diagnostic");
            logger.error({ errors: load.diagnostics.filter((d) => d.severity === "error").length }, "k8s_audit rules reload rejected: the rules in force stay");
            return;
          }
          col.setAuditRules(load.rules);
          logAuditLoad(logger, load, "k8s_audit rules reloaded");
        } catch (err) {
          logger.error({ err }, "k8s_audit rules reload failed: the rules in force stay");
        }
      });
      logger.info({ address: col.address }, "vigil collector ready");
    });
}
