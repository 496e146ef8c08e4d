// SPDX-License-Identifier: Apache-2.0
/**
 * Text forms of raw values: errno names, flag sets, capability sets, file modes, socket tuples.
 * Renderers keep a one-entry memo where they are called per event, so the same raw value does
 * not build a new string each time.
 */
import type { FlagTableName } from "../event-table.js";
import { FLAG_TABLES } from "../event-table.js";
import type { SockTuple } from "../event.js";

/** Linux errno names by number (x86_64), index = errno. */
const ERRNO_NAMES: readonly string[] = [
  "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD", "EAGAIN", "ENOMEM",
  "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE",
  "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK",
  "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT",
  "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", "",
  "EBFONT", "ENOSTR", "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM",
  "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
  "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
  "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT",
  "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS",
  "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH",
  "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL", "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM",
  "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD", "ENOTRECOVERABLE",
  "ERFKILL", "EHWPOISON",
];

/** Text of a syscall result as Falco's `evt.res`: `SUCCESS`, `ENOENT`, or the number. */
export function resText(res: number): string {
  if (res === 0) return "SUCCESS";
  if (res < 0) {
    const n = ERRNO_NAMES[-res];
    if (n !== undefined && n !== "") return n;
  }
  return numText(res);
}

/** Errno name of a positive errno, or undefined. */
export function errnoName(errno: number): string | undefined {
  const n = ERRNO_NAMES[errno];
  return n === "" ? undefined : n;
}

// Small integers are rendered often (fds, small results): keep their strings.
const SMALL: string[] = [];
for (let k = -256; k < 4096; k++) SMALL[k + 256] = String(k);

/** Decimal text of a number, without allocating for small integers. */
export function numText(n: number): string {
  if (Number.isInteger(n) && n >= -256 && n < 4096) return SMALL[n + 256] as string;
  return String(n);
}

/** Tables whose low bits hold a value rather than flags: mask of those bits. */
const VALUE_MASK: Partial<Record<FlagTableName, number>> = { openFlags: 3, socketType: 0xf };

/** Renders a flag set with its table (`O_WRONLY|O_CREAT|O_TRUNC`); unknown bits are dropped. */
export function flagsText(table: FlagTableName, raw: number | bigint): string {
  const entries = FLAG_TABLES[table];
  let v = typeof raw === "bigint" ? Number(raw & 0xffffffffn) : raw >>> 0;
  const parts: string[] = [];
  const mask = VALUE_MASK[table];
  if (mask !== undefined) {
    const low = v & mask;
    for (const [name, val] of entries) {
      if (val <= mask && val === low) {
        parts.push(name);
        break;
      }
    }
    v &= ~mask;
    for (const [name, val] of entries) {
      if (val <= mask || val === 0) continue;
      if ((v & val) === val) {
        parts.push(name);
        v &= ~val;
      }
    }
  } else {
    if (v === 0) {
      for (const [name, val] of entries) if (val === 0) return name;
      return "0";
    }
    for (const [name, val] of entries) {
      if (val !== 0 && (v & val) === val) {
        parts.push(name);
        v &= ~val;
      }
    }
  }
  return parts.join("|");
}

/** Renders one enumerated value (`PTRACE_ATTACH`, `AF_PACKET`), or its number. */
export function enumText(table: FlagTableName, raw: number | bigint): string {
  const v = Number(raw);
  for (const [name, val] of FLAG_TABLES[table]) if (val === v) return name;
  return String(v);
}

/** Capability names by bit number. */
const CAP_NAMES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/** Space-separated capability names of a capability mask (Falco's `thread.cap_*`). */
export function capsText(mask: bigint): string {
  const parts: string[] = [];
  for (let b = 0; b < CAP_NAMES.length; b++) if ((mask >> BigInt(b)) & 1n) parts.push(CAP_NAMES[b] as string);
  return parts.join(" ");
}

/** `0755`-style octal mode. */
export function modeText(mode: number): string {
  return "0" + (mode >>> 0).toString(8);
}

/** Socket tuple text: `sip:sport->dip:dport` (IPv6 addresses in brackets), unix path as is. */
export function tupleText(t: SockTuple): string {
  if (t.family === 1) return t.dip !== "" ? t.dip : t.sip;
  return `${hostPort(t.sip, t.sport)}->${hostPort(t.dip, t.dport)}`;
}

/** One socket address text: `dip:dport`, or the unix path. */
export function addrText(t: SockTuple): string {
  if (t.family === 1) return t.dip;
  return hostPort(t.dip, t.dport);
}

function hostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Printable text of a byte buffer (non-printable bytes as `.`), like Falco's default buffer rendering. */
export function bytesText(b: Uint8Array): string {
  let s = "";
  for (let k = 0; k < b.length; k++) {
    const c = b[k] as number;
    s += c >= 32 && c < 127 ? String.fromCharCode(c) : ".";
  }
  return s;
}
