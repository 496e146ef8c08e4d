// SPDX-License-Identifier: Apache-2.0
/**
 * The field registry: every field the engine knows, its type, its description, whether it takes
 * an argument, and a getter factory. Getters read the event model of `rules/event.ts`; a getter
 * returns `undefined` when the value cannot be extracted (Falco's "missing": every check false,
 * `<NA>` in outputs). Getters are built once at compile time with their argument resolved.
 */
import { ArgKind, EVENT_CODE_LIMIT, EVENTS, type ParamSpec } from "../event-table.js";
import type { ContainerInfo, FdInfo, K8sInfo, K8sObjectMeta, K8sPodMeta, SockTuple, SyscallEvent, ThreadInfo } from "../event.js";
import { CompileError } from "../errors.js";
import { addrText, bytesText, capsText, enumText, flagsText, modeText, numText, resText, tupleText } from "./text.js";
import { FILE_BEHAVIOUR_FIELDS } from "./fields-behaviour-files.js";
import { NET_BEHAVIOUR_FIELDS } from "./fields-behaviour-net.js";

import { FieldType, type FieldValue, type Getter } from "./field-types.js";

export { FieldType, type FieldValue, type Getter };
export type ThreadGetter = (t: ThreadInfo) => FieldValue;

/** How a field takes an argument. */
export type FieldArgMode = "none" | "required" | "optional";

/** Public description of one field (for `vigil rules fields`). */
export interface FieldInfo {
  readonly name: string;
  readonly type: FieldType;
  readonly desc: string;
  readonly arg: FieldArgMode;
  /** What the argument is: an ancestor index, a key, a param name or index. */
  readonly argDesc?: string;
}

/**
 * What some getters need from the loaded configuration, fixed for one rule load: the getters
 * close over it at compile time, so evaluation reads no global.
 */
export interface FieldContext {
  /** The node's name, reported by `evt.hostname`. */
  readonly hostname: string;
  /** Names of IP addresses for `fd.*ip.name`; called per check: keep it a lookup. */
  readonly ipNames: IpNameResolver;
  /**
   * The fields of a source other than `syscall` (Falco's plugin sources, e.g. `k8s_audit`): when
   * set, every field name resolves here and nowhere else. Unset: the syscall fields.
   */
  readonly source?: FieldSource;
}

/**
 * The field registry of an event source other than the syscall one. Its getters read that
 * source's event object (e.g. a Kubernetes audit event), which the engine passes where a
 * SyscallEvent goes: the casts stay inside the source's own module.
 */
export interface FieldSource {
  /** The source name rules give in `source:` (`k8s_audit`). */
  readonly name: string;
  /** Resolves a field; throws CompileError `UNKNOWN_FIELD` or `BAD_FIELD_ARG` as {@link resolveField} does. */
  resolve(name: string, arg: string | undefined, ctx: FieldContext): ResolvedField;
  /** True if a field of this name (argument aside) exists: output formats end a token at the longest such name. */
  has(name: string): boolean;
  /** Every field of the source, sorted by name (for `vigil rules fields --source`). */
  list(): readonly FieldInfo[];
}

/**
 * Values of a list field (Falco's EPF_IS_LIST, e.g. `ka.req.pod.containers.image`): `undefined`
 * when missing. `in` holds when every value is in the set, `intersects` when one is.
 */
export type ListGetter = (e: SyscallEvent) => readonly string[] | undefined;

/** The context of a load given none: no host name, no IP names. */
export const DEFAULT_FIELD_CONTEXT: FieldContext = Object.freeze({ hostname: "", ipNames: () => undefined });

interface FieldDef extends FieldInfo {
  make(arg: string | undefined, ctx: FieldContext): Getter;
  /** For proc.a* fields: the value for one thread, used to match any ancestor when no index is given. */
  ancestor?: ThreadGetter;
  /** For fd.ip/fd.port/fd.net: the other endpoint, a check matches when either side does. */
  either?: Getter;
  /** For list fields (Falco's EPF_IS_LIST, e.g. `k8smeta.pod.labels`): the values; `make` renders them. */
  makeList?(arg: string | undefined, ctx: FieldContext): ListGetter;
}

/** A field resolved for use: its getter with the argument bound. */
export interface ResolvedField {
  readonly name: string;
  readonly type: FieldType;
  readonly get: Getter;
  readonly ancestor: ThreadGetter | undefined;
  readonly either: Getter | undefined;
  /** For list fields: the values (checks use them); `get` then renders them for outputs, `(a,b)`. */
  readonly list?: ListGetter;
}

const registry = new Map<string, FieldDef>();

function def(name: string, type: FieldType, desc: string, make: (ctx: FieldContext) => Getter, extra?: Partial<FieldDef>): void {
  registry.set(name, { name, type, desc, arg: "none", make: (_arg, ctx) => make(ctx), ...extra });
}
function defArg(
  name: string,
  type: FieldType,
  desc: string,
  arg: FieldArgMode,
  argDesc: string,
  make: (arg: string | undefined, ctx: FieldContext) => Getter,
  extra?: Partial<FieldDef>,
): void {
  registry.set(name, { name, type, desc, arg, argDesc, make, ...extra });
}

const MAX_ANCESTORS = 256;

function badArg(name: string, arg: string | undefined, why: string): CompileError {
  return new CompileError("BAD_FIELD_ARG", `invalid argument '${arg ?? ""}' for field '${name}': ${why}`);
}

function indexArg(name: string, arg: string | undefined): number {
  if (arg === undefined || !/^[0-9]{1,4}$/.test(arg)) throw badArg(name, arg, "expected a non-negative index");
  return Number(arg);
}

/** Thread `n` levels up (0 = self); undefined past the root. */
function ancestorAt(t: ThreadInfo, n: number): ThreadInfo | undefined {
  let cur: ThreadInfo | undefined = t;
  for (let k = 0; k < n && cur !== undefined; k++) cur = cur.parent;
  return cur;
}

// ---- memoised text of process facts (the same thread is seen many times in a row) ----

interface TextMemo {
  list: readonly string[];
  head: string;
  value: string;
}

/**
 * Text built from a thread's facts (command line, arguments), shared by every getter of the same
 * kind in every rule: one rule set asks for `proc.cmdline` or `proc.args` dozens of times per
 * exec, and the text is built once per thread generation, not once per occurrence. A thread's
 * generation is its args (or env) array and head (comm or exe), replaced, never mutated, at exec;
 * an entry is valid only while both are the same array/text it was built from, so the cached text
 * always equals what a fresh build would give.
 *
 * Two recently used entries are kept in fields (the event's process and its parent, which rules
 * ask for in turn), checked by identity without allocating; behind them a WeakMap keyed by the
 * ThreadInfo keeps one entry per live thread, so interleaved events of known processes build no
 * string, and the entry goes away with the thread.
 */
class ThreadText {
  private readonly memo = new WeakMap<ThreadInfo, TextMemo>();
  private t0: ThreadInfo | undefined;
  private l0: readonly string[] | undefined;
  private h0 = "";
  private v0 = "";
  private t1: ThreadInfo | undefined;
  private l1: readonly string[] | undefined;
  private h1 = "";
  private v1 = "";

  constructor(
    private readonly headOf: (t: ThreadInfo) => string,
    private readonly listOf: (t: ThreadInfo) => readonly string[],
    private readonly build: (head: string, list: readonly string[]) => string,
  ) {}

  get(t: ThreadInfo): string {
    const head = this.headOf(t);
    const list = this.listOf(t);
    if (t === this.t0 && list === this.l0 && head === this.h0) return this.v0;
    if (t === this.t1 && list === this.l1 && head === this.h1) {
      // promote, so the two most recent threads stay in the fast slots
      const v = this.v1;
      this.front(t, list, head, v);
      return v;
    }
    let m = this.memo.get(t);
    if (m === undefined) {
      m = { list, head, value: this.build(head, list) };
      this.memo.set(t, m);
    } else if (m.list !== list || m.head !== head) {
      m.list = list;
      m.head = head;
      m.value = this.build(head, list);
    }
    this.front(t, list, head, m.value);
    return m.value;
  }

