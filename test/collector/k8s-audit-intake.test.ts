// SPDX-License-Identifier: Apache-2.0
/**
 * The parts of the k8s_audit intake a running collector does not easily show: payload parsing
 * (accepted and refused shapes), deterministic alert IDs, alerts bounded instead of refused, a
 * store failure answered 503 so the API server retries, and a rule engine failure counted.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAuditRules } from "../../agent/cli/k8s-audit-rules.js";
import { auditAlertId } from "../../collector/k8s-audit/alert-id.js";
import { AuditPayloadError } from "../../collector/k8s-audit/errors.js";
import { AuditIntake, auditAlert } from "../../collector/k8s-audit/intake.js";
import { auditItem, parseAuditPayload } from "../../collector/k8s-audit/parse.js";
import type { AuditRules } from "../../collector/k8s-audit/types.js";
import { makeAuditWebhook } from "../../collector/k8s-audit/webhook.js";
import { ALERT_LIMITS, type Alert, validateAlert } from "../../proto/index.js";
import { memoryLogger, tempDir } from "./helpers.js";
import { eventList, execEvent } from "./k8s-audit-helpers.js";

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("auditAlertId", () => {
  it("is a UUIDv7 whose time is the event's, the same for the same (request, stage, rule), different otherwise", () => {
    const t = Date.parse("2026-03-01T10:00:00.123Z");
    const id = auditAlertId("6f1c3e0a-9b7d-4d0e-8f2a-1b2c3d4e5f60", "ResponseComplete", "Rule A", t);
    expect(id).toMatch(UUID7);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(t);
    expect(auditAlertId("6f1c3e0a-9b7d-4d0e-8f2a-1b2c3d4e5f60", "ResponseComplete", "Rule A", t)).toBe(id);
    const others = [
      auditAlertId("6f1c3e0a-9b7d-4d0e-8f2a-1b2c3d4e5f61", "ResponseComplete", "Rule A", t),
      auditAlertId("6f1c3e0a-9b7d-4d0e-8f2a-1b2c3d4e5f60", "ResponseStarted", "Rule A", t),
      auditAlertId("6f1c3e0a-9b7d-4d0e-8f2a-1b2c3d4e5f60", "ResponseComplete", "Rule B", t),
    ];
    expect(new Set([id, ...others]).size).toBe(4);
    // sorts with time like the agent's UUIDv7 alert IDs
    expect(auditAlertId("x", "s", "r", t + 1) > auditAlertId("x", "s", "r", t)).toBe(true);
  });
});

describe("parseAuditPayload", () => {
  it.each([
    ["an EventList", JSON.stringify(eventList([execEvent(), execEvent()])), 2, 0],
    ["an empty EventList (items null)", JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: null }), 0, 0],
    ["an EventList without items", JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1" }), 0, 0],
    ["an Event", JSON.stringify(execEvent()), 1, 0],
    [
      "a v1beta1 EventList",
      JSON.stringify({ ...eventList([{ ...execEvent(), apiVersion: "audit.k8s.io/v1beta1" }]), apiVersion: "audit.k8s.io/v1beta1" }),
      1,
      0,
    ],
    ["an array of Events", JSON.stringify([execEvent(), execEvent(), execEvent()]), 3, 0],
    ["items of other shapes", JSON.stringify(eventList([execEvent(), null, "x", [], { ...execEvent(), apiVersion: "v1" }])), 1, 4],
    ["an event with only requestReceivedTimestamp", JSON.stringify(eventList([{ ...execEvent(), stageTimestamp: null }])), 1, 0],
  ])("accepts %s", (_what, text, good, bad) => {
    const b = parseAuditPayload(text);
    expect(b.items).toHaveLength(good);
    expect(b.bad).toHaveLength(bad);
  });

  it.each([
    ["", "bad_json"],
    ["{", "bad_json"],
    ["null", "bad_kind"],
    ["12", "bad_kind"],
    ['{"kind":"Status","apiVersion":"v1"}', "bad_kind"],
    ['{"kind":"EventList","apiVersion":"audit.k8s.io/v2","items":[]}', "bad_api_version"],
    ['{"kind":"EventList","apiVersion":7,"items":[]}', "bad_api_version"],
    ['{"kind":"EventList","items":"x"}', "bad_kind"],
  ])("refuses %j as %s", (text, code) => {
    let err: unknown;
    try {
      parseAuditPayload(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditPayloadError);
    expect((err as AuditPayloadError).code).toBe(code);
  });

  it("keys an event without auditID by its content, and never throws on deep nesting", () => {
    const { auditID: _, ...noId } = execEvent({ auditID: "a" });
    const a = auditItem(noId);
    const b = auditItem(JSON.parse(JSON.stringify(noId)));
    expect(typeof a === "object" && typeof b === "object" && a.key === b.key && a.key.startsWith("sha256:")).toBe(true);
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(auditItem({ ...noId, requestObject: deep })).toBe("no auditID, and too deeply nested to identify");
    // the time is normalized to nanoseconds; a time with an offset is converted to UTC
    const t = auditItem({ ...noId, stageTimestamp: "2026-03-01T12:00:00.5+02:00" });
    expect(typeof t === "object" && t.time).toBe("2026-03-01T10:00:00.500000000Z");
  });
});

describe("alerts of the intake", () => {
  it("cut an output or field past the alert limits instead of losing the alert", () => {
    const item = auditItem(execEvent());
    if (typeof item === "string") throw new Error(item);
    const fields: Alert["output_fields"] = { "ka.req.configmap.obj": "x".repeat(100_000), "ka.verb": "create" };
    for (let i = 0; i < 100; i++) fields[`jevt.value[/f${i}]`] = "y".repeat(15_000);
    const a = auditAlert(item, { rule: "R", priority: "Warning", source: "k8s_audit", tags: ["k8s", "bad\x1ftag"], message: "m".repeat(70_000), fields }, "c");
    expect(validateAlert(a)).toBeUndefined();
    expect(a.output.length).toBeLessThanOrEqual(ALERT_LIMITS.outputLength);
    expect(String(a.output_fields["ka.req.configmap.obj"]).endsWith("…")).toBe(true);
    expect(a.output_fields["ka.verb"]).toBe("create");
    expect(a.tags).toEqual(["k8s", "bad tag"]);
  });

  const matchAll: AuditRules = {
    ruleCount: 1,
    evaluate: () => [{ rule: "Any", priority: "Notice", source: "k8s_audit", tags: [], message: "any", fields: {} }],
  };

  it("a store failure is a 503 (the API server retries it) and is counted; nothing is counted stored", async () => {
    const mem = memoryLogger();
    const intake = new AuditIntake({
      rules: matchAll,
      ingest: () => Promise.reject(new Error("disk full")),
      logger: mem.logger,
    });
    const hook = makeAuditWebhook(intake);
    const a = await hook.handle(Buffer.from(JSON.stringify(eventList([execEvent()]))), new URL("http://c/k8s-audit"));
    expect(a).toEqual({ code: 503, body: { error: "store failed: retry" } });
    expect(intake.counters).toMatchObject({ k8s_audit_store_errors: 1, k8s_audit_alerts: 0 });
    intake.close();
  });

  it("a rule engine that throws counts an evaluation error, logs once, and the batch still answers", async () => {
    const mem = memoryLogger();
    const stored: Alert[] = [];
    const intake = new AuditIntake({
      rules: {
        ruleCount: 1,
        evaluate: () => {
          throw new Error("boom");
        },
      },
      ingest: (alerts) => {
        stored.push(...alerts);
        return { stored: alerts.length, duplicates: 0, invalid: 0 };
      },
      logger: mem.logger,
    });
    const hook = makeAuditWebhook(intake);
    const r = await hook.handle(Buffer.from(JSON.stringify(eventList([execEvent(), execEvent()]))), new URL("http://c/k8s-audit"));
    expect(r.code).toBe(200);
    expect(intake.counters.k8s_audit_eval_errors).toBe(2);
    expect(mem.lines.filter((l) => l["msg"] === "audit event evaluation failed (logged once)")).toHaveLength(1);
    expect(stored).toHaveLength(0);
    intake.close();
  });

  it("names the cluster: the source's name, else the configured one, else the event's cluster_name annotation, else kubernetes; ka.cluster.name reads it", async () => {
    const dir = tempDir("vigil-k8s-audit-cluster-");
    const file = join(dir, "r.yaml");
    writeFileSync(
      file,
      "- rule: Any Exec\n  desc: x\n  condition: ka.target.subresource = exec\n  output: exec (cluster=%ka.cluster.name pod=%ka.target.name)\n  priority: NOTICE\n  source: k8s_audit\n",
    );
    const rules = loadAuditRules([file]).rules;
    const run = async (configured: string | undefined, named: string | undefined, annotation: string | undefined) => {
      const stored: Alert[] = [];
      const intake = new AuditIntake({
        rules,
        cluster: configured,
        ingest: (alerts) => {
          stored.push(...alerts);
          return { stored: alerts.length, duplicates: 0, invalid: 0 };
        },
        logger: memoryLogger().logger,
      });
      const ev = execEvent({ pod: "p" });
      const obj = annotation === undefined ? ev : { ...ev, annotations: { ...ev.annotations, cluster_name: annotation } };
      const item = auditItem(obj);
      if (typeof item === "string") throw new Error(item);
      await intake.process({ items: [item], bad: [] }, named, "test");
      intake.close();
      const a = stored[0]!;
      // ka.cluster.name is the event's annotation when it has one (Falco's meaning), else the cluster named for it
      expect(a.output).toContain(`exec (cluster=${annotation ?? a.hostname} pod=p)`);
      return a.hostname;
    };
    expect(await run(undefined, undefined, undefined)).toBe("kubernetes");
    expect(await run(undefined, undefined, "from-annotation")).toBe("from-annotation");
    expect(await run("configured", undefined, "from-annotation")).toBe("configured");
    expect(await run("configured", "from-source", "from-annotation")).toBe("from-source");
    // a value that is not a cluster name is not used
    expect(await run(undefined, undefined, "bad name\n")).toBe("kubernetes");
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a cluster name that is not one", () => {
    expect(() => new AuditIntake({ ingest: () => ({ stored: 0, duplicates: 0, invalid: 0 }), logger: memoryLogger().logger, cluster: "a b" })).toThrow(
      /bad cluster name/,
    );
  });
});
