// SPDX-License-Identifier: Apache-2.0
/**
 * Real kernel, real probe with environment capture (`--env`): `proc.env[NAME]`, `proc.aenv[NAME]`
 * and `proc.env` read the environment the probe captured at exec (issue 16 item 5), with
 * libsinsp's semantics (TYPE_ENV / TYPE_AENV in sinsp_filtercheck_thread.cpp: an unset name is
 * the empty string; aenv[NAME] looks at the parents, not the process).
 */
import { spawn } from "node:child_process";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { resolveField } from "../../rules/compile/fields.js";
import { eventByName } from "../../rules/event-table.js";
import type { SyscallEvent } from "../../rules/event.js";
import { until } from "../helpers/containers.js";

const skip = process.getuid?.() !== 0;
const EXECVE = eventByName("execve")!.code;
const FIELDS: [string, string | undefined][] = [
  ["proc.name", undefined],
  ["proc.env", "VIGIL_PARITY_P"],
  ["proc.aenv", "VIGIL_PARITY_P"],
  ["proc.env", "VIGIL_PARITY_C"],
  ["proc.env", undefined],
  ["proc.args", undefined],
];
const getters = FIELDS.map(([f, a]) => resolveField(f, a).get);
const key = ([f, a]: [string, string | undefined]) => (a === undefined ? f : `${f}[${a}]`);

describe.skipIf(skip)("environment fields (real probe, --env)", () => {
  let stream: KernelEventStream;
  const seen: { pid: number; values: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    stream = new KernelEventStream({
      syscalls: ["execve", "clone", "clone3", "fork", "vfork", "procexit"],
      probeArgs: ["--env"],
      logger: pino({ level: "silent" }),
      onEvent: (e: SyscallEvent) => {
        if (e.type !== EXECVE || e.res !== 0) return;
        const values: Record<string, unknown> = {};
        for (let i = 0; i < FIELDS.length; i++) values[key(FIELDS[i]!)] = getters[i]!(e);
        seen.push({ pid: e.proc.pid, values });
      },
    });
    await stream.start();
  }, 120_000);

  afterAll(async () => {
    await stream?.stop();
  });

  it("env[NAME] of the process, aenv[NAME] from a parent, unset names empty", async () => {
    // sh has VIGIL_PARITY_P; its child drops it and sets VIGIL_PARITY_C, then execs `true marker`
    const script = "env -u VIGIL_PARITY_P VIGIL_PARITY_C=child /bin/sh -c 'exec /bin/true vigil-env-marker'; :";
    const child = spawn("/bin/sh", ["-c", script], { env: { PATH: "/usr/bin:/bin", VIGIL_PARITY_P: "parent value" }, stdio: "ignore" });
    await new Promise((r) => child.on("close", r));
    const hit = (s: (typeof seen)[number]) => s.values["proc.args"] === "vigil-env-marker";
    expect(await until(() => seen.some(hit), 5000)).toBe(true);
    const v = seen.find(hit)!.values;
    expect(v["proc.env[VIGIL_PARITY_C]"]).toBe("child");
    expect(v["proc.env[VIGIL_PARITY_P]"]).toBe("");
    expect(v["proc.aenv[VIGIL_PARITY_P]"]).toBe("parent value");
    expect(String(v["proc.env"]).split(" ")).toEqual(expect.arrayContaining(["VIGIL_PARITY_C=child", "PATH=/usr/bin:/bin"]));
  }, 30_000);
});
