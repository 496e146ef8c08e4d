// SPDX-License-Identifier: Apache-2.0
/**
 * Patches an ECS task definition so its essential containers run under vigil-trace:
 *   - a task volume `vigil` shared by everything below;
 *   - `vigil-install` (non-essential, runs first): copies the static vigil-trace into the volume;
 *   - `vigil-agent` (the sidecar): the agent with the ptrace source listening on the socket;
 *   - each essential container: entryPoint/command wrapped (wrap.ts: same argv as before, under the
 *     tracer), SYS_PTRACE added, the volume mounted read-only, dependsOn vigil-install (SUCCESS)
 *     and vigil-agent (START).
 * The input may be a task definition or `aws ecs describe-task-definition` output; read-only
 * fields are dropped so the output goes straight to `aws ecs register-task-definition
 * --cli-input-json`. Patching an already patched definition changes nothing.
 *
 * The agent runs as the image's non-root user and writes nothing outside its own /tmp: no
 * embedded collector and no file-integrity hashing (its root is not the workload's). Alerts go
 * to its log and, with `collector`, to a collector through a spool in its /tmp; the token comes
 * from Secrets Manager or SSM Parameter Store through the container's `secrets` (read by the task
 * execution role). ECS has no Secret volumes, so there is no CA file: no TLS to the collector.
 */
import { InjectError } from "./errors.js";
import { effectiveArgv, isWrapped, wrapProcess, type ImageProcess, type TracerLocation } from "./wrap.js";

/** Fields `describe-task-definition` returns that `register-task-definition` refuses. */
const READ_ONLY = ["taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt", "registeredBy", "deregisteredAt"];
/** ECS allows 10 containers per task; anything far beyond is not a task definition. */
const MAX_CONTAINERS = 64;
const MAX_ARGS = 4096;
const MAX_STRING = 65536;

export const INSTALL_NAME = "vigil-install";
export const AGENT_NAME = "vigil-agent";

export interface EcsInjectOptions {
  /** The Vigil image (runs the agent and carries vigil-trace). */
  image: string;
  /** ENTRYPOINT/CMD of workload images, by image reference or container name. */
  images?: Readonly<Record<string, ImageProcess>>;
  /** Task volume name (default `vigil`) and where it is mounted (default `/vigil`). */
  volumeName?: string;
  mountPath?: string;
  /** Syscalls the tracer reports (Falco names, comma-separated); default: the tracer's own set. */
  syscalls?: string;
  /** Make the agent sidecar essential (the task stops when it dies). Default false. */
  agentEssential?: boolean;
  /** Leave containers that cannot be wrapped as they are (with a warning) instead of failing. */
  skipUnwrappable?: boolean;
  /** Ship the sidecar's alerts to a collector as well as to its log. */
  collector?: EcsCollectorShipping | undefined;
}

/** Where the ECS agent sidecar ships alerts. */
export interface EcsCollectorShipping {
  /** `host:port` of the collector as the task reaches it. */
  address: string;
  /** ARN of a Secrets Manager secret or an SSM parameter holding the bearer token. */
  tokenSecretArn?: string | undefined;
}

/** The sidecar's spool: its own writable layer (the image's /tmp), not the shared volume the workload reads. */
export const ECS_SPOOL_DIR = "/tmp/vigil-spool";
const ARN_RE = /^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:(secret:|parameter\/)[A-Za-z0-9/_+=.@:-]{1,2048}$/;
const ADDRESS_RE = /^(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/;

/** Checks an {@link EcsCollectorShipping}; throws InjectError `INVALID_OPTION` with one clear line. */
export function checkEcsCollectorShipping(c: EcsCollectorShipping): void {
  const m = ADDRESS_RE.exec(c.address);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw new InjectError("INVALID_OPTION", `collector address ${JSON.stringify(c.address.slice(0, 80))} is not HOST:PORT`);
  if (c.tokenSecretArn !== undefined && !ARN_RE.test(c.tokenSecretArn))
    throw new InjectError("INVALID_OPTION", `${JSON.stringify(c.tokenSecretArn.slice(0, 80))} is not a Secrets Manager secret or SSM parameter ARN`);
}

export interface EcsInjectResult {
  taskDefinition: Record<string, unknown>;
  /** Containers now under the tracer. */
  wrapped: string[];
  /** Containers left alone, and why. */
  skipped: { name: string; reason: string }[];
  /** True when the input was already patched (nothing changed). */
  alreadyInjected: boolean;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function strList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > MAX_ARGS || !v.every((x) => typeof x === "string" && x.length <= MAX_STRING)) {
    throw new InjectError("INVALID_TASKDEF", `${what} must be a list of strings`);
  }
  return v as string[];
}

