// SPDX-License-Identifier: Apache-2.0
/**
 * syslog_output against Debian's rsyslogd: the local socket (imuxsock on a socket in a temp dir,
 * once with the system socket's parser as Debian configures /dev/log, once with the regular
 * parser chain that reads RFC 5424) through vigil-syslog (native-bridge/syslog/) and through
 * util-linux's logger (the fallback); rsyslog restarted mid-stream, a socket that appears late, no
 * writer at all; vigil-syslog on its own (truncation, drops, exit); and, as Vigil's extension, TCP
 * to rsyslog's imtcp through the collector's transport (agent/cli/falco-syslog-remote.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRemoteSyslog } from "../../../agent/cli/falco-syslog-remote.js";
import { falcoTextLine } from "../../../agent/sinks/outputs/falco-format.js";
import { createFalcoOutputs } from "../../../agent/sinks/outputs/index.js";
import { defaultSyslogHelperPath, formatLocalMessage, parseSyslogTarget, SyslogOutput, syslogTimestamp } from "../../../agent/sinks/outputs/syslog-output.js";
import { waitFor } from "../../collector/helpers.js";
import { freePort } from "../../helpers/nats.js";
import { RSYSLOGD, Rsyslog } from "../../helpers/rsyslog.js";
import { alert, outputConfig, quiet, rsyslogPki, tempDir } from "./helpers.js";
import { completeJsonLines } from "../../helpers/json-lines.js";

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
const HELPER = defaultSyslogHelperPath() ?? "";
const HAVE_HELPER = existsSync(HELPER);
const LOCAL = { facility: 1, ca_file: "", cert_file: "", key_file: "" };

/** A pino logger whose warnings and infos land in `lines`. */
function recording(): { logger: ReturnType<typeof pino>; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { logger, lines };
}

/** rsyslogd on sysSock(d)/rfcSock(d), stopped and started again at will. */
class LocalRsyslog {
  proc: ChildProcess | undefined;
  constructor(readonly d: string) {}
  async start(): Promise<void> {
    this.proc = startLocalRsyslog(this.d);
    await waitFor(() => existsSync(sysSock(this.d)) && existsSync(rfcSock(this.d)), 15_000, "rsyslog sockets");
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await gone;
    this.proc = undefined;
  }
}

