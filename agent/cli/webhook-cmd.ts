// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil webhook`: the mutating admission webhook that instruments pods on Fargate (or opted in
 * by label) with vigil-trace and the agent sidecar (`POST /mutate`), and the validating one
 * that enforces or audits admission policies (`POST /validate`, agent/admission/).
 * `--print-config [mutating|validating]` prints the manifests (Deployment, Service,
 * Mutating/ValidatingWebhookConfiguration with failurePolicy Ignore...) for the API server
 * instead of serving. `--collector` makes the sidecars ship their alerts to a collector as well
 * as to their log; its token and CA come from a Secret the operator creates in each
 * instrumented namespace (`--collector-secret`), since a pod can only mount Secrets of its own
 * namespace. Admission alerts go to stdout (Falco JSON lines) and, with `--alert-collector`, to
 * a collector. `vigil webhook report FILE...` is the dry-run report: what the policies would do
 * to the pods and workloads in FILE, without a cluster.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import { stringify } from "yaml";
import { createLogger } from "../log.js";
import { metrics, startMetricsServer } from "../metrics/index.js";
import {
  checkCollectorShipping,
  parseImageConfig,
  startWebhookServer,
  webhookManifests,
  type CollectorShipping,
  type ImageProcess,
  type ReviewHandler,
} from "../inject/index.js";
import {
  admissionManifests,
  buildReport,
  formatReport,
  loadPolicies,
  parseModeOverride,
  reviewError,
  AdmissionValidator,
  AlertShipper,
  DEFAULT_EXCLUDED_NAMESPACES,
  type DefaultMode,
  type PolicySet,
  type ValidatorOptions,
} from "../admission/index.js";
import { createCollectorSink } from "../sinks/collector-sink.js";
import { caFileSource, tokenFileSource } from "../sinks/credential-files.js";
import { StdoutSink } from "../sinks/stdout-sink.js";
import type { Sink } from "../sinks/types.js";
import type { Logger } from "../log.js";
import { readJsonFile, tracerSyscalls } from "./inject-cmd.js";
import { DEFAULT_IMAGE } from "../version.js";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** The admission options `vigil webhook` and `vigil webhook report` share. */
interface AdmissionOpts {
  admission: DefaultMode;
  policies: string[];
  builtinPolicies: boolean;
  policyMode: string[];
  excludeNamespace: string[];
  excludeKubeSystem: boolean;
}

interface WebhookOpts extends AdmissionOpts {
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
  printConfig?: boolean | string;
  service?: string;
  caBundle?: string;
  tlsSecret: string;
  collector?: string;
  collectorSecret?: string;
  collectorTls?: boolean;
  mutate: boolean;
  validate: boolean;
  failClosed?: boolean;
  alertStdout: boolean;
  alertCollector?: string;
  alertCollectorTokenFile?: string;
  alertCollectorCa?: string;
  alertSpool?: string;
}

function admissionMode(v: string): DefaultMode {
  if (v !== "enforce" && v !== "audit") throw new InvalidArgumentError("expected enforce or audit");
  return v;
}

/** Adds the policy options to a command. */
function policyOptions(c: Command): Command {
  return c
    .option(
      "--admission <mode>",
      "what a policy match does unless the policy says otherwise: enforce (deny) or audit (allow, warn and alert)",
      admissionMode,
      "audit",
    )
    .option("--policies <path>", "admission policy file or folder (source: k8s_audit rules), loaded after the built-in pack (repeatable)", collect, [])
    .option("--no-builtin-policies", "do not load the built-in policy pack (rules/files/admission/)")
    .option("--policy-mode <NAME=MODE>", "mode of one policy, or of every policy with a tag (tag:TAG=MODE): enforce, audit or off (repeatable)", collect, [])
    .option(
      "--exclude-namespace <ns>",
      "namespace whose requests are allowed unevaluated (repeatable; kube-system always, unless --no-exclude-kube-system)",
      collect,
      [],
    )
    .option("--no-exclude-kube-system", "evaluate requests in kube-system too");
}

/** The policies and the validator the admission options describe (throws one clear line on bad input). */
function admissionValidator(
  o: AdmissionOpts,
  logger: Logger,
  extra: { failClosed?: boolean; registry?: boolean; onAlert?: ValidatorOptions["onAlert"] } = {},
): {
  policies: PolicySet;
  validator: AdmissionValidator;
} {
  const policies = loadPolicies({ paths: o.policies, builtin: o.builtinPolicies, defaultMode: o.admission, overrides: o.policyMode.map(parseModeOverride) });
  for (const w of policies.warnings)
    logger.warn({ file: w.file, line: w.line, col: w.col, code: w.code, item: w.item ?? null, reason: w.message }, "policy load warning");
  const excluded = new Set([...(o.excludeKubeSystem ? DEFAULT_EXCLUDED_NAMESPACES : []), ...o.excludeNamespace]);
  const validator = new AdmissionValidator({
    policies,
    excludeNamespaces: excluded,
    failClosed: extra.failClosed === true,
    logger,
    registry: extra.registry === true ? metrics.registry : undefined,
    onAlert: extra.onAlert,
  });
  return { policies, validator };
}

