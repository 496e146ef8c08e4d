// SPDX-License-Identifier: Apache-2.0
/**
 * File and exec behaviour over time (issue 19, class 4, files half): bounded per-container state
 * fed by the events the rules already bring in, read by the rules through the `vigil.unlink.*`,
 * `vigil.exe.fetched*` and `vigil.cred.*` fields (rules/compile/fields-behaviour-files.ts).
 *
 * - Running executables: per container, which live processes run which program (from the exec
 *   events seen, dropped at the process's exit). An unlink of such a path says who runs it: the
 *   deleter itself (malware deleting itself) or another process (a dropper cleaning up after the
 *   payload started). Processes already running when the agent started are not in it (no exec seen).
 * - Fetched files: per process, the first and last network activity (a connect to an IP address,
 *   a connection accepted; receive calls are not asked of the probe, too many on servers), and
 *   the start times of its children in the same container that connected (a shell opens `> file`
 *   before it forks the command that writes it: `wget -O - url > file`, `nc host port > file`;
 *   such a child counts when it is the creator's first child forked after the creation, within
 *   500 ms: `printf ... > script && wget ...` does not count); per container, the files created
 *   (open with O_CREAT for writing, creat). An exec whose program — or the script named by its
 *   first two arguments (`sh /tmp/x`, a shebang script) — was created by a process with network
 *   activity within `fetchWindowMs` of the creation (before or after it), in the program that
 *   created it or the one it exec'd into within 500 ms (`exec nc host port > file`; a shell that
 *   wrote scripts and later exec'd into a health-check wget does not count), and at most
 *   `execWindowMs` before the exec,
 *   is an ingress tool transfer (T1105). Renames are not followed (a file created under one name
 *   and renamed before it runs is not recognised).
 * - Credential hunting: per process, the distinct credential-looking files it opened within
 *   `credWindowMs` (rules/compile/fields-behaviour-files.ts `isCredentialPath`); each open counts
 *   for the process and for its parent when that is in the same container, so a shell loop running
 *   `cat` over key files counts as one actor.
 *
 * Every table has a cap (options, defaults below); past it the oldest entry goes and an eviction
 * is counted. The state asks for what the rules do not bring in only when a loaded rule reads the
 * fetched fields ({@link fileBehaviourNeeds}): the network calls and the open-family creations
 * (a kernel filter clause: success, write access, O_CREAT — no read-only open leaves the kernel for
 * this state). With the built-in packs both are already asked for by other rules (BENCHMARKS.md).
 */
import { FILE_BEHAVIOUR_FIELDS, isCredentialPath } from "../../rules/compile/fields-behaviour-files.js";
import type { FilterableRule } from "../../rules/compile/pushdown.js";
import { EVENT_CODE_LIMIT, EVENTS, Fd, Proc } from "../../rules/event-table.js";
import type { FileBehaviourFacts, SyscallEvent } from "../../rules/event.js";
import { conditionCodes, parseCondition, resolveField, type Expr } from "../../rules/index.js";
import { startTick } from "../state/proc-reader.js";

/** Caps and windows of {@link FileBehaviour}. */
export interface FileBehaviourOptions {
  /** Containers tracked (the host counts as one); default 1024. */
  maxContainers?: number;
  /** Created files remembered per container; default 2048. */
  maxFilesPerContainer?: number;
  /** Running programs (distinct paths) per container; default 4096. */
  maxExesPerContainer?: number;
  /** Processes with network activity remembered; default 16384. */
  maxNetProcs?: number;
  /** Processes with credential opens remembered; default 4096. */
  maxCredProcs?: number;
  /** Distinct credential files remembered per process; default 32. */
  maxCredFilesPerProc?: number;
  /** Network activity counts for a file created this close to it, ms; default 10 min. */
  fetchWindowMs?: number;
  /** A created file counts as fetched when executed within this, ms; default 1 h. */
  execWindowMs?: number;
  /** Window of the credential-file count, ms; default 10 min. */
  credWindowMs?: number;
}

