// SPDX-License-Identifier: Apache-2.0
/**
 * The behaviour stages (agent/behaviour/net.ts, files.ts) run on an event only while a loaded rule
 * reads their fields — in its condition or its output — or an append_output entry does: with
 * Falco's stable rules neither runs (issue 22: about a tenth of the user-space cost per event).
 * A reload turns them on and off.
 */
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readsAnyField } from "../../agent/behaviour/reads.js";
import type { PipelineOptions } from "../../agent/pipeline.js";
import { fakePipeline } from "../helpers/fake-pipeline.js";
import { parseCondition } from "../../rules/index.js";
import { ev, openat, proc, sockFd } from "../rules/event-builder.js";

const rule = (condition: string, output = "x | file=%fd.name") => `- rule: R
  desc: d
  condition: ${condition}
  output: ${output}
  priority: WARNING
`;

async function pipeline(text: string, extra: Partial<PipelineOptions> = {}) {
  const { p, file, feed } = await fakePipeline(text, extra);
  const pr = proc({ comm: "curl" });
  const events = () => {
    feed(ev({ type: "connect", res: 0, proc: pr, fd: sockFd("10.0.0.2", 40000, "10.0.0.1", 443) }));
    feed(openat("/root/.ssh/id_rsa", 0, pr));
  };
  const counts = () => {
    const st = p.stats();
    return { connects: st["behaviour_net"]!["connects"], credOpens: st["behaviour_files"]!["cred_opens"] };
  };
  return { p, file, events, counts };
}

describe("behaviour stages gate", () => {
  it("keeps both stages off for rules that read none of their fields, and a reload turns each on and off", async () => {
    const { p, file, events, counts } = await pipeline(rule("evt.type = openat and fd.name = /etc/shadow"));
    expect(p.behaviourStages).toEqual({ net: false, files: false });
    events();
    expect(counts()).toEqual({ connects: 0, credOpens: 0 });

    writeFileSync(file, rule("evt.type = connect and vigil.net.distinct_ports > 10"));
    expect(await p.engine.reload()).toBe(true);
    expect(p.behaviourStages).toEqual({ net: true, files: false });
    events();
    expect(counts()).toEqual({ connects: 1, credOpens: 0 });

    // a field read only by the output counts: the alert must show it
    writeFileSync(file, rule("evt.type = openat and fd.name = /etc/shadow", "x | creds=%vigil.cred.files"));
    expect(await p.engine.reload()).toBe(true);
    expect(p.behaviourStages).toEqual({ net: false, files: true });
    events();
    expect(counts()).toEqual({ connects: 1, credOpens: 1 });
    await p.stop();
  });

  it("runs a stage for an append_output entry that reads its fields", async () => {
    const { p, events, counts } = await pipeline(rule("evt.type = openat and fd.name = /etc/shadow"), {
      output: { suggestedFields: false, append: [{ extra_fields: ["vigil.net.ctr.distinct_ports"] }] },
    });
    expect(p.behaviourStages).toEqual({ net: true, files: false });
    events();
    expect(counts().connects).toBe(1);
    await p.stop();
  });

  it("finds fields under transformers, in field comparisons, with arguments and under not", () => {
    const reads = (c: string) => readsAnyField([{ cond: parseCondition(c) }], ["vigil.exe.fetched_path", "proc.is_net_server"]);
    expect(reads("tolower(vigil.exe.fetched_path) = x")).toBe(true);
    expect(reads("proc.name = val(vigil.exe.fetched_path)")).toBe(true);
    expect(reads("not proc.is_net_server = true")).toBe(true);
    expect(reads("proc.aname[2] = sh and fd.name startswith /tmp")).toBe(false);
    expect(readsAnyField([{ cond: parseCondition("proc.name = a"), outputFields: ["toupper(vigil.exe.fetched_path)"] }], ["vigil.exe.fetched_path"])).toBe(
      true,
    );
    expect(readsAnyField([{ cond: parseCondition("proc.name = a") }], ["vigil.exe.fetched_path"], ["vigil.exe.fetched_path"])).toBe(true);
  });
});
