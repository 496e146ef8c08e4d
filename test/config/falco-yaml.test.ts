// SPDX-License-Identifier: Apache-2.0
/**
 * `--falco-config falco.yaml`: a Falco configuration (the keys and defaults Falco 0.44 documents
 * for its falco.yaml) translated to Vigil's schema; config_files, `-o` settings, keys Vigil does
 * not implement listed by name, errors at file:line:col, precedence against Vigil's own sources.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentConfig } from "../../agent/cli/agent-config.js";
import { applySetting, readFalcoYaml } from "../../agent/config/falco-yaml.js";
import { ConfigError } from "../../agent/config/index.js";

/** Falco 0.44's documented defaults (falco.yaml as shipped, comments left out), rules paths made local. */
function defaultsYaml(dir: string): string {
  return `config_files:
  - ${dir}/config.d
watch_config_files: true
rules_files:
  - ${dir}/falco_rules.yaml
  - ${dir}/falco_rules.local.yaml
  - ${dir}/rules.d
rules:
  - disable:
      rule: "*"
  - enable:
      tag: container
  - enable:
      rule: Read sensitive file untrusted
engine:
  kind: modern_ebpf
  modern_ebpf:
    cpus_for_each_buffer: 2
    buf_size_preset: 4
    drop_failed_exit: false
load_plugins: [container]
plugins:
  - name: container
    library_path: libcontainer.so
time_format_iso_8601: false
buffer_format_base64: false
priority: debug
json_output: false
json_include_output_property: true
json_include_message_property: false
json_include_output_fields_property: true
json_include_tags_property: true
buffered_outputs: false
rule_matching: first
outputs_queue:
  capacity: 0
append_output:
  - suggested_output: true
stdout_output:
  enabled: true
syslog_output:
  enabled: true
file_output:
  enabled: false
  keep_alive: false
  filename: ./events.txt
http_output:
  enabled: false
  url: ""
  user_agent: "falcosecurity/falco"
  insecure: false
  ca_cert: ""
  ca_bundle: ""
  ca_path: "/etc/ssl/certs"
  mtls: false
  client_cert: "/etc/ssl/certs/client.crt"
  client_key: "/etc/ssl/certs/client.key"
  echo: false
  compress_uploads: false
  keep_alive: false
  max_consecutive_timeouts: 5
program_output:
  enabled: false
  keep_alive: false
  program: "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"
grpc_output:
  enabled: false
grpc:
  enabled: false
  bind_address: "unix:///run/falco/falco.sock"
  threadiness: 0
webserver:
  enabled: true
  threadiness: 0
  listen_port: 8765
  listen_address: 0.0.0.0
  k8s_healthz_endpoint: /healthz
  prometheus_metrics_enabled: false
  ssl_enabled: false
  ssl_certificate: /etc/falco/falco.pem
log_stderr: true
log_syslog: true
log_level: info
libs_logger:
  enabled: false
  severity: debug
output_timeout: 2000
syscall_event_timeouts:
  max_consecutives: 1000
syscall_event_drops:
  threshold: .1
  actions:
    - log
    - alert
  rate: .03333
  max_burst: 1
  simulate_drops: false
metrics:
  enabled: false
  interval: 1h
falco_libs:
  thread_table_size: 262144
`;
}

