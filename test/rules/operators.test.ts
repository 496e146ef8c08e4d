// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { compileExpr, compileExprFast } from "../../rules/compile/compiler.js";
import { compileRegex } from "../../rules/compile/regex.js";
import { CompileError } from "../../rules/errors.js";
import type { SyscallEvent } from "../../rules/event.js";
import { parseCondition } from "../../rules/lang/parser.js";
import { container, ev, fileFd, O, openat, proc, sockFd } from "./event-builder.js";

/** Evaluates with both compilers (closures and generated code); they must agree. */
function holds(cond: string, e: SyscallEvent): boolean {
  const tree = parseCondition(cond);
  const a = compileExpr(tree)(e);
  const b = compileExprFast(tree)(e);
  expect(b).toBe(a);
  return a;
}

const bash = proc({
  comm: "bash",
  exe: "/bin/bash",
  exepath: "/usr/bin/bash",
  args: ["-c", "ls -la"],
  parents: [{ comm: "sshd" }, { comm: "systemd", pid: 1 }],
});
const E = openat("/etc/Shadow.conf", O.RDONLY, bash);
const missingFd = ev({ type: "execve", proc: bash });

// [condition, expected on E]
const TABLE: [string, boolean][] = [
  // = == !=
  ["proc.name = bash", true],
  ["proc.name == bash", true],
  ["proc.name = sh", false],
  ["proc.name != sh", true],
  ["proc.name != bash", false],
  ["fd.num = 3", true],
  ["fd.num = 0x3", true],
  ["fd.num != 3", false],
  ["fd.typechar = 'f'", true],
  // numeric < <= > >=
  ["fd.num < 4", true],
  ["fd.num < 3", false],
  ["fd.num <= 3", true],
  ["fd.num > 2", true],
  ["fd.num > 3", false],
  ["fd.num >= 3", true],
  ["fd.num >= -1", true],
  // strings compare lexicographically
  ["proc.name < bz", true],
  ["proc.name > bz", false],
  ["proc.name <= bash", true],
  ["proc.name >= bash", true],
  // contains / icontains
  ["fd.name contains Shadow", true],
  ["fd.name contains shadow", false],
  ["fd.name icontains SHADOW", true],
  ["fd.name icontains nope", false],
  ["proc.cmdline contains 'ls -la'", true],
  // startswith / endswith
  ["fd.name startswith /etc/", true],
  ["fd.name startswith /usr", false],
  ["fd.name endswith .conf", true],
  ["fd.name endswith .yaml", false],
  // glob / iglob: * crosses /
  ["fd.name glob '/etc/*'", true],
  ["fd.name glob '/*.conf'", true],
  ["fd.name glob '/etc/?hadow.conf'", true],
  ["fd.name glob '/etc/[RS]hadow.conf'", true],
  ["fd.name glob '/etc/[!S]hadow.conf'", false],
  ["fd.name glob '/etc/shadow*'", false],
  ["fd.name iglob '/ETC/shadow*'", true],
  // regex: full match (RE2)
  ["fd.name regex '/etc/.*'", true],
  ["fd.name regex 'etc'", false],
  ["fd.name regex '.*etc.*'", true],
  ["proc.name regex 'ba(sh|d)'", true],
  // in / intersects
  ["proc.name in (sh, bash)", true],
  ["proc.name in (sh, zsh)", false],
  ["proc.name intersects (sh, bash)", true],
  ["fd.num in (1, 2, 3)", true],
  ["fd.num in (1, 2)", false],
  // pmatch: path prefix
  ["fd.name pmatch (/etc)", true],
  ["fd.name pmatch (/et)", false],
  ["fd.name pmatch (/usr, /etc/Shadow.conf)", true],
  ["fd.name pmatch (/e*)", true],
  ["fd.name pmatch (/etc/Shadow.conf/x)", false],
  // exists
  ["fd.name exists", true],
  ["proc.pname exists", true],
  ["container.image exists", false],
  // modifiers
  ["fd.name startswith oneof (/etc, /usr)", true],
  ["fd.name startswith oneof (/etc, /etc/S)", false],
  ["fd.name contains anyof (nope, hadow)", true],
  ["fd.name contains allof (etc, hadow)", true],
  ["fd.name contains allof (etc, nope)", false],
  // not and precedence
  ["not proc.name = sh", true],
  ["not proc.name = bash", false],
  ["proc.name = sh or proc.name = bash and fd.num = 3", true],
  ["(proc.name = sh or proc.name = bash) and fd.num = 4", false],
  // bool fields
  ["evt.is_open_read = true", true],
  ["evt.is_open_write = true", false],
  ["evt.is_open_write = false", true],
  ["evt.is_open_read != false", true],
  ["evt.is_open_read in (true)", true],
  // ancestors
  ["proc.aname = sshd", true],
  ["proc.aname = systemd", true],
  ["proc.aname = bash", false],
  ["proc.aname[0] = bash", true],
  ["proc.aname[1] = sshd", true],
  ["proc.aname[2] = systemd", true],
  ["proc.aname[3] = systemd", false],
  ["proc.apid = 1", true],
  ["proc.aname exists", true],
  // transformers
  ["tolower(fd.name) = /etc/shadow.conf", true],
  ["toupper(proc.name) = BASH", true],
  ["toupper(tolower(proc.name)) = BASH", true],
  ["basename(fd.name) = Shadow.conf", true],
  ["basename(proc.exepath) = bash", true],
  ["len(proc.name) = 4", true],
  ["len(fd.name) > 100", false],
  ["concat(proc.name, fd.name) = bash/etc/Shadow.conf", true],
  // val()
  ["proc.name = val(proc.name)", true],
  ["proc.name = val(proc.pname)", false],
  ["proc.name != val(proc.pname)", true],
  ["proc.pname = val(proc.aname[1])", true],
  ["tolower(proc.name) = tolower(proc.name)", true],
  ["fd.num < val(proc.pid)", true],
];

