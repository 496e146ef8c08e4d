// SPDX-License-Identifier: Apache-2.0
/**
 * Keeps the TypeScript decoder's offsets in step with the C structs (in the spirit of tetragon's
 * alignchecker): builds native-bridge/layout-dump.c with the C compiler, which prints offsetof()
 * of every field of events.h, and compares with agent/decode/layout.ts. Also checks that the
 * C table of event codes (event-table.h, compiled) equals rules/event-table.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CtlPrevent, CtlReady, CtlStats, CtlType, Hdr, HdrFlag, HDR_SIZE, MAX_FRAME, PreventBit, WIRE_VERSION } from "../../agent/decode/layout.js";
import { Capture, EVENTS } from "../../rules/event-table.js";
import { REPO_ROOT } from "../helpers/agent.js";

const NB = join(REPO_ROOT, "native-bridge");
let dump = new Map<string, [number, number]>();

beforeAll(() => {
  const out = join(mkdtempSync(join(tmpdir(), "vigil-layout-")), "layout-dump");
  execFileSync("cc", ["-I", NB, join(NB, "layout-dump.c"), "-o", out]);
  dump = new Map(
    execFileSync(out, { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((l) => {
        const f = l.split(" ");
        // "struct.field offset size" or "const NAME value 0"
        if (f[0] === "const") return [`const.${f[1]}`, [Number(f[2]), 0]] as [string, [number, number]];
        return [f[0]!, [Number(f[1]), Number(f[2])]] as [string, [number, number]];
      }),
  );
});

const off = (k: string) => dump.get(k)?.[0];

describe("wire layout: TS offsets equal the C compiler's", () => {
  it.each(Object.entries(Hdr).filter(([k]) => k !== "commLen"))("vigil_hdr.%s", (k, v) => {
    const cName = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    expect(off(`vigil_hdr.${cName}`)).toBe(v);
  });
  it("header size, comm length and constants", () => {
    expect(off("vigil_hdr.sizeof")).toBe(HDR_SIZE);
    expect(dump.get("vigil_hdr.comm")?.[1]).toBe(Hdr.commLen);
  });
  it.each([
    ["VIGIL_HDR_SIZE", HDR_SIZE],
    ["VIGIL_WIRE_VERSION", WIRE_VERSION],
    ["VIGIL_MAX_FRAME", MAX_FRAME],
    ["VIGIL_CTL_READY", CtlType.Ready],
    ["VIGIL_CTL_STATS", CtlType.Stats],
    ["VIGIL_EV_MAX", EVENTS.length],
    ["VIGIL_F_BLOCKED", HdrFlag.Blocked],
    ["VIGIL_CTL_PREVENT", CtlType.Prevent],
    ["VIGIL_PREVENT_UPPER", PreventBit.Upper],
    ["VIGIL_PREVENT_MEMFD", PreventBit.Memfd],
    ["VIGIL_PREVENT_TMPFS", PreventBit.Tmpfs],
  ])("constant %s", (name, v) => {
    expect(off(`const.${name}`)).toBe(v);
  });
  it.each(Object.entries(CtlReady).filter(([k]) => k !== "size"))("vigil_ctl_ready.%s", (k, v) => {
    const cName = k.replace(/Ns$/, "_ns");
    expect((off(`vigil_ctl_ready.${cName}`) ?? -1) + HDR_SIZE).toBe(v);
  });
  it.each(Object.entries(CtlStats).filter(([k]) => k !== "perCpu"))("vigil_ctl_stats.%s", (k, v) => {
    const cName = k.replace(/Ns$/, "_ns").replace("framesOut", "frames_out");
    expect((off(`vigil_ctl_stats.${cName}`) ?? -1) + HDR_SIZE).toBe(v);
  });
});

describe("prevention control frame", () => {
  it.each(Object.entries(CtlPrevent).filter(([k]) => k !== "size"))("vigil_ctl_prevent.%s", (k, v) => {
    const cName = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    expect((off(`vigil_ctl_prevent.${cName}`) ?? -1) + HDR_SIZE).toBe(v);
  });
  it("size", () => {
    expect((off("vigil_ctl_prevent.sizeof") ?? -1) + HDR_SIZE).toBe(CtlPrevent.size);
  });
});

describe("event codes: the C table (event-table.h, as compiled) equals rules/event-table.ts", () => {
  // kernel events: Falco's meta events (container) have a code but no probe program
  it.each(EVENTS.filter((e) => e.code !== 0 && e.capture !== Capture.Never).map((e) => [e.name, e.code] as const))("%s = %d", (name, code) => {
    expect(dump.get(`const.EV_${name}`)?.[0]).toBe(code);
  });
});