describe("falco.yaml", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-falco-yaml-"));
    mkdirSync(join(dir, "rules.d"));
    writeFileSync(join(dir, "falco_rules.yaml"), "- list: empty\n  items: []\n");
    writeFileSync(join(dir, "rules.d", "a.yaml"), "- list: a\n  items: []\n");
    // falco_rules.local.yaml does not exist: skipped, as Falco does
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it("translates Falco's documented defaults and lists, by name, what Vigil does not implement", () => {
    const f = readFalcoYaml(write("falco.yaml", defaultsYaml(dir)), [], dir);
    expect(f.config.rules).toEqual({
      files: [join(dir, "falco_rules.yaml"), join(dir, "rules.d")],
      builtin: true,
      builtin_last: true,
      selection: [{ disable: { rule: "*" } }, { enable: { tag: "container" } }, { enable: { rule: "Read sensitive file untrusted" } }],
      min_priority: "debug",
      matching: "first",
    });
    expect(f.config.output).toEqual({
      json: false,
      json_include_output_property: true,
      json_include_tags_property: true,
      json_include_message_property: false,
      json_include_output_fields_property: true,
      time_format_iso_8601: false,
      buffered: false,
      suggested_fields: false,
      append: [{ suggested_output: true }],
      timeout_ms: 2000,
    });
    expect(f.config.sinks?.stdout).toEqual({ format: "falco", enabled: true });
    expect(f.config.sinks?.syslog).toEqual({ enabled: true });
    expect(f.config.sinks?.file).toEqual({ enabled: false, keep_alive: false, filename: join(dir, "events.txt") });
    // Falco's shell line runs as sh -c LINE: the operator's text; alerts only reach stdin
    expect(f.config.sinks?.program?.program).toEqual(["/bin/sh", "-c", "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"]);
    expect(f.config.sinks?.http).toMatchObject({ enabled: false, user_agent: "falcosecurity/falco", ca_path: "/etc/ssl/certs", max_consecutive_timeouts: 5 });
    expect(f.config.sinks?.grpc).toBeUndefined();
    expect(f.config.metrics).toEqual({ enabled: true, port: 8765, host: "0.0.0.0" });
    expect(f.config.log).toEqual({ level: "info", stderr: true, syslog: true });
    expect(f.ignored).toEqual([
      "watch_config_files",
      "engine",
      "load_plugins",
      "plugins",
      "buffer_format_base64",
      "webserver.prometheus_metrics_enabled",
      "webserver.ssl_enabled",
      "webserver.ssl_certificate",
      "libs_logger",
      "syscall_event_timeouts",
      "syscall_event_drops",
      "metrics",
      "falco_libs",
    ]);
    expect(f.notes.join("\n")).toContain("falco_rules.local.yaml not found");
    expect(f.notes.join("\n")).toContain("outputs_queue.capacity 0");
  });

  it("the translation is a valid Vigil configuration, under the flags", () => {
    const file = write("valid.yaml", defaultsYaml(dir));
    const { cfg } = agentConfig({ falcoConfig: file, rules: [], embeddedCollector: false, data: dir, option: ["json_output=true"] }, {});
    expect(cfg.output.json).toBe(true);
    expect(cfg.sinks.stdout.format).toBe("falco");
    expect(cfg.metrics.port).toBe(8765);
    expect(cfg.rules.min_priority).toBe("debug");
    // a flag wins over the falco.yaml; -r replaces its rules_files (and Vigil's own rules), as Falco's -r does
    const flagged = agentConfig({ falcoConfig: file, rules: ["/x.yaml"], metricsPort: "9999", embeddedCollector: false, data: dir }, {}).cfg;
    expect(flagged.metrics.port).toBe(9999);
    expect(flagged.rules.files).toEqual(["/x.yaml"]);
    expect(flagged.rules.builtin).toBe(false);
  });

  it("merges config_files (a directory in lexical order) with Falco's strategies", () => {
    const d = join(dir, "inc");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "10-a.yaml"), "log_level: debug\nappend_output:\n  - match: {source: syscall}\n    extra_output: on %evt.cpu\n");
    writeFileSync(join(d, "20-b.yaml"), "log_level: warning\n");
    writeFileSync(join(dir, "add-only.yaml"), "log_level: error\njson_output: true\n");
    const main = write(
      "inc.yaml",
      `config_files:\n  - ${d}\n  - path: ${dir}/add-only.yaml\n    strategy: add-only\nlog_level: info\nappend_output:\n  - suggested_output: true\n`,
    );
    const f = readFalcoYaml(main, [], dir);
    expect(f.files).toEqual([main, join(d, "10-a.yaml"), join(d, "20-b.yaml"), join(dir, "add-only.yaml")]);
    // the later file wins, add-only adds only what is missing; lists append
    expect(f.config.log?.level).toBe("warn");
    expect(f.config.output?.json).toBe(true);
    expect(f.config.output?.suggested_fields).toBe(false);
    expect(f.config.output?.append).toEqual([{ suggested_output: true }, { match: { source: "syscall" }, extra_output: "on %evt.cpu" }]);
  });

  it("takes -o settings in Falco's syntax: dotted keys, list appends and indexes, YAML scalars", () => {
    const main = write("o.yaml", "json_output: false\nrules:\n  - disable: {tag: network}\n");
    const f = readFalcoYaml(
      main,
      [
        "json_output=true",
        "http_output.enabled=true",
        "http_output.url=https://sidekick:2801/",
        "rules[].enable.rule=Terminal shell in container",
        "rules[0].disable.tag=process",
        "outputs_queue.capacity=500",
        "grpc.enabled=true",
        "grpc_output.enabled=true",
        "grpc.bind_address=unix:///run/vigil/vigil.sock",
      ],
      dir,
    );
    expect(f.config.output?.json).toBe(true);
    expect(f.config.output?.queue_capacity).toBe(500);
    expect(f.config.sinks?.http).toMatchObject({ enabled: true, url: "https://sidekick:2801/" });
    expect(f.config.rules?.selection).toEqual([{ disable: { tag: "process" } }, { enable: { rule: "Terminal shell in container" } }]);
    expect(f.config.sinks?.grpc).toEqual({ enabled: true, address: "unix:///run/vigil/vigil.sock", tls: {} });
    expect(() => applySetting({}, "no-equals")).toThrow(/key=value/);
    expect(() => applySetting({}, "a.__proto__.b=1")).toThrow(/not a settable key/);
    expect(() => applySetting({ l: [] }, "l[5]=1")).toThrow(/past the end/);
  });

  it("without a falco.yaml, -o sets Vigil's own keys", () => {
    const { cfg } = agentConfig(
      { rules: [], embeddedCollector: false, data: dir, option: ["metrics.port=4321", "output.json=true", "rules.matching=all"] },
      {},
    );
    expect(cfg.metrics.port).toBe(4321);
    expect(cfg.output.json).toBe(true);
    expect(cfg.rules.matching).toBe("all");
  });

  it("names file:line:col for a value of the wrong kind, and the file for one the schema refuses", () => {
    const bad = write("bad.yaml", "priority: debug\njson_output: maybe\nlog_level: loud\n");
    let err: unknown;
    try {
      readFalcoYaml(bad, [], dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`json_output: expected true or false (${bad}:2:14)`);
    expect((err as Error).message).toContain(`log_level: unknown level "loud" (emergency..debug) (${bad}:3:12)`);
    const refused = write("refused.yaml", "priority: urgent\n");
    expect(() => agentConfig({ falcoConfig: refused, rules: [], embeddedCollector: false, data: dir }, {})).toThrow(`(${refused})`);
    const fromO = write("o2.yaml", "json_output: false\n");
    expect(() => readFalcoYaml(fromO, ["json_output=sometimes"], dir)).toThrow("json_output: expected true or false (-o)");
    expect(() => readFalcoYaml(join(dir, "missing.yaml"), [], dir)).toThrow(/cannot read the Falco configuration \(ENOENT\)/);
    const syntax = write("syntax.yaml", "json_output: [\n");
    expect(() => readFalcoYaml(syntax, [], dir)).toThrow(/YAML/);
  });
});
