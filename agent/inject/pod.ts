// SPDX-License-Identifier: Apache-2.0
/**
 * The JSON Patch (RFC 6902) that puts a Kubernetes pod's containers under vigil-trace — the pod
 * counterpart of ecs.ts:
 *   - an emptyDir volume `vigil-trace`;
 *   - init container `vigil-install` copying the static tracer into it, then the agent as a
 *     native sidecar (`restartPolicy: Always` init container, Kubernetes >= 1.29) listening on
 *     the socket, so it runs before and alongside the workload;
 *   - each container: `command` (the entrypoint) wrapped so the argv stays the same (wrap.ts),
 *     SYS_PTRACE added, the volume mounted read-only.
 * The agent sidecar runs read-only (its root filesystem too) and writes nothing but the socket, so
 * it runs no embedded collector and no file-integrity hashing (its root is not the workload's:
 * it would hash its own files). Alerts go to its stdout (the pod's log), and with `collector` also
 * to a collector: its address in the environment, the token (and CA) from a Secret of the pod's
 * namespace mounted read-only, the alert spool in an emptyDir of its own (the only other place the
 * agent writes, found by running it under a read-only root).
 * Who opts in: label `vigil.dev/inject: "true"`, or any pod on an EKS Fargate profile (label
 * `eks.amazonaws.com/fargate-profile` or scheduler `fargate-scheduler`); `vigil.dev/inject:
 * "false"` opts out. A pod already carrying the `vigil.dev/injected` annotation is left alone.
 */
import { InjectError } from "./errors.js";
import { effectiveArgv, isWrapped, parseImageConfig, wrapProcess, type ImageProcess, type TracerLocation } from "./wrap.js";

export const INJECT_LABEL = "vigil.dev/inject";
export const INJECTED_ANNOTATION = "vigil.dev/injected";
/** Per-container image process, when the webhook cannot know it: `vigil.dev/image-config.<container>`. */
export const IMAGE_CONFIG_ANNOTATION_PREFIX = "vigil.dev/image-config.";
export const FARGATE_PROFILE_LABEL = "eks.amazonaws.com/fargate-profile";
export const FARGATE_SCHEDULER = "fargate-scheduler";

const VOLUME = "vigil-trace";
const MOUNT = "/vigil";
const MAX_CONTAINERS = 128;
/** The sidecar's alert spool (an emptyDir) and the collector Secret's mount. */
export const SPOOL_VOLUME = "vigil-spool";
export const SPOOL_DIR = "/var/spool/vigil";
export const COLLECTOR_SECRET_VOLUME = "vigil-collector";
export const COLLECTOR_SECRET_DIR = "/var/run/secrets/vigil";
/**
 * The spool stays well under its emptyDir's sizeLimit: a pod whose emptyDir outgrows the limit is
 * evicted, and the workload with it. Past max_bytes the oldest alerts are dropped and counted.
 */
const SPOOL_MAX_BYTES = "64MiB";
const SPOOL_SIZE_LIMIT = "128Mi";
/** Kubernetes object names (DNS-1123 subdomain). */
const SECRET_NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** host:port, [v6]:port, or a grpc-js dns:/ipv4:/ipv6: target (what sinks.collector.address takes). */
const ADDRESS_RE = /^((dns|ipv4|ipv6):\S{1,1000}|(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):\d{1,5})$/;

/** One RFC 6902 operation (only the kinds this patcher emits). */
export type JsonPatchOp = { op: "add" | "replace"; path: string; value: unknown } | { op: "remove"; path: string };

export interface PodInjectOptions {
  /** The Vigil image (agent + tracer). */
  image: string;
  /** ENTRYPOINT/CMD by image reference, for containers that set no `command`. */
  images?: Readonly<Record<string, ImageProcess>>;
  /** Instrument pods on Fargate profiles without a label (default true). */
  fargate?: boolean;
  /** Run the agent as a native sidecar (default true); false: a regular container. */
  nativeSidecar?: boolean;
  /** Add SYS_PTRACE to wrapped containers (default true). */
  addPtraceCapability?: boolean;
  /** Syscalls the tracer reports (VIGIL_TRACE_SYSCALLS); default: the tracer's own set. */
  syscalls?: string;
  /** Ship the sidecar's alerts to a collector; default: stdout only. */
  collector?: CollectorShipping | undefined;
}

