// SPDX-License-Identifier: Apache-2.0
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, configLeaves, loadConfig, type Config } from "../../agent/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  it("an empty configuration is complete", () => {
    const c = loadConfig({ env: {} });
    expect(c.metrics.port).toBe(9376);
    expect(c.rules.matching).toBe("first");
    expect(c.sinks.collector.spool.max_bytes).toBe(256 * 1024 * 1024);
    expect(c.containerd.socket).toBe("/run/containerd/containerd.sock");
    expect(c.sinks.stdout.format).toBe("text");
  });
  it.each(["", "# only a comment\n", "---\n"])("an empty file %j gives the defaults", (text) => {
    expect(loadConfig({ text, env: {} })).toEqual(loadConfig({ env: {} }));
  });
});

describe("file", () => {
  it("reads a file, and VIGIL_CONFIG names it when no file is given", () => {
    const f = join(dir, "a.yaml");
    writeFileSync(
      f,
      "metrics:\n  port: 9999\nrules:\n  files: [/x.yaml, /y.yaml]\n  min_priority: warning\nsinks:\n  collector:\n    spool:\n      max_bytes: 1GiB\n",
    );
    for (const c of [loadConfig({ file: f, env: {} }), loadConfig({ env: { VIGIL_CONFIG: f } })]) {
      expect(c.metrics.port).toBe(9999);
      expect(c.rules.files).toEqual(["/x.yaml", "/y.yaml"]);
      expect(c.rules.min_priority).toBe("warning");
      expect(c.sinks.collector.spool.max_bytes).toBe(1024 ** 3);
    }
  });

  it("a missing file is READ_FAILED with the file named", () => {
    const e = errorOf(() => loadConfig({ file: join(dir, "nope.yaml"), env: {} }));
    expect(e.code).toBe("READ_FAILED");
    expect(e.message).toContain("nope.yaml");
    expect(e.message).toContain("ENOENT");
  });

  it("a huge file is refused before parsing", () => {
    const f = join(dir, "huge.yaml");
    writeFileSync(f, `hostname: "${"a".repeat(2 * 1024 * 1024)}"\n`);
    expect(errorOf(() => loadConfig({ file: f, env: {} })).code).toBe("READ_FAILED");
  });
});

// [yaml text, expected `path: reason` line fragments]
const BAD: [string, string, string[]][] = [
  ["wrong type with position", "metrics:\n  port: nine\n", ["metrics.port: expected number, received string (cfg.yaml:2:9)"]],
  ["out of range", "metrics:\n  port: 70000\n", ["metrics.port: ", "(cfg.yaml:2:9)"]],
  ["unknown key (typo)", "metrics:\n  prot: 1\n", ["metrics.prot: unknown key (cfg.yaml:2:"]],
  ["unknown top-level key", "rule_matchin: all\n", ["rule_matchin: unknown key"]],
  ["bad enum", "rules:\n  matching: some\n", ["rules.matching: ", '"first"|"all"', "(cfg.yaml:2:13)"]],
  ["bad byte size", "fim:\n  max_file_bytes: lots\n", ["fim.max_file_bytes: not a byte size"]],
  ["negative byte size", "fim:\n  max_file_bytes: -5\n", ["fim.max_file_bytes: must be a non-negative"]],
  ["relative path", "containerd:\n  socket: run/c.sock\n", ["containerd.socket: must be an absolute path"]],
  ["bad address", "sinks:\n  collector:\n    address: 'no port here'\n", ["sinks.collector.address: expected host:port"]],
  ["list item type", "rules:\n  files: [a, 3]\n", ["rules.files.1: expected string, received number (cfg.yaml:2:14)"]],
  ["not a mapping", "- a\n- b\n", ["(root): the configuration must be a mapping"]],
  ["scalar document", "42\n", ["(root): the configuration must be a mapping"]],
  ["prototype key", "__proto__:\n  polluted: true\n", ["__proto__: unknown key"]],
];

