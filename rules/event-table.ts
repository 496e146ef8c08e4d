// SPDX-License-Identifier: Apache-2.0
/**
 * The event table: every syscall event Vigil knows, its stable numeric code (the wire's `type`
 * field, mirrored by `enum vigil_event_type` in native-bridge/events.h), its Falco name (what
 * `evt.type = x` matches), and its parameters with Falco's names (what `evt.arg.<name>` reads).
 *
 * Codes are append-only: never renumber, never reuse. Parameters of an existing event are only
 * ever appended.
 *
 * Every other fact about an event is written here once too: which syscall it is on each
 * architecture (the numbers come from rules/syscall-numbers.ts, generated from the kernel's unistd
 * headers by scripts/gen-syscall-numbers.mjs), what it does to the agent's process and fd state,
 * its capture policy and its kernel hook.
 * native-bridge/event-table.h (the C enum, the loader's and tracer's tables) is generated from this
 * file (`npm run build && node scripts/gen-event-table.mjs`); test/rules/event-table-gen.test.ts
 * fails when it is stale.
 */

import { AARCH64_SYSCALLS, I386_SYSCALLS, X86_64_SYSCALLS } from "./syscall-numbers.js";

/** How a parameter's value is typed and rendered as text. */
export const ArgKind = {
  /** Signed 64-bit syscall result; negative = -errno (rendered `ENOENT` etc. for evt.res). */
  Errno: "errno",
  /** File descriptor (signed). */
  Fd: "fd",
  Pid: "pid",
  Uid: "uid",
  Gid: "gid",
  /** Absolute or cwd-relative path (FSPATH). */
  Path: "path",
  /** Path relative to a dirfd param (FSRELPATH). */
  RelPath: "relpath",
  Str: "str",
  Bytes: "bytes",
  U32: "u32",
  U64: "u64",
  I64: "i64",
  /** Bit set rendered with a flag table (`O_WRONLY|O_CREAT`). */
  Flags: "flags",
  /** Single value rendered by name from a flag table (`PTRACE_ATTACH`, `AF_INET`). */
  Enum: "enum",
  /** Permission bits, rendered in octal (`0755`). */
  Mode: "mode",
  /** One socket address (`SockTuple` with only dip/dport set). */
  SockAddr: "sockaddr",
  /** Full socket tuple. */
  Tuple: "tuple",
  /** NUL-separated string list (argv, env), decoded as `string[]`. */
  StrList: "strlist",
} as const;
export type ArgKind = (typeof ArgKind)[keyof typeof ArgKind];

export interface ParamSpec {
  name: string;
  kind: ArgKind;
  /** For Flags/Enum: key of FLAG_TABLES (for Mode: the bits named after the octal value). */
  table?: FlagTableName;
  /** For RelPath: name of the dirfd param it is relative to. */
  dirfd?: string;
  /**
   * For events whose probe program is generated (EventSpec.generated): the syscall argument the
   * value is read from at exit (0-5). A `bytes` param reads that buffer, as long as the result.
   */
  arg?: number;
  /** For a generated `bytes` param: the argument is an iovec array; the value is its first buffer, as much of it as was written (writev). */
  iov?: true;
}

/** What an event does to the process table. */
export const Proc = {
  /** Starts a process or thread; its frame carries the process block (the clone family). */
  Clone: "clone",
  /** Runs a new program; its frame carries the process block (the exec family). */
  Exec: "exec",
  /** Ends a process. */
  Exit: "exit",
} as const;
export type Proc = (typeof Proc)[keyof typeof Proc];

/** What an event does to the per-process fd table. */
export const Fd = {
  /** Opens a file by path: the result is a new fd (a failed open still names the path asked for). */
  Open: "open",
  /** The result is a new fd (socket, accept, dup...). */
  New: "new",
  /** Closes its `fd` param. */
  Close: "close",
  /** Reads its `fd` param from the table (no fd info on the wire). */
  Use: "use",
  /** A send whose `tuple` param names the destination of an unconnected socket. */
  Send: "send",
} as const;
export type Fd = (typeof Fd)[keyof typeof Fd];

/** When the probe reports an event. */
export const Capture = {
  /** Always: the process table needs it whatever the rules say. */
  Always: "always",
  /** The new task's side always (the process table needs it); the whole call when a rule uses it. */
  Child: "child",
  /** When a loaded rule uses it. */
  Rules: "rules",
  /** Never (not a kernel event). */
  Never: "never",
} as const;
export type Capture = (typeof Capture)[keyof typeof Capture];

/** Syscall numbers per architecture; absent where the architecture has no such call. */
export interface SyscallNumbers {
  /** asm/unistd_64.h */
  x86_64?: number | undefined;
  /** arm64's asm/unistd.h: the generic table (asm-generic/unistd.h) with renameat; no open, fork, chmod... */
  aarch64?: number | undefined;
  /**
   * The i386 call with the same params (the 32-bit-uid calls for set*id), traced for 32-bit
   * programs on x86_64; absent where the params differ (16-bit uids, 64-bit lengths split in two)
   * or the call only comes through socketcall.
   */
  i386?: number | undefined;
}

export interface EventSpec {
  code: number;
  /** Falco event name (`evt.type`). */
  name: string;
  /** Falco category (`evt.category`). */
  category: "process" | "file" | "net" | "ipc" | "memory" | "security" | "system" | "other";
  /** Syscall numbers per architecture (empty for events that are not syscalls). */
  nr: SyscallNumbers;
  /** Effect on the process table. */
  proc?: Proc;
  /** Effect on the fd table. */
  fd?: Fd;
  /** The frame ends with an fd-info param describing the fd (FORMAT.md "fd-info param"). */
  fdInfo?: true;
  /** Its fd is the server side of a connection (fd.is_server). */
  server?: true;
  /**
   * A receive: on an unconnected socket the peer it names is the client and the socket the server
   * (Falco's inbound tuple, `peer->local`); a connected socket keeps the client view, as sends do.
   */
  inbound?: true;
  /** The probe can filter it in the kernel by path and flags (FORMAT.md "Kernel filters"). */
  kernelFilter?: true;
  /** Open flags implied by the call when it has no `flags` param (creat). */
  openFlags?: number;
  capture: Capture;
  /**
   * The probe's program and the tracepoint under syscalls/ it attaches to, when not
   * `exit_<name>` / `sys_exit_<name>` (tracepoint null: not a syscall tracepoint).
   */
  hook?: { prog: string; tracepoint: string | null };
  /**
   * Captured by the probe's one generic exit program, attached to each such call's tracepoint and
   * reading the params' `arg` indices from a table (rules/event-table-gen.ts writes
   * native-bridge/probe/generated.h): every param after the result is one syscall argument.
   */
  generated?: true;
  /**
   * Captured only when a rule names it: a rule with no evt.type constraint does not turn it on
   * (high-volume calls such as read, write, mmap, futex; Falco's default syscall set leaves them
   * out too unless a rule asks for them).
   */
  explicitOnly?: true;
  params: readonly ParamSpec[];
}

const p = (name: string, kind: ArgKind, extra?: Partial<ParamSpec>): ParamSpec => ({ name, kind, ...extra });
/**
 * The numbers of syscall `name` on each architecture, from the generated tables. `i386` names the
 * i386 call with the same params that vigil-trace follows (`setuid32`; default: the same name), or
 * is null where it follows none: the plain i386 call differs (16-bit uids of chown, lchown, fchown;
 * 32-bit lengths of truncate, ftruncate; accept only through socketcall; 32-bit msghdr of sendmsg),
 * or the i386 form is not mapped yet (chown32, lchown32, fchown32, fchownat, sendto, fcntl64, prctl).
 */
function sys(name: string, i386: string | null = name): SyscallNumbers {
  const x86_64 = X86_64_SYSCALLS[name];
  if (x86_64 === undefined) throw new Error(`no x86_64 syscall named ${name} in rules/syscall-numbers.ts`);
  if (i386 !== null && I386_SYSCALLS[i386] === undefined) throw new Error(`no i386 syscall named ${i386} in rules/syscall-numbers.ts`);
  return { x86_64, aarch64: AARCH64_SYSCALLS[name], i386: i386 === null ? undefined : I386_SYSCALLS[i386] };
}
const RES = p("res", ArgKind.Errno);
const FD_RES = p("fd", ArgKind.Fd);

/** Params of execve/execveat/clone-family exits (Falco's execve_19 / clone_20 layouts, trimmed to what is filled). */
const EXEC_PARAMS: readonly ParamSpec[] = [
  RES,
  p("exe", ArgKind.Str),
  p("args", ArgKind.StrList),
  p("tid", ArgKind.Pid),
  p("pid", ArgKind.Pid),
  p("ptid", ArgKind.Pid),
  p("cwd", ArgKind.Path),
  p("comm", ArgKind.Str),
  p("env", ArgKind.StrList),
  p("tty", ArgKind.U32),
  p("vpgid", ArgKind.Pid),
  p("loginuid", ArgKind.Uid),
  p("flags", ArgKind.Flags, { table: "execveFlags" }),
  p("cap_inheritable", ArgKind.U64),
  p("cap_permitted", ArgKind.U64),
  p("cap_effective", ArgKind.U64),
  p("exe_ino", ArgKind.U64),
  p("exe_ino_ctime", ArgKind.U64),
  p("exe_ino_mtime", ArgKind.U64),
  p("uid", ArgKind.Uid),
  p("trusted_exepath", ArgKind.Path),
  p("pgid", ArgKind.Pid),
  p("gid", ArgKind.Gid),
];

const CLONE_PARAMS: readonly ParamSpec[] = [
  RES,
  p("exe", ArgKind.Str),
  p("args", ArgKind.StrList),
  p("tid", ArgKind.Pid),
  p("pid", ArgKind.Pid),
  p("ptid", ArgKind.Pid),
  p("cwd", ArgKind.Path),
  p("comm", ArgKind.Str),
  p("flags", ArgKind.Flags, { table: "cloneFlags" }),
  p("uid", ArgKind.Uid),
  p("gid", ArgKind.Gid),
  p("vtid", ArgKind.Pid),
  p("vpid", ArgKind.Pid),
  p("pidns_init_start_ts", ArgKind.U64),
];

/**
 * Calls newer than the kernel headers rules/syscall-numbers.ts is generated from (Linux 6.1): their
 * numbers, the same on x86_64 and arm64 (the unified table of Linux 6.x), as the kernel defines them.
 */