  /** Makes (t, list, head, v) the first fast slot, the previous first the second. */
  private front(t: ThreadInfo, list: readonly string[], head: string, v: string): void {
    this.t1 = this.t0;
    this.l1 = this.l0;
    this.h1 = this.h0;
    this.v1 = this.v0;
    this.t0 = t;
    this.l0 = list;
    this.h0 = head;
    this.v0 = v;
  }
}

const joinLine = (head: string, list: readonly string[]): string => (list.length === 0 ? head : head + " " + list.join(" "));
const joinList = (_head: string, list: readonly string[]): string => list.join(" ");
const noHead = (): string => "";
const argsList = (t: ThreadInfo): readonly string[] => t.args;
const cmdlineText = new ThreadText((t) => t.comm, argsList, joinLine);
const exelineText = new ThreadText((t) => t.exe, argsList, joinLine);
const argsText = new ThreadText(noHead, argsList, joinList);
const envText = new ThreadText(noHead, (t) => t.env, joinList);

/** `proc.cmdline` of a thread: comm and arguments. */
const cmdlineOf: ThreadGetter = (t) => cmdlineText.get(t);
/** `proc.exeline` of a thread: argv[0] and arguments. */
const exelineOf: ThreadGetter = (t) => exelineText.get(t);
/** `proc.args` of a thread: the arguments joined by spaces. */
const argsOf: ThreadGetter = (t) => argsText.get(t);

/** Most entries of a path-derived text cache before it is emptied. */
const PATH_CACHE_MAX = 8192;

/** A bounded cache of text derived from a path (directory, file name): no string built on a hit. */
function pathMemo(derive: (path: string) => string): (path: string) => string {
  const cache = new Map<string, string>();
  return (path) => {
    let v = cache.get(path);
    if (v === undefined) {
      v = derive(path);
      if (cache.size >= PATH_CACHE_MAX) cache.clear();
      cache.set(path, v);
    }
    return v;
  };
}

const nameOf: ThreadGetter = (t) => t.comm;
const exeOf: ThreadGetter = (t) => t.exe;
const exepathOf: ThreadGetter = (t) => t.exepath;
const pidOf: ThreadGetter = (t) => t.pid;
const envOf: ThreadGetter = (t) => envText.get(t);

/** Registers `proc.X` (self), `proc.pX` (parent) and `proc.aX[n]` (ancestor) for one fact. */
function procFamily(
  self: string | undefined,
  parent: string | undefined,
  anc: string | undefined,
  type: FieldType,
  what: string,
  mk: () => ThreadGetter,
): void {
  if (self !== undefined)
    def(self, type, `${what} of the process`, () => {
      const g = mk();
      return (e) => g(e.proc);
    });
  if (parent !== undefined) {
    def(parent, type, `${what} of the parent process`, () => {
      const g = mk();
      return (e) => {
        const p = e.proc.parent;
        return p === undefined ? undefined : g(p);
      };
    });
  }
  if (anc !== undefined) {
    defArg(
      anc,
      type,
      `${what} of an ancestor: [0] the process, [1] its parent, [2] the grandparent...; without an index a check matches any ancestor`,
      "optional",
      "ancestor level",
      (arg) => {
        const g = mk();
        const n = arg === undefined ? 0 : indexArg(anc, arg);
        if (n === 0) return (e) => g(e.proc);
        return (e) => {
          const t = ancestorAt(e.proc, n);
          return t === undefined ? undefined : g(t);
        };
      },
      { ancestor: mk() },
    );
  }
}

// ---------------------------------------------------------------- proc / thread
procFamily("proc.name", "proc.pname", "proc.aname", FieldType.String, "name (comm, at most 15 chars)", () => nameOf);
procFamily("proc.exe", "proc.pexe", "proc.aexe", FieldType.String, "first command-line argument (argv[0])", () => exeOf);
procFamily("proc.exepath", "proc.pexepath", "proc.aexepath", FieldType.String, "full executable path", () => exepathOf);
procFamily("proc.cmdline", "proc.pcmdline", "proc.acmdline", FieldType.String, "name and arguments", () => cmdlineOf);
procFamily("proc.pid", "proc.ppid", "proc.apid", FieldType.Int, "process id", () => pidOf);
procFamily(undefined, "proc.penv", undefined, FieldType.String, "environment (space separated)", () => envOf);

