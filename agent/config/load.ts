// SPDX-License-Identifier: Apache-2.0
/**
 * Loads the configuration: schema defaults < YAML file < `VIGIL_*` environment < overrides.
 * Every problem becomes one `path: reason (origin)` line of a ConfigError, where origin is the
 * file position (`config.yaml:12:9`), the variable (`env VIGIL_METRICS_PORT`) or `overrides`.
 */
import { readFileSync, statSync } from "node:fs";
import { LineCounter, isNode, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { CONFIG_FILE_ENV, configFromEnv } from "./env.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { configSchema, type Config } from "./schema.js";

/** A config file larger than this is refused (it is a few KiB in practice). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadConfigOptions {
  /** YAML file; defaults to `$VIGIL_CONFIG` when set, else no file (defaults + env only). */
  file?: string;
  /** The YAML text itself (then `file` only names it in messages). */
  text?: string;
  /** Environment to read `VIGIL_*` from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values that win over everything (e.g. command-line flags). */
  overrides?: DeepPartial<Config>;
  /**
   * Settings translated from elsewhere (a falco.yaml, `-o`): over the file and environment, under
   * `overrides`; `origin` names them in messages.
   */
  translated?: { value: DeepPartial<Config>; origin: string };
}

/** Recursively optional (arrays are replaced whole). */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** b over a; own-property writes so a `__proto__` key stays data (and is reported as unknown). */
function merge(a: unknown, b: unknown): unknown {
  if (!isObj(a) || !isObj(b)) return b === undefined ? a : b;
  const out: Obj = {};
  for (const [k, v] of Object.entries(a)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    Object.defineProperty(out, k, { value: merge(out[k], v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function collectPaths(v: unknown, prefix: string[], out: Set<string>): void {
  if (!isObj(v)) {
    out.add(prefix.join("."));
    return;
  }
  for (const [k, x] of Object.entries(v)) collectPaths(x, [...prefix, k], out);
}

function fileOrigin(doc: Document | undefined, lc: LineCounter, name: string, path: readonly (string | number)[]): string | undefined {
  if (!doc) return undefined;
  // the deepest node that exists along the path
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return `${name}:${p.line}:${p.col}`;
    }
  }
  return undefined;
}

function issuesFrom(err: z.ZodError, origin: (path: readonly (string | number)[]) => string | undefined): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const is of err.issues) {
    const path = is.path.filter((p): p is string | number => typeof p !== "symbol");
    if (is.code === "unrecognized_keys") {
      for (const k of is.keys) {
        const p = [...path, k];
        const o = origin(p);
        out.push({ path: p.join("."), reason: "unknown key", ...(o ? { origin: o } : {}) });
      }
      continue;
    }
    const o = origin(path);
    out.push({ path: path.join("."), reason: is.message.replace(/^Invalid input: /, ""), ...(o ? { origin: o } : {}) });
  }
  return out;
}

/** Loads and validates the configuration; throws ConfigError listing `path: reason` lines. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? (opts.text === undefined && env[CONFIG_FILE_ENV] ? env[CONFIG_FILE_ENV] : undefined);
  const name = file ?? "config";

  let fromFile: unknown = {};
  let doc: Document | undefined;
  const lc = new LineCounter();
  let text = opts.text;
  if (text === undefined && file !== undefined) {
    try {
      const st = statSync(file);
      if (st.size > MAX_CONFIG_BYTES) {
        throw new ConfigError("READ_FAILED", [{ path: "", reason: `file larger than ${MAX_CONFIG_BYTES} bytes`, origin: file }]);
      }
      text = readFileSync(file, "utf8");
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      throw new ConfigError("READ_FAILED", [{ path: "", reason: `cannot read the config file (${code})`, origin: file }], { cause: err });
    }
  }
  if (text !== undefined) {
    if (text.length > MAX_CONFIG_BYTES) {
      throw new ConfigError("READ_FAILED", [{ path: "", reason: `config larger than ${MAX_CONFIG_BYTES} bytes`, origin: name }]);
    }
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        "YAML_SYNTAX",
        doc.errors.map((e) => {
          const p = lc.linePos(e.pos[0]);
          return { path: "", reason: `YAML: ${e.message.split("\n")[0] ?? e.code}`, origin: p ? `${name}:${p.line}:${p.col}` : name };
        }),
      );
    }
    try {
      fromFile = doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      throw new ConfigError("YAML_SYNTAX", [{ path: "", reason: `YAML: ${(err as Error).message}`, origin: name }], { cause: err });
    }
    if (!isObj(fromFile)) {
      throw new ConfigError("INVALID", [{ path: "", reason: "the configuration must be a mapping", origin: fileOrigin(doc, lc, name, []) ?? name }]);
    }
  }

  const fromEnv = configFromEnv(env);
  const overridden = new Set<string>();
  if (opts.overrides) collectPaths(opts.overrides, [], overridden);
  const translated = new Set<string>();
  if (opts.translated) collectPaths(opts.translated.value, [], translated);
  const merged = merge(merge(merge(fromFile, fromEnv.value), opts.translated?.value ?? {}), opts.overrides ?? {});

  const r = configSchema.safeParse(merged);
  if (r.success) return r.data;
  throw new ConfigError(
    "INVALID",
    issuesFrom(r.error, (path) => {
      // the source that set this path (or a parent of it) wins, in precedence order
      for (let n = path.length; n >= 1; n--) {
        const key = path.slice(0, n).join(".");
        if (overridden.has(key)) return "overrides";
      }
      for (let n = path.length; n >= 1; n--) {
        if (translated.has(path.slice(0, n).join("."))) return opts.translated?.origin;
      }
      for (let n = path.length; n >= 1; n--) {
        const o = fromEnv.origins.get(path.slice(0, n).join("."));
        if (o) return o;
      }
      return fileOrigin(doc, lc, name, path);
    }),
    { cause: r.error },
  );
}