/** Where an injected agent sidecar ships its alerts. */
export interface CollectorShipping {
  /** `host:port` of the collector, as the pod resolves it (e.g. `vigil-collector.vigil.svc:9377`). */
  address: string;
  /**
   * A Secret *in the pod's namespace* (a pod cannot mount another namespace's Secret) holding
   * `token` (the collector's bearer token) and, with `tls`, `ca.crt` (the CA that signed the
   * collector's certificate). Mounted optional: a namespace without it still runs its pods, and the
   * sidecar says what is missing. Undefined: no token, no CA file.
   */
  secret?: string | undefined;
  /** Connect over TLS, verified with the Secret's `ca.crt` (so `secret` is required with it). */
  tls?: boolean | undefined;
}

/** Checks a {@link CollectorShipping}; throws InjectError `INVALID_OPTION` with one clear line. */
export function checkCollectorShipping(c: CollectorShipping): void {
  if (!ADDRESS_RE.test(c.address)) throw new InjectError("INVALID_OPTION", `collector address ${JSON.stringify(c.address.slice(0, 80))} is not HOST:PORT`);
  const port = Number(/:(\d+)$/.exec(c.address)?.[1] ?? "1");
  if (port < 1 || port > 65535) throw new InjectError("INVALID_OPTION", `collector address ${JSON.stringify(c.address.slice(0, 80))}: port must be 1..65535`);
  if (c.tls === true && c.secret === undefined)
    throw new InjectError("INVALID_OPTION", "collector TLS needs the collector secret: the sidecar verifies the collector with its ca.crt");
  if (c.secret !== undefined && !SECRET_NAME_RE.test(c.secret))
    throw new InjectError("INVALID_OPTION", `collector secret ${JSON.stringify(c.secret.slice(0, 80))} is not a Kubernetes object name`);
}

export interface PodInjectResult {
  patch: JsonPatchOp[];
  wrapped: string[];
  skipped: { name: string; reason: string }[];
  /** Why nothing was done (not opted in, already injected...), when patch is empty. */
  reason: string | undefined;
}

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 6901 escaping of one path segment. */
export function ptr(seg: string | number): string {
  return String(seg).replace(/~/g, "~0").replace(/\//g, "~1");
}

function strList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new InjectError("INVALID_POD", `${what} must be a list of strings`);
  return v as string[];
}

export function podTracerLocation(): TracerLocation {
  return { binary: `${MOUNT}/bin/vigil-trace`, socket: `${MOUNT}/trace.sock` };
}

/** Whether the pod asks for (or, on Fargate, gets) instrumentation. */
export function wantsInjection(pod: Obj, fargate: boolean): { yes: boolean; reason: string } {
  const meta = isObj(pod["metadata"]) ? pod["metadata"] : {};
  const labels = isObj(meta["labels"]) ? meta["labels"] : {};
  const annotations = isObj(meta["annotations"]) ? meta["annotations"] : {};
  const spec = isObj(pod["spec"]) ? pod["spec"] : {};
  if (annotations[INJECTED_ANNOTATION] === "true") return { yes: false, reason: "already injected" };
  if (labels[INJECT_LABEL] === "false") return { yes: false, reason: "opted out by label" };
  if (labels[INJECT_LABEL] === "true") return { yes: true, reason: "opted in by label" };
  if (fargate && (typeof labels[FARGATE_PROFILE_LABEL] === "string" || spec["schedulerName"] === FARGATE_SCHEDULER))
    return { yes: true, reason: "runs on a Fargate profile" };
  return { yes: false, reason: "not opted in" };
}

/** The agent sidecar's own environment: the ptrace source only, and who it watches. */
function sidecarEnv(socket: string): Obj[] {
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  return [
    { name: "VIGIL_SOURCES_EBPF_ENABLED", value: "false" },
    { name: "VIGIL_SOURCES_PTRACE_ENABLED", value: "true" },
    { name: "VIGIL_SOURCES_PTRACE_SOCKET", value: socket },
    { name: "VIGIL_CONTAINERD_ENABLED", value: "false" },
    { name: "VIGIL_SINKS_STDOUT_FORMAT", value: "json" },
    // the sidecar's root is its own image, not the workload's: hashes of "the" file would be wrong
    { name: "VIGIL_FIM_ENABLED", value: "false" },
    { name: "NODE_NAME", ...field("spec.nodeName") },
    // the pod the traced processes belong to (downward API): alerts carry k8s.ns.name / k8s.pod.name
    { name: "POD_NAMESPACE", ...field("metadata.namespace") },
    { name: "POD_NAME", ...field("metadata.name") },
    { name: "POD_UID", ...field("metadata.uid") },
  ];
}