// ---- environment (libsinsp sinsp_filter_check_thread TYPE_ENV / TYPE_AENV) ----
/** Most ancestors `proc.aenv[NAME]` looks through (libsinsp stops at 20). */
const AENV_LEVELS = 20;
/** An environment variable name as a field argument: no `=`, no NUL, bounded. */
function envNameArg(field: string, arg: string): string {
  if (arg.length === 0 || arg.length > 256 || arg.includes("=") || arg.includes("\0")) throw badArg(field, arg, "expected an environment variable name");
  return arg;
}
/** Value of `name` in a thread's environment (`NAME=value` entries), "" when absent (as libsinsp's get_env). */
function envValue(t: ThreadInfo, prefix: string): string {
  const env = t.env;
  for (let i = 0; i < env.length; i++) {
    const kv = env[i]!;
    if (kv.startsWith(prefix)) return kv.slice(prefix.length);
  }
  return "";
}
defArg(
  "proc.env",
  FieldType.String,
  "environment of the process: without an argument every NAME=value entry, space separated; proc.env[NAME] the value of NAME (empty when unset)",
  "optional",
  "environment variable name",
  (arg) => {
    if (arg === undefined) return (e) => envOf(e.proc);
    const prefix = envNameArg("proc.env", arg) + "=";
    return (e) => envValue(e.proc, prefix);
  },
);
defArg(
  "proc.aenv",
  FieldType.String,
  "environment of an ancestor: proc.aenv[N] the whole environment of the Nth ancestor ([0] the process); proc.aenv[NAME] the value of NAME in the nearest ancestor (parents only, up to 20 levels) that has it, empty when none; without an argument a check matches any ancestor's environment",
  "optional",
  "ancestor level or environment variable name",
  (arg) => {
    if (arg === undefined || /^[0-9]{1,4}$/.test(arg)) {
      const n = arg === undefined ? 0 : Number(arg);
      if (n === 0) return (e) => envOf(e.proc);
      return (e) => {
        const t = ancestorAt(e.proc, n);
        return t === undefined ? undefined : envOf(t);
      };
    }
    const prefix = envNameArg("proc.aenv", arg) + "=";
    return (e) => {
      let t = e.proc.parent;
      for (let k = 0; k < AENV_LEVELS && t !== undefined; k++, t = t.parent) {
        const v = envValue(t, prefix);
        if (v !== "") return v;
      }
      return "";
    };
  },
  { ancestor: envOf },
);
def("proc.exeline", FieldType.String, "full command line, argv[0] and arguments", () => (e) => exelineOf(e.proc));
def("proc.args", FieldType.String, "arguments (space separated)", () => (e) => argsOf(e.proc));
def("proc.pargs", FieldType.String, "arguments of the parent", () => (e) => (e.proc.parent === undefined ? undefined : argsOf(e.proc.parent)));
def("proc.cwd", FieldType.String, "current working directory, ending with a slash (as libsinsp's set_cwd keeps it)", () => {
  const slashed = pathMemo((cwd) => (cwd.endsWith("/") ? cwd : cwd + "/"));
  return (e) => (e.proc.cwd === "" ? undefined : slashed(e.proc.cwd));
});
def("proc.tty", FieldType.Uint, "controlling terminal (0 if none)", () => (e) => e.proc.tty);
def("proc.vpid", FieldType.Int, "pid in the process's own pid namespace", () => (e) => e.proc.vpid);
def("proc.pvpid", FieldType.Int, "parent pid in its own pid namespace", () => (e) => e.proc.parent?.vpid);
def("proc.sid", FieldType.Int, "session id", () => (e) => e.proc.sid);
def("proc.vpgid", FieldType.Int, "process group id in the pid namespace", () => (e) => e.proc.vpgid);
def("proc.pgid", FieldType.Int, "process group id", () => (e) => e.proc.pgid);
def("proc.is_sid_leader", FieldType.Bool, "true if the process is its session leader", () => (e) => e.proc.sid === e.proc.pid);
def("proc.is_vpgid_leader", FieldType.Bool, "true if the process leads its process group", () => (e) => e.proc.vpgid === e.proc.vpid);
def("proc.sname", FieldType.String, "name of the session leader", () => (e) => {
  const sid = e.proc.sid;
  let t: ThreadInfo | undefined = e.proc;
  for (let k = 0; k < MAX_ANCESTORS && t !== undefined; k++, t = t.parent) if (t.pid === sid) return t.comm;
  return undefined;
});
def("proc.duration", FieldType.RelTime, "ns since the process started", () => (e) => (e.proc.startTs > 0 ? e.bootNs - e.proc.startTs : undefined));
def("proc.start_ts", FieldType.AbsTime, "process start time (boot-time ns)", () => (e) => e.proc.startTs);
def("proc.is_exe_writable", FieldType.Bool, "the executable is writable by the process's user", () => (e) => e.proc.exeWritable);
def(
  "proc.is_exe_upper_layer",
  FieldType.Bool,
  "the executable lives in the overlayfs upper layer (written in the container)",
  () => (e) => e.proc.exeUpperLayer,
);
def("proc.is_exe_lower_layer", FieldType.Bool, "the executable lives in an overlayfs lower layer (the image)", () => (e) => e.proc.exeLowerLayer);
def("proc.is_exe_from_memfd", FieldType.Bool, "the executable is a memfd (fileless execution)", () => (e) => e.proc.exeFromMemfd);
def("proc.exe_ino", FieldType.Int, "inode of the executable", () => (e) => e.proc.exeIno);
def("proc.exe_ino.ctime", FieldType.AbsTime, "ctime of the executable's inode (epoch ns)", () => (e) => e.proc.exeInoCtime);
def("proc.exe_ino.mtime", FieldType.AbsTime, "mtime of the executable's inode (epoch ns)", () => (e) => e.proc.exeInoMtime);
/** Epoch ns at which the process started, from the event's two clocks. */
function procStartEpoch(e: SyscallEvent, startBoot: number): number {
  return e.sec * 1e9 + e.nsec - (e.bootNs - startBoot);
}
def("proc.exe_ino.ctime_duration_proc_start", FieldType.RelTime, "ns between the executable's ctime and the process start", () => (e) => {
  const c = e.proc.exeInoCtime;
  if (c === undefined || e.proc.startTs <= 0) return undefined;
  return procStartEpoch(e, e.proc.startTs) - c;
});
def("proc.exe_ino.ctime_duration_pidns_start", FieldType.RelTime, "ns between the pid namespace's start and the executable's ctime", () => (e) => {
  const c = e.proc.exeInoCtime;
  const ns = e.proc.pidnsInitStartTs;
  if (c === undefined || ns === undefined || ns <= 0) return undefined;
  return c - procStartEpoch(e, ns);
});
def("proc.pidns_init_start_ts", FieldType.AbsTime, "start time of the pid namespace's init (boot-time ns)", () => (e) => e.proc.pidnsInitStartTs);
def("proc.is_container_healthcheck", FieldType.Bool, "the process is a container health check", () => () => false);
def("proc.is_container_liveness_probe", FieldType.Bool, "the process is a Kubernetes liveness probe", () => () => false);
def("proc.is_container_readiness_probe", FieldType.Bool, "the process is a Kubernetes readiness probe", () => () => false);
def("thread.tid", FieldType.Int, "thread id", () => (e) => e.proc.tid);
def("thread.vtid", FieldType.Int, "thread id in the pid namespace", () => (e) => e.proc.vtid);
def("thread.ismain", FieldType.Bool, "the thread is the process's main thread", () => (e) => e.proc.tid === e.proc.pid);
def("thread.exectime", FieldType.AbsTime, "time of the last exec (boot-time ns)", () => (e) => e.proc.execTs);
for (const [name, key] of [
  ["thread.cap_effective", "capEffective"],
  ["thread.cap_permitted", "capPermitted"],
  ["thread.cap_inheritable", "capInheritable"],
] as const) {
  def(name, FieldType.String, `${key.slice(3).toLowerCase()} capabilities (space separated CAP_ names)`, () => {
    let lastMask: bigint | undefined;
    let last = "";
    return (e) => {
      const m = e.proc[key];
      if (m === undefined) return undefined;
      if (m !== lastMask) {
        lastMask = m;
        last = capsText(m);
      }
      return last;
    };
  });
}
def("thread.cgroup_id", FieldType.Uint, "cgroup v2 id of the thread", () => (e) => e.proc.cgroupId);

// ---------------------------------------------------------------- user / group
def("user.uid", FieldType.Uint, "user id", () => (e) => e.proc.user.uid);
def("user.name", FieldType.String, "user name", () => (e) => e.proc.user.name);
def("user.homedir", FieldType.String, "home directory of the user", () => (e) => e.proc.user.homedir);
def("user.shell", FieldType.String, "shell of the user", () => (e) => e.proc.user.shell);
def("user.loginuid", FieldType.Int, "audit login uid (-1 if unset)", () => (e) => (e.proc.loginuid === 0xffffffff ? -1 : e.proc.loginuid));
def("user.loginname", FieldType.String, "name of the audit login user", () => (e) => e.proc.loginUser?.name);
def("user.euid", FieldType.Uint, "effective user id", () => (e) => e.proc.euid);
def("group.gid", FieldType.Uint, "group id", () => (e) => e.proc.group.gid);
def("group.name", FieldType.String, "group name", () => (e) => e.proc.group.name);

// ---------------------------------------------------------------- evt
def("evt.num", FieldType.Uint, "event sequence number", () => (e) => e.num);
def("evt.time", FieldType.String, "event time of day with nanoseconds (HH:MM:SS.nnnnnnnnn, UTC)", () => (e) => timeOfDay(e));
def("evt.time.s", FieldType.String, "event time of day (HH:MM:SS, UTC)", () => (e) => isoTime(e).slice(11, 19));
def("evt.time.iso8601", FieldType.String, "event time, ISO 8601 with nanoseconds", () => (e) => isoTime(e));
def("evt.datetime", FieldType.String, "event date and time (YYYY-MM-DD HH:MM:SS.nnnnnnnnn)", () => (e) => isoTime(e).slice(0, 29).replace("T", " "));
def(
  "evt.datetime.s",
  FieldType.String,
  "event date and time without the nanoseconds (YYYY-MM-DD HH:MM:SS)",
  () => (e) => isoTime(e).slice(0, 19).replace("T", " "),
);
def("evt.rawtime", FieldType.AbsTime, "event time, ns since the epoch", () => (e) => e.sec * 1e9 + e.nsec);
def("evt.rawtime.s", FieldType.AbsTime, "seconds part of the event time", () => (e) => e.sec);
def("evt.rawtime.ns", FieldType.AbsTime, "nanoseconds part of the event time", () => (e) => e.nsec);
def("evt.type", FieldType.String, "event type (syscall name)", () => (e) => EVENTS[e.type]?.name);
def("syscall.type", FieldType.String, "syscall name", () => (e) => EVENTS[e.type]?.name);
defArg("evt.type.is", FieldType.Bool, "true if the event is of the given type", "required", "event type name", (arg) => {
  const code = EVENTS.findIndex((s) => s.name === arg);
  return (e) => e.type === code;
});
def("evt.category", FieldType.String, "event category (file, net, process...)", () => (e) => EVENTS[e.type]?.category);
def("evt.cpu", FieldType.Int, "CPU the event happened on", () => (e) => e.cpu);
def("evt.dir", FieldType.String, "event direction: < for exit events (Vigil has only those)", () => () => "<");
def("evt.source", FieldType.String, "event source name", () => (e) => e.source);
def("evt.is_async", FieldType.Bool, "true for asynchronous events", () => () => false);
// libsinsp renders any result >= 0 as SUCCESS (a byte count, an fd: evt.rawres has the number)
def(
  "evt.res",
  FieldType.String,
  "result as text: SUCCESS when it is 0 or more, else the errno name such as ENOENT",
  () => (e) => (e.res >= 0 ? "SUCCESS" : resText(e.res)),
);
def("evt.rawres", FieldType.Int, "result as a number", () => (e) => e.res);
def("evt.failed", FieldType.Bool, "true if the syscall returned an error", () => (e) => e.res < 0);
def("evt.args", FieldType.String, "all parameters as text (name=value ...)", () => (e) => allArgsText(e));
defArg("evt.arg", FieldType.String, "a parameter as text, by name (evt.arg.name) or index (evt.arg[0])", "required", "param name or index", (arg) =>
  paramGetter("evt.arg", arg, true),
);
defArg("evt.rawarg", FieldType.String, "a parameter's raw value, by name (evt.rawarg.name)", "required", "param name", (arg) =>
  paramGetter("evt.rawarg", arg, false),
);
def("evt.buffer", FieldType.Bytes, "data buffer of I/O events", () => bytesParam());
def("evt.buflen", FieldType.Uint, "length of the data buffer", () => {
  const g = bytesParam();
  return (e) => {
    const b = g(e);
    return b === undefined ? undefined : (b as Uint8Array).length;
  };
});

