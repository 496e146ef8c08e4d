// SPDX-License-Identifier: Apache-2.0
/**
 * Falco drop-in, end to end on the real kernel: `vigil agent --falco-config falco.yaml` with
 * Falco's stable rules (read in place) and a rules directory, selection by tag and name,
 * append_output (suggested fields and an entry of its own), JSON output, and the output channels
 * pointed at real local receivers: a file, a spawned program (Falco's shell line), a real rsyslogd, an HTTPS
 * server demanding a client certificate (mTLS), Falco's gRPC outputs API read by a client built
 * from Falco's protos, and the webserver's /versions. `cat /etc/shadow` must reach every one of
 * them in Falco's JSON shape, field by field.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { credentials, type ClientDuplexStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { tempDir, waitFor } from "../collector/helpers.js";
import { RSYSLOGD } from "../helpers/rsyslog.js";
import { completeJsonLines } from "../helpers/json-lines.js";
import { runChild, startAgent, type RunningAgent } from "../helpers/agent.js";
import { makeMtlsFiles, type MtlsFiles } from "../helpers/mtls-certs.js";
import { falcoPackage } from "../sinks/falco-interop.helpers.js";

/** rsyslogd listening on DIR/devlog (a unix datagram socket like /dev/log), each message written to DIR/syslog.jsonl. */
function startRsyslog(dir: string): ChildProcess {
  const q = JSON.stringify;
  const prop = (out: string, name: string) => `property(outname="${out}" name="${name}" format="jsonf")`;
  writeFileSync(
    join(dir, "rsyslog.conf"),
    [
      `global(workDirectory=${q(dir)})`,
      `module(load="imuxsock" SysSock.Use="off")`,
      `input(type="imuxsock" Socket=${q(join(dir, "devlog"))} ruleset="r")`,
      `template(name="j" type="list") { constant(value="{") ${prop("severity", "syslogseverity")} constant(value=",") ${prop("tag", "syslogtag")} constant(value=",") ${prop("msg", "msg")} constant(value="}\\n") }`,
      `ruleset(name="r") { action(type="omfile" file=${q(join(dir, "syslog.jsonl"))} template="j") }`,
      "",
    ].join("\n"),
  );
  return spawn(RSYSLOGD ?? "rsyslogd", ["-n", "-f", join(dir, "rsyslog.conf"), "-i", join(dir, "rsyslog.pid")], { stdio: "ignore" });
}

const STABLE = join(__dirname, "..", "..", "..", "shared", "corpus", "falco", "falco_rules.yaml");
/** Falco's JSON keys (nlohmann sorts them), with json_include_message_property on. */
const FALCO_KEYS = ["hostname", "message", "output", "output_fields", "priority", "rule", "source", "tags", "time"];
const SUGGESTED = ["container.id", "container.name", "container.image.repository", "container.image.tag", "k8s.pod.name", "k8s.ns.name"];

interface GrpcResp {
  rule: string;
  output: string;
  output_fields: Record<string, string>;
  priority: string;
  source: string;
  hostname: string;
  tags: string[];
}

