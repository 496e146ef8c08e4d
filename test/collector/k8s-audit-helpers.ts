// SPDX-License-Identifier: Apache-2.0
/**
 * Shared parts of the collector's k8s_audit tests: audit.k8s.io/v1 Events as a real API server
 * writes them (checked against test/helpers/audit-schema.ts in the tests), a small k8s_audit rules
 * file, and a model of CloudWatch Logs' FilterLogEvents for the fake AWS endpoint.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AwsEndpoint, AwsServiceError } from "../helpers/aws-endpoint.js";

/** metav1.MicroTime of epoch ms (six fraction digits, UTC). */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
}

/** A user of the events. */
const ALICE = { username: "alice@example.com", uid: "0f4e9c2a-1111-4a5b-8c6d-000000000001", groups: ["dev-team", "system:authenticated"] };

/** `kubectl exec -it <pod> -- sh` as the API server audits it (ResponseStarted: the stream is upgraded, 101). */
export function execEvent(
  o: { pod?: string; ns?: string; ms?: number; auditID?: string; stage?: "ResponseStarted" | "ResponseComplete"; command?: string } = {},
) {
  const ms = o.ms ?? Date.now();
  const pod = o.pod ?? "web-1";
  const ns = o.ns ?? "default";
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Request",
    auditID: o.auditID ?? randomUUID(),
    stage: o.stage ?? "ResponseStarted",
    requestURI: `/api/v1/namespaces/${ns}/pods/${pod}/exec?command=${encodeURIComponent(o.command ?? "sh")}&container=web&stdin=true&stdout=true&tty=true`,
    verb: "create",
    user: ALICE,
    sourceIPs: ["10.0.4.17"],
    userAgent: "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
    objectRef: { resource: "pods", namespace: ns, name: pod, apiVersion: "v1", subresource: "exec" },
    responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: microTime(ms - 3),
    stageTimestamp: microTime(ms),
    annotations: {
      "authorization.k8s.io/decision": "allow",
      "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "dev-exec" of ClusterRole "edit" to Group "dev-team"',
    },
  };
}

/** `kubectl get configmap` (a read no test rule matches). */
export function getConfigMapEvent(o: { name?: string; ms?: number } = {}) {
  const ms = o.ms ?? Date.now();
  const name = o.name ?? "app-config";
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: randomUUID(),
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/default/configmaps/${name}`,
    verb: "get",
    user: ALICE,
    sourceIPs: ["10.0.4.17"],
    userAgent: "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
    objectRef: { resource: "configmaps", namespace: "default", name, apiVersion: "v1" },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: microTime(ms - 2),
    stageTimestamp: microTime(ms),
    annotations: { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "" },
  };
}

/** A secret read by a service account. */
export function getSecretEvent(o: { name?: string; ms?: number; user?: string } = {}) {
  const ms = o.ms ?? Date.now();
  const name = o.name ?? "db-password";
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: randomUUID(),
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/payments/secrets/${name}`,
    verb: "get",
    user: {
      username: o.user ?? "system:serviceaccount:payments:batch",
      uid: "9d1f7c2e-2222-4a5b-8c6d-000000000002",
      groups: ["system:serviceaccounts", "system:serviceaccounts:payments", "system:authenticated"],
    },
    sourceIPs: ["10.0.9.33"],
    userAgent: "batch/v0.0.0 (linux/amd64) kubernetes/$Format",
    objectRef: { resource: "secrets", namespace: "payments", name, apiVersion: "v1" },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: microTime(ms - 1),
    stageTimestamp: microTime(ms),
    annotations: { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "" },
  };
}

/** An EventList as the webhook backend posts it. */
export function eventList(items: unknown[]) {
  return { kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items };
}

/** A small k8s_audit rules file (the built-in pack may not exist yet); returns its path. */
export function writeAuditRules(dir: string, name = "audit-rules.yaml"): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `- required_engine_version: 15

- macro: pod_exec
  condition: ka.target.resource = pods and ka.target.subresource in (exec, attach) and ka.verb = create

- rule: Test Exec Into Pod
  desc: a user opened a shell in a pod
  condition: pod_exec and ka.stage = ResponseStarted
  output: Exec into pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace command=%ka.uri.param[command] reason=%ka.auth.reason)
  priority: NOTICE
  source: k8s_audit
  tags: [k8s, mitre_execution, T1609]

- rule: Test Secret Read By Service Account
  desc: a service account read a secret
  condition: ka.target.resource = secrets and ka.verb in (get, list) and ka.user.name startswith "system:serviceaccount:"
  output: Secret read (user=%ka.user.name secret=%ka.target.name ns=%ka.target.namespace)
  priority: WARNING
  source: k8s_audit
  tags: [k8s, mitre_credential_access, T1552.007]

- rule: Test Syscall Rule Ignored By The Collector
  desc: a syscall rule in the same file
  condition: evt.type = execve and proc.name = never-runs
  output: never (proc=%proc.name)
  priority: DEBUG
`,
  );
  return path;
}