const OPEN_CODES = new Uint8Array(EVENT_CODE_LIMIT);
for (const n of ["open", "openat", "openat2", "creat"]) {
  const code = EVENTS.findIndex((s) => s.name === n);
  if (code >= 0 && code < EVENT_CODE_LIMIT) OPEN_CODES[code] = 1;
}
const CREAT_CODE = EVENTS.findIndex((s) => s.name === "creat");
const openFlagIdx = codeTable((spec) => spec.params.findIndex((q) => q.name === "flags" && q.table === "openFlags"));
/** Open flags of an open-family event, or undefined for other events. */
function openFlags(e: SyscallEvent): number | undefined {
  if (OPEN_CODES[e.type] !== 1) return undefined;
  if (e.type === CREAT_CODE) return 0o1 | 0o100 | 0o1000;
  const i = openFlagIdx[e.type] ?? -1;
  const v = i >= 0 ? e.args[i] : undefined;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v & 0xffffffffn);
  return e.fd?.openFlags;
}
def("evt.is_open_read", FieldType.Bool, "open-family event that opened for reading", () => (e) => {
  const f = openFlags(e);
  return f === undefined ? false : (f & 3) === 0 || (f & 3) === 2;
});
def("evt.is_open_write", FieldType.Bool, "open-family event that opened for writing", () => (e) => {
  const f = openFlags(e);
  return f === undefined ? false : (f & 3) === 1 || (f & 3) === 2;
});
def("evt.is_open_create", FieldType.Bool, "open-family event with O_CREAT (or creat)", () => (e) => {
  const f = openFlags(e);
  return f === undefined ? false : (f & 0o100) !== 0;
});
const openModeIdx = codeTable((spec) => spec.params.findIndex((q) => q.name === "mode" && q.kind === ArgKind.Mode));
const O_CREAT = 0o100;
const O_TMPFILE = 0o20200000;
def("evt.is_open_exec", FieldType.Bool, "open-family event (or creat) that created a file with an execute permission bit", () => (e) => {
  const f = openFlags(e);
  if (f === undefined || ((f & O_CREAT) === 0 && (f & O_TMPFILE) !== O_TMPFILE)) return false;
  const mode = e.args[openModeIdx[e.type] ?? -1];
  return typeof mode === "number" && (mode & 0o111) !== 0;
});
def("evt.hostname", FieldType.String, "host name of the node", (ctx) => {
  const name = ctx.hostname;
  return () => name;
});
// Falco's EC_IO_WRITE / EC_IO_READ events among those of the event table
const IO_WRITE = new Set(
  ["sendto", "sendmsg", "sendmmsg", "write", "pwrite64", "writev", "pwritev", "sendfile"].map((n) => EVENTS.findIndex((s) => s.name === n)),
);
const IO_READ = new Set(["recvfrom", "recvmsg", "recvmmsg", "read", "pread64", "readv", "preadv"].map((n) => EVENTS.findIndex((s) => s.name === n)));
def("evt.is_io", FieldType.Bool, "the event reads or writes data (read, recvfrom, write, sendto...)", () => (e) => IO_WRITE.has(e.type) || IO_READ.has(e.type));
def("evt.is_io_write", FieldType.Bool, "the event writes data (write, sendto, sendmsg...)", () => (e) => IO_WRITE.has(e.type));
def("evt.is_io_read", FieldType.Bool, "the event reads data (read, recvfrom, recvmsg...)", () => (e) => IO_READ.has(e.type));
def(
  "evt.io_dir",
  FieldType.String,
  "r for events that read data, w for those that write it",
  () => (e) => (IO_READ.has(e.type) ? "r" : IO_WRITE.has(e.type) ? "w" : undefined),
);
def("proc.cmdnargs", FieldType.Uint, "number of command line arguments (proc.args)", () => (e) => e.proc.args.length);
def(
  "proc.cmdlenargs",
  FieldType.Uint,
  "total length of the command line arguments, separators excluded",
  () => (e) => e.proc.args.reduce((n, a) => n + a.length, 0),
);

/** AT_FDCWD as the probe reports it. */
const AT_FDCWD = -100;

/** Absolute form of a path param: as is when absolute, joined to the cwd when relative to AT_FDCWD. */
function absPath(e: SyscallEvent, spec: ParamSpec, v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  if (v.startsWith("/")) return v;
  if (spec.kind === ArgKind.Path) return joinPath(e.proc.cwd, v);
  const evSpec = EVENTS[e.type];
  const di = evSpec === undefined || spec.dirfd === undefined ? -1 : evSpec.params.findIndex((q) => q.name === spec.dirfd);
  const dirfd = di >= 0 ? e.args[di] : undefined;
  return dirfd === AT_FDCWD ? joinPath(e.proc.cwd, v) : undefined;
}

function joinPath(dir: string, rel: string): string {
  return dir.endsWith("/") ? dir + rel : `${dir}/${rel}`;
}

/** Getter of the absolute path of the first (or chosen) path param of file events. */
function pathParamGetter(choose: (spec: (typeof EVENTS)[number]) => number): Getter {
  const idx = codeTable(choose);
  return (e) => {
    const i = idx[e.type] ?? -1;
    if (i < 0) return undefined;
    const spec = EVENTS[e.type]?.params[i];
    return spec === undefined ? undefined : absPath(e, spec, e.args[i]);
  };
}
const isPathKind = (q: ParamSpec): boolean => q.kind === ArgKind.Path || q.kind === ArgKind.RelPath;
const SRC_NAMES = new Set(["oldpath", "target"]);
const DST_NAMES = new Set(["newpath", "linkpath"]);
def("evt.abspath", FieldType.String, "absolute path of the event's path argument (relative paths joined to the cwd)", () =>
  pathParamGetter((spec) => (spec.category === "file" ? spec.params.findIndex(isPathKind) : -1)),
);
def("fs.path.name", FieldType.String, "path of a filesystem-changing event (mkdir, unlink, rename, chmod...), absolute", () =>
  pathParamGetter((spec) =>
    spec.category === "file" && !spec.name.startsWith("open") && spec.name !== "creat"
      ? spec.params.findIndex((q) => isPathKind(q) && !SRC_NAMES.has(q.name) && !DST_NAMES.has(q.name))
      : -1,
  ),
);
def("fs.path.source", FieldType.String, "source path of rename, link and symlink events, absolute", () =>
  pathParamGetter((spec) => spec.params.findIndex((q) => SRC_NAMES.has(q.name) && (isPathKind(q) || q.kind === ArgKind.Str))),
);
def("fs.path.target", FieldType.String, "target path of rename, link and symlink events, absolute", () =>
  pathParamGetter((spec) => spec.params.findIndex((q) => DST_NAMES.has(q.name) && isPathKind(q))),
);
// file and exec behaviour over time (agent/behaviour/files.ts)
for (const f of FILE_BEHAVIOUR_FIELDS) def(f.name, f.type, f.desc, () => f.get);
// network behaviour over time (agent/behaviour/net.ts)
for (const f of NET_BEHAVIOUR_FIELDS) def(f.name, f.type, f.desc, () => f.get);

