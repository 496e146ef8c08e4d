// SPDX-License-Identifier: Apache-2.0
/**
 * The probe's line saying how the wanted syscalls are observed (native-bridge/FORMAT.md "Syscalls
 * without a tracepoint"), printed on stderr after every change of the set:
 *
 *   vigil-probe: syscalls observed: 23 by tracepoint, 1 by raw_syscalls (kexec_file_load), 0 missing, 2 not in this kernel (init_module, finit_module)
 *
 * ("not in this kernel": no tracepoint and only the ENOSYS stub; the part is absent when there are none)
 *
 * The agent parses it to log it once (not as a probe warning) and to keep the figures in its stats.
 */

/** How the wanted syscalls are observed. */
export interface ObservedSyscalls {
  /** Count of calls observed by their own exit tracepoint. */
  tracepoint: number;
  /** Calls observed through the raw_syscalls/sys_exit fallback. */
  rawSyscalls: string[];
  /** Calls not observable here (no tracepoint and no fallback). */
  missing: string[];
  /**
   * Calls this kernel only has as an ENOSYS stub (no tracepoint either): not observed unless
   * `sources.ebpf.raw_syscalls` names them.
   */
  notInKernel: string[];
}

const LINE =
  /^vigil-probe: syscalls observed: (\d+) by tracepoint, (\d+) by raw_syscalls(?: \(([^)]*)\))?, (\d+) missing(?: \(([^)]*)\))?(?:, (\d+) not in this kernel(?: \(([^)]*)\))?)?$/;

function names(list: string | undefined): string[] {
  return list === undefined || list === "" ? [] : list.split(", ");
}

/** The figures of an "observed" line; undefined for any other line (or one whose counts disagree with its names). */
export function parseObservedLine(line: string): ObservedSyscalls | undefined {
  const m = LINE.exec(line.trim());
  if (m === null) return undefined;
  const rawSyscalls = names(m[3]);
  const missing = names(m[5]);
  const notInKernel = names(m[7]);
  if (rawSyscalls.length !== Number(m[2]) || missing.length !== Number(m[4]) || notInKernel.length !== Number(m[6] ?? 0)) return undefined;
  return { tracepoint: Number(m[1]), rawSyscalls, missing, notInKernel };
}

/** The agent's one start line: `syscalls observed: 23 by tracepoint, 0 by raw_syscalls, 0 missing, 2 not in this kernel (init_module, finit_module) (ENOSYS stubs; ...)`. */
export function formatObserved(o: ObservedSyscalls): string {
  const group = (n: string[]) => (n.length > 0 ? ` (${n.join(", ")})` : "");
  const stubs =
    o.notInKernel.length > 0
      ? `, ${o.notInKernel.length} not in this kernel${group(o.notInKernel)} (ENOSYS stubs; sources.ebpf.raw_syscalls to watch attempts)`
      : "";
  return `syscalls observed: ${o.tracepoint} by tracepoint, ${o.rawSyscalls.length} by raw_syscalls${group(o.rawSyscalls)}, ${o.missing.length} missing${group(o.missing)}${stubs}`;
}
