// SPDX-License-Identifier: Apache-2.0
/**
 * The objects that run admission control (`vigil webhook --print-config validating`; the same
 * as deploy/admission/): a `vigil-admission` Deployment serving only `/validate`, its Service,
 * ServiceAccount, PodDisruptionBudget and policy ConfigMap, and the
 * ValidatingWebhookConfiguration that points the API server at it.
 *
 * Failure policy, and why:
 * - `failurePolicy: Ignore` by default: when the webhook is down or slow, requests are admitted
 *   (a blind spot, never a cluster outage; the API server's metrics and audit log show the
 *   failed calls). `failClosed` makes it `Fail` and the webhook itself `--fail-closed`: its own
 *   evaluation errors then deny as well.
 * - `timeoutSeconds: 3`: an answer takes well under a millisecond; a stuck call should not hold
 *   every pod creation for the API server's default 10 s.
 * - `namespaceSelector` leaves out kube-system and the webhook's own namespace (its pods must
 *   start for it to answer), and namespaces labelled `vigil.dev/admission: disabled` (not `off`,
 *   which YAML 1.1, as Kubernetes reads manifests, takes for false): a namespace's labels are set
 *   by whoever administers namespaces, not by whoever creates pods in it.
 * - `objectSelector: {}` (every object): a label on the object would be an opt-out for anyone
 *   who can create the object.
 * - `sideEffects: NoneOnDryRun` (the answer changes nothing in the cluster; the alerts it sends
 *   out are its only side effect, and dry-run requests, marked `dryRun: true`, raise none)
 *   and `admissionReviewVersions: [v1]`.
 */
import type { DefaultMode } from "./policies.js";

/** A namespace with this label set to {@link ADMISSION_NAMESPACE_OPT_OUT} is not sent to the webhook. */
export const ADMISSION_NAMESPACE_LABEL = "vigil.dev/admission";
/** The value of {@link ADMISSION_NAMESPACE_LABEL} that opts a namespace out. */
export const ADMISSION_NAMESPACE_OPT_OUT = "disabled";
/** Name of the webhook inside the configuration (the prefix of its audit annotations). */
export const VALIDATING_WEBHOOK_NAME = "validate.vigil.dev";

/** The resources whose requests the webhook is sent: pods and every workload with a pod template. */
export const VALIDATED_RULES = [
  { apiGroups: [""], resources: ["pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"] },
  { apiGroups: ["apps"], resources: ["deployments", "replicasets", "statefulsets", "daemonsets"] },
  { apiGroups: ["batch"], resources: ["jobs", "cronjobs"] },
] as const;

export interface AdmissionConfigOptions {
  /** Namespace and name of the Service in front of the webhook. */
  namespace: string;
  service: string;
  port?: number;
  /** PEM CA bundle that signed the webhook's certificate (omitted: cert-manager's CA injector fills it). */
  caBundle?: string | undefined;
  /** failurePolicy Fail and a fail-closed webhook (default: Ignore, fail open). */
  failClosed?: boolean;
}

/** The ValidatingWebhookConfiguration that sends pod and workload requests to `/validate`. */
export function validatingWebhookConfiguration(o: AdmissionConfigOptions): Record<string, unknown> {
  const clientConfig: Record<string, unknown> = { service: { namespace: o.namespace, name: o.service, path: "/validate", port: o.port ?? 443 } };
  if (o.caBundle !== undefined) clientConfig["caBundle"] = Buffer.from(o.caBundle).toString("base64");
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: "vigil-admission", labels: { "app.kubernetes.io/part-of": "vigil" } },
    webhooks: [
      {
        name: VALIDATING_WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        clientConfig,
        rules: VALIDATED_RULES.map((r) => ({
          operations: ["CREATE", "UPDATE"],
          apiGroups: [...r.apiGroups],
          apiVersions: ["v1"],
          resources: [...r.resources],
          scope: "Namespaced",
        })),
        failurePolicy: o.failClosed === true ? "Fail" : "Ignore",
        sideEffects: "NoneOnDryRun",
        timeoutSeconds: 3,
        namespaceSelector: {
          matchExpressions: [
            { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", o.namespace] },
            { key: ADMISSION_NAMESPACE_LABEL, operator: "NotIn", values: [ADMISSION_NAMESPACE_OPT_OUT] },
          ],
        },
        objectSelector: {},
      },
    ],
  };
}

