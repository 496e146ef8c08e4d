// SPDX-License-Identifier: Apache-2.0
/**
 * Network behaviour over time (agent/behaviour/net.ts) and the rules of 42-net-behaviour.yaml on
 * it: connect windows (distinct ports/hosts, failures, sliding window, caps and eviction), network
 * server marks (listen, inheritance by fork, exit), scripts run by servers (argument and shebang,
 * written before/after the listen), bad options.
 */
import { describe, expect, it } from "vitest";
import {
  interpreterKind,
  NET_BEHAVIOUR_DEFAULTS,
  NetBehaviour,
  NetBehaviourConfigError,
  netBehaviourNeeds,
  netBehaviourOptions,
  scriptArg,
} from "../../agent/behaviour/net.js";
import { syscallsFor } from "../../agent/pipeline.js";
import { ConfigError, loadConfig } from "../../agent/config/index.js";
import type { SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { loadRuleFiles } from "../../rules/index.js";
import { packFiles } from "../helpers/packs.js";
import { container, ev, execve, proc, sockFd } from "../rules/event-builder.js";

const CTR = container({ id: "abcdef123456", fullId: "abcdef123456".padEnd(64, "0"), type: "containerd" });
const ECONNREFUSED = -111;
const EINPROGRESS = -115;

function connect(p: ThreadInfo, ip: string, port: number, res = 0, atSec = 0): SyscallEvent {
  const e = ev({
    type: "connect",
    res,
    args: { addr: { family: 2, sip: "", sport: 0, dip: ip, dport: port } },
    proc: p,
    fd: sockFd("10.0.0.2", 40000, ip, port),
  });
  e.bootNs = 10_000_000_000 + atSec * 1e9;
  e.sec = 1_795_867_200 + atSec;
  return e;
}

function listen(p: ThreadInfo, atSec: number): SyscallEvent {
  const e = ev({ type: "listen", res: 0, args: { fd: 3, backlog: 16 }, proc: p, fd: sockFd("0.0.0.0", 8080, "0.0.0.0", 0) });
  e.sec = 1_795_867_200 + atSec;
  e.nsec = 0;
  return e;
}

function fork(child: ThreadInfo): SyscallEvent {
  return ev({ type: "clone", res: 0, proc: child });
}

describe("connect windows", () => {
  it("count distinct ports and hosts per process and per container, refused and in-progress attempts included", () => {
    const nb = new NetBehaviour();
    const p = proc({ pid: 500, tid: 500, container: CTR });
    const views = [];
    for (let port = 20; port < 30; port++) {
      const e = connect(p, "10.0.0.9", port, port % 2 === 0 ? ECONNREFUSED : EINPROGRESS);
      nb.observe(e);
      views.push(e.net);
    }
    const last = views.at(-1)!;
    expect(last.procPorts).toBe(10);
    expect(last.procHosts).toBe(1);
    expect(last.procFailed).toBe(5); // EINPROGRESS is not a failure
    expect(last.ctrPorts).toBe(10);
    expect(last.newProcPort).toBe(true);
    expect(last.newProcHost).toBe(false);
    expect(last.destIp).toBe("10.0.0.9");
    expect(last.destPort).toBe(29);
    // a repeated destination is not new
    const again = connect(p, "10.0.0.9", 25);
    nb.observe(again);
    expect(again.net?.newProcPort).toBe(false);
    expect(again.net?.procPorts).toBe(10);
    // another process of the same container: its own window starts, the container's goes on
    const q = proc({ pid: 501, tid: 501, container: CTR });
    const other = connect(q, "10.0.0.9", 99, ECONNREFUSED);
    nb.observe(other);
    expect(other.net?.procPorts).toBe(1);
    expect(other.net?.ctrPorts).toBe(11);
    expect(other.net?.newCtrPort).toBe(true);
    expect(other.net?.ctrFailed).toBe(6);
  });

  it("forget destinations older than the window", () => {
    const nb = new NetBehaviour({ windowSec: 10 });
    const p = proc({ pid: 600, tid: 600 });
    for (let port = 1; port <= 5; port++) nb.observe(connect(p, "10.0.0.9", port, ECONNREFUSED, 0));
    const late = connect(p, "10.0.0.9", 6, 0, 11);
    nb.observe(late);
    expect(late.net?.procPorts).toBe(1);
    expect(late.net?.procFailed).toBe(0);
    expect(late.net?.ctrPorts).toBeUndefined(); // host process: no container window
  });

  it("keep at most maxTargets destinations per window and maxProcesses windows, counting evictions", () => {
    const nb = new NetBehaviour({ maxTargets: 8, maxProcesses: 2 });
    const p = proc({ pid: 700, tid: 700 });
    for (let port = 1; port <= 20; port++) nb.observe(connect(p, "10.0.0.9", port));
    const e = connect(p, "10.0.0.9", 21);
    nb.observe(e);
    expect(e.net?.procPorts).toBe(8);
    expect(nb.counters.evicted_targets).toBe(13);
    for (const pid of [701, 702, 703]) nb.observe(connect(proc({ pid, tid: pid }), "10.0.0.9", 80));
    expect(nb.stats()["processes"]).toBe(2);
    expect(nb.counters.evicted_processes).toBe(2);
  });

  it("drop a process's state when it exits", () => {
    const nb = new NetBehaviour();
    const p = proc({ pid: 800, tid: 800 });
    nb.observe(connect(p, "10.0.0.9", 1));
    expect(nb.stats()["processes"]).toBe(1);
    nb.observe(ev({ type: "procexit", proc: p }));
    expect(nb.stats()["processes"]).toBe(0);
  });

  it("ignore connects without an IP destination (unix sockets)", () => {
    const nb = new NetBehaviour();
    const e = ev({ type: "connect", res: 0, args: { addr: { family: 1, sip: "", sport: 0, dip: "/run/x.sock", dport: 0 } }, proc: proc() });
    nb.observe(e);
    expect(e.net).toBeUndefined();
    expect(nb.counters.connects).toBe(0);
  });

  it("take their caps from the net_behaviour section of the configuration, with defaults", () => {
    expect(netBehaviourOptions(loadConfig({ env: {} }).net_behaviour)).toEqual(NET_BEHAVIOUR_DEFAULTS);
    const c = loadConfig({ text: "net_behaviour:\n  window_seconds: 30\n  max_targets: 64\n", env: {} });
    const nb = new NetBehaviour(netBehaviourOptions(c.net_behaviour));
    expect(nb.opts.windowSec).toBe(30);
    expect(nb.opts.maxTargets).toBe(64);
    expect(nb.opts.maxProcesses).toBe(4096);
    expect(() => loadConfig({ text: "net_behaviour:\n  max_targets: 0\n", env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ text: "net_behaviour:\n  max_target: 10\n", env: {} })).toThrow(/net_behaviour/);
  });

  it("reject bad options with a clear error", () => {
    expect(() => new NetBehaviour({ windowSec: 0 })).toThrow(NetBehaviourConfigError);
    expect(() => new NetBehaviour({ maxTargets: 1.5 })).toThrow(/max_targets must be a positive integer/);
  });
});

describe("interpreters and their scripts", () => {
  it.each([
    ["/bin/sh", ["/www/cgi-bin/status"], "/www/cgi-bin/status"],
    ["bash", ["-x", "run.sh", "arg"], "run.sh"],
    ["/usr/bin/python3.11", ["-u", "/srv/app.py"], "/srv/app.py"],
    ["perl", ["-e", "print 1"], undefined],
    ["sh", ["-c", "id"], undefined],
    ["awk", ["-f", "/tmp/x.awk", "/etc/passwd"], "/tmp/x.awk"],
    ["awk", ["{print}", "/etc/passwd"], undefined],
    ["php8.2", ["/var/www/x.php"], "/var/www/x.php"],
    ["cat", ["/etc/passwd"], undefined],
  ] as const)("%s %j runs %s", (argv0, args, want) => {
    expect(scriptArg(argv0, args)).toBe(want);
  });

  it("classify interpreter names", () => {
    expect(interpreterKind("-bash")).toBe("shell");
    expect(interpreterKind("python3")).toBe("other");
    expect(interpreterKind("pythonic")).toBeUndefined();
    expect(interpreterKind("nodejs")).toBe("other");
  });
});

describe("network servers running scripts", () => {
  const LISTEN_AT = 100; // s after the base time
  const base = 1_795_867_200_000;
  const setup = (ctimeMs: number | undefined) => {
    const stats: string[] = [];
    const nb = new NetBehaviour({}, (root, path) => {
      stats.push(root + path);
      return ctimeMs;
    });
    const server = proc({ pid: 900, tid: 900, comm: "httpd", exe: "httpd", container: CTR });
    nb.observe(listen(server, LISTEN_AT));
    // the daemon forks a child per request; the child execs the CGI through its shebang
    const child = proc({
      pid: 901,
      tid: 901,
      ppid: 900,
      comm: "status",
      exe: "/bin/sh",
      exepath: "/bin/busybox",
      args: ["/www/cgi-bin/status"],
      cwd: "/www/cgi-bin",
      container: CTR,
    });
    nb.observe(fork(child));
    const e = execve(child);
    e.sec = 1_795_867_200 + LISTEN_AT + 30;
    e.nsec = 0;
    nb.observe(e);
    return { nb, e, stats };
  };

  it("mark a script written after the listen, with its age, read in the process's root", () => {
    const { e, stats, nb } = setup(base + (LISTEN_AT + 10) * 1000);
    expect(e.net?.netServer).toBe(true);
    expect(e.net?.script).toBe("/www/cgi-bin/status");
    expect(e.net?.scriptAfterListen).toBe(true);
    expect(e.net?.scriptAgeSec).toBe(20);
    expect(stats[0]).toBe("/proc/901/root/www/cgi-bin/status");
    expect(nb.counters.servers_inherited).toBe(1);
  });

  it("a script in place before the server listened is not fresh", () => {
    const { e } = setup(base + (LISTEN_AT - 50) * 1000);
    expect(e.net?.scriptAfterListen).toBe(false);
  });

  it("an unreadable script is counted and left missing", () => {
    const { e, nb, stats } = setup(undefined);
    expect(e.net?.scriptAfterListen).toBeUndefined();
    // the process, then its ancestors in the container (none linked here), then the listener
    expect(stats).toEqual(["/proc/901/root/www/cgi-bin/status", "/proc/900/root/www/cgi-bin/status"]);
    expect(nb.counters.scripts_unreadable).toBe(1);
  });

  it("a daemonized server whose listener exited is marked by its accept, from its start", () => {
    const nb = new NetBehaviour({}, () => base + 150_000);
    const daemon = proc({ pid: 920, tid: 920, comm: "httpd", container: CTR });
    daemon.startTs = 5_000_000_000; // boot ns: 5 s before the event's boot time (10 s)
    const acc = ev({ type: "accept4", res: 4, proc: daemon, fd: sockFd("127.0.0.1", 50000, "127.0.0.1", 18081, { isServer: true }) });
    acc.sec = 1_795_867_200 + 200;
    acc.nsec = 0;
    nb.observe(acc);
    expect(nb.counters.accept_marks).toBe(1);
    const cgi = proc({ pid: 921, tid: 921, ppid: 920, comm: "x", exe: "/bin/sh", args: ["x.cgi"], cwd: "/www/cgi-bin/", container: CTR });
    nb.observe(fork(cgi));
    const e = execve(cgi);
    e.sec = 1_795_867_200 + 200;
    nb.observe(e);
    expect(e.net?.script).toBe("/www/cgi-bin/x.cgi");
    // the daemon started at 195 s: a script changed at 150 s was there before
    expect(e.net?.scriptAfterListen).toBe(false);
  });

  it("processes that are not servers cost no stat", () => {
    let n = 0;
    const nb = new NetBehaviour({}, () => {
      n++;
      return 0;
    });
    const p = proc({ pid: 950, tid: 950, exe: "/bin/sh", args: ["/tmp/x.sh"] });
    const e = execve(p);
    nb.observe(e);
    expect(e.net).toBeUndefined();
    expect(n).toBe(0);
  });

  it("a listen on a unix socket does not make a server; an exit removes the mark; marks are capped", () => {
    const nb = new NetBehaviour({ maxServers: 1 });
    const u = proc({ pid: 960, tid: 960 });
    const e = ev({ type: "listen", res: 0, args: { fd: 3, backlog: 1 }, proc: u, fd: { ...sockFd("0.0.0.0", 1, "0.0.0.0", 0), typechar: "u", type: "unix" } });
    nb.observe(e);
    expect(nb.stats()["servers"]).toBe(0);
    nb.observe(listen(proc({ pid: 961, tid: 961 }), 1));
    nb.observe(listen(proc({ pid: 962, tid: 962 }), 1));
    expect(nb.stats()["servers"]).toBe(1);
    expect(nb.counters.evicted_servers).toBe(1);
    nb.observe(ev({ type: "procexit", proc: proc({ pid: 962, tid: 962 }) }));
    expect(nb.stats()["servers"]).toBe(0);
  });
});

describe("42-net-behaviour.yaml on the state", () => {
  const rs = loadRuleFiles(packFiles(), {}).ruleset;

  it("listen and accepts are asked of the kernel only while a rule reads a server field", () => {
    expect(netBehaviourNeeds(rs.rules)).toEqual(["listen", "accept", "accept4"]);
    expect(syscallsFor(rs)).toEqual(expect.arrayContaining(["listen", "accept", "accept4", "connect"]));
    const only = loadRuleFiles(
      [{ path: "x.yaml", text: "- rule: R\n  desc: d\n  condition: evt.type = connect and vigil.net.distinct_ports > 5\n  output: o\n  priority: WARNING\n" }],
      {},
    ).ruleset;
    expect(netBehaviourNeeds(only.rules)).toEqual([]);
    expect(syscallsFor(only)).not.toContain("listen");
  });
  const fired = (nb: NetBehaviour, e: SyscallEvent): string[] => {
    nb.observe(e);
    const out: string[] = [];
    rs.evaluate(e, (r) => out.push(r.name));
    return out;
  };
  const SCAN = "Network Scan Seen Over Time";

  it("a connect scan fires once, when the 20th distinct port is tried", () => {
    const nb = new NetBehaviour();
    const p = proc({ pid: 1000, tid: 1000, comm: "scanner", container: CTR });
    const hits: number[] = [];
    for (let port = 1; port <= 40; port++) if (fired(nb, connect(p, "10.0.0.9", port, ECONNREFUSED)).includes(SCAN)) hits.push(port);
    expect(hits).toEqual([20]);
  });

  it("a loop of short processes (nc -z) fires on the container's window", () => {
    const nb = new NetBehaviour();
    const hits: number[] = [];
    for (let port = 1; port <= 30; port++) {
      const p = proc({ pid: 2000 + port, tid: 2000 + port, comm: "nc", container: CTR });
      if (fired(nb, connect(p, "10.0.0.9", port, ECONNREFUSED)).includes(SCAN)) hits.push(port);
    }
    expect(hits).toEqual([20]);
  });

  it("a host sweep fires; health checks of a few ports and a client of many healthy hosts do not", () => {
    const nb = new NetBehaviour();
    const p = proc({ pid: 3000, tid: 3000, comm: "sh", container: CTR });
    const hits: number[] = [];
    for (let h = 1; h <= 30; h++) if (fired(nb, connect(p, `10.1.0.${h}`, 22, -110)).includes(SCAN)) hits.push(h);
    expect(hits).toEqual([20]);
    const nb2 = new NetBehaviour();
    const hc = proc({ pid: 3001, tid: 3001, comm: "wget", container: CTR });
    for (let i = 0; i < 50; i++) for (const port of [8080, 8443, 9090]) expect(fired(nb2, connect(hc, "10.0.0.9", port, i % 2 ? 0 : ECONNREFUSED))).toEqual([]);
    const client = proc({ pid: 3002, tid: 3002, comm: "app", container: container({ id: "0123456789ab", type: "containerd" }) });
    for (let h = 1; h <= 40; h++) expect(fired(nb2, connect(client, `10.2.0.${h}`, 5432, EINPROGRESS))).toEqual([]);
  });

  it("a pool port on loopback fires, refused or not; other loopback ports and pool ports elsewhere do not fire it", () => {
    const nb = new NetBehaviour();
    const p = proc({ pid: 4000, tid: 4000, comm: "kworker", container: CTR });
    expect(fired(nb, connect(p, "127.0.0.1", 3333, 0))).toContain("Mining Pool Port Contacted On Loopback");
    expect(fired(nb, connect(p, "127.0.0.1", 14444, ECONNREFUSED))).toContain("Mining Pool Port Contacted On Loopback");
    expect(fired(nb, connect(p, "127.0.0.1", 8080, 0))).not.toContain("Mining Pool Port Contacted On Loopback");
    expect(fired(nb, connect(p, "10.0.0.9", 3333, 0))).not.toContain("Mining Pool Port Contacted On Loopback");
  });

  it("a server's CGI written after the listen fires; one written before does not", () => {
    const run = (ctimeMs: number): string[] => {
      const nb = new NetBehaviour({}, () => ctimeMs);
      const server = proc({ pid: 5000, tid: 5000, comm: "httpd", exe: "httpd", container: CTR });
      nb.observe(listen(server, 100));
      const cgi = proc({
        pid: 5001,
        tid: 5001,
        ppid: 5000,
        comm: "status",
        exe: "/bin/sh",
        exepath: "/bin/busybox",
        args: ["/www/cgi-bin/status"],
        container: CTR,
        parents: [{ pid: 5000, comm: "httpd" }],
      });
      nb.observe(fork(cgi));
      const e = execve(cgi);
      e.sec = 1_795_867_200 + 200;
      return fired(nb, e);
    };
    expect(run(1_795_867_200_000 + 150_000)).toContain("Server Ran Freshly Written Script");
    expect(run(1_795_867_200_000 + 50_000)).not.toContain("Server Ran Freshly Written Script");
  });
});
