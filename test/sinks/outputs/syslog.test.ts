// SPDX-License-Identifier: Apache-2.0
/**
 * syslog_output against Debian's rsyslogd: the local socket (imuxsock on a socket in a temp dir,
 * once with the system socket's parser as Debian configures /dev/log, once with the regular
 * parser chain that reads RFC 5424), and, as Vigil's extension, TCP to rsyslog's imtcp through
 * the collector's transport (agent/cli/falco-syslog-remote.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRemoteSyslog } from "../../../agent/cli/falco-syslog-remote.js";
import { falcoTextLine } from "../../../agent/sinks/outputs/falco-format.js";
import { createFalcoOutputs } from "../../../agent/sinks/outputs/index.js";
import { parseSyslogTarget, SyslogOutput } from "../../../agent/sinks/outputs/syslog-output.js";
import { waitFor } from "../../collector/helpers.js";
import { freePort } from "../../helpers/nats.js";
import { RSYSLOGD, Rsyslog } from "../../helpers/rsyslog.js";
import { alert, outputConfig, quiet, rsyslogPki, tempDir } from "./helpers.js";

const sysSock = (d: string) => join(d, "devlog");
const rfcSock = (d: string) => join(d, "rfc5424");

/** rsyslogd with two unix datagram inputs; each message written as a JSON line. */
function startLocalRsyslog(d: string): ChildProcess {
  const q = JSON.stringify;
  const prop = (out: string, name: string) => `property(outname="${out}" name="${name}" format="jsonf") constant(value=",")`;
  writeFileSync(
    join(d, "rsyslog.conf"),
    [
      `global(workDirectory=${q(d)})`,
      `module(load="imuxsock" SysSock.Use="off")`,
      // as Debian's /dev/log: the special parser (the default)
      `input(type="imuxsock" Socket=${q(sysSock(d))} ruleset="r")`,
      `input(type="imuxsock" Socket=${q(rfcSock(d))} UseSpecialParser="off" ParseHostname="on" ruleset="r")`,
      `template(name="j" type="list") { constant(value="{") ${prop("pri", "pri")} ${prop("severity", "syslogseverity")} ${prop("facility", "syslogfacility")} ${prop("tag", "syslogtag")} ${prop("app", "app-name")} ${prop("version", "protocol-version")} ${prop("msg", "msg")} property(outname="raw" name="rawmsg" format="jsonf") constant(value="}\\n") }`,
      `ruleset(name="r") { action(type="omfile" file=${q(join(d, "out.jsonl"))} template="j") }`,
      "",
    ].join("\n"),
  );
  return spawn(RSYSLOGD ?? "rsyslogd", ["-n", "-f", join(d, "rsyslog.conf"), "-i", join(d, "pid")], { stdio: "ignore" });
}

