// SPDX-License-Identifier: Apache-2.0
/**
 * Real kernel, real probe, real containerd: the container's first process is started by
 * `runc create`, which exits before the entrypoint execs; the kernel reparents runc's child to
 * containerd-shim (a child subreaper). Falco reports `proc.pname = containerd-shim` for that
 * exec; so must we (issue 16 item 6: it used to keep the exited runc as parent).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { resolveField } from "../../rules/compile/fields.js";
import { eventByName } from "../../rules/event-table.js";
import type { SyscallEvent } from "../../rules/event.js";
import { BUSYBOX_IMAGE, containersAvailable, prepareRuntime, removeContainer, runContainer, until } from "../helpers/containers.js";

const RUN = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const skip = !containersAvailable() || process.getuid?.() !== 0;
const EXECVE = eventByName("execve")!.code;
const FIELDS = ["proc.name", "proc.pname", "proc.ppid", "proc.aname[2]", "proc.apid[1]", "proc.exepath", "proc.vpid", "proc.args"];
const getters = FIELDS.map((f) => {
  const m = /^([^[]+)(?:\[(.+)\])?$/.exec(f)!;
  return resolveField(m[1]!, m[2]).get;
});

interface Seen {
  pid: number;
  values: Record<string, unknown>;
}

describe.skipIf(skip)("ancestry after reparenting (real probe, real containers)", () => {
  let sock = "";
  let stream: KernelEventStream;
  const seen: Seen[] = [];
  const ids: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "vigil-reparent-"));

  beforeAll(async () => {
    sock = prepareRuntime().sock;
    stream = new KernelEventStream({
      syscalls: ["execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit"],
      logger: pino({ level: "silent" }),
      onEvent: (e: SyscallEvent) => {
        if (e.type !== EXECVE || e.res !== 0) return;
        const values: Record<string, unknown> = {};
        for (let i = 0; i < FIELDS.length; i++) values[FIELDS[i]!] = getters[i]!(e);
        seen.push({ pid: e.proc.pid, values });
      },
    });
    await stream.start();
  }, 120_000);

  afterAll(async () => {
    await stream?.stop();
    for (const id of ids) removeContainer(sock, "default", id);
    rmSync(dir, { recursive: true, force: true });
  });

  it("the container's first process has containerd-shim as parent, not the exited runc", async () => {
    const id = `vigil-reparent-${RUN}`;
    ids.push(id);
    const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE, ["/bin/sleep", "600"]);
    const shimPid = Number(readPpid(pid));
    expect(await until(() => seen.some((s) => s.pid === pid && s.values["proc.name"] === "sleep"), 10_000)).toBe(true);
    const ex = seen.find((s) => s.pid === pid && s.values["proc.name"] === "sleep")!;
    expect(ex.values["proc.vpid"]).toBe(1);
    expect(ex.values["proc.pname"]).toBe("containerd-shim");
    expect(ex.values["proc.ppid"]).toBe(shimPid);
    expect(ex.values["proc.apid[1]"]).toBe(shimPid);
    // what the kernel says, at the same moment
    expect(readComm(shimPid)).toBe("containerd-shim");
    expect(ex.values["proc.aname[2]"]).not.toBe("runc");
  }, 60_000);

  it("a process orphaned inside the container is adopted by the container's init (pid-namespace reaper)", async () => {
    const id = `vigil-reparent-orphan-${RUN}`;
    ids.push(id);
    // sh (init) starts a subshell that starts a background sh and exits; the background sh, now
    // an orphan, execs `sleep 501` after its parent is gone, so the exec follows the reparent
    const script = "(sh -c 'sleep 0.5; exec sleep 501' &) ; sleep 600";
    const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE, ["/bin/sh", "-c", script]);
    const hit = (s: Seen) => s.values["proc.args"] === "501";
    expect(await until(() => seen.some(hit), 15_000)).toBe(true);
    const ex = seen.find(hit)!;
    // the subshell exited; the kernel reparented the sleeper to the namespace's init (our sh)
    expect(ex.values["proc.ppid"]).toBe(pid);
    // the parent's name is the init's name at its last exec (busybox sh execs its final applet
    // through /proc/self/exe: "exe"), as in Falco, whose thread table takes comm from execve
    const initExecs = seen.filter((s) => s.pid === pid);
    expect(ex.values["proc.pname"]).toBe(initExecs[initExecs.length - 1]!.values["proc.name"]);
    expect(ex.values["proc.aname[2]"]).toBe("containerd-shim");
  }, 60_000);
});

function readPpid(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]!;
}

function readComm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}
