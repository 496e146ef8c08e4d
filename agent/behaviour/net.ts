// SPDX-License-Identifier: Apache-2.0
/**
 * Network behaviour over time: bounded per-process and per-container state the rules read
 * through `vigil.net.*`, `vigil.exec.script*` and `proc.is_net_server`
 * (rules/compile/fields-behaviour-net.ts).
 *
 * - Scanning: every connect (whatever its result: refused, timed out, in progress) adds its
 *   destination to a sliding window of the process and of its container's processes of the same
 *   program name (a loop of short `nc -z` runs); the window keeps the
 *   distinct ports and hosts contacted and the failed attempts. A rule compares the counts on the
 *   event that added a new port or host, so it fires once when a threshold is crossed.
 * - Network servers: a successful `listen` on an IP socket marks the process, with the time of
 *   the listen; so does an accepted IP connection (a daemonized server listened in a process that
 *   has exited since: its time is then the accepting process's start); processes forked from a
 *   marked one inherit the mark (a server forks a child per connection, which runs the CGI).
 * - Scripts: when a marked process execs an interpreter (sh, python, perl, php, awk -f...), the
 *   script it runs (its argument, or the script behind a shebang, which the kernel passes as the
 *   interpreter's argument) is looked at in the container's root (/proc/<pid>/root): its age, and
 *   whether it changed after the server began listening (a web shell is written while the server
 *   runs; a legitimate CGI was in place before). Only these execs cost a stat.
 *
 * Memory is bounded: at most `maxProcesses` process windows, `maxContainers` container windows,
 * `maxServers` marked processes (least recently used evicted first), `maxTargets` destinations per
 * window (oldest evicted); every eviction is counted. A process's entries go when it exits.
 */
import { statSync } from "node:fs";
import { posix } from "node:path";
import { eventByName } from "../../rules/event-table.js";
import type { NetBehaviourView, SyscallEvent } from "../../rules/event.js";
import { NET_BEHAVIOUR_FIELDS } from "../../rules/compile/fields-behaviour-net.js";
import type { Expr } from "../../rules/index.js";

export interface NetBehaviourOptions {
  /** Seconds a destination counts in a window after its last connect. Default 60. */
  windowSec: number;
  /** Processes with a connect window. Default 4096. */
  maxProcesses: number;
  /** Container windows (one per container and program name). Default 512. */
  maxContainers: number;
  /** Destinations (host:port) kept per window. Default 256. */
  maxTargets: number;
  /** Processes marked as network servers. Default 4096. */
  maxServers: number;
}

export const NET_BEHAVIOUR_DEFAULTS: Readonly<NetBehaviourOptions> = Object.freeze({
  windowSec: 60,
  maxProcesses: 4096,
  maxContainers: 512,
  maxTargets: 256,
  maxServers: 4096,
});

/**
 * Syscalls the server marks need beyond the rules' own events: `listen` (one event per listening
 * socket) and the accept family (one event per accepted connection: a daemonized server's listener
 * has exited by the time it serves, so the accepting process is marked too).
 */
export const NET_BEHAVIOUR_SYSCALLS: readonly string[] = ["listen", "accept", "accept4"];

/** Every field this stage serves: the rules read them from `e.net` and the server marks (the pipeline's gate). */
export const NET_BEHAVIOUR_READS: readonly string[] = [...NET_BEHAVIOUR_FIELDS.map((f) => f.name), "proc.is_net_server"];

/** Fields that read the server marks. */
const SERVER_FIELDS: ReadonlySet<string> = new Set(["proc.is_net_server", "vigil.exec.script", "vigil.exec.script_age", "vigil.exec.script_after_listen"]);

function readsServer(x: Expr): boolean {
  switch (x.kind) {
    case "and":
    case "or":
      return x.children.some(readsServer);
    case "not":
      return readsServer(x.child);
    case "check":
      return x.field.kind === "field" && SERVER_FIELDS.has(x.field.name);
    default:
      return false;
  }
}

