// SPDX-License-Identifier: Apache-2.0
/**
 * Detections proven by real behaviour: every rule of the drift, FIM and TTP packs is triggered by
 * the real technique inside a real container (CRI pods on a real containerd, the real kernel
 * probe, the real agent), and the alert must carry the rule's enrichment (container, image, pod,
 * namespace, process tree) and be tagged with the scenario's MITRE technique; benign workloads
 * must raise nothing. Writes the result table to
 * $VIGIL_SCENARIO_REPORT (JSON) for `npm run scenarios`.
 */
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersAvailable } from "../helpers/containers.js";
import { formatTable, ScenarioEnv } from "./harness.js";
import { ATTACKS, BENIGN } from "./table.js";

const env = new ScenarioEnv();
const run = containersAvailable() ? describe : describe.skip;

run("detection scenarios in real containers", () => {
  beforeAll(async () => {
    await env.start();
  }, 240_000);

  afterAll(async () => {
    const out = process.env["VIGIL_SCENARIO_REPORT"];
    if (out) writeFileSync(out, JSON.stringify(env.results, null, 1));
    else process.stdout.write(`\n${formatTable(env.results)}\n`);
    await env.stop();
  }, 120_000);

  // benign first: nothing else has run in the benign pod, so any alert there is a false positive
  describe("benign workloads raise nothing", () => {
    it.each(BENIGN.map((s) => [s.name, s] as const))("%s", async (_n, s) => {
      const { alerts } = await env.benign(s);
      expect(alerts.map((a) => `${a.rule}: ${a.output_fields["proc.cmdline"]}`)).toEqual([]);
    });
  });

  describe("attacks raise their rule with full enrichment", () => {
    it.each(ATTACKS.map((s) => [`${s.expect} ← ${s.name}`, s] as const))("%s", async (_n, s) => {
      const { alert } = await env.attack(s);
      expect(alert, `no "${s.expect}" alert`).toBeDefined();
      const f = alert!.output_fields;
      const p = env.pod12(s.pod);
      expect(f["container.id"]).toBe(p.shortId);
      expect(f["container.name"]).toBe(p.containerName);
      expect(String(f["container.image.repository"])).toContain("vigil/busybox");
      expect(f["k8s.ns.name"]).toBe(p.spec.namespace);
      expect(f["k8s.pod.name"]).toBe(p.spec.name);
      expect(f).toHaveProperty("proc.aname[2]");
      expect(f).toHaveProperty("proc.pcmdline");
      expect(alert!.tags.some((t) => t.startsWith("mitre_"))).toBe(true);
      expect(alert!.tags.some((t) => /^T\d{4}(\.\d{3})?$/.test(t))).toBe(true);
      // the alert is tagged with the technique the scenario performs (the rule's most specific one)
      expect(alert!.tags, `"${s.expect}" alert not tagged ${s.technique}`).toContain(s.technique);
      if (s.fim !== undefined) {
        expect(f["fim.sha256_after"]).toMatch(/^[0-9a-f]{64}$/);
        if (s.fim === "unchanged") expect(f["fim.unchanged"]).toBe(true);
        if (s.fim === "modified") {
          expect(f["fim.sha256_before"]).toMatch(/^[0-9a-f]{64}$/);
          expect(f["fim.unchanged"]).toBe(false);
        }
        if (s.fim === "created") expect(f["fim.action"]).toBe("created");
      }
    });
  });
});
