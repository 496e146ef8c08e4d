// SPDX-License-Identifier: Apache-2.0
/**
 * rules/syscall-numbers.ts is generated from the kernel's unistd headers of each architecture
 * (scripts/gen-syscall-numbers.mjs): regenerated into a temporary folder it must be byte for byte
 * the committed file, and the event table's numbers are the generated tables' entries.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Capture, eventByName, EVENTS, NEWER_SYSCALLS } from "../../rules/event-table.js";
import { AARCH64_SYSCALLS, I386_SYSCALLS, X86_64_SYSCALLS } from "../../rules/syscall-numbers.js";
import { REPO_ROOT } from "../helpers/agent.js";

const HEADERS = [
  "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
  "/usr/include/x86_64-linux-gnu/asm/unistd_32.h",
  "/usr/aarch64-linux-gnu/include/asm/unistd.h",
];
const missing = HEADERS.filter((f) => !existsSync(f));
const SCRIPT = join(REPO_ROOT, "scripts", "gen-syscall-numbers.mjs");

describe("generated syscall numbers", () => {
  it.skipIf(missing.length > 0)(
    `rules/syscall-numbers.ts is what the headers give (regenerate: node scripts/gen-syscall-numbers.mjs)${missing.length > 0 ? `; missing ${missing.join(", ")}` : ""}`,
    () => {
      const out = join(mkdtempSync(join(tmpdir(), "vigil-syscall-numbers-")), "syscall-numbers.ts");
      execFileSync(process.execPath, [SCRIPT, out], { stdio: "pipe" });
      const fresh = readFileSync(out, "utf8");
      expect(readFileSync(join(REPO_ROOT, "rules", "syscall-numbers.ts"), "utf8")).toBe(fresh);
      // the comparison can fail: the fresh file has real tables in it
      expect(fresh).toContain("  openat: 257,");
      expect(fresh).toContain("  openat: 56,");
      expect(fresh).toContain("  openat: 295,");
    },
  );

  it("each architecture has its own table: arm64 is the generic one (no open, fork, chmod; renameat kept)", () => {
    expect([X86_64_SYSCALLS["read"], AARCH64_SYSCALLS["read"], I386_SYSCALLS["read"]]).toEqual([0, 63, 3]);
    expect([X86_64_SYSCALLS["execve"], AARCH64_SYSCALLS["execve"], I386_SYSCALLS["execve"]]).toEqual([59, 221, 11]);
    for (const name of ["open", "creat", "fork", "vfork", "chmod", "chown", "unlink", "rename", "dup2"]) expect(AARCH64_SYSCALLS[name], name).toBeUndefined();
    expect(AARCH64_SYSCALLS["renameat"]).toBe(38);
    // __NR3264_* and (__NR_arch_specific_syscall + n) resolved; the marker macros left out
    expect(AARCH64_SYSCALLS["fcntl"]).toBe(25);
    expect(AARCH64_SYSCALLS["ftruncate"]).toBe(46);
    expect(AARCH64_SYSCALLS["syscalls"]).toBeUndefined();
    expect(AARCH64_SYSCALLS["arch_specific_syscall"]).toBeUndefined();
    expect(I386_SYSCALLS["setuid32"]).toBe(213);
  });

  it("the event table's numbers come from the generated tables", () => {
    for (const e of EVENTS) {
      // calls newer than the headers carry their numbers in the event table (event-table-gen.test.ts checks them)
      if (e.capture === Capture.Never || e.name === "procexit" || NEWER_SYSCALLS[e.name] !== undefined) continue;
      expect([e.name, e.nr.x86_64]).toEqual([e.name, X86_64_SYSCALLS[e.name]]);
      expect([e.name, e.nr.aarch64]).toEqual([e.name, AARCH64_SYSCALLS[e.name]]);
    }
    expect(eventByName("setuid")?.nr.i386).toBe(I386_SYSCALLS["setuid32"]);
    expect(eventByName("openat")?.nr.i386).toBe(I386_SYSCALLS["openat"]);
    expect(eventByName("chown")?.nr.i386).toBeUndefined();
  });
});
