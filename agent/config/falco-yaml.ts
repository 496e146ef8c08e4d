// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent --falco-config falco.yaml`: a Falco configuration read for what it means to an agent,
 * mapped onto Vigil's own schema (schema.ts, outputs-schema.ts), so a Falco user keeps their file.
 *
 * Read: `config_files` (files and directories merged in, lexical order, with Falco's `append`,
 * `override` and `add-only` strategies), `-o key=value` settings (Falco's syntax: dotted paths,
 * `key[]` appends an element, `key[N]` indexes one; values are YAML scalars), then each key Vigil
 * implements is translated (table below). Every other key present is listed once at start by name,
 * never silently ignored, and so is a value Vigil honours differently (an unbounded queue).
 *
 * | falco.yaml | Vigil |
 * | --- | --- |
 * | `rules_files` / `rules_file` (files, directories) | `rules.files`, Vigil's own rules loaded after them |
 * | `rules:` (enable/disable by rule and tag) | `rules.selection` |
 * | `priority`, `rule_matching` | `rules.min_priority`, `rules.matching` |
 * | `json_output`, `json_include_*_property`, `time_format_iso_8601` | `output.*` |
 * | `append_output` (`suggested_output`, match/extra_output/extra_fields/suppress_output_format) | `output.suggested_fields`, `output.append` |
 * | `buffered_outputs`, `outputs_queue.capacity`, `output_timeout` | `output.buffered`, `output.queue_capacity`, `output.timeout_ms` |
 * | `stdout_output`, `file_output`, `program_output`, `syslog_output`, `http_output` | `sinks.stdout` (Falco's format), `sinks.file`, `sinks.program`, `sinks.syslog`, `sinks.http` |
 * | `grpc` + `grpc_output` | `sinks.grpc` |
 * | `webserver` (`enabled`, `listen_port`, `listen_address`) | `metrics` (/healthz, /versions, /metrics) |
 * | `log_level`, `log_stderr`, `log_syslog` | `log.level`, `log.stderr`, `log.syslog` |
 *
 * `program_output.program` is a shell command line in Falco; Vigil runs it as
 * `/bin/sh -c PROGRAM`: the line is the operator's own configuration, and alerts (the attacker's
 * strings) only ever reach the program's stdin.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isNode, LineCounter, parseDocument, type Document } from "yaml";
import { ConfigError, type ConfigIssue } from "./errors.js";
import type { DeepPartial } from "./load.js";
import type { Config } from "./schema.js";

/** A falco.yaml (or an included file) larger than this is refused. */
const MAX_FALCO_YAML_BYTES = 1024 * 1024;
/** Included config files at most (config_files, directories expanded). */
const MAX_INCLUDES = 256;

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a falco.yaml means to Vigil. */
export interface FalcoYaml {
  /** The translated settings (Vigil's schema), to merge under the command-line flags. */
  config: DeepPartial<Config>;
  /** Keys present that Vigil does not implement (dotted paths), in file order. */
  ignored: string[];
  /** Values Vigil honours in its own way, one line each (said once at start). */
  notes: string[];
  /** The files read (the main one, then config_files), for messages. */
  files: string[];
}

/** One loaded YAML document with its positions. */
interface Loaded {
  name: string;
  value: Obj;
  doc: Document;
  lc: LineCounter;
}

function loadYaml(file: string): Loaded {
  let text: string;
  try {
    const st = statSync(file);
    if (st.size > MAX_FALCO_YAML_BYTES)
      throw new ConfigError("READ_FAILED", [{ path: "", reason: `file larger than ${MAX_FALCO_YAML_BYTES} bytes`, origin: file }]);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError("READ_FAILED", [{ path: "", reason: `cannot read the Falco configuration (${code})`, origin: file }], { cause: err });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      "YAML_SYNTAX",
      doc.errors.map((e) => {
        const p = lc.linePos(e.pos[0]);
        return { path: "", reason: `YAML: ${e.message.split("\n")[0] ?? e.code}`, origin: `${file}:${p.line}:${p.col}` };
      }),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError("YAML_SYNTAX", [{ path: "", reason: `YAML: ${(err as Error).message}`, origin: file }], { cause: err });
  }
  if (!isObj(value)) throw new ConfigError("INVALID", [{ path: "", reason: "a Falco configuration must be a mapping", origin: file }]);
  return { name: file, value, doc, lc };
}

