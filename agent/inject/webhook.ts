// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil webhook`: a Kubernetes mutating admission webhook (AdmissionReview v1, JSON Patch, TLS)
 * that instruments pods (pod.ts), on `POST /mutate`. It never blocks a pod: every answer to a
 * well-formed review is `allowed: true`; when a pod cannot be instrumented the answer carries a
 * warning (shown by kubectl) and an audit annotation saying why, and the webhook logs and counts
 * it. The configuration it prints uses `failurePolicy: Ignore`, so an unreachable webhook blocks
 * nothing. The same server answers `POST /validate` when given a {@link ReviewHandler} (admission
 * control, agent/admission/); each path is served only when configured (404 otherwise).
 *
 * Who can reach it: anyone who can reach the Service's port, over TLS (the API server verifies
 * the certificate through the configuration's caBundle; the webhook does not authenticate its
 * callers, and needs no credentials of its own). What a caller can make it hold is bounded
 * before any body is read: connections, handshake, header and request time, header and body
 * bytes (a Content-Length over the limit is a 413 unread); anything malformed is a 4xx with a
 * clear message and a handler failure a counted 500, never a crash.
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { z } from "zod";
import { guardHttpServer, httpServerOptions } from "../metrics/http-guard.js";
import { httpLimitsSchema } from "../metrics/http-limits-schema.js";
import { metrics as defaultMetrics, type Metrics } from "../metrics/metrics.js";
import { InjectError } from "./errors.js";
import { INJECT_LABEL, patchPod, type CollectorShipping, type PodInjectOptions } from "./pod.js";

/** Reviews larger than this are refused (the API server's own request limit is 3 MiB). */
export const MAX_REVIEW_BYTES = 4 * 1024 * 1024;

/** The webhook's limits: those of every agent HTTP server, plus the body and the TLS handshake. */
export const webhookLimitsSchema = httpLimitsSchema.extend({
  /** Largest AdmissionReview body (413, read or announced). */
  max_body_bytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(MAX_REVIEW_BYTES),
  /** A TLS handshake must complete within this. */
  handshake_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
  /** The API server sends one review per connection at a time; a small cap suffices. */
  max_connections: z.number().int().min(1).max(100_000).default(128),
});
/** Webhook limits after defaults. */
export type WebhookLimits = z.output<typeof webhookLimitsSchema>;
/** Webhook limits as a caller gives them (every key optional). */
export type WebhookLimitsInput = z.input<typeof webhookLimitsSchema>;

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewOut {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  response: AdmissionResponse;
}

/** Counters of the webhook (exported through metrics.registerStats). */
export interface WebhookCounters {
  reviews: number;
  patched: number;
  not_opted_in: number;
  failed: number;
  bad_requests: number;
}

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const UID_RE = /^[A-Za-z0-9-]{1,128}$/;

/**
 * Answers one AdmissionReview. `status` 400 (with `error`) only when the body is not an
 * AdmissionReview at all; any review with a uid gets 200 and `allowed: true`.
 */
export function review(
  body: unknown,
  opts: PodInjectOptions,
  counters?: WebhookCounters,
  log?: Logger,
): { status: 200; body: AdmissionReviewOut } | { status: 400; body: { error: string } } {
  if (!isObj(body) || body["kind"] !== "AdmissionReview" || !isObj(body["request"])) {
    if (counters) counters.bad_requests++;
    return { status: 400, body: { error: "expected an AdmissionReview with a request" } };
  }
  if (body["apiVersion"] !== "admission.k8s.io/v1") {
    if (counters) counters.bad_requests++;
    return { status: 400, body: { error: "only admission.k8s.io/v1 AdmissionReview is supported" } };
  }
  const req = body["request"];
  const uid = req["uid"];
  if (typeof uid !== "string" || !UID_RE.test(uid)) {
    if (counters) counters.bad_requests++;
    return { status: 400, body: { error: "request.uid is missing or malformed" } };
  }
  if (counters) counters.reviews++;
  const ok = (extra: Partial<AdmissionResponse> = {}) => ({
    status: 200 as const,
    body: { apiVersion: "admission.k8s.io/v1" as const, kind: "AdmissionReview" as const, response: { uid, allowed: true as const, ...extra } },
  });
  const kind = isObj(req["kind"]) ? req["kind"] : {};
  if (kind["kind"] !== "Pod" || (kind["group"] ?? "") !== "" || req["operation"] !== "CREATE" || req["subResource"]) return ok();

  const ns = typeof req["namespace"] === "string" ? req["namespace"].slice(0, 253) : "";
  try {
    const r = patchPod(req["object"], opts);
    const warnings = r.skipped.map((s) => `vigil: container ${JSON.stringify(s.name.slice(0, 63))} not instrumented: ${s.reason}`.slice(0, 512));
    if (r.patch.length === 0) {
      if (r.reason === "not opted in" || r.reason === "opted out by label" || r.reason === "already injected") {
        if (counters) counters.not_opted_in++;
        return ok();
      }
      if (counters) counters.failed++;
      log?.warn({ namespace: ns, pod: { reason: r.reason, skipped: r.skipped } }, "pod not instrumented");
      return ok({
        warnings: [`vigil: pod not instrumented: ${r.reason ?? "unknown"}`, ...warnings],
        auditAnnotations: { "vigil.dev/inject-error": (r.reason ?? "").slice(0, 256) },
      });
    }
    if (counters) counters.patched++;
    return ok({
      patchType: "JSONPatch",
      patch: Buffer.from(JSON.stringify(r.patch)).toString("base64"),
      ...(warnings.length > 0 ? { warnings } : {}),
    });
  } catch (err) {
    if (counters) counters.failed++;
    const msg = err instanceof InjectError ? err.message : "internal error";
    log?.warn({ namespace: ns, err: err instanceof InjectError ? { code: err.code } : err, pod: { reason: msg.slice(0, 256) } }, "pod not instrumented");
    return ok({
      warnings: [`vigil: pod not instrumented (admitted unchanged): ${msg}`.slice(0, 512)],
      auditAnnotations: { "vigil.dev/inject-error": msg.slice(0, 256) },
    });
  }
}

