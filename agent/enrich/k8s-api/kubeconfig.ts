// SPDX-License-Identifier: Apache-2.0
/**
 * How the agent reaches the API server, through @kubernetes/client-node's KubeConfig: in a
 * cluster, the pod's service account (its token, re-read as the kubelet rotates it, and the
 * cluster CA) and the `KUBERNETES_SERVICE_HOST`/`_PORT` the kubelet sets; elsewhere a kubeconfig
 * file (any auth it describes: certificates, tokens, exec plugins).
 */
import { existsSync } from "node:fs";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import { K8sApiError, K8sApiErrorCode } from "./errors.js";
import { DEFAULT_SERVICE_ACCOUNT_DIR } from "./in-cluster.js";

export { DEFAULT_SERVICE_ACCOUNT_DIR, inCluster } from "./in-cluster.js";

/** Where the API server is and who the agent is to it. */
export interface KubeAccess {
  /** A kubeconfig file; empty or unset = in-cluster. */
  kubeconfig?: string | undefined;
  /** A context of the kubeconfig; empty = its current context. */
  context?: string | undefined;
  /** In-cluster: the folder with `token` and `ca.crt`. */
  serviceAccountDir?: string | undefined;
}

/**
 * A KubeConfig that also sets an `Accept` header on the requests the client library makes for
 * it (the watch): the agent asks for PartialObjectMetadata where it needs only metadata.
 */
export class AcceptingKubeConfig extends KubeConfig {
  constructor(private readonly accept: string | undefined) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (this.accept !== undefined) context.setHeaderParam("Accept", this.accept);
  }
}

/** Loads the access into `kc`. Throws K8sApiError `config` with a clear message. */
export function loadAccess(kc: KubeConfig, access: KubeAccess, env: NodeJS.ProcessEnv): void {
  const file = access.kubeconfig ?? "";
  if (file !== "") {
    if (!existsSync(file)) throw new K8sApiError(K8sApiErrorCode.Config, `kubeconfig ${file} does not exist`);
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new K8sApiError(K8sApiErrorCode.Config, `kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
    }
    if (access.context !== undefined && access.context !== "") {
      if (kc.getContextObject(access.context) === null) throw new K8sApiError(K8sApiErrorCode.Config, `kubeconfig ${file} has no context '${access.context}'`);
      kc.setCurrentContext(access.context);
    }
    if (kc.getCurrentCluster() === null) throw new K8sApiError(K8sApiErrorCode.Config, `kubeconfig ${file} names no cluster for its current context`);
    return;
  }
  const dir = access.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR;
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "443";
  if (host === "") throw new K8sApiError(K8sApiErrorCode.Config, "not in a cluster (KUBERNETES_SERVICE_HOST is not set) and no kubeconfig given");
  const tokenFile = join(dir, "token");
  const caFile = join(dir, "ca.crt");
  if (!existsSync(tokenFile)) throw new K8sApiError(K8sApiErrorCode.Config, `no service account token at ${tokenFile} (automountServiceAccountToken off?)`);
  kc.loadFromClusterAndUser(
    {
      name: "in-cluster",
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      skipTLSVerify: false,
      ...(existsSync(caFile) ? { caFile } : {}),
    },
    // the client re-reads the token file every minute: bound tokens the kubelet rotates keep working
    { name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile } } },
  );
}
