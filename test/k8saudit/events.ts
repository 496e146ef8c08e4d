// SPDX-License-Identifier: Apache-2.0
/**
 * Audit events shaped as a Kubernetes API server writes them (audit.k8s.io/v1, RequestResponse
 * level where a request object matters): a pod created with several containers, security contexts
 * and volumes; a role binding; a configmap with credentials; an exec into a pod; a role with
 * wildcard rules; a NodePort service; a denied secret read. Each builder returns a fresh object.
 */

const USER_ADMIN = {
  username: "kubernetes-admin",
  groups: ["kubeadm:cluster-admins", "system:authenticated"],
};

function base(id: string, verb: string, uri: string, objectRef: Record<string, unknown>, stage = "ResponseComplete"): Record<string, unknown> {
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: id,
    stage,
    requestURI: uri,
    verb,
    user: USER_ADMIN,
    sourceIPs: ["10.0.0.12", "192.168.49.1"],
    userAgent: "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
    objectRef,
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: "2024-06-01T10:15:30.123456Z",
    stageTimestamp: "2024-06-01T10:15:30.234567Z",
    annotations: {
      "authorization.k8s.io/decision": "allow",
      "authorization.k8s.io/reason":
        'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"',
    },
  };
}

/** A pod `evil` created in `default`: 2 containers, 1 init container, volumes of 4 kinds. */
export function podCreate(): Record<string, unknown> {
  const pod = {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "evil", namespace: "default", labels: { app: "evil" } },
    spec: {
      hostNetwork: true,
      hostPID: false,
      securityContext: { runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000, 3001] },
      initContainers: [{ name: "setup", image: "busybox:1.36", command: ["sh", "-c", "echo init"], securityContext: { privileged: true } }],
      containers: [
        {
          name: "app",
          image: "docker.io/library/nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
          command: ["nginx"],
          args: ["-g", "daemon off;"],
          ports: [{ containerPort: 80, hostPort: 8080, protocol: "TCP" }, { containerPort: 443 }],
          securityContext: {
            privileged: true,
            allowPrivilegeEscalation: true,
            readOnlyRootFilesystem: false,
            runAsUser: 0,
            runAsGroup: 0,
            procMount: "Unmasked",
            capabilities: { add: ["NET_ADMIN", "SYS_TIME"], drop: ["ALL"] },
          },
        },
        {
          name: "sidecar",
          image: "registry.example.com:5000/team/sidecar:2.1",
          securityContext: { readOnlyRootFilesystem: true, capabilities: { add: ["SYS_ADMIN"] } },
        },
      ],
      volumes: [
        { name: "host-etc", hostPath: { path: "/etc", type: "Directory" } },
        { name: "docker", hostPath: { path: "/var/run/docker.sock" } },
        { name: "flex", flexVolume: { driver: "example/lvm", fsType: "ext4" } },
        { name: "cfg", configMap: { name: "app-config" } },
      ],
    },
  };
  const e = base("3f1f07a5-8d5c-4a8f-9a3e-1c0f4f3b2d10", "create", "/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply", {
    resource: "pods",
    namespace: "default",
    name: "evil",
    apiVersion: "v1",
  });
  e.requestObject = pod;
  e.responseObject = { ...pod, metadata: { ...pod.metadata, uid: "8c5e2a4e-1d2b-4a0e-9a61-6b0d2f9e7c11", resourceVersion: "48213" } };
  return e;
}

/** A RoleBinding `read-pods` in `dev` binding the Role `pod-reader` to a user, a group and two service accounts. */
export function roleBindingCreate(): Record<string, unknown> {
  const binding = {
    kind: "RoleBinding",
    apiVersion: "rbac.authorization.k8s.io/v1",
    metadata: { name: "read-pods", namespace: "dev" },
    subjects: [
      { kind: "User", name: "jane", apiGroup: "rbac.authorization.k8s.io" },
      { kind: "Group", name: "devs", apiGroup: "rbac.authorization.k8s.io" },
      { kind: "ServiceAccount", name: "builder", namespace: "ci" },
      { kind: "ServiceAccount", name: "default" },
    ],
    roleRef: { kind: "Role", name: "pod-reader", apiGroup: "rbac.authorization.k8s.io" },
  };
  const e = base("b6a4c0f2-5e3d-4f1a-8c2b-7d9e0a1b2c3d", "create", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings", {
    resource: "rolebindings",
    namespace: "dev",
    name: "read-pods",
    apiGroup: "rbac.authorization.k8s.io",
    apiVersion: "v1",
  });
  e.requestObject = binding;
  e.responseObject = binding;
  return e;
}