/** A deep copy through JSON that keeps `__proto__` keys as plain data. */
function clone(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

/** Paths inside the workload containers. */
export function ecsTracerLocation(mountPath = "/vigil"): TracerLocation {
  return { binary: `${mountPath}/bin/vigil-trace`, socket: `${mountPath}/trace.sock` };
}

/** Patches a task definition (see the module comment). Throws InjectError on bad input. */
export function patchTaskDefinition(input: unknown, opts: EcsInjectOptions): EcsInjectResult {
  if (opts.collector !== undefined) checkEcsCollectorShipping(opts.collector);
  if (!isObj(input)) throw new InjectError("INVALID_TASKDEF", "a task definition must be a JSON object");
  const src = isObj(input["taskDefinition"]) ? input["taskDefinition"] : input;
  const td = clone(src) as Obj;
  for (const k of READ_ONLY) delete td[k];
  const cds = td["containerDefinitions"];
  if (!Array.isArray(cds) || cds.length === 0) throw new InjectError("INVALID_TASKDEF", "containerDefinitions must be a non-empty list");
  if (cds.length > MAX_CONTAINERS) throw new InjectError("TOO_LARGE", `containerDefinitions has ${cds.length} entries (ECS allows 10)`);
  const platform = td["runtimePlatform"];
  if (isObj(platform) && typeof platform["operatingSystemFamily"] === "string" && platform["operatingSystemFamily"].startsWith("WINDOWS")) {
    throw new InjectError("UNSUPPORTED", "Windows tasks cannot be traced (vigil-trace is Linux ptrace)");
  }
  const names = new Set<string>();
  for (const [i, c] of cds.entries()) {
    if (!isObj(c)) throw new InjectError("INVALID_TASKDEF", `containerDefinitions[${i}] must be an object`);
    if (typeof c["name"] !== "string" || c["name"] === "" || c["name"].length > 255)
      throw new InjectError("INVALID_TASKDEF", `containerDefinitions[${i}].name must be a non-empty string`);
    if (typeof c["image"] !== "string" || c["image"] === "")
      throw new InjectError("INVALID_TASKDEF", `containerDefinitions[${i}].image must be a non-empty string`);
    if (names.has(c["name"])) throw new InjectError("INVALID_TASKDEF", `two containers are named ${JSON.stringify(c["name"])}`);
    names.add(c["name"]);
  }
  const volumeName = opts.volumeName ?? "vigil";
  const mountPath = opts.mountPath ?? "/vigil";
  const loc = ecsTracerLocation(mountPath);
  const containers = cds as Obj[];

  const already = containers.some((c) => c["name"] === AGENT_NAME);
  if (already) {
    if (!containers.some((c) => c["name"] === INSTALL_NAME))
      throw new InjectError("INVALID_TASKDEF", `a container is already named ${AGENT_NAME} but ${INSTALL_NAME} is missing`);
    return { taskDefinition: td, wrapped: [], skipped: [], alreadyInjected: true };
  }
  if (names.has(INSTALL_NAME)) throw new InjectError("INVALID_TASKDEF", `a container is already named ${INSTALL_NAME}`);
  if (opts.collector?.tokenSecretArn !== undefined && typeof td["executionRoleArn"] !== "string")
    throw new InjectError(
      "INVALID_OPTION",
      "the collector token secret needs the task definition's executionRoleArn (ECS reads secrets with the task execution role)",
    );

  const wrapped: string[] = [];
  const skipped: { name: string; reason: string }[] = [];
  const problems: string[] = [];
  for (const c of containers) {
    const name = c["name"] as string;
    // ECS: a container is essential unless it says essential: false
    if (c["essential"] === false) {
      skipped.push({ name, reason: "not essential" });
      continue;
    }
    const ep = strList(c["entryPoint"], `${name}.entryPoint`);
    const cmd = strList(c["command"], `${name}.command`);
    if (isWrapped(ep, loc)) {
      skipped.push({ name, reason: "already wrapped" });
      continue;
    }
    const image = opts.images?.[name] ?? opts.images?.[c["image"] as string];
    let w;
    try {
      w = wrapProcess(name, ep, cmd, image, loc);
    } catch (err) {
      if (!(err instanceof InjectError)) throw err;
      if (opts.skipUnwrappable) skipped.push({ name, reason: err.message });
      else problems.push(err.message);
      continue;
    }
    // the argv must be exactly the old one after the tracer's prefix
    const before = effectiveArgv(ep, cmd, image);
    const after = effectiveArgv(w.entrypoint, w.command, image);
    if (JSON.stringify(after.slice(4)) !== JSON.stringify(before)) throw new InjectError("UNSUPPORTED", `container ${name}: wrapping would change its command`);
    c["entryPoint"] = w.entrypoint;
    if (w.command === undefined) delete c["command"];
    else c["command"] = w.command;

    const lp = isObj(c["linuxParameters"]) ? c["linuxParameters"] : (c["linuxParameters"] = {});
    const caps = isObj(lp["capabilities"]) ? lp["capabilities"] : (lp["capabilities"] = {});
    const add = strList(caps["add"], `${name}.linuxParameters.capabilities.add`) ?? [];
    if (!add.includes("SYS_PTRACE")) add.push("SYS_PTRACE");
    caps["add"] = add;
    const drop = strList(caps["drop"], `${name}.linuxParameters.capabilities.drop`);
    if (drop?.includes("SYS_PTRACE")) caps["drop"] = drop.filter((x) => x !== "SYS_PTRACE");

    const mps = Array.isArray(c["mountPoints"]) ? (c["mountPoints"] as unknown[]) : (c["mountPoints"] = []);
    if ((mps as unknown[]).some((m) => isObj(m) && m["containerPath"] === mountPath))
      throw new InjectError("INVALID_TASKDEF", `container ${name} already mounts something at ${mountPath}`);
    (mps as unknown[]).push({ sourceVolume: volumeName, containerPath: mountPath, readOnly: true });

    const deps = Array.isArray(c["dependsOn"]) ? (c["dependsOn"] as unknown[]) : (c["dependsOn"] = []);
    (deps as unknown[]).push({ containerName: INSTALL_NAME, condition: "SUCCESS" }, { containerName: AGENT_NAME, condition: "START" });
    if (opts.syscalls) {
      const env = Array.isArray(c["environment"]) ? (c["environment"] as unknown[]) : (c["environment"] = []);
      (env as unknown[]).push({ name: "VIGIL_TRACE_SYSCALLS", value: opts.syscalls });
    }
    wrapped.push(name);
  }
  if (problems.length > 0) throw new InjectError("IMAGE_CONFIG_NEEDED", problems.join("; "));
  if (wrapped.length === 0) throw new InjectError("UNSUPPORTED", "no essential container to instrument");

  const vols = Array.isArray(td["volumes"]) ? (td["volumes"] as unknown[]) : (td["volumes"] = []);
  if ((vols as unknown[]).some((v) => isObj(v) && v["name"] === volumeName))
    throw new InjectError("INVALID_TASKDEF", `a volume is already named ${volumeName}`);
  (vols as unknown[]).push({ name: volumeName });

  const logging = containers.find((c) => isObj(c["logConfiguration"]))?.["logConfiguration"];
  const mount = { sourceVolume: volumeName, containerPath: mountPath, readOnly: false };
  const install: Obj = {
    name: INSTALL_NAME,
    image: opts.image,
    essential: false,
    command: ["inject", "install-trace", loc.binary],
    mountPoints: [mount],
    ...(logging ? { logConfiguration: clone(logging) } : {}),
  };
  const agent: Obj = {
    name: AGENT_NAME,
    image: opts.image,
    essential: opts.agentEssential ?? false,
    // no collector of its own: it would need a writable data folder and a port in the task
    command: ["agent", "--no-embedded-collector"],
    // the agent's own configuration (agent/config): ptrace source on the shared socket
    environment: [
      { name: "VIGIL_SOURCES_EBPF_ENABLED", value: "false" },
      { name: "VIGIL_SOURCES_PTRACE_ENABLED", value: "true" },
      { name: "VIGIL_SOURCES_PTRACE_SOCKET", value: loc.socket },
      { name: "VIGIL_CONTAINERD_ENABLED", value: "false" },
      { name: "VIGIL_SINKS_STDOUT_FORMAT", value: "json" },
      // its root is its own image, not the workload's: hashes of "the" file would be wrong
      { name: "VIGIL_FIM_ENABLED", value: "false" },
      ...(opts.collector !== undefined
        ? [
            { name: "VIGIL_SINKS_COLLECTOR_ENABLED", value: "true" },
            { name: "VIGIL_SINKS_COLLECTOR_ADDRESS", value: opts.collector.address },
            { name: "VIGIL_SINKS_COLLECTOR_SPOOL_DIR", value: ECS_SPOOL_DIR },
            { name: "VIGIL_SINKS_COLLECTOR_SPOOL_MAX_BYTES", value: "64MiB" },
          ]
        : []),
    ],
    ...(opts.collector?.tokenSecretArn !== undefined ? { secrets: [{ name: "VIGIL_SINKS_COLLECTOR_TOKEN", valueFrom: opts.collector.tokenSecretArn }] } : {}),
    mountPoints: [mount],
    dependsOn: [{ containerName: INSTALL_NAME, condition: "SUCCESS" }],
    ...(logging ? { logConfiguration: clone(logging) } : {}),
  };
  containers.unshift(install, agent);
  return { taskDefinition: td, wrapped, skipped, alreadyInjected: false };
}
