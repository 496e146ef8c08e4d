// SPDX-License-Identifier: Apache-2.0
/**
 * Environment variables for every configuration leaf, derived from the schema itself so no option
 * can lack one: the path's keys upper-cased and joined by `_` after `VIGIL_`
 * (`sinks.collector.spool.max_bytes` → `VIGIL_SINKS_COLLECTOR_SPOOL_MAX_BYTES`). Lists are
 * comma-separated; booleans take true/false/1/0/yes/no/on/off.
 */
import type { z } from "zod";
import { configSchema } from "./schema.js";

/** How a leaf's text is turned into a value before validation. */
export type LeafKind = "string" | "number" | "boolean" | "list";

/** One settable option. */
export interface ConfigLeaf {
  path: readonly string[];
  env: string;
  kind: LeafKind;
}

/** The variable naming the config file (`loadConfig` reads it when no file is given). */
export const CONFIG_FILE_ENV = "VIGIL_CONFIG";
const PREFIX = "VIGIL_";

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
}
function defOf(s: z.ZodType): Def {
  return (s as unknown as { def: Def }).def;
}

function kindOf(s: z.ZodType): LeafKind | "object" {
  const d = defOf(s);
  switch (d.type) {
    case "object":
      return "object";
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
      return d.innerType ? kindOf(d.innerType) : "string";
    case "pipe":
      return d.in ? kindOf(d.in) : "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return "list";
    default:
      // string, enum, union (byte sizes accept text): passed through as text
      return "string";
  }
}

function objectShape(s: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = defOf(s);
  if (d.type === "object") return d.shape;
  if (d.innerType) return objectShape(d.innerType);
  if (d.type === "pipe" && d.in) return objectShape(d.in);
  return undefined;
}

/** The element schema of a list (through defaults, pipes and optionals). */
function listElement(s: z.ZodType): z.ZodType | undefined {
  const d = defOf(s);
  if (d.type === "array") return d.element;
  if (d.innerType) return listElement(d.innerType);
  if (d.type === "pipe" && d.in) return listElement(d.in);
  return undefined;
}

/** Lists of objects (`forwarders:`) have no variable: a comma list cannot say them. */
function objectList(s: z.ZodType): boolean {
  const e = listElement(s);
  if (e === undefined) return false;
  const d = defOf(e) as Def & { options?: z.ZodType[] };
  return d.type === "object" || (d.type === "union" && (d.options ?? []).every((o) => defOf(o).type === "object"));
}

/** Maps (`sinks.http.headers`) have no variable either: their keys are the user's. */
function isRecord(s: z.ZodType): boolean {
  const d = defOf(s);
  if (d.type === "record") return true;
  if (d.innerType) return isRecord(d.innerType);
  if (d.type === "pipe" && d.in) return isRecord(d.in);
  return false;
}

function walk(s: z.ZodType, path: string[], out: ConfigLeaf[]): void {
  const shape = objectShape(s);
  if (shape && kindOf(s) === "object") {
    for (const [k, v] of Object.entries(shape)) walk(v, [...path, k], out);
    return;
  }
  if (objectList(s) || isRecord(s)) return;
  out.push({ path, env: PREFIX + path.join("_").toUpperCase(), kind: kindOf(s) as LeafKind });
}

let leaves: readonly ConfigLeaf[] | undefined;

/** Every option of the schema with its environment variable. */
export function configLeaves(): readonly ConfigLeaf[] {
  if (leaves === undefined) {
    const out: ConfigLeaf[] = [];
    walk(configSchema, [], out);
    leaves = out;
  }
  return leaves;
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** Text → value for a leaf; text that does not fit is passed on so validation names the problem. */
export function parseEnvValue(kind: LeafKind, raw: string): unknown {
  const t = raw.trim();
  switch (kind) {
    case "number":
      return /^[+-]?\d+(\.\d+)?$/.test(t) ? Number(t) : raw;
    case "boolean": {
      const l = t.toLowerCase();
      return TRUE.has(l) ? true : FALSE.has(l) ? false : raw;
    }
    case "list":
      return t === ""
        ? []
        : t
            .split(",")
            .map((x) => x.trim())
            .filter((x) => x !== "");
    case "string":
      return raw;
  }
}

/**
 * The options set in `env`, as a nested object, plus which variable set each dotted path.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): { value: Record<string, unknown>; origins: Map<string, string> } {
  const value: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const leaf of configLeaves()) {
    const raw = env[leaf.env];
    if (raw === undefined) continue;
    let o = value;
    for (const k of leaf.path.slice(0, -1)) {
      const next = o[k];
      if (typeof next === "object" && next !== null) o = next as Record<string, unknown>;
      else o = o[k] = {} as Record<string, unknown>;
    }
    o[leaf.path[leaf.path.length - 1] as string] = parseEnvValue(leaf.kind, raw);
    origins.set(leaf.path.join("."), `env ${leaf.env}`);
  }
  return { value, origins };
}