describe("errors are `path: reason (origin)` lines", () => {
  it.each(BAD)("%s", (_name, text, fragments) => {
    const e = errorOf(() => loadConfig({ text, file: "cfg.yaml", env: {} }));
    for (const f of fragments) expect(e.message).toContain(f);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("lists every problem, one per line", () => {
    const e = errorOf(() => loadConfig({ text: "metrics:\n  port: x\nlog:\n  level: loud\nbogus: 1\n", file: "c.yaml", env: {} }));
    expect(e.code).toBe("INVALID");
    const lines = e.message.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.split(":")[0]).sort()).toEqual(["bogus", "log.level", "metrics.port"]);
  });

  it.each([
    ["unclosed flow", "rules: { files: [a\n"],
    ["bad indentation", "metrics:\n  port: 1\n port: 2\n"],
    ["duplicate key", "metrics:\n  port: 1\n  port: 2\n"],
    ["tab indentation", "metrics:\n\tport: 1\n"],
  ])("YAML syntax error: %s → YAML_SYNTAX with a position", (_n, text) => {
    const e = errorOf(() => loadConfig({ text, file: "s.yaml", env: {} }));
    expect(e.code).toBe("YAML_SYNTAX");
    expect(e.message).toMatch(/^\(root\): YAML: .* \(s\.yaml:\d+:\d+\)/);
  });

  it("an alias bomb is refused, not expanded", () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) {
      const p = String.fromCharCode(97 + i);
      const n = String.fromCharCode(98 + i);
      lines.push(`${n}: &${n} [${Array(10).fill(`*${p}`).join(",")}]`);
    }
    const e = errorOf(() => loadConfig({ text: lines.join("\n") + "\n", env: {} }));
    expect(["YAML_SYNTAX", "INVALID"]).toContain(e.code);
  });
});

