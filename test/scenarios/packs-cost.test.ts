// SPDX-License-Identifier: Apache-2.0
/**
 * What the Vigil packs cost on the event path: events/s of the base + drift + FIM + TTP rule set
 * over a realistic no-alert mix (library and config opens, log writes, execs of ordinary tools,
 * connects, closes, dups), next to the base file alone, and the allocation on that path. Prints the
 * figures; fails only on a gross regression (a floor far below the measured rate).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { loadRuleFiles, type RuleSet } from "../../rules/index.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { BASE_PACK, packNames } from "../helpers/packs.js";
import { container, ev, execve, fileFd, O, openat, proc, sockFd } from "../rules/event-builder.js";

const load = (names: string[]): RuleSet => {
  const r = loadRuleFiles(names.map((n) => ({ path: n, text: readFileSync(join(REPO_ROOT, "rules", "files", n), "utf8") })));
  if (!r.ok) throw new Error("packs failed to load");
  return r.ruleset;
};

let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;

function mix(n: number): SyscallEvent[] {
  const init = proc({ comm: "systemd", pid: 1 });
  const ctrs = Array.from({ length: 8 }, (_, i) =>
    container({ id: `c${String(i).padStart(11, "0")}`, imageRepository: `registry.local/app-${i}`, k8s: { namespace: "prod" } }),
  );
  const procs: ThreadInfo[] = [];
  for (const c of [undefined, ...ctrs]) {
    for (const comm of ["nginx", "node", "python3", "java", "postgres", "sh"]) {
      const p = proc({ comm, exepath: `/usr/bin/${comm}`, args: ["serve"], ...(c ? { container: c } : {}) });
      p.parent = init;
      procs.push(p);
    }
  }
  const reads = [
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/etc/ld.so.cache",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/passwd",
    "/srv/www/index.html",
    "/proc/self/status",
  ];
  const writes = ["/var/lib/app/data.db", "/tmp/out.txt", "/var/log/app/app.log", "/srv/uploads/x.png"];
  const out: SyscallEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const p = pick(procs);
    if (r < 0.45) out.push(openat(pick(reads), O.RDONLY | O.CLOEXEC, p));
    else if (r < 0.55) out.push(openat(pick(writes), O.WRONLY | O.CREAT | O.APPEND, p));
    else if (r < 0.72) {
      const child = proc({
        comm: pick(["ls", "cat", "date", "grep", "awk", "sed", "gzip"]),
        args: ["-l", "/srv"],
        container: p.container,
        exepath: "/usr/bin/ls",
      });
      child.parent = p;
      out.push(execve(child));
    } else if (r < 0.8)
      out.push(
        ev({
          type: "connect",
          res: 0,
          proc: p.comm === "sh" ? (procs[0] as ThreadInfo) : p,
          fd: sockFd("10.1.0.5", 40000, pick(["10.1.3.4", "172.16.5.5"]), pick([53, 443, 5432])),
        }),
      );
    else if (r < 0.92) out.push(ev({ type: "close", res: 0, args: { fd: 5 }, proc: p, fd: fileFd("/tmp/x") }));
    else if (r < 0.96) out.push(ev({ type: "dup2", res: 7, args: { oldfd: 3, newfd: 7 }, proc: p, fd: fileFd("/tmp/x") }));
    else out.push(ev({ type: "socket", res: 5, args: { domain: 2, type: 1, proto: 0 }, proc: p }));
  }
  return out;
}

function rate(rs: RuleSet, events: readonly SyscallEvent[]): { perSec: number; matches: number } {
  let matches = 0;
  const on = () => void matches++;
  for (let w = 0; w < 10; w++) for (const e of events) rs.evaluate(e, on);
  matches = 0;
  const best: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 20; k++) for (const e of events) rs.evaluate(e, on);
    best.push(Number(process.hrtime.bigint() - t0));
  }
  return { perSec: (20 * events.length * 1e9) / Math.min(...best), matches: matches / 5 / 20 };
}

describe("cost of the Vigil packs on the event path", () => {
  it("evaluates a realistic no-alert mix fast and raises nothing on it", () => {
    const events = mix(10_000);
    const base = rate(load([BASE_PACK]), events);
    const names = packNames();
    const allRules = load(names);
    const all = rate(allRules, events);
    process.stdout.write(
      `packs cost: base only ${Math.round(base.perSec).toLocaleString("en")} ev/s; all ${names.length} packs (${names.join(", ")}; ${allRules.rules.length} rules) ${Math.round(all.perSec).toLocaleString("en")} ev/s = ${(1e9 / all.perSec).toFixed(0)} ns/event\n`,
    );
    expect(all.matches).toBe(0);
    // a floor for gross regressions only: the machine may be shared with other test runs
    expect(all.perSec).toBeGreaterThan(50_000);
  }, 120_000);
});