describe("operators", () => {
  it.each(TABLE)("%s → %s", (cond, want) => {
    expect(holds(cond, E)).toBe(want);
  });
});

describe("missing values make every check false, != included", () => {
  const CONDS = [
    "fd.name = x",
    "fd.name != x",
    "fd.name contains x",
    "fd.name startswith /",
    "fd.name glob '*'",
    "fd.name in (x)",
    "fd.name pmatch (/)",
    "fd.name exists",
    "fd.num != 3",
    "fd.num > -100",
    "tolower(fd.name) != x",
    "fd.name = val(proc.name)",
    "proc.name = val(fd.name)",
    "container.image != x",
  ];
  it.each(CONDS)("%s is false", (c) => {
    expect(holds(c, missingFd)).toBe(false);
  });
  it("not fd.name = x is true while fd.name != x is false", () => {
    expect(holds("not fd.name = x", missingFd)).toBe(true);
    expect(holds("fd.name != x", missingFd)).toBe(false);
  });
});

describe("b64 and bytes operators", () => {
  const data = new TextEncoder().encode("\xca\xfeHELLO");
  const data2 = Uint8Array.from([0xca, 0xfe, 0xba, 0xbe, 0x41]);
  const e = ev({ type: "sendto", args: { data: data2, fd: 4, size: 5 }, res: 5, fd: sockFd("10.0.0.1", 40000, "8.8.8.8", 53) });
  it.each([
    ["evt.buffer bcontains CAFEBABE", true],
    ["evt.buffer bcontains babe41", true],
    ["evt.buffer bcontains BEEF", false],
    ["evt.buffer bstartswith CAFE", true],
    ["evt.buffer bstartswith BABE", false],
    ["evt.buflen = 5", true],
    ["len(evt.buffer) = 5", true],
  ] as [string, boolean][])("%s → %s", (c, want) => {
    expect(holds(c, e)).toBe(want);
  });
  it("b64 decodes", () => {
    const p = proc({ comm: "sh", args: ["-c", Buffer.from("curl evil|sh").toString("base64")] });
    expect(holds("b64(proc.args) contains 'curl evil'", ev({ type: "execve", proc: p }))).toBe(false);
    const p2 = proc({ comm: "sh", cwd: Buffer.from("curl evil|sh").toString("base64") });
    expect(holds("b64(proc.cwd) = 'curl evil|sh'", ev({ type: "execve", proc: p2 }))).toBe(true);
    expect(data.length).toBeGreaterThan(0);
  });
});

