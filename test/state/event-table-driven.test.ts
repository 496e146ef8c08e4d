// SPDX-License-Identifier: Apache-2.0
/**
 * State updates are driven by the event table: every event the table says reads or closes its
 * `fd` param finds a known fd without fd info on the wire, every event that creates one enters it,
 * and every other event leaves the fd table alone.
 */
import { describe, expect, it } from "vitest";
import type { RawEvent } from "../../agent/decode/index.js";
import { EventState } from "../../agent/state/index.js";
import type { FdInfo } from "../../rules/event.js";
import { EVENTS, Fd, Proc, paramIndex } from "../../rules/event-table.js";

const SEC = 1_000_000_000;
const PID = 700;

function raw(over: Partial<RawEvent>): RawEvent {
  return {
    type: 0,
    flags: 0,
    ts: 10 * SEC,
    pid: PID,
    tid: PID,
    ppid: 1,
    uid: 0,
    gid: 0,
    euid: 0,
    loginuid: 0xffffffff,
    cpu: 0,
    cgroupId: 1,
    startTs: SEC,
    comm: "x",
    res: 0,
    args: [],
    proc: undefined,
    fd: undefined,
    cloneFlags: 0,
    ...over,
  };
}

function file(num: number): FdInfo {
  return {
    num,
    type: "file",
    typechar: "f",
    name: `/tmp/f${num}`,
    ino: undefined,
    dev: undefined,
    isUpperLayer: undefined,
    l4proto: undefined,
    tuple: undefined,
    isServer: undefined,
    connected: undefined,
    nameChanged: undefined,
    openFlags: 0,
  };
}

/** A state with fd 5 known (entered by a dup, a creator in every version of the table). */
function withFd5(): EventState {
  const s = new EventState({ readUnknownFromProc: false });
  s.build(raw({ type: EVENTS.find((e) => e.name === "dup")!.code, res: 5, args: [5, 3], fd: file(5) }));
  return s;
}

const kernel = EVENTS.filter((e) => e.code !== 0 && e.proc === undefined);

describe("fd table follows the table's fd facts", () => {
  it.each(kernel.map((e) => [e.name, e] as const))("%s", (_name, e) => {
    const s = withFd5();
    const args: unknown[] = e.params.map(() => undefined);
    const fdArg = paramIndex(e.code, "fd");
    if (fdArg > 0) args[fdArg] = 5;
    const got = s.build(raw({ type: e.code, res: e.fd === Fd.Close ? 0 : -1, args: args as RawEvent["args"] })).fd;
    if (e.fd === Fd.Use || e.fd === Fd.Close) expect(got?.name).toBe("/tmp/f5");
    else if (e.fd !== Fd.Open) expect(got).toBeUndefined();
    // a close forgets the fd; nothing else does
    const after = s.build(raw({ type: EVENTS.find((x) => x.fd === Fd.Use)!.code, args: [0, 5] })).fd;
    if (e.fd === Fd.Close) expect(after).toBeUndefined();
    else expect(after?.name).toBe("/tmp/f5");
  });

  it.each(EVENTS.filter((e) => e.fd === Fd.New || e.fd === Fd.Open).map((e) => [e.name, e] as const))("%s enters its result", (_name, e) => {
    const s = new EventState({ readUnknownFromProc: false });
    s.build(raw({ type: e.code, res: 9, args: e.params.map(() => undefined) as RawEvent["args"], fd: file(9) }));
    expect(s.build(raw({ type: EVENTS.find((x) => x.fd === Fd.Use)!.code, args: [0, 9] })).fd?.name).toBe("/tmp/f9");
  });

  it("the exit event drops the process's fds", () => {
    const s = withFd5();
    s.build(raw({ type: EVENTS.find((e) => e.proc === Proc.Exit)!.code }));
    expect(s.build(raw({ type: EVENTS.find((x) => x.fd === Fd.Use)!.code, args: [0, 5] })).fd).toBeUndefined();
  });
});