/** The `file_behaviour:` section of the agent's configuration (agent/config/schema.ts). */
export interface FileBehaviourConfig {
  max_containers: number;
  max_files_per_container: number;
  max_exes_per_container: number;
  max_net_procs: number;
  max_cred_procs: number;
  max_cred_files_per_proc: number;
  fetch_window_seconds: number;
  exec_window_seconds: number;
  cred_window_seconds: number;
}

/** Options of {@link FileBehaviour} from the configuration's `file_behaviour:` section. */
export function fileBehaviourOptions(c: FileBehaviourConfig): FileBehaviourOptions {
  return {
    maxContainers: c.max_containers,
    maxFilesPerContainer: c.max_files_per_container,
    maxExesPerContainer: c.max_exes_per_container,
    maxNetProcs: c.max_net_procs,
    maxCredProcs: c.max_cred_procs,
    maxCredFilesPerProc: c.max_cred_files_per_proc,
    fetchWindowMs: c.fetch_window_seconds * 1000,
    execWindowMs: c.exec_window_seconds * 1000,
    credWindowMs: c.cred_window_seconds * 1000,
  };
}

const DEFAULTS: Required<FileBehaviourOptions> = {
  maxContainers: 1024,
  maxFilesPerContainer: 2048,
  maxExesPerContainer: 4096,
  maxNetProcs: 16384,
  maxCredProcs: 4096,
  maxCredFilesPerProc: 32,
  fetchWindowMs: 600_000,
  execWindowMs: 3_600_000,
  credWindowMs: 600_000,
};

/** What an event type means to the state. */
const K_EXEC = 1;
const K_EXIT = 2;
const K_UNLINK = 3;
const K_OPEN = 4;
const K_NET = 5;
const K_CLONE = 6;
const KIND = new Uint8Array(EVENT_CODE_LIMIT);
/** Network activity: connects and accepts (receive calls are not asked for: far too many on servers for the probe's cost). */
const NET_CALLS = ["connect", "accept", "accept4"];
for (const e of EVENTS) {
  if (e.proc === Proc.Exec) KIND[e.code] = K_EXEC;
  else if (e.proc === Proc.Exit) KIND[e.code] = K_EXIT;
  else if (e.name === "unlink" || e.name === "unlinkat") KIND[e.code] = K_UNLINK;
  else if (e.fd === Fd.Open) KIND[e.code] = K_OPEN;
  else if (NET_CALLS.includes(e.name)) KIND[e.code] = K_NET;
  else if (e.proc === Proc.Clone) KIND[e.code] = K_CLONE;
}
const CONNECT_CODE = EVENTS.find((e) => e.name === "connect")?.code ?? -1;
const EINPROGRESS = -115;
const O_CREAT = 0o100;

const unlinkPath = resolveField("fs.path.name", undefined).get;

interface Created {
  pid: number;
  /** The creator's start time, in clock ticks as the process table compares them (against pid reuse). */
  pstart: number;
  comm: string;
  /** Boot-time ns of the creation. */
  at: number;
  /**
   * Start (boot ns) of the creator's first child forked after the creation, if within 500 ms:
   * for `cmd > file` the shell opens the file and forks `cmd` next, so that child writes it.
   */
  firstChild: number | undefined;
  /** The creator's program (its last exec, boot ns) when it created the file. */
  execTs: number;
  /** Its next program, when it exec'd within 500 ms of the creation (`exec cmd > file`, a shell's last command). */
  selfExec: number | undefined;
}

interface NetSeen {
  pstart: number;
  /** Boot ns of the process's own first and last network activity (NaN: none yet). */
  first: number;
  last: number;
  /** Start times (boot ns) of its children in the same container that connected, newest last (at most {@link MAX_CHILD_STARTS}). */
  childStarts: number[];
  /** The program (exec, boot ns) of the own activity above: a new program starts it over. */
  execTs: number;
}

interface CredSeen {
  pstart: number;
  since: number;
  files: Set<string>;
}

