// SPDX-License-Identifier: Apache-2.0
/**
 * `log.syslog` (Falco's `log_syslog`): the agent's own log lines reach Debian's real rsyslogd on a
 * unix datagram socket through vigil-syslog, with the severity of their level; with the helper
 * missing the log still goes on, said once; `log.stderr: false` keeps stderr quiet.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../agent/log.js";
import { SyslogLogStream } from "../../agent/log-syslog.js";
import { defaultSyslogHelperPath } from "../../agent/sinks/outputs/syslog-output.js";
import { waitFor } from "../collector/helpers.js";
import { RSYSLOGD } from "../helpers/rsyslog.js";
import { completeJsonLines } from "../helpers/json-lines.js";

describe("the agent's log to syslog", () => {
  const d = mkdtempSync(join(tmpdir(), "vigil-log-syslog-"));
  const sock = join(d, "devlog");
  let rsyslog: ChildProcess;

  beforeAll(async () => {
    const q = JSON.stringify;
    writeFileSync(
      join(d, "rsyslog.conf"),
      [
        `global(workDirectory=${q(d)})`,
        `module(load="imuxsock" SysSock.Use="off")`,
        `input(type="imuxsock" Socket=${q(sock)} ruleset="r")`,
        `template(name="j" type="list") { constant(value="{") property(outname="severity" name="syslogseverity" format="jsonf") constant(value=",") property(outname="facility" name="syslogfacility" format="jsonf") constant(value=",") property(outname="tag" name="syslogtag" format="jsonf") constant(value=",") property(outname="msg" name="msg" format="jsonf") constant(value="}\\n") }`,
        `ruleset(name="r") { action(type="omfile" file=${q(join(d, "out.jsonl"))} template="j") }`,
        "",
      ].join("\n"),
    );
    rsyslog = spawn(RSYSLOGD ?? "rsyslogd", ["-n", "-f", join(d, "rsyslog.conf"), "-i", join(d, "pid")], { stdio: "ignore" });
    await waitFor(() => existsSync(sock), 15_000, "the rsyslog socket");
  });
  afterAll(() => {
    rsyslog?.kill("SIGTERM");
    rmSync(d, { recursive: true, force: true });
  });

  const got = () => completeJsonLines<{ severity: string; facility: string; tag: string; msg: string }>(join(d, "out.jsonl"));

  it("sends each line with its level's severity, facility daemon, tag vigil[PID]", async () => {
    const s = new SyslogLogStream(defaultSyslogHelperPath(), sock);
    const log = createLogger("info", { format: "json", stderr: false, also: s });
    log.info({ n: 1 }, "vigil agent ready");
    log.error("rules file failed");
    log.debug("below the level");
    await waitFor(() => got().length >= 2, 10_000, "two messages in rsyslog");
    s.close();
    const [a, b] = got();
    expect(a!.tag).toBe(`vigil[${process.pid}]:`);
    expect(a!.facility).toBe("3");
    expect(a!.severity).toBe("6");
    expect(JSON.parse(a!.msg.trim())).toMatchObject({ msg: "vigil agent ready", n: 1 });
    expect(b!.severity).toBe("3");
    expect(got().some((x) => x.msg.includes("below the level"))).toBe(false);
    expect(s.written).toBe(2);
  });

  it("with the helper missing: says so once, counts the lines, and logging goes on", () => {
    const said: string[] = [];
    const s = new SyslogLogStream(join(d, "no-such-helper"), sock, (m) => said.push(m));
    const lines: string[] = [];
    const also = {
      write: (l: string) => {
        lines.push(l);
        s.write(l);
      },
    };
    const log = createLogger("info", { format: "json", stderr: false, also });
    log.info("one");
    log.info("two");
    expect(lines).toHaveLength(2);
    expect(s.dropped).toBe(2);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("vigil-syslog helper is missing");
  });
});