/**
 * What the state needs beyond the rules' own events: {@link NET_BEHAVIOUR_SYSCALLS} when a loaded
 * rule reads a server field, nothing otherwise (the connect windows need only the connects the
 * rules reading them ask for).
 */
export function netBehaviourNeeds(rules: readonly { readonly cond: Expr }[]): string[] {
  return rules.some((r) => readsServer(r.cond)) ? [...NET_BEHAVIOUR_SYSCALLS] : [];
}

/** The `net_behaviour` section of the agent configuration (agent/config/schema.ts). */
export interface NetBehaviourConfig {
  window_seconds: number;
  max_processes: number;
  max_containers: number;
  max_targets: number;
  max_servers: number;
}

/** Options from the configuration section. */
export function netBehaviourOptions(c: NetBehaviourConfig): NetBehaviourOptions {
  return {
    windowSec: c.window_seconds,
    maxProcesses: c.max_processes,
    maxContainers: c.max_containers,
    maxTargets: c.max_targets,
    maxServers: c.max_servers,
  };
}

/** A bad option value. */
export class NetBehaviourConfigError extends Error {
  override name = "NetBehaviourConfigError";
}

/** ctime of a file in ms since the epoch, or undefined when it cannot be read. */
export type ScriptStat = (root: string, path: string) => number | undefined;

const defaultStat: ScriptStat = (root, path) => {
  try {
    const st = statSync(root + path, { throwIfNoEntry: false });
    return st?.isFile() === true ? st.ctimeMs : undefined;
  } catch {
    return undefined;
  }
};

const EINPROGRESS = -115;

function code(name: string): number {
  const e = eventByName(name);
  if (e === undefined) throw new Error(`event ${name} missing from the event table`);
  return e.code;
}
const CONNECT = code("connect");
const LISTEN = code("listen");
const ACCEPTS = new Set(["accept", "accept4"].map(code));
const EXECVE = code("execve");
const EXECVEAT = code("execveat");
const PROCEXIT = code("procexit");
const CLONES = new Set(["clone", "clone3", "fork", "vfork"].map(code));

/** Interpreter names (argv[0] basename); versioned names (python3.12, php8.2, lua5.4) match by prefix. */
const SHELLS = new Set(["sh", "ash", "bash", "dash", "zsh", "ksh", "mksh", "yash", "fish", "csh", "tcsh"]);
const INTERPRETER_PREFIXES = ["python", "perl", "php", "ruby", "node", "nodejs", "lua", "tclsh", "pwsh", "Rscript", "bun", "deno"];
const AWKS = new Set(["awk", "gawk", "mawk", "nawk", "busybox-awk"]);
/** Options that take inline code instead of a script file. */
const INLINE_CODE = new Set(["-c", "-e", "-E", "-r", "--eval", "--command", "-Command", "-m"]);

/** The interpreter class of an exec'd program name, or undefined. */
export function interpreterKind(argv0: string): "shell" | "awk" | "other" | undefined {
  const b = posix.basename(argv0).replace(/^-/, ""); // login shells: -sh
  if (SHELLS.has(b)) return "shell";
  if (AWKS.has(b)) return "awk";
  for (const p of INTERPRETER_PREFIXES) if (b === p || (b.startsWith(p) && /^[\d.-]/.test(b.slice(p.length)))) return "other";
  if (b === "php-cgi" || b === "php-fpm") return "other";
  return undefined;
}

/**
 * The script an interpreter exec runs, from its arguments (argv[1..]): the first non-option
 * argument (`awk`: the file after `-f`); undefined for inline code (`sh -c`, `perl -e`, `python -c`).
 */
export function scriptArg(argv0: string, args: readonly string[]): string | undefined {
  const kind = interpreterKind(argv0);
  if (kind === undefined) return undefined;
  if (kind === "awk") {
    const i = args.indexOf("-f");
    return i >= 0 ? args[i + 1] : undefined;
  }
  for (const a of args) {
    if (INLINE_CODE.has(a)) return undefined;
    if (a === "--") continue;
    if (a.startsWith("-")) continue;
    return a.length > 0 ? a : undefined;
  }
  return undefined;
}

