// SPDX-License-Identifier: Apache-2.0
/** Alerts of blocked execs: `blocked: true`, said in the text line and in every output format. */
import { describe, expect, it } from "vitest";
import { AlertBuilder, BLOCKED_RULE, BLOCKED_SUFFIX } from "../../agent/engine/alert-builder.js";
import { alertToJsonLine, alertToTextLine } from "../../agent/sinks/stdout-sink.js";
import { loadRuleFiles } from "../../rules/index.js";
import { container, execve, proc } from "../rules/event-builder.js";
import { alertFromProto, alertToJson, alertToProto } from "../../proto/index.js";

const RULE = `- rule: Drift Test
  desc: d
  condition: evt.type = execve and proc.is_exe_upper_layer = true
  output: Drift run | exepath=%proc.exepath container=%container.id
  priority: WARNING
  tags: [drift]
`;

function drift(blocked: boolean | undefined) {
  const p = proc({
    comm: "busybox",
    exepath: "/tmp/busybox",
    args: ["sh", "-c", "echo ran"],
    exeUpperLayer: true,
    container: container({ id: "0123456789ab", imageRepository: "docker.io/acme/shop", k8s: { namespace: "prod", podName: "shop-1" } }),
  });
  const e = execve(p);
  e.blocked = blocked;
  return e;
}

describe("blocked alerts", () => {
  const rs = loadRuleFiles([{ path: "f", text: RULE }]).ruleset;
  const rule = rs.rules[0]!;
  const b = new AlertBuilder("node-1");

  it.each([
    ["blocked", true, true],
    ["not blocked", false, undefined],
    ["from a source that cannot block", undefined, undefined],
  ])("%s", (_n, blocked, want) => {
    const a = b.build(rule, drift(blocked));
    expect(a.blocked).toBe(want);
    expect(a.output.endsWith(BLOCKED_SUFFIX)).toBe(want === true);
    expect(a.output).toContain("Drift run | exepath=/tmp/busybox container=0123456789ab");
  });

  it("travels in JSON and text output and through the collector codec", () => {
    const a = b.build(rule, drift(true));
    expect(JSON.parse(alertToJsonLine(a))).toMatchObject({ blocked: true, output: a.output });
    expect(alertToTextLine(a, false)).toContain("[BLOCKED]");
    expect(alertToProto(a).blocked).toBe(true);
    expect(alertFromProto(alertToProto(a))).toMatchObject({ blocked: true, output: a.output });
    expect(alertToJson(a)).toMatchObject({ blocked: true });
    const plain = b.build(rule, drift(false));
    expect("blocked" in JSON.parse(alertToJsonLine(plain))).toBe(false);
    expect(alertToProto(plain).blocked).toBeFalsy();
  });

  it("an exec blocked that no rule reported gets its own alert", () => {
    const a = b.blockedExec(drift(true));
    expect(a).toMatchObject({ rule: BLOCKED_RULE, priority: "Critical", source: "syscall", blocked: true, hostname: "node-1" });
    expect(a.output).toMatch(
      // the container and pod as every rule alert carries them: Falco 0.44's suggested fields
      /Drift blocked: .* exepath=\/tmp\/busybox cmdline=busybox sh -c echo ran .*container_id=0123456789ab .*container_image_repository=docker.io\/acme\/shop .*k8s_pod_name=shop-1 k8s_ns_name=prod \(blocked\)$/,
    );
    expect(a.output_fields).toMatchObject({
      "proc.exepath": "/tmp/busybox",
      "container.id": "0123456789ab",
      "k8s.ns.name": "prod",
      "proc.is_exe_upper_layer": true,
    });
    expect(a.tags).toContain("T1204.002");
  });
});
