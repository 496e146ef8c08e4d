// SPDX-License-Identifier: Apache-2.0
/** Synthetic frames (the JIT warm-up's input) decode cleanly, as the probe's frames do. */
import { describe, expect, it } from "vitest";
import { FrameDecoder, type ControlInfo, type RawEvent } from "../../agent/decode/index.js";
import { framesPerProcess, syntheticFrames } from "../../agent/decode/synthetic.js";
import { EVENTS } from "../../rules/event-table.js";

const ALL = EVENTS.filter((s) => s.code !== 0).map((s) => s.name);

function decodeAll(types: readonly string[], processes: number) {
  const byType = new Map<string, number>();
  const samples = new Map<string, RawEvent>();
  const controls: ControlInfo[] = [];
  const d = new FrameDecoder({
    onEvent: (r) => {
      const name = EVENTS[r.type]!.name;
      byType.set(name, (byType.get(name) ?? 0) + 1);
      if (!samples.has(name)) samples.set(name, { ...r, args: [...r.args], fd: r.fd && { ...r.fd } });
    },
    onControl: (c) => controls.push(c),
  });
  let chunks = 0;
  for (const data of syntheticFrames(types, processes, 4096)) {
    chunks++;
    // chunks hold whole frames
    expect(data.readUInt32LE(0)).toBeLessThanOrEqual(data.length);
    // odd-sized pushes: frames split across them
    for (let o = 0; o < data.length; o += 1000) d.push(data.subarray(o, o + 1000));
  }
  expect(chunks).toBeGreaterThan(processes > 10 ? 1 : 0);
  return { byType, samples, controls, stats: d.stats() };
}

describe("synthetic frames", () => {
  it("decode without one error, one event per process and call type", () => {
    const { byType, stats, controls } = decodeAll(ALL, 20);
    expect(stats["truncated"]).toBe(0);
    expect(stats["handler_failed"]).toBe(0);
    expect(stats["unknown_type"]).toBe(0);
    expect(stats["resync_bytes"]).toBe(0);
    expect(stats["events"]).toBe(20 * framesPerProcess(ALL));
    // every call type and the process life: clone from both sides, exec, exit
    for (const name of ALL)
      if (!["clone3", "fork", "vfork", "execveat"].includes(name))
        expect(byType.get(name) ?? 0, name).toBeGreaterThanOrEqual(name === "execve" || name === "procexit" ? 20 : 1);
    expect(controls[0]?.type).toBe("ready");
  });

  it("carry the values the rules read: paths, fd info, tuples, the process block", () => {
    const { samples } = decodeAll(["openat", "connect", "execve", "clone", "procexit"], 3);
    const open = samples.get("openat")!;
    expect(open.fd?.type).toBe("file");
    expect(open.fd?.name).toBe(open.args[2]);
    const conn = samples.get("connect")!;
    expect(conn.fd?.type).toBe("ipv4");
    expect(conn.fd?.l4proto).toBe("tcp");
    expect(conn.fd?.tuple?.dport).toBe(443);
    const exec = samples.get("execve")!;
    expect(exec.proc?.exe).toBe("/usr/bin/true");
    expect(exec.comm).toBe("true");
    const clones = decodeAll(["clone"], 1).byType.get("clone");
    expect(clones).toBe(2);
  });

  it("only the given call types", () => {
    const { byType } = decodeAll(["openat"], 5);
    expect([...byType.keys()].sort()).toEqual(["clone", "execve", "openat", "procexit"]);
  });
});