export const NEWER_SYSCALLS: Readonly<Record<string, number>> = {
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457,
  listmount: 458,
  lsm_get_self_attr: 459,
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462,
};
const newer = (name: string): Partial<EventSpec> => {
  const n = NEWER_SYSCALLS[name];
  if (n === undefined) throw new Error(`no number for ${name} in NEWER_SYSCALLS`);
  return { nr: { x86_64: n, aarch64: n } };
};

const OTHER_ARCH_CALLS = [
  "statfs64",
  "fstatfs64",
  "fstatat64",
  "sendfile64",
  "ugetrlimit",
  "bdflush",
  "sigprocmask",
  "ipc",
  "socketcall",
  "stat64",
  "lstat64",
  "fstat64",
  "fcntl64",
  "mmap2",
  "_newselect",
  "sgetmask",
  "ssetmask",
  "sigpending",
  "olduname",
  "umount",
  "signal",
  "nice",
  "stime",
  "_llseek",
  "waitpid",
  "setuid32",
  "getuid32",
  "setgid32",
  "geteuid32",
  "getgid32",
  "setresuid32",
  "setresgid32",
  "getresuid32",
  "getresgid32",
  "getegid32",
  "recv",
  "send",
  "sigaction",
  "readdir",
  "sigsuspend",
  "sigreturn",
  "oldstat",
  "oldlstat",
  "oldfstat",
  "oldolduname",
  "vm86",
  "idle",
];

type GenParam = readonly [name: string, kind: ArgKind, arg: number, extra?: Partial<ParamSpec>];
/** One generated event: the result, then one param per syscall argument. */
function gen(name: string, category: EventSpec["category"], result: ParamSpec, params: readonly GenParam[], extra: Partial<EventSpec> = {}): Omit<EventSpec, "code"> {
  return {
    name,
    category,
    nr: extra.nr ?? sys(name, null),
    capture: Capture.Rules,
    generated: true,
    params: [result, ...params.map(([n, kind, arg, more]) => p(n, kind, { arg, ...more }))],
    ...extra,
  };
}
const FD = ArgKind.Fd;
const U32 = ArgKind.U32;
const U64 = ArgKind.U64;
const PID = ArgKind.Pid;
const SIG: Partial<ParamSpec> = { table: "signal" };
const USE_FD: Partial<EventSpec> = { fd: Fd.Use, fdInfo: true };
const NEW_FD: Partial<EventSpec> = { fd: Fd.New, fdInfo: true };
const HOT: Partial<EventSpec> = { explicitOnly: true };
const HOT_FD: Partial<EventSpec> = { explicitOnly: true, fd: Fd.Use, fdInfo: true };
/** Metadata-tampering calls with a program of their own (native-bridge/probe/tamper.h) reading a user struct. */
const TAMPER_PROG: Partial<EventSpec> = { generated: undefined };
/**
 * The times a utime-family call sets, read by the probe from the struct at syscall argument `arg`:
 * nanoseconds since the epoch, each absent unless set explicitly (times NULL, UTIME_NOW, UTIME_OMIT:
 * absent), so `evt.arg.mtime exists` says "explicit times" (timestomping, `touch -d`/`-r`).
 */
const TIMES = (arg: number): GenParam[] => [["atime", ArgKind.I64, arg], ["mtime", ArgKind.I64, arg]];

/**
 * Syscalls of Falco's event table the probe captures with a generated program (Falco's parameter
 * names; arguments Falco renders from user memory the probe does not follow — iovecs, fd arrays,
 * structs — are left out). Codes follow in this order: append only.
 */
