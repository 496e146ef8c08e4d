// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's `outbound` macro on a UDP send, end to end: the real agent with Falco's stable rules file
 * (read in place from the shared corpus) and a rule of ours using its macro. A datagram to a
 * public address from an unconnected socket raises one alert naming the destination; a second one
 * to the same destination does not (`fd.name_changed` is false), a loopback one never.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChild, startAgent, type RunningAgent } from "../helpers/agent.js";
import { STABLE_RULES } from "../rules/stable-path.js";

const RULE = `- rule: UDP Outbound From Python
  desc: a Python process sends a datagram to a non-private address
  condition: outbound and fd.l4proto = udp and proc.name startswith python
  output: udp outbound | proc=%proc.name pid=%proc.pid type=%evt.type dest=%fd.sip:%fd.sport connection=%fd.name
  priority: NOTICE
`;

describe("Falco's outbound macro on UDP", () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    const rules = join(mkdtempSync(join(tmpdir(), "vigil-udp-")), "udp-outbound.yaml");
    writeFileSync(rules, RULE);
    agent = await startAgent(["--no-containerd", "--stats-interval", "0", "--rules", STABLE_RULES, "--rules", rules]);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
  });

  it("alerts on the first datagram to a public destination only", async () => {
    // Falco's macro wants neither end at 0.0.0.0 (`fd.ip != "0.0.0.0"` holds only when both ends
    // differ), so the socket is bound to the address its route to the destination uses
    const py = [
      "import socket",
      "u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "u.connect(('198.51.100.20', 53))",
      "ip=u.getsockname()[0]",
      "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "s.bind((ip, 0))",
      "s.sendto(b'x', ('127.0.0.1', 9))",
      "s.sendto(b'a', ('198.51.100.20', 53))",
      "s.sendto(b'b', ('198.51.100.20', 53))",
    ].join("\n");
    const { pid, code } = await runChild("python3", ["-c", py]);
    expect(code).toBe(0);
    const ours = (a: { rule: string; output_fields: Record<string, unknown> }) =>
      a.rule === "UDP Outbound From Python" && a.output_fields["proc.pid"] === pid && a.output_fields["evt.type"] === "sendto";
    const alert = await agent.waitForAlert(ours, 5000);
    expect(String(alert.output_fields["fd.name"])).toMatch(/->198\.51\.100\.20:53$/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(agent.alerts.filter(ours)).toHaveLength(1);
  });
});
