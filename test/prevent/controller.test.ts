// SPDX-License-Identifier: Apache-2.0
import { mkdirSync, mkdtempSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HOST_CONTAINER } from "../../agent/enrich/container-info.js";
import { PreventBit } from "../../agent/decode/layout.js";
import { PreventionController, PreventionPolicy, unifiedPathOf } from "../../agent/prevent/index.js";
import type { ContainerInfo, SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { captureLogger } from "../helpers/capture-logger.js";

const ALL = PreventBit.Upper | PreventBit.Memfd | PreventBit.Tmpfs;

function info(id: string, image: string, metaMissing = false): ContainerInfo {
  return {
    ...HOST_CONTAINER,
    id: id.slice(0, 12),
    fullId: id,
    name: id,
    type: "containerd",
    image,
    imageRepository: image.replace(/:[^:/]*$/, ""),
    metaMissing,
  };
}

function exec(cgroupId: number, cgroupPath: string, container: ContainerInfo, type = 1, blocked = false): SyscallEvent {
  const proc = { pid: 42, cgroupId, cgroupPath, container, exepath: "/tmp/x" } as unknown as ThreadInfo;
  return { num: 1, sec: 0, nsec: 0, bootNs: 0, type, cpu: 0, res: 0, args: [], proc, fd: undefined, source: "syscall", blocked };
}

/** A cgroup v2 tree in a temp dir: paths → inode numbers, like the kernel's cgroup ids. */
function cgroupTree(...paths: string[]): { root: string; id: (p: string) => number } {
  const root = mkdtempSync(join(tmpdir(), "vigil-prevent-cg-"));
  for (const p of paths) mkdirSync(join(root, p), { recursive: true });
  return { root, id: (p) => statSync(join(root, p)).ino };
}

function setup(
  scope: string[],
  opts: { max?: number; root?: string; procRoot?: string; resolve?: (p: string, id: number, pid: number) => ContainerInfo } = {},
) {
  const calls: [number, number][] = [];
  const armed = new Map<number, number>();
  const log = captureLogger();
  const c = new PreventionController({
    policy: new PreventionPolicy({ block: ["upper_layer", "memfd", "tmpfs"], scope }),
    target: {
      prevent: (id, bits) => {
        calls.push([id, bits]);
        if (bits === 0) armed.delete(id);
        else {
          if (!armed.has(id) && armed.size >= (opts.max ?? 100)) return false;
          armed.set(id, bits);
        }
        return true;
      },
    },
    logger: log.logger,
    cgroupRoot: opts.root ?? "/nonexistent",
    procRoot: opts.procRoot ?? "/nonexistent",
    resolve: opts.resolve,
    retryMs: 5,
    metaRetries: 4,
    sweepMs: 0,
  });
  return { c, calls, armed, log };
}

describe("PreventionController", () => {
  it("arms an in-scope container's cgroup once, at its first exec", () => {
    const { c, calls } = setup(["image=docker.io/acme/*"]);
    const a = info("aaa", "docker.io/acme/shop:1");
    c.observe(exec(1001, "/default/aaa", a));
    c.observe(exec(1001, "/default/aaa", a));
    expect(calls).toEqual([[1001, ALL]]);
    expect(c.isArmed(1001)).toBe(true);
    expect(c.stats()).toMatchObject({ armed: 1, armed_now: 1, decided: 1 });
  });

  it("never arms out-of-scope containers nor the host; non-exec events decide nothing", () => {
    const { c, calls } = setup(["image=docker.io/acme/*"]);
    c.observe(exec(1002, "/default/bbb", info("bbb", "docker.io/other/x:1")));
    c.observe(exec(1, "/", HOST_CONTAINER));
    c.observe(exec(1003, "/default/ccc", info("ccc", "docker.io/acme/shop:1"), 4 /* openat */));
    expect(calls).toEqual([]);
    expect(c.stats()).toMatchObject({ out_of_scope: 1, armed: 0 });
    const star = setup(["*"]);
    star.c.observe(exec(1, "/", HOST_CONTAINER));
    expect(star.calls).toEqual([]);
  });

  it("waits for metadata filled in place, then decides", async () => {
    const { c, calls } = setup(["image=docker.io/acme/*"]);
    const a = info("ddd", "", true) as { -readonly [K in keyof ContainerInfo]: ContainerInfo[K] };
    a.image = undefined;
    c.observe(exec(1004, "/default/ddd", a));
    expect(calls).toEqual([]);
    expect(c.stats()["pending"]).toBe(1);
    a.image = "docker.io/acme/shop:2";
    a.metaMissing = false;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toEqual([[1004, ALL]]);
  });

  it("metadata that never comes: decided on what is known after bounded retries", async () => {
    const { c, calls } = setup(["container=eee"]);
    c.observe(exec(1005, "/default/eee", info("eee", "", true)));
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).toEqual([[1005, ALL]]);
    expect(c.stats()).toMatchObject({ decided_without_metadata: 1, pending: 0 });
  });

  it("a full map fails open: refused, counted, logged once", () => {
    const { c, calls, log } = setup(["*"], { max: 1 });
    c.observe(exec(2001, "/default/f1", info("f1", "i")));
    c.observe(exec(2002, "/default/f2", info("f2", "i")));
    c.observe(exec(2003, "/default/f3", info("f3", "i")));
    expect(calls.map((x) => x[0])).toEqual([2001, 2002, 2003]);
    expect(c.stats()).toMatchObject({ armed: 1, refused: 2, armed_now: 1 });
    expect(log.lines.filter((l) => /map is full/.test(String(l["msg"])))).toHaveLength(1);
  });

  it("the sweep disarms cgroups whose directory is gone", () => {
    const t = cgroupTree("default/g1", "default/g2");
    const { c, calls } = setup(["*"], { root: t.root });
    c.observe(exec(t.id("default/g1"), "/default/g1", info("g1", "i")));
    c.observe(exec(t.id("default/g2"), "/default/g2", info("g2", "i")));
    const g1 = t.id("default/g1");
    rmdirSync(join(t.root, "default/g1"));
    c.sweep();
    expect(calls.at(-1)).toEqual([g1, 0]);
    expect(c.stats()).toMatchObject({ disarmed: 1, armed_now: 1 });
  });

  it("start(): arms running containers from /proc, never the agent's own cgroup", () => {
    const t = cgroupTree("default/run1", "default/agent", "system.slice");
    const proc = mkdtempSync(join(tmpdir(), "vigil-prevent-proc-"));
    const put = (pid: string, path: string) => {
      mkdirSync(join(proc, pid));
      writeFileSync(join(proc, pid, "cgroup"), `12:memory:/x\n0::${path}\n`);
    };
    put("100", "/default/run1");
    put("101", "/default/agent");
    put("102", "/system.slice");
    put("self", "/default/agent");
    const resolve = (p: string): ContainerInfo => (p.startsWith("/default/") ? info(p.slice(9), "img") : HOST_CONTAINER);
    const { c, calls } = setup(["*"], { root: t.root, procRoot: proc, resolve });
    c.start();
    c.stop();
    expect(calls).toEqual([[t.id("default/run1"), ALL]]);
    expect(c.stats()["seeded"]).toBe(3);
  });

  it("observePid(): a runtime's task pid decides its container before any exec", () => {
    const t = cgroupTree("k8s.io/abc", "system.slice");
    const proc = mkdtempSync(join(tmpdir(), "vigil-prevent-proc-"));
    mkdirSync(join(proc, "self"));
    writeFileSync(join(proc, "self", "cgroup"), "0::/system.slice\n");
    const resolve = (p: string): ContainerInfo => (p === "/k8s.io/abc" ? info("abc", "img") : HOST_CONTAINER);
    const { c, calls } = setup(["container=abc"], { root: t.root, procRoot: proc });
    c.observePid(500); // before start(): no resolver yet, nothing decided
    expect(calls).toEqual([]);
    c.start(resolve);
    // the task appears after the agent started
    mkdirSync(join(proc, "500"));
    writeFileSync(join(proc, "500", "cgroup"), "0::/k8s.io/abc\n");
    c.observePid(500);
    c.observePid(500);
    c.observePid(999); // gone
    c.stop();
    expect(calls).toEqual([[t.id("k8s.io/abc"), ALL]]);
    expect(c.stats()["from_runtime"]).toBe(1);
  });

  it("counts blocked execs and logs them rate-limited", () => {
    const { c, log } = setup([]);
    for (let i = 0; i < 5; i++) c.observe(exec(3001, "/default/h", info("h", "i"), 1, true));
    expect(c.stats()["blocked_seen"]).toBe(5);
    expect(log.lines.filter((l) => l["msg"] === "drift blocked in the kernel")).toHaveLength(1);
  });

  it("unifiedPathOf reads the 0:: line", () => {
    expect(unifiedPathOf("12:memory:/a\n0::/k8s.io/abc\n")).toBe("/k8s.io/abc");
    expect(unifiedPathOf("12:memory:/a\n")).toBeUndefined();
  });
});