interface Ctr {
  files: Map<string, Created>;
  /** Program path → pids running it. */
  exes: Map<string, Set<number>>;
}

interface Running {
  ctr: Ctr;
  path: string;
  comm: string;
}

/** Removes the oldest entries of a Map (insertion order) until it holds at most `max`; returns how many went. */
function trim<K, V>(m: Map<K, V>, max: number, onDrop?: (k: K, v: V) => void): number {
  let n = 0;
  while (m.size > max) {
    const first = m.entries().next();
    if (first.done === true) break;
    m.delete(first.value[0]);
    onDrop?.(first.value[0], first.value[1]);
    n++;
  }
  return n;
}

/** Sets `k` as the newest entry of `m`. */
function touch<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
}

const MS = 1_000_000;
/** Children that connected remembered per process. */
const MAX_CHILD_STARTS = 16;
/**
 * A child's connect counts for a file its parent created when the child started this soon after
 * the creation: the shell opens `> file` and forks the command at once; a script the shell wrote
 * earlier, before it ran other commands that happen to connect, does not count.
 */
const REDIRECT_FORK_NS = 500 * MS;

/** The file and exec behaviour state of one agent. */
export class FileBehaviour {
  private readonly o: Required<FileBehaviourOptions>;
  private readonly ctrs = new Map<string, Ctr>();
  private readonly running = new Map<number, Running>();
  private readonly net = new Map<number, NetSeen>();
  private readonly cred = new Map<number, CredSeen>();
  /** Per process, its latest creation still waiting for its first child (bounded like the network records). */
  private readonly lastCreated = new Map<number, Created>();
  readonly counters = {
    exes_tracked: 0,
    files_created: 0,
    net_marked: 0,
    unlink_running: 0,
    exec_fetched: 0,
    cred_opens: 0,
    evicted_containers: 0,
    evicted_files: 0,
    evicted_exes: 0,
    evicted_net: 0,
    evicted_cred: 0,
  };