function GENERATED_EVENTS(first: number): EventSpec[] {
  const list: Omit<EventSpec, "code">[] = [
    gen("kill", "process", RES, [["pid", PID, 0], ["sig", ArgKind.Enum, 1, SIG]]),
    gen("tkill", "process", RES, [["tid", PID, 0], ["sig", ArgKind.Enum, 1, SIG]]),
    gen("tgkill", "process", RES, [["pid", PID, 0], ["tid", PID, 1], ["sig", ArgKind.Enum, 2, SIG]]),
    gen("mprotect", "memory", RES, [["addr", U64, 0], ["length", U64, 1], ["prot", ArgKind.Flags, 2, { table: "protFlags" }]], HOT),
    gen("chroot", "file", RES, [["path", ArgKind.Path, 0]]),
    gen("setsid", "process", RES, []),
    gen("setpgid", "process", RES, [["pid", PID, 0], ["pgid", PID, 1]]),
    gen("seccomp", "security", RES, [["op", U64, 0], ["flags", U64, 1]]),
    gen("pidfd_open", "process", RES, [["pid", PID, 0], ["flags", U32, 1]], NEW_FD),
    gen("pidfd_getfd", "process", RES, [["pidfd", FD, 0], ["targetfd", FD, 1], ["flags", U32, 2]], NEW_FD),
    gen("process_vm_readv", "process", RES, [["pid", PID, 0]]),
    gen("process_vm_writev", "process", RES, [["pid", PID, 0]]),
    gen("delete_module", "system", RES, [["name", ArgKind.Str, 0], ["flags", U32, 1]]),
    gen("mknod", "file", RES, [["path", ArgKind.Path, 0], ["mode", ArgKind.Mode, 1], ["dev", U32, 2]]),
    gen("mknodat", "file", RES, [["dirfd", FD, 0], ["path", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["mode", ArgKind.Mode, 2], ["dev", U32, 3]]),
    gen("access", "file", RES, [["name", ArgKind.Path, 0], ["mode", U32, 1]]),
    gen("eventfd", "ipc", RES, [["initval", U64, 0]], NEW_FD),
    gen("eventfd2", "ipc", RES, [["initval", U64, 0], ["flags", U32, 1]], NEW_FD),
    gen("inotify_init", "ipc", RES, [], NEW_FD),
    gen("inotify_init1", "ipc", RES, [["flags", U32, 0]], NEW_FD),
    gen("signalfd", "ipc", RES, [["fd", FD, 0]], NEW_FD),
    gen("signalfd4", "ipc", RES, [["fd", FD, 0], ["flags", U32, 3]], NEW_FD),
    gen("epoll_create", "ipc", RES, [["size", U32, 0]], NEW_FD),
    gen("epoll_create1", "ipc", RES, [["flags", U32, 0]], NEW_FD),
    gen("socketpair", "net", RES, [["domain", ArgKind.Enum, 0, { table: "socketFamily" }], ["type", ArgKind.Flags, 1, { table: "socketType" }], ["proto", U32, 2]]),
    gen("shutdown", "net", RES, [["fd", FD, 0], ["how", U32, 1]], USE_FD),
    gen("getsockopt", "net", RES, [["fd", FD, 0], ["level", U32, 1], ["optname", U32, 2]], HOT_FD),
    gen("setsockopt", "net", RES, [["fd", FD, 0], ["level", U32, 1], ["optname", U32, 2]], HOT_FD),
    gen("copy_file_range", "file", RES, [["fdin", FD, 0], ["fdout", FD, 2], ["len", U64, 4]]),
    gen("io_uring_setup", "other", RES, [["entries", U32, 0]], NEW_FD),
    gen("io_uring_enter", "other", RES, [["fd", FD, 0], ["to_submit", U32, 1], ["min_complete", U32, 2], ["flags", U32, 3]], USE_FD),
    gen("io_uring_register", "other", RES, [["fd", FD, 0], ["opcode", U32, 1], ["nr_args", U32, 3]], USE_FD),
    gen("mlock", "memory", RES, [["addr", U64, 0], ["len", U64, 1]]),
    gen("munlock", "memory", RES, [["addr", U64, 0], ["len", U64, 1]]),
    gen("mlockall", "memory", RES, [["flags", U32, 0]]),
    gen("munlockall", "memory", RES, []),
    gen("mlock2", "memory", RES, [["addr", U64, 0], ["len", U64, 1], ["flags", U32, 2]]),
    gen("fsconfig", "file", RES, [["fd", FD, 0], ["cmd", U32, 1], ["key", ArgKind.Str, 2], ["aux", ArgKind.I64, 4]]),
    gen("setrlimit", "process", RES, [["resource", U32, 0]]),
    gen("prlimit64", "process", RES, [["pid", PID, 0], ["resource", U32, 1]]),
    gen("setfsuid", "security", RES, [["uid", ArgKind.Uid, 0]]),
    gen("setfsgid", "security", RES, [["gid", ArgKind.Gid, 0]]),
    // own program (probe/tamper.h): only FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR (fsflags: the inode flags set) and TIOCSTI are
    // sent, every other request stays in the kernel (as fcntl keeps its dup forms)
    gen("ioctl", "file", RES, [["fd", FD, 0], ["request", U64, 1], ["argument", U64, 2], ["fsflags", ArgKind.Flags, 2, { table: "fsFlags" }]], { ...HOT_FD, ...TAMPER_PROG }),
    gen("open_by_handle_at", "file", FD_RES, [["mountfd", FD, 0], ["flags", ArgKind.Flags, 2, { table: "openFlags" }]], NEW_FD),
    gen("newfstatat", "file", RES, [["dirfd", FD, 0], ["path", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["flags", U32, 3]], HOT),
    gen("flock", "file", RES, [["fd", FD, 0], ["operation", U32, 1]], USE_FD),
    gen("sendfile", "file", RES, [["out_fd", FD, 0], ["in_fd", FD, 1], ["size", U64, 3]], { hook: { prog: "exit_generic", tracepoint: "sys_exit_sendfile64" } }),
    gen("splice", "file", RES, [["fd_in", FD, 0], ["fd_out", FD, 2], ["size", U64, 4], ["flags", U32, 5]]),
    gen("quotactl", "file", RES, [["cmd", U32, 0], ["special", ArgKind.Str, 1], ["id", U32, 2]]),
    gen("getdents", "file", RES, [["fd", FD, 0]], HOT_FD),
    gen("getdents64", "file", RES, [["fd", FD, 0]], HOT_FD),
    gen("read", "file", RES, [["data", ArgKind.Bytes, 1], ["fd", FD, 0], ["size", U32, 2]], HOT_FD),
    gen("write", "file", RES, [["data", ArgKind.Bytes, 1], ["fd", FD, 0], ["size", U32, 2]], HOT_FD),
    gen("pread64", "file", RES, [["data", ArgKind.Bytes, 1], ["fd", FD, 0], ["size", U32, 2], ["pos", U64, 3]], HOT_FD),
    gen("pwrite64", "file", RES, [["data", ArgKind.Bytes, 1], ["fd", FD, 0], ["size", U32, 2], ["pos", U64, 3]], HOT_FD),
    gen("readv", "file", RES, [["fd", FD, 0]], HOT_FD),
    gen("writev", "file", RES, [["fd", FD, 0], ["data", ArgKind.Bytes, 1, { iov: true }]], HOT_FD),
    gen("preadv", "file", RES, [["fd", FD, 0], ["pos", U64, 3]], HOT_FD),
    gen("pwritev", "file", RES, [["fd", FD, 0], ["pos", U64, 3]], HOT_FD),
    gen("lseek", "file", RES, [["fd", FD, 0], ["offset", U64, 1], ["whence", U32, 2]], HOT_FD),
    gen("mmap", "memory", RES, [["addr", U64, 0], ["length", U64, 1], ["prot", ArgKind.Flags, 2, { table: "protFlags" }], ["flags", U32, 3], ["fd", FD, 4], ["offset", U64, 5]], HOT),
    gen("munmap", "memory", RES, [["addr", U64, 0], ["length", U64, 1]], HOT),
    gen("futex", "ipc", RES, [["addr", U64, 0], ["op", U32, 1], ["val", U64, 2]], HOT),
    gen("nanosleep", "other", RES, [], HOT),
    gen("clock_nanosleep", "other", RES, [["clockid", U32, 0]], HOT),
    gen("poll", "file", RES, [["timeout", ArgKind.I64, 2]], HOT),
    gen("ppoll", "file", RES, [], HOT),
    gen("select", "file", RES, [], HOT),
    gen("pselect6", "file", RES, [], HOT),
    gen("epoll_wait", "file", RES, [["fd", FD, 0], ["maxevents", U32, 2]], HOT_FD),
    gen("epoll_pwait", "file", RES, [["fd", FD, 0], ["maxevents", U32, 2]], HOT_FD),
    gen("recvmmsg", "net", RES, [["fd", FD, 0]], USE_FD),
    gen("sendmmsg", "net", RES, [["fd", FD, 0]], USE_FD),
    gen("semop", "ipc", RES, [["semid", U32, 0], ["nsops", U32, 2]]),
    gen("semget", "ipc", RES, [["key", U32, 0], ["nsems", U32, 1], ["semflg", U32, 2]]),
    gen("semctl", "ipc", RES, [["semid", U32, 0], ["semnum", U32, 1], ["cmd", U32, 2]]),
    gen("pivot_root", "file", RES, [["new_root", ArgKind.Path, 0], ["put_old", ArgKind.Path, 1]]),
    gen("kexec_load", "system", RES, [["entry", U64, 0], ["nr_segments", U64, 1], ["flags", U64, 3]]),
    gen("kexec_file_load", "system", RES, [["kernel_fd", FD, 0], ["initrd_fd", FD, 1], ["flags", U64, 4]]),
    gen("perf_event_open", "system", RES, [["pid", PID, 1], ["cpu", ArgKind.I64, 2], ["group_fd", FD, 3], ["flags", U64, 4]], NEW_FD),
    gen("reboot", "system", RES, [["cmd", U32, 2]]),
    gen("swapon", "system", RES, [["path", ArgKind.Path, 0], ["flags", U32, 1]]),
    gen("swapoff", "system", RES, [["path", ArgKind.Path, 0]]),
    gen("sethostname", "system", RES, [["len", U64, 1]]),
    gen("setdomainname", "system", RES, [["len", U64, 1]]),
    gen("settimeofday", "system", RES, []),
    gen("clock_settime", "system", RES, [["clockid", U32, 0]]),
    gen("adjtimex", "system", RES, []),
    gen("acct", "system", RES, [["filename", ArgKind.Path, 0]]),
    gen("iopl", "system", RES, [["level", U32, 0]]),
    gen("ioperm", "system", RES, [["from", U64, 0], ["num", U64, 1], ["turn_on", U32, 2]]),
    gen("fanotify_init", "file", RES, [["flags", U32, 0], ["event_f_flags", U32, 1]], NEW_FD),
    gen("add_key", "security", RES, [["type", ArgKind.Str, 0], ["description", ArgKind.Str, 1]]),
    gen("request_key", "security", RES, [["type", ArgKind.Str, 0], ["description", ArgKind.Str, 1]]),
    gen("keyctl", "security", RES, [["option", U32, 0]]),
    gen("personality", "process", RES, [["persona", U32, 0]]),
    gen("syslog", "system", RES, [["type", U32, 0]]),
    gen("fsopen", "file", RES, [["fs_name", ArgKind.Str, 0], ["flags", U32, 1]], NEW_FD),
    gen("fspick", "file", RES, [["dfd", FD, 0], ["path", ArgKind.RelPath, 1, { dirfd: "dfd" }], ["flags", U32, 2]], NEW_FD),
    gen("fsmount", "file", RES, [["fs_fd", FD, 0], ["flags", U32, 1], ["attr_flags", U32, 2]], NEW_FD),
    gen("open_tree", "file", RES, [["dfd", FD, 0], ["filename", ArgKind.RelPath, 1, { dirfd: "dfd" }], ["flags", U32, 2]], NEW_FD),
    gen("move_mount", "file", RES, [["from_dfd", FD, 0], ["from_pathname", ArgKind.RelPath, 1, { dirfd: "from_dfd" }], ["to_dfd", FD, 2], ["to_pathname", ArgKind.RelPath, 3, { dirfd: "to_dfd" }], ["flags", U32, 4]]),
    gen("mount_setattr", "file", RES, [["dfd", FD, 0], ["path", ArgKind.RelPath, 1, { dirfd: "dfd" }], ["flags", U32, 2]]),
    gen("memfd_secret", "memory", RES, [["flags", U32, 0]], NEW_FD),
    // own programs (probe/tamper.h): atime/mtime = the times set explicitly (TIMES), absent when now; fd-info: the fd of futimens
    gen("utimensat", "file", RES, [["dirfd", FD, 0], ["pathname", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["flags", U32, 3], ...TIMES(2)], { ...TAMPER_PROG, fdInfo: true }),
    gen("utimes", "file", RES, [["filename", ArgKind.Path, 0], ...TIMES(1)], TAMPER_PROG),
    // size: the value's length (security.capability: a vfs_cap_data, file capabilities)
    gen("setxattr", "file", RES, [["path", ArgKind.Path, 0], ["name", ArgKind.Str, 1], ["flags", U32, 4], ["size", U64, 3]]),
    gen("lsetxattr", "file", RES, [["path", ArgKind.Path, 0], ["name", ArgKind.Str, 1], ["flags", U32, 4], ["size", U64, 3]]),
    gen("fsetxattr", "file", RES, [["fd", FD, 0], ["name", ArgKind.Str, 1], ["flags", U32, 4], ["size", U64, 3]], USE_FD),
    gen("inotify_add_watch", "file", RES, [["fd", FD, 0], ["pathname", ArgKind.Path, 1], ["mask", U32, 2]]),
    gen("fallocate", "file", RES, [["fd", FD, 0], ["mode", U32, 1], ["offset", U64, 2], ["len", U64, 3]], USE_FD),
    gen("setgroups", "security", RES, [["size", U32, 0]]),
    gen("timerfd_create", "other", RES, [["clockid", U32, 0], ["flags", U32, 1]], NEW_FD),
    gen("capget", "security", RES, [], HOT),
    gen("arch_prctl", "process", RES, [["code", U32, 0], ["addr", U64, 1]]),
    gen("getcwd", "file", RES, [], HOT),
    gen("umask", "file", RES, [["mask", ArgKind.Mode, 0]]),
    gen("sync", "file", RES, []),
    gen("syncfs", "file", RES, [["fd", FD, 0]], USE_FD),
    gen("fsync", "file", RES, [["fd", FD, 0]], HOT_FD),
    gen("fdatasync", "file", RES, [["fd", FD, 0]], HOT_FD),
    gen("getuid", "security", RES, [], HOT),
    gen("geteuid", "security", RES, [], HOT),
    gen("getgid", "security", RES, [], HOT),
    gen("getegid", "security", RES, [], HOT),
    gen("getresuid", "security", RES, [], HOT),
    gen("getresgid", "security", RES, [], HOT),
    gen("getpid", "process", RES, [], HOT),
    gen("gettid", "process", RES, [], HOT),
    gen("getppid", "process", RES, [], HOT),
    gen("getpgid", "process", RES, [["pid", PID, 0]], HOT),
    gen("getsid", "process", RES, [["pid", PID, 0]], HOT),
    gen("sched_yield", "process", RES, [], HOT),
    gen("sched_setscheduler", "process", RES, [["pid", PID, 0], ["policy", U32, 1]]),
    gen("sched_setaffinity", "process", RES, [["pid", PID, 0]]),
    gen("setpriority", "process", RES, [["which", U32, 0], ["who", U32, 1], ["prio", ArgKind.I64, 2]]),
    gen("getrlimit", "process", RES, [["resource", U32, 0]], HOT),
    gen("uname", "system", RES, [], { ...HOT, hook: { prog: "exit_generic", tracepoint: "sys_exit_newuname" } }),
    gen("sysinfo", "system", RES, [], HOT),
    gen("wait4", "process", RES, [["pid", PID, 0], ["options", U32, 2]], HOT),
    gen("waitid", "process", RES, [["which", U32, 0], ["pid", PID, 1], ["options", U32, 3]], HOT),
    gen("getsockname", "net", RES, [["fd", FD, 0]], HOT_FD),
    gen("getpeername", "net", RES, [["fd", FD, 0]], HOT_FD),
    gen("msgget", "ipc", RES, [["key", U32, 0], ["msgflg", U32, 1]]),
    gen("msgsnd", "ipc", RES, [["msqid", U32, 0], ["msgsz", U64, 2], ["msgflg", U32, 3]], HOT),
    gen("msgrcv", "ipc", RES, [["msqid", U32, 0], ["msgsz", U64, 2], ["msgflg", U32, 4]], HOT),
    gen("msgctl", "ipc", RES, [["msqid", U32, 0], ["cmd", U32, 1]]),
    gen("shmget", "ipc", RES, [["key", U32, 0], ["size", U64, 1], ["shmflg", U32, 2]]),
    gen("shmat", "ipc", RES, [["shmid", U32, 0], ["shmflg", U32, 2]]),
    gen("shmdt", "ipc", RES, []),
    gen("shmctl", "ipc", RES, [["shmid", U32, 0], ["cmd", U32, 1]]),
    gen("mq_open", "ipc", RES, [["name", ArgKind.Str, 0], ["oflag", ArgKind.Flags, 1, { table: "openFlags" }]], NEW_FD),
    gen("mq_unlink", "ipc", RES, [["name", ArgKind.Str, 0]]),
    gen("madvise", "memory", RES, [["addr", U64, 0], ["len", U64, 1], ["advice", U32, 2]], HOT),
    gen("mremap", "memory", RES, [["old_address", U64, 0], ["old_size", U64, 1], ["new_size", U64, 2], ["flags", U32, 3]], HOT),
    gen("readlink", "file", RES, [["path", ArgKind.Path, 0]], HOT),
    gen("readlinkat", "file", RES, [["dirfd", FD, 0], ["path", ArgKind.RelPath, 1, { dirfd: "dirfd" }]], HOT),
    gen("faccessat", "file", RES, [["dirfd", FD, 0], ["pathname", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["mode", U32, 2]], HOT),
    gen("faccessat2", "file", RES, [["dirfd", FD, 0], ["pathname", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["mode", U32, 2], ["flags", U32, 3]], HOT),
    gen("statfs", "file", RES, [["path", ArgKind.Path, 0]], HOT),
    gen("fstatfs", "file", RES, [["fd", FD, 0]], HOT_FD),
    gen("stat", "file", RES, [["path", ArgKind.Path, 0]], { ...HOT, hook: { prog: "exit_generic", tracepoint: "sys_exit_newstat" } }),
    gen("lstat", "file", RES, [["path", ArgKind.Path, 0]], { ...HOT, hook: { prog: "exit_generic", tracepoint: "sys_exit_newlstat" } }),
    gen("fstat", "file", RES, [["fd", FD, 0]], { ...HOT_FD, hook: { prog: "exit_generic", tracepoint: "sys_exit_newfstat" } }),
    gen("statx", "file", RES, [["dirfd", FD, 0], ["pathname", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["flags", U32, 2]], HOT),
    gen("fadvise64", "file", RES, [["fd", FD, 0], ["advice", U32, 3]], HOT_FD),
    gen("getrandom", "other", RES, [["buflen", U64, 1], ["flags", U32, 2]], HOT),
    gen("sigaltstack", "process", RES, [], HOT),
    gen("rt_sigaction", "process", RES, [["sig", ArgKind.Enum, 0, SIG]], HOT),
    gen("rt_sigprocmask", "process", RES, [["how", U32, 0]], HOT),
    gen("rt_sigqueueinfo", "process", RES, [["pid", PID, 0], ["sig", ArgKind.Enum, 1, SIG]]),
    gen("rt_tgsigqueueinfo", "process", RES, [["pid", PID, 0], ["tid", PID, 1], ["sig", ArgKind.Enum, 2, SIG]]),
    gen("pidfd_send_signal", "process", RES, [["pidfd", FD, 0], ["sig", ArgKind.Enum, 1, SIG], ["flags", U32, 3]]),
    gen("process_madvise", "memory", RES, [["pidfd", FD, 0], ["advice", U32, 3]]),
    gen("landlock_create_ruleset", "security", RES, [["flags", U32, 2]], NEW_FD),
    gen("landlock_restrict_self", "security", RES, [["ruleset_fd", FD, 0], ["flags", U32, 1]]),
    gen("set_mempolicy", "memory", RES, [["mode", U32, 0]]),
    gen("vhangup", "system", RES, []),
    gen("name_to_handle_at", "file", RES, [["dirfd", FD, 0], ["pathname", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["flags", U32, 4]]),
    gen("setitimer", "process", RES, [["which", U32, 0]], HOT),
    gen("timer_create", "process", RES, [["clockid", U32, 0]]),
    gen("inotify_rm_watch", "file", RES, [["fd", FD, 0], ["wd", U32, 1]]),
    gen("tee", "file", RES, [["fd_in", FD, 0], ["fd_out", FD, 1], ["len", U64, 2], ["flags", U32, 3]]),
    gen("vmsplice", "file", RES, [["fd", FD, 0], ["flags", U32, 3]], USE_FD),
    gen("removexattr", "file", RES, [["path", ArgKind.Path, 0], ["name", ArgKind.Str, 1]]),
    gen("lremovexattr", "file", RES, [["path", ArgKind.Path, 0], ["name", ArgKind.Str, 1]]),
    gen("fremovexattr", "file", RES, [["fd", FD, 0], ["name", ArgKind.Str, 1]], USE_FD),
    gen("getxattr", "file", RES, [["path", ArgKind.Path, 0], ["name", ArgKind.Str, 1]], HOT),
    gen("lgetxattr", "file", RES, [["path", ArgKind.Path, 0], ["name", ArgKind.Str, 1]], HOT),
    gen("fgetxattr", "file", RES, [["fd", FD, 0], ["name", ArgKind.Str, 1]], HOT_FD),
    gen("listxattr", "file", RES, [["path", ArgKind.Path, 0]], HOT),
    gen("llistxattr", "file", RES, [["path", ArgKind.Path, 0]], HOT),
    gen("flistxattr", "file", RES, [["fd", FD, 0]], HOT_FD),
    // the rest of Falco's syscall table this kernel's headers number: mostly result-only, a few args
    gen("restart_syscall", "other", RES, [], HOT),
    gen("time", "other", RES, [], HOT),
    gen("alarm", "process", RES, [["seconds", U32, 0]]),
    gen("pause", "process", RES, []),
    gen("utime", "file", RES, [["filename", ArgKind.Path, 0], ...TIMES(1)], TAMPER_PROG),
    gen("pipe", "ipc", RES, []),
    gen("times", "process", RES, [], HOT),
    gen("brk", "memory", RES, [["addr", U64, 0]], HOT),
    gen("ustat", "file", RES, []),
    gen("getpgrp", "process", RES, [], HOT),
    gen("getrusage", "process", RES, [["who", ArgKind.I64, 0]], HOT),
    gen("gettimeofday", "other", RES, [], HOT),
    gen("uselib", "system", RES, [["library", ArgKind.Path, 0]]),
    gen("getpriority", "process", RES, [["which", U32, 0], ["who", U32, 1]], HOT),
    gen("getitimer", "process", RES, [["which", U32, 0]], HOT),
    gen("sysfs", "system", RES, [["option", U32, 0]]),
    gen("msync", "memory", RES, [["addr", U64, 0], ["length", U64, 1], ["flags", U32, 2]], HOT),
    gen("sched_setparam", "process", RES, [["pid", PID, 0]]),
    gen("sched_getparam", "process", RES, [["pid", PID, 0]], HOT),
    gen("sched_getscheduler", "process", RES, [["pid", PID, 0]], HOT),
    gen("sched_get_priority_max", "process", RES, [["policy", U32, 0]], HOT),
    gen("sched_get_priority_min", "process", RES, [["policy", U32, 0]], HOT),
    gen("sched_rr_get_interval", "process", RES, [["pid", PID, 0]], HOT),
    gen("rt_sigpending", "process", RES, [], HOT),
    gen("rt_sigtimedwait", "process", RES, [], HOT),
    gen("rt_sigsuspend", "process", RES, [], HOT),
    gen("getgroups", "security", RES, [["size", U32, 0]], HOT),
    gen("mincore", "memory", RES, [["addr", U64, 0], ["length", U64, 1]], HOT),
    gen("sched_getaffinity", "process", RES, [["pid", PID, 0]], HOT),
    gen("set_thread_area", "process", RES, []),
    gen("get_thread_area", "process", RES, [], HOT),
    gen("io_setup", "file", RES, [["nr_events", U32, 0]]),
    gen("io_destroy", "file", RES, []),
    gen("io_getevents", "file", RES, [], HOT),
    gen("io_submit", "file", RES, [["nr", ArgKind.I64, 1]], HOT),
    gen("io_cancel", "file", RES, [], HOT),
    gen("epoll_ctl", "file", RES, [["epfd", FD, 0], ["op", U32, 1], ["fd", FD, 2]], HOT),
    gen("remap_file_pages", "memory", RES, [["addr", U64, 0], ["size", U64, 1]]),
    gen("set_tid_address", "process", RES, [], HOT),
    gen("timer_settime", "process", RES, [], HOT),
    gen("timer_gettime", "process", RES, [], HOT),
    gen("timer_getoverrun", "process", RES, [], HOT),
    gen("timer_delete", "process", RES, [], HOT),
    gen("clock_gettime", "other", RES, [["clockid", U32, 0]], HOT),
    gen("clock_getres", "other", RES, [["clockid", U32, 0]], HOT),
    gen("mq_timedsend", "ipc", RES, [["mqdes", FD, 0], ["msg_len", U64, 2]], HOT),
    gen("mq_timedreceive", "ipc", RES, [["mqdes", FD, 0], ["msg_len", U64, 2]], HOT),
    gen("mq_notify", "ipc", RES, [["mqdes", FD, 0]]),
    gen("mq_getsetattr", "ipc", RES, [["mqdes", FD, 0]]),
    gen("ioprio_set", "process", RES, [["which", U32, 0], ["who", U32, 1], ["ioprio", U32, 2]]),
    gen("ioprio_get", "process", RES, [["which", U32, 0], ["who", U32, 1]], HOT),
    gen("futimesat", "file", RES, [["dirfd", FD, 0], ["pathname", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ...TIMES(2)], { ...TAMPER_PROG, fdInfo: true }),
    gen("set_robust_list", "process", RES, [], HOT),
    gen("get_robust_list", "process", RES, [["pid", PID, 0]], HOT),
    gen("getcpu", "other", RES, [], HOT),
    gen("timerfd_settime", "other", RES, [["fd", FD, 0], ["flags", U32, 1]], HOT),
    gen("timerfd_gettime", "other", RES, [["fd", FD, 0]], HOT),
    gen("pipe2", "ipc", RES, [["flags", U32, 1]]),
    gen("clock_adjtime", "system", RES, [["clockid", U32, 0]]),
    gen("rt_sigreturn", "process", RES, [], HOT),
    gen("pkey_alloc", "memory", RES, [["flags", U32, 0], ["access_rights", U32, 1]]),
    gen("pkey_mprotect", "memory", RES, [["addr", U64, 0], ["length", U64, 1], ["prot", ArgKind.Flags, 2, { table: "protFlags" }], ["pkey", ArgKind.I64, 3]], HOT),
    gen("pkey_free", "memory", RES, [["pkey", ArgKind.I64, 0]]),
    gen("quotactl_fd", "file", RES, [["fd", FD, 0], ["cmd", U32, 1], ["id", U32, 2]]),
    gen("landlock_add_rule", "security", RES, [["ruleset_fd", FD, 0], ["rule_type", U32, 1]]),
    gen("epoll_pwait2", "file", RES, [["fd", FD, 0], ["maxevents", U32, 2]], HOT),
    gen("migrate_pages", "memory", RES, [["pid", PID, 0]]),
    gen("move_pages", "memory", RES, [["pid", PID, 0], ["nr_pages", U64, 1]]),
    gen("preadv2", "file", RES, [["fd", FD, 0], ["pos", U64, 3]], HOT),
    gen("pwritev2", "file", RES, [["fd", FD, 0], ["pos", U64, 3]], HOT),
    gen("kcmp", "process", RES, [["pid1", PID, 0], ["pid2", PID, 1], ["type", U32, 2]]),
    gen("sched_setattr", "process", RES, [["pid", PID, 0]]),
    gen("mbind", "memory", RES, [["addr", U64, 0], ["len", U64, 1], ["mode", U32, 2]]),
    gen("epoll_ctl_old", "file", RES, []),
    gen("lookup_dcookie", "system", RES, []),
    gen("modify_ldt", "process", RES, [["func", U32, 0]]),
    gen("io_pgetevents", "file", RES, [], HOT),
    gen("set_mempolicy_home_node", "memory", RES, []),
    gen("semtimedop", "ipc", RES, [["semid", U32, 0], ["nsops", U32, 2]]),
    gen("get_kernel_syms", "system", RES, []),
    gen("readahead", "file", RES, [["fd", FD, 0], ["count", U64, 2]]),
    gen("futex_waitv", "ipc", RES, [], HOT),
    gen("getpmsg", "ipc", RES, []),
    gen("process_mrelease", "process", RES, [["pidfd", FD, 0]]),
    gen("nfsservctl", "system", RES, []),
    gen("epoll_wait_old", "file", RES, []),
    gen("rseq", "process", RES, [], HOT),
    gen("create_module", "system", RES, []),
    gen("sched_getattr", "process", RES, [["pid", PID, 0]], HOT),
    gen("_sysctl", "system", RES, []),
    gen("query_module", "system", RES, []),
    gen("get_mempolicy", "memory", RES, [], HOT),
    gen("sync_file_range", "file", RES, [["fd", FD, 0]]),
    gen("membarrier", "memory", RES, [["cmd", U32, 0]], HOT),
    gen("close_range", "file", RES, [["first", U32, 0], ["last", U32, 1], ["flags", U32, 2]]),
    gen("fanotify_mark", "file", RES, [["fanotify_fd", FD, 0], ["flags", U32, 1], ["mask", U64, 2]]),
    // calls of kernels newer than the headers (numbers from NEWER_SYSCALLS)
    gen("cachestat", "file", RES, [["fd", FD, 0], ["flags", U32, 3]], { ...newer("cachestat"), ...HOT_FD }),
    gen("fchmodat2", "file", RES, [["dirfd", FD, 0], ["filename", ArgKind.RelPath, 1, { dirfd: "dirfd" }], ["mode", ArgKind.Mode, 2, { table: "chmodMode" }], ["flags", U32, 3]], newer("fchmodat2")),
    gen("map_shadow_stack", "memory", RES, [["addr", U64, 0], ["size", U64, 1], ["flags", U32, 2]], newer("map_shadow_stack")),
    gen("futex_wake", "ipc", RES, [["addr", U64, 0], ["mask", U64, 1], ["nr", ArgKind.I64, 2], ["flags", U32, 3]], { ...newer("futex_wake"), ...HOT }),
    gen("futex_wait", "ipc", RES, [["addr", U64, 0], ["val", U64, 1], ["mask", U64, 2], ["flags", U32, 3]], { ...newer("futex_wait"), ...HOT }),
    gen("futex_requeue", "ipc", RES, [["nr_wake", ArgKind.I64, 2], ["nr_requeue", ArgKind.I64, 3]], { ...newer("futex_requeue"), ...HOT }),
    gen("statmount", "file", RES, [["flags", U32, 3]], newer("statmount")),
    gen("listmount", "file", RES, [["flags", U32, 3]], newer("listmount")),
    gen("lsm_get_self_attr", "security", RES, [["attr", U32, 0], ["flags", U32, 3]], newer("lsm_get_self_attr")),
    gen("lsm_set_self_attr", "security", RES, [["attr", U32, 0], ["flags", U32, 3]], newer("lsm_set_self_attr")),
    gen("lsm_list_modules", "security", RES, [["flags", U32, 2]], newer("lsm_list_modules")),
    gen("mseal", "memory", RES, [["addr", U64, 0], ["len", U64, 1], ["flags", U32, 2]], newer("mseal")),
    // known names the probe cannot capture: these calls never return, so their exit tracepoint never fires
    { name: "exit", category: "process", nr: sys("exit", null), capture: Capture.Never, params: [p("status", ArgKind.I64)] },
    { name: "exit_group", category: "process", nr: sys("exit_group", null), capture: Capture.Never, params: [p("status", ArgKind.I64)] },
    // Falco's names for calls of 32-bit and other architectures (i386 socketcall, stat64, setuid32...):
    // known, never captured here (the probe's tracepoints do not fire for 32-bit tasks)
    ...OTHER_ARCH_CALLS.map((name) => ({ name, category: "other" as const, nr: {}, capture: Capture.Never, params: [] })),
  ];
  return list.map((e, i) => ({ code: first + i, ...e }) as EventSpec);
}

/** All events, by code. Append only. */
export const EVENTS: readonly EventSpec[] = [
  { code: 0, name: "unknown", category: "other", nr: {}, capture: Capture.Never, params: [] },
  // filename: the program a failed call tried to run (read at exit; absent after a success)
  { code: 1, name: "execve", category: "process", nr: sys("execve"), proc: Proc.Exec, capture: Capture.Always, params: [...EXEC_PARAMS, p("filename", ArgKind.Path)] },
  { code: 2, name: "execveat", category: "process", nr: sys("execveat"), proc: Proc.Exec, capture: Capture.Always, params: [...EXEC_PARAMS, p("dirfd", ArgKind.Fd), p("pathname", ArgKind.RelPath, { dirfd: "dirfd" })] },
  { code: 3, name: "open", category: "file", nr: sys("open"), fd: Fd.Open, capture: Capture.Rules, kernelFilter: true, fdInfo: true, params: [FD_RES, p("name", ArgKind.Path), p("flags", ArgKind.Flags, { table: "openFlags" }), p("mode", ArgKind.Mode), p("dev", ArgKind.U32), p("ino", ArgKind.U64)] },
  { code: 4, name: "openat", category: "file", nr: sys("openat"), fd: Fd.Open, capture: Capture.Rules, kernelFilter: true, fdInfo: true, params: [FD_RES, p("dirfd", ArgKind.Fd), p("name", ArgKind.RelPath, { dirfd: "dirfd" }), p("flags", ArgKind.Flags, { table: "openFlags" }), p("mode", ArgKind.Mode), p("dev", ArgKind.U32), p("ino", ArgKind.U64)] },
  { code: 5, name: "openat2", category: "file", nr: sys("openat2"), fd: Fd.Open, capture: Capture.Rules, kernelFilter: true, fdInfo: true, params: [FD_RES, p("dirfd", ArgKind.Fd), p("name", ArgKind.RelPath, { dirfd: "dirfd" }), p("flags", ArgKind.Flags, { table: "openFlags" }), p("mode", ArgKind.Mode), p("resolve", ArgKind.U64), p("dev", ArgKind.U32), p("ino", ArgKind.U64)] },
  { code: 6, name: "creat", category: "file", nr: sys("creat"), fd: Fd.Open, capture: Capture.Rules, openFlags: 0o1101, fdInfo: true, params: [FD_RES, p("name", ArgKind.Path), p("mode", ArgKind.Mode), p("dev", ArgKind.U32), p("ino", ArgKind.U64)] },
  { code: 7, name: "close", category: "file", nr: sys("close"), fd: Fd.Close, capture: Capture.Rules, params: [RES, p("fd", ArgKind.Fd)] },
  { code: 8, name: "rename", category: "file", nr: sys("rename"), capture: Capture.Rules, params: [RES, p("oldpath", ArgKind.Path), p("newpath", ArgKind.Path)] },
  { code: 9, name: "renameat", category: "file", nr: sys("renameat"), capture: Capture.Rules, params: [RES, p("olddirfd", ArgKind.Fd), p("oldpath", ArgKind.RelPath, { dirfd: "olddirfd" }), p("newdirfd", ArgKind.Fd), p("newpath", ArgKind.RelPath, { dirfd: "newdirfd" })] },
  { code: 10, name: "renameat2", category: "file", nr: sys("renameat2"), capture: Capture.Rules, params: [RES, p("olddirfd", ArgKind.Fd), p("oldpath", ArgKind.RelPath, { dirfd: "olddirfd" }), p("newdirfd", ArgKind.Fd), p("newpath", ArgKind.RelPath, { dirfd: "newdirfd" }), p("flags", ArgKind.Flags, { table: "renameFlags" })] },
  { code: 11, name: "unlink", category: "file", nr: sys("unlink"), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path)] },
  { code: 12, name: "unlinkat", category: "file", nr: sys("unlinkat"), capture: Capture.Rules, params: [RES, p("dirfd", ArgKind.Fd), p("name", ArgKind.RelPath, { dirfd: "dirfd" }), p("flags", ArgKind.Flags, { table: "unlinkatFlags" })] },
  { code: 13, name: "mkdir", category: "file", nr: sys("mkdir"), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path), p("mode", ArgKind.Mode)] },
  { code: 14, name: "mkdirat", category: "file", nr: sys("mkdirat"), capture: Capture.Rules, params: [RES, p("dirfd", ArgKind.Fd), p("path", ArgKind.RelPath, { dirfd: "dirfd" }), p("mode", ArgKind.Mode)] },
  { code: 15, name: "rmdir", category: "file", nr: sys("rmdir"), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path)] },
  { code: 16, name: "link", category: "file", nr: sys("link"), capture: Capture.Rules, params: [RES, p("oldpath", ArgKind.Path), p("newpath", ArgKind.Path)] },
  { code: 17, name: "linkat", category: "file", nr: sys("linkat"), capture: Capture.Rules, params: [RES, p("olddir", ArgKind.Fd), p("oldpath", ArgKind.RelPath, { dirfd: "olddir" }), p("newdir", ArgKind.Fd), p("newpath", ArgKind.RelPath, { dirfd: "newdir" }), p("flags", ArgKind.Flags, { table: "linkatFlags" })] },
  { code: 18, name: "symlink", category: "file", nr: sys("symlink"), capture: Capture.Rules, params: [RES, p("target", ArgKind.Str), p("linkpath", ArgKind.Path)] },
  { code: 19, name: "symlinkat", category: "file", nr: sys("symlinkat"), capture: Capture.Rules, params: [RES, p("target", ArgKind.Str), p("linkdirfd", ArgKind.Fd), p("linkpath", ArgKind.RelPath, { dirfd: "linkdirfd" })] },
  { code: 20, name: "chmod", category: "file", nr: sys("chmod"), capture: Capture.Rules, params: [RES, p("filename", ArgKind.Path), p("mode", ArgKind.Mode, { table: "chmodMode" })] },
  { code: 21, name: "fchmod", category: "file", nr: sys("fchmod"), fd: Fd.Use, capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("mode", ArgKind.Mode, { table: "chmodMode" })] },
  { code: 22, name: "fchmodat", category: "file", nr: sys("fchmodat"), capture: Capture.Rules, params: [RES, p("dirfd", ArgKind.Fd), p("filename", ArgKind.RelPath, { dirfd: "dirfd" }), p("mode", ArgKind.Mode, { table: "chmodMode" })] },
  { code: 23, name: "chown", category: "file", nr: sys("chown", null), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path), p("uid", ArgKind.Uid), p("gid", ArgKind.Gid)] },
  { code: 24, name: "lchown", category: "file", nr: sys("lchown", null), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path), p("uid", ArgKind.Uid), p("gid", ArgKind.Gid)] },
  { code: 25, name: "fchown", category: "file", nr: sys("fchown", null), fd: Fd.Use, capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("uid", ArgKind.Uid), p("gid", ArgKind.Gid)] },
  { code: 26, name: "fchownat", category: "file", nr: sys("fchownat", null), capture: Capture.Rules, params: [RES, p("dirfd", ArgKind.Fd), p("pathname", ArgKind.RelPath, { dirfd: "dirfd" }), p("uid", ArgKind.Uid), p("gid", ArgKind.Gid), p("flags", ArgKind.Flags, { table: "atFlags" })] },
  { code: 27, name: "truncate", category: "file", nr: sys("truncate", null), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path), p("length", ArgKind.U64)] },
  { code: 28, name: "ftruncate", category: "file", nr: sys("ftruncate", null), fd: Fd.Use, capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("length", ArgKind.U64)] },
  { code: 29, name: "clone", category: "process", nr: sys("clone"), proc: Proc.Clone, capture: Capture.Child, params: CLONE_PARAMS },
  { code: 30, name: "clone3", category: "process", nr: sys("clone3"), proc: Proc.Clone, capture: Capture.Child, params: CLONE_PARAMS },
  { code: 31, name: "fork", category: "process", nr: sys("fork"), proc: Proc.Clone, capture: Capture.Child, params: CLONE_PARAMS },
  { code: 32, name: "vfork", category: "process", nr: sys("vfork"), proc: Proc.Clone, capture: Capture.Child, params: CLONE_PARAMS },
  { code: 33, name: "procexit", category: "process", nr: {}, proc: Proc.Exit, capture: Capture.Always, hook: { prog: "sched_exit", tracepoint: null }, params: [p("status", ArgKind.I64), p("ret", ArgKind.I64), p("sig", ArgKind.U32), p("core", ArgKind.U32), p("reaper_tid", ArgKind.Pid)] },
  { code: 34, name: "setuid", category: "security", nr: sys("setuid", "setuid32"), capture: Capture.Rules, params: [RES, p("uid", ArgKind.Uid)] },
  { code: 35, name: "setgid", category: "security", nr: sys("setgid", "setgid32"), capture: Capture.Rules, params: [RES, p("gid", ArgKind.Gid)] },
  { code: 36, name: "setresuid", category: "security", nr: sys("setresuid", "setresuid32"), capture: Capture.Rules, params: [RES, p("ruid", ArgKind.Uid), p("euid", ArgKind.Uid), p("suid", ArgKind.Uid)] },
  { code: 37, name: "setresgid", category: "security", nr: sys("setresgid", "setresgid32"), capture: Capture.Rules, params: [RES, p("rgid", ArgKind.Gid), p("egid", ArgKind.Gid), p("sgid", ArgKind.Gid)] },
  { code: 38, name: "capset", category: "security", nr: sys("capset"), capture: Capture.Rules, params: [RES, p("cap_inheritable", ArgKind.U64), p("cap_permitted", ArgKind.U64), p("cap_effective", ArgKind.U64)] },
  { code: 39, name: "socket", category: "net", nr: sys("socket"), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [FD_RES, p("domain", ArgKind.Enum, { table: "socketFamily" }), p("type", ArgKind.Flags, { table: "socketType" }), p("proto", ArgKind.U32)] },
  { code: 40, name: "connect", category: "net", nr: sys("connect"), capture: Capture.Rules, fdInfo: true, params: [RES, p("tuple", ArgKind.Tuple), p("fd", ArgKind.Fd), p("addr", ArgKind.SockAddr)] },
  { code: 41, name: "accept", category: "net", nr: sys("accept", null), fd: Fd.New, capture: Capture.Rules, server: true, fdInfo: true, params: [FD_RES, p("tuple", ArgKind.Tuple), p("queuepct", ArgKind.U32)] },
  { code: 42, name: "accept4", category: "net", nr: sys("accept4"), fd: Fd.New, capture: Capture.Rules, server: true, fdInfo: true, params: [FD_RES, p("tuple", ArgKind.Tuple), p("queuepct", ArgKind.U32), p("flags", ArgKind.Flags, { table: "socketType" })] },
  { code: 43, name: "bind", category: "net", nr: sys("bind"), capture: Capture.Rules, server: true, fdInfo: true, params: [RES, p("addr", ArgKind.SockAddr), p("fd", ArgKind.Fd)] },
  { code: 44, name: "listen", category: "net", nr: sys("listen"), capture: Capture.Rules, server: true, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("backlog", ArgKind.U32)] },
  { code: 45, name: "sendto", category: "net", nr: sys("sendto", null), fd: Fd.Send, capture: Capture.Rules, fdInfo: true, params: [RES, p("data", ArgKind.Bytes), p("fd", ArgKind.Fd), p("size", ArgKind.U32), p("tuple", ArgKind.Tuple)] },
  { code: 46, name: "sendmsg", category: "net", nr: sys("sendmsg", null), fd: Fd.Send, capture: Capture.Rules, fdInfo: true, params: [RES, p("data", ArgKind.Bytes), p("fd", ArgKind.Fd), p("size", ArgKind.U32), p("tuple", ArgKind.Tuple)] },
  { code: 47, name: "dup", category: "file", nr: sys("dup"), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [RES, p("oldfd", ArgKind.Fd)] },
  { code: 48, name: "dup2", category: "file", nr: sys("dup2"), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [RES, p("oldfd", ArgKind.Fd), p("newfd", ArgKind.Fd)] },
  { code: 49, name: "dup3", category: "file", nr: sys("dup3"), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [RES, p("oldfd", ArgKind.Fd), p("newfd", ArgKind.Fd), p("flags", ArgKind.Flags, { table: "openFlags" })] },
  { code: 50, name: "fcntl", category: "file", nr: sys("fcntl", null), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("cmd", ArgKind.Enum, { table: "fcntlCmd" })] },
  { code: 51, name: "ptrace", category: "process", nr: sys("ptrace"), capture: Capture.Rules, params: [RES, p("addr", ArgKind.U64), p("data", ArgKind.U64), p("request", ArgKind.Enum, { table: "ptraceRequest" }), p("pid", ArgKind.Pid)] },
  { code: 52, name: "mount", category: "file", nr: sys("mount"), capture: Capture.Rules, params: [RES, p("dev", ArgKind.Path), p("dir", ArgKind.Path), p("type", ArgKind.Str), p("flags", ArgKind.Flags, { table: "mountFlags" })] },
  { code: 53, name: "umount2", category: "file", nr: sys("umount2"), capture: Capture.Rules, hook: { prog: "exit_umount", tracepoint: "sys_exit_umount" }, params: [RES, p("name", ArgKind.Path), p("flags", ArgKind.Flags, { table: "umountFlags" })] },
  { code: 54, name: "init_module", category: "system", nr: sys("init_module"), capture: Capture.Rules, params: [RES, p("img", ArgKind.Bytes), p("length", ArgKind.U64), p("uargs", ArgKind.Str)] },
  { code: 55, name: "finit_module", category: "system", nr: sys("finit_module"), capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("uargs", ArgKind.Str), p("flags", ArgKind.U32)] },
  { code: 56, name: "memfd_create", category: "memory", nr: sys("memfd_create"), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [FD_RES, p("name", ArgKind.Str), p("flags", ArgKind.Flags, { table: "memfdFlags" })] },
  { code: 57, name: "bpf", category: "system", nr: sys("bpf"), capture: Capture.Rules, params: [FD_RES, p("cmd", ArgKind.Enum, { table: "bpfCmd" })] },
  { code: 58, name: "unshare", category: "process", nr: sys("unshare"), capture: Capture.Rules, params: [RES, p("flags", ArgKind.Flags, { table: "cloneFlags" })] },
  { code: 59, name: "setns", category: "process", nr: sys("setns"), capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd), p("nstype", ArgKind.Flags, { table: "cloneFlags" })] },
  { code: 60, name: "prctl", category: "process", nr: sys("prctl", null), capture: Capture.Rules, params: [RES, p("option", ArgKind.Enum, { table: "prctlOption" }), p("arg2_str", ArgKind.Str), p("arg2_int", ArgKind.I64)] },
  { code: 61, name: "chdir", category: "file", nr: sys("chdir"), capture: Capture.Rules, params: [RES, p("path", ArgKind.Path)] },
  { code: 62, name: "fchdir", category: "file", nr: sys("fchdir"), fd: Fd.Use, capture: Capture.Rules, fdInfo: true, params: [RES, p("fd", ArgKind.Fd)] },
  { code: 63, name: "setreuid", category: "security", nr: sys("setreuid", "setreuid32"), capture: Capture.Rules, params: [RES, p("ruid", ArgKind.Uid), p("euid", ArgKind.Uid)] },
  { code: 64, name: "setregid", category: "security", nr: sys("setregid", "setregid32"), capture: Capture.Rules, params: [RES, p("rgid", ArgKind.Gid), p("egid", ArgKind.Gid)] },
  // receives: the tuple names the peer of an unconnected datagram socket (fd.name peer->local, Falco's inbound tuple)
  { code: 65, name: "recvfrom", category: "net", nr: sys("recvfrom", null), fd: Fd.Send, capture: Capture.Rules, inbound: true, fdInfo: true, params: [RES, p("data", ArgKind.Bytes), p("tuple", ArgKind.Tuple), p("fd", ArgKind.Fd), p("size", ArgKind.U32)] },
  { code: 66, name: "recvmsg", category: "net", nr: sys("recvmsg", null), fd: Fd.Send, capture: Capture.Rules, inbound: true, fdInfo: true, params: [RES, p("size", ArgKind.U32), p("data", ArgKind.Bytes), p("tuple", ArgKind.Tuple), p("fd", ArgKind.Fd)] },
  { code: 67, name: "userfaultfd", category: "memory", nr: sys("userfaultfd", null), fd: Fd.New, capture: Capture.Rules, fdInfo: true, params: [RES, p("flags", ArgKind.Flags, { table: "userfaultfdFlags" })] },
  // Falco's meta event for a new container (the container plugin's); Vigil's probe has no such event
  { code: 68, name: "container", category: "other", nr: {}, capture: Capture.Never, params: [] },
  ...GENERATED_EVENTS(69),
  // an operation submitted to an io_uring (tp_btf io_uring_submit_req; io_uring_submit_sqe before 6.5), read
  // from the prepared request: the syscall tracepoints never see these. res is 0: the result comes with the
  // completion, not observed. name/dirfd/flags/mode: the open family, unlinkat, mkdirat, renameat (oldpath);
  // addr: connect and the sendmsg destination; fd: the request's target fd (fixed=1: an index into the ring's files)
  { code: 419, name: "io_uring_op", category: "other", nr: {}, fd: Fd.Use, fdInfo: true, capture: Capture.Rules, hook: { prog: "io_uring_submit", tracepoint: null }, params: [RES, p("op", ArgKind.Enum, { table: "ioUringOp" }), p("fd", ArgKind.Fd), p("dirfd", ArgKind.Fd), p("name", ArgKind.RelPath, { dirfd: "dirfd" }), p("flags", ArgKind.Flags, { table: "openFlags" }), p("mode", ArgKind.Mode), p("addr", ArgKind.SockAddr), p("user_data", ArgKind.U64), p("sq_thread", ArgKind.U32), p("fixed", ArgKind.U32)] },
];

