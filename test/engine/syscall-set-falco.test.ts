// SPDX-License-Identifier: Apache-2.0
/**
 * The probe syscall set with Falco's wider event table: a rule with no event type turns on every
 * kernel event but the high-volume calls only a rule naming them turns on (read, write, mmap,
 * futex...), and Falco's meta event `container` is never asked of the probe.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { RuleEngine } from "../../agent/engine/rule-engine.js";
import { syscallsFor } from "../../agent/pipeline.js";
import { Capture, EVENTS } from "../../rules/event-table.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-sysset-falco-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function syscalls(cond: string): string[] {
  const file = join(dir, `r${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `- rule: R\n  desc: d\n  condition: ${cond}\n  output: r\n  priority: WARNING\n`);
  return syscallsFor(new RuleEngine({ files: [file], logger: pino({ level: "silent" }) }).load());
}

describe("probe syscall set and Falco's event table", () => {
  it("a rule without an event type: every kernel event but the high-volume ones", () => {
    const all = syscalls("proc.name = nc");
    for (const n of ["recvfrom", "recvmsg", "userfaultfd", "kill", "chroot", "openat", "execve"]) expect(all).toContain(n);
    for (const n of ["read", "write", "mmap", "mprotect", "futex", "ioctl", "newfstatat"]) expect(all).not.toContain(n);
    expect(all).not.toContain("container");
    // and only calls this architecture has (arm64 has no open, inotify_init, epoll_create...)
    const arm = process.arch === "arm64";
    const here = (e: (typeof EVENTS)[number]) => e.hook?.tracepoint === null || (arm ? e.nr.aarch64 : e.nr.x86_64) !== undefined;
    const kernel = EVENTS.filter((e) => e.capture !== Capture.Never && e.explicitOnly !== true && here(e)).length;
    expect(all).toHaveLength(kernel);
    if (arm) expect(all).not.toContain("inotify_init");
    else expect(all).toContain("inotify_init");
  });

  it("a high-volume call named by a rule is asked for", () => {
    expect(syscalls("evt.type = read and fd.name = /etc/shadow")).toContain("read");
  });

  it("the container meta event is known but not asked of the probe", () => {
    const s = syscalls("(evt.type = container or evt.type = execve) and proc.vpid = 1");
    expect(s).toContain("execve");
    expect(s).not.toContain("container");
  });
});
