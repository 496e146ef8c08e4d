// SPDX-License-Identifier: Apache-2.0
/**
 * Whether the agent runs in a pod that can reach the API server, without loading the Kubernetes
 * client library: `vigil agent` asks this before it imports the API context (kubeconfig.ts and
 * @kubernetes/client-node, about 870 modules and 80 MiB resident), so a node outside a cluster
 * never pays for them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The service account folder the kubelet mounts into every pod that automounts its token. */
export const DEFAULT_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** True when the process runs in a pod that can reach the API: the service host is set and the token is mounted. */
export function inCluster(env: NodeJS.ProcessEnv, serviceAccountDir = DEFAULT_SERVICE_ACCOUNT_DIR): boolean {
  return (env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && existsSync(join(serviceAccountDir, "token"));
}
