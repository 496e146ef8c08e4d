// SPDX-License-Identifier: Apache-2.0
/**
 * Fields admission policies need that Falco's k8saudit plugin does not have: the effective
 * security settings of each container (pod securityContext overridden by the container's),
 * image registry/tag/digest, resource limits, the service account and its token. They extend
 * the `k8s_audit` source ({@link admissionFieldSource} wraps it, same name), so one policy file
 * uses both. They read the request object as every `ka.req.pod.*` field does (its pod view at
 * admission, pod-view.ts) and are text like Falco's: `"true"`/`"false"`, numbers as digits.
 *
 * The per-container fields exist for each container list of the pod, named as the k8s_audit
 * source names them (`ka.req.pod.containers.*`, `ka.req.pod.initContainers.*`,
 * `ka.req.pod.ephemeralContainers.*`): lists with one value per container, in the list's order,
 * missing when the list is empty or absent; an index argument
 * (`ka.req.pod.containers.limits.memory[0]`) picks one. Checks use `intersects` (some container)
 * and `in` (every container); outputs render a list as `(a,b)`.
 */
import { CompileError } from "../../rules/errors.js";
import {
  FieldType,
  type FieldContext,
  type FieldInfo,
  type FieldSource,
  type FieldValue,
  type ListGetter,
  type ResolvedField,
} from "../../rules/compile/fields.js";
import type { SyscallEvent } from "../../rules/event.js";
import { listText } from "../../rules/k8saudit/index.js";
import { parseImageRef, pullTag } from "./image-ref.js";

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What the fields know of one container. */
interface ContainerFacts {
  name: string;
  registry: string;
  tag: string;
  digest: string;
  allowPrivilegeEscalation: string;
  runAsNonRoot: string;
  limitsCpu: string;
  limitsMemory: string;
  requestsCpu: string;
  requestsMemory: string;
}

/** The container lists of a pod spec. */
export const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;
type ContainerList = (typeof CONTAINER_LISTS)[number];

interface PodFacts {
  lists: Record<ContainerList, ContainerFacts[]>;
  serviceAccount: string;
  automount: string | undefined;
}

/** The event's JSON object: AuditEvent keeps it in `obj` (rules/k8saudit). */
function eventObject(e: SyscallEvent): unknown {
  return (e as unknown as { obj?: unknown }).obj;
}

const cache = new WeakMap<object, PodFacts | null>();

