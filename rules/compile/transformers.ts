// SPDX-License-Identifier: Apache-2.0
/**
 * Field transformers (`tolower`, `toupper`, `b64`, `basename`, `len`, `concat`): each wraps the
 * getters of its arguments into a new getter with the transformer's result type.
 */
import { CompileError } from "../errors.js";
import type { FieldExpr } from "../lang/ast.js";
import { fieldExprText } from "../lang/ast.js";
import { DEFAULT_FIELD_CONTEXT, FieldType, resolveField, type FieldContext, type Getter } from "./fields.js";
import { valueText } from "./operators.js";

/** A field expression resolved to one getter (transformers applied). */
export interface BoundExpr {
  readonly name: string;
  readonly type: FieldType;
  readonly get: Getter;
  readonly isTransformer: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const STRINGY: ReadonlySet<FieldType> = new Set<FieldType>([FieldType.String, FieldType.Bytes, FieldType.IpAddr, FieldType.IpNet]);

/** Resolves a field or transformer expression to a getter, with `ctx` for the fields that need it. Throws CompileError. */
export function bindFieldExpr(f: FieldExpr, ctx: FieldContext = DEFAULT_FIELD_CONTEXT): BoundExpr {
  if (f.kind === "field") {
    const r = resolveField(f.name, f.arg, ctx);
    return { name: r.name, type: r.type, get: r.get, isTransformer: false };
  }
  const args = f.args.map((x) => bindFieldExpr(x, ctx));
  const name = fieldExprText(f);
  const one = (): BoundExpr => {
    if (args.length !== 1) throw new CompileError("BAD_FIELD_ARG", `${f.name}() takes exactly one argument`);
    return args[0] as BoundExpr;
  };
  switch (f.name) {
    case "tolower":
    case "toupper": {
      const a = one();
      if (!STRINGY.has(a.type)) throw new CompileError("BAD_FIELD_ARG", `${f.name}() needs a string field, not ${a.type}`);
      const up = f.name === "toupper";
      const g = a.get;
      return {
        name,
        type: FieldType.String,
        isTransformer: true,
        get: (e) => {
          const v = g(e);
          if (v === undefined) return undefined;
          const s = valueText(v);
          return up ? s.toUpperCase() : s.toLowerCase();
        },
      };
    }
    case "b64": {
      const a = one();
      if (!STRINGY.has(a.type)) throw new CompileError("BAD_FIELD_ARG", `b64() needs a string or bytes field, not ${a.type}`);
      const g = a.get;
      return {
        name,
        type: FieldType.String,
        isTransformer: true,
        get: (e) => {
          const v = g(e);
          if (v === undefined) return undefined;
          const s = typeof v === "string" ? v : valueText(v);
          if (!BASE64.test(s)) return undefined;
          return Buffer.from(s, "base64").toString("latin1");
        },
      };
    }
    case "basename": {
      const a = one();
      if (!STRINGY.has(a.type)) throw new CompileError("BAD_FIELD_ARG", `basename() needs a string field, not ${a.type}`);
      const g = a.get;
      return {
        name,
        type: FieldType.String,
        isTransformer: true,
        get: (e) => {
          const v = g(e);
          if (v === undefined) return undefined;
          const s = valueText(v);
          return s.slice(s.lastIndexOf("/") + 1);
        },
      };
    }
    case "len": {
      const a = one();
      const g = a.get;
      return {
        name,
        type: FieldType.Uint,
        isTransformer: true,
        get: (e) => {
          const v = g(e);
          if (v === undefined) return undefined;
          if (typeof v === "string" || v instanceof Uint8Array) return v.length;
          return valueText(v).length;
        },
      };
    }
    case "concat": {
      if (args.length < 2) throw new CompileError("BAD_FIELD_ARG", "concat() takes two or more arguments");
      const gs = args.map((a) => a.get);
      return {
        name,
        type: FieldType.String,
        isTransformer: true,
        get: (e) => {
          let s = "";
          for (const g of gs) {
            const v = g(e);
            if (v === undefined) return undefined;
            s += valueText(v);
          }
          return s;
        },
      };
    }
    default:
      throw new CompileError("UNSUPPORTED", `transformer ${f.name}() is not supported`);
  }
}