export type EventCode = number;

/** Calls that start a process or thread (their frames carry the process block). */
export const CLONE_FAMILY: readonly string[] = EVENTS.filter((e) => e.proc === Proc.Clone).map((e) => e.name);
/** Calls that run a new program. */
export const EXEC_FAMILY: readonly string[] = EVENTS.filter((e) => e.proc === Proc.Exec).map((e) => e.name);
/** Events reported whatever the rules say (the process table needs them; clone family: the child's side). */
export const STATE_EVENTS: readonly string[] = EVENTS.filter((e) => e.capture === Capture.Always || e.capture === Capture.Child).map((e) => e.name);

/** Highest code + 1: size of per-type lookup arrays. */
export const EVENT_CODE_LIMIT = EVENTS.length;

const byName = new Map<string, EventSpec>();
for (const e of EVENTS) byName.set(e.name, e);

/** Event spec by Falco name, or undefined. */
export function eventByName(name: string): EventSpec | undefined {
  return byName.get(name);
}

/** Event spec by code, or undefined. */
export function eventByCode(code: number): EventSpec | undefined {
  return EVENTS[code];
}

/** The code of a known event; throws on an unknown name (use at module load, not per event). */
export function eventCode(name: string): number {
  const e = byName.get(name);
  if (e === undefined) throw new Error(`no event named ${name} in the event table`);
  return e.code;
}

