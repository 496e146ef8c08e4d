// SPDX-License-Identifier: Apache-2.0
/**
 * The dry-run report, `vigil webhook report FILE...` (built CLI): a `kubectl get pods -A -o json`
 * list, YAML manifests of workloads and a recorded AdmissionReview are decided as the webhook
 * would (kube-system excluded, templates read, other kinds skipped), printed as a table or as
 * JSON, and `--fail-on-deny` makes a denial an exit status. Every object in the inputs is valid
 * for its kind (kubernetes-models).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { buildReport, formatReport, type Report } from "../../agent/admission/index.js";
import { CLI } from "../helpers/agent.js";
import { validateManifest } from "../helpers/admission-schema.js";
import { FIXTURES, validator } from "./helpers.js";

const LIST = join(FIXTURES, "pods-list.json");
const WORKLOADS = join(FIXTURES, "workloads.yaml");
const REVIEW = join(FIXTURES, "deployment.json");

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, "webhook", "report", ...args], { encoding: "utf8" });

describe("the inputs", () => {
  it("are valid objects of their kinds", () => {
    for (const p of (JSON.parse(readFileSync(LIST, "utf8")) as { items: unknown[] }).items) validateManifest(p, "pods-list item");
    for (const d of parseAllDocuments(readFileSync(WORKLOADS, "utf8"))) validateManifest(d.toJS(), "workloads.yaml");
  });
});

describe("buildReport", () => {
  it("decides each object as the webhook would", () => {
    const rep = buildReport([LIST, WORKLOADS, REVIEW], validator({ mode: "enforce" }), { namespace: "finance" });
    const rows = rep.rows.map((r) => [r.source.replace(`${FIXTURES}/`, ""), r.kind, r.namespace, r.name, r.result]);
    expect(rows).toEqual([
      ["pods-list.json#1", "Pod", "kube-system", "aws-node-7x2kq", "excluded"],
      ["pods-list.json#2", "Pod", "shop", "checkout-7d9c8b6f5-x2x9z", "allowed"],
      ["pods-list.json#3", "Pod", "dev", "debug-shell", "denied"],
      ["workloads.yaml#1", "Job", "ops", "disk-wipe", "denied"],
      ["workloads.yaml#2", "StatefulSet", "finance", "ledger", "allowed"],
      ["workloads.yaml#3", "ConfigMap", null, "ledger-config", "skipped"],
      ["deployment.json", "Deployment", "monitoring", "node-agent", "denied"],
    ]);
    expect(rep.rows[1]?.matches).toEqual([]);
    expect(rep.rows[4]?.matches).toEqual([]);
    expect(rep.rows[5]?.reason).toBe("v1/ConfigMap carries no pod");
    expect(rep.summary).toEqual({ objects: 7, denied: 3, audited: 0, allowed: 2, excluded: 1, unchanged: 0, skipped: 1 });
    const priv = rep.policies.find((p) => p.policy === "Privileged Container");
    expect(priv).toEqual({ policy: "Privileged Container", mode: "enforce", denied: 2, audited: 0 });
    expect(rep.policies.find((p) => p.policy === "Container May Run As Root")).toMatchObject({ mode: "audit", denied: 0, audited: 3 });
  });

  it("in audit mode nothing would be denied; what enforce denies is reported as warnings", () => {
    const rep = buildReport([LIST], validator({ mode: "audit" }));
    expect(rep.summary).toMatchObject({ denied: 0, audited: 1, allowed: 1, excluded: 1 });
  });

  it("formats a table: a block per object a policy matched, the totals, a line per policy", () => {
    const rep = buildReport([WORKLOADS], validator({ mode: "enforce" }));
    const text = formatReport(rep);
    const lines = text.split("\n");
    expect(lines[0]).toBe(`DENY   Job ops/disk-wipe  [${WORKLOADS}#1]`);
    expect(lines[1]).toMatch(
      /^ {4}deny {3}Privileged Container \(Critical\): Privileged container \(user=<NA> verb=create resource=jobs ns=ops name=disk-wipe /,
    );
    expect(text).toContain(`skip   ConfigMap ledger-config: v1/ConfigMap carries no pod  [${WORKLOADS}#3]`);
    expect(text).toContain("3 objects: 1 would be denied, 0 allowed with warnings, 1 allowed, 1 skipped\n");
    expect(text).toMatch(/^POLICY +MODE {5}DENIED {2}AUDITED$/m);
    expect(text).toMatch(/^Privileged Container +enforce {7}1 {8}0$/m);
    expect(formatReport(rep, { verbose: true })).toContain(`allowed  StatefulSet default/ledger  [${WORKLOADS}#2]`);
  });
});

describe("vigil webhook report (CLI)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vigil-adm-report-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("prints the table; exit 0 without --fail-on-deny", () => {
    const r = run("--admission", "enforce", LIST);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`DENY   Pod dev/debug-shell  [${LIST}#3]`);
    expect(r.stdout).toContain("3 objects: 1 would be denied, 0 allowed with warnings, 1 allowed, 1 in excluded namespaces");
    expect(r.stdout).not.toContain("aws-node");
  });

  it("--output json is the report; --fail-on-deny exits 1 when something would be denied, 0 otherwise", () => {
    const r = run("--admission", "enforce", "--output", "json", "--fail-on-deny", LIST, REVIEW);
    expect(r.status).toBe(1);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.summary).toMatchObject({ objects: 4, denied: 2 });
    expect(rep.rows[2]?.matches.find((m) => m.policy === "Privileged Container")).toMatchObject({ mode: "enforce", priority: "Critical" });
    expect(run("--fail-on-deny", LIST).status).toBe(0);
  });

  it("the policy options apply: --no-exclude-kube-system, --policy-mode, --policies", () => {
    const local = join(tmp, "local.yaml");
    writeFileSync(local, "- list: admission_privileged_namespaces\n  items: [dev]\n  override: { items: append }\n");
    const j = (args: string[]) => JSON.parse(run("--output", "json", ...args).stdout) as Report;
    expect(j(["--admission", "enforce", "--no-exclude-kube-system", LIST]).summary).toMatchObject({ denied: 2, excluded: 0 });
    expect(j(["--admission", "enforce", "--policy-mode", "Privileged Container=audit", LIST]).summary).toMatchObject({ denied: 0, audited: 1 });
    expect(j(["--admission", "enforce", "--policies", local, LIST]).summary).toMatchObject({ denied: 0 });
    expect(j(["--admission", "enforce", "--exclude-namespace", "dev", LIST]).summary).toMatchObject({ denied: 0, excluded: 2 });
  });

  it("bad input is one line and exit 1", () => {
    const bad = join(tmp, "bad.yaml");
    writeFileSync(bad, "kind: Pod\n  spec: [\n");
    for (const [args, re] of [
      [[join(tmp, "missing.json")], /cannot read .*missing\.json: ENOENT/],
      [[bad], /bad\.yaml: /],
      [["--output", "xml", LIST], /--output must be text or json/],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});
