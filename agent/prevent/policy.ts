// SPDX-License-Identifier: Apache-2.0
/**
 * The prevention policy: which containers are in scope, and which drift kinds the kernel kills
 * there. A scope is a list of selectors (any one matching puts a container in scope); a selector
 * is a conjunction of terms over what the enricher knows of the container:
 *
 * | term | matches |
 * | --- | --- |
 * | `namespace=NAME` | the Kubernetes namespace (`k8s.ns.name`), exactly |
 * | `image=GLOB` | the image reference (`container.image`, e.g. `docker.io/library/nginx:1.27`) or its repository; fnmatch glob, `*` crosses `/` |
 * | `container=ID` | the container's full ID, its 12-char ID or any longer ID prefix, or its name |
 * | `*` | every container (never the host) |
 *
 * As text (config files and `VIGIL_PREVENTION_SCOPE`, comma-separated): `namespace=prod`,
 * `image=docker.io/acme/*&namespace=prod`. As YAML objects: `{namespace: prod, image: "acme/*",
 * block: [upper_layer]}` — `block` narrows the kinds for that selector.
 *
 * Host processes are never in scope, whatever the selectors say.
 */
import type { ContainerInfo } from "../../rules/event.js";
import { compileGlob, type GlobMatcher } from "../../rules/compile/glob.js";
import { PreventBit } from "../decode/layout.js";
import { PreventionError } from "./errors.js";

/** Drift kinds the kernel can block at exec, by config name. */
export const DRIFT_KINDS = {
  /** The executable is in the container's overlayfs upper layer (not from the image). */
  upper_layer: PreventBit.Upper,
  /** The executable is a memfd (fileless). */
  memfd: PreventBit.Memfd,
  /** The executable is on a tmpfs (/dev/shm, a tmpfs /tmp or /run). */
  tmpfs: PreventBit.Tmpfs,
} as const;
export type DriftKind = keyof typeof DRIFT_KINDS;
export const DRIFT_KIND_NAMES = Object.keys(DRIFT_KINDS) as DriftKind[];

/** A selector as configured (object form). */
export interface SelectorInput {
  namespace?: string | undefined;
  image?: string | undefined;
  container?: string | undefined;
  block?: readonly string[] | undefined;
}

/** A compiled selector. */
export interface Selector {
  /** The selector as text, for logs. */
  readonly text: string;
  readonly all: boolean;
  readonly namespace: string | undefined;
  readonly image: GlobMatcher | undefined;
  readonly container: string | undefined;
  /** Kinds of this selector (bits); undefined = the policy's default kinds. */
  readonly bits: number | undefined;
}

const MAX_TERM = 512;
const KEYS = new Set(["namespace", "image", "container"]);

/** Bits for a list of kind names; throws a PreventionError naming a bad one. */
export function kindBits(kinds: readonly string[]): number {
  let bits = 0;
  for (const k of kinds) {
    const b = (DRIFT_KINDS as Record<string, number>)[k];
    if (b === undefined)
      throw new PreventionError("BAD_KIND", `unknown drift kind ${JSON.stringify(k.slice(0, 40))} (expected ${DRIFT_KIND_NAMES.join(", ")})`);
    bits |= b;
  }
  return bits;
}

/** Kind names for bits (for logs and alerts). */
export function kindNames(bits: number): DriftKind[] {
  return DRIFT_KIND_NAMES.filter((k) => (bits & DRIFT_KINDS[k]) !== 0);
}

function compile(input: SelectorInput, text: string): Selector {
  for (const [k, v] of [
    ["namespace", input.namespace],
    ["image", input.image],
    ["container", input.container],
  ] as const) {
    if (v !== undefined && (v === "" || v.length > MAX_TERM))
      throw new PreventionError("BAD_SELECTOR", `selector ${JSON.stringify(text.slice(0, 80))}: ${k} must be 1..${MAX_TERM} characters`);
  }
  if (input.namespace === undefined && input.image === undefined && input.container === undefined) {
    throw new PreventionError("BAD_SELECTOR", `selector ${JSON.stringify(text.slice(0, 80))} names nothing (use namespace=, image=, container= or *)`);
  }
  return {
    text,
    all: false,
    namespace: input.namespace,
    image: input.image !== undefined ? compileGlob(input.image) : undefined,
    container: input.container,
    bits: input.block !== undefined ? kindBits(input.block) : undefined,
  };
}

/** Parses one selector: text (`key=value&key=value`, or `*`) or the object form. */
export function parseSelector(sel: string | SelectorInput): Selector {
  if (typeof sel !== "string") {
    const text = [
      ["namespace", sel.namespace],
      ["image", sel.image],
      ["container", sel.container],
    ]
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
    return compile(sel, text);
  }
  const text = sel.trim();
  if (text === "*") return { text, all: true, namespace: undefined, image: undefined, container: undefined, bits: undefined };
  const input: { namespace?: string; image?: string; container?: string } = {};
  for (const term of text.split("&")) {
    const eq = term.indexOf("=");
    const key = eq > 0 ? term.slice(0, eq).trim() : "";
    if (!KEYS.has(key))
      throw new PreventionError(
        "BAD_SELECTOR",
        `selector ${JSON.stringify(text.slice(0, 80))}: expected namespace=, image=, container= or * (terms joined by &)`,
      );
    const k = key as "namespace" | "image" | "container";
    if (input[k] !== undefined) throw new PreventionError("BAD_SELECTOR", `selector ${JSON.stringify(text.slice(0, 80))}: ${key} given twice`);
    input[k] = term.slice(eq + 1).trim();
  }
  return compile(input, text);
}

function containerMatches(want: string, c: ContainerInfo): boolean {
  if (want === c.fullId || want === c.id || want === c.name) return true;
  return want.length >= 12 && c.fullId.startsWith(want);
}

function selectorMatches(s: Selector, c: ContainerInfo): boolean {
  if (s.all) return true;
  if (s.namespace !== undefined && c.k8s?.namespace !== s.namespace) return false;
  if (s.container !== undefined && !containerMatches(s.container, c)) return false;
  if (s.image !== undefined) {
    const ok = (c.image !== undefined && s.image.match(c.image)) || (c.imageRepository !== undefined && s.image.match(c.imageRepository));
    if (!ok) return false;
  }
  return true;
}

/** Options of {@link PreventionPolicy}. */
export interface PreventionPolicyOptions {
  /** Drift kinds blocked where a selector names none. */
  block: readonly string[];
  scope: readonly (string | SelectorInput)[];
}

/** Scope + kinds, compiled once. */
export class PreventionPolicy {
  readonly selectors: readonly Selector[];
  readonly defaultBits: number;

  constructor(opts: PreventionPolicyOptions) {
    this.defaultBits = kindBits(opts.block);
    this.selectors = opts.scope.map(parseSelector);
  }

  /** The kinds (bits) to block in this container; 0 when out of scope. The host is never in scope. */
  bitsFor(c: ContainerInfo): number {
    if (c.type === "host" || c.id === "host") return 0;
    let bits = 0;
    for (const s of this.selectors) if (selectorMatches(s, c)) bits |= s.bits ?? this.defaultBits;
    return bits;
  }

  /** The selectors that put a container in scope (for logs). */
  matching(c: ContainerInfo): string[] {
    if (c.type === "host" || c.id === "host") return [];
    return this.selectors.filter((s) => selectorMatches(s, c)).map((s) => s.text);
  }
}
