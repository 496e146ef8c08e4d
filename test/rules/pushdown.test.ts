// SPDX-License-Identifier: Apache-2.0
/**
 * Kernel predicate push-down: rule conditions → the clauses the probe evaluates. Table cases per
 * construct; an unsummarisable rule turns its type's filter off; Falco's stable rules give the
 * expected filter; and a soundness sweep: over a grid of open events (paths, symlinked and
 * "../" arguments, flags, results, processes, containers), every event that any rule of Falco's
 * stable rules and Vigil's packs matches passes a model of the probe's check.
 */
import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { describe, expect, it } from "vitest";
import { kernelFilterLines } from "../../agent/sources/kernel-filter.js";
import { clauseText, conditionClauses, deriveKernelFilters, MAX_CLAUSES, type FilterClause, type KernelFilters } from "../../rules/compile/pushdown.js";
import type { SyscallEvent } from "../../rules/event.js";
import { loadRuleFiles, parseCondition } from "../../rules/index.js";
import type { CompiledRule } from "../../rules/index.js";
import { packFiles } from "../helpers/packs.js";
import { container, ev, fileFd, O, proc } from "./event-builder.js";
import { STABLE_RULES } from "./stable-path.js";

function clauses(cond: string): string[] | "all" {
  const c = conditionClauses(parseCondition(cond));
  return c === null ? "all" : c.map(clauseText);
}

function rulesYaml(conds: string[]): string {
  return conds.map((c, i) => `- rule: r${i}\n  desc: d\n  condition: ${c}\n  output: o\n  priority: WARNING\n`).join("\n");
}

function filtersOf(conds: string[]): KernelFilters {
  const r = loadRuleFiles([{ path: "t.yaml", text: rulesYaml(conds) }]);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return deriveKernelFilters(r.ruleset.rules);
}

const CASES: [string, string[] | "all"][] = [
  // result, access mode, flags
  ["fd.num >= 0", ["ok"]],
  ["fd.num = -1", ["failed"]],
  ['evt.res startswith "E"', ["failed"]],
  ["evt.res = SUCCESS", ["ok"]],
  ["evt.failed = true", ["failed"]],
  ["evt.is_open_read = true", ["read"]],
  ["evt.is_open_write = true and fd.num >= 0", ["ok ∧ write"]],
  ["not evt.is_open_write = false", ["write"]],
  ["evt.is_open_write != false", ["write"]],
  ["evt.arg.flags contains O_TRUNC", ["flags&01000"]],
  ["evt.is_open_create = true", ["flags&0100"]],
  ["evt.is_open_read = true and evt.is_open_write = true", ["acc=100"]],
  ["fd.num >= 0 and fd.num < 0", []],
  // resolved names
  ["fd.name = /etc/shadow", ["leaf∈{shadow} ∧ dir∈{etc}"]],
  ["fd.name in (/etc/shadow, /x)", ["leaf∈{shadow,x}"]],
  ['fd.name endswith "/.aws/credentials"', ["leaf∈{credentials} ∧ dir∈{.aws}"]],
  ['fd.name endswith "x/credentials"', ["leaf∈{credentials}"]],
  ["fd.name glob /proc/*/environ", ["leaf∈{environ}"]],
  ["fd.filename in (a, b)", ["leaf∈{a,b}"]],
  ["fd.directory in (/var/log, /dev/log)", ["dir∈{log}"]],
  // path argument
  ['fd.nameraw contains "../"', ['raw~"../"']],
  ['fd.nameraw glob "*../*../*"', ['raw~"../"']],
  ["evt.arg.name in (/dev/mem, /proc/kcore)", ["raw∈{/dev/mem,/proc/kcore}"]],
  ['evt.arg.name glob "/proc/[0-9]*/root/*"', ["raw∈{/proc/…}"]],
  // disjunctions and conjunctions
  ["fd.name = /a/b or evt.arg.flags contains O_TRUNC", ["leaf∈{b} ∧ dir∈{a}", "flags&01000"]],
  ["(fd.num >= 0 or fd.num = -1) and fd.filename = a", ["ok ∧ leaf∈{a}", "failed ∧ leaf∈{a}"]],
  ["fd.filename = a and fd.filename in (a, b)", ["leaf∈{a}"]],
  ["fd.filename = a and fd.filename = b", []],
  ["fd.filename = a or fd.filename in (a, b)", ["leaf∈{a,b}"]],
  // what proves nothing
  ["proc.name = cat", "all"],
  ['fd.name contains "/.ssh/"', "all"],
  ["fd.name startswith /etc/", "all"],
  ['fd.name endswith ".php"', "all"],
  ["fd.name glob /home/*/.ssh/*", "all"],
  ["fd.name pmatch (/etc)", "all"],
  ["not fd.name = /etc/shadow", "all"],
  ["not evt.arg.flags contains O_TRUNC", "all"],
  ["fd.name = shadow", "all"],
  ["fd.directory = /", "all"],
  ["evt.arg.name = relative/path", "all"],
  ["evt.arg.flags contains O_RDWR", "all"],
  ["fd.name = /etc/shadow or proc.name = cat", "all"],
  ["fd.name = /x or not fd.num >= 0", "all"],
];

