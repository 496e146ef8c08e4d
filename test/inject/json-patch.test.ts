// SPDX-License-Identifier: Apache-2.0
/**
 * The tests' JSON Patch applier (test/helpers/json-patch.ts) against the examples of RFC 6902
 * Appendix A, so the webhook tests apply patches the way the API server does.
 */
import { describe, expect, it } from "vitest";
import { applyAdmissionPatch, applyJsonPatch, JsonPatchError, parsePointer, type PatchOp } from "../helpers/json-patch.js";

// [name, document, patch, result or the error fragment]
const CASES: [string, unknown, PatchOp[], unknown][] = [
  ["A.1 add an object member", { foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }], { baz: "qux", foo: "bar" }],
  ["A.2 add an array element", { foo: ["bar", "baz"] }, [{ op: "add", path: "/foo/1", value: "qux" }], { foo: ["bar", "qux", "baz"] }],
  ["A.3 remove an object member", { baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }], { foo: "bar" }],
  ["A.4 remove an array element", { foo: ["bar", "qux", "baz"] }, [{ op: "remove", path: "/foo/1" }], { foo: ["bar", "baz"] }],
  ["A.5 replace a value", { baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }], { baz: "boo", foo: "bar" }],
  [
    "A.8 test a value: success",
    { baz: "qux", foo: ["a", 2, "c"] },
    [
      { op: "test", path: "/baz", value: "qux" },
      { op: "test", path: "/foo/1", value: 2 },
    ],
    { baz: "qux", foo: ["a", 2, "c"] },
  ],
  ["A.9 test a value: error", { baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }], "test failed"],
  ["A.10 add a nested member object", { foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }], { foo: "bar", child: { grandchild: {} } }],
  ["A.12 add to a nonexistent target", { foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }], "does not exist"],
  ["A.14 ~ escape ordering", { "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: 10 }], { "/": 9, "~1": 10 }],
  ["A.16 add an array value", { foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: ["abc", "def"] }], { foo: ["bar", ["abc", "def"]] }],
  ["add past the end of an array", { foo: [] }, [{ op: "add", path: "/foo/1", value: 1 }], "out of bounds"],
  ["replace of a missing member", { foo: 1 }, [{ op: "replace", path: "/bar", value: 1 }], "does not exist"],
  ["remove of a missing index", { foo: [1] }, [{ op: "remove", path: "/foo/1" }], "out of bounds"],
  ["an index with a leading zero", { foo: [1, 2] }, [{ op: "remove", path: "/foo/01" }], "not an array index"],
  ["a slash key (Kubernetes annotation)", { a: {} }, [{ op: "add", path: "/a/vigil.dev~1injected", value: "true" }], { a: { "vigil.dev/injected": "true" } }],
  ["a __proto__ member stays data", {}, [{ op: "add", path: "/__proto__", value: { polluted: true } }], JSON.parse('{"__proto__":{"polluted":true}}')],
];

describe("applyJsonPatch", () => {
  it.each(CASES)("%s", (_n, doc, patch, want) => {
    const before = structuredClone(doc);
    if (typeof want === "string") {
      expect(() => applyJsonPatch(doc, patch)).toThrow(JsonPatchError);
      expect(() => applyJsonPatch(doc, patch)).toThrow(want);
    } else {
      const out = applyJsonPatch(doc, patch);
      expect(out).toEqual(want);
      expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    }
    // the input is never changed
    expect(doc).toEqual(before);
  });

  it("parses pointers per RFC 6901 and refuses bad ones", () => {
    expect(parsePointer("")).toEqual([]);
    expect(parsePointer("/a~1b/m~0n/0")).toEqual(["a/b", "m~n", "0"]);
    expect(() => parsePointer("a")).toThrow(JsonPatchError);
    expect(() => parsePointer("/a~2")).toThrow("bad ~ escape");
  });

  it("applies an AdmissionReview response's base64 patch", () => {
    const patch = Buffer.from(JSON.stringify([{ op: "add", path: "/x", value: 1 }])).toString("base64");
    expect(applyAdmissionPatch({}, { patchType: "JSONPatch", patch })).toEqual({ x: 1 });
    expect(applyAdmissionPatch({ y: 2 }, {})).toEqual({ y: 2 });
    expect(() => applyAdmissionPatch({}, { patchType: "MergePatch", patch })).toThrow("not JSONPatch");
  });
});