/** Where the webhook's alerts go besides its stdout. */
export interface AdmissionAlertShipping {
  /** Collector `HOST:PORT` as the webhook's pod resolves it. */
  address: string;
  /** Secret with the collector's bearer `token`. */
  tokenSecret: string;
  /** Secret whose `ca.crt` signed the collector's certificate. */
  caSecret: string;
}

export interface AdmissionManifestOptions extends AdmissionConfigOptions {
  /** The Vigil image that runs `vigil webhook`. */
  image: string;
  /** Secret (type kubernetes.io/tls) holding the serving certificate and key. */
  tlsSecret: string;
  /** `--admission` of the webhook. */
  mode: DefaultMode;
  replicas?: number;
  alerts?: AdmissionAlertShipping | undefined;
}

/** The policy file the ConfigMap carries until the operator writes theirs. */
export const LOCAL_POLICIES = `# Admission policies of this cluster: lists, macros and rules (source: k8s_audit) loaded after
# the built-in pack (rules/files/admission/), which they can append to or override. E.g. the
# registries images may come from:
#
# - list: admission_allowed_registries
#   items: [123456789012.dkr.ecr.eu-west-1.amazonaws.com, registry.k8s.io, public.ecr.aws]
#   override:
#     items: replace
`;

/** `vigil webhook` flags that ship alerts to a collector, with the mount paths of the manifests. */
export function alertArgs(a: AdmissionAlertShipping | undefined): string[] {
  if (a === undefined) return [];
  return [
    "--alert-collector",
    a.address,
    "--alert-collector-token-file",
    "/var/run/secrets/vigil/token",
    "--alert-collector-ca",
    "/var/run/secrets/vigil-collector-ca/ca.crt",
    "--alert-spool",
    "/var/spool/vigil",
  ];
}

/**
 * Everything to run admission control: ServiceAccount (no API access, no token), ConfigMap
 * (local policies), Deployment (non-root, read-only, no capabilities, spread over nodes),
 * Service, PodDisruptionBudget and the ValidatingWebhookConfiguration. The TLS Secret is the
 * operator's (cert-manager or deploy/gen-certs.sh).
 */
export function admissionManifests(o: AdmissionManifestOptions): Record<string, unknown>[] {
  const labels = { "app.kubernetes.io/name": o.service, "app.kubernetes.io/part-of": "vigil" };
  const meta = { name: o.service, namespace: o.namespace, labels };
  const policies = `${o.service}-policies`;
  const mounts: Record<string, unknown>[] = [
    { name: "tls", mountPath: "/etc/vigil/tls", readOnly: true },
    { name: "policies", mountPath: "/etc/vigil/admission", readOnly: true },
  ];
  const volumes: Record<string, unknown>[] = [
    { name: "tls", secret: { secretName: o.tlsSecret, defaultMode: 0o440 } },
    { name: "policies", configMap: { name: policies } },
  ];
  if (o.alerts !== undefined) {
    mounts.push(
      { name: "collector-token", mountPath: "/var/run/secrets/vigil", readOnly: true },
      { name: "collector-ca", mountPath: "/var/run/secrets/vigil-collector-ca", readOnly: true },
      { name: "spool", mountPath: "/var/spool/vigil" },
    );
    volumes.push(
      { name: "collector-token", secret: { secretName: o.alerts.tokenSecret, defaultMode: 0o440 } },
      { name: "collector-ca", secret: { secretName: o.alerts.caSecret, items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } },
      { name: "spool", emptyDir: { sizeLimit: "256Mi" } },
    );
  }
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta, automountServiceAccountToken: false },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { ...meta, name: policies }, data: { "local_policies.yaml": LOCAL_POLICIES } },
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
                  "--no-mutate",
                  "--tls-cert",
                  "/etc/vigil/tls/tls.crt",
                  "--tls-key",
                  "/etc/vigil/tls/tls.key",
                  "--port",
                  "9443",
                  "--admission",
                  o.mode,
                  "--policies",
                  "/etc/vigil/admission",
                  ...(o.failClosed === true ? ["--fail-closed"] : []),
                  ...alertArgs(o.alerts),
                ],
                ports: [
                  { name: "https", containerPort: 9443, protocol: "TCP" },
                  { name: "metrics", containerPort: 9376, protocol: "TCP" },
                ],
                readinessProbe: { httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, periodSeconds: 15 },
                resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } },
                volumeMounts: mounts,
              },
            ],
            volumes,
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
    validatingWebhookConfiguration(o),
  ];
}
