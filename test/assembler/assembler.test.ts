// SPDX-License-Identifier: Apache-2.0
/**
 * One event assembler for every source: the tracer source (over its real unix socket) and a
 * replay of what was recorded give the events an {@link EventAssembler} gives for the same frames,
 * and no module but the assembler puts a decoder and a process state together.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EventAssembler } from "../../agent/assembler.js";
import { CaptureRecorder } from "../../agent/capture/recorder.js";
import { syntheticFrames } from "../../agent/decode/synthetic.js";
import type { SourceContext } from "../../agent/pipeline.js";
import { ReplaySource } from "../../agent/sources/replay.js";
import { TraceSource } from "../../agent/sources/trace-source.js";
import type { ContainerInfo, SyscallEvent } from "../../rules/event.js";
import { container } from "../capture/helpers.js";
import { quiet, tempDir } from "../collector/helpers.js";
import { REPO } from "../sinks/helpers/run-ts.js";

const TYPES = ["execve", "clone", "procexit", "openat", "connect", "close", "unlinkat", "setuid"];
const CTR = container("cccccccccccc");

/** The whole synthetic stream, copied (the generator reuses its buffer). */
function frames(processes: number): Buffer {
  const parts: Buffer[] = [];
  for (const c of syntheticFrames(TYPES, processes, 4096)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const json = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x instanceof Map ? [...x] : x,
  );

/** What an assembled event says, enrichment included, as a string (the event object is reused). */
function snap(e: SyscallEvent): string {
  const p = e.proc;
  return json({
    num: e.num,
    sec: e.sec,
    nsec: e.nsec,
    type: e.type,
    res: e.res,
    args: e.args,
    blocked: e.blocked,
    proc: { pid: p.pid, tid: p.tid, ppid: p.ppid, comm: p.comm, exe: p.exe, exepath: p.exepath, args: p.args, cwd: p.cwd, uid: p.uid, startTs: p.startTs },
    parent: p.parent ? { pid: p.parent.pid, comm: p.parent.comm, exepath: p.parent.exepath } : null,
    container: { id: p.container.id, name: p.container.name, image: p.container.image, k8s: p.container.k8s },
    fd: e.fd ? { num: e.fd.num, name: e.fd.name, type: e.fd.type, typechar: e.fd.typechar } : null,
  });
}

/** The fields a capture keeps (proto/capture.ts), for the replay comparison. */
function recorded(e: SyscallEvent): string {
  const p = e.proc;
  return json({
    sec: e.sec,
    nsec: e.nsec,
    bootNs: e.bootNs,
    type: e.type,
    res: e.res,
    args: e.args,
    proc: { pid: p.pid, tid: p.tid, ppid: p.ppid, comm: p.comm, exe: p.exe, exepath: p.exepath, args: p.args, cwd: p.cwd, uid: p.uid, gid: p.gid },
    pcomm: p.parent?.comm ?? "",
    container: { id: p.container.id, name: p.container.name, image: p.container.image, k8sPod: p.container.k8s?.podName },
    fd: e.fd ? { num: e.fd.num, name: e.fd.name, type: e.fd.type, typechar: e.fd.typechar } : null,
  });
}

const resolveContainer = (): ContainerInfo => CTR;

describe("event assembler", () => {
  it("the tracer source gives the events the assembler gives for the same frames", async () => {
    const stream = frames(60);
    const expected: string[] = [];
    const asm = new EventAssembler({ onEvent: (e) => expected.push(snap(e)), resolveContainer, state: { max: 8192, readUnknownFromProc: false } });
    asm.push(stream);
    expect(expected.length).toBeGreaterThan(60 * 8);
    expect(asm.counters).toEqual({ events: expected.length, event_errors: 0 });

    const got: string[] = [];
    const ctx: SourceContext = {
      syscalls: TYPES,
      childOnly: [],
      kernelFilters: undefined,
      logger: quiet(),
      onEvent: (e) => got.push(snap(e)),
      resolveContainer,
    };
    const path = join(tempDir(), "trace.sock");
    const src = new TraceSource(ctx, { path });
    await src.start();
    try {
      await new Promise<void>((resolve, reject) => {
        const s = connect(path, () => {
          // split at odd places: frames cross writes
          for (let o = 0, k = 0; o < stream.length; k++) {
            const n = [1, 777, 88, 4096, 13][k % 5]!;
            s.write(stream.subarray(o, o + n));
            o += n;
          }
          s.end();
        });
        s.on("error", reject);
        s.on("close", () => resolve());
      });
      for (let i = 0; i < 200 && got.length < expected.length; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await src.stop();
    }
    expect(got).toEqual(expected);
    expect(src.stats()).toMatchObject({ connections: 1, events: expected.length, event_errors: 0, decode_errors: 0 });
  });

  it("a replay of what was recorded gives the events the assembler gave", async () => {
    const recorder = new CaptureRecorder({ perContainer: 100_000, logger: quiet() });
    const expected: string[] = [];
    const asm = new EventAssembler({
      onEvent: (e) => {
        recorder.record(e);
        expected.push(recorded(e));
      },
      resolveContainer,
      state: { readUnknownFromProc: false },
    });
    asm.push(frames(20));
    const res = (await recorder.capture({ alertId: "a", rule: "R", containerId: CTR.id, durationMs: 0 }))!;
    const file = join(tempDir(), "a.vcap");
    writeFileSync(file, res.data);
    const got: string[] = [];
    const replay = new ReplaySource({ file }, (e) => got.push(recorded(e)), quiet());
    await replay.start();
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
  });

  it("no agent module but the assembler builds a frame decoder or an event state", () => {
    const root = join(REPO, "agent");
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith(".ts") && p !== join(root, "assembler.ts") && /new (FrameDecoder|EventState)\(/.test(readFileSync(p, "utf8")))
          offenders.push(p.slice(REPO.length + 1));
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
