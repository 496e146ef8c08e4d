// SPDX-License-Identifier: Apache-2.0
/**
 * Live reload against the real agent: a changed rules file swaps the rule set; a broken one is
 * refused, logged, and the old set stays in force; SIGHUP reloads too.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../helpers/agent.js";

const ruleFor = (name: string, path: string) => `
- rule: ${name}
  desc: test rule
  condition: evt.type in (open, openat, openat2) and fd.name = ${path}
  output: marker opened (file=%fd.name pid=%proc.pid)
  priority: NOTICE
  tags: [test]
`;

function touch(path: string): void {
  closeSync(openSync(path, "a"));
}

describe("rules live reload", () => {
  let agent: RunningAgent;
  let dir: string;
  let rules: string;
  let a: string;
  let b: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-reload-"));
    rules = join(dir, "rules.yaml");
    a = join(dir, "marker-a");
    b = join(dir, "marker-b");
    writeFileSync(rules, ruleFor("Marker A", a));
    agent = await startAgent(["--no-containerd", "--stats-interval", "0", "--rules", rules]);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fires the loaded rule", async () => {
    touch(a);
    const al = await agent.waitForAlert((x) => x.rule === "Marker A", 3000);
    expect(al.output_fields["fd.name"]).toBe(a);
  });

  it("swaps in a changed file", async () => {
    const before = agent.logs.length;
    writeFileSync(rules, ruleFor("Marker B", b));
    await agent.waitForLog((l) => l["msg"] === "rules reloaded" && agent.logs.indexOf(l) >= before, 5000);
    touch(b);
    await agent.waitForAlert((x) => x.rule === "Marker B", 3000);
    const nA = agent.alerts.filter((x) => x.rule === "Marker A").length;
    touch(a);
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.alerts.filter((x) => x.rule === "Marker A").length).toBe(nA);
  });

  it("refuses a broken file and keeps the old set", async () => {
    const before = agent.logs.length;
    writeFileSync(rules, ruleFor("Marker C", a).replace("fd.name =", "fd.name = = ("));
    await agent.waitForLog((l) => l["msg"] === "rules reload rejected; previous rules stay in force" && agent.logs.indexOf(l) >= before, 5000);
    const err = agent.logs.find((l) => l["msg"] === "rule error" && agent.logs.indexOf(l) >= before);
    expect(JSON.stringify(err)).toMatch(/rules\.yaml:\d+:\d+/);
    const nB = agent.alerts.filter((x) => x.rule === "Marker B").length;
    touch(b);
    await agent.waitForAlert((x) => x.rule === "Marker B" && agent.alerts.filter((y) => y.rule === "Marker B").length > nB, 3000);
  });

  it("reloads on SIGHUP", async () => {
    writeFileSync(rules, ruleFor("Marker B", b));
    await new Promise((r) => setTimeout(r, 600));
    const before = agent.logs.length;
    agent.child.kill("SIGHUP");
    await agent.waitForLog((l) => l["msg"] === "rules reloaded" && agent.logs.indexOf(l) >= before, 5000);
  });
});