function text(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function facts(e: SyscallEvent): PodFacts | undefined {
  const root = eventObject(e);
  if (!isObj(root)) return undefined;
  const hit = cache.get(root);
  if (hit !== undefined) return hit ?? undefined;
  const f = compute(root);
  cache.set(root, f ?? null);
  return f;
}

function containerFacts(c: unknown, podSc: Obj): ContainerFacts {
  const co = isObj(c) ? c : {};
  const sc = isObj(co["securityContext"]) ? co["securityContext"] : {};
  const image = parseImageRef(typeof co["image"] === "string" ? co["image"] : "");
  const res = isObj(co["resources"]) ? co["resources"] : {};
  const limits = isObj(res["limits"]) ? res["limits"] : {};
  const requests = isObj(res["requests"]) ? res["requests"] : {};
  const caps = isObj(sc["capabilities"]) && Array.isArray(sc["capabilities"]["add"]) ? sc["capabilities"]["add"] : [];
  // the API server refuses allowPrivilegeEscalation: false with privileged or CAP_SYS_ADMIN;
  // unset, the kernel's no_new_privs stays off: escalation is allowed
  const escalates = sc["privileged"] === true || caps.some((x) => x === "SYS_ADMIN" || x === "CAP_SYS_ADMIN") || sc["allowPrivilegeEscalation"] !== false;
  // the kubelet refuses to start a container as uid 0 when runAsNonRoot is true; an explicit
  // non-zero runAsUser is non-root too; otherwise the image's USER decides (root unless it says)
  const uid = sc["runAsUser"] ?? podSc["runAsUser"];
  const nonRootFlag = sc["runAsNonRoot"] ?? podSc["runAsNonRoot"];
  const nonRoot = nonRootFlag === true || (typeof uid === "number" && uid !== 0);
  return {
    name: typeof co["name"] === "string" ? co["name"] : "",
    registry: image.registry,
    tag: pullTag(image),
    digest: image.digest ?? "",
    allowPrivilegeEscalation: String(escalates),
    runAsNonRoot: String(nonRoot),
    limitsCpu: text(limits["cpu"]) ?? "",
    limitsMemory: text(limits["memory"]) ?? "",
    requestsCpu: text(requests["cpu"]) ?? "",
    requestsMemory: text(requests["memory"]) ?? "",
  };
}

function compute(root: Obj): PodFacts | undefined {
  // as every ka.* field: an object without auditID is not an audit event
  if (root["auditID"] === undefined) return undefined;
  const obj = root["requestObject"];
  if (!isObj(obj)) return undefined;
  const spec = obj["spec"];
  if (!isObj(spec)) return undefined;
  const podSc = isObj(spec["securityContext"]) ? spec["securityContext"] : {};
  const of = (l: ContainerList): ContainerFacts[] => {
    const v = spec[l];
    return Array.isArray(v) ? v.map((c) => containerFacts(c, podSc)) : [];
  };
  const sa = spec["serviceAccountName"] ?? spec["serviceAccount"];
  const automount = spec["automountServiceAccountToken"];
  return {
    lists: { containers: of("containers"), initContainers: of("initContainers"), ephemeralContainers: of("ephemeralContainers") },
    serviceAccount: typeof sa === "string" && sa !== "" ? sa : "default",
    automount: typeof automount === "boolean" ? String(automount) : undefined,
  };
}

interface ExtraField {
  info: FieldInfo;
  /** Per-container value (list field) of the container list `list`, or a pod-level value (scalar field). */
  perContainer?: (c: ContainerFacts) => string;
  list?: ContainerList;
  pod?: (p: PodFacts) => string | undefined;
}

const PER_CONTAINER_ARG = "the index of one container (0-based)";

/** The container fields: [name suffix, description of what each value is, getter]. */
const CONTAINER_FIELDS: readonly [string, string, (c: ContainerFacts) => string][] = [
  ["image.registry", "the registry of its image: the host (and port) the reference names, docker.io when it names none", (c) => c.registry],
  ["image.tag", "the tag its image is pulled by: the tag, latest when the image names neither tag nor digest, empty when pinned by a digest", (c) => c.tag],
  ["image.digest", "the digest its image is pinned by (sha256:...), empty when none", (c) => c.digest],
  [
    "eff_allow_privilege_escalation",
    "whether it may gain privileges (no_new_privs off): its allowPrivilegeEscalation, true when unset (the default) and for privileged or CAP_SYS_ADMIN containers",
    (c) => c.allowPrivilegeEscalation,
  ],
  [
    "eff_run_as_non_root",
    "whether it is kept from running as uid 0: runAsNonRoot true or a non-zero runAsUser (its securityContext over the pod's); false when the image's USER decides",
    (c) => c.runAsNonRoot,
  ],
  ["limits.cpu", "its CPU limit (resources.limits.cpu), empty when none", (c) => c.limitsCpu],
  ["limits.memory", "its memory limit (resources.limits.memory), empty when none", (c) => c.limitsMemory],
  ["requests.cpu", "its CPU request (resources.requests.cpu), empty when none", (c) => c.requestsCpu],
  ["requests.memory", "its memory request (resources.requests.memory), empty when none", (c) => c.requestsMemory],
];

const LIST_WHAT: Record<ContainerList, string> = { containers: "container", initContainers: "init container", ephemeralContainers: "ephemeral container" };

function podField(name: string, desc: string, get: (p: PodFacts) => string | undefined): ExtraField {
  return { info: { name, type: FieldType.String, desc, arg: "none" }, pod: get };
}

/** Vigil's admission fields, by name. */
const EXTRA: ReadonlyMap<string, ExtraField> = new Map(
  [
    ...CONTAINER_LISTS.flatMap((l) =>
      CONTAINER_FIELDS.map(
        ([suffix, what, get]): ExtraField => ({
          info: {
            name: `ka.req.pod.${l}.${suffix}`,
            type: FieldType.String,
            desc: `For each ${LIST_WHAT[l]} of the pod, ${what}.`,
            arg: "optional",
            argDesc: PER_CONTAINER_ARG,
          },
          perContainer: get,
          list: l,
        }),
      ),
    ),
    podField("ka.req.pod.service_account", "The pod's service account (spec.serviceAccountName), default when unset.", (p) => p.serviceAccount),
    podField(
      "ka.req.pod.automount_service_account_token",
      "The pod's automountServiceAccountToken (true/false); missing when the pod leaves it to its service account.",
      (p) => p.automount,
    ),
  ].map((f) => [f.info.name, f]),
);

/** Names of the fields this module adds. */
export const ADMISSION_FIELD_NAMES: readonly string[] = [...EXTRA.keys()].sort();

/** A list value in outputs, as the k8s_audit source renders its lists. */
function renderList(vs: readonly string[] | undefined): FieldValue {
  return vs === undefined ? undefined : listText(vs);
}

function resolveExtra(f: ExtraField, arg: string | undefined): ResolvedField {
  const name = f.info.name;
  if (f.pod !== undefined) {
    if (arg !== undefined) throw new CompileError("BAD_FIELD_ARG", `field '${name}' does not take an argument`);
    const pod = f.pod;
    return {
      name,
      type: f.info.type,
      get: (e) => {
        const p = facts(e);
        return p === undefined ? undefined : pod(p);
      },
      ancestor: undefined,
      either: undefined,
    };
  }
  const per = f.perContainer as (c: ContainerFacts) => string;
  const which = f.list as ContainerList;
  let list: ListGetter;
  if (arg === undefined) {
    // no values is a missing field, as in every k8s_audit list
    list = (e) => {
      const cs = facts(e)?.lists[which];
      return cs === undefined || cs.length === 0 ? undefined : cs.map(per);
    };
  } else {
    if (!/^(0|[1-9][0-9]{0,5})$/.test(arg)) throw new CompileError("BAD_FIELD_ARG", `field '${name}' takes a container index, got '${arg}'`);
    const k = Number(arg);
    list = (e) => {
      const c = facts(e)?.lists[which][k];
      return c === undefined ? undefined : [per(c)];
    };
  }
  return { name, type: f.info.type, get: (e) => renderList(list(e)), list, ancestor: undefined, either: undefined };
}

/**
 * The `k8s_audit` source with the admission fields added: `base` (H1's k8sAuditSource) answers
 * every other name. Policies load against it with `loadRuleFiles(files, { sources: [it] })`.
 */
export function admissionFieldSource(base: FieldSource): FieldSource {
  let infos: FieldInfo[] | undefined;
  return {
    name: base.name,
    resolve(name: string, arg: string | undefined, ctx: FieldContext): ResolvedField {
      const f = EXTRA.get(name);
      return f === undefined ? base.resolve(name, arg, ctx) : resolveExtra(f, arg);
    },
    has(name: string): boolean {
      return EXTRA.has(name) || base.has(name);
    },
    list(): readonly FieldInfo[] {
      infos ??= [...base.list().filter((i) => !EXTRA.has(i.name)), ...[...EXTRA.values()].map((f) => f.info)].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      return infos;
    },
  };
}