// ---------------------------------------------------------------- fd
const fdGet =
  <T extends FieldValue>(f: (fd: FdInfo) => T): Getter =>
  (e) =>
    e.fd === undefined ? undefined : f(e.fd);
def("fd.num", FieldType.Int, "file descriptor number", () => fdGet((fd) => fd.num));
def("fd.type", FieldType.String, "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, memfd, bpf", () =>
  fdGet((fd) => fd.type),
);
def("fd.typechar", FieldType.String, "fd type as one letter (f 4 6 u p e s l i t n m b d)", () => fdGet((fd) => fd.typechar));
def("fd.name", FieldType.String, "full name: the path of files, the tuple of sockets", () => fdGet((fd) => fd.name));
def("fd.nameraw", FieldType.String, "name as given to the syscall, before resolution (open family: the path argument)", () => {
  const idx = codeTable((spec) =>
    spec.category === "file" ? spec.params.findIndex((q) => q.name === "name" && (q.kind === ArgKind.Path || q.kind === ArgKind.RelPath)) : -1,
  );
  return (e) => {
    if (e.fd === undefined) return undefined;
    const i = idx[e.type] ?? -1;
    const v = i >= 0 ? e.args[i] : undefined;
    return typeof v === "string" ? v : e.fd.name;
  };
});
def("fd.directory", FieldType.String, "directory of a file fd", () => {
  const dir = pathMemo((name) => {
    const k = name.lastIndexOf("/");
    return k <= 0 ? (k === 0 ? "/" : "") : name.slice(0, k);
  });
  return fdGet((fd) => (isFileFd(fd) ? dir(fd.name) : undefined));
});
def("fd.filename", FieldType.String, "file name (no directory) of a file fd", () => {
  const base = pathMemo((name) => name.slice(name.lastIndexOf("/") + 1));
  return fdGet((fd) => (isFileFd(fd) ? base(fd.name) : undefined));
});
def("fd.ino", FieldType.Int, "inode of the file", () => fdGet((fd) => fd.ino));
def("fd.dev", FieldType.Uint, "device number of the file", () => fdGet((fd) => fd.dev));
def("fd.is_upper_layer", FieldType.Bool, "file lives in the overlayfs upper layer", () => fdGet((fd) => fd.isUpperLayer));
def("fd.l4proto", FieldType.String, "socket protocol: tcp, udp, raw, icmp", () => fdGet((fd) => fd.l4proto));
def("fd.sockfamily", FieldType.String, "socket family: ip or unix", () =>
  fdGet((fd) => (fd.type === "ipv4" || fd.type === "ipv6" ? "ip" : fd.type === "unix" ? "unix" : undefined)),
);
def("fd.is_server", FieldType.Bool, "this side of the socket is the server", () => fdGet((fd) => fd.isServer));
def("fd.connected", FieldType.Bool, "the socket is connected", () => fdGet((fd) => fd.connected));
def("fd.name_changed", FieldType.Bool, "the event changed the fd's name (a datagram sent to a destination other than the last)", () =>
  fdGet((fd) => fd.nameChanged === true),
);
def("fd.containername", FieldType.String, "container id and fd name", () => (e) => (e.fd === undefined ? undefined : e.proc.container.id + ":" + e.fd.name));
def("fd.containerdirectory", FieldType.String, "container id and fd directory", () => {
  const dir = (registry.get("fd.directory") as FieldDef).make(undefined, DEFAULT_FIELD_CONTEXT);
  return (e) => {
    const d = dir(e);
    return d === undefined ? undefined : e.proc.container.id + ":" + (d as string);
  };
});

type Side = "client" | "server" | "local" | "remote";
function sideTuple(fd: FdInfo): SockTuple | undefined {
  if (fd.tuple === undefined || fd.tuple.family === 1) return undefined;
  return fd.tuple;
}
function sideIsSrc(fd: FdInfo, side: Side): boolean {
  // tuple.s* is the client end; local is the client unless this side is the server
  if (side === "client") return true;
  if (side === "server") return false;
  const server = fd.isServer === true;
  return side === "local" ? !server : server;
}
function ipGetter(side: Side): Getter {
  return fdGet((fd) => {
    const t = sideTuple(fd);
    if (t === undefined) return undefined;
    return sideIsSrc(fd, side) ? t.sip : t.dip;
  });
}
function portGetter(side: Side): Getter {
  return fdGet((fd) => {
    const t = sideTuple(fd);
    if (t === undefined) return undefined;
    return sideIsSrc(fd, side) ? t.sport : t.dport;
  });
}
for (const [p, side, what] of [
  ["c", "client", "client"],
  ["s", "server", "server"],
  ["l", "local", "local"],
  ["r", "remote", "remote"],
] as const) {
  def(`fd.${p}ip`, FieldType.IpAddr, `${what} IP address`, () => ipGetter(side));
  def(`fd.${p}port`, FieldType.Port, `${what} port`, () => portGetter(side));
  def(`fd.${p}net`, FieldType.IpNet, `${what} IP network (compare with a CIDR)`, () => ipGetter(side));
  def(`fd.${p}ip.name`, FieldType.String, `domain name of the ${what} IP (from the IP name resolver; missing when unknown)`, (ctx) => {
    const ip = ipGetter(side);
    const names = ctx.ipNames;
    return (e) => {
      const v = ip(e);
      return typeof v === "string" ? names(v) : undefined;
    };
  });
}
def("fd.ip", FieldType.IpAddr, "client or server IP (a check matches either)", () => ipGetter("server"), { either: ipGetter("client") });
def("fd.port", FieldType.Port, "client or server port (a check matches either)", () => portGetter("server"), { either: portGetter("client") });
def("fd.net", FieldType.IpNet, "client or server IP network (a check matches either)", () => ipGetter("server"), { either: ipGetter("client") });

/** Maps an IP address to a domain name for `fd.*ip.name` (Falco learns these by DNS snooping). */
export type IpNameResolver = (ip: string) => string | undefined;

/**
 * A resolver that knows the Kubernetes API server: the cluster IP the kubelet gives every pod in
 * `KUBERNETES_SERVICE_HOST` is `kubernetes.default.svc.cluster.local` (what Falco's
 * `k8s_api_server` macro looks for). No names when `serviceHost` is empty or undefined.
 */
export function kubernetesIpNames(serviceHost: string | undefined): IpNameResolver {
  const names = new Map<string, string>();
  if (serviceHost !== undefined && serviceHost !== "") names.set(serviceHost, "kubernetes.default.svc.cluster.local");
  return (ip) => names.get(ip);
}

function isFileFd(fd: FdInfo): boolean {
  return fd.typechar === "f" || fd.typechar === "d" || fd.type === "file" || fd.type === "directory";
}

// ---------------------------------------------------------------- container / k8s
const cGet =
  <T extends FieldValue>(f: (c: ContainerInfo) => T): Getter =>
  (e) =>
    f(e.proc.container);
