// SPDX-License-Identifier: Apache-2.0
/**
 * Reading a parsed JSON value the way Falco's k8saudit and json plugins read theirs (fastjson):
 * a key looks up an own property of an object or, on an array, a decimal index; a value of any
 * other shape has no children. Values are made text as the plugins make them: strings as they
 * are, anything else as compact JSON (`true`, `200`, `null`, `{"a":1}`).
 *
 * Every walk here is bounded by the key path it is given or by {@link MAX_NESTED_ARRAYS}: a hostile
 * event (arrays nested a million deep, a cycle in a hand-built object) costs no more than a normal
 * one, and never overflows the stack.
 */

/** A parsed JSON value (or anything else a caller built: other shapes read as missing). */
export type Json = unknown;

/** Arrays inside arrays that a fan-out follows before treating the rest as missing. */
export const MAX_NESTED_ARRAYS = 32;

const hasOwn = Object.prototype.hasOwnProperty;

/** True for a JSON object (not an array, not null). */
export function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * fastjson's `Get(key)` for one key: an object's own property, or an array's element at a
 * decimal index (optional sign, `strconv.Atoi` rules); `undefined` for anything else.
 */
export function child(v: Json, key: string): Json {
  if (typeof v !== "object" || v === null) return undefined;
  if (Array.isArray(v)) {
    const i = atoi(key);
    return i === undefined || i < 0 || i >= v.length ? undefined : v[i];
  }
  const o = v as Record<string, Json>;
  const c = o[key];
  // a key of Object.prototype (`constructor`, `toString`) is no key of the JSON object
  return c === undefined || !hasOwn.call(o, key) ? undefined : c;
}

/** Go's strconv.Atoi for an index: optional sign then decimal digits; undefined if not one. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]{1,15}$/.test(s)) return undefined;
  return Number(s);
}

/** fastjson's `Get(k1, k2, ...)`: the value at a key path, or undefined. */
export function at(v: Json, keys: readonly string[]): Json {
  let cur = v;
  for (let i = 0; i < keys.length && cur !== undefined; i++) cur = child(cur, keys[i] as string);
  return cur;
}

/**
 * The k8saudit plugin's recursive walk (`getValuesRecursive`): follows `keys` from `v`; where it
 * meets an array before a key it goes into every element (`index` < 0) or only the element at
 * `index`. Returns the values found, one per element walked, `undefined` for an element where a
 * key is missing; returns undefined when the walk fails before any array (or at the indexed
 * element). An empty key stands for the value itself.
 */
export function collect(v: Json, keys: readonly string[], index: number): Json[] | undefined {
  const out: Json[] = [];
  return walk(v, keys, 0, index, out, 0) ? out : undefined;
}

function walk(v: Json, keys: readonly string[], from: number, index: number, out: Json[], depth: number): boolean {
  let cur = v;
  for (let i = from; i < keys.length; i++) {
    if (Array.isArray(cur)) {
      if (index < 0) {
        if (depth >= MAX_NESTED_ARRAYS) return false;
        for (let k = 0; k < cur.length; k++) {
          // a failed element adds nothing on its own: it stands as one missing value
          if (!walk(cur[k], keys, i, index, out, depth + 1)) out.push(undefined);
        }
        return true;
      }
      if (index >= cur.length) return false;
      cur = cur[index];
    }
    const key = keys[i] as string;
    if (key !== "") cur = child(cur, key);
    if (cur === undefined) return false;
  }
  out.push(cur);
  return true;
}

/** Text of a number as JSON writes it (integers without an exponent up to 1e21). */
export function numberText(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/**
 * Compact JSON text of an object or array, or undefined when it cannot be written (a cycle, a
 * nesting too deep for the stack, a BigInt in a hand-built object).
 */
export function compactJson(v: object): string | undefined {
  try {
    const s = JSON.stringify(v);
    return typeof s === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

/** JSON text indented by two spaces (Go's json.Indent(..., "", "  ") of the event), or undefined. */
export function indentedJson(v: Json): string | undefined {
  try {
    const s = JSON.stringify(v, null, 2);
    return typeof s === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A JSON pointer (RFC 6901) as the json plugin reads it: one leading `/` dropped, split at `/`,
 * `~1` then `~0` unescaped in each segment. Undefined for an empty pointer or one deeper than
 * `maxDepth` segments.
 */
export function parsePointer(ptr: string, maxDepth: number): string[] | undefined {
  if (ptr.length === 0) return undefined;
  const body = ptr.charCodeAt(0) === 47 ? ptr.slice(1) : ptr;
  const parts = body.split("/");
  if (parts.length > maxDepth) return undefined;
  return parts.map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}
