// SPDX-License-Identifier: Apache-2.0
/**
 * The syscall set the pipeline asks of the probe: the rules' event types plus what the process
 * table needs; of the clone family, only the child's side when no rule uses the type. A reload
 * first widens the set to both rule sets' needs (both sides if either set wants them).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { stateOnlyClones, syscallsFor } from "../../agent/pipeline.js";
import { RuleEngine } from "../../agent/engine/rule-engine.js";
import { fakePipeline } from "../helpers/fake-pipeline.js";

const rule = (cond: string) => `- rule: R
  desc: d
  condition: ${cond}
  output: r
  priority: WARNING
`;

function load(cond: string) {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sysset-"));
  const file = join(dir, "r.yaml");
  writeFileSync(file, rule(cond));
  return { file, rs: new RuleEngine({ files: [file], logger: pino({ level: "silent" }) }).load() };
}

describe("probe syscall set", () => {
  it("clone family: child side only unless a rule names the type", () => {
    const open = load("evt.type = openat and fd.name = /etc/shadow").rs;
    expect(syscallsFor(open)).toEqual(expect.arrayContaining(["clone", "clone3", "fork", "vfork", "execve", "procexit", "openat"]));
    expect(stateOnlyClones(open)).toEqual(["clone", "clone3", "fork", "vfork"]);
    const clone = load("evt.type in (clone, vfork) and proc.name = sh").rs;
    expect(stateOnlyClones(clone)).toEqual(["clone3", "fork"]);
    // a rule without an event type sees every type, both sides
    expect(stateOnlyClones(load("proc.name = nc").rs)).toEqual([]);
  });

  it("start and reload hand the source the child-only names", async () => {
    const calls: [string[], string[]][] = [];
    const { p, file, context } = await fakePipeline(
      rule("evt.type = openat and fd.name = /etc/shadow"),
      {},
      { setSyscalls: async (names, childOnly) => void calls.push([names, childOnly]) },
    );
    expect(context().childOnly).toEqual(["clone", "clone3", "fork", "vfork"]);
    writeFileSync(file, rule("evt.type = clone and proc.name = sh"));
    expect(await p.engine.reload()).toBe(true);
    // while swapping: both sets' needs (clone wanted whole by the new set); then the new set's
    expect(calls[0]![1]).toEqual(["clone3", "fork", "vfork"]);
    expect(calls.at(-1)).toEqual([syscallsFor(p.engine.ruleset), ["clone3", "fork", "vfork"]]);
    await p.stop();
  });
});