def("container.id", FieldType.String, "container id (12 chars), or host", () => cGet((c) => c.id));
def("container.full_id", FieldType.String, "full container id, or host", () => cGet((c) => c.fullId));
def("container.name", FieldType.String, "container name", () => cGet((c) => c.name));
def("container.type", FieldType.String, "container runtime type: containerd, cri, docker, host...", () => cGet((c) => c.type));
def("container.image", FieldType.String, "image name", () => cGet((c) => c.image));
def("container.image.repository", FieldType.String, "image repository", () => cGet((c) => c.imageRepository));
def("container.image.tag", FieldType.String, "image tag", () => cGet((c) => c.imageTag));
def("container.image.digest", FieldType.String, "image digest", () => cGet((c) => c.imageDigest));
def("container.image.id", FieldType.String, "image id", () => cGet((c) => c.imageId));
def("container.privileged", FieldType.Bool, "container runs privileged", () => cGet((c) => c.privileged));
def("container.host_pid", FieldType.Bool, "container shares the host pid namespace", () => cGet((c) => c.hostPid));
def("container.host_network", FieldType.Bool, "container shares the host network", () => cGet((c) => c.hostNetwork));
def("container.host_ipc", FieldType.Bool, "container shares the host IPC namespace", () => cGet((c) => c.hostIpc));
def("container.user", FieldType.String, "user the container runs as", () => cGet((c) => c.user));
def("container.start_ts", FieldType.AbsTime, "container start time (epoch ns)", () => cGet((c) => c.startTs));
def("container.duration", FieldType.RelTime, "ns since the container started", () => (e) => {
  const s = e.proc.container.startTs;
  return s === undefined ? undefined : e.sec * 1e9 + e.nsec - s;
});
def("container.mounts", FieldType.String, "mounts as source:dest:mode:rw:propagation, comma separated", () =>
  cGet((c) => c.mounts.map((m) => `${m.source}:${m.dest}:${m.mode}:${m.rw}:${m.propagation}`).join(",")),
);
defArg("container.mount.source", FieldType.String, "source of the mount at the given destination", "required", "mount destination", (arg) =>
  cGet((c) => c.mounts.find((m) => m.dest === arg)?.source),
);
defArg("container.mount.dest", FieldType.String, "destination of the mount with the given source", "required", "mount source", (arg) =>
  cGet((c) => c.mounts.find((m) => m.source === arg)?.dest),
);
defArg("container.label", FieldType.String, "a container label", "required", "label key", (arg) => cGet((c) => c.labels.get(arg as string)));
def("container.labels", FieldType.String, "all container labels as key:value, comma separated", () =>
  cGet((c) => [...c.labels].map(([k, v]) => `${k}:${v}`).join(", ")),
);
def("container.meta_missing", FieldType.Bool, "container metadata has not arrived yet", () => cGet((c) => (c.id === "host" ? false : c.metaMissing)));
const kGet =
  <T extends FieldValue>(f: (c: NonNullable<ContainerInfo["k8s"]>) => T): Getter =>
  (e) => {
    const k = e.proc.container.k8s;
    return k === undefined ? undefined : f(k);
  };
def("k8s.pod.name", FieldType.String, "Kubernetes pod name", () => kGet((k) => k.podName));
def("k8s.ns.name", FieldType.String, "Kubernetes namespace", () => kGet((k) => k.namespace));
def("k8s.pod.uid", FieldType.String, "Kubernetes pod uid", () => kGet((k) => k.podUid));
def("k8s.pod.id", FieldType.String, "Kubernetes pod uid (legacy name)", () => kGet((k) => k.podUid));
def("k8s.pod.sandbox_id", FieldType.String, "pod sandbox id (12 chars)", () => kGet((k) => k.sandboxId?.slice(0, 12)));
def("k8s.pod.full_sandbox_id", FieldType.String, "pod sandbox id", () => kGet((k) => k.sandboxId));
def("k8s.pod.ip", FieldType.String, "pod IP (the sandbox's, else the API's)", () => kGet((k) => k.podIp ?? (k.api?.known === true ? k.api.podIp : undefined)));
def("k8s.container.name", FieldType.String, "Kubernetes container name", () => kGet((k) => k.containerName));

// ---- Kubernetes API metadata (agent/enrich/k8s-api): K8sInfo.api, bound by pod UID, updated in place ----
// Pod labels are the API's once it reported the pod (they follow `kubectl label`), else the CRI's.
// Owners, namespace labels, the service account and the node exist only with the API: missing
// without it. Label texts are memoised per labels map (maps are replaced, never changed).
const labelsTextMemo = new WeakMap<ReadonlyMap<string, string>, string>();
function labelsText(m: ReadonlyMap<string, string>): string {
  let t = labelsTextMemo.get(m);
  if (t === undefined) {
    t = [...m].map(([a, b]) => `${a}:${b}`).join(", ");
    labelsTextMemo.set(m, t);
  }
  return t;
}
const labelsListMemo = new WeakMap<ReadonlyMap<string, string>, readonly string[]>();
function labelsList(m: ReadonlyMap<string, string>): readonly string[] {
  let l = labelsListMemo.get(m);
  if (l === undefined) {
    l = Object.freeze([...m].map(([a, b]) => `${a}:${b}`));
    labelsListMemo.set(m, l);
  }
  return l;
}
const podLabelsOf = (k: K8sInfo): ReadonlyMap<string, string> => (k.api?.known === true ? k.api.labels : k.podLabels);
/** The pod's API metadata once the API reported it. */
const apiGet =
  <T extends FieldValue>(f: (a: K8sPodMeta, k: K8sInfo) => T): Getter =>
  (e) => {
    const k = e.proc.container.k8s;
    const a = k?.api;
    return a === undefined || !a.known ? undefined : f(a, k as K8sInfo);
  };
/** Renders a list field's values for outputs as libsinsp does: `(a,b)`. */
const listText =
  (list: ListGetter): Getter =>
  (e) => {
    const v = list(e);
    return v === undefined ? undefined : `(${v.join(",")})`;
  };

defArg("k8s.pod.label", FieldType.String, "a pod label (the API's once it reported the pod, else the CRI's)", "required", "label key", (arg) =>
  kGet((k) => podLabelsOf(k).get(arg as string)),
);
def("k8s.pod.labels", FieldType.String, "all pod labels as key:value, comma separated (the API's once it reported the pod, else the CRI's)", () =>
  kGet((k) => labelsText(podLabelsOf(k))),
);
def("k8s.pod.sa", FieldType.String, "the pod's service account (Kubernetes API)", () => apiGet((a) => a.serviceAccount));