/** Index of a param in an event's schema, or -1. */
export function paramIndex(code: number, name: string): number {
  const spec = EVENTS[code];
  if (spec === undefined) return -1;
  return spec.params.findIndex((q) => q.name === name);
}

/** Names of flag tables. */
export type FlagTableName =
  | "openFlags"
  | "cloneFlags"
  | "execveFlags"
  | "renameFlags"
  | "unlinkatFlags"
  | "linkatFlags"
  | "atFlags"
  | "socketFamily"
  | "socketType"
  | "fcntlCmd"
  | "ptraceRequest"
  | "mountFlags"
  | "umountFlags"
  | "memfdFlags"
  | "bpfCmd"
  | "prctlOption"
  | "userfaultfdFlags"
  | "protFlags"
  | "signal"
  | "chmodMode"
  | "fsFlags"
  | "ioUringOp";

/**
 * Linux (x86_64) values, in rendering order. For bit sets a name is printed when all its bits are
 * present, and its bits are then consumed (so `O_RDWR` is not also printed as `O_WRONLY`).
 * `openFlags` gives the access mode specially: O_RDONLY (0), O_WRONLY (1), O_RDWR (2) are values of
 * the low two bits, not bits.
 */
export const FLAG_TABLES: Readonly<Record<FlagTableName, readonly (readonly [string, number])[]>> = {
  openFlags: [
    ["O_RDONLY", 0], ["O_WRONLY", 0o1], ["O_RDWR", 0o2],
    ["O_CREAT", 0o100], ["O_EXCL", 0o200], ["O_NOCTTY", 0o400], ["O_TRUNC", 0o1000], ["O_APPEND", 0o2000],
    ["O_NONBLOCK", 0o4000], ["O_SYNC", 0o4010000], ["O_DSYNC", 0o10000], ["O_ASYNC", 0o20000], ["O_DIRECT", 0o40000],
    ["O_LARGEFILE", 0o100000], ["O_TMPFILE", 0o20200000], ["O_DIRECTORY", 0o200000], ["O_NOFOLLOW", 0o400000],
    ["O_NOATIME", 0o1000000], ["O_CLOEXEC", 0o2000000], ["O_PATH", 0o10000000],
  ],
  cloneFlags: [
    ["CLONE_VM", 0x100], ["CLONE_FS", 0x200], ["CLONE_FILES", 0x400], ["CLONE_SIGHAND", 0x800], ["CLONE_PIDFD", 0x1000],
    ["CLONE_PTRACE", 0x2000], ["CLONE_VFORK", 0x4000], ["CLONE_PARENT", 0x8000], ["CLONE_THREAD", 0x10000],
    ["CLONE_NEWNS", 0x20000], ["CLONE_SYSVSEM", 0x40000], ["CLONE_SETTLS", 0x80000], ["CLONE_PARENT_SETTID", 0x100000],
    ["CLONE_CHILD_CLEARTID", 0x200000], ["CLONE_DETACHED", 0x400000], ["CLONE_UNTRACED", 0x800000],
    ["CLONE_CHILD_SETTID", 0x1000000], ["CLONE_NEWCGROUP", 0x2000000], ["CLONE_NEWUTS", 0x4000000],
    ["CLONE_NEWIPC", 0x8000000], ["CLONE_NEWUSER", 0x10000000], ["CLONE_NEWPID", 0x20000000],
    ["CLONE_NEWNET", 0x40000000], ["CLONE_IO", 0x80000000],
  ],
  execveFlags: [
    ["EXE_WRITABLE", 1], ["EXE_UPPER_LAYER", 2], ["EXE_FROM_MEMFD", 4], ["EXE_LOWER_LAYER", 8],
  ],
  renameFlags: [["RENAME_NOREPLACE", 1], ["RENAME_EXCHANGE", 2], ["RENAME_WHITEOUT", 4]],
  unlinkatFlags: [["AT_REMOVEDIR", 0x200]],
  linkatFlags: [["AT_SYMLINK_FOLLOW", 0x400], ["AT_EMPTY_PATH", 0x1000]],
  atFlags: [["AT_SYMLINK_NOFOLLOW", 0x100], ["AT_EMPTY_PATH", 0x1000]],
  socketFamily: [
    ["AF_UNSPEC", 0], ["AF_UNIX", 1], ["AF_INET", 2], ["AF_INET6", 10], ["AF_NETLINK", 16], ["AF_PACKET", 17],
    ["AF_BLUETOOTH", 31], ["AF_ALG", 38], ["AF_VSOCK", 40], ["AF_XDP", 44],
  ],
  socketType: [
    ["SOCK_STREAM", 1], ["SOCK_DGRAM", 2], ["SOCK_RAW", 3], ["SOCK_RDM", 4], ["SOCK_SEQPACKET", 5], ["SOCK_PACKET", 10],
    ["SOCK_NONBLOCK", 0o4000], ["SOCK_CLOEXEC", 0o2000000],
  ],
  fcntlCmd: [
    ["F_DUPFD", 0], ["F_GETFD", 1], ["F_SETFD", 2], ["F_GETFL", 3], ["F_SETFL", 4], ["F_GETLK", 5], ["F_SETLK", 6],
    ["F_SETLKW", 7], ["F_SETOWN", 8], ["F_GETOWN", 9], ["F_SETSIG", 10], ["F_GETSIG", 11], ["F_DUPFD_CLOEXEC", 1030],
  ],
  ptraceRequest: [
    ["PTRACE_TRACEME", 0], ["PTRACE_PEEKTEXT", 1], ["PTRACE_PEEKDATA", 2], ["PTRACE_PEEKUSR", 3], ["PTRACE_POKETEXT", 4],
    ["PTRACE_POKEDATA", 5], ["PTRACE_POKEUSR", 6], ["PTRACE_CONT", 7], ["PTRACE_KILL", 8], ["PTRACE_SINGLESTEP", 9],
    ["PTRACE_GETREGS", 12], ["PTRACE_SETREGS", 13], ["PTRACE_GETFPREGS", 14], ["PTRACE_SETFPREGS", 15],
    ["PTRACE_ATTACH", 16], ["PTRACE_DETACH", 17], ["PTRACE_SYSCALL", 24], ["PTRACE_SETOPTIONS", 0x4200],
    ["PTRACE_GETEVENTMSG", 0x4201], ["PTRACE_GETSIGINFO", 0x4202], ["PTRACE_SETSIGINFO", 0x4203],
    ["PTRACE_GETREGSET", 0x4204], ["PTRACE_SETREGSET", 0x4205], ["PTRACE_SEIZE", 0x4206],
    ["PTRACE_INTERRUPT", 0x4207], ["PTRACE_LISTEN", 0x4208],
  ],
  mountFlags: [
    ["MS_RDONLY", 1], ["MS_NOSUID", 2], ["MS_NODEV", 4], ["MS_NOEXEC", 8], ["MS_SYNCHRONOUS", 16], ["MS_REMOUNT", 32],
    ["MS_MANDLOCK", 64], ["MS_DIRSYNC", 128], ["MS_NOATIME", 1024], ["MS_NODIRATIME", 2048], ["MS_BIND", 4096],
    ["MS_MOVE", 8192], ["MS_REC", 16384], ["MS_SILENT", 32768], ["MS_POSIXACL", 1 << 16], ["MS_UNBINDABLE", 1 << 17],
    ["MS_PRIVATE", 1 << 18], ["MS_SLAVE", 1 << 19], ["MS_SHARED", 1 << 20], ["MS_RELATIME", 1 << 21],
    ["MS_KERNMOUNT", 1 << 22], ["MS_I_VERSION", 1 << 23], ["MS_STRICTATIME", 1 << 24], ["MS_LAZYTIME", 1 << 25],
  ],
  umountFlags: [["MNT_FORCE", 1], ["MNT_DETACH", 2], ["MNT_EXPIRE", 4], ["UMOUNT_NOFOLLOW", 8]],
  memfdFlags: [["MFD_CLOEXEC", 1], ["MFD_ALLOW_SEALING", 2], ["MFD_HUGETLB", 4], ["MFD_NOEXEC_SEAL", 8], ["MFD_EXEC", 0x10]],
  bpfCmd: [
    ["BPF_MAP_CREATE", 0], ["BPF_MAP_LOOKUP_ELEM", 1], ["BPF_MAP_UPDATE_ELEM", 2], ["BPF_MAP_DELETE_ELEM", 3],
    ["BPF_MAP_GET_NEXT_KEY", 4], ["BPF_PROG_LOAD", 5], ["BPF_OBJ_PIN", 6], ["BPF_OBJ_GET", 7], ["BPF_PROG_ATTACH", 8],
    ["BPF_PROG_DETACH", 9], ["BPF_PROG_TEST_RUN", 10], ["BPF_PROG_GET_NEXT_ID", 11], ["BPF_MAP_GET_NEXT_ID", 12],
    ["BPF_PROG_GET_FD_BY_ID", 13], ["BPF_MAP_GET_FD_BY_ID", 14], ["BPF_OBJ_GET_INFO_BY_FD", 15], ["BPF_PROG_QUERY", 16],
    ["BPF_RAW_TRACEPOINT_OPEN", 17], ["BPF_BTF_LOAD", 18], ["BPF_LINK_CREATE", 28],
  ],
  userfaultfdFlags: [["UFFD_USER_MODE_ONLY", 1], ["O_NONBLOCK", 0o4000], ["O_CLOEXEC", 0o2000000]],
  protFlags: [["PROT_READ", 1], ["PROT_WRITE", 2], ["PROT_EXEC", 4], ["PROT_SEM", 8], ["PROT_GROWSDOWN", 0x01000000], ["PROT_GROWSUP", 0x02000000]],
  signal: [
    ["SIGHUP", 1], ["SIGINT", 2], ["SIGQUIT", 3], ["SIGILL", 4], ["SIGTRAP", 5], ["SIGABRT", 6], ["SIGBUS", 7], ["SIGFPE", 8],
    ["SIGKILL", 9], ["SIGUSR1", 10], ["SIGSEGV", 11], ["SIGUSR2", 12], ["SIGPIPE", 13], ["SIGALRM", 14], ["SIGTERM", 15],
    ["SIGSTKFLT", 16], ["SIGCHLD", 17], ["SIGCONT", 18], ["SIGSTOP", 19], ["SIGTSTP", 20], ["SIGTTIN", 21], ["SIGTTOU", 22],
    ["SIGURG", 23], ["SIGXCPU", 24], ["SIGXFSZ", 25], ["SIGVTALRM", 26], ["SIGPROF", 27], ["SIGWINCH", 28], ["SIGIO", 29],
    ["SIGPWR", 30], ["SIGSYS", 31],
  ],
  /** chmod-family modes: Falco renders the permission bits by name after the octal value (`0755(S_IXOTH|...)`). */
  /** Inode flags (FS_IOC_SETFLAGS, chattr); FS_IOC_FSSETXATTR's xflags are mapped onto them by the probe. */
  fsFlags: [
    ["FS_SECRM_FL", 0x1], ["FS_UNRM_FL", 0x2], ["FS_COMPR_FL", 0x4], ["FS_SYNC_FL", 0x8], ["FS_IMMUTABLE_FL", 0x10],
    ["FS_APPEND_FL", 0x20], ["FS_NODUMP_FL", 0x40], ["FS_NOATIME_FL", 0x80], ["FS_JOURNAL_DATA_FL", 0x4000],
    ["FS_NOTAIL_FL", 0x8000], ["FS_DIRSYNC_FL", 0x10000], ["FS_TOPDIR_FL", 0x20000], ["FS_EXTENT_FL", 0x80000],
    ["FS_VERITY_FL", 0x100000], ["FS_NOCOW_FL", 0x800000], ["FS_DAX_FL", 0x2000000], ["FS_INLINE_DATA_FL", 0x10000000],
    ["FS_PROJINHERIT_FL", 0x20000000], ["FS_CASEFOLD_FL", 0x40000000],
  ],
  chmodMode: [
    ["S_IXOTH", 0o1], ["S_IWOTH", 0o2], ["S_IROTH", 0o4], ["S_IXGRP", 0o10], ["S_IWGRP", 0o20], ["S_IRGRP", 0o40],
    ["S_IXUSR", 0o100], ["S_IWUSR", 0o200], ["S_IRUSR", 0o400], ["S_ISVTX", 0o1000], ["S_ISGID", 0o2000], ["S_ISUID", 0o4000],
  ],
  /** enum io_uring_op (include/uapi/linux/io_uring.h), values fixed by the kernel ABI */
  ioUringOp: [
    ["IORING_OP_NOP", 0], ["IORING_OP_READV", 1], ["IORING_OP_WRITEV", 2], ["IORING_OP_FSYNC", 3], ["IORING_OP_READ_FIXED", 4],
    ["IORING_OP_WRITE_FIXED", 5], ["IORING_OP_POLL_ADD", 6], ["IORING_OP_POLL_REMOVE", 7], ["IORING_OP_SYNC_FILE_RANGE", 8],
    ["IORING_OP_SENDMSG", 9], ["IORING_OP_RECVMSG", 10], ["IORING_OP_TIMEOUT", 11], ["IORING_OP_TIMEOUT_REMOVE", 12],
    ["IORING_OP_ACCEPT", 13], ["IORING_OP_ASYNC_CANCEL", 14], ["IORING_OP_LINK_TIMEOUT", 15], ["IORING_OP_CONNECT", 16],
    ["IORING_OP_FALLOCATE", 17], ["IORING_OP_OPENAT", 18], ["IORING_OP_CLOSE", 19], ["IORING_OP_FILES_UPDATE", 20],
    ["IORING_OP_STATX", 21], ["IORING_OP_READ", 22], ["IORING_OP_WRITE", 23], ["IORING_OP_FADVISE", 24], ["IORING_OP_MADVISE", 25],
    ["IORING_OP_SEND", 26], ["IORING_OP_RECV", 27], ["IORING_OP_OPENAT2", 28], ["IORING_OP_EPOLL_CTL", 29], ["IORING_OP_SPLICE", 30],
    ["IORING_OP_PROVIDE_BUFFERS", 31], ["IORING_OP_REMOVE_BUFFERS", 32], ["IORING_OP_TEE", 33], ["IORING_OP_SHUTDOWN", 34],
    ["IORING_OP_RENAMEAT", 35], ["IORING_OP_UNLINKAT", 36], ["IORING_OP_MKDIRAT", 37], ["IORING_OP_SYMLINKAT", 38],
    ["IORING_OP_LINKAT", 39], ["IORING_OP_MSG_RING", 40], ["IORING_OP_FSETXATTR", 41], ["IORING_OP_SETXATTR", 42],
    ["IORING_OP_FGETXATTR", 43], ["IORING_OP_GETXATTR", 44], ["IORING_OP_SOCKET", 45], ["IORING_OP_URING_CMD", 46],
    ["IORING_OP_SEND_ZC", 47], ["IORING_OP_SENDMSG_ZC", 48], ["IORING_OP_READ_MULTISHOT", 49], ["IORING_OP_WAITID", 50],
    ["IORING_OP_FUTEX_WAIT", 51], ["IORING_OP_FUTEX_WAKE", 52], ["IORING_OP_FUTEX_WAITV", 53], ["IORING_OP_FIXED_FD_INSTALL", 54],
    ["IORING_OP_FTRUNCATE", 55], ["IORING_OP_BIND", 56], ["IORING_OP_LISTEN", 57], ["IORING_OP_RECV_ZC", 58],
    ["IORING_OP_EPOLL_WAIT", 59], ["IORING_OP_READV_FIXED", 60], ["IORING_OP_WRITEV_FIXED", 61], ["IORING_OP_PIPE", 62],
  ],
  prctlOption: [
    ["PR_SET_PDEATHSIG", 1], ["PR_GET_PDEATHSIG", 2], ["PR_GET_DUMPABLE", 3], ["PR_SET_DUMPABLE", 4],
    ["PR_SET_KEEPCAPS", 8], ["PR_SET_NAME", 15], ["PR_GET_NAME", 16], ["PR_SET_SECCOMP", 22], ["PR_CAPBSET_DROP", 24],
    ["PR_SET_MM", 35], ["PR_SET_CHILD_SUBREAPER", 36], ["PR_SET_NO_NEW_PRIVS", 38], ["PR_SET_PTRACER", 0x59616d61],
  ],
};
