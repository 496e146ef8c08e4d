// SPDX-License-Identifier: Apache-2.0
/**
 * Socket filters (issue 19, Stratum over write/writev): rule conditions → whether every rule of
 * write / writev needs a socket fd, which the probe then keeps alone (`write:sock`); the `syscalls`
 * line the source sends; the built-in packs (45-mining.yaml asks for sockets only); and the rule
 * "Stratum Mining Protocol Written To Socket" against events shaped as the probe makes them
 * (writev: the first iovec's buffer as evt.arg.data).
 */
import { describe, expect, it } from "vitest";
import { probeSyscalls } from "../../agent/sources/ebpf-source.js";
import { eventByName } from "../../rules/event-table.js";
import { deriveJsonOnly, deriveSocketOnly, needsSocket } from "../../rules/compile/socket-filter.js";
import { loadRuleFiles, parseCondition } from "../../rules/index.js";
import { packFiles } from "../helpers/packs.js";
import { container, ev, fileFd, proc, sockFd } from "./event-builder.js";

function rulesYaml(conds: string[]): string {
  return conds.map((c, i) => `- rule: r${i}\n  desc: d\n  condition: ${c}\n  output: o\n  priority: WARNING\n`).join("\n");
}

function sockOnly(conds: string[]): string[] {
  const r = loadRuleFiles([{ path: "t.yaml", text: rulesYaml(conds) }]);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return [...deriveSocketOnly(r.ruleset.rules)].sort();
}

const CASES: [string, boolean][] = [
  ["fd.type = ipv4", true],
  ["fd.type in (ipv4, ipv6)", true],
  ["fd.type in (ipv4, unix, netlink)", true],
  ["fd.type in (ipv4, file)", false],
  ["fd.type != file", false],
  ["not fd.type = ipv4", false],
  ["fd.typechar = 4", true],
  ["fd.typechar in (4, 6)", true],
  ["fd.typechar in (4, f)", false],
  ["fd.l4proto = tcp", true],
  ["fd.l4proto != tcp", false],
  ["fd.sockfamily = ip", true],
  ["fd.connected = true", true],
  ["fd.connected = false", false],
  ["fd.rport = 3333", true],
  ["fd.sip in (10.0.0.1)", true],
  ["fd.name contains 3333", false],
  ["proc.name = sh", false],
  // connectives
  ["fd.type = ipv4 and proc.name = sh", true],
  ["fd.type = ipv4 or proc.name = sh", false],
  ["fd.type = ipv4 or fd.l4proto = tcp", true],
  ["not (fd.type != ipv4 or proc.name = sh)", false],
  ["not (not fd.type = ipv4 or proc.name = sh)", true],
];

describe("needsSocket", () => {
  it.each(CASES)("%s → %s", (cond, want) => {
    expect(needsSocket(parseCondition(cond), false)).toBe(want);
  });
});