/** A sliding window of connect destinations with distinct-port/host counts kept incrementally. */
class ConnectWindow {
  /** "host|port" → boot ms of the last connect; insertion order = time order (refresh moves to the end). */
  private readonly targets = new Map<string, number>();
  private readonly ports = new Map<number, number>();
  private readonly hosts = new Map<string, number>();
  /** Boot ms of failed connects in the window (bounded like targets). */
  private failures: number[] = [];
  newPort = false;
  newHost = false;

  constructor(
    private readonly windowMs: number,
    private readonly maxTargets: number,
    private readonly onEvict: () => void,
  ) {}

  add(host: string, port: number, nowMs: number, failed: boolean): void {
    this.prune(nowMs);
    const key = `${host}|${port}`;
    this.newPort = !this.ports.has(port);
    this.newHost = !this.hosts.has(host);
    if (this.targets.has(key)) this.targets.delete(key);
    else {
      if (this.targets.size >= this.maxTargets) {
        const oldest = this.targets.keys().next().value as string;
        this.drop(oldest);
        this.onEvict();
      }
      this.ports.set(port, (this.ports.get(port) ?? 0) + 1);
      this.hosts.set(host, (this.hosts.get(host) ?? 0) + 1);
    }
    this.targets.set(key, nowMs);
    if (failed) {
      if (this.failures.length >= this.maxTargets) this.failures.shift();
      this.failures.push(nowMs);
    }
  }

  private prune(nowMs: number): void {
    const edge = nowMs - this.windowMs;
    for (const [k, t] of this.targets) {
      if (t >= edge) break;
      this.drop(k);
    }
    let i = 0;
    while (i < this.failures.length && (this.failures[i] as number) < edge) i++;
    if (i > 0) this.failures = this.failures.slice(i);
  }

  private drop(key: string): void {
    this.targets.delete(key);
    const sep = key.lastIndexOf("|");
    const host = key.slice(0, sep);
    const port = Number(key.slice(sep + 1));
    const pc = (this.ports.get(port) ?? 1) - 1;
    if (pc <= 0) this.ports.delete(port);
    else this.ports.set(port, pc);
    const hc = (this.hosts.get(host) ?? 1) - 1;
    if (hc <= 0) this.hosts.delete(host);
    else this.hosts.set(host, hc);
  }

  get distinctPorts(): number {
    return this.ports.size;
  }
  get distinctHosts(): number {
    return this.hosts.size;
  }
  get failed(): number {
    return this.failures.length;
  }
}

/** A marked network server: when it (or the ancestor it inherits from) began listening. */
interface ServerMark {
  /** ms since the epoch of the listen. */
  listenMs: number;
  /** The pid that listened (its root is the container's, for the script stat). */
  listenerPid: number;
}