describe("vigil agent --falco-config: Falco's configuration, rules and outputs", () => {
  const dir = tempDir("vigil-dropin-");
  let certs: MtlsFiles;
  let https: Server;
  const posted: { body: string; headers: Record<string, unknown>; clientCn: string | undefined }[] = [];
  let agent: RunningAgent;
  let sub: ClientDuplexStream<object, GrpcResp> | undefined;
  const streamed: GrpcResp[] = [];
  let webPort = 0;
  let rsyslog: ChildProcess | undefined;

  beforeAll(async () => {
    mkdirSync(join(dir, "certs"));
    certs = makeMtlsFiles(join(dir, "certs"));
    https = createHttpsServer(
      { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.caCert), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", () => {
          const peer = (req.socket as import("node:tls").TLSSocket).getPeerCertificate();
          posted.push({ body, headers: req.headers, clientCn: typeof peer.subject?.CN === "string" ? peer.subject.CN : undefined });
          res.writeHead(200);
          res.end();
        });
      },
    );
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
    const httpsPort = (https.address() as AddressInfo).port;
    // a free port for the webserver: bound and released
    const probe = createHttpsServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    webPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));

    mkdirSync(join(dir, "rules.d"));
    // a local rules file in the directory: a rule of its own, and one of Falco's turned off by name below
    writeFileSync(
      join(dir, "rules.d", "50-local.yaml"),
      `- rule: Dropin marker read\n  desc: a test rule from a rules directory\n  condition: open_read and fd.name = "${dir}/marker"\n  output: marker read by %proc.name env=%proc.env[DROPIN_ENV]\n  priority: NOTICE\n  tags: [dropin]\n`,
    );
    writeFileSync(join(dir, "marker"), "x");
    const falcoYaml = `rules_files:
  - ${STABLE}
  - ${dir}/rules.d
rules:
  - disable:
      tag: network
  - disable:
      rule: System Program Name Run From*
append_output:
  - suggested_output: true
  - match:
      rule: Read sensitive file untrusted
    extra_output: "dropin_pid=%proc.pid"
    extra_fields:
      - dropin.parent: "%proc.pname"
json_output: true
json_include_message_property: true
priority: notice
stdout_output:
  enabled: true
syslog_output:
  enabled: true
file_output:
  enabled: true
  keep_alive: false
  filename: ${dir}/events.txt
program_output:
  enabled: true
  keep_alive: true
  program: "cat >> ${dir}/program.txt"
http_output:
  enabled: true
  url: https://127.0.0.1:${httpsPort}/
  ca_cert: ${certs.caCert}
  mtls: true
  client_cert: ${certs.clientCert}
  client_key: ${certs.clientKey}
grpc:
  enabled: true
  bind_address: unix://${dir}/run/falco.sock
grpc_output:
  enabled: true
webserver:
  enabled: true
  listen_port: ${webPort}
  listen_address: 127.0.0.1
engine:
  kind: modern_ebpf
`;
    writeFileSync(join(dir, "falco.yaml"), falcoYaml);
    // Falco's syslog_output writes to /dev/log; here a real rsyslogd's socket in the temp folder (Vigil's own key)
    rsyslog = startRsyslog(dir);
    await waitFor(() => existsSync(join(dir, "devlog")), 15_000, "the rsyslog socket");
    writeFileSync(join(dir, "vigil.yaml"), `sinks:\n  syslog:\n    address: unix://${dir}/devlog\n`);
    agent = await startAgent(
      ["--falco-config", join(dir, "falco.yaml"), "--config", join(dir, "vigil.yaml"), "--no-containerd", "--stats-interval", "0"],
      90_000,
      {},
      ["--no-embedded-collector", "--no-fim-scan"],
    );
    const pkg = falcoPackage();
    const client = new pkg.outputs(`unix://${dir}/run/falco.sock`, credentials.createInsecure()) as unknown as { sub(): ClientDuplexStream<object, GrpcResp> };
    sub = client.sub();
    sub.on("data", (r: GrpcResp) => streamed.push(r));
    sub.on("error", () => undefined);
    sub.write({});
  }, 120_000);

  afterAll(async () => {
    sub?.cancel();
    await agent?.stop();
    https?.close();
    rsyslog?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("says which falco.yaml keys it does not implement, by name, once", async () => {
    const l = await agent.waitForLog((x) => typeof x["msg"] === "string" && (x["msg"] as string).startsWith("falco.yaml keys Vigil does not implement"));
    expect(l["keys"]).toEqual(["engine"]);
    expect(agent.logs.filter((x) => String(x["msg"]).startsWith("falco.yaml keys")).length).toBe(1);
  });

  it("an attack reaches every output in Falco's JSON shape, with the suggested and appended fields", async () => {
    const { pid } = await runChild("cat", ["/etc/shadow"]);
    const mine = (o: { output_fields: Record<string, unknown> }) =>
      String(o.output_fields["proc.pid"] ?? "") === String(pid) || String(o.output_fields["dropin.parent"] ?? "") !== "";
    const jsonLines = (file: string) => completeJsonLines<Record<string, unknown> & { output_fields: Record<string, unknown> }>(file);
    const pick = (list: (Record<string, unknown> & { output_fields: Record<string, unknown> })[]) =>
      list.find((a) => a["rule"] === "Read sensitive file untrusted" && String(a["output"]).includes(`dropin_pid=${pid}`));
    await waitFor(() => pick(jsonLines(join(dir, "events.txt"))) !== undefined, 10_000, "the file output");
    await waitFor(() => pick(jsonLines(join(dir, "program.txt"))) !== undefined, 10_000, "the program output");
    await waitFor(() => posted.some((p) => p.body.includes(`dropin_pid=${pid}`)), 10_000, "the http output");
    await waitFor(() => streamed.some((r) => r.output.includes(`dropin_pid=${pid}`)), 10_000, "the gRPC output");
    const syslogged = () => completeJsonLines<{ severity: string; tag: string; msg: string }>(join(dir, "syslog.jsonl"));
    await waitFor(() => syslogged().some((m) => m.msg.includes(`dropin_pid=${pid}`)), 10_000, "the syslog output");
    const fromFile = pick(jsonLines(join(dir, "events.txt")))!;
    const fromProgram = pick(jsonLines(join(dir, "program.txt")))!;
    const post = posted.find((p) => p.body.includes(`dropin_pid=${pid}`))!;
    const fromHttp = JSON.parse(post.body) as Record<string, unknown>;
    // Falco's JSON: its keys in its order, the same alert everywhere
    expect(Object.keys(fromFile)).toEqual(FALCO_KEYS);
    expect(fromProgram).toEqual(fromFile);
    const { uuid, ...httpRest } = fromHttp;
    expect(typeof uuid).toBe("string");
    expect(httpRest).toEqual(fromFile);
    expect(post.clientCn).toBeDefined();
    expect(post.headers["content-type"]).toMatch(/application\/json/);
    expect(post.headers["user-agent"]).toBe("falcosecurity/falco");
    // what each key holds
    expect(fromFile["rule"]).toBe("Read sensitive file untrusted");
    expect(fromFile["priority"]).toBe("Warning");
    expect(fromFile["source"]).toBe("syscall");
    expect(fromFile["tags"]).toEqual(expect.arrayContaining(["maturity_stable", "filesystem", "mitre_credential_access"]));
    expect(String(fromFile["time"])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const output = String(fromFile["output"]);
    expect(output).toMatch(/^\d\d:\d\d:\d\d\.\d{9}: Warning Sensitive file opened for reading by non-trusted program \| file=\/etc\/shadow /);
    // append_output entries in the file's order: the suggested fields, then the rule's own entry
    expect(output).toMatch(
      new RegExp(
        ` container_id=host container_name=host container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA> dropin_pid=${pid}$`,
      ),
    );
    expect(String(fromFile["message"])).toBe(output.slice(output.indexOf(": Warning ") + ": Warning ".length));
    const f = fromFile.output_fields;
    for (const k of SUGGESTED) expect(f).toHaveProperty([k]);
    expect(f["container.id"]).toBe("host");
    expect(f["k8s.pod.name"]).toBeNull();
    expect(f["fd.name"]).toBe("/etc/shadow");
    expect(f["proc.name"]).toBe("cat");
    expect(typeof f["evt.time"]).toBe("number");
    expect(f["dropin.parent"]).toBe(f["proc.pname"]);
    // syslog: the JSON as the message, severity warning (4), tag falco as Falco's syslog(3) writes
    const sl = syslogged().find((m) => m.msg.includes(`dropin_pid=${pid}`))!;
    expect(sl.severity).toBe("4");
    expect(sl.tag).toBe("falco:");
    expect(JSON.parse(sl.msg.trim())).toEqual(fromFile);
    // gRPC: Falco's response message, output_fields as strings
    const g = streamed.find((r) => r.output.includes(`dropin_pid=${pid}`))!;
    expect(g.rule).toBe("Read sensitive file untrusted");
    expect(g.priority).toBe("WARNING");
    expect(g.output).toBe(output);
    expect(g.output_fields["container.id"]).toBe("host");
    expect(g.output_fields["fd.name"]).toBe("/etc/shadow");
    expect(mine(fromFile)).toBe(true);
  }, 60_000);

  it("loads the rules directory and applies the selection by tag and by name", async () => {
    await runChild("env", ["DROPIN_ENV=v42", "cat", join(dir, "marker")]);
    const a = await agent.waitForAlert((x) => x.rule === "Dropin marker read", 5000);
    expect(a.priority).toBe("Notice");
    // the exec's environment, captured by the probe (sources.ebpf.capture_env)
    expect(a.output_fields["proc.env[DROPIN_ENV]"]).toBe("v42");
    // tag `network` and the name pattern are off: none of those rules raised anything
    expect(agent.alerts.filter((x) => x.tags.includes("network") || x.rule.startsWith("System Program Name Run From"))).toEqual([]);
  });

  it("serves Falco's webserver /healthz and /versions on listen_port", async () => {
    const h = await fetch(`http://127.0.0.1:${webPort}/healthz`);
    expect(h.status).toBe(200);
    const v = (await (await fetch(`http://127.0.0.1:${webPort}/versions`)).json()) as Record<string, unknown>;
    expect(v["engine_version_semver"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(String(v["falco_version"])).toContain("vigil");
    // each output's counters on /metrics
    const m = await (await fetch(`http://127.0.0.1:${webPort}/metrics`)).text();
    for (const o of ["file_output", "program_output", "http_output"]) {
      expect(m).toMatch(new RegExp(`^vigil_${o}_sent_total [1-9]`, "m"));
      expect(m).toMatch(new RegExp(`^vigil_${o}_dropped_total 0$`, "m"));
      expect(m).toMatch(new RegExp(`^vigil_${o}_queued \\d`, "m"));
    }
  });
});