describe("deriveSocketOnly", () => {
  it("asks sockets only of a type every rule of which needs one", () => {
    expect(sockOnly(["evt.type in (write, writev) and fd.type = ipv4"])).toEqual(["write", "writev"]);
    expect(sockOnly(["evt.type = write and fd.l4proto = tcp", "evt.type = writev and fd.typechar = 6"])).toEqual(["write", "writev"]);
  });
  it("leaves a type whole when one of its rules does not need a socket", () => {
    expect(sockOnly(["evt.type in (write, writev) and fd.type = ipv4", 'evt.type = write and fd.name startswith "/etc/"'])).toEqual(["writev"]);
    expect(sockOnly(["evt.type in (write, writev) and (fd.type = ipv4 or proc.name = sh)"])).toEqual([]);
  });
  it("asks nothing of types no rule matches, nor of types outside write and writev", () => {
    expect(sockOnly(["evt.type = sendto and fd.type = ipv4"])).toEqual([]);
    expect(sockOnly(["evt.type = pwrite64 and fd.type = ipv4"])).toEqual([]);
  });
  it("a rule without an evt.type constraint does not widen write (explicit-only), but one naming it does", () => {
    expect(sockOnly(["evt.type = write and fd.type = ipv4", "proc.name = sh and evt.type = execve"])).toEqual(["write"]);
  });
  it("is in the probe's syscalls line as name:sock", () => {
    const m = new Map<string, "ok" | "fail" | "sock">([
      ["write", "sock"],
      ["writev", "sock"],
      ["mount", "fail"],
    ]);
    expect(probeSyscalls(["write", "writev", "mount", "read"], [], m)).toEqual(["mount:fail", "read", "write:sock", "writev:sock"]);
  });
  it("the built-in packs ask write and writev for sockets only", () => {
    const r = loadRuleFiles(packFiles(), {});
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const sock = deriveSocketOnly(r.ruleset.rules);
    expect([...sock].sort()).toEqual(["write", "writev"]);
    // and only JSON data (the rule's `evt.arg.data startswith "{"`): write:sockjson
    expect([...deriveJsonOnly(r.ruleset.rules, sock)].sort()).toEqual(["write", "writev"]);
  });

  it("asks for JSON data only when every rule of the type starts its data with '{'", () => {
    const json = (conds: string[]) => {
      const r = loadRuleFiles([{ path: "j.yaml", text: rulesYaml(conds) }], {});
      return [...deriveJsonOnly(r.ruleset.rules, new Set(["write", "writev"]))].sort();
    };
    expect(json(['evt.type = write and fd.type = ipv4 and evt.arg.data startswith "{"'])).toEqual(["write"]);
    expect(json(['evt.type = write and evt.buffer startswith "{\\"id\\""'])).toEqual(["write"]);
    // another rule of the type without it, a negation, an `or`, a prefix not starting with '{'
    expect(json(['evt.type = write and evt.arg.data startswith "{"', "evt.type = write and fd.type = ipv4"])).toEqual([]);
    expect(json(['evt.type = write and not evt.arg.data startswith "{"'])).toEqual([]);
    expect(json(['evt.type = write and (evt.arg.data startswith "{" or fd.type = ipv4)'])).toEqual([]);
    expect(json(['evt.type = write and evt.arg.data startswith "["'])).toEqual([]);
    expect(json(['evt.type = write and evt.arg.data contains "{"'])).toEqual([]);
  });
});

describe("event table: writev carries its first buffer", () => {
  it("has data after fd, read from the iovec array at argument 1", () => {
    const e = eventByName("writev")!;
    expect(e.params.map((q) => q.name)).toEqual(["res", "fd", "data"]);
    expect(e.params[2]).toMatchObject({ kind: "bytes", arg: 1, iov: true });
  });
});

describe("Stratum Mining Protocol Written To Socket", () => {
  const R = "Stratum Mining Protocol Written To Socket";
  const rs = (() => {
    const r = loadRuleFiles(packFiles(), {});
    return r.ruleset;
  })();
  const miner = proc({ comm: "xmrig", exe: "xmrig", exepath: "/tmp/xmrig", cwd: "/tmp", container: container() });
  const enc = (s: string) => new TextEncoder().encode(s);
  function fired(type: string, text: string, fd = sockFd("10.0.0.5", 40000, "10.0.0.9", 3333)): string[] {
    const out: string[] = [];
    const data = enc(text);
    rs.evaluate(ev({ type, args: type === "write" ? { data, fd: fd.num, size: data.length } : { fd: fd.num, data }, res: data.length, proc: miner, fd }), (r) =>
      out.push(r.name),
    );
    return out;
  }
  const SUBSCRIBE = '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5.1"]}\n';
  const LOGIN =
    '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A","pass":"x","agent":"XMRig/6.21.0"}}\n';
  it.each([
    ["write", SUBSCRIBE],
    ["writev", SUBSCRIBE],
    ["write", LOGIN],
    ["writev", LOGIN],
    ["write", '{"id":2,"method":"mining.authorize","params":["w","x"]}'],
    ["write", '{"id":4,"method":"mining.submit","params":[]}'],
  ])("fires for %s of %s on a TCP socket", (type, text) => {
    expect(fired(type, text)).toContain(R);
  });
  it("fires on a loopback pool port too (a local proxy)", () => {
    expect(fired("write", SUBSCRIBE, sockFd("127.0.0.1", 40000, "127.0.0.1", 3333))).toContain(R);
  });
  it("is silent for the same text written to a file, and for other JSON-RPC logins", () => {
    expect(fired("write", SUBSCRIBE, fileFd("/tmp/notes.txt", { num: 3 }))).not.toContain(R);
    expect(fired("write", '{"id":1,"method":"login","params":["user","secret"]}')).not.toContain(R);
    expect(fired("write", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).not.toContain(R);
  });
  it("is silent on a UDP socket (Stratum is TCP)", () => {
    expect(fired("write", SUBSCRIBE, sockFd("10.0.0.5", 40000, "10.0.0.9", 3333, { l4proto: "udp" }))).not.toContain(R);
  });
});
