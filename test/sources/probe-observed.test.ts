// SPDX-License-Identifier: Apache-2.0
/** The probe's "syscalls observed" line (FORMAT.md "Syscalls without a tracepoint"): parsed and re-printed. */
import { describe, expect, it } from "vitest";
import { formatObserved, parseObservedLine } from "../../agent/sources/probe-observed.js";

describe("probe 'syscalls observed' line", () => {
  it("parses counts and the grouped names", () => {
    const line = "vigil-probe: syscalls observed: 98 by tracepoint, 2 by raw_syscalls (init_module, finit_module), 1 missing (kexec_file_load)";
    const o = parseObservedLine(line);
    expect(o).toEqual({ tracepoint: 98, rawSyscalls: ["init_module", "finit_module"], missing: ["kexec_file_load"], notInKernel: [] });
    expect(formatObserved(o!)).toBe(line.slice("vigil-probe: ".length));
  });

  it("parses a report without fallback or missing calls", () => {
    const o = parseObservedLine("vigil-probe: syscalls observed: 25 by tracepoint, 0 by raw_syscalls, 0 missing\n");
    expect(o).toEqual({ tracepoint: 25, rawSyscalls: [], missing: [], notInKernel: [] });
    expect(formatObserved(o!)).toBe("syscalls observed: 25 by tracepoint, 0 by raw_syscalls, 0 missing");
  });

  it("parses the calls this kernel only has as ENOSYS stubs", () => {
    const o = parseObservedLine(
      "vigil-probe: syscalls observed: 24 by tracepoint, 0 by raw_syscalls, 0 missing, 2 not in this kernel (init_module, finit_module)",
    );
    expect(o).toEqual({ tracepoint: 24, rawSyscalls: [], missing: [], notInKernel: ["init_module", "finit_module"] });
    expect(formatObserved(o!)).toContain("2 not in this kernel (init_module, finit_module) (ENOSYS stubs; sources.ebpf.raw_syscalls to watch attempts)");
    expect(
      parseObservedLine("vigil-probe: syscalls observed: 24 by tracepoint, 0 by raw_syscalls, 0 missing, 3 not in this kernel (init_module)"),
    ).toBeUndefined();
  });

  it("leaves other probe lines (and inconsistent ones) alone", () => {
    expect(parseObservedLine("vigil-probe: warning: unknown syscall 'x' ignored")).toBeUndefined();
    expect(parseObservedLine("vigil-probe: syscalls observed: 1 by tracepoint, 2 by raw_syscalls (a), 0 missing")).toBeUndefined();
    expect(parseObservedLine("syscalls observed: 1 by tracepoint, 0 by raw_syscalls, 0 missing")).toBeUndefined();
  });
});
