// SPDX-License-Identifier: Apache-2.0
/**
 * The arm64 build, checked on this x86_64 machine (nothing here runs on real arm64 hardware):
 * `make -C native-bridge cross-arm64` builds build/arm64/{probe.bpf.o,vigil-probe,vigil-trace,vigil-syslog,vigil-mem.node};
 * the arm64 probe reads syscall arguments through arm64's registers only (its CO-RE relocations,
 * read from .BTF.ext), the x86 probe through x86's, and apart from those registers the two objects
 * relocate exactly the same kernel fields; the programs are ELF for the right machine, link
 * libbpf/libelf/zlib statically, and start under qemu-user, where the wire structs' layout is the
 * x86 one.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/agent.js";
import { type CoreRelocation, coreRelocations, EM_AARCH64, EM_BPF, EM_X86_64, elfHeader, elfNeeded } from "../helpers/elf.js";

const BUILD = join(REPO_ROOT, "native-bridge", "build");
const QEMU = "/usr/bin/qemu-aarch64-static";
/** libc6-arm64-cross: the arm64 loader's glibc for qemu-user. */
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";

/** Registers of x86_64's struct pt_regs: none may appear in the arm64 object. */
const X86_REGS = ["di", "si", "dx", "cx", "ax", "bx", "bp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "orig_ax", "ip"];
/** Syscall argument registers in order: x86_64 di si dx r10 r8 r9; arm64 orig_x0 then x1..x5. */
const X86_ARGS = ["pt_regs.di", "pt_regs.si", "pt_regs.dx", "pt_regs.r10", "pt_regs.r8", "pt_regs.r9"];
const ARM64_ARGS = ["pt_regs.orig_x0", "user_pt_regs.regs[1]", "user_pt_regs.regs[2]", "user_pt_regs.regs[3]", "user_pt_regs.regs[4]", "user_pt_regs.regs[5]"];

/**
 * The raw_syscalls fallback skips 32-bit tasks (native-bridge/probe/raw-fallback.h), and how a
 * task is known to be one differs: x86 reads thread_info.status (TS_COMPAT), arm64 the saved pstate.
 */
const X86_COMPAT = "task_struct.thread_info.status";
const ARM64_COMPAT = "user_pt_regs.pstate";
const isRegister = (r: CoreRelocation) => /^(user_)?pt_regs\./.test(r.path);
const isCompatCheck = (r: CoreRelocation) => r.path === X86_COMPAT || r.path === ARM64_COMPAT;
const fieldPaths = (relos: CoreRelocation[]) => new Set(relos.filter((r) => r.kind <= 5).map((r) => r.path));
const count = (relos: CoreRelocation[], path: string) => relos.filter((r) => r.path === path).length;

beforeAll(() => {
  // incremental: quick when scripts/setup.sh has built both already
  for (const target of ["all", "cross-arm64"]) {
    const mk = spawnSync("make", ["-s", "-C", join(REPO_ROOT, "native-bridge"), target], { encoding: "utf8" });
    if (mk.status !== 0) throw new Error(`make ${target} failed (scripts/setup.sh installs the cross toolchain):\n${mk.stdout}${mk.stderr}`);
  }
}, 180_000);

describe("probe objects", () => {
  it("both are BPF objects", () => {
    expect(elfHeader(readFileSync(join(BUILD, "probe.bpf.o"))).machine).toBe(EM_BPF);
    expect(elfHeader(readFileSync(join(BUILD, "arm64", "probe.bpf.o"))).machine).toBe(EM_BPF);
  });

  it("the arm64 object reads syscall arguments from orig_x0 and user_pt_regs.regs[1..5], and names no x86 register", () => {
    const relos = coreRelocations(readFileSync(join(BUILD, "arm64", "probe.bpf.o")));
    const paths = fieldPaths(relos);
    for (const p of ARM64_ARGS) expect(paths, p).toContain(p);
    const regs = [...paths].filter((p) => /^(user_)?pt_regs\./.test(p)).sort();
    expect(regs).toEqual([...ARM64_ARGS, ARM64_COMPAT].sort());
    expect(paths).not.toContain(X86_COMPAT);
    for (const p of paths) expect(X86_REGS, p).not.toContain(p.split(".").at(-1));
  });

  it("the x86 object reads them from di, si, dx, r10, r8, r9 and names no arm64 register", () => {
    const relos = coreRelocations(readFileSync(join(BUILD, "probe.bpf.o")));
    const paths = fieldPaths(relos);
    const regs = [...paths].filter((p) => /^(user_)?pt_regs\./.test(p)).sort();
    expect(regs).toEqual([...X86_ARGS].sort());
    expect(paths).toContain(X86_COMPAT);
    expect([...paths].some((p) => p.startsWith("user_pt_regs") || p.endsWith("orig_x0"))).toBe(false);
  });

  it("argument for argument the same reads, and every other relocation identical", () => {
    const x86 = coreRelocations(readFileSync(join(BUILD, "probe.bpf.o")));
    const arm = coreRelocations(readFileSync(join(BUILD, "arm64", "probe.bpf.o")));
    X86_ARGS.forEach((p, i) => {
      expect([p, count(x86, p)]).toEqual([p, count(arm, ARM64_ARGS[i]!)]);
      expect(count(x86, p), p).toBeGreaterThan(0);
    });
    // the compat check: one read on each architecture, in the same program
    const compat = (r: CoreRelocation[]) => r.filter(isCompatCheck).map((x) => x.section);
    expect(compat(arm)).toEqual(compat(x86));
    expect(compat(x86)).toEqual(["tracepoint/raw_syscalls/sys_exit"]);
    const rest = (r: CoreRelocation[]) => r.filter((x) => !isRegister(x) && !isCompatCheck(x)).map((x) => `${x.section} ${x.kind} ${x.path}`);
    expect(rest(arm)).toEqual(rest(x86));
    expect(rest(x86).length).toBeGreaterThan(100);
  });
});

describe("programs", () => {
  const programs = [
    ["vigil-probe", EM_X86_64, ""],
    ["vigil-trace", EM_X86_64, ""],
    ["vigil-syslog", EM_X86_64, ""],
    ["vigil-probe", EM_AARCH64, "arm64"],
    ["vigil-trace", EM_AARCH64, "arm64"],
    ["vigil-syslog", EM_AARCH64, "arm64"],
    ["vigil-mem.node", EM_X86_64, ""],
    ["vigil-mem.node", EM_AARCH64, "arm64"],
  ] as const;

  it.each(programs)("%s is ELF machine %i (%s)", (name, machine, dir) => {
    expect(elfHeader(readFileSync(join(BUILD, dir, name))).machine).toBe(machine);
  });

  it.each(programs)("%s (machine %i, %s) needs nothing but glibc", (name, _machine, dir) => {
    const needed = elfNeeded(readFileSync(join(BUILD, dir, name)));
    if (name === "vigil-trace" || name === "vigil-syslog") expect(needed).toEqual([]);
    else for (const lib of needed) expect(["libc.so.6", "ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2"]).toContain(lib);
    expect(needed.join(" ")).not.toMatch(/libbpf|libelf|libz/);
  });

  it.each([
    ["vigil-probe", "usage: vigil-probe --syscalls"],
    ["vigil-trace", "usage: vigil-trace"],
    ["vigil-syslog", "usage: vigil-syslog"],
  ])(`arm64 %s starts under ${QEMU} and prints its usage`, (name, usage) => {
    expect(existsSync(QEMU), `${QEMU} is missing: install qemu-user-static (scripts/setup.sh does)`).toBe(true);
    const r = spawnSync(QEMU, [join(BUILD, "arm64", name), "--help"], {
      encoding: "utf8",
      env: { ...process.env, QEMU_LD_PREFIX: ARM64_SYSROOT },
      timeout: 30_000,
    });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toContain(usage);
    expect(r.status).toBe(0);
  });

  it("the wire structs have the same layout on arm64 (layout-dump under qemu-user prints what the x86 one prints)", () => {
    const x86 = spawnSync(join(BUILD, "layout-dump"), { encoding: "utf8" });
    const arm = spawnSync(QEMU, [join(BUILD, "arm64", "layout-dump")], {
      encoding: "utf8",
      env: { ...process.env, QEMU_LD_PREFIX: ARM64_SYSROOT },
      timeout: 30_000,
    });
    expect([x86.status, arm.status]).toEqual([0, 0]);
    expect(x86.stdout.split("\n").length).toBeGreaterThan(100);
    expect(arm.stdout).toBe(x86.stdout);
  });
});
