// SPDX-License-Identifier: Apache-2.0
/**
 * A real rsyslog (Debian's rsyslogd) for tests, started in a temp dir with its own config: imudp
 * and imtcp on given loopback ports, imtcp with TLS through the ossl (else gtls) stream driver (one
 * input that requires a client certificate, one that does not; the CA, certificate and key are
 * `ca.crt`, `tls.crt` and `tls.key` in the dir), every message parsed as RFC 5424 by rsyslog and
 * its structured data by mmpstrucdata, written as one JSON line per message, which tests read
 * back. It can be stopped and started again on the same ports (the output file is appended to).
 * rsyslog: https://www.rsyslog.com/doc/configuration/modules/imtcp.html,
 * https://www.rsyslog.com/doc/configuration/modules/mmpstrucdata.html.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { waitFor } from "../collector/helpers.js";

export const RSYSLOGD = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].find((p) => existsSync(p));
const OSSL = existsSync("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so") || existsSync("/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_ossl.so");
const GTLS = existsSync("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so") || existsSync("/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so");
export const TLS_DRIVER = OSSL ? "ossl" : GTLS ? "gtls" : undefined;

/** What rsyslog parsed out of one message (the template below). */
export interface Received {
  pri: string;
  facility: string;
  severity: string;
  version: string;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
  input: string;
  raw: string;
  parsed: { "rfc5424-sd"?: Record<string, Record<string, string>> };
}

/** A real rsyslogd with UDP, TCP, TLS (client certificate required) and TLS (anonymous client) inputs. */
export class Rsyslog {
  proc: ChildProcess | undefined;
  stderr = "";
  readonly out: string;
  readonly conf: string;

  constructor(
    readonly dir: string,
    readonly ports: { udp: number; tcp: number; tls: number; tlsAnon: number },
  ) {
    this.out = join(dir, "out.jsonl");
    this.conf = join(dir, "rsyslog.conf");
    const q = (s: string) => JSON.stringify(s);
    const tls = (port: number, authMode: string) =>
      TLS_DRIVER === undefined
        ? ""
        : `input(type="imtcp" name="tls-${authMode}" address="127.0.0.1" port="${port}" ruleset="r" streamDriver.name="${TLS_DRIVER}" streamDriver.mode="1" streamDriver.authMode="${authMode}" streamDriver.CAFile=${q(join(dir, "ca.crt"))} streamDriver.CertFile=${q(join(dir, "tls.crt"))} streamDriver.KeyFile=${q(join(dir, "tls.key"))})`;
    const prop = (out: string, name: string, extra = "") => `property(outname="${out}" name="${name}" format="jsonf"${extra}) constant(value=",")`;
    // maxMessageSize stays at rsyslog's default (8k): what the destination sends must fit a stock receiver
    writeFileSync(
      this.conf,
      [
        `global(workDirectory=${q(dir)})`,
        `module(load="imudp")`,
        `module(load="imtcp" maxSessions="50")`,
        `module(load="mmpstrucdata")`,
        `input(type="imudp" name="udp" address="127.0.0.1" port="${ports.udp}" ruleset="r")`,
        `input(type="imtcp" name="tcp" address="127.0.0.1" port="${ports.tcp}" ruleset="r")`,
        tls(ports.tls, "x509/certvalid"),
        tls(ports.tlsAnon, "anon"),
        `template(name="j" type="list") {`,
        `  constant(value="{")`,
        prop("pri", "pri"),
        prop("facility", "syslogfacility"),
        prop("severity", "syslogseverity"),
        prop("version", "protocol-version"),
        prop("timestamp", "timereported", ` dateFormat="rfc3339"`),
        prop("hostname", "hostname"),
        prop("app", "app-name"),
        prop("procid", "procid"),
        prop("msgid", "msgid"),
        prop("sd", "structured-data"),
        prop("msg", "msg"),
        prop("input", "inputname"),
        prop("raw", "rawmsg"),
        `  constant(value="\\"parsed\\":") property(name="$!") constant(value="}\\n")`,
        `}`,
        `ruleset(name="r") {`,
        `  action(type="mmpstrucdata" sd_name.lowercase="off")`,
        `  action(type="omfile" file=${q(this.out)} template="j")`,
        `}`,
        "",
      ].join("\n"),
    );
  }

  async start(): Promise<void> {
    if (this.proc !== undefined) return;
    this.stderr = "";
    const p = spawn(RSYSLOGD ?? "rsyslogd", ["-n", "-f", this.conf, "-i", join(this.dir, "rsyslogd.pid")], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = p;
    const keep = (c: Buffer) => {
      this.stderr = (this.stderr + c.toString("utf8")).slice(-8192);
    };
    p.stdout?.on("data", keep);
    p.stderr?.on("data", keep);
    p.once("exit", () => {
      if (this.proc === p) this.proc = undefined;
    });
    const ports = [this.ports.tcp, ...(TLS_DRIVER !== undefined ? [this.ports.tls, this.ports.tlsAnon] : [])];
    await waitFor(
      async () => {
        if (this.proc === undefined) throw new Error(`rsyslogd exited:\n${this.stderr}`);
        const up = await Promise.all(ports.map((port) => canConnect(port)));
        return up.every(Boolean);
      },
      15_000,
      "rsyslogd listening",
    );
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }

  /** Messages written before the last {@link mark}. */
  private seen = 0;

  private all(): Received[] {
    if (!existsSync(this.out)) return [];
    const text = readFileSync(this.out, "utf8");
    // only whole lines: rsyslog may be in the middle of writing the last one (a large message is
    // written in more than one write)
    return (
      text
        .slice(0, text.lastIndexOf("\n") + 1)
        .split("\n")
        .filter((l) => l !== "")
        // rsyslog writes nothing for `$!` when the message had no structured data
        .map((l) => JSON.parse(l.endsWith('"parsed":}') ? `${l.slice(0, -1)}{}}` : l) as Received)
    );
  }

  /** Every message rsyslog wrote since the last {@link mark}. */
  received(): Received[] {
    return this.all().slice(this.seen);
  }

  /** Waits until rsyslog wrote at least n messages; returns them all. */
  async waitReceived(n: number): Promise<Received[]> {
    await waitFor(() => this.received().length >= n, 10_000, `${n} messages in rsyslog's output (stderr: ${this.stderr})`);
    return this.received();
  }

  /** Later calls of {@link received} see only messages written from now on. */
  mark(): void {
    this.seen = this.all().length;
  }
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