/** The sidecar's collector settings (agent configuration variables, agent/config/schema.ts). */
function collectorEnv(c: CollectorShipping | undefined): Obj[] {
  if (c === undefined) return [];
  const env: Obj[] = [
    { name: "VIGIL_SINKS_COLLECTOR_ENABLED", value: "true" },
    { name: "VIGIL_SINKS_COLLECTOR_ADDRESS", value: c.address },
    { name: "VIGIL_SINKS_COLLECTOR_SPOOL_DIR", value: SPOOL_DIR },
    { name: "VIGIL_SINKS_COLLECTOR_SPOOL_MAX_BYTES", value: SPOOL_MAX_BYTES },
  ];
  if (c.tls === true) env.push({ name: "VIGIL_SINKS_COLLECTOR_TLS", value: "true" });
  if (c.secret !== undefined) {
    env.push({ name: "VIGIL_SINKS_COLLECTOR_TOKEN_FILE", value: `${COLLECTOR_SECRET_DIR}/token` });
    if (c.tls === true) env.push({ name: "VIGIL_SINKS_COLLECTOR_CA_FILE", value: `${COLLECTOR_SECRET_DIR}/ca.crt` });
  }
  return env;
}

function collectorMounts(c: CollectorShipping | undefined): Obj[] {
  if (c === undefined) return [];
  const out: Obj[] = [{ name: SPOOL_VOLUME, mountPath: SPOOL_DIR }];
  if (c.secret !== undefined) out.push({ name: COLLECTOR_SECRET_VOLUME, mountPath: COLLECTOR_SECRET_DIR, readOnly: true });
  return out;
}

