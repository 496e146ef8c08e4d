// SPDX-License-Identifier: Apache-2.0
/**
 * The recorded audit events of test/fixtures/k8s-audit/ are what an API server's webhook backend
 * sends (audit.k8s.io/v1 EventList), checked against the audit API's schema and, for the objects
 * they carry, the Kubernetes OpenAPI schemas. The schema itself is tested to reject what a real API
 * server never emits.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/agent.js";
import { AuditSchemaError, validateAuditEvent, validateAuditEventList } from "../helpers/audit-schema.js";

const DIR = join(REPO_ROOT, "test/fixtures/k8s-audit");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();

function load(file: string): unknown {
  return JSON.parse(readFileSync(join(DIR, file), "utf8"));
}

describe("recorded audit events", () => {
  it("exist", () => {
    expect(FILES.length).toBeGreaterThan(40);
  });

  it.each(FILES)("%s is a valid audit.k8s.io/v1 EventList", (file) => {
    const list = validateAuditEventList(load(file), file);
    expect(list.items.length).toBeGreaterThan(0);
    for (const ev of list.items) {
      expect(ev.kind).toBe("Event");
      expect(ev.apiVersion).toBe("audit.k8s.io/v1");
      if (ev.stage !== "RequestReceived") {
        expect(ev.responseStatus?.code, `${file} ${ev.auditID}: response code`).toBeTypeOf("number");
        expect(ev.annotations?.["authorization.k8s.io/decision"], `${file}: authorization decision`).toMatch(/^(allow|forbid)$/);
        expect(ev.annotations).toHaveProperty(["authorization.k8s.io/reason"]);
      } else {
        expect(ev.annotations).toBeUndefined();
        expect(ev.requestObject).toBeUndefined();
      }
      const failed = (ev.responseStatus?.code ?? 200) >= 400;
      expect(ev.responseStatus?.status === "Failure").toBe(failed && ev.stage !== "RequestReceived");
    }
  });

  it("auditIDs are unique across requests and shared by the stages of one request, in stage order", () => {
    const STAGES = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"];
    const seen = new Map<string, string>();
    for (const file of FILES) {
      const byId = new Map<string, ReturnType<typeof validateAuditEventList>["items"]>();
      for (const ev of validateAuditEventList(load(file), file).items) {
        const prev = seen.get(ev.auditID);
        if (prev !== undefined) expect(prev, `auditID ${ev.auditID} reused`).toBe(file);
        seen.set(ev.auditID, file);
        byId.set(ev.auditID, [...(byId.get(ev.auditID) ?? []), ev]);
      }
      for (const [id, events] of byId) {
        const first = events[0];
        for (const ev of events) {
          // one request: the same URI, verb, user and receive time at every stage
          expect({ uri: ev.requestURI, verb: ev.verb, user: ev.user, at: ev.requestReceivedTimestamp }, `${file} ${id}`).toEqual({
            uri: first?.requestURI,
            verb: first?.verb,
            user: first?.user,
            at: first?.requestReceivedTimestamp,
          });
        }
        const order = events.map((e) => STAGES.indexOf(e.stage));
        expect(order, `${file} ${id}: stages in order, each once`).toEqual([...new Set(order)].sort());
        const times = events.map((e) => e.stageTimestamp ?? "");
        expect(times, `${file} ${id}: stage times in order`).toEqual([...times].sort());
      }
    }
  });
});

describe("audit schema", () => {
  const good = () =>
    structuredClone(
      (load("pod-privileged.json") as { items: Record<string, unknown>[] }).items[1] as Record<string, unknown> & {
        user: Record<string, unknown>;
        objectRef: Record<string, unknown>;
        responseStatus: Record<string, unknown>;
        requestObject: { spec: { containers: Record<string, unknown>[] } };
      },
    );

  it("accepts a recorded event", () => {
    expect(validateAuditEvent(good()).verb).toBe("create");
  });

  const cases: [string, (e: ReturnType<typeof good>) => void, RegExp][] = [
    ["an unknown top-level field", (e) => void (e.clusterName = "prod"), /clusterName|unrecognized/i],
    ["an unknown user field", (e) => void (e.user.email = "a@b"), /user/],
    ["an unknown objectRef field", (e) => void (e.objectRef.kind = "Pod"), /objectRef/],
    ["a stage that does not exist", (e) => void (e.stage = "ResponseCompleted"), /stage/],
    ["a level that does not exist", (e) => void (e.level = "Full"), /level/],
    ["a numeric auditID", (e) => void (e.auditID = 42), /auditID/],
    ["groups as a string", (e) => void (e.user.groups = "system:masters"), /user\.groups/],
    ["extra values that are not lists", (e) => void (e.user.extra = { arn: "x" }), /user\.extra/],
    ["a response code as a string", (e) => void (e.responseStatus.code = "201"), /responseStatus\.code/],
    ["a timestamp without microseconds", (e) => void (e.stageTimestamp = "2025-03-14T09:02:11Z"), /stageTimestamp/],
    ["a timestamp with a zone offset", (e) => void (e.requestReceivedTimestamp = "2025-03-14T10:02:11.104322+01:00"), /requestReceivedTimestamp/],
    ["a source IP that is no address", (e) => void (e.sourceIPs = ["ip-10-0-1-23"]), /sourceIPs/],
    ["annotations with a non-string value", (e) => void (e.annotations = { "authorization.k8s.io/decision": true }), /annotations/],
    ["a request object at Metadata level", (e) => void (e.level = "Metadata"), /requestObject/],
    ["a response object below RequestResponse", (e) => void (e.responseObject = { kind: "Pod" }), /responseObject/],
    ["a stage time before the receive time", (e) => void (e.stageTimestamp = "2020-01-01T00:00:00.000000Z"), /stageTimestamp/],
    ["a pod whose image is not a string", (e) => void ((e.requestObject.spec.containers[0] as Record<string, unknown>).image = 7), /image/],
    [
      "a pod whose privileged flag is a string",
      (e) => void ((e.requestObject.spec.containers[0] as Record<string, unknown>).securityContext = { privileged: "true" }),
      /privileged/,
    ],
    ["an object of a kind with no schema", (e) => void (e.requestObject = { apiVersion: "example.com/v1", kind: "Widget" } as never), /no schema model/],
  ];
  it.each(cases)("rejects %s", (_what, mutate, message) => {
    const e = good();
    mutate(e);
    let err: unknown;
    try {
      validateAuditEvent(e);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(AuditSchemaError);
    expect((err as AuditSchemaError).message).toMatch(message);
  });

  it("rejects a list of another kind or with an unknown field, and a bad item", () => {
    const list = load("exec-websocket.json") as Record<string, unknown> & { items: Record<string, unknown>[] };
    expect(() => validateAuditEventList({ ...list, kind: "List" })).toThrow(AuditSchemaError);
    expect(() => validateAuditEventList({ ...list, apiVersion: "audit.k8s.io/v1beta1" })).toThrow(AuditSchemaError);
    expect(() => validateAuditEventList({ ...list, extra: 1 })).toThrow(AuditSchemaError);
    const bad = structuredClone(list);
    (bad.items[1] as Record<string, unknown>).verb = 3;
    expect(() => validateAuditEventList(bad)).toThrow(/items\[1\]|verb/);
  });
});
