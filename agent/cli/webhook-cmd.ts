// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil webhook`: the mutating admission webhook that instruments pods on Fargate (or opted in
 * by label) with vigil-trace and the agent sidecar. `--print-config` prints the
 * MutatingWebhookConfiguration (failurePolicy Ignore) for the API server instead of serving.
 * `--collector` makes the sidecars ship their alerts to a collector as well as to their log; its
 * token and CA come from a Secret the operator creates in each instrumented namespace
 * (`--collector-secret`), since a pod can only mount Secrets of its own namespace.
 */
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import { stringify } from "yaml";
import { createLogger } from "../log.js";
import { metrics, startMetricsServer } from "../metrics/index.js";
import { checkCollectorShipping, parseImageConfig, startWebhookServer, webhookManifests, type CollectorShipping, type ImageProcess } from "../inject/index.js";
import { readJsonFile, tracerSyscalls } from "./inject-cmd.js";
import { DEFAULT_IMAGE } from "../version.js";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface WebhookOpts {
  rules: string[];
  syscalls?: string;
  tlsCert?: string;
  tlsKey?: string;
  port: string;
  host: string;
  metricsPort: string;
  image: string;
  imageConfig: Record<string, ImageProcess>;
  fargate: boolean;
  nativeSidecar: boolean;
  ptraceCap: boolean;
  printConfig?: boolean;
  service: string;
  caBundle?: string;
  tlsSecret: string;
  collector?: string;
  collectorSecret?: string;
  collectorTls?: boolean;
}

/** `--collector*` → the sidecars' shipping, checked (one clear line on bad input). */
export function collectorShipping(o: { collector?: string; collectorSecret?: string; collectorTls?: boolean }): CollectorShipping | undefined {
  if (o.collector === undefined) {
    if (o.collectorSecret !== undefined || o.collectorTls === true) throw new Error("--collector-secret and --collector-tls need --collector HOST:PORT");
    return undefined;
  }
  if (o.collectorTls === true && o.collectorSecret === undefined)
    throw new Error("--collector-tls needs --collector-secret NAME (the sidecar verifies the collector with the Secret's ca.crt)");
  const c: CollectorShipping = { address: o.collector };
  if (o.collectorSecret !== undefined) c.secret = o.collectorSecret;
  if (o.collectorTls === true) c.tls = true;
  checkCollectorShipping(c);
  return c;
}

function collectImage(v: string, prev: Record<string, ImageProcess>): Record<string, ImageProcess> {
  const eq = v.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("expected IMAGE=FILE.json");
  return { ...prev, [v.slice(0, eq)]: parseImageConfig(readJsonFile(v.slice(eq + 1))) };
}

/** Adds `vigil webhook`. */
export function registerWebhook(program: Command): void {
  program
    .command("webhook")
    .description("serve the mutating admission webhook that instruments Fargate pods with vigil-trace")
    .option("--tls-cert <file>", "PEM certificate (chain) for the webhook's Service name")
    .option("--tls-key <file>", "PEM private key")
    .option("--port <n>", "HTTPS port", "9443")
    .option("--host <addr>", "listen address", "0.0.0.0")
    .option("--metrics-port <n>", "plain-HTTP /metrics, /healthz, /readyz port (0 = off)", "9376")
    .option("--image <ref>", "the Vigil image injected as sidecar", DEFAULT_IMAGE)
    .option("--image-config <ref=file>", "ENTRYPOINT/CMD of a workload image (for containers that set no command); repeatable", collectImage, {})
    .option("--rules <file>", "rules the agent sidecar will run (repeatable; default the built-in rules): the tracer stops only on their syscalls", collect, [])
    .option("--syscalls <list>", "syscalls the tracer reports (overrides --rules)")
    .option("--no-fargate", "only instrument pods labelled vigil.dev/inject=true (not every Fargate pod)")
    .option("--no-native-sidecar", "add the agent as a regular container (clusters before Kubernetes 1.29)")
    .option("--no-ptrace-cap", "do not add SYS_PTRACE (namespaces under the restricted Pod Security Standard)")
    .option("--collector <host:port>", "the sidecars also ship alerts to this collector, as the pod resolves it (e.g. vigil-collector.vigil.svc:9377)")
    .option(
      "--collector-secret <name>",
      "Secret holding the collector's `token` (and `ca.crt` with --collector-tls), mounted into each sidecar; a pod can only mount Secrets of its own namespace, so create it in every instrumented namespace",
    )
    .option("--collector-tls", "the sidecars connect over TLS, verifying the collector with the Secret's ca.crt (needs --collector-secret)")
    .option("--print-config", "print the webhook's manifests (Deployment, Service, MutatingWebhookConfiguration...) and exit")
    .option("--tls-secret <name>", "kubernetes.io/tls Secret with the serving certificate (with --print-config)", "vigil-webhook-tls")
    .option("--service <ns/name>", "the webhook's Service (with --print-config)", "vigil/vigil-webhook")
    .option("--ca-bundle <file>", "PEM CA that signed the certificate (with --print-config)")
    .action(async (o: WebhookOpts) => {
      const collector = collectorShipping(o);
      if (o.printConfig) {
        const [namespace, service] = o.service.split("/");
        if (!namespace || !service) throw new Error("--service must be NAMESPACE/NAME");
        if (!o.caBundle) throw new Error("--print-config needs --ca-bundle FILE");
        const docs = webhookManifests({
          namespace,
          service,
          caBundle: readFileSync(o.caBundle, "utf8"),
          image: o.image,
          tlsSecret: o.tlsSecret,
          collector,
        });
        process.stdout.write(docs.map((d) => stringify(d)).join("---\n"));
        return;
      }
      if (!o.tlsCert || !o.tlsKey) throw new Error("--tls-cert and --tls-key are required (the API server only calls webhooks over TLS)");
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("--port must be 0..65535");
      const logger = createLogger();
      const srv = await startWebhookServer({
        port,
        host: o.host,
        cert: readFileSync(o.tlsCert),
        key: readFileSync(o.tlsKey),
        logger,
        inject: {
          image: o.image,
          images: o.imageConfig,
          fargate: o.fargate,
          nativeSidecar: o.nativeSidecar,
          addPtraceCapability: o.ptraceCap,
          syscalls: o.syscalls ?? tracerSyscalls(o.rules),
          collector,
        },
      });
      metrics.registerStats("webhook", () => ({ ...srv.counters }));
      const mport = Number(o.metricsPort);
      const msrv = mport > 0 ? await startMetricsServer({ port: mport, host: o.host, logger, ready: () => true }) : undefined;
      logger.info({ port: srv.port, collector: collector ?? null }, "vigil webhook ready");
      const stop = () => void Promise.all([srv.close(), msrv?.close()]).then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
}