describe("push-down derivation: condition → clauses", () => {
  for (const [cond, want] of CASES) {
    it(cond, () => {
      const got = clauses(cond);
      if (want === "all" || got === "all") expect(got).toEqual(want);
      else expect([...got].sort()).toEqual([...want].sort());
    });
  }

  it("merges past the clause limit into weaker clauses that still cover every original one", () => {
    const names = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const cond = names.map((n, i) => `(fd.filename = ${n} and evt.arg.flags contains ${i % 2 ? "O_TRUNC" : "O_CREAT"})`).join(" or ");
    const got = conditionClauses(parseCondition(cond));
    expect(got).not.toBeNull();
    expect(got!.length).toBeLessThanOrEqual(MAX_CLAUSES);
    for (const [i, n] of names.entries()) {
      const flags = i % 2 ? O.TRUNC : O.CREAT;
      expect(got!.some((c) => c.leaf?.has(n) === true && (c.flagsAll & flags) === c.flagsAll)).toBe(true);
    }
  });
});

describe("push-down derivation: rule sets", () => {
  it("Falco's stable rules: opens are filtered on result, access mode, names and '../'", () => {
    const r = loadRuleFiles([{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }]);
    const f = deriveKernelFilters(r.ruleset.rules);
    expect([...f.keys()].sort()).toEqual(["open", "openat", "openat2"]);
    expect(f.get("openat")?.map(clauseText).sort()).toEqual(
      [
        'ok ∧ read ∧ raw~"../"',
        'failed ∧ raw~"../"',
        "ok ∧ read ∧ leaf∈{shadow,sudoers,pam.conf,pwquality.conf} ∧ dir∈{etc,security}",
        "ok ∧ read ∧ dir∈{sudoers.d,pam.d}",
        "ok ∧ write",
      ].sort(),
    );
  });

  it("one unsummarisable rule turns the filter off for its type only", () => {
    const on = filtersOf(["evt.type in (open, openat) and fd.name = /etc/shadow"]);
    expect(on.get("openat")?.map(clauseText)).toEqual(["leaf∈{shadow} ∧ dir∈{etc}"]);
    expect(on.get("open")?.map(clauseText)).toEqual(["leaf∈{shadow} ∧ dir∈{etc}"]);
    expect(on.has("openat2")).toBe(false);
    const off = filtersOf(["evt.type in (open, openat) and fd.name = /etc/shadow", "evt.type = openat and proc.name = cat"]);
    expect(off.get("openat")).toBeNull();
    expect(off.get("open")?.map(clauseText)).toEqual(["leaf∈{shadow} ∧ dir∈{etc}"]);
  });

  it("a rule without an event type constraint counts for every open type", () => {
    const f = filtersOf(["fd.name = /etc/shadow", "evt.type = openat and fd.filename = passwd"]);
    expect(f.get("openat")?.map(clauseText).sort()).toEqual(["leaf∈{passwd}", "leaf∈{shadow} ∧ dir∈{etc}"]);
    expect(f.get("openat2")?.map(clauseText)).toEqual(["leaf∈{shadow} ∧ dir∈{etc}"]);
  });

  it("the evt.type leaves of a multi-type rule are folded per type", () => {
    const f = filtersOf(["(evt.type = openat and fd.filename = a) or (evt.type = open and proc.name = cat)"]);
    expect(f.get("openat")?.map(clauseText)).toEqual(["leaf∈{a}"]);
    expect(f.get("open")).toBeNull();
  });

  it("control lines: names hex-encoded with the bits of the clauses that hold them; absent types off", () => {
    const f = filtersOf([
      "evt.type = openat and fd.name in (/etc/shadow, /etc/gshadow) and evt.is_open_read = true",
      "evt.type = openat and fd.filename = shadow and fd.num >= 0",
    ]);
    const lines = kernelFilterLines(f);
    const hex = (s: string) => Buffer.from(s).toString("hex");
    expect(lines).toContain(`filter-begin openat`);
    expect(lines).toContain(`fname openat 1 3 ${hex("shadow")}`);
    expect(lines).toContain(`fname openat 1 1 ${hex("gshadow")}`);
    expect(lines).toContain(`fname openat 2 1 ${hex("etc")}`);
    expect(lines.at(-1)).toBe("filter openat2 off");
    expect(lines).toContain("filter open off");
    const last = lines.filter((l) => l.startsWith("filter openat "));
    expect(last).toEqual(["filter openat 0,5,0,6 1,15,0,2"]);
    expect(kernelFilterLines(undefined)).toEqual([
      "filter-begin open",
      "filter open off",
      "filter-begin openat",
      "filter openat off",
      "filter-begin openat2",
      "filter openat2 off",
    ]);
  });
});