  constructor(opts: FileBehaviourOptions = {}) {
    const o = { ...DEFAULTS };
    for (const [k, v] of Object.entries(opts) as [keyof FileBehaviourOptions, number | undefined][]) {
      if (v === undefined) continue;
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`file behaviour option ${k} must be a positive integer, got ${String(v)}`);
      o[k] = v;
    }
    this.o = o;
  }

  /** Updates the state with `e` and attaches what the rules may read (`e.fileBehaviour`). Before the rules. */
  observe(e: SyscallEvent): void {
    const k = KIND[e.type];
    if (k === 0) {
      if (e.fileBehaviour !== undefined) e.fileBehaviour = undefined;
      return;
    }
    let f: FileBehaviourFacts | undefined;
    switch (k) {
      case K_EXEC:
        f = e.res === 0 ? this.onExec(e) : undefined;
        break;
      case K_EXIT:
        if (e.proc.tid === e.proc.pid) this.forget(e.proc.pid);
        break;
      case K_UNLINK:
        f = e.res === 0 ? this.onUnlink(e) : undefined;
        break;
      case K_OPEN:
        f = e.res >= 0 ? this.onOpen(e) : undefined;
        break;
      case K_CLONE:
        // the new process's side (res 0): the first child of a creator after its creation
        if (e.res === 0 && e.proc.tid === e.proc.pid) this.onChild(e);
        break;
      case K_NET:
        this.onNet(e);
        break;
    }
    e.fileBehaviour = f;
  }

  stats(): Record<string, number> {
    let files = 0;
    for (const c of this.ctrs.values()) files += c.files.size;
    return {
      ...this.counters,
      containers: this.ctrs.size,
      running: this.running.size,
      files,
      net_procs: this.net.size,
      cred_procs: this.cred.size,
    };
  }

  private ctr(id: string): Ctr {
    let c = this.ctrs.get(id);
    if (c === undefined) {
      c = { files: new Map(), exes: new Map() };
      this.ctrs.set(id, c);
      this.counters.evicted_containers += trim(this.ctrs, this.o.maxContainers, (_k, gone) => {
        for (const pids of gone.exes.values()) for (const pid of pids) this.running.delete(pid);
      });
    }
    return c;
  }

  /** A process's exit (or a new program replacing its old one): its program is no longer run by it. */
  private forget(pid: number): void {
    const r = this.running.get(pid);
    if (r === undefined) return;
    this.running.delete(pid);
    const pids = r.ctr.exes.get(r.path);
    if (pids === undefined) return;
    pids.delete(pid);
    if (pids.size === 0) r.ctr.exes.delete(r.path);
  }

  private onExec(e: SyscallEvent): FileBehaviourFacts | undefined {
    const p = e.proc;
    const c = this.ctr(p.container.id);
    this.forget(p.pid);
    // the creator exec'd right after creating (the shell's last command, run in place)
    const mine = this.lastCreated.get(p.pid);
    if (mine !== undefined) {
      this.lastCreated.delete(p.pid);
      if (mine.pstart === startTick(p.startTs) && p.execTs >= mine.at && p.execTs - mine.at <= REDIRECT_FORK_NS) mine.selfExec = p.execTs;
    }
    const path = p.exepath;
    if (path !== "") {
      let pids = c.exes.get(path);
      if (pids === undefined) {
        pids = new Set();
        c.exes.set(path, pids);
        this.counters.evicted_exes += trim(c.exes, this.o.maxExesPerContainer, (_k, gone) => {
          for (const pid of gone) this.running.delete(pid);
        });
      }
      pids.add(p.pid);
      this.running.set(p.pid, { ctr: c, path, comm: p.comm });
      this.counters.exes_tracked++;
    }
    if (c.files.size === 0) return undefined;
    // the program, else a script named by the first arguments (sh /tmp/x.sh; a shebang's argv)
    let hit: Created | undefined;
    let hitPath: string | undefined;
    const cands = [path, p.args[0], p.args[1]];
    for (const cand of cands) {
      if (cand === undefined || cand === "" || cand.startsWith("-")) continue;
      const rel = cand.startsWith("./") ? cand.slice(2) : cand;
      const abs = cand.startsWith("/") ? cand : p.cwd.endsWith("/") ? p.cwd + rel : `${p.cwd}/${rel}`;
      const cr = c.files.get(abs);
      if (cr !== undefined && this.wasFetched(cr, e.bootNs)) {
        hit = cr;
        hitPath = abs;
        break;
      }
    }
    if (hit === undefined) return undefined;
    this.counters.exec_fetched++;
    return {
      runningPid: undefined,
      runningName: undefined,
      runningSelf: false,
      fetchedPath: hitPath,
      fetchedBy: hit.comm,
      fetchedByPid: hit.pid,
      fetchedAgeNs: e.bootNs - hit.at,
      credDistinct: undefined,
      credFiles: undefined,
      credNew: undefined,
    };
  }

  /** A new process: the first child of a creator shortly after its creation is the one that writes the file. */
  private onChild(e: SyscallEvent): void {
    const q = e.proc.parent;
    if (q === undefined) return;
    const cr = this.lastCreated.get(q.pid);
    if (cr === undefined) return;
    this.lastCreated.delete(q.pid);
    const st = e.proc.startTs;
    if (cr.pstart === startTick(q.startTs) && st >= cr.at && st - cr.at <= REDIRECT_FORK_NS) cr.firstChild = st;
  }

  private wasFetched(cr: Created, now: number): boolean {
    if (now - cr.at > this.o.execWindowMs * MS) return false;
    const n = this.net.get(cr.pid);
    if (n === undefined || n.pstart !== cr.pstart) return false;
    const w = this.o.fetchWindowMs * MS;
    // the creator's own activity counts in the program that created the file, or the one it
    // exec'd right after (`sh -c '... ; exec wget ...'` wrote other files before: they do not count)
    const sameProgram = n.execTs === cr.execTs || n.execTs === cr.selfExec;
    if (sameProgram && n.last >= cr.at - w && n.first <= cr.at + w) return true;
    return cr.firstChild !== undefined && n.childStarts.includes(cr.firstChild);
  }

  private onUnlink(e: SyscallEvent): FileBehaviourFacts | undefined {
    const c = this.ctrs.get(e.proc.container.id);
    if (c === undefined) return undefined;
    const v = unlinkPath(e);
    if (typeof v !== "string") return undefined;
    // a created file is gone: it can no longer be executed
    c.files.delete(v);
    const pids = c.exes.get(v);
    if (pids === undefined || pids.size === 0) return undefined;
    let pid: number | undefined;
    for (const q of pids) {
      if (q !== e.proc.pid) {
        pid = q;
        break;
      }
    }
    const self = pid === undefined;
    if (self) pid = e.proc.pid;
    const r = pid === undefined ? undefined : this.running.get(pid);
    this.counters.unlink_running++;
    return {
      runningPid: pid,
      runningName: r?.comm,
      runningSelf: self,
      fetchedPath: undefined,
      fetchedBy: undefined,
      fetchedByPid: undefined,
      fetchedAgeNs: undefined,
      credDistinct: undefined,
      credFiles: undefined,
      credNew: undefined,
    };
  }

  private onOpen(e: SyscallEvent): FileBehaviourFacts | undefined {
    const fd = e.fd;
    if (fd === undefined || fd.typechar !== "f") return undefined;
    const flags = fd.openFlags ?? 0;
    const acc = flags & 3;
    if ((flags & O_CREAT) !== 0 && (acc === 1 || acc === 2)) {
      const c = this.ctr(e.proc.container.id);
      const cr: Created = {
        pid: e.proc.pid,
        pstart: startTick(e.proc.startTs),
        comm: e.proc.comm,
        at: e.bootNs,
        firstChild: undefined,
        execTs: e.proc.execTs,
        selfExec: undefined,
      };
      touch(c.files, fd.name, cr);
      touch(this.lastCreated, e.proc.pid, cr);
      trim(this.lastCreated, this.o.maxNetProcs);
      this.counters.files_created++;
      this.counters.evicted_files += trim(c.files, this.o.maxFilesPerContainer);
      return undefined;
    }
    if (acc === 1 || !isCredentialPath(fd.name)) return undefined;
    this.counters.cred_opens++;
    const a = this.credFor(e.proc.pid, startTick(e.proc.startTs), e.bootNs);
    const aNew = this.credAdd(a, fd.name);
    // the parent's children together (a shell loop of cat), within the container only: a host
    // parent (the runtime's shim) would pool unrelated sessions
    const parent = e.proc.parent;
    const b = parent === undefined || parent.container.id !== e.proc.container.id ? undefined : this.credFor(parent.pid, startTick(parent.startTs), e.bootNs);
    const bNew = b === undefined ? false : this.credAdd(b, fd.name);
    const best = b !== undefined && b.files.size > a.files.size ? b : a;
    let list = "";
    let n = 0;
    for (const name of best.files) {
      if (n++ === 8) break;
      list += n === 1 ? name : `,${name}`;
    }
    return {
      runningPid: undefined,
      runningName: undefined,
      runningSelf: false,
      fetchedPath: undefined,
      fetchedBy: undefined,
      fetchedByPid: undefined,
      fetchedAgeNs: undefined,
      credDistinct: best.files.size,
      credFiles: list,
      credNew: best === a ? aNew : bNew,
    };
  }

  /** The credential-file set of a process, new when none or its window is over. */
  private credFor(pid: number, pstart: number, now: number): CredSeen {
    let s = this.cred.get(pid);
    if (s === undefined || s.pstart !== pstart || now - s.since > this.o.credWindowMs * MS) {
      s = { pstart, since: now, files: new Set() };
      touch(this.cred, pid, s);
      this.counters.evicted_cred += trim(this.cred, this.o.maxCredProcs);
    }
    return s;
  }

  /** Adds a file to a set (up to the cap); true when it was not there. */
  private credAdd(s: CredSeen, path: string): boolean {
    if (s.files.has(path) || s.files.size >= this.o.maxCredFilesPerProc) return false;
    s.files.add(path);
    return true;
  }

  private onNet(e: SyscallEvent): void {
    const t = e.fd?.typechar;
    if (t !== "4" && t !== "6") return;
    if (e.res < 0 && !(e.type === CONNECT_CODE && e.res === EINPROGRESS)) return;
    const p = e.proc;
    const n = this.netOf(p.pid, p.startTs);
    if (n.execTs !== p.execTs) {
      // a new program of the process: its network activity is its own
      n.execTs = p.execTs;
      n.first = Number.NaN;
    }
    if (Number.isNaN(n.first)) n.first = e.bootNs;
    n.last = e.bootNs;
    // a client's connect also goes to its parent (same container), with the child's start: a
    // shell applies `> file` itself and then forks `wget -O - url` or `nc host port` into it
    const q = p.parent;
    if (e.type !== CONNECT_CODE || q === undefined || q.container.id !== p.container.id) return;
    const pn = this.netOf(q.pid, q.startTs);
    if (pn.childStarts.at(-1) === p.startTs) return;
    pn.childStarts.push(p.startTs);
    if (pn.childStarts.length > MAX_CHILD_STARTS) pn.childStarts.shift();
  }

  /** The network record of a process, new (no activity yet) when none or its pid was reused. */
  private netOf(pid: number, startTs: number): NetSeen {
    const tick = startTick(startTs);
    const n = this.net.get(pid);
    if (n !== undefined && n.pstart === tick) return n;
    const fresh: NetSeen = { pstart: tick, first: Number.NaN, last: Number.NaN, childStarts: [], execTs: Number.NaN };
    touch(this.net, pid, fresh);
    this.counters.net_marked++;
    this.counters.evicted_net += trim(this.net, this.o.maxNetProcs);
    return fresh;
  }
}

