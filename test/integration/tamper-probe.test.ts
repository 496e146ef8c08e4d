// SPDX-License-Identifier: Apache-2.0
/**
 * The metadata-tampering values the probe reads (native-bridge/probe/tamper.h), against the real
 * kernel and the real agent: explicit times through each call of the utime family arrive as
 * atime/mtime (nanoseconds) and "now" arrives without them; futimens names its file through the
 * fd; chattr's FS_IOC_SETFLAGS arrives with the flags set, while its FS_IOC_GETFLAGS (any request
 * other than the inode-flag ones and TIOCSTI) stays in the kernel; setxattr carries name and size.
 * The calls are made by vigil-attack (test/scenarios/attack.c), built here.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type JsonAlert } from "../helpers/agent.js";

const RULES = `
- rule: tamper probe times
  desc: every utime-family call
  condition: evt.type in (utimensat, futimesat, utimes)
  output: "T type=%evt.type atime=%evt.arg.atime mtime=%evt.arg.mtime path=%fs.path.name file=%fd.name"
  priority: WARNING
- rule: tamper probe ioctl
  desc: every ioctl the probe sends
  condition: evt.type = ioctl
  output: "I request=%evt.arg.request flags=%evt.arg.fsflags file=%fd.name"
  priority: WARNING
- rule: tamper probe xattr
  desc: every xattr set
  condition: evt.type in (setxattr, lsetxattr, fsetxattr)
  output: "X type=%evt.type name=%evt.arg.name size=%evt.arg.size file=%fd.name path=%fs.path.name"
  priority: WARNING
`;
const T_NS = "1552555613000000000";
const SETFLAGS = String(0x40086602);
const GETFLAGS = String(0x80086601);

describe("tamper values read by the probe (real kernel)", () => {
  let dir: string;
  let attack: string;
  beforeAll(() => {
    // a directory on the root file system: tmpfs may refuse inode flags
    dir = mkdtempSync(join("/var/tmp", "vigil-tamper-"));
    attack = join(mkdtempSync(join(tmpdir(), "vigil-tamper-bin-")), "vigil-attack");
    execFileSync("gcc", ["-O2", "-o", attack, new URL("../scenarios/attack.c", import.meta.url).pathname], { stdio: "pipe" });
    writeFileSync(join(dir, "rules.yaml"), RULES);
  }, 60_000);
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("times, inode flags (other ioctls dropped in the kernel) and xattr sizes", async () => {
    const agent = await startAgent(["--no-containerd", "--rules", join(dir, "rules.yaml")], 90_000);
    const f = join(dir, "target");
    writeFileSync(f, "x");
    const run = (...a: string[]): void => {
      execFileSync(attack, a, { stdio: "pipe" });
    };
    try {
      run("utime", "utimensat", f);
      run("utime", "now", f);
      run("utime", "futimens", f);
      run("utime", "mtime-only", f);
      run("utime", "futimesat", f);
      run("utime", "utimes", f);
      run("chattr", "+a", f);
      run("chattr", "-a", f);
      run("xattr", "setxattr", f, "user.vigiltest", "hello");
      await agent.waitForAlert((a) => a.rule === "tamper probe xattr" && a.output.includes(dir), 15_000);
      // the ioctl frames come before the xattr one; give the pipeline a moment anyway
      await new Promise((r) => setTimeout(r, 500));
      // the text of each alert of ours from its marker on (the JSON output starts with the time and priority)
      const mine = (p: string): string[] =>
        agent.alerts
          .filter((a: JsonAlert) => a.output.includes(p) && a.output.includes(dir))
          .map((a) => {
            // up to the container fields appended to every alert (Falco's append_output)
            const t = a.output.slice(a.output.indexOf(p));
            const end = t.indexOf(" container_id=");
            return end < 0 ? t : t.slice(0, end);
          });
      const times = mine("T type=");
      expect(times).toContain(`T type=utimensat atime=${T_NS} mtime=${T_NS} path=${f} file=<NA>`);
      expect(times).toContain(`T type=utimensat atime=<NA> mtime=<NA> path=${f} file=<NA>`);
      expect(times).toContain(`T type=utimensat atime=${T_NS} mtime=${T_NS} path=<NA> file=${f}`);
      expect(times).toContain(`T type=utimensat atime=<NA> mtime=${T_NS} path=${f} file=<NA>`);
      expect(times).toContain(`T type=futimesat atime=${T_NS} mtime=${T_NS} path=${f} file=<NA>`);
      expect(times).toContain(`T type=utimes atime=${T_NS} mtime=${T_NS} path=${f} file=<NA>`);
      const ioctls = mine("I request=");
      // +a then -a: two FS_IOC_SETFLAGS, the append flag set then cleared; chattr's two GETFLAGS never sent
      expect(ioctls.length).toBe(2);
      expect(ioctls[0]).toMatch(new RegExp(`^I request=${SETFLAGS} flags=\\S*FS_APPEND_FL`));
      expect(ioctls[1]).toMatch(new RegExp(`^I request=${SETFLAGS} flags=`));
      expect(ioctls[1]).not.toContain("FS_APPEND_FL");
      expect(ioctls.join("\n")).not.toContain(GETFLAGS);
      expect(mine("X type=")).toEqual([`X type=setxattr name=user.vigiltest size=5 file=<NA> path=${f}`]);
    } finally {
      await agent.stop("SIGINT");
    }
  }, 150_000);
});