/** A ConfigMap `aws-creds` updated with an AWS key in its data. */
export function configMapUpdate(): Record<string, unknown> {
  const cm = {
    kind: "ConfigMap",
    apiVersion: "v1",
    metadata: { name: "aws-creds", namespace: "default" },
    data: { "credentials.ini": "[default]\naws_access_key_id=AKIAEXAMPLE\n", region: "eu-west-1" },
  };
  const e = base("0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f", "update", "/api/v1/namespaces/default/configmaps/aws-creds", {
    resource: "configmaps",
    namespace: "default",
    name: "aws-creds",
    apiVersion: "v1",
  });
  e.requestObject = cm;
  e.responseStatus = { metadata: {}, code: 200 };
  return e;
}

/** `kubectl exec -it web-0 -c app -- sh -c id`: the ResponseStarted event of the exec subresource. */
export function podExec(): Record<string, unknown> {
  const e = base(
    "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "create",
    "/api/v1/namespaces/prod/pods/web-0/exec?command=sh&command=-c&command=id&container=app&stdin=true&stdout=true&tty=true",
    { resource: "pods", namespace: "prod", name: "web-0", apiVersion: "v1", subresource: "exec" },
    "ResponseStarted",
  );
  e.level = "Metadata";
  e.responseStatus = { metadata: {}, code: 101 };
  return e;
}

/** A ClusterRole with wildcard verbs and a nonResourceURL rule. */
export function clusterRoleCreate(): Record<string, unknown> {
  const role = {
    kind: "ClusterRole",
    apiVersion: "rbac.authorization.k8s.io/v1",
    metadata: { name: "too-much" },
    rules: [
      { apiGroups: [""], resources: ["pods", "pods/exec"], verbs: ["*"] },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list"] },
      { nonResourceURLs: ["/metrics"], verbs: ["get"] },
    ],
  };
  const e = base("1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6", "create", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    resource: "clusterroles",
    name: "too-much",
    apiGroup: "rbac.authorization.k8s.io",
    apiVersion: "v1",
  });
  e.requestObject = role;
  return e;
}

/** A NodePort Service `web` exposing 80. */
export function serviceCreate(): Record<string, unknown> {
  const svc = {
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "web", namespace: "default" },
    spec: { type: "NodePort", selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080, nodePort: 30080, protocol: "TCP" }] },
  };
  const e = base("5f6e7d8c-9b0a-4b1c-8d2e-3f4a5b6c7d8e", "create", "/api/v1/namespaces/default/services", {
    resource: "services",
    namespace: "default",
    name: "web",
    apiVersion: "v1",
  });
  e.requestObject = svc;
  return e;
}

/** An anonymous secret read the API server forbade (403). */
export function secretGetForbidden(): Record<string, unknown> {
  const e = base("7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e", "get", "/api/v1/namespaces/kube-system/secrets/admin-token", {
    resource: "secrets",
    namespace: "kube-system",
    name: "admin-token",
    apiVersion: "v1",
  });
  e.level = "Metadata";
  e.user = { username: "system:anonymous", groups: ["system:unauthenticated"] };
  e.impersonatedUser = { username: "system:serviceaccount:kube-system:default", groups: ["system:serviceaccounts"] };
  e.responseStatus = {
    metadata: {},
    status: "Failure",
    message: 'secrets "admin-token" is forbidden: User "system:anonymous" cannot get resource "secrets" in the namespace "kube-system"',
    reason: "Forbidden",
    details: { name: "admin-token", kind: "secrets" },
    code: 403,
  };
  e.annotations = {
    "authorization.k8s.io/decision": "forbid",
    "authorization.k8s.io/reason": "",
    "pod-security.kubernetes.io/audit-violations": "would violate PodSecurity",
    "validation.policy.admission.k8s.io/validation_failure": '[{"message":"denied"}]',
    "authentication.openshift.io/decision": "allow",
    "authentication.openshift.io/username": "kube:admin",
    cluster_name: "prod-eu",
  };
  return e;
}

/** `kubectl debug -it web-0 --image=busybox:1.36 --target=app`: the ephemeralcontainers subresource update. */
export function ephemeralDebug(): Record<string, unknown> {
  const e = base("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", "patch", "/api/v1/namespaces/prod/pods/web-0/ephemeralcontainers", {
    resource: "pods",
    namespace: "prod",
    name: "web-0",
    apiVersion: "v1",
    subresource: "ephemeralcontainers",
  });
  e.requestObject = {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "web-0", namespace: "prod" },
    spec: {
      containers: [{ name: "app", image: "nginx:1.25" }],
      ephemeralContainers: [
        {
          name: "debugger-x7k2p",
          image: "busybox:1.36",
          command: ["sh"],
          targetContainerName: "app",
          stdin: true,
          tty: true,
          securityContext: { privileged: true, runAsUser: 0, capabilities: { add: ["SYS_PTRACE"] } },
        },
      ],
    },
  };
  e.responseStatus = { metadata: {}, code: 200 };
  return e;
}