type ObjOf = (a: K8sPodMeta) => K8sObjectMeta | undefined;
/** name, uid, label[KEY], labels of one related object, under `prefix` (and `.id` for libsinsp's legacy name of the uid). */
function k8sObjectFamily(prefix: string, what: string, of: ObjOf, legacyId: boolean): void {
  def(`${prefix}.name`, FieldType.String, `${what} name (Kubernetes API)`, () => apiGet((a) => of(a)?.name));
  def(`${prefix}.uid`, FieldType.String, `${what} uid (Kubernetes API)`, () => apiGet((a) => of(a)?.uid));
  if (legacyId) def(`${prefix}.id`, FieldType.String, `${what} uid (Kubernetes API; legacy name)`, () => apiGet((a) => of(a)?.uid));
  defArg(`${prefix}.label`, FieldType.String, `a ${what} label (Kubernetes API)`, "required", "label key", (arg) =>
    apiGet((a) => of(a)?.labels.get(arg as string)),
  );
  def(`${prefix}.labels`, FieldType.String, `all ${what} labels as key:value, comma separated (Kubernetes API)`, () =>
    apiGet((a) => {
      const o = of(a);
      return o === undefined ? undefined : labelsText(o.labels);
    }),
  );
}
// libsinsp's (deprecated there, served here from the API) and Vigil's own families
def("k8s.ns.uid", FieldType.String, "namespace uid (Kubernetes API)", () => apiGet((a) => a.namespace?.uid));
def("k8s.ns.id", FieldType.String, "namespace uid (Kubernetes API; legacy name)", () => apiGet((a) => a.namespace?.uid));
defArg("k8s.ns.label", FieldType.String, "a namespace label (Kubernetes API)", "required", "label key", (arg) =>
  apiGet((a) => a.namespace?.labels.get(arg as string)),
);
def("k8s.ns.labels", FieldType.String, "all namespace labels as key:value, comma separated (Kubernetes API)", () =>
  apiGet((a) => (a.namespace === undefined ? undefined : labelsText(a.namespace.labels))),
);
k8sObjectFamily("k8s.rs", "ReplicaSet", (a) => a.replicaSet, true);
k8sObjectFamily("k8s.deployment", "Deployment", (a) => a.deployment, true);
k8sObjectFamily("k8s.statefulset", "StatefulSet", (a) => a.statefulSet, false);
k8sObjectFamily("k8s.daemonset", "DaemonSet", (a) => a.daemonSet, false);
k8sObjectFamily("k8s.job", "Job", (a) => a.job, false);
k8sObjectFamily("k8s.cronjob", "CronJob", (a) => a.cronJob, false);
def("k8s.workload.kind", FieldType.String, "kind of the pod's top controller: Deployment, StatefulSet, DaemonSet, CronJob, Job... (Kubernetes API)", () =>
  apiGet((a) => a.workload?.kind),
);
def("k8s.workload.name", FieldType.String, "name of the pod's top controller (Kubernetes API)", () => apiGet((a) => a.workload?.name));
def("k8s.workload.uid", FieldType.String, "uid of the pod's top controller, when its record was read (Kubernetes API)", () => apiGet((a) => a.workload?.uid));
// the node the pod runs on: its labels (zone, instance type) from the Node object
const NODE_ZONE = ["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"];
const NODE_REGION = ["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"];
const NODE_TYPE = ["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"];
const nodeLabel = (a: K8sPodMeta, keys: readonly string[]): string | undefined => {
  const l = a.node?.labels;
  if (l === undefined) return undefined;
  for (const k of keys) {
    const v = l.get(k);
    if (v !== undefined) return v;
  }
  return undefined;
};
def("k8s.node.name", FieldType.String, "the node's name (Kubernetes API)", () => apiGet((a) => a.node?.name));
defArg("k8s.node.label", FieldType.String, "a label of the node (Kubernetes API)", "required", "label key", (arg) =>
  apiGet((a) => a.node?.labels.get(arg as string)),
);
def("k8s.node.labels", FieldType.String, "all node labels as key:value, comma separated (Kubernetes API)", () =>
  apiGet((a) => (a.node === undefined ? undefined : labelsText(a.node.labels))),
);
def("k8s.node.zone", FieldType.String, "the node's zone label, topology.kubernetes.io/zone (Kubernetes API)", () => apiGet((a) => nodeLabel(a, NODE_ZONE)));
def("k8s.node.region", FieldType.String, "the node's region label, topology.kubernetes.io/region (Kubernetes API)", () =>
  apiGet((a) => nodeLabel(a, NODE_REGION)),
);
def("k8s.node.instance_type", FieldType.String, "the node's instance type label, node.kubernetes.io/instance-type (Kubernetes API)", () =>
  apiGet((a) => nodeLabel(a, NODE_TYPE)),
);

// Falco's k8smeta plugin names (falcosecurity/plugins plugins/k8smeta): values from the API only
// (missing until it reported the pod); `labels` are list fields, rendered `(k:v,k2:v2)`.
function k8smetaLabels(name: string, what: string, of: (a: K8sPodMeta) => ReadonlyMap<string, string> | undefined): void {
  const list: ListGetter = (e) => {
    const a = e.proc.container.k8s?.api;
    if (a === undefined || !a.known) return undefined;
    const m = of(a);
    return m === undefined || m.size === 0 ? undefined : labelsList(m);
  };
  def(name, FieldType.String, `${what} labels, a list of key:value (Kubernetes API)`, () => listText(list), { makeList: () => list });
}
def("k8smeta.pod.name", FieldType.String, "pod name (Kubernetes API)", () => apiGet((_a, k) => k.podName));
def("k8smeta.pod.uid", FieldType.String, "pod uid (Kubernetes API)", () => apiGet((_a, k) => k.podUid));
defArg("k8smeta.pod.label", FieldType.String, "a pod label (Kubernetes API)", "required", "label key", (arg) => apiGet((a) => a.labels.get(arg as string)));
k8smetaLabels("k8smeta.pod.labels", "pod", (a) => a.labels);
def("k8smeta.pod.ip", FieldType.String, "pod IP (Kubernetes API)", () => apiGet((a) => a.podIp));
def("k8smeta.ns.name", FieldType.String, "namespace name (Kubernetes API)", () => apiGet((a) => a.namespace?.name));
def("k8smeta.ns.uid", FieldType.String, "namespace uid (Kubernetes API)", () => apiGet((a) => a.namespace?.uid));
defArg("k8smeta.ns.label", FieldType.String, "a namespace label (Kubernetes API)", "required", "label key", (arg) =>
  apiGet((a) => a.namespace?.labels.get(arg as string)),
);
k8smetaLabels("k8smeta.ns.labels", "namespace", (a) => a.namespace?.labels);
for (const [fam, what, of] of [
  ["deployment", "Deployment", (a: K8sPodMeta) => a.deployment],
  ["rs", "ReplicaSet", (a: K8sPodMeta) => a.replicaSet],
] as const) {
  def(`k8smeta.${fam}.name`, FieldType.String, `${what} name (Kubernetes API)`, () => apiGet((a) => of(a)?.name));
  def(`k8smeta.${fam}.uid`, FieldType.String, `${what} uid (Kubernetes API)`, () => apiGet((a) => of(a)?.uid));
  defArg(`k8smeta.${fam}.label`, FieldType.String, `a ${what} label (Kubernetes API)`, "required", "label key", (arg) =>
    apiGet((a) => of(a)?.labels.get(arg as string)),
  );
  k8smetaLabels(`k8smeta.${fam}.labels`, what, (a) => of(a)?.labels);
}

// ---------------------------------------------------------------- helpers for evt

