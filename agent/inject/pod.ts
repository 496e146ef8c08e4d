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

/** The patch for one pod (see the module comment). Throws InjectError on a malformed pod. */
export function patchPod(pod: unknown, opts: PodInjectOptions): PodInjectResult {
  if (!isObj(pod)) throw new InjectError("INVALID_POD", "the object is not a pod");
  const spec = pod["spec"];
  if (!isObj(spec)) throw new InjectError("INVALID_POD", "pod.spec is missing");
  const containers = spec["containers"];
  if (!Array.isArray(containers) || containers.length === 0) throw new InjectError("INVALID_POD", "pod.spec.containers must be a non-empty list");
  if (containers.length > MAX_CONTAINERS) throw new InjectError("TOO_LARGE", `pod has ${containers.length} containers`);
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

  if (Array.isArray(spec["volumes"])) {
    if ((spec["volumes"] as unknown[]).some((v) => isObj(v) && v["name"] === VOLUME))
      throw new InjectError("INVALID_POD", `a volume is already named ${VOLUME}`);
    patch.push({ op: "add", path: "/spec/volumes/-", value: { name: VOLUME, emptyDir: { sizeLimit: "64Mi" } } });
  } else patch.push({ op: "add", path: "/spec/volumes", value: [{ name: VOLUME, emptyDir: { sizeLimit: "64Mi" } }] });

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
    args: ["agent"],
    env: [
      { name: "VIGIL_SOURCES_EBPF_ENABLED", value: "false" },
      { name: "VIGIL_SOURCES_PTRACE_ENABLED", value: "true" },
      { name: "VIGIL_SOURCES_PTRACE_SOCKET", value: loc.socket },
      { name: "VIGIL_CONTAINERD_ENABLED", value: "false" },
      { name: "VIGIL_SINKS_STDOUT_FORMAT", value: "json" },
      { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ],
    volumeMounts: [rw],
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