/** The patch for one pod (see the module comment). Throws InjectError on a malformed pod. */
export function patchPod(pod: unknown, opts: PodInjectOptions): PodInjectResult {
  if (!isObj(pod)) throw new InjectError("INVALID_POD", "the object is not a pod");
  const spec = pod["spec"];
  if (!isObj(spec)) throw new InjectError("INVALID_POD", "pod.spec is missing");
  const containers = spec["containers"];
  if (!Array.isArray(containers) || containers.length === 0) throw new InjectError("INVALID_POD", "pod.spec.containers must be a non-empty list");
  if (containers.length > MAX_CONTAINERS) throw new InjectError("TOO_LARGE", `pod has ${containers.length} containers`);
  if (opts.collector !== undefined) checkCollectorShipping(opts.collector);
  const want = wantsInjection(pod, opts.fargate ?? true);
  if (!want.yes) return { patch: [], wrapped: [], skipped: [], reason: want.reason };
  const meta = isObj(pod["metadata"]) ? pod["metadata"] : undefined;
  const annotations = meta && isObj(meta["annotations"]) ? meta["annotations"] : undefined;
  const loc = podTracerLocation();

  const patch: JsonPatchOp[] = [];
  const wrapped: string[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const [i, c] of containers.entries()) {
    if (!isObj(c) || typeof c["name"] !== "string") throw new InjectError("INVALID_POD", `spec.containers[${i}] has no name`);
    const name = c["name"];
    if (name === "vigil-agent") throw new InjectError("INVALID_POD", "a container is already named vigil-agent");
    const cmd = strList(c["command"], `containers[${i}].command`);
    const args = strList(c["args"], `containers[${i}].args`);
    if (isWrapped(cmd, loc)) {
      skipped.push({ name, reason: "already wrapped" });
      continue;
    }
    let image: ImageProcess | undefined = typeof c["image"] === "string" ? opts.images?.[c["image"]] : undefined;
    const ann = annotations?.[IMAGE_CONFIG_ANNOTATION_PREFIX + name];
    if (image === undefined && typeof ann === "string" && ann.length < 65536) {
      try {
        image = parseImageConfig(JSON.parse(ann));
      } catch {
        skipped.push({ name, reason: `annotation ${IMAGE_CONFIG_ANNOTATION_PREFIX + name} is not a valid image config` });
        continue;
      }
    }
    let w;
    try {
      w = wrapProcess(name, cmd, args, image, loc);
    } catch (err) {
      if (!(err instanceof InjectError)) throw err;
      skipped.push({ name, reason: err.message });
      continue;
    }
    if (JSON.stringify(effectiveArgv(w.entrypoint, w.command, image).slice(4)) !== JSON.stringify(effectiveArgv(cmd, args, image))) {
      skipped.push({ name, reason: "wrapping would change its command" });
      continue;
    }
    const base = `/spec/containers/${i}`;
    patch.push({ op: cmd === undefined ? "add" : "replace", path: `${base}/command`, value: w.entrypoint });
    if (w.command !== undefined && JSON.stringify(w.command) !== JSON.stringify(args))
      patch.push({ op: args === undefined ? "add" : "replace", path: `${base}/args`, value: w.command });
    const mount = { name: VOLUME, mountPath: MOUNT, readOnly: true };
    if (Array.isArray(c["volumeMounts"])) {
      if ((c["volumeMounts"] as unknown[]).some((m) => isObj(m) && m["mountPath"] === MOUNT)) {
        throw new InjectError("INVALID_POD", `container ${name} already mounts something at ${MOUNT}`);
      }
      patch.push({ op: "add", path: `${base}/volumeMounts/-`, value: mount });
    } else patch.push({ op: "add", path: `${base}/volumeMounts`, value: [mount] });
    if (opts.syscalls) {
      const env = { name: "VIGIL_TRACE_SYSCALLS", value: opts.syscalls };
      if (Array.isArray(c["env"])) patch.push({ op: "add", path: `${base}/env/-`, value: env });
      else patch.push({ op: "add", path: `${base}/env`, value: [env] });
    }
    if (opts.addPtraceCapability ?? true) {
      const sc = c["securityContext"];
      if (!isObj(sc)) patch.push({ op: "add", path: `${base}/securityContext`, value: { capabilities: { add: ["SYS_PTRACE"] } } });
      else if (!isObj(sc["capabilities"])) patch.push({ op: "add", path: `${base}/securityContext/capabilities`, value: { add: ["SYS_PTRACE"] } });
      else {
        const add = strList(sc["capabilities"]["add"], `containers[${i}].securityContext.capabilities.add`);
        if (add === undefined) patch.push({ op: "add", path: `${base}/securityContext/capabilities/add`, value: ["SYS_PTRACE"] });
        else if (!add.includes("SYS_PTRACE")) patch.push({ op: "add", path: `${base}/securityContext/capabilities/add/-`, value: "SYS_PTRACE" });
      }
    }
    wrapped.push(name);
  }
  if (wrapped.length === 0) return { patch: [], wrapped, skipped, reason: "no container could be wrapped" };

  const collector = opts.collector;
  const volumes: Obj[] = [{ name: VOLUME, emptyDir: { sizeLimit: "64Mi" } }];
  if (collector !== undefined) {
    volumes.push({ name: SPOOL_VOLUME, emptyDir: { sizeLimit: SPOOL_SIZE_LIMIT } });
    // world-readable: the sidecar runs as the image's user or the pod's runAsUser, and no fsGroup
    // is added for it (that would change the workload's volumes); only the sidecar mounts it
    if (collector.secret !== undefined)
      volumes.push({ name: COLLECTOR_SECRET_VOLUME, secret: { secretName: collector.secret, defaultMode: 0o444, optional: true } });
  }
  if (Array.isArray(spec["volumes"])) {
    for (const v of volumes) {
      if ((spec["volumes"] as unknown[]).some((x) => isObj(x) && x["name"] === v["name"]))
        throw new InjectError("INVALID_POD", `a volume is already named ${String(v["name"])}`);
    }
    for (const v of volumes) patch.push({ op: "add", path: "/spec/volumes/-", value: v });
  } else patch.push({ op: "add", path: "/spec/volumes", value: volumes });

  const rw = { name: VOLUME, mountPath: MOUNT };
  const install = {
    name: "vigil-install",
    image: opts.image,
    args: ["inject", "install-trace", loc.binary],
    volumeMounts: [rw],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
  const agent: Obj = {
    name: "vigil-agent",
    image: opts.image,
    // alerts go to stdout and, when configured, the collector; a collector of its own would need a
    // writable data folder and a port in the workload's network namespace
    args: ["agent", "--no-embedded-collector"],
    env: [...sidecarEnv(loc.socket), ...collectorEnv(collector)],
    volumeMounts: [rw, ...collectorMounts(collector)],
    resources: { requests: { cpu: "50m", memory: "96Mi" }, limits: { memory: "256Mi" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
  const native = opts.nativeSidecar ?? true;
  if (native) agent["restartPolicy"] = "Always";
  if (Array.isArray(spec["initContainers"])) {
    if (native) patch.push({ op: "add", path: "/spec/initContainers/0", value: agent });
    patch.push({ op: "add", path: "/spec/initContainers/0", value: install });
  } else patch.push({ op: "add", path: "/spec/initContainers", value: native ? [install, agent] : [install] });
  if (!native) patch.push({ op: "add", path: "/spec/containers/-", value: agent });

  if (annotations) patch.push({ op: "add", path: `/metadata/annotations/${ptr(INJECTED_ANNOTATION)}`, value: "true" });
  else if (meta) patch.push({ op: "add", path: "/metadata/annotations", value: { [INJECTED_ANNOTATION]: "true" } });
  else patch.push({ op: "add", path: "/metadata", value: { annotations: { [INJECTED_ANNOTATION]: "true" } } });
  return { patch, wrapped, skipped, reason: undefined };
}