describe("environment", () => {
  const leaves = configLeaves();

  it("every option has a unique VIGIL_ variable", () => {
    const names = leaves.map((l) => l.env);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^VIGIL_[A-Z0-9_]+$/);
    expect(names).toContain("VIGIL_METRICS_PORT");
    expect(names).toContain("VIGIL_SINKS_COLLECTOR_SPOOL_MAX_BYTES");
    expect(names).toContain("VIGIL_LOG_LEVEL");
    expect(names).toContain("VIGIL_RULES_FILES");
    expect(names.length).toBeGreaterThan(40);
  });

  // a valid non-default text for each kind, and how to read it back
  function sample(kind: string, path: readonly string[]): string {
    const last = path[path.length - 1] ?? "";
    if (kind === "boolean") return "off";
    if (kind === "list")
      return last === "block" ? "memfd, tmpfs" : last === "scope" ? "namespace=a, image=b/*" : last === "raw_syscalls" ? "init_module, finit_module" : "/a, /b";
    if (last === "ringbuf_mb") return "64";
    // sizes and counts of the limits sections have floors above 777
    // bounds of their own: JetStream allows 1..5 replicas; a stream smaller than a message is refused
    if (last === "replicas") return "3";
    if (last === "pool_size") return "16";
    if (last === "store_concurrency") return "4";
    if (last === "facility") return "3";
    // fim.baseline: a percent of a core, an entry cap with a floor of 1000, a byte rate
    if (path.includes("fim") && last === "cpu_percent") return "10";
    if (path.includes("fim") && last === "max_entries") return "5000";
    if (path.includes("fim") && last === "bytes_per_second") return "3MiB";
    if (path.includes("fleet") && (last === "max_bytes" || last === "max_msg_bytes")) return "1048577";
    if (kind === "number" && /bytes|chars|nodes|payload/.test(last)) return "65537";
    if (kind === "number") return last === "port" ? "1234" : last.endsWith("_ms") && path.includes("collector") ? "20000" : "777";
    if (last === "orphan_captures") return "store";
    if (last === "start" && path.includes("cloudwatch")) return "beginning";
    if (last === "max_bytes" || last === "max_file_bytes") return "3MiB";
    if (last === "matching") return "all";
    if (last === "saver") return "off";
    if (last === "min_priority") return "error";
    if (last === "level") return "debug";
    if (last === "format") return path.includes("syslog") ? "rfc5424" : "json";
    if (last === "address") return "collector.example:4443";
    if (["socket", "dir", "root", "proc", "cgroup", "filename", "syslog_socket", "service_account_dir"].includes(last)) return "/env/value";
    if (last === "enabled" && path.includes("kubernetes")) return "auto";
    return "from-env";
  }

  it.each(leaves.map((l) => [l.env, l] as const))("%s sets its option", (_n, leaf) => {
    const raw = sample(leaf.kind, leaf.path);
    const c = loadConfig({ env: { [leaf.env]: raw } }) as unknown as Record<string, unknown>;
    let v: unknown = c;
    for (const k of leaf.path) v = (v as Record<string, unknown>)[k];
    const want =
      leaf.kind === "boolean" ? false : leaf.kind === "list" ? raw.split(", ") : leaf.kind === "number" ? Number(raw) : raw === "3MiB" ? 3 * 1024 * 1024 : raw;
    expect(v).toEqual(want);
  });

  it("env wins over the file, overrides win over env", () => {
    const text = "metrics:\n  port: 1000\n  host: 127.0.0.1\n";
    const c = loadConfig({ text, env: { VIGIL_METRICS_PORT: "2000" } });
    expect(c.metrics.port).toBe(2000);
    expect(c.metrics.host).toBe("127.0.0.1");
    const o = loadConfig({ text, env: { VIGIL_METRICS_PORT: "2000" }, overrides: { metrics: { port: 3000 } } as Partial<Config> });
    expect(o.metrics.port).toBe(3000);
    expect(o.metrics.host).toBe("127.0.0.1");
  });

  it.each([
    ["VIGIL_METRICS_PORT", "ninety", "metrics.port: expected number, received string (env VIGIL_METRICS_PORT)"],
    ["VIGIL_METRICS_ENABLED", "maybe", "metrics.enabled: expected boolean, received string (env VIGIL_METRICS_ENABLED)"],
    ["VIGIL_RULES_MATCHING", "most", "rules.matching: "],
    ["VIGIL_SINKS_COLLECTOR_SPOOL_MAX_BYTES", "big", "sinks.collector.spool.max_bytes: not a byte size"],
  ])("a bad %s value names the variable", (name, value, fragment) => {
    const e = errorOf(() => loadConfig({ env: { [name]: value } }));
    expect(e.message).toContain(fragment);
    expect(e.message).toContain(`env ${name}`);
  });

  it("bad overrides are attributed to overrides", () => {
    const e = errorOf(() => loadConfig({ env: {}, overrides: { metrics: { port: -1 } } as Partial<Config> }));
    expect(e.message).toMatch(/^metrics\.port: .*\(overrides\)$/);
  });
});

describe("kubernetes", () => {
  it("enabled: auto by default; true/false from the file or the environment", () => {
    expect(loadConfig({ env: {} }).kubernetes.enabled).toBe("auto");
    expect(loadConfig({ env: { VIGIL_KUBERNETES_ENABLED: "true" } }).kubernetes.enabled).toBe(true);
    expect(loadConfig({ env: { VIGIL_KUBERNETES_ENABLED: "false" } }).kubernetes.enabled).toBe(false);
    expect(loadConfig({ text: "kubernetes:\n  enabled: false\n", env: {} }).kubernetes.enabled).toBe(false);
    expect(errorOf(() => loadConfig({ env: { VIGIL_KUBERNETES_ENABLED: "sometimes" } })).message).toContain("kubernetes.enabled");
  });

  it("a node name must be one", () => {
    expect(loadConfig({ env: { VIGIL_KUBERNETES_NODE_NAME: "ip-10-0-1-2.ec2.internal" } }).kubernetes.node_name).toBe("ip-10-0-1-2.ec2.internal");
    expect(errorOf(() => loadConfig({ env: { VIGIL_KUBERNETES_NODE_NAME: "Node 1,spec.x=y" } })).message).toContain("kubernetes.node_name");
  });
});