// ---------------------------------------------------------------- soundness sweep

/** A model of the probe's open_wanted(): what the kernel sees of an openat. */
interface KernelView {
  res: number;
  flags: number;
  raw: string;
  /** The opened file's path as the probe's walk names it (success only). */
  resolved: string | undefined;
}

function clausePasses(c: FilterClause, k: KernelView): boolean {
  if (c.res === 1 && k.res < 0) return false;
  if (c.res === 2 && k.res >= 0) return false;
  if ((c.acc & (1 << (k.flags & 3))) === 0) return false;
  if ((k.flags & c.flagsAll) !== c.flagsAll) return false;
  if (k.res >= 0 && k.resolved !== undefined) {
    const parts = k.resolved.split("/").filter((p) => p !== "");
    const leaf = parts.at(-1);
    const parent = parts.length >= 2 ? parts.at(-2) : undefined;
    if (c.leaf !== null && (leaf === undefined || !c.leaf.has(leaf))) return false;
    if (c.parent !== null && (parent === undefined || !c.parent.has(parent))) return false;
  }
  if (c.dotdot && !k.raw.includes("../")) return false;
  if (c.raw !== null && !c.raw.has(k.raw)) return false;
  if (c.rawTop !== null) {
    const m = /^\/([^/]+)\//.exec(k.raw);
    if (m === null || !c.rawTop.has(m[1] as string)) return false;
  }
  return true;
}

function kernelPasses(clauses: FilterClause[] | null | undefined, k: KernelView): boolean {
  if (clauses === null || clauses === undefined) return true;
  return clauses.some((c) => clausePasses(c, k));
}

const FILES = [
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/sudoers",
  "/etc/sudoers.d/extra",
  "/etc/pam.d/sshd",
  "/etc/pam.conf",
  "/etc/security/pwquality.conf",
  "/etc/hostname",
  "/etc/passwd",
  "/etc/ld.so.preload",
  "/etc/cron.d/job",
  "/etc/systemd/system/x.service",
  "/etc/ssh/ssh_host_rsa_key",
  "/var/log/syslog",
  "/var/log/app.log",
  "/var/log/nginx/access.log",
  "/dev/log/x",
  "/tmp/x",
  "/tmp/data.db",
  "/usr/bin/ls",
  "/proc/1/environ",
  "/proc/self/environ",
  "/proc/1/mem",
  "/proc/kcore",
  "/proc/1/root/etc/shadow",
  "/proc/sys/kernel/core_pattern",
  "/dev/mem",
  "/dev/shm/x",
  "/dev/evil",
  "/root/.ssh/id_rsa",
  "/root/.ssh/authorized_keys",
  "/home/u/.ssh/id_ed25519",
  "/home/u/.aws/credentials",
  "/home/u/.bash_history",
  "/home/u/.bashrc",
  "/root/.kube/config",
  "/sys/fs/cgroup/x/release_agent",
  "/var/run/secrets/kubernetes.io/serviceaccount/token",
  "/var/www/html/shell.php",
  "/var/lib/kubelet/pki/kubelet.key",
  "/lib/x86_64-linux-gnu/security/pam_unix.so",
];
const FLAGS = [O.RDONLY, O.WRONLY, O.RDWR, O.WRONLY | O.TRUNC, O.WRONLY | O.CREAT, O.RDWR | O.CREAT | O.TRUNC, O.WRONLY | O.APPEND];