/** Map used as an LRU: get() refreshes, set() evicts the least recently used past `cap`. */
class Lru<K, V> {
  readonly map = new Map<K, V>();
  constructor(
    private readonly cap: number,
    private readonly onEvict: () => void,
  ) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  peek(k: K): V | undefined {
    return this.map.get(k);
  }
  set(k: K, v: V): void {
    this.map.delete(k);
    if (this.map.size >= this.cap) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
      this.onEvict();
    }
    this.map.set(k, v);
  }
  delete(k: K): void {
    this.map.delete(k);
  }
  get size(): number {
    return this.map.size;
  }
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
    throw new NetBehaviourConfigError(`behaviour.net.${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** The network-behaviour state of one agent. `observe(e)` runs on every event before the rules. */
export class NetBehaviour {
  readonly opts: Readonly<NetBehaviourOptions>;
  private readonly procs: Lru<number, ConnectWindow>;
  /** Keyed `<container id>/<comm>`. */
  private readonly ctrs: Lru<string, ConnectWindow>;
  private readonly servers: Lru<number, ServerMark>;
  readonly counters = {
    connects: 0,
    listens: 0,
    accept_marks: 0,
    servers_inherited: 0,
    scripts_checked: 0,
    scripts_unreadable: 0,
    evicted_processes: 0,
    evicted_containers: 0,
    evicted_servers: 0,
    evicted_targets: 0,
  };

  constructor(
    opts: Partial<NetBehaviourOptions> = {},
    private readonly stat: ScriptStat = defaultStat,
  ) {
    const o = { ...NET_BEHAVIOUR_DEFAULTS, ...opts };
    this.opts = Object.freeze({
      windowSec: positiveInt("window_sec", o.windowSec),
      maxProcesses: positiveInt("max_processes", o.maxProcesses),
      maxContainers: positiveInt("max_containers", o.maxContainers),
      maxTargets: positiveInt("max_targets", o.maxTargets),
      maxServers: positiveInt("max_servers", o.maxServers),
    });
    this.procs = new Lru(this.opts.maxProcesses, () => this.counters.evicted_processes++);
    this.ctrs = new Lru(this.opts.maxContainers, () => this.counters.evicted_containers++);
    this.servers = new Lru(this.opts.maxServers, () => this.counters.evicted_servers++);
  }

  /** Updates the state from `e` and sets `e.net` (undefined for events it has nothing to say about). */
  observe(e: SyscallEvent): void {
    e.net = undefined;
    const t = e.type as number;
    if (t === CONNECT) this.onConnect(e);
    else if (t === EXECVE || t === EXECVEAT) {
      if (e.res >= 0) this.onExec(e);
    } else if (t === LISTEN) {
      if (e.res === 0 && (e.fd?.typechar === "4" || e.fd?.typechar === "6")) {
        this.counters.listens++;
        this.servers.set(e.proc.pid, { listenMs: e.sec * 1000 + e.nsec / 1e6, listenerPid: e.proc.pid });
      }
    } else if (ACCEPTS.has(t)) {
      // a server whose listen was not seen (it listened, then daemonized: the listener exited):
      // it has been serving since it started at the latest
      if (e.res >= 0 && (e.fd?.typechar === "4" || e.fd?.typechar === "6") && this.servers.peek(e.proc.pid) === undefined) {
        this.counters.accept_marks++;
        const nowMs = e.sec * 1000 + e.nsec / 1e6;
        const startMs = nowMs - Math.max(0, e.bootNs - e.proc.startTs) / 1e6;
        this.servers.set(e.proc.pid, { listenMs: startMs, listenerPid: e.proc.pid });
      }
    } else if (CLONES.has(t)) {
      // the new task's side (res 0): a new process inherits its parent's mark
      if (e.res === 0 && e.proc.tid === e.proc.pid && e.proc.ppid > 0) {
        const m = this.servers.peek(e.proc.ppid);
        if (m !== undefined && this.servers.peek(e.proc.pid) === undefined) {
          this.counters.servers_inherited++;
          this.servers.set(e.proc.pid, m);
        }
      }
    } else if (t === PROCEXIT && e.proc.tid === e.proc.pid) {
      this.procs.delete(e.proc.pid);
      this.servers.delete(e.proc.pid);
    }
  }

  /** The server mark of `pid`, or of its nearest marked ancestor in the process table. */
  private serverOf(e: SyscallEvent): ServerMark | undefined {
    const own = this.servers.get(e.proc.pid);
    if (own !== undefined) return own;
    let a = e.proc.parent;
    for (let i = 0; i < 8 && a !== undefined; i++, a = a.parent) {
      const m = this.servers.peek(a.pid);
      if (m !== undefined) return m;
    }
    return undefined;
  }

  private onConnect(e: SyscallEvent): void {
    const addr = e.args[3];
    let host: string | undefined;
    let port = 0;
    if (addr !== undefined && typeof addr === "object" && "dip" in addr && (addr.family === 2 || addr.family === 10)) {
      host = addr.dip;
      port = addr.dport;
    } else if (e.fd?.tuple !== undefined && (e.fd.tuple.family === 2 || e.fd.tuple.family === 10)) {
      host = e.fd.tuple.dip;
      port = e.fd.tuple.dport;
    }
    if (host === undefined || host === "" || port === 0) return;
    this.counters.connects++;
    const now = e.bootNs / 1e6;
    const failed = e.res < 0 && e.res !== EINPROGRESS;
    let pw = this.procs.get(e.proc.pid);
    if (pw === undefined) {
      pw = this.newWindow();
      this.procs.set(e.proc.pid, pw);
    }
    pw.add(host, port, now, failed);
    const cid = e.proc.container.id;
    let cw: ConnectWindow | undefined;
    if (cid !== "host" && cid !== "") {
      // the container's processes of one program name: a loop of short `nc`/`wget` runs adds up,
      // the container's different services do not
      const key = `${cid}/${e.proc.comm}`;
      cw = this.ctrs.get(key);
      if (cw === undefined) {
        cw = this.newWindow();
        this.ctrs.set(key, cw);
      }
      cw.add(host, port, now, failed);
    }
    const view: NetBehaviourView = {
      destIp: host,
      destPort: port,
      procPorts: pw.distinctPorts,
      procHosts: pw.distinctHosts,
      procFailed: pw.failed,
      ctrPorts: cw?.distinctPorts,
      ctrHosts: cw?.distinctHosts,
      ctrFailed: cw?.failed,
      newProcPort: pw.newPort,
      newProcHost: pw.newHost,
      newCtrPort: cw?.newPort ?? false,
      newCtrHost: cw?.newHost ?? false,
      netServer: this.serverOf(e) !== undefined,
      script: undefined,
      scriptAgeSec: undefined,
      scriptAfterListen: undefined,
    };
    e.net = view;
  }

  private newWindow(): ConnectWindow {
    return new ConnectWindow(this.opts.windowSec * 1000, this.opts.maxTargets, () => this.counters.evicted_targets++);
  }

  private onExec(e: SyscallEvent): void {
    const server = this.serverOf(e);
    if (server === undefined) return;
    const p = e.proc;
    const arg = scriptArg(p.exe, p.args);
    let script: string | undefined;
    let ageSec: number | undefined;
    let after: boolean | undefined;
    if (arg !== undefined) {
      script = posix.resolve(p.cwd !== "" ? p.cwd : "/", arg);
      this.counters.scripts_checked++;
      const ctime = this.scriptCtime(e, server, script);
      if (ctime === undefined) this.counters.scripts_unreadable++;
      else {
        const nowMs = e.sec * 1000 + e.nsec / 1e6;
        ageSec = Math.max(0, Math.floor((nowMs - ctime) / 1000));
        after = ctime >= server.listenMs;
      }
    }
    const w = this.procs.peek(p.pid);
    e.net = {
      destIp: undefined,
      destPort: undefined,
      procPorts: w?.distinctPorts ?? 0,
      procHosts: w?.distinctHosts ?? 0,
      procFailed: w?.failed ?? 0,
      ctrPorts: undefined,
      ctrHosts: undefined,
      ctrFailed: undefined,
      newProcPort: false,
      newProcHost: false,
      newCtrPort: false,
      newCtrHost: false,
      netServer: true,
      script,
      scriptAgeSec: ageSec,
      scriptAfterListen: after,
    };
  }

  /**
   * ctime of `script` in the root of the new program, else of an ancestor in the same container
   * (a short CGI and its server child may be gone when the event is read; the container's init is
   * not), else of the listener. At most 10 stats.
   */
  private scriptCtime(e: SyscallEvent, server: ServerMark, script: string): number | undefined {
    const p = e.proc;
    let ctime = this.stat(`/proc/${p.pid}/root`, script);
    let a = p.parent;
    for (let i = 0; ctime === undefined && i < 8 && a !== undefined && a.container === p.container; i++, a = a.parent)
      ctime = this.stat(`/proc/${a.pid}/root`, script);
    return ctime ?? this.stat(`/proc/${server.listenerPid}/root`, script);
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      processes: this.procs.size,
      containers: this.ctrs.size,
      servers: this.servers.size,
    };
  }
}
