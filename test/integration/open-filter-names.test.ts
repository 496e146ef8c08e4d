// SPDX-License-Identifier: Apache-2.0
/**
 * The open filter's name check (native-bridge/probe/filter.h: one read per struct, names taken
 * from the dentry's inline store or through their pointer, mount roots crossed to their
 * mountpoints) against the real kernel and the real agent, with a rule whose push-down is
 * "leaf ∈ {44-byte name, pam.conf} ∧ dir ∈ {44-byte name, sd}": every way of opening a watched
 * file — absolute, through a symlink, relative to the working directory, with "..", relative to a
 * directory descriptor, through a bind-mounted directory and onto a bind-mounted file, with names
 * stored out of line (44 bytes) and inline (short) — alerts with the filter on exactly as with
 * `--no-kernel-filter`, while look-alike names (same length and first byte as a watched one, so
 * the hints pass and only the hashed key tells) are dropped in the kernel.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";

const LONG_LEAF = "l".repeat(44);
const LONG_DIR = "d".repeat(44);

// python3: os.open with dir_fd is a real openat(dirfd, ...)
const WORKLOAD = `
import os, sys
root, case = sys.argv[1], sys.argv[2]
def o(p, **kw):
    try:
        os.close(os.open(p, os.O_RDONLY, **kw))
    except OSError:
        pass
D, L = "${LONG_DIR}", "${LONG_LEAF}"
if case == "abs": o(f"{root}/{D}/{L}")
elif case == "symlink": o(f"{root}/innocent")
elif case == "relative":
    os.chdir(f"{root}/{D}"); o(L)
elif case == "dotdot": o(f"{root}/{D}/../{D}/./{L}")
elif case == "dirfd":
    fd = os.open(f"{root}/{D}", os.O_RDONLY | os.O_DIRECTORY); o("pam.conf", dir_fd=fd); os.close(fd)
elif case == "short": o(f"{root}/sd/pam.conf")
elif case == "bind-dir": o(f"{root}/mnt/sd/pam.conf")
elif case == "bind-file": o(f"{root}/bf/{D}/pam.conf")
elif case == "noise":
    for i in range(1000):
        o(f"{root}/{D}/pam.conX")
        o(f"{root}/se/pam.conf")
        o(f"{root}/{D}/" + "l" * 43 + "x")
`;

const CASES = ["abs", "symlink", "relative", "dotdot", "dirfd", "short", "bind-dir", "bind-file"] as const;

function run(root: string, c: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn("python3", [join(root, "w.py"), root, c], { stdio: "ignore" });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`workload ${c} exited with ${code}`))));
  });
}

function kernelFiltered(agent: RunningAgent): number {
  let n = -1;
  for (const l of agent.logs) {
    const s = (l["stats"] as Record<string, Record<string, number>> | undefined)?.["source_ebpf"];
    if (s?.["kernel_filtered"] !== undefined) n = s["kernel_filtered"];
  }
  return n;
}

describe("open filter names: every path to a watched file alerts as without the filter (real kernel)", () => {
  let root: string;
  const mounts: string[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "vigil-fnames-"));
    writeFileSync(join(root, "w.py"), WORKLOAD);
    for (const d of [LONG_DIR, "sd", "se", "src", "mnt/sd", `bf/${LONG_DIR}`]) mkdirSync(join(root, d), { recursive: true });
    for (const f of [
      `${LONG_DIR}/${LONG_LEAF}`,
      `${LONG_DIR}/pam.conf`,
      `${LONG_DIR}/pam.conX`,
      `${LONG_DIR}/${"l".repeat(43)}x`,
      "sd/pam.conf",
      "se/pam.conf",
      "src/pam.conf",
      "src-file",
      `bf/${LONG_DIR}/pam.conf`,
    ])
      writeFileSync(join(root, f), "x\n");
    symlinkSync(join(root, LONG_DIR, LONG_LEAF), join(root, "innocent"));
    // a directory named "src" seen as ".../mnt/sd", and a file named "src-file" seen as ".../pam.conf"
    execFileSync("mount", ["--bind", join(root, "src"), join(root, "mnt", "sd")]);
    mounts.push(join(root, "mnt", "sd"));
    execFileSync("mount", ["--bind", join(root, "src-file"), join(root, "bf", LONG_DIR, "pam.conf")]);
    mounts.push(join(root, "bf", LONG_DIR, "pam.conf"));
    writeFileSync(
      join(root, "rules.yaml"),
      `- rule: Watched Name Opened
  desc: test rule (open filter names)
  condition: evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0 and fd.name in (${root}/${LONG_DIR}/${LONG_LEAF}, ${root}/sd/pam.conf, ${root}/${LONG_DIR}/pam.conf, ${root}/mnt/sd/pam.conf, ${root}/bf/${LONG_DIR}/pam.conf)
  output: "watched %fd.name case=%proc.cmdline"
  priority: WARNING
`,
    );
  });

  afterAll(() => {
    for (const m of mounts.reverse()) {
      try {
        execFileSync("umount", [m]);
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  async function under(filter: boolean): Promise<{ alerts: string[]; filtered: number }> {
    const args = ["--no-containerd", "--stats-interval", "1", "--rules", join(root, "rules.yaml")];
    if (!filter) args.push("--no-kernel-filter");
    const agent = await startAgent(args, 90_000);
    try {
      for (const c of CASES) await run(root, c);
      await run(root, "noise");
      await agent.waitForAlert((a) => String(a.output_fields["proc.cmdline"] ?? "").endsWith(" bind-file"), 15_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1500));
      const seen = agent.logs.length;
      await agent.waitForLog((l) => agent.logs.indexOf(l) >= seen && l["stats"] !== undefined, 5_000).catch(() => undefined);
      const mine = agent.alerts.filter((a) => a.output.includes(root) && a.rule === "Watched Name Opened");
      const cases = mine.map((a) => {
        const cmd = String(a.output_fields["proc.cmdline"] ?? "");
        const c = CASES.find((k) => cmd.endsWith(` ${k}`)) ?? `? (${cmd})`;
        return `${c} | ${String(a.output_fields["fd.name"] ?? "")}`;
      });
      return { alerts: [...new Set(cases)].sort(), filtered: kernelFiltered(agent) };
    } finally {
      await agent.stop("SIGINT");
    }
  }

  it("same alerts with and without the kernel filter; look-alikes dropped in the kernel", async () => {
    const on = await under(true);
    const off = await under(false);
    const D = join(root, LONG_DIR);
    expect(on.alerts).toEqual(
      [
        `abs | ${D}/${LONG_LEAF}`,
        `bind-dir | ${root}/mnt/sd/pam.conf`,
        `bind-file | ${root}/bf/${LONG_DIR}/pam.conf`,
        `dirfd | ${D}/pam.conf`,
        `dotdot | ${D}/${LONG_LEAF}`,
        `relative | ${D}/${LONG_LEAF}`,
        `short | ${root}/sd/pam.conf`,
        `symlink | ${D}/${LONG_LEAF}`,
      ].sort(),
    );
    expect(on.alerts).toEqual(off.alerts);
    expect(off.filtered).toBe(0);
    // 3,000 look-alike opens (and the node's own) never leave the kernel
    expect(on.filtered).toBeGreaterThan(3000);
  }, 240_000);
});
