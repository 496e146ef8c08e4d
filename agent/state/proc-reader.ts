// SPDX-License-Identifier: Apache-2.0
/**
 * Reads what the process table needs about one process from /proc: used to fill the table at
 * start and to describe a process first seen through an event whose fork/exec was not seen.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from "node:fs";

/** Facts about a process read from /proc. */
export interface ProcSnapshot {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  tty: number;
  comm: string;
  exe: string;
  args: string[];
  /** Environment (`NAME=value` entries), at most {@link ENV_MAX_BYTES} bytes of it, as the probe captures. */
  env: string[];
  exepath: string;
  cwd: string;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  loginuid: number;
  vpid: number;
  vpgid: number;
  /** CLOCK_BOOTTIME ns, at clock-tick (10 ms) precision. */
  startTs: number;
  cgroupPath: string;
  cgroupId: number;
  capInheritable: bigint | undefined;
  capPermitted: bigint | undefined;
  capEffective: bigint | undefined;
  exeIno: number | undefined;
  exeCtime: number | undefined;
  exeMtime: number | undefined;
}

/** Most bytes of a process's environment kept (the probe's per-string cap, STR_MAX). */
export const ENV_MAX_BYTES = 4096;

/** USER_HZ: /proc/<pid>/stat's start time is in these ticks. */
const TICK_NS = 10_000_000;

let cgroup2Root: string | undefined;

/** Where cgroup v2 is mounted (`/sys/fs/cgroup/unified` on hybrid hosts, `/sys/fs/cgroup` on v2 ones). */
export function cgroup2Mount(): string {
  if (cgroup2Root !== undefined) return cgroup2Root;
  cgroup2Root = "/sys/fs/cgroup";
  try {
    for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
      const f = line.split(" ");
      if (f[2] === "cgroup2" && f[1] !== undefined) {
        cgroup2Root = f[1];
        break;
      }
    }
  } catch {
    // keep the default
  }
  return cgroup2Root;
}

/** Process start key: pid reuse is detected by a different start tick. */
export function startTick(startTs: number): number {
  return Math.floor(startTs / TICK_NS);
}

/** Lists the numeric entries of /proc. */
export function listPids(procRoot = "/proc"): number[] {
  const out: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const n = Number(name);
    if (Number.isInteger(n) && n > 0) out.push(n);
  }
  return out;
}

/** Reads one process; undefined when it is gone or unreadable. */
export function readProc(pid: number, procRoot = "/proc"): ProcSnapshot | undefined {
  const dir = `${procRoot}/${pid}`;
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`${dir}/stat`, "latin1");
    status = readFileSync(`${dir}/status`, "latin1");
  } catch {
    return undefined;
  }
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const comm = stat.slice(open + 1, close);
  const f = stat.slice(close + 2).split(" ");
  // fields after comm: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) ... starttime(22)
  const ppid = Number(f[1]);
  const pgid = Number(f[2]);
  const sid = Number(f[3]);
  const tty = Number(f[4]);
  const startTs = Number(f[19]) * TICK_NS;
  const st = statusFields(status);
  const ids = (k: string) => (st.get(k) ?? "").split(/\s+/).map(Number);
  const uids = ids("Uid");
  const gids = ids("Gid");
  const nspid = ids("NSpid");
  const nspgid = ids("NSpgid");
  const cap = (k: string) => {
    const v = st.get(k);
    return v === undefined ? undefined : BigInt(`0x${v.trim()}`);
  };
  const cmdline = readOr(`${dir}/cmdline`, "");
  const argv = cmdline.length > 0 ? cmdline.split("\0") : [];
  if (argv.length > 0 && argv[argv.length - 1] === "") argv.pop();
  const exepath = linkOr(`${dir}/exe`, "");
  const env = readEnv(`${dir}/environ`);
  let cgroupPath = "/";
  for (const line of readOr(`${dir}/cgroup`, "").split("\n")) if (line.startsWith("0::")) cgroupPath = line.slice(3);
  let cgroupId = 0;
  try {
    cgroupId = Number(statSync(`${cgroup2Mount()}${cgroupPath}`).ino);
  } catch {
    // the cgroup went away
  }
  let exeIno: number | undefined;
  let exeCtime: number | undefined;
  let exeMtime: number | undefined;
  try {
    const s = statSync(`${dir}/exe`, { bigint: true });
    exeIno = Number(s.ino);
    exeCtime = Number(s.ctimeNs);
    exeMtime = Number(s.mtimeNs);
  } catch {
    // kernel thread or gone
  }
  const loginuid = Number(readOr(`${dir}/loginuid`, "4294967295").trim());
  return {
    pid,
    ppid,
    pgid,
    sid,
    tty,
    comm,
    exe: argv[0] ?? comm,
    args: argv.slice(1),
    env,
    exepath: exeName(exepath),
    cwd: linkOr(`${dir}/cwd`, ""),
    uid: uids[0] ?? 0,
    euid: uids[1] ?? 0,
    gid: gids[0] ?? 0,
    egid: gids[1] ?? 0,
    loginuid: Number.isFinite(loginuid) ? loginuid : 4294967295,
    vpid: nspid[nspid.length - 1] ?? pid,
    vpgid: nspgid[nspgid.length - 1] ?? pgid,
    startTs,
    cgroupPath,
    cgroupId,
    capInheritable: cap("CapInh"),
    capPermitted: cap("CapPrm"),
    capEffective: cap("CapEff"),
    exeIno,
    exeCtime,
    exeMtime,
  };
}

/**
 * The executable's path as the probe reports it: without the " (deleted)" /proc adds, and a
 * memfd's (kernel-internal, always deleted) as Falco names it, `memfd:NAME` without a slash.
 */
function exeName(link: string): string {
  if (!link.endsWith(" (deleted)")) return link;
  const p = link.slice(0, -10);
  return p.startsWith("/memfd:") ? p.slice(1) : p;
}

/** `/proc/<pid>/environ`, first {@link ENV_MAX_BYTES} bytes, split at NULs (an entry cut by the cap is kept cut). */
function readEnv(path: string): string[] {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return [];
  }
  try {
    const buf = Buffer.alloc(ENV_MAX_BYTES);
    let n = 0;
    while (n < buf.length) {
      const k = readSync(fd, buf, n, buf.length - n, null);
      if (k <= 0) break;
      n += k;
    }
    const out = buf.toString("utf8", 0, n).split("\0");
    if (out.length > 0 && out[out.length - 1] === "") out.pop();
    return out;
  } catch {
    return [];
  } finally {
    closeSync(fd);
  }
}

function statusFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

function readOr(path: string, dflt: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return dflt;
  }
}

function linkOr(path: string, dflt: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return dflt;
  }
}