function isoTime(e: SyscallEvent): string {
  const iso = new Date(e.sec * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(e.nsec).padStart(9, "0")}Z`;
}
function timeOfDay(e: SyscallEvent): string {
  return isoTime(e).slice(11, 29);
}

/** A per-event-code table built from the event specs. */
function codeTable(f: (spec: (typeof EVENTS)[number]) => number): Int16Array {
  const t = new Int16Array(EVENT_CODE_LIMIT).fill(-1);
  for (const spec of EVENTS) t[spec.code] = f(spec);
  return t;
}

function bytesParam(): Getter {
  const idx = codeTable((spec) => spec.params.findIndex((q) => q.kind === ArgKind.Bytes));
  return (e) => {
    const i = idx[e.type] ?? -1;
    if (i < 0) return undefined;
    const v = e.args[i];
    return v instanceof Uint8Array ? v : undefined;
  };
}

/** Text form of one param value, by its spec. */
export function paramText(spec: ParamSpec, v: NonNullable<SyscallEvent["args"][number]>): string {
  switch (spec.kind) {
    case ArgKind.Errno:
      return typeof v === "number" ? (v < 0 ? resText(v) : numText(v)) : String(v);
    case ArgKind.Flags:
      return typeof v === "number" || typeof v === "bigint" ? flagsText(spec.table ?? "openFlags", v) : String(v);
    case ArgKind.Enum:
      return typeof v === "number" || typeof v === "bigint" ? enumText(spec.table ?? "openFlags", v) : String(v);
    case ArgKind.Mode:
      // chmod family: Falco's PT_MODE text, the octal value then the permission bits by name
      if (typeof v !== "number") return String(v);
      return spec.table === undefined ? modeText(v) : `${modeText(v)}(${flagsText(spec.table, v)})`;
    case ArgKind.Fd:
    case ArgKind.Pid:
      return typeof v === "number" ? numText(v) : String(v);
    case ArgKind.Uid:
    case ArgKind.Gid:
      return typeof v === "number" ? (v === 0xffffffff ? "-1" : numText(v)) : String(v);
    case ArgKind.SockAddr:
      return typeof v === "object" && "dip" in v ? addrText(v) : String(v);
    case ArgKind.Tuple:
      return typeof v === "object" && "dip" in v ? tupleText(v) : String(v);
    case ArgKind.Bytes:
      return v instanceof Uint8Array ? bytesText(v) : String(v);
    case ArgKind.StrList:
      return Array.isArray(v) ? v.join(" ") : String(v);
    default:
      return typeof v === "number" ? numText(v) : String(v);
  }
}

/** Raw value of a param (numbers stay numbers). */
function paramRaw(v: NonNullable<SyscallEvent["args"][number]>): FieldValue {
  if (typeof v === "number" || typeof v === "string") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.join(" ");
  if (typeof v === "object" && "dip" in v) return tupleText(v as SockTuple);
  return undefined;
}

function allArgsText(e: SyscallEvent): string | undefined {
  const spec = EVENTS[e.type];
  if (spec === undefined) return undefined;
  const parts: string[] = [];
  for (let k = 0; k < spec.params.length; k++) {
    const p = spec.params[k] as ParamSpec;
    const v = e.args[k];
    if (v === undefined) continue;
    parts.push(`${p.name}=${paramText(p, v)}`);
  }
  return parts.join(" ");
}

/** Getter of `evt.arg.NAME`/`evt.arg[N]` (text) or `evt.rawarg.NAME` (raw). */
function paramGetter(field: string, arg: string | undefined, asText: boolean): Getter {
  if (arg === undefined || arg === "") throw badArg(field, arg, "a parameter name or index is required");
  const byIndex = /^[0-9]+$/.test(arg);
  if (byIndex && !asText) throw badArg(field, arg, "evt.rawarg takes a parameter name");
  const idx = codeTable((spec) => (byIndex ? (Number(arg) < spec.params.length ? Number(arg) : -1) : spec.params.findIndex((q) => q.name === arg)));
  if (!byIndex && !idx.some((i) => i >= 0)) throw badArg(field, arg, "no event has a parameter of this name");
  const specs: (ParamSpec | undefined)[] = [];
  for (const spec of EVENTS) {
    const i = idx[spec.code] ?? -1;
    specs[spec.code] = i >= 0 ? spec.params[i] : undefined;
  }
  if (!asText) {
    return (e) => {
      const i = idx[e.type] ?? -1;
      if (i < 0) return undefined;
      const v = e.args[i];
      return v === undefined ? undefined : paramRaw(v);
    };
  }
  // one-entry memo: the same raw flag value renders to the same string without allocating
  let lastCode = -1;
  let lastRaw: unknown;
  let last = "";
  return (e) => {
    const i = idx[e.type] ?? -1;
    if (i < 0) return undefined;
    const v = e.args[i];
    if (v === undefined) return undefined;
    if (typeof v === "string") return v;
    if (e.type === lastCode && v === lastRaw) return last;
    const spec = specs[e.type] as ParamSpec;
    lastCode = e.type;
    lastRaw = v;
    last = paramText(spec, v);
    return last;
  };
}

// ---------------------------------------------------------------- lookup

/**
 * Fields of Falco's syscall-source classes (falco-compat.md §1.10: evt, process, thread, user,
 * group, fd, fs.path, fdlist, syslog, container, k8s) that Vigil does not implement: chisel
 * counters (evt.count*), timing against enter events and capture start (Vigil sees exits only),
 * per-process resource counters, poll fd lists, syslog decoding, the container engine's probes and
 * CNI data, the k8s objects Falco itself deprecated. A rule naming one is rejected at load saying
 * so, not as a misspelt name.
 */
const UNSUPPORTED_FIELDS = new Set(
  (
    "evt.count evt.count.exit evt.count.error evt.count.error.file evt.count.error.net evt.count.error.memory evt.count.error.other " +
    "evt.reltime evt.reltime.s evt.reltime.ns evt.pluginname evt.plugininfo evt.asynctype evt.latency evt.latency.s " +
    "evt.latency.ns evt.latency.human evt.deltatime evt.deltatime.s evt.deltatime.ns evt.info evt.is_wait evt.wait_latency " +
    "evt.is_syslog evt.around proc.loginshellid proc.sid.exe proc.sid.exepath proc.vpgid.name proc.vpgid.exe " +
    "proc.vpgid.exepath proc.ppid.duration proc.pid.ts proc.ppid.ts proc.fdopencount proc.fdlimit proc.fdusage proc.vmsize " +
    "proc.vmrss proc.vmswap proc.nthreads proc.nchilds thread.pfmajor thread.pfminor thread.exectime thread.totexectime " +
    "thread.cgroups thread.cgroup thread.cpu thread.cpu.user thread.cpu.system thread.vmsize thread.vmrss container.mount " +
    "container.mount.mode container.mount.rdwr container.mount.propagation container.healthcheck container.liveness_probe " +
    "container.readiness_probe container.ip container.cni.json fd.uid fd.proto fd.cproto fd.sproto fd.lproto fd.rproto " +
    "fd.dev.major fd.dev.minor fd.types fs.path.nameraw fs.path.sourceraw fs.path.targetraw fdlist.nums fdlist.names " +
    "fdlist.cips fdlist.sips fdlist.cports fdlist.sports k8s.pod.cni.json"
  ).split(" "),
);
/**
 * Families of them: Falco's dotted evt.type.is.NAME (Vigil: evt.type.is[NAME]), per-subsystem
 * cgroups, syslog, the replication controllers and services libsinsp deprecated (and k8smeta's),
 * and the dotted `.label.NAME` forms of the API label fields (Vigil: `k8s.ns.label[NAME]`).
 */
const UNSUPPORTED_PREFIXES = [
  "evt.type.is.",
  "thread.cgroup.",
  "syslog.",
  "k8s.rc.",
  "k8s.svc.",
  "k8smeta.rc.",
  "k8smeta.svc.",
  "k8s.rs.label.",
  "k8s.deployment.label.",
  "k8s.ns.label.",
];

/** True for a Falco field Vigil knows of but does not implement (resolving it fails with "not supported"). */
export function isUnsupportedField(name: string): boolean {
  return !registry.has(name) && (UNSUPPORTED_FIELDS.has(name) || UNSUPPORTED_PREFIXES.some((p) => name.startsWith(p)));
}

/**
 * Resolves a field name (as written, `evt.arg.flags` included) and its bracket argument.
 * Getters that need the host name or IP names take them from `ctx`, once.
 * Throws CompileError `UNKNOWN_FIELD` or `BAD_FIELD_ARG`.
 */
export function resolveField(name: string, arg: string | undefined, ctx: FieldContext = DEFAULT_FIELD_CONTEXT): ResolvedField {
  if (ctx.source !== undefined) return ctx.source.resolve(name, arg, ctx);
  let d = registry.get(name);
  let a = arg;
  if (d === undefined) {
    for (const prefix of ["evt.arg.", "evt.rawarg."]) {
      if (name.startsWith(prefix) && name.length > prefix.length) {
        if (arg !== undefined) throw badArg(name, arg, "a parameter given by name takes no index");
        d = registry.get(prefix.slice(0, -1));
        a = name.slice(prefix.length);
      }
    }
  }
  if (d === undefined)
    throw new CompileError("UNKNOWN_FIELD", isUnsupportedField(name) ? `field '${name}' is not supported by Vigil` : `unknown field '${name}'`);
  if (d.arg === "none" && a !== undefined) throw badArg(name, a, "this field takes no argument");
  if (d.arg === "required" && a === undefined) throw badArg(name, a, `an argument is required (${d.argDesc ?? "argument"})`);
  const display = arg === undefined ? name : `${name}[${arg}]`;
  return {
    name: display,
    type: d.type,
    get: d.make(a, ctx),
    ancestor: a === undefined ? d.ancestor : undefined,
    either: d.either,
    ...(d.makeList !== undefined ? { list: d.makeList(a, ctx) } : {}),
  };
}

/** True if a field of this name (ignoring arguments) exists, in `ctx`'s source (default: syscall). */
export function hasField(name: string, ctx: FieldContext = DEFAULT_FIELD_CONTEXT): boolean {
  if (ctx.source !== undefined) return ctx.source.has(name);
  return registry.has(name) || ((name.startsWith("evt.arg.") || name.startsWith("evt.rawarg.")) && name.split(".").length >= 3);
}

/** Every field the engine knows, sorted by name. */
export function listFields(): readonly FieldInfo[] {
  return [...registry.values()]
    .map(({ name, type, desc, arg, argDesc }) => (argDesc === undefined ? { name, type, desc, arg } : { name, type, desc, arg, argDesc }))
    .sort((x, y) => (x.name < y.name ? -1 : 1));
}