const FETCH_FIELDS = new Set(FILE_BEHAVIOUR_FIELDS.filter((f) => f.name.startsWith("vigil.exe.fetched")).map((f) => f.name));

function readsFetched(x: Expr): boolean {
  switch (x.kind) {
    case "and":
    case "or":
      return x.children.some(readsFetched);
    case "not":
      return readsFetched(x.child);
    case "check":
      return x.field.kind === "field" && FETCH_FIELDS.has(x.field.name);
    default:
      return false;
  }
}

/** Every field this stage serves (`e.fileBehaviour`; the pipeline's gate). */
export const FILE_BEHAVIOUR_READS: readonly string[] = FILE_BEHAVIOUR_FIELDS.map((f) => f.name);

/** The condition whose pushed-down clause lets the creations the fetched-file state needs out of the kernel. */
const CREATE_CONDITION = "evt.type in (open, openat, openat2, creat) and evt.is_open_create = true and evt.is_open_write = true and fd.num >= 0";
const CREATE_EVENTS = ["open", "openat", "openat2", "creat"];

/**
 * What the state needs beyond the rules' own events: when a rule reads a `vigil.exe.fetched*`
 * field, the network calls that mark processes and the open-family creations. Empty otherwise.
 */
export function fileBehaviourNeeds(rules: readonly { readonly cond: Expr }[]): string[] {
  if (!rules.some((r) => readsFetched(r.cond))) return [];
  return [...NET_CALLS, ...CREATE_EVENTS];
}

/**
 * The pseudo-rules to derive the kernel filters with, next to the loaded rules: when a rule reads
 * a `vigil.exe.fetched*` field, one whose condition asks for successful creations for writing
 * (the pushdown merges its clause with the rules' own and keeps the clause limit). Empty otherwise.
 */
export function fileBehaviourFilterRules(rules: readonly { readonly cond: Expr }[]): FilterableRule[] {
  if (!rules.some((r) => readsFetched(r.cond))) return [];
  const cond = parseCondition(CREATE_CONDITION);
  return [{ cond, codes: conditionCodes(cond) }];
}