interface Got {
  pri: string;
  severity: string;
  facility: string;
  tag: string;
  app: string;
  version: string;
  msg: string;
  raw: string;
}
const read = (d: string): Got[] =>
  existsSync(join(d, "out.jsonl"))
    ? readFileSync(join(d, "out.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Got)
    : [];

describe.skipIf(RSYSLOGD === undefined)("syslog_output to a real rsyslogd", () => {
  let d: string;
  let rs: ChildProcess;
  beforeAll(async () => {
    d = tempDir("vigil-syslog-out-");
    rs = startLocalRsyslog(d);
    await waitFor(() => existsSync(sysSock(d)) && existsSync(rfcSock(d)), 15_000, "rsyslog sockets");
  });
  afterAll(() => {
    rs.kill("SIGTERM");
  });

  it("writes what syslog(3) writes to the local socket: Debian's parser gets tag, severity and Falco's line", async () => {
    const out = new SyslogOutput({ address: `unix://${sysSock(d)}`, facility: 1, ca_file: "", cert_file: "", key_file: "" }, outputConfig(), quiet());
    const a = alert("A shell was spawned ; $(id) (user=root)", {
      priority: "Warning",
      output: "2026-12-04T21:28:33.000000001Z: Warning A shell was spawned ; $(id) (user=root)",
    });
    await out.export([a]);
    await waitFor(() => read(d).length >= 1, 10_000, "rsyslog wrote the message");
    await out.shutdown();
    const [m] = read(d);
    // facility 1 (user) × 8 + Warning (4)
    expect(m).toMatchObject({ pri: "12", severity: "4", facility: "1", tag: "falco:", app: "falco" });
    expect(m?.msg.trim()).toBe(falcoTextLine(a, outputConfig()));
    expect(out.stats()).toMatchObject({ sent: 1, failed: 0, dropped: 0 });
  });

  it("speaks RFC 5424 to a socket read with the regular parser, JSON alerts intact", async () => {
    const before = read(d).length;
    const out = new SyslogOutput(
      { address: `unix://${rfcSock(d)}`, facility: 4, ca_file: "", cert_file: "", key_file: "" },
      outputConfig({ json: true }),
      quiet(),
      { localFormat: "rfc5424" },
    );
    const a = alert("json through syslog", {
      priority: "Critical",
      time: "2026-12-04T21:28:33.000000001Z",
      output: "2026-12-04T21:28:33.000000001Z: Critical json through syslog",
    });
    await out.export([a]);
    await waitFor(() => read(d).length > before, 10_000, "rsyslog wrote the message");
    await out.shutdown();
    const m = read(d)[before] as Got;
    expect(m).toMatchObject({ pri: "34", severity: "2", facility: "4", app: "falco", version: "1" });
    expect(m.raw.startsWith("<34>1 ")).toBe(true);
    const o = JSON.parse(m.msg.trim()) as Record<string, unknown>;
    expect(o["rule"]).toBe(a.rule);
    expect(o["output"]).toBe("21:28:33.000000001: Critical json through syslog");
  });

  it("sends RFC 5424 over TCP to rsyslog's imtcp (the collector's transport), retrying while it is down", async () => {
    const sd = tempDir("vigil-syslog-tcp-");
    const ports = { udp: await freePort(), tcp: await freePort(), tls: await freePort(), tlsAnon: await freePort() };
    rsyslogPki(sd);
    const r = new Rsyslog(sd, ports);
    const [out] = createFalcoOutputs(
      {
        output: outputConfig({ timeout_ms: 1000 }),
        sinks: { syslog: { enabled: true, address: `tcp://127.0.0.1:${ports.tcp}`, facility: 1, ca_file: "", cert_file: "", key_file: "" } },
      },
      quiet(),
      { remoteSyslog: createRemoteSyslog },
    );
    if (out === undefined) throw new Error("no output");
    try {
      const a = alert("over tcp");
      await out.export([a]);
      // rsyslog is not up yet: the batch is retried
      await waitFor(() => out.stats().retried > 0, 10_000, "a retry");
      await r.start();
      const got = await r.waitReceived(1);
      expect(got[0]?.msg).toBe(falcoTextLine(a, outputConfig()));
      expect(got[0]?.parsed["rfc5424-sd"]?.["vigil@32473"]?.["id"]).toBe(a.id);
      expect(got[0]).toMatchObject({ app: "falco", severity: "5" });
      await waitFor(() => out.stats().sent === 1, 5000, "sent counted");
    } finally {
      await out.shutdown();
      await r.stop();
    }
  }, 60_000);

  it("refuses addresses it cannot use, with the reason", () => {
    expect(parseSyslogTarget("")).toEqual({ kind: "local", path: "/dev/log" });
    expect(() => parseSyslogTarget("http://x:1")).toThrow(/expected "" \(\/dev\/log\)/);
    expect(() => parseSyslogTarget("udp://nohost")).toThrow(/HOST:PORT/);
    expect(() => new SyslogOutput({ address: "tcp://h:514", facility: 1, ca_file: "", cert_file: "", key_file: "" }, outputConfig(), quiet())).toThrow(
      /no remote syslog transport/,
    );
  });
});