const read = (d: string): Got[] => completeJsonLines<Got>(join(d, "out.jsonl"));

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
    expect(out.localWriter).toBe(HAVE_HELPER ? "vigil-syslog" : "logger");
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
    expect(out.localWriter).toBe(HAVE_HELPER ? "vigil-syslog" : "logger");
    const o = JSON.parse(m.msg.trim()) as Record<string, unknown>;
    expect(o["rule"]).toBe(a.rule);
    expect(o["output"]).toBe("21:28:33.000000001: Critical json through syslog");
  });

  it.skipIf(!existsSync("/usr/bin/logger") && !existsSync("/bin/logger"))("falls back to util-linux's logger when vigil-syslog is not there", async () => {
    const before = read(d).length;
    const out = new SyslogOutput({ address: `unix://${sysSock(d)}`, ...LOCAL }, outputConfig(), quiet(), { helperPath: null });
    const a = alert("through logger", { priority: "Error" });
    await out.export([a]);
    await waitFor(() => read(d).length > before, 10_000, "rsyslog wrote the message");
    expect(out.localWriter).toBe("logger");
    await out.shutdown();
    const m = read(d)[before] as Got;
    expect(m).toMatchObject({ pri: "11", severity: "3", tag: "falco:", app: "falco" });
    expect(m.msg.trim()).toBe(falcoTextLine(a, outputConfig()));
    expect(out.stats()).toMatchObject({ sent: 1, failed: 0, dropped: 0 });
  });

  it.skipIf(!HAVE_HELPER)(
    "rsyslog restarted mid-stream: the same vigil-syslog reconnects; what was sent while it was down and after arrives",
    async () => {
      const rd = tempDir("vigil-syslog-restart-");
      const r = new LocalRsyslog(rd);
      await r.start();
      const out = new SyslogOutput({ address: `unix://${sysSock(rd)}`, ...LOCAL }, outputConfig(), quiet());
      try {
        const sent = [alert("before the restart")];
        await out.export(sent);
        await waitFor(() => read(rd).length >= 1, 10_000, "the first message");
        const pid = out.helperPid;
        expect(pid).toBeDefined();
        await r.stop();
        const down = alert("while rsyslog is down");
        await out.export([down]);
        await waitFor(() => out.stats().sent === 2, 10_000, "vigil-syslog took the alert");
        await r.start();
        const after = [alert("after the restart, 1"), alert("after the restart, 2")];
        await out.export(after);
        await waitFor(() => read(rd).length >= 4, 15_000, "the later messages");
        const got = read(rd).map((m) => m.msg.trim());
        expect(got).toEqual([...sent, down, ...after].map((a) => falcoTextLine(a, outputConfig())));
        for (const m of read(rd)) expect(m).toMatchObject({ tag: "falco:", pri: "13" });
        // reconnected, not restarted
        expect(out.helperPid).toBe(pid);
        expect(out.stats()).toMatchObject({ sent: 4, failed: 0, dropped: 0 });
      } finally {
        await out.shutdown();
        await r.stop();
      }
    },
    60_000,
  );

  it.skipIf(!HAVE_HELPER)(
    "alerts vigil-syslog could not send within its hold time are counted dropped, not sent",
    async () => {
      const rd = tempDir("vigil-syslog-drop-");
      const r = new LocalRsyslog(rd);
      await r.start();
      const { logger, lines } = recording();
      const out = new SyslogOutput({ address: `unix://${sysSock(rd)}`, ...LOCAL }, outputConfig(), logger, { helperHoldMs: 300 });
      try {
        await out.export([alert("arrives")]);
        await waitFor(() => read(rd).length >= 1, 10_000, "the first message");
        await r.stop();
        await out.export([alert("lost 1"), alert("lost 2")]);
        await waitFor(() => out.stats().dropped === 2, 10_000, "the drops reported");
        expect(out.stats()).toMatchObject({ sent: 1, failed: 0, dropped: 2 });
        expect(lines.some((l) => l.level === 40 && /vigil-syslog dropped/.test(l.msg) && /dropped=2 /.test(String(l["helper"])))).toBe(true);
      } finally {
        await out.shutdown();
        await r.stop();
      }
    },
    30_000,
  );

  it("a socket that is not there yet: starts, warns once naming it, counts alerts failed, delivers once it appears", async () => {
    const rd = tempDir("vigil-syslog-late-");
    const { logger, lines } = recording();
    const out = new SyslogOutput({ address: `unix://${sysSock(rd)}`, ...LOCAL }, outputConfig(), logger, { recheckMs: 300 });
    const r = new LocalRsyslog(rd);
    try {
      await out.export([alert("no socket 1"), alert("no socket 2")]);
      await waitFor(() => out.stats().failed === 2, 5000, "counted failed");
      // looked for again (and still missing): no second warning
      await new Promise((res) => setTimeout(res, 500));
      await out.export([alert("no socket 3")]);
      await waitFor(() => out.stats().failed === 3, 5000, "counted failed");
      const warns = lines.filter((l) => l.level >= 40);
      expect(warns).toHaveLength(1);
      expect(warns[0]).toMatchObject({ reason: "the syslog socket does not exist", missing: [sysSock(rd)], socket: sysSock(rd) });
      expect(warns[0]?.msg).toMatch(/cannot write to the local syslog socket: its alerts count as failed/);
      expect(out.stats()).toMatchObject({ sent: 0, failed: 3, dropped: 0 });
      await r.start();
      await new Promise((res) => setTimeout(res, 400));
      const a = alert("the socket is there");
      await out.export([a]);
      await waitFor(() => read(rd).length >= 1, 10_000, "the message");
      expect(read(rd)[0]?.msg.trim()).toBe(falcoTextLine(a, outputConfig()));
      await waitFor(() => out.stats().sent === 1, 5000, "sent counted");
      expect(out.stats()).toMatchObject({ sent: 1, failed: 3, dropped: 0 });
      expect(lines.some((l) => /socket is there: delivering/.test(l.msg))).toBe(true);
    } finally {
      await out.shutdown();
      await r.stop();
    }
  }, 30_000);

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
    // a bad address throws even though a missing socket does not
    expect(() => new SyslogOutput({ address: "unix://dev/log", ...LOCAL }, outputConfig(), quiet())).toThrow(/absolute path/);
  });
});