/** The handler of another review path: admission control's `/validate` (agent/admission). */
export interface ReviewHandler {
  /** Answers one parsed JSON body (never throws; a throw is a counted 500). */
  handle(body: unknown): { status: number; body: unknown };
  /** The body of a refusal before any review (bad JSON, too large, wrong content type), in the handler's shape. */
  refusal(status: number, message: string): unknown;
}

export interface WebhookServerOptions {
  port: number;
  host?: string;
  /** PEM certificate chain and key (the Service's DNS name must be in the certificate). */
  cert: string | Buffer;
  key: string | Buffer;
  logger: Logger;
  /** Pod injection on `/mutate`; undefined: `/mutate` is not served. */
  inject?: PodInjectOptions | undefined;
  /** `/validate` (admission control); undefined: not served. */
  validate?: ReviewHandler | undefined;
  /** Connection cap, timeouts and the body limit; defaults in {@link webhookLimitsSchema}. */
  limits?: WebhookLimitsInput | undefined;
  /** Where refusals and failures are counted; defaults to the process-wide `metrics`. */
  metrics?: Metrics | undefined;
}

export interface WebhookServer {
  port: number;
  counters: WebhookCounters;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(s), ...(close ? { connection: "close" } : {}) });
  res.end(s);
}

/** Starts the HTTPS webhook: POST /mutate and POST /validate (AdmissionReview), GET /healthz. */
export function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const log = o.logger.child({ component: "webhook" });
  const counters: WebhookCounters = { reviews: 0, patched: 0, not_opted_in: 0, failed: 0, bad_requests: 0 };
  const limits = webhookLimitsSchema.parse(o.limits ?? {});
  const maxBody = limits.max_body_bytes;

  const inject = o.inject;
  const validate = o.validate;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method === "GET" && path === "/healthz") return reply(res, 200, { ok: true });
    const served = (path === "/mutate" && inject !== undefined) || (path === "/validate" && validate !== undefined);
    if (!served) return reply(res, 404, { error: "not found" });
    // refusals on /validate keep its AdmissionReview shape
    const refuse = (r: ServerResponse, status: number, reason: string, error: string, close = false): void => {
      counters.bad_requests++;
      guard.refused(reason);
      reply(r, status, path === "/validate" && validate !== undefined ? validate.refusal(status, error) : { error }, close);
    };
    if (req.method !== "POST") return refuse(res, 405, "method", "POST an AdmissionReview");
    const ct = req.headers["content-type"] ?? "";
    if (!ct.startsWith("application/json")) return refuse(res, 415, "content_type", "content-type must be application/json");
    // an announced size over the limit is refused before a byte of the body is read
    const announced = req.headers["content-length"];
    if (announced !== undefined && Number(announced) > maxBody) return refuse(res, 413, "too_large", `review too large (limit ${maxBody} bytes)`, true);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (c: Buffer): void => {
      if (done) return;
      size += c.length;
      if (size > maxBody) {
        done = true;
        chunks.length = 0;
        // the rest is discarded by Node as it arrives; the connection closes after the answer
        req.off("data", onData);
        refuse(res, 413, "too_large", `review too large (limit ${maxBody} bytes)`, true);
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("error", () => undefined);
    req.on("end", () => {
      if (done) return;
      done = true;
      try {
        const text = Buffer.concat(chunks, size).toString("utf8");
        chunks.length = 0;
        if (text.trim() === "") return refuse(res, 400, "bad_json", "empty body: POST an AdmissionReview (JSON)");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return refuse(res, 400, "bad_json", "body is not valid JSON");
        }
        const r = path === "/validate" && validate !== undefined ? validate.handle(body) : review(body, inject as PodInjectOptions, counters, log);
        if (r.status === 400) guard.refused("bad_review");
        reply(res, r.status, r.body);
      } catch (err) {
        guard.internalError(res, err);
      }
    });
  };

  const server: Server = createServer({
    ...httpServerOptions(limits),
    cert: o.cert,
    key: o.key,
    minVersion: "TLSv1.2",
    handshakeTimeout: limits.handshake_timeout_ms,
  });
  const guard = guardHttpServer(server, { name: "webhook", limits, logger: log, metrics: o.metrics ?? defaultMetrics });
  server.on("request", guard.total(handle));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      server.on("error", (err) => log.error({ err }, "webhook server error"));
      const port = (server.address() as AddressInfo).port;
      log.info({ port }, "webhook listening");
      resolve({
        port,
        counters,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

export interface WebhookConfigOptions {
  /** Namespace and name of the Service in front of the webhook. */
  namespace: string;
  service: string;
  port?: number;
  /** PEM CA bundle that signed the webhook's certificate. */
  caBundle: string;
}

/** The MutatingWebhookConfiguration that points the API server at `vigil webhook`. */
export function webhookConfiguration(o: WebhookConfigOptions): Record<string, unknown> {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: "vigil-inject", labels: { "app.kubernetes.io/part-of": "vigil" } },
    webhooks: [
      {
        name: "inject.vigil.dev",
        admissionReviewVersions: ["v1"],
        clientConfig: {
          service: { namespace: o.namespace, name: o.service, path: "/mutate", port: o.port ?? 443 },
          caBundle: Buffer.from(o.caBundle).toString("base64"),
        },
        rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" }],
        // never block a pod: if the webhook is down or fails, the pod is admitted unchanged
        failurePolicy: "Ignore",
        sideEffects: "None",
        timeoutSeconds: 5,
        // called again if a later webhook (e.g. EKS's Fargate one) changes the pod
        reinvocationPolicy: "IfNeeded",
        // Fargate pods carry no opt-in label, so every pod is seen unless it opts out
        objectSelector: { matchExpressions: [{ key: INJECT_LABEL, operator: "NotIn", values: ["false"] }] },
        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", o.namespace] }] },
      },
    ],
  };
}

