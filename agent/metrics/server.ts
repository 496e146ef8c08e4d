// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's HTTP endpoint for Kubernetes probes and Prometheus: `/healthz` (the process is
 * alive and its event loop turns), `/readyz` (the pipeline says it is ready: probe attached,
 * rules loaded), `/metrics` (Prometheus text format), and `/versions` (Falco's webserver
 * endpoint: the same JSON keys, Vigil's values). `/healthz` answers Falco's body too,
 * `{"status": "ok"}`, so Falco's probes and tools work unchanged. Anything else is 404; only GET
 * and HEAD.
 * Unauthenticated by convention (kubelet probes, Prometheus scrapes): it exposes counts only, and
 * its connection cap and timeouts (http-guard.ts) bound what any client can hold.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "../../proto/node-http.js";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { MetricsError } from "./errors.js";
import { guardHttpServer, httpLimits, httpServerOptions, type HttpLimitsInput } from "./http-guard.js";
import { metrics as defaultMetrics, type Metrics } from "./metrics.js";
import { ENGINE_VERSION } from "../../rules/load/collector.js";
import { WIRE_VERSION } from "../decode/layout.js";
import { VERSION } from "../version.js";

/**
 * Falco's `/versions` answer (falco's versions_info: the same keys) with Vigil's values, honestly:
 * the rule engine's version on Falco's scale (what `required_engine_version` is checked against,
 * and what falcoctl matches rules artifacts with), Vigil's version as `falco_version` (with
 * `+vigil`, as the gRPC version service says), and empty strings where Vigil has no such part
 * (it uses neither falcosecurity/libs, nor Falco's plugin API, nor Falco's driver ABI). No
 * `plugin_versions`: Falco leaves the key out when no plugin is loaded. `vigil_*` keys add what
 * stands in their place: Vigil's version and its probe's wire format version.
 */
export function falcoVersions(): Record<string, string> {
  const minor = ENGINE_VERSION.split(".")[1] ?? "0";
  return {
    falco_version: `${VERSION}+vigil`,
    libs_version: "",
    plugin_api_version: "",
    driver_api_version: "",
    driver_schema_version: "",
    // the probe ships with the agent: its version is Vigil's
    default_driver_version: VERSION,
    engine_version: String(Number(minor)),
    engine_version_semver: ENGINE_VERSION,
    vigil_version: VERSION,
    vigil_probe_wire_version: String(WIRE_VERSION),
  };
}

export interface MetricsServerOptions {
  port: number;
  /** Defaults to 0.0.0.0 (all IPv4 interfaces). */
  host?: string;
  logger: Logger;
  /** Readiness as the pipeline sees it. */
  ready: () => boolean;
  /** Defaults to the process-wide `metrics`. */
  metrics?: Metrics;
  /** Connection cap and timeouts (`metrics.limits` of the configuration); defaults in http-guard.ts. */
  limits?: HttpLimitsInput | undefined;
}

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  const buf = Buffer.from(body, "utf8");
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": buf.length });
  res.end(buf);
}

/** Starts the health and metrics endpoint; resolves once it listens. */
export function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const m = opts.metrics ?? defaultMetrics;
  const log = opts.logger.child({ component: "metrics" });
  let scrapeFailuresLogged = false;
  const versionsBody = JSON.stringify(falcoVersions());

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      guard.refused("method");
      res.setHeader("allow", "GET, HEAD");
      send(res, 405, "method not allowed\n");
      return;
    }
    const q = (req.url ?? "/").indexOf("?");
    const path = q < 0 ? (req.url ?? "/") : (req.url ?? "/").slice(0, q);
    switch (path) {
      case "/healthz":
        send(res, 200, '{"status": "ok"}', "application/json");
        return;
      case "/versions":
        send(res, 200, versionsBody, "application/json");
        return;
      case "/readyz": {
        let ok = false;
        try {
          ok = opts.ready();
        } catch (err) {
          log.debug({ err }, "readiness check threw");
        }
        send(res, ok ? 200 : 503, ok ? "ready\n" : "not ready\n");
        return;
      }
      case "/metrics":
        m.scrape()
          .then(
            (body) => send(res, 200, body, m.contentType),
            (err: unknown) => {
              if (!scrapeFailuresLogged) {
                scrapeFailuresLogged = true;
                log.error({ err }, "metrics scrape failed");
              }
              send(res, 500, "scrape failed\n");
            },
          )
          // a failure while answering must not become an unhandled rejection (the process would exit)
          .catch((err: unknown) => guard.internalError(res, err));
        return;
      default:
        send(res, 404, "not found\n");
    }
  };

  const limits = httpLimits(opts.limits);
  const server = createServer(httpServerOptions(limits));
  const guard = guardHttpServer(server, { name: "metrics", limits, logger: log, metrics: m });
  server.on("request", guard.total(handle));

  return new Promise((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new MetricsError("LISTEN_FAILED", `metrics endpoint cannot listen on ${opts.host ?? "0.0.0.0"}:${opts.port}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => {
      server.off("error", onError);
      server.on("error", (err) => log.error({ err }, "metrics server error"));
      const port = (server.address() as AddressInfo).port;
      log.info({ port, host: opts.host ?? "0.0.0.0" }, "metrics endpoint listening");
      resolve({
        port,
        close: () =>
          new Promise<void>((res) => {
            server.closeAllConnections();
            server.close(() => res());
          }),
      });
    });
  });
}