function positionOf(l: Loaded, path: readonly (string | number)[]): string {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? l.doc.contents : l.doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const p = l.lc.linePos(node.range[0]);
      return `${l.name}:${p.line}:${p.col}`;
    }
  }
  return l.name;
}

type Strategy = "append" | "override" | "add-only";

/** Falco's config_files merge: `over` into `base` by the strategy. */
function mergeInto(base: Obj, over: Obj, strategy: Strategy): void {
  for (const [k, v] of Object.entries(over)) {
    if (k === "__proto__" || k === "constructor" || k === "prototype") continue;
    const have = base[k];
    if (have === undefined) {
      base[k] = v;
      continue;
    }
    if (strategy === "add-only") continue;
    if (strategy === "append" && Array.isArray(have) && Array.isArray(v)) base[k] = [...have, ...v];
    else if (strategy === "append" && isObj(have) && isObj(v)) {
      const copy = { ...have };
      mergeInto(copy, v, strategy);
      base[k] = copy;
    } else base[k] = v;
  }
}

/** config_files entries: a path, or {path, strategy}; directories expand to their files, lexical order. */
function includes(main: Loaded, issues: ConfigIssue[]): { file: string; strategy: Strategy }[] {
  const raw = main.value["config_files"];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    issues.push({ path: "config_files", reason: "must be a list", origin: positionOf(main, ["config_files"]) });
    return [];
  }
  const out: { file: string; strategy: Strategy }[] = [];
  raw.forEach((e, i) => {
    const path = typeof e === "string" ? e : isObj(e) && typeof e["path"] === "string" ? e["path"] : undefined;
    const strategy = isObj(e) && e["strategy"] !== undefined ? e["strategy"] : "append";
    if (path === undefined || (strategy !== "append" && strategy !== "override" && strategy !== "add-only")) {
      issues.push({
        path: `config_files.${i}`,
        reason: "expected a path, or {path, strategy: append|override|add-only}",
        origin: positionOf(main, ["config_files", i]),
      });
      return;
    }
    const abs = resolve(dirname(main.name), path);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch {
      // Falco skips a config file that does not exist
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) {
        const f = join(abs, name);
        if (statSync(f, { throwIfNoEntry: false })?.isFile()) out.push({ file: f, strategy });
      }
    } else out.push({ file: abs, strategy });
  });
  if (out.length > MAX_INCLUDES) {
    issues.push({ path: "config_files", reason: `more than ${MAX_INCLUDES} files`, origin: positionOf(main, ["config_files"]) });
    return out.slice(0, MAX_INCLUDES);
  }
  return out;
}

/** One `-o key=value` applied to the document (Falco's syntax). */
export function applySetting(target: Obj, setting: string): void {
  const eq = setting.indexOf("=");
  if (eq <= 0) throw new ConfigError("INVALID", [{ path: "", reason: `-o expects key=value, got ${JSON.stringify(setting.slice(0, 80))}`, origin: "-o" }]);
  const key = setting.slice(0, eq);
  const rawValue = setting.slice(eq + 1);
  const parsed = parseDocument(rawValue);
  const value: unknown = parsed.errors.length > 0 ? rawValue : (parsed.toJS() ?? "");
  const parts = key.split(".");
  let cur: unknown = target;
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const m = /^([A-Za-z0-9_-]+)(?:\[(\d*)\])?$/.exec(parts[i] ?? "");
    if (m === null || !isObj(cur)) throw new ConfigError("INVALID", [{ path: key, reason: "not a settable key (a.b, a[], a[0].b)", origin: "-o" }]);
    const name = m[1] ?? "";
    if (name === "__proto__" || name === "constructor" || name === "prototype")
      throw new ConfigError("INVALID", [{ path: key, reason: "not a settable key", origin: "-o" }]);
    const o = cur as Obj;
    if (m[2] === undefined) {
      if (last) o[name] = value;
      else {
        if (!isObj(o[name])) o[name] = {};
        cur = o[name];
      }
      continue;
    }
    if (!Array.isArray(o[name])) o[name] = [];
    const arr = o[name] as unknown[];
    const idx = m[2] === "" ? arr.length : Number(m[2]);
    if (idx > arr.length || idx > 10_000) throw new ConfigError("INVALID", [{ path: key, reason: `index ${idx} is past the end of the list`, origin: "-o" }]);
    if (last) arr[idx] = value;
    else {
      if (!isObj(arr[idx])) arr[idx] = {};
      cur = arr[idx];
    }
  }
}