/** One log event as CloudWatch Logs stores it. */
export interface LogEventRecord {
  logStreamName: string;
  timestamp: number;
  ingestionTime: number;
  message: string;
  eventId: string;
}

/**
 * CloudWatch Logs' FilterLogEvents over log groups of streams, from the API reference
 * (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html):
 * `logGroupName` or `logGroupIdentifier` (one of them), `logStreamNames` and
 * `logStreamNamePrefix` not together, `startTime`/`endTime` in epoch ms (inclusive), `limit`
 * 1..10000, `nextToken` from the previous answer; events in time order across streams, each with
 * `logStreamName`, `timestamp`, `message`, `ingestionTime`, `eventId`. Pages hold at most
 * `pageSize` events, and an answer may be an empty page that still carries a token (the service
 * pages by the time it searched). `throttle` answers that many next requests with
 * ThrottlingException ("Rate exceeded"), as the service does past its request quota.
 */
export class FilterLogsModel {
  groups = new Map<string, LogEventRecord[]>();
  pageSize = 10_000;
  /** Answer an empty page with a token before the first real page of each query. */
  emptyFirstPage = false;
  throttle = 0;
  throttled = 0;
  requests: Record<string, unknown>[] = [];
  private tokens = new Map<string, { key: string; offset: number; emptyDone: boolean }>();
  private nextEventId = 10n ** 55n;

  /** Adds log events (`ingestionTime` now) to a group's stream. */
  put(group: string, stream: string, events: { timestamp: number; message: string }[]): void {
    let list = this.groups.get(group);
    if (list === undefined) this.groups.set(group, (list = []));
    for (const e of events) {
      this.nextEventId += 1n;
      list.push({ logStreamName: stream, timestamp: e.timestamp, ingestionTime: Date.now(), message: e.message, eventId: String(this.nextEventId) });
    }
  }

  install(ep: AwsEndpoint): void {
    ep.on("logs:FilterLogEvents", (r) => {
      const i = r.input;
      this.requests.push(i);
      if (this.throttle > 0) {
        this.throttle--;
        this.throttled++;
        return new AwsServiceError("ThrottlingException", "Rate exceeded");
      }
      const name = i["logGroupName"];
      if ((name === undefined) === (i["logGroupIdentifier"] === undefined))
        return new AwsServiceError("InvalidParameterException", "Exactly one of logGroupName or logGroupIdentifier must be given");
      if (i["logStreamNames"] !== undefined && i["logStreamNamePrefix"] !== undefined)
        return new AwsServiceError("InvalidParameterException", "logStreamNames and logStreamNamePrefix are mutually exclusive");
      const limit = i["limit"] === undefined ? 10_000 : Number(i["limit"]);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return new AwsServiceError("InvalidParameterException", "limit must be 1..10000");
      for (const k of ["startTime", "endTime"]) {
        const v = i[k];
        if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0))
          return new AwsServiceError("InvalidParameterException", `${k} must be a non-negative integer`);
      }
      const group = String(name ?? i["logGroupIdentifier"]);
      const list = this.groups.get(group);
      if (list === undefined) return new AwsServiceError("ResourceNotFoundException", "The specified log group does not exist.");
      const prefix = typeof i["logStreamNamePrefix"] === "string" ? i["logStreamNamePrefix"] : "";
      const start = typeof i["startTime"] === "number" ? i["startTime"] : 0;
      const end = typeof i["endTime"] === "number" ? i["endTime"] : Number.MAX_SAFE_INTEGER;
      const key = JSON.stringify([group, prefix, start, end]);
      let state = { key, offset: 0, emptyDone: !this.emptyFirstPage };
      if (i["nextToken"] !== undefined) {
        const t = this.tokens.get(String(i["nextToken"]));
        if (t === undefined || t.key !== key) return new AwsServiceError("InvalidParameterException", "The specified nextToken is invalid.");
        state = t;
      }
      const matching = list
        .filter((e) => e.logStreamName.startsWith(prefix) && e.timestamp >= start && e.timestamp <= end)
        .sort((a, b) => a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : 1));
      const token = () => {
        const t = `tok-${randomUUID()}`;
        return t;
      };
      if (!state.emptyDone) {
        const t = token();
        this.tokens.set(t, { ...state, emptyDone: true });
        return { events: [], searchedLogStreams: [], nextToken: t };
      }
      const page = matching.slice(state.offset, state.offset + Math.min(limit, this.pageSize));
      const next = state.offset + page.length;
      const out: Record<string, unknown> = { events: page, searchedLogStreams: [] };
      if (next < matching.length) {
        const t = token();
        this.tokens.set(t, { key, offset: next, emptyDone: true });
        out["nextToken"] = t;
      }
      return out;
    });
  }
}