/** The sinks of admission alerts: stdout, and a collector when asked. */
function alertSinks(o: WebhookOpts, logger: Logger): Sink[] {
  const sinks: Sink[] = [];
  if (o.alertStdout) sinks.push(new StdoutSink("json"));
  if (o.alertCollector !== undefined) {
    if (o.alertSpool === undefined) throw new Error("--alert-collector needs --alert-spool DIR (alerts wait there until the collector acknowledges them)");
    mkdirSync(o.alertSpool, { recursive: true, mode: 0o700 });
    const log = logger.child({ component: "delivery" });
    const sink = createCollectorSink({
      address: o.alertCollector,
      spoolDir: o.alertSpool,
      logger: log,
      ...(o.alertCollectorTokenFile !== undefined ? { token: tokenFileSource(o.alertCollectorTokenFile, log) } : {}),
      ...(o.alertCollectorCa !== undefined ? { tlsCa: caFileSource(o.alertCollectorCa, log) } : {}),
    });
    metrics.registerStats("admission_delivery", () => sink.stats());
    sinks.push(sink);
  } else if (o.alertSpool !== undefined || o.alertCollectorTokenFile !== undefined || o.alertCollectorCa !== undefined) {
    throw new Error("--alert-spool, --alert-collector-token-file and --alert-collector-ca need --alert-collector HOST:PORT");
  }
  return sinks;
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

/** Adds `vigil webhook` and `vigil webhook report`. */
export function registerWebhook(program: Command): void {
  const webhook = program
    .command("webhook")
    .description("serve the admission webhooks: /mutate instruments Fargate pods with vigil-trace, /validate enforces or audits admission policies")
    .option("--tls-cert <file>", "PEM certificate (chain) for the webhook's Service name")
    .option("--tls-key <file>", "PEM private key")
    .option("--port <n>", "HTTPS port", "9443")
    .option("--host <addr>", "listen address", "0.0.0.0")
    .option("--metrics-port <n>", "plain-HTTP /metrics, /healthz, /readyz port (0 = off)", "9376")
    .option("--no-mutate", "do not serve /mutate (a webhook for admission control only)")
    .option("--no-validate", "do not serve /validate (a webhook for Fargate injection only)")
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
    .option("--collector-tls", "the sidecars connect over TLS, verifying the collector with the Secret's ca.crt (needs --collector-secret)");
  policyOptions(webhook)
    .option("--fail-closed", "deny (500) a request whose evaluation fails (default: admit it with a warning; pair with failurePolicy Fail)")
    .option("--no-alert-stdout", "do not print admission alerts (Falco JSON lines) on stdout")
    .option(
      "--alert-collector <host:port>",
      "also ship admission alerts to this collector (spooled, acknowledged); with --print-config validating, the manifests mount the collector's token and CA Secrets",
    )
    .option("--alert-collector-token-file <file>", "bearer token for --alert-collector, read before each push")
    .option("--alert-collector-ca <file>", "PEM CA that signed the collector's certificate: connect over TLS")
    .option("--alert-spool <dir>", "spool of alerts not yet acknowledged by --alert-collector")
    .option(
      "--print-config [kind]",
      "print the manifests of the mutating (default) or validating webhook (Deployment, Service, webhook configuration...) and exit",
    )
    .option("--tls-secret <name>", "kubernetes.io/tls Secret with the serving certificate (with --print-config)", "vigil-webhook-tls")
    .option("--service <ns/name>", "the webhook's Service (with --print-config; default vigil/vigil-webhook, vigil/vigil-admission for validating)")
    .option("--ca-bundle <file>", "PEM CA that signed the certificate (with --print-config)")
    .action(async (o: WebhookOpts) => {
      const collector = collectorShipping(o);
      if (o.printConfig !== undefined && o.printConfig !== false) {
        const kind = o.printConfig === true ? "mutating" : o.printConfig;
        if (kind !== "mutating" && kind !== "validating") throw new Error("--print-config takes mutating or validating");
        const [namespace, service] = (o.service ?? (kind === "mutating" ? "vigil/vigil-webhook" : "vigil/vigil-admission")).split("/");
        if (!namespace || !service) throw new Error("--service must be NAMESPACE/NAME");
        if (!o.caBundle) throw new Error("--print-config needs --ca-bundle FILE");
        const caBundle = readFileSync(o.caBundle, "utf8");
        const docs =
          kind === "mutating"
            ? webhookManifests({ namespace, service, caBundle, image: o.image, tlsSecret: o.tlsSecret, collector })
            : admissionManifests({
                namespace,
                service,
                caBundle,
                image: o.image,
                tlsSecret: o.tlsSecret,
                mode: o.admission,
                failClosed: o.failClosed === true,
                // the collector's Secrets as deploy/base names them
                alerts:
                  o.alertCollector !== undefined
                    ? { address: o.alertCollector, tokenSecret: "vigil-collector-token", caSecret: "vigil-collector-tls" }
                    : undefined,
              });
        // YAML 1.1 quoting for what Kubernetes reads as 1.1 (`off`, `yes`... would be booleans)
        process.stdout.write(docs.map((d) => (kind === "mutating" ? stringify(d) : stringify(d, { version: "1.1", blockQuote: "literal" }))).join("---\n"));
        return;
      }
      if (!o.tlsCert || !o.tlsKey) throw new Error("--tls-cert and --tls-key are required (the API server only calls webhooks over TLS)");
      if (!o.mutate && !o.validate) throw new Error("--no-mutate and --no-validate leave nothing to serve");
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("--port must be 0..65535");
      const logger = createLogger();
      let validate: ReviewHandler | undefined;
      let shipper: AlertShipper | undefined;
      let admission: Record<string, unknown> | null = null;
      if (o.validate) {
        const sinks = alertSinks(o, logger);
        const ship = sinks.length > 0 ? new AlertShipper(sinks, logger) : undefined;
        shipper = ship;
        const { policies, validator } = admissionValidator(o, logger, {
          failClosed: o.failClosed === true,
          registry: true,
          ...(ship !== undefined ? { onAlert: (a) => void ship.push(a) } : {}),
        });
        validate = { handle: (b) => validator.handle(b), refusal: (status, message) => reviewError("", status, message) };
        if (ship !== undefined) metrics.registerStats("admission_alerts", () => ({ ...ship.stats() }), { gauges: ["queue_depth"] });
        admission = { mode: o.admission, failClosed: o.failClosed === true, policies: policies.counts(), files: policies.files.length };
      }
      const srv = await startWebhookServer({
        port,
        host: o.host,
        cert: readFileSync(o.tlsCert),
        key: readFileSync(o.tlsKey),
        logger,
        validate,
        inject: o.mutate
          ? {
              image: o.image,
              images: o.imageConfig,
              fargate: o.fargate,
              nativeSidecar: o.nativeSidecar,
              addPtraceCapability: o.ptraceCap,
              syscalls: o.syscalls ?? tracerSyscalls(o.rules),
              collector,
            }
          : undefined,
      });
      metrics.registerStats("webhook", () => ({ ...srv.counters }));
      const mport = Number(o.metricsPort);
      const msrv = mport > 0 ? await startMetricsServer({ port: mport, host: o.host, logger, ready: () => true }) : undefined;
      logger.info({ port: srv.port, mutate: o.mutate, admission, collector: collector ?? null }, "vigil webhook ready");
      const stop = () => void Promise.all([srv.close(), msrv?.close(), shipper?.close()]).then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });

  // the policy options are the parent's (commander gives options before and after a subcommand to
  // the command that defines them): `report` reads them with optsWithGlobals, and its help shows them
  webhook
    .command("report")
    .description(
      "dry-run report: which policies would deny or audit the pods and workloads in FILE (manifests, `kubectl get pods -A -o json`, AdmissionReviews; JSON or YAML)",
    )
    .argument("<file...>", "files to evaluate")
    .option("--namespace <ns>", "namespace of manifests that name none", "default")
    .option("--output <format>", "text or json", "text")
    .option("--verbose", "list allowed objects too")
    .option("--fail-on-deny", "exit 1 when an object would be denied")
    .configureHelp({ showGlobalOptions: true })
    .action((files: string[], _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<AdmissionOpts & { namespace: string; output: string; verbose?: boolean; failOnDeny?: boolean }>();
      if (o.output !== "text" && o.output !== "json") throw new Error("--output must be text or json");
      const { validator } = admissionValidator(o, createLogger("warn"));
      const rep = buildReport(files, validator, { namespace: o.namespace });
      process.stdout.write(o.output === "json" ? `${JSON.stringify(rep, null, 2)}\n` : formatReport(rep, { verbose: o.verbose === true }));
      if (o.failOnDeny === true && rep.summary.denied > 0) process.exitCode = 1;
    });
}