const LOG_LEVELS: Record<string, Config["log"]["level"]> = {
  emergency: "fatal",
  alert: "fatal",
  critical: "fatal",
  error: "error",
  warning: "warn",
  notice: "info",
  info: "info",
  debug: "debug",
};

/** The keys Vigil reads, with the sub-keys it honours (others under them are listed as ignored). */
const HONOURED: Record<string, readonly string[] | true> = {
  config_files: true,
  rules_files: true,
  rules_file: true,
  rules: true,
  priority: true,
  rule_matching: true,
  json_output: true,
  json_include_output_property: true,
  json_include_tags_property: true,
  json_include_message_property: true,
  json_include_output_fields_property: true,
  time_format_iso_8601: true,
  append_output: true,
  buffered_outputs: true,
  outputs_queue: ["capacity"],
  output_timeout: true,
  stdout_output: ["enabled"],
  file_output: ["enabled", "keep_alive", "filename"],
  program_output: ["enabled", "keep_alive", "program"],
  syslog_output: ["enabled"],
  http_output: [
    "enabled",
    "url",
    "user_agent",
    "insecure",
    "ca_cert",
    "ca_bundle",
    "ca_path",
    "mtls",
    "client_cert",
    "client_key",
    "echo",
    "compress_uploads",
    "keep_alive",
    "max_consecutive_timeouts",
  ],
  grpc: ["enabled", "bind_address", "private_key", "cert_chain", "root_certs", "threadiness"],
  grpc_output: ["enabled"],
  webserver: ["enabled", "listen_port", "listen_address", "k8s_healthz_endpoint", "threadiness"],
  log_level: true,
  log_stderr: true,
  log_syslog: true,
};

/** Keys whose usual values change nothing for Vigil: not worth a line when they hold them. */
function inert(key: string, v: unknown): boolean {
  if (key === "load_plugins") return Array.isArray(v) && v.length === 0;
  // Vigil reloads its rules files when they change, not the configuration
  if (key === "watch_config_files") return v === false;
  return false;
}

/**
 * Reads a falco.yaml (and its config_files), applies `-o` settings, and translates it. Throws a
 * ConfigError naming file:line:col for a value of the wrong kind.
 */