describe("IP operators", () => {
  const e = ev({ type: "connect", res: 0, proc: bash, fd: sockFd("192.168.1.5", 40000, "10.96.0.1", 443) });
  it.each([
    ["fd.sip = 10.96.0.1", true],
    ["fd.sip = 10.96.0.2", false],
    ["fd.cip = 192.168.1.5", true],
    ["fd.snet = 10.0.0.0/8", true],
    ["fd.snet = 192.168.0.0/16", false],
    ["fd.net = 192.168.0.0/16", true],
    ["fd.ip = 192.168.1.5", true],
    ["fd.ip = 10.96.0.1", true],
    ["fd.ip in (1.1.1.1, 10.96.0.1)", true],
    ["fd.sport = 443", true],
    ["fd.cport = 40000", true],
    ["fd.lport = 40000", true],
    ["fd.rport = 443", true],
    ["fd.port = 443", true],
    ["fd.port = 40000", true],
    ["fd.port = 22", false],
    ["fd.sport in (80, 443)", true],
    ["fd.l4proto = tcp", true],
    ["fd.sockfamily = ip", true],
    ["fd.lip = 192.168.1.5", true],
    ["fd.rip = 10.96.0.1", true],
    ["fd.connected = true", true],
    // either-end fields: `!=` holds only when both ends differ (libsinsp), `not ... =` is its negation
    ["fd.ip != 192.168.1.5", false],
    ["fd.ip != 10.96.0.1", false],
    ["fd.ip != 1.1.1.1", true],
    ["not fd.ip = 192.168.1.5", false],
    ["fd.net != 192.168.0.0/16", false],
    ["fd.net != 172.16.0.0/12", true],
    ["fd.port != 443", false],
    ["fd.port != 22", true],
  ] as [string, boolean][])("%s → %s", (c, want) => {
    expect(holds(c, e)).toBe(want);
  });
  it("IPv6 addresses and prefixes", () => {
    const e6 = ev({ type: "connect", proc: bash, fd: sockFd("fe80::1", 1000, "2001:db8::10", 443) });
    expect(holds("fd.sip = 2001:db8::10", e6)).toBe(true);
    expect(holds("fd.sip = 2001:db8:0:0:0:0:0:10", e6)).toBe(true);
    expect(holds("fd.snet = 2001:db8::/32", e6)).toBe(true);
    expect(holds("fd.snet = 2001:db9::/32", e6)).toBe(false);
  });
  it("server side swaps local and remote", () => {
    const s = ev({ type: "accept", res: 5, proc: bash, fd: sockFd("1.2.3.4", 5555, "10.0.0.2", 22, { isServer: true }) });
    expect(holds("fd.lport = 22", s)).toBe(true);
    expect(holds("fd.rip = 1.2.3.4", s)).toBe(true);
  });
});

describe("compile errors", () => {
  it.each([
    ["foo.bar = 1", "UNKNOWN_FIELD"],
    ["proc.nme = bash", "UNKNOWN_FIELD"],
    ["proc.name[1] = bash", "BAD_FIELD_ARG"],
    ["proc.aname[x] = bash", "BAD_FIELD_ARG"],
    ["evt.arg.nosuchparam = 1", "BAD_FIELD_ARG"],
    ["container.label = x", "BAD_FIELD_ARG"],
    ["fd.num = abc", "BAD_VALUE"],
    ["fd.num in (1, x)", "BAD_VALUE"],
    ["evt.is_open_read = maybe", "BAD_VALUE"],
    ["fd.sip = not-an-ip", "BAD_VALUE"],
    ["fd.num contains 3", "BAD_OPERATOR"],
    ["fd.num glob 3", "BAD_OPERATOR"],
    ["evt.is_open_read contains t", "BAD_OPERATOR"],
    ["fd.name regex '('", "BAD_REGEX"],
    ["evt.buffer bcontains XYZ", "BAD_VALUE"],
    ["proc.name pmatch val(proc.pname)", "BAD_OPERATOR"],
    ["undefined_macro_x", "UNDEFINED_MACRO"],
    ["join(proc.name) = x", "UNSUPPORTED"],
  ])("%s → %s", (c, code) => {
    let err: unknown;
    try {
      compileExpr(parseCondition(c));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompileError);
    expect((err as CompileError).code).toBe(code);
    expect((err as CompileError).pos).toBeDefined();
  });
});

