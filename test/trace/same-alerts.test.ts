// SPDX-License-Identifier: Apache-2.0
/**
 * The Fargate tracer and the kernel probe must give the same alerts for the same actions: a
 * workload runs under vigil-trace while vigil-probe watches the whole host; each source's frames
 * go through the agent's own decoder, state and rule engine (built-in rules), and the alerts for
 * the workload's processes are compared field by field.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameDecoder } from "../../agent/decode/index.js";
import { AlertBuilder } from "../../agent/engine/alert-builder.js";
import { RuleEngine } from "../../agent/engine/rule-engine.js";
import { syscallsFor } from "../../agent/pipeline.js";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { EventState } from "../../agent/state/index.js";
import type { SyscallEvent } from "../../rules/event.js";
import { REPO_ROOT } from "../helpers/agent.js";
import type { Alert } from "../../proto/index.js";

const TRACE = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");
const PROBE = join(REPO_ROOT, "native-bridge", "build", "vigil-probe");
const logger = pino({ level: "silent" });

// fields that legitimately differ between two observers of one action
const VOLATILE = new Set([
  "evt.time",
  "evt.time.iso8601",
  "evt.datetime",
  "evt.rawtime",
  "evt.num",
  "evt.cpu",
  "proc.pidns_init_start_ts",
  "container.start_ts",
]);

describe.skipIf(!existsSync(PROBE))("vigil-trace and vigil-probe give the same alerts", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-same-"));
  const sock = join(dir, "trace.sock");
  const engine = new RuleEngine({ files: [], logger, ruleMatching: "all" });
  const builder = new AlertBuilder("test-host");
  const fromProbe: Alert[] = [];
  const fromTrace: Alert[] = [];
  // connect events (code 40) as each side decoded them: pid, result, fd facts and the args
  const CONNECT = 40;
  type NetEv = { pid: number; tid: number; res: number; fd: string; args: string };
  const netProbe: NetEv[] = [];
  const netTrace: NetEv[] = [];
  const snap = (e: SyscallEvent): NetEv => ({
    pid: e.proc.pid,
    tid: e.proc.tid,
    res: e.res,
    fd: JSON.stringify(e.fd ? { type: e.fd.type, typechar: e.fd.typechar, name: e.fd.name, l4proto: e.fd.l4proto, tuple: e.fd.tuple, num: e.fd.num } : null),
    args: JSON.stringify(e.args, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v)),
  });
  let kernel: KernelEventStream;
  let server: Server;

  beforeAll(async () => {
    const mk = spawnSync("make", ["-s", "-C", join(REPO_ROOT, "native-bridge", "trace")], { encoding: "utf8" });
    if (mk.status !== 0) throw new Error(mk.stderr);
    const rs = engine.load();
    const syscalls = syscallsFor(rs);
    kernel = new KernelEventStream({
      syscalls,
      logger,
      probePath: PROBE,
      onEvent: (e) => {
        if (e.type === CONNECT) netProbe.push(snap(e));
        engine.evaluate(e, (rule, ev) => fromProbe.push(builder.build(rule, ev)));
      },
    });
    await kernel.start();

    // the agent's side of the tracer socket: the same decoder, state and engine
    server = createServer((s) => {
      const state = new EventState();
      const dec = new FrameDecoder({
        onEvent: (r) => {
          const e = state.build(r);
          if (e.type === CONNECT) netTrace.push(snap(e));
          engine.evaluate(e, (rule, ev) => fromTrace.push(builder.build(rule, ev)));
        },
        onControl: (c) => state.clock(c),
      });
      s.on("data", (d: Buffer) => dec.push(d));
      s.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(sock, r));
    (globalThis as { __syscalls?: string[] }).__syscalls = syscalls;
  }, 90_000);

  afterAll(async () => {
    await kernel?.stop();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a shadow-file read under the tracer raises the same alert from both sources", async () => {
    const syscalls = (globalThis as { __syscalls?: string[] }).__syscalls ?? [];
    const code = await new Promise<number | null>((resolve) => {
      const c = spawn(
        TRACE,
        ["--socket", sock, "--syscalls", syscalls.join(","), "--", "sh", "-c", "cat /etc/shadow >/dev/null; cat /etc/hostname >/dev/null; exit 0"],
        {
          stdio: "ignore",
        },
      );
      c.on("exit", (x) => resolve(x));
    });
    expect(code).toBe(0);

    const isShadow = (a: Alert) => a.rule === "Read Shadow File" && a.output_fields["proc.name"] === "cat";
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(fromTrace.some(isShadow) && fromProbe.some(isShadow))) await new Promise((r) => setTimeout(r, 50));

    const t = fromTrace.filter(isShadow);
    expect(t).toHaveLength(1);
    const pid = (t[0] as Alert).output_fields["proc.pid"];
    const p = fromProbe.filter((a) => isShadow(a) && a.output_fields["proc.pid"] === pid);
    expect(p).toHaveLength(1);
    const a = t[0] as Alert;
    const b = p[0] as Alert;
    expect(a.priority).toBe(b.priority);
    expect(a.tags).toEqual(b.tags);
    // The tracer knows the tree it runs, not what is above it: ancestors from vigil-trace up are
    // only in the kernel's view (in a Fargate task vigil-trace is the task's init).
    let outside = Infinity;
    for (const [k, v] of Object.entries(b.output_fields)) {
      const m = /^proc\.a(?:name|pid|exepath)\[(\d+)\]$/.exec(k);
      if (m && (v === "vigil-trace" || (k.startsWith("proc.apid") && v === b.output_fields["proc.ppid"] && b.output_fields["proc.pname"] === "vigil-trace")))
        outside = Math.min(outside, Number(m[1]));
    }
    const diff: string[] = [];
    for (const k of new Set([...Object.keys(a.output_fields), ...Object.keys(b.output_fields)])) {
      if (VOLATILE.has(k)) continue;
      const anc = /^proc\.a(?:name|pid|exepath)\[(\d+)\]$/.exec(k);
      if (anc && Number(anc[1]) >= outside) continue;
      if (a.output_fields[k] !== b.output_fields[k]) diff.push(`${k}: trace=${String(a.output_fields[k])} probe=${String(b.output_fields[k])}`);
    }
    expect(diff).toEqual([]);
    expect(a.output_fields["fd.name"]).toBe("/etc/shadow");

    // and the same rules fired for the workload's processes overall
    const pids = new Set(fromTrace.map((x) => x.output_fields["proc.pid"]));
    const rulesT = fromTrace.map((x) => `${x.rule}|${String(x.output_fields["proc.pid"])}`).sort();
    const rulesP = fromProbe
      .filter((x) => pids.has(x.output_fields["proc.pid"]))
      .map((x) => `${x.rule}|${String(x.output_fields["proc.pid"])}`)
      .sort();
    expect(rulesT).toEqual(rulesP);
  }, 30_000);

  it("connects (TCP and unix) decode to the same fd facts and args from both sources", async () => {
    const syscalls = (globalThis as { __syscalls?: string[] }).__syscalls ?? [];
    expect(syscalls).toContain("connect");
    const tcp = createServer((c) => c.end());
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const port = (tcp.address() as AddressInfo).port;
    const unixPath = join(dir, "u.sock");
    const unix = createServer((c) => c.end());
    await new Promise<void>((r) => unix.listen(unixPath, r));
    const script = `busybox nc 127.0.0.1 ${port} </dev/null; ${process.execPath} -e 'require("net").connect("${unixPath}", function () { this.end(); })'; busybox nc 127.0.0.1 1 </dev/null 2>/dev/null; exit 0`;
    await new Promise<void>((resolve) => {
      const c = spawn(TRACE, ["--socket", sock, "--syscalls", syscalls.join(","), "--", "sh", "-c", script], { stdio: "ignore" });
      c.on("exit", () => resolve());
    });
    const pids = new Set(netTrace.map((x) => x.pid));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && netProbe.filter((x) => pids.has(x.pid)).length < netTrace.length) await new Promise((r) => setTimeout(r, 50));
    tcp.close();
    unix.close();
    expect(netTrace.length).toBeGreaterThanOrEqual(2);
    const key = (x: NetEv) => `${x.tid}|${x.res}|${x.fd}|${x.args}`;
    const a = netTrace.map(key).sort();
    const b = netProbe
      .filter((x) => pids.has(x.pid))
      .map(key)
      .sort();
    expect(a).toEqual(b);
    expect(netTrace.some((x) => x.fd.includes(`127.0.0.1:${port}`))).toBe(true);
    expect(netTrace.some((x) => x.fd.includes('"type":"unix"') && x.fd.includes(unixPath))).toBe(true);
    expect(netTrace.some((x) => x.res === -111)).toBe(true); // ECONNREFUSED
  }, 30_000);
});