function rawVariants(path: string): { raw: string; resolved: string }[] {
  const parts = path.split("/").filter((p) => p !== "");
  const out = [
    { raw: path, resolved: path },
    // a traversal that resolves to the same file
    { raw: `/${parts[0]}/../${parts[0]}/../${parts.join("/")}`, resolved: path },
    // relative to the cwd (/)
    { raw: parts.join("/"), resolved: path },
    // a symlink elsewhere pointing at the file
    { raw: "/tmp/innocent-link", resolved: path },
  ];
  return out;
}

function sweepEvents(): { e: SyscallEvent; k: KernelView }[] {
  const ctr = container({ id: "0123456789ab" });
  const procs = [
    proc({ comm: "cat", exe: "cat", exepath: "/usr/bin/cat", args: ["x"], parents: [{ comm: "node", exepath: "/usr/bin/node" }] }),
    proc({ comm: "python3", exe: "python3", exepath: "/usr/bin/python3", args: ["x"], parents: [{ comm: "bash", exepath: "/bin/bash" }], container: ctr }),
    proc({ comm: "nginx", exe: "nginx", exepath: "/usr/sbin/nginx", args: [], container: ctr, uid: 0, capEffective: (1n << 21n) | (1n << 1n), duration: 60e9 }),
    proc({ comm: "sh", exe: "sh", exepath: "/bin/sh", args: ["-c", "x"], parents: [{ comm: "sshd", exepath: "/usr/sbin/sshd" }], tty: 34816 }),
  ];
  const out: { e: SyscallEvent; k: KernelView }[] = [];
  for (const file of FILES)
    for (const v of rawVariants(file))
      for (const flags of FLAGS)
        for (const res of [3, -1, -2])
          for (const p of procs) {
            // what the agent's state builds: the kernel's path on success; the argument made absolute on failure
            const name = res >= 0 ? v.resolved : posix.resolve("/", v.raw);
            const e = ev({
              type: "openat",
              res,
              args: { dirfd: -100, name: v.raw, flags, mode: 0 },
              proc: p,
              fd: fileFd(name, { num: res, openFlags: flags }),
            });
            out.push({ e, k: { res, flags, raw: v.raw, resolved: res >= 0 ? v.resolved : undefined } });
          }
  return out;
}

function ruleFiles(withPacks: boolean): { path: string; text: string }[] {
  const files = [{ path: STABLE_RULES, text: readFileSync(STABLE_RULES, "utf8") }];
  if (withPacks) {
    files.push(...packFiles());
  }
  return files;
}

describe("push-down soundness: no event a rule matches is dropped", () => {
  for (const withPacks of [false, true]) {
    it(`Falco's stable rules${withPacks ? " + Vigil's packs" : ""}`, () => {
      const r = loadRuleFiles(ruleFiles(withPacks), { ruleMatching: "all" });
      const filters = deriveKernelFilters(r.ruleset.rules);
      const openat = filters.get("openat");
      let matched = 0;
      let dropped = 0;
      const missed: string[] = [];
      for (const { e, k } of sweepEvents()) {
        const hits: CompiledRule[] = [];
        r.ruleset.evaluate(e, (rule) => hits.push(rule));
        const pass = kernelPasses(openat, k);
        if (!pass) dropped++;
        if (hits.length === 0) continue;
        matched++;
        if (!pass)
          missed.push(
            `${hits.map((h) => h.name).join(",")}: raw=${k.raw} file=${k.resolved ?? "-"} flags=0${k.flags.toString(8)} res=${k.res} proc=${e.proc.comm}`,
          );
      }
      expect(missed).toEqual([]);
      // the sweep means something: rules fire on part of it, and (Falco alone) the filter drops a part
      expect(matched).toBeGreaterThan(50);
      if (!withPacks) expect(dropped).toBeGreaterThan(1000);
    });
  }
});