describe("regex: RE2 syntax, whole-value match, linear time", () => {
  it.each([
    // the whole value must match (Falco's RE2::FullMatch), whichever alternative matches
    ["a|ab", "ab", true],
    ["ab|a", "ab", true],
    ["a|ab", "abc", false],
    ["", "", true],
    ["/etc/(cron\\.d|sudoers\\.d)/.*", "/etc/cron.d/x", true],
    ["/etc/(cron\\.d|sudoers\\.d)/.*", "/etc/cron.daily/x", false],
    ["(?i)/ETC/SHADOW", "/etc/shadow", true],
    ["[[:alpha:]]+\\.conf", "Shadow.conf", true],
    ["\\Q/etc/a.b\\E", "/etc/a.b", true],
    ["\\Q/etc/a.b\\E", "/etc/axb", false],
    ["/tmp/\\pL+", "/tmp/ünïcödé", true],
    ["/tmp/\\d+", "/tmp/123", true],
    ["(?s).*", "a\nb", true],
    [".*", "a\nb", false],
  ])("'%s' on %j → %s", (re, value, want) => {
    expect(compileRegex("fd.name", re)(value)).toBe(want);
  });

  it.each([
    ["(", "missing closing ): `(`"],
    ["a)", "unexpected ): `a)`"],
    // a stray ')' must not close an anchoring group and turn the match into "starts with a"
    ["a)|(b", "unexpected ): `a)|(b`"],
    ["[a", "missing closing ]: `[a`"],
    ["*a", "missing argument to repetition operator: `*`"],
    ["a**", "invalid nested repetition operator: `**`"],
    ["a{1001}", "invalid repeat count: `{1001}`"],
    ["(a)\\1", "invalid escape sequence: `\\1`"],
    ["(?=x)", "invalid or unsupported Perl syntax: `(?=`"],
    ["(?!x)", "invalid or unsupported Perl syntax: `(?!`"],
    ["(?<=x)a", "invalid named capture: `(?<=x)a`"],
    // JavaScript escapes RE2 does not have (node's re2 binding translated them; Falco refuses them)
    ["\\uABCD", "invalid escape sequence: `\\u`"],
    ["\\cA", "invalid escape sequence: `\\c`"],
    ["[z-a]", "invalid character class range: `z-a`"],
  ])("'%s' is a BAD_REGEX: %s", (re, why) => {
    let err: unknown;
    try {
      compileRegex("fd.name", re);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompileError);
    expect((err as CompileError).code).toBe("BAD_REGEX");
    expect((err as CompileError).message).toBe(`invalid regex '${re}' for field 'fd.name': ${why}`);
  });

  it("reports a bad pattern in a condition as BAD_REGEX with its position", () => {
    let err: unknown;
    try {
      compileExpr(parseCondition("proc.name = x and fd.name regex 'a)|(b'"));
    } catch (e) {
      err = e;
    }
    expect((err as CompileError).code).toBe("BAD_REGEX");
    expect((err as CompileError).pos?.col).toBe(19);
  });

  it("matches patterns that backtrack catastrophically in linear time", () => {
    const e = openat("a".repeat(100_000), O.RDONLY, bash);
    // JavaScript's RegExp takes exponential time on these (minutes for 30 characters)
    for (const re of ["(a+)+b", "(a|aa)*c", "(a*)*b", "(.*a){20}b"]) {
      const t0 = performance.now();
      expect(holds(`fd.name regex '${re}'`, e)).toBe(false);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });
});

describe("containers", () => {
  const c = container({ labels: new Map([["app", "web"]]), privileged: true, k8s: { namespace: "prod", podLabels: new Map([["tier", "front"]]) } });
  const e = openat("/x", O.RDONLY, proc({ container: c }));
  it.each([
    ["container.id != host", true],
    ["container.id = 0123456789ab", true],
    ["container.image.repository = docker.io/library/nginx", true],
    ["container.image.tag = 1.25", true],
    ["container.privileged = true", true],
    ["container.label[app] = web", true],
    ["container.label[nope] = web", false],
    ["k8s.ns.name = prod", true],
    ["k8s.pod.name = web-0", true],
    ["k8s.pod.label[tier] = front", true],
    ["fd.containername = 0123456789ab:/x", true],
  ] as [string, boolean][])("%s → %s", (cond, want) => {
    expect(holds(cond, e)).toBe(want);
  });
  it("host processes have container.id host and no k8s", () => {
    const h = openat("/x", O.RDONLY, proc());
    expect(holds("container.id = host", h)).toBe(true);
    expect(holds("k8s.ns.name exists", h)).toBe(false);
  });
  it("fd directory and filename", () => {
    const f = ev({ type: "openat", args: { name: "/var/log/syslog", flags: 0 }, fd: fileFd("/var/log/syslog") });
    expect(holds("fd.directory = /var/log", f)).toBe(true);
    expect(holds("fd.filename = syslog", f)).toBe(true);
  });
});

describe("val() with pattern operators", () => {
  it.each([
    // proc.cwd ends with a slash, as in Falco (libsinsp set_cwd)
    ["fd.name glob val(proc.cwd)", "/srv/*", "/srv/a/", true],
    ["fd.name glob val(proc.cwd)", "/srv/*", "/etc/a/", false],
    ["fd.name iglob val(proc.cwd)", "/SRV/*", "/srv/a/", true],
    ["fd.name startswith val(proc.cwd)", "/srv", "/srv/a", true],
    ["fd.name contains val(proc.cwd)", "rv/a", "/srv/a/b", true],
    ["fd.name icontains val(proc.cwd)", "RV/A", "/srv/a/b", true],
    ["fd.name endswith val(proc.cwd)", "/a", "/srv/a/", true],
  ] as [string, string, string, boolean][])("%s (cwd %s, file %s) → %s", (cond, cwd, file, want) => {
    expect(holds(cond, openat(file, O.RDONLY, proc({ cwd })))).toBe(want);
  });
});

describe("an `or` of checks on one text field (merged into one getter call and predicate)", () => {
  const CONDS = [
    "fd.name endswith /.aws/credentials or fd.name endswith .pem or fd.name endswith '' or fd.name contains /.kube/",
    "fd.name startswith /etc/ or fd.name startswith /usr/ or fd.name = /tmp/x or fd.name in (/a, /b) or fd.name glob '/home/*/.ssh/*' or fd.name pmatch (/var/lib)",
    "fd.name startswith é or fd.name endswith é or fd.name startswith /r or fd.name endswith c",
    "proc.name = bash or fd.name endswith /c or proc.name in (sh, zsh) or fd.name startswith /x or proc.pname = sshd",
    "(fd.name endswith .so or fd.name endswith .so.6) and not (proc.name = ls or proc.name startswith gr)",
    "fd.name icontains SHADOW or fd.name endswith .conf or fd.name startswith /etc/S",
    "evt.arg.flags contains O_RDONLY or evt.arg.flags contains O_CLOEXEC or evt.arg.flags = O_RDONLY",
    "proc.aname in (sshd, systemd) or proc.aname startswith ss or proc.name = nobody",
    "fd.name endswith x or fd.name endswith y",
    "proc.cmdline contains 'ls -la' or proc.cmdline contains zz or proc.cmdline contains 'bash -c' or proc.cmdline contains é or proc.cmdline contains ''",
    "fd.name contains hadow or fd.name contains hadox or fd.name contains /x or fd.name contains .so. or fd.name contains lib",
    "not fd.name contains hadow and not fd.name startswith /usr and proc.name != x and not fd.name in (/a, /b) and not proc.name = sh and not proc.name = zsh",
    "evt.type = openat and not fd.name endswith .so and not fd.name endswith .conf",
    "fd.name startswith /etc/ or fd.name startswith /usr/ or fd.name startswith /var/spool/ or fd.name startswith /éx or fd.name startswith /b/lib",
    "fd.name endswith .so.6 or fd.name endswith /.kube/config or fd.name endswith é or fd.name endswith .pem or fd.name startswith ''",
    "fd.name startswith /a or fd.name startswith /ab or fd.name startswith /abc or fd.name endswith '/a' or fd.name endswith b/a",
  ];
  const NAMES = [
    "/etc/shadow",
    "/etc/Shadow.conf",
    "/éx",
    "/é",
    "/ab",
    "/abc/d",
    "/b/a",
    "/var/spool/cron",
    "/root/.kube/config",
    "",
    "/",
    "é",
    "/éc",
    "/root/.aws/credentials",
    "/home/u/.ssh/id",
    "/var/lib/x",
    "/tmp/x",
    "/a",
    "/b/lib.so",
    "/usr/lib/libc.so.6",
    "/x/key.pem",
    "/r/.kube/config",
    "/etc/S",
    "c",
  ];
  const PROCS = [bash, proc({ comm: "grep", parents: [{ comm: "zsh" }] }), proc({ comm: "sh" })];
  it.each(CONDS)("%s agrees with the closure compiler", (cond) => {
    for (const p of PROCS) for (const n of NAMES) holds(cond, openat(n, O.RDONLY | O.CLOEXEC, p));
    holds(cond, missingFd);
  });
});