describe("syslog_output without a writer", () => {
  it("neither vigil-syslog nor logger: starts, warns once naming where it looked, counts alerts failed", async () => {
    const d = tempDir("vigil-syslog-none-");
    const { logger, lines } = recording();
    const out = new SyslogOutput({ address: `unix://${join(d, "devlog")}`, ...LOCAL }, outputConfig(), logger, {
      helperPath: join(d, "no-vigil-syslog"),
      loggerPath: null,
      recheckMs: 100,
    });
    await out.export([alert("a")]);
    await new Promise((res) => setTimeout(res, 250));
    await out.export([alert("b"), alert("c")]);
    await waitFor(() => out.stats().failed === 3, 5000, "counted failed");
    await out.shutdown();
    expect(out.localWriter).toBeUndefined();
    expect(out.stats()).toMatchObject({ sent: 0, failed: 3, dropped: 0, queued: 0 });
    const warns = lines.filter((l) => l.level >= 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ reason: "neither vigil-syslog nor util-linux's logger was found", missing: [join(d, "no-vigil-syslog")] });
  });

  it("formats what syslog(3) writes, or RFC 5424", () => {
    const t = new Date(2026, 11, 4, 9, 5, 7, 123);
    expect(syslogTimestamp(t)).toBe("Dec  4 09:05:07");
    expect(formatLocalMessage(12, "body", "local", t)).toBe("<12>Dec  4 09:05:07 falco: body");
    expect(formatLocalMessage(34, "body", "rfc5424", t, "node 1")).toBe(`<34>1 ${t.toISOString()} node1 falco ${process.pid} - - body`);
  });
});

describe.skipIf(RSYSLOGD === undefined || !HAVE_HELPER)("vigil-syslog", () => {
  const ts = () => syslogTimestamp(new Date());

  it("sends each line as one datagram, cuts a line past --max-bytes (counted), sends a last line without newline, exits 0 at EOF", async () => {
    const d = tempDir("vigil-syslog-bin-");
    const r = new LocalRsyslog(d);
    await r.start();
    try {
      const long = `<13>${ts()} falco: ${"x".repeat(300)}`;
      const res = spawnSync(HELPER, ["--max-bytes", "100", sysSock(d)], {
        input: `${long}\n\n<14>${ts()} falco: short\n<9>${ts()} falco: last`,
        encoding: "utf8",
        timeout: 10_000,
      });
      expect(res.status).toBe(0);
      expect(res.stderr).toMatch(/^vigil-syslog: dropped=0 truncated=1 total_dropped=0 total_truncated=1 socket=/m);
      await waitFor(() => read(d).length >= 3, 10_000, "three messages");
      const got = read(d);
      expect(got).toHaveLength(3);
      expect(got[0]?.raw).toBe(long.slice(0, 100));
      expect(got[1]).toMatchObject({ pri: "14", tag: "falco:" });
      expect(got[1]?.msg.trim()).toBe("short");
      expect(got[2]).toMatchObject({ pri: "9" });
      expect(got[2]?.msg.trim()).toBe("last");
    } finally {
      await r.stop();
    }
  }, 30_000);

  it("with no socket: a bounded queue, what waited past --hold-ms dropped and counted, exit 0 at EOF", () => {
    const d = tempDir("vigil-syslog-bin-");
    const input = Array.from({ length: 50 }, (_, i) => `<13>${ts()} falco: message ${i}\n`).join("");
    const t0 = Date.now();
    const res = spawnSync(HELPER, ["--queue", "4", "--hold-ms", "100", "--drain-ms", "100", join(d, "missing")], { input, encoding: "utf8", timeout: 20_000 });
    expect(res.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(res.stderr).toMatch(/socket .*missing: No such file or directory: reconnecting with backoff/);
    const totals = [...res.stderr.matchAll(/total_dropped=(\d+)/g)].map((m) => Number(m[1]));
    expect(totals.at(-1)).toBe(50);
    // the queue holds 4: lines are read as room is made, the first report already counted some
    expect(res.stderr).toMatch(/error=No such file or directory/);
  });

  it("refuses bad arguments with a usage line (exit 2)", () => {
    for (const args of [["--bogus", "1"], ["--max-bytes", "x"], ["/a", "/b"], [`/${"p".repeat(200)}`]]) {
      const res = spawnSync(HELPER, args, { input: "", encoding: "utf8", timeout: 5000 });
      expect(res.status, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(/vigil-syslog: /);
    }
    const help = spawnSync(HELPER, ["--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: vigil-syslog/);
  });
});
