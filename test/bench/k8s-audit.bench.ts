// SPDX-License-Identifier: Apache-2.0
/**
 * k8s_audit rule evaluation: Vigil's built-in audit pack (rules/files/k8s-audit) and, when
 * VIGIL_FALCO_K8SAUDIT_RULES names a copy, Falco's published k8s_audit_rules.yaml, over the
 * recorded audit events of test/fixtures/k8s-audit (102 events, about a third of them alerting),
 * every rule run (`all`). Per event: `AuditEvent.from` + evaluation (+ formatting the matches), and
 * the same with `JSON.parse` of the event's text first, as the collector does. Passes alternate
 * between the rule sets so they share the machine's load; the best of 5 passes is reported.
 * Run: npx vitest bench --run test/bench/k8s-audit.bench.ts
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bench, describe } from "vitest";
import { packagePath } from "../../agent/paths.js";
import type { SyscallEvent } from "../../rules/event.js";
import { loadRuleFiles, type RuleSet } from "../../rules/index.js";
import { resolveRulesPaths } from "../../rules/load/files.js";
import { AuditEvent, k8sAuditSource } from "../../rules/k8saudit/index.js";
import { REPO_ROOT } from "../helpers/agent.js";

function load(paths: string[]): RuleSet {
  const files = resolveRulesPaths(paths).files.map((path) => ({ path, text: readFileSync(path, "utf8") }));
  const res = loadRuleFiles(files, { sources: [k8sAuditSource], ruleMatching: "all" });
  if (!res.ok) throw new Error(`rules failed to load: ${res.diagnostics.map((d) => d.message).join("; ")}`);
  return res.rulesets.get("k8s_audit") as RuleSet;
}

const DIR = join(REPO_ROOT, "test/fixtures/k8s-audit");
const events: Record<string, unknown>[] = [];
for (const f of readdirSync(DIR).sort()) {
  if (!f.endsWith(".json")) continue;
  for (const ev of (JSON.parse(readFileSync(join(DIR, f), "utf8")) as { items: Record<string, unknown>[] }).items) events.push(ev);
}
const texts = events.map((e) => JSON.stringify(e));

const sets: [string, RuleSet][] = [["vigil pack", load([packagePath("rules", "files", "k8s-audit")])]];
const falco = process.env.VIGIL_FALCO_K8SAUDIT_RULES;
if (falco !== undefined && existsSync(falco)) sets.push(["falco k8s_audit_rules.yaml", load([falco])]);

let sink = 0;
function pass(set: RuleSet, parse: boolean, rounds: number): number {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < events.length; i++) {
      const obj = parse ? (JSON.parse(texts[i] as string) as Record<string, unknown>) : (events[i] as Record<string, unknown>);
      set.evaluate(AuditEvent.from(obj) as unknown as SyscallEvent, (rule, e) => {
        sink += rule.format(e).message.length;
      });
    }
  }
  return (rounds * events.length) / ((performance.now() - t0) / 1000);
}

const ROUNDS = 200;
const best = new Map<string, number>();
for (let p = 0; p < 5; p++) {
  for (const [name, set] of sets) {
    for (const parse of [false, true]) {
      const key = `${name}${parse ? " + JSON.parse" : ""}`;
      best.set(key, Math.max(best.get(key) ?? 0, pass(set, parse, ROUNDS)));
    }
  }
}
const matches = sets.map(([name, set]) => {
  let n = 0;
  for (const e of events) set.evaluate(AuditEvent.from(e) as unknown as SyscallEvent, () => n++);
  return `${name}: ${set.rules.length} rules, ${n} matches on ${events.length} events`;
});
console.log(`k8s_audit evaluation (${events.length} recorded events x ${ROUNDS} rounds, best of 5)`);
for (const m of matches) console.log(`  ${m}`);
for (const [k, v] of best) console.log(`  ${k.padEnd(42)} ${Math.round(v).toLocaleString("en-US")} events/s (${(1e6 / v).toFixed(1)} us/event)`);
if (sink < 0) console.log(sink);

describe("k8s_audit evaluation", () => {
  for (const [name, set] of sets) bench(`${name}: from + evaluate, ${events.length} events`, () => void pass(set, false, 1));
});
