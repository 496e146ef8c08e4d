// SPDX-License-Identifier: Apache-2.0
/**
 * JSON Patch (RFC 6902) for tests: `add`, `replace`, `remove` and `test`, with JSON Pointers
 * (RFC 6901) — what the API server does with a mutating webhook's patch. Strict as the RFC is: a
 * path whose parent is missing, an array index past the end, `replace`/`remove` of a missing
 * member and a failed `test` are errors, and the document is left unchanged (the patch is applied
 * to a copy).
 */

/** One operation as a webhook returns it. */
export type PatchOp = { op: "add" | "replace" | "test"; path: string; value: unknown } | { op: "remove"; path: string };

type Json = Record<string, unknown>;

export class JsonPatchError extends Error {
  override readonly name = "JsonPatchError";
}

/** RFC 6901: "" is the whole document; "/a/0/b~1c" → ["a", "0", "b/c"]. */
export function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new JsonPatchError(`pointer ${JSON.stringify(path)} does not start with /`);
  return path
    .slice(1)
    .split("/")
    .map((s) => {
      if (/~[^01]|~$/.test(s)) throw new JsonPatchError(`pointer ${JSON.stringify(path)} has a bad ~ escape`);
      return s.replace(/~1/g, "/").replace(/~0/g, "~");
    });
}

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An array index as RFC 6901 spells it (no leading zeros, no sign). */
function index(seg: string, path: string, len: number, allowEnd: boolean): number {
  if (!/^(0|[1-9]\d*)$/.test(seg)) throw new JsonPatchError(`${path}: ${JSON.stringify(seg)} is not an array index`);
  const i = Number(seg);
  if (i > len || (!allowEnd && i === len)) throw new JsonPatchError(`${path}: index ${i} is out of bounds (length ${len})`);
  return i;
}

function resolve(doc: unknown, parts: readonly string[], path: string): unknown {
  let cur = doc;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = cur[index(p, path, cur.length, false)];
    else if (isObj(cur) && Object.hasOwn(cur, p)) cur = cur[p];
    else throw new JsonPatchError(`${path}: ${JSON.stringify(p)} does not exist`);
  }
  return cur;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Applies `ops` in order to a copy of `doc` and returns it; throws JsonPatchError on the first bad op. */
export function applyJsonPatch<T = unknown>(doc: unknown, ops: readonly PatchOp[]): T {
  let root: unknown = structuredClone(doc);
  for (const [n, op] of ops.entries()) {
    const where = `op ${n} (${op.op} ${op.path})`;
    const parts = parsePointer(op.path);
    if (op.op === "test") {
      if (!deepEqual(resolve(root, parts, where), op.value)) throw new JsonPatchError(`${where}: test failed`);
      continue;
    }
    if (parts.length === 0) {
      if (op.op === "remove") throw new JsonPatchError(`${where}: cannot remove the whole document`);
      root = structuredClone(op.value);
      continue;
    }
    const last = parts[parts.length - 1] as string;
    const parent = resolve(root, parts.slice(0, -1), where);
    if (Array.isArray(parent)) {
      if (op.op === "add") {
        const i = last === "-" ? parent.length : index(last, where, parent.length, true);
        parent.splice(i, 0, structuredClone(op.value));
      } else {
        const i = index(last, where, parent.length, false);
        if (op.op === "replace") parent[i] = structuredClone(op.value);
        else parent.splice(i, 1);
      }
    } else if (isObj(parent)) {
      if (op.op !== "add" && !Object.hasOwn(parent, last)) throw new JsonPatchError(`${where}: ${JSON.stringify(last)} does not exist`);
      if (op.op === "remove") delete parent[last];
      else Object.defineProperty(parent, last, { value: structuredClone(op.value), enumerable: true, writable: true, configurable: true });
    } else {
      throw new JsonPatchError(`${where}: the parent is not an object or array`);
    }
  }
  return root as T;
}

/** The patch of an AdmissionReview response (`patch` is base64 JSON), applied to `object`. */
export function applyAdmissionPatch<T = unknown>(object: unknown, response: { patchType?: unknown; patch?: unknown }): T {
  if (response.patch === undefined) return structuredClone(object) as T;
  if (response.patchType !== "JSONPatch") throw new JsonPatchError(`patchType ${String(response.patchType)} is not JSONPatch`);
  if (typeof response.patch !== "string") throw new JsonPatchError("patch is not a base64 string");
  const ops = JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as unknown;
  if (!Array.isArray(ops)) throw new JsonPatchError("the patch is not a JSON array");
  return applyJsonPatch<T>(object, ops as PatchOp[]);
}
