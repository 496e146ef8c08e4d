// SPDX-License-Identifier: Apache-2.0
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PreventionRuntime, cgroup2RootUnder } from "../../agent/prevent/index.js";
import type { SyscallEvent, ThreadInfo } from "../../rules/event.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { container } from "../rules/event-builder.js";

function exec(cgroupId: number): SyscallEvent {
  const proc = {
    pid: 7,
    cgroupId,
    cgroupPath: "/default/x",
    container: container({ id: "0123456789ab", fullId: "0123456789ab", image: "docker.io/acme/a:1" }),
    exepath: "/x",
  } as unknown as ThreadInfo;
  return { num: 1, sec: 0, nsec: 0, bootNs: 0, type: 1, cpu: 0, res: 0, args: [], proc, fd: undefined, source: "syscall", blocked: false };
}

describe("PreventionRuntime", () => {
  it("the wrapped event path arms through the attached source and passes every event on", () => {
    const empty = mkdtempSync(join(tmpdir(), "vigil-prevent-rt-"));
    const rt = new PreventionRuntime(
      { enabled: true, block: ["upper_layer"], scope: ["image=docker.io/acme/*"], max_cgroups: 8 },
      { logger: captureLogger().logger, host: { cgroup: empty, proc: empty } },
    );
    const calls: [number, number][] = [];
    const seen: number[] = [];
    const onEvent = rt.wrap((e) => seen.push(e.proc.cgroupId));
    rt.attach(
      { prevent: (id, bits) => (calls.push([id, bits]), true), stats: () => ({ prevent_blocked: 3, prevent_map_full: 0, kernel_drops: 9 }) },
      undefined,
    );
    onEvent(exec(555));
    onEvent(exec(555));
    rt.stop();
    expect(seen).toEqual([555, 555]);
    expect(calls).toEqual([[555, 1]]);
    expect(rt.stats()).toMatchObject({ armed: 1, armed_now: 1, kernel_blocked: 3, kernel_map_full: 0 });
    expect(rt.stats()["kernel_drops"]).toBeUndefined();
  });

  it("cgroup2RootUnder: `unified` on hybrid hosts, the root itself on cgroup2 hosts", () => {
    const hybrid = mkdtempSync(join(tmpdir(), "vigil-cg-"));
    mkdirSync(join(hybrid, "unified"));
    writeFileSync(join(hybrid, "unified", "cgroup.procs"), "");
    expect(cgroup2RootUnder(hybrid)).toBe(join(hybrid, "unified"));
    const v2 = mkdtempSync(join(tmpdir(), "vigil-cg-"));
    expect(cgroup2RootUnder(v2)).toBe(v2);
  });
});
