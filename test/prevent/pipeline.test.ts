// SPDX-License-Identifier: Apache-2.0
/** The pipeline and blocked execs: rule alerts say blocked; a blocked exec no rule reports still alerts. */
import { describe, expect, it } from "vitest";
import { BLOCKED_RULE } from "../../agent/engine/alert-builder.js";
import type { SyscallEvent } from "../../rules/event.js";
import { container, execve, proc } from "../rules/event-builder.js";
import type { Alert } from "../../proto/index.js";
import { fakePipeline } from "../helpers/fake-pipeline.js";

const RULES = `- rule: Upper Layer Exec
  desc: d
  condition: evt.type = execve and proc.is_exe_upper_layer = true
  output: upper exec | exepath=%proc.exepath
  priority: WARNING
  tags: [drift]
`;

function exec(opts: { upper: boolean; memfd: boolean; blocked: boolean }): SyscallEvent {
  const p = proc({
    comm: "x",
    exepath: opts.memfd ? "/memfd:payload (deleted)" : "/tmp/x",
    exeUpperLayer: opts.upper,
    exeFromMemfd: opts.memfd,
    container: container({ id: "0123456789ab" }),
  });
  const e = execve(p);
  e.blocked = opts.blocked;
  return e;
}

describe("Pipeline with blocked execs", () => {
  it("rule alerts of blocked execs are blocked; unreported blocked execs get their own alert; others untouched", async () => {
    const alerts: Alert[] = [];
    const { p, feed } = await fakePipeline(RULES, { onAlert: (a) => alerts.push(a) });
    feed(exec({ upper: true, memfd: false, blocked: true }));
    feed(exec({ upper: true, memfd: false, blocked: false }));
    feed(exec({ upper: false, memfd: true, blocked: true }));
    feed(exec({ upper: false, memfd: true, blocked: false }));
    await p.stop();
    expect(alerts.map((a) => [a.rule, a.blocked])).toEqual([
      ["Upper Layer Exec", true],
      ["Upper Layer Exec", undefined],
      [BLOCKED_RULE, true],
    ]);
    expect(alerts[2]?.output_fields["proc.exepath"]).toBe("/memfd:payload (deleted)");
    expect(p.counters).toMatchObject({ blocked_execs: 2, blocked_unreported: 1, events: 4 });
  });
});