export interface WebhookManifestOptions extends WebhookConfigOptions {
  /** The Vigil image that runs `vigil webhook`. */
  image: string;
  /** Secret (type kubernetes.io/tls) holding the serving certificate and key. */
  tlsSecret: string;
  replicas?: number;
  /** Where the injected sidecars ship alerts (becomes the webhook's --collector flags). */
  collector?: CollectorShipping | undefined;
}

/** The `vigil webhook` flags that make injected sidecars ship to a collector. */
export function collectorArgs(c: CollectorShipping | undefined): string[] {
  if (c === undefined) return [];
  return ["--collector", c.address, ...(c.secret !== undefined ? ["--collector-secret", c.secret] : []), ...(c.tls === true ? ["--collector-tls"] : [])];
}

/**
 * Everything to run the webhook: ServiceAccount (no API access, no token), Deployment (non-root,
 * read-only, no capabilities, spread over nodes), Service, PodDisruptionBudget, and the
 * MutatingWebhookConfiguration. The TLS Secret is the operator's (cert-manager or by hand).
 */
export function webhookManifests(o: WebhookManifestOptions): Record<string, unknown>[] {
  const labels = { "app.kubernetes.io/name": o.service, "app.kubernetes.io/part-of": "vigil" };
  const meta = { name: o.service, namespace: o.namespace, labels };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta, automountServiceAccountToken: false },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta,
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: o.service,
            automountServiceAccountToken: false,
            // fsGroup: the TLS Secret's files (mode 0440) are owned by root and this group; without
            // it they are root's alone and the webhook (uid 65532) cannot read its key
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels } },
            ],
            containers: [
              {
                name: "webhook",
                image: o.image,
                args: [
                  "webhook",
                  // this Deployment only injects; admission policies run in deploy/admission
                  "--no-validate",
                  "--tls-cert",
                  "/etc/vigil/tls/tls.crt",
                  "--tls-key",
                  "/etc/vigil/tls/tls.key",
                  "--port",
                  "9443",
                  "--image",
                  o.image,
                  ...collectorArgs(o.collector),
                ],
                ports: [
                  { name: "https", containerPort: 9443, protocol: "TCP" },
                  { name: "metrics", containerPort: 9376, protocol: "TCP" },
                ],
                readinessProbe: { httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, periodSeconds: 15 },
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } },
                volumeMounts: [{ name: "tls", mountPath: "/etc/vigil/tls", readOnly: true }],
              },
            ],
            volumes: [{ name: "tls", secret: { secretName: o.tlsSecret, defaultMode: 0o440 } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta,
      spec: { selector: labels, ports: [{ name: "https", port: o.port ?? 443, targetPort: "https", protocol: "TCP" }] },
    },
    { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: meta, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
    webhookConfiguration(o),
  ];
}