export function readFalcoYaml(file: string, settings: readonly string[] = [], cwd: string = process.cwd()): FalcoYaml {
  const main = loadYaml(resolve(cwd, file));
  const issues: ConfigIssue[] = [];
  const files = [main.name];
  const merged: Obj = { ...main.value };
  for (const inc of includes(main, issues)) {
    const l = loadYaml(inc.file);
    files.push(l.name);
    mergeInto(merged, l.value, inc.strategy);
  }
  for (const s of settings) applySetting(merged, s);
  const at = (path: readonly (string | number)[]): string => (settingTouches(settings, path) ? "-o" : positionOf(main, path));

  const out: DeepPartial<Config> = {};
  const ignored: string[] = [];
  const notes: string[] = [];
  const bool = (path: string[]): boolean | undefined => {
    const v = getIn(merged, path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "boolean") return v;
    issues.push({ path: path.join("."), reason: "expected true or false", origin: at(path) });
    return undefined;
  };
  const str = (path: string[]): string | undefined => {
    const v = getIn(merged, path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return v;
    if (typeof v === "number") return String(v);
    issues.push({ path: path.join("."), reason: "expected a string", origin: at(path) });
    return undefined;
  };
  const num = (path: string[]): number | undefined => {
    const v = getIn(merged, path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
    issues.push({ path: path.join("."), reason: "expected a number", origin: at(path) });
    return undefined;
  };

  // what is present and not honoured, listed by name
  for (const [k, v] of Object.entries(merged)) {
    const h = HONOURED[k];
    if (h === undefined) {
      if (!inert(k, v)) ignored.push(k);
      continue;
    }
    if (h !== true && isObj(v)) for (const sub of Object.keys(v)) if (!h.includes(sub)) ignored.push(`${k}.${sub}`);
  }

  // rules
  const rules: DeepPartial<Config["rules"]> = {};
  const rf = merged["rules_files"] ?? merged["rules_file"];
  const rfKey = merged["rules_files"] !== undefined ? "rules_files" : "rules_file";
  if (rf !== undefined && rf !== null) {
    const list = typeof rf === "string" ? [rf] : Array.isArray(rf) && rf.every((x) => typeof x === "string") ? (rf as string[]) : undefined;
    if (list === undefined) issues.push({ path: rfKey, reason: "expected a path or a list of paths", origin: at([rfKey]) });
    else {
      // Falco reads a listed path that does not exist as nothing (rules.d on a fresh install)
      rules.files = list.map((p) => resolve(cwd, p)).filter((p) => statSync(p, { throwIfNoEntry: false }) !== undefined);
      const missing = list.filter((p) => statSync(resolve(cwd, p), { throwIfNoEntry: false }) === undefined);
      if (missing.length > 0) notes.push(`${rfKey}: ${missing.join(", ")} not found, skipped (as Falco does)`);
      rules.builtin = true;
      rules.builtin_last = true;
    }
  }
  if (merged["rules"] !== undefined && merged["rules"] !== null) {
    if (!Array.isArray(merged["rules"])) issues.push({ path: "rules", reason: "expected a list of {enable|disable: {rule|tag}}", origin: at(["rules"]) });
    else rules.selection = merged["rules"] as NonNullable<DeepPartial<Config["rules"]>["selection"]>;
  }
  const prio = str(["priority"]);
  if (prio !== undefined) rules.min_priority = prio.toLowerCase() as Config["rules"]["min_priority"];
  const rm = str(["rule_matching"]);
  if (rm !== undefined) rules.matching = rm as Config["rules"]["matching"];
  out.rules = rules;

  // output format
  const output: DeepPartial<Config["output"]> = {};
  const setB = (key: keyof Config["output"], path: string) => {
    const v = bool([path]);
    if (v !== undefined) (output as Record<string, unknown>)[key] = v;
  };
  setB("json", "json_output");
  for (const k of [
    "json_include_output_property",
    "json_include_tags_property",
    "json_include_message_property",
    "json_include_output_fields_property",
    "time_format_iso_8601",
  ] as const)
    setB(k, k);
  setB("buffered", "buffered_outputs");
  const ao = merged["append_output"];
  // Falco appends the suggested fields only where an append_output entry says suggested_output
  // (its shipped falco.yaml has one): the entries go as they are, in order
  output.suggested_fields = false;
  if (ao !== undefined && ao !== null) {
    if (!Array.isArray(ao)) issues.push({ path: "append_output", reason: "expected a list", origin: at(["append_output"]) });
    else output.append = ao as NonNullable<DeepPartial<Config["output"]>["append"]>;
  }
  const cap = num(["outputs_queue", "capacity"]);
  if (cap !== undefined) {
    if (cap === 0)
      notes.push("outputs_queue.capacity 0 (unbounded in Falco): Vigil bounds each output's queue at output.queue_capacity (10000), counting drops");
    else output.queue_capacity = cap;
  }
  const ot = num(["output_timeout"]);
  if (ot !== undefined) output.timeout_ms = ot;
  out.output = output;

  // output channels
  const sinks: DeepPartial<Config["sinks"]> = {};
  const stdoutOn = bool(["stdout_output", "enabled"]);
  sinks.stdout = { format: "falco", ...(stdoutOn !== undefined ? { enabled: stdoutOn } : {}) };
  if (isObj(merged["file_output"])) {
    const filename = str(["file_output", "filename"]);
    sinks.file = {
      enabled: bool(["file_output", "enabled"]) ?? false,
      ...(bool(["file_output", "keep_alive"]) !== undefined ? { keep_alive: bool(["file_output", "keep_alive"]) } : {}),
      ...(filename !== undefined ? { filename: resolve(cwd, filename) } : {}),
    };
  }
  if (isObj(merged["program_output"])) {
    const program = str(["program_output", "program"]);
    const enabled = bool(["program_output", "enabled"]) ?? false;
    if (enabled && (program === undefined || program.trim() === ""))
      issues.push({ path: "program_output.program", reason: "program_output is enabled but names no program", origin: at(["program_output"]) });
    sinks.program = {
      enabled,
      ...(bool(["program_output", "keep_alive"]) !== undefined ? { keep_alive: bool(["program_output", "keep_alive"]) } : {}),
      ...(program !== undefined && program.trim() !== "" ? { program: ["/bin/sh", "-c", program] } : {}),
    };
  }
  if (isObj(merged["syslog_output"])) sinks.syslog = { enabled: bool(["syslog_output", "enabled"]) ?? false };
  if (isObj(merged["http_output"])) {
    // Falco's own default user agent unless the file says otherwise
    const h: Record<string, unknown> = { enabled: bool(["http_output", "enabled"]) ?? false, user_agent: "falcosecurity/falco" };
    for (const k of ["url", "user_agent", "ca_cert", "ca_bundle", "ca_path", "client_cert", "client_key"]) {
      const v = str(["http_output", k]);
      if (v !== undefined) h[k] = v;
    }
    for (const k of ["insecure", "mtls", "echo", "compress_uploads", "keep_alive"]) {
      const v = bool(["http_output", k]);
      if (v !== undefined) h[k] = v;
    }
    const mct = num(["http_output", "max_consecutive_timeouts"]);
    if (mct !== undefined) h["max_consecutive_timeouts"] = mct;
    sinks.http = h as DeepPartial<Config["sinks"]["http"]>;
  }
  const grpcOn = bool(["grpc", "enabled"]) ?? false;
  const grpcOut = bool(["grpc_output", "enabled"]) ?? false;
  if (grpcOn || grpcOut) {
    if (grpcOn !== grpcOut) notes.push("grpc and grpc_output must both be enabled for Falco's gRPC outputs API: it is not served");
    const addr = str(["grpc", "bind_address"]);
    const tls = {
      ...(str(["grpc", "private_key"]) !== undefined ? { key_file: str(["grpc", "private_key"]) } : {}),
      ...(str(["grpc", "cert_chain"]) !== undefined ? { cert_file: str(["grpc", "cert_chain"]) } : {}),
      ...(str(["grpc", "root_certs"]) !== undefined ? { ca_file: str(["grpc", "root_certs"]) } : {}),
    };
    sinks.grpc = { enabled: grpcOn && grpcOut, ...(addr !== undefined ? { address: addr } : {}), tls };
  }
  out.sinks = sinks;

  // webserver → the metrics endpoint
  if (isObj(merged["webserver"])) {
    const m: DeepPartial<Config["metrics"]> = {};
    const on = bool(["webserver", "enabled"]);
    if (on !== undefined) m.enabled = on;
    const port = num(["webserver", "listen_port"]);
    if (port !== undefined) m.port = port;
    const host = str(["webserver", "listen_address"]);
    if (host !== undefined) m.host = host;
    const hz = str(["webserver", "k8s_healthz_endpoint"]);
    if (hz !== undefined && hz !== "/healthz") notes.push(`webserver.k8s_healthz_endpoint ${hz}: Vigil serves health on /healthz only`);
    out.metrics = m;
  }

  // logging
  const log: DeepPartial<Config["log"]> = {};
  const lvl = str(["log_level"]);
  if (lvl !== undefined) {
    const l = LOG_LEVELS[lvl.toLowerCase()];
    if (l === undefined) issues.push({ path: "log_level", reason: `unknown level ${JSON.stringify(lvl)} (emergency..debug)`, origin: at(["log_level"]) });
    else log.level = l;
  }
  const ls = bool(["log_stderr"]);
  if (ls !== undefined) log.stderr = ls;
  const lsys = bool(["log_syslog"]);
  if (lsys !== undefined) log.syslog = lsys;
  out.log = log;

  if (issues.length > 0) throw new ConfigError("INVALID", issues);
  return { config: out, ignored, notes, files };
}

function getIn(o: Obj, path: readonly string[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

/** True when a -o setting set this path (then errors name `-o`, not a file position). */
function settingTouches(settings: readonly string[], path: readonly (string | number)[]): boolean {
  const key = path.join(".");
  return settings.some((s) => {
    const k = s.slice(0, Math.max(0, s.indexOf("="))).replace(/\[\d*\]/g, "");
    return k === key || k.startsWith(`${key}.`) || key.startsWith(`${k}.`);
  });
}
