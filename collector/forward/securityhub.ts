// SPDX-License-Identifier: Apache-2.0
/**
 * The `securityhub` destination: each alert as an AWS Security Finding Format (ASFF) finding,
 * imported with BatchImportFindings (at most 100 per request) under the account's default product
 * (`arn:<partition>:securityhub:<region>:<account>:product/<account>/default`, the custom
 * integration every account has), through the AWS SDK v3 (aws.ts).
 *
 * The finding's `Id` is the alert ID, so a re-import updates the finding instead of adding one
 * (the runner resends a batch it could not confirm). `CreatedAt`/`UpdatedAt`/`FirstObservedAt`/
 * `LastObservedAt` are the alert's time, so a re-import changes nothing. `GeneratorId` is the
 * rule, `Title` the rule, `Description` the output (control characters removed, 1024 characters
 * at most); severity and types go both top-level (required when a finding is created) and in
 * `FindingProviderFields` (where a provider updates them). `Types` come from the alert's MITRE
 * ATT&CK tactic tags (`mitre_execution` → `TTPs/Execution`), else `Unusual Behaviors/Process`
 * (`Unusual Behaviors/Application` for non-syscall sources); `Resources` are the container, the
 * pod and the node. The account is `account_id`, else the one in DescribeHub's hub ARN (asked once).
 *
 * https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html,
 * https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html,
 * https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format-type-taxonomy.html,
 * https://docs.aws.amazon.com/securityhub/latest/partnerguide/guidelines-asff-mapping.html.
 */
import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  type BatchImportFindingsCommandOutput,
  DescribeHubCommand,
  type Resource,
  SecurityHubClient,
  type SeverityLabel,
} from "@aws-sdk/client-securityhub";
import type { Logger } from "pino";
import type { ForwarderOf } from "../../proto/forwarders.js";
import type { Alert, PriorityName } from "../../proto/index.js";
import { alertKeys } from "../filter.js";
import { alertTimeMs, awsClientOptions, awsDeliveryError, isThrottlingCode, plainText } from "./aws.js";
import { DeliveryError, type DeliveryItem, type DeliveryOutcome, type Destination, type ItemFailure } from "./destination.js";

/** Findings per BatchImportFindings request. */
const MAX_BATCH = 100;

/** Falco priority → ASFF severity label. */
export const SEVERITY_LABEL: Record<PriorityName, SeverityLabel> = {
  Emergency: "CRITICAL",
  Alert: "CRITICAL",
  Critical: "CRITICAL",
  Error: "HIGH",
  Warning: "MEDIUM",
  Notice: "LOW",
  Informational: "INFORMATIONAL",
  Debug: "INFORMATIONAL",
};

/** Falco's MITRE tactic tags → ASFF types (the taxonomy's TTPs and Effects categories, which follow ATT&CK). */
const MITRE_TYPES: Record<string, string> = {
  mitre_reconnaissance: "TTPs/Discovery",
  mitre_resource_development: "TTPs/Initial Access",
  mitre_initial_access: "TTPs/Initial Access",
  mitre_execution: "TTPs/Execution",
  mitre_persistence: "TTPs/Persistence",
  mitre_privilege_escalation: "TTPs/Privilege Escalation",
  mitre_defense_evasion: "TTPs/Defense Evasion",
  mitre_credential_access: "TTPs/Credential Access",
  mitre_discovery: "TTPs/Discovery",
  mitre_lateral_movement: "TTPs/Lateral Movement",
  mitre_collection: "TTPs/Collection",
  mitre_command_and_control: "TTPs/Command and Control",
  mitre_exfiltration: "Effects/Data Exfiltration",
  mitre_impact: "Effects/Data Destruction",
};

const TECHNIQUE_RE = /^T\d{4}(\.\d{3})?$/;
const TRANSIENT_CODE_RE = /internal|unavailable|timeout/i;
const ARN_RE = /^arn:(aws[a-z-]*):securityhub:([a-z0-9-]+):(\d{12}):hub\/default$/;

/** The ASFF types of an alert. */
export function findingTypes(a: Alert): string[] {
  const types = new Set<string>();
  for (const t of a.tags) {
    const ty = MITRE_TYPES[t.toLowerCase()];
    if (ty !== undefined) types.add(ty);
  }
  if (types.size === 0) types.add(a.source === "syscall" ? "Unusual Behaviors/Process" : "Unusual Behaviors/Application");
  return [...types].slice(0, 50);
}

/** The AWS partition of a region. */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("us-iso-")) return "aws-iso";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  return "aws";
}

/** ISO 8601 with milliseconds (what ASFF's examples use). */
function asffTime(time: string): string {
  return new Date(alertTimeMs(time)).toISOString();
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 2_147_483_647 ? v : undefined;
}

/** The account, region and partition findings are imported under. */
export interface FindingScope {
  account: string;
  region: string;
  partition: string;
}

/** One alert as an ASFF finding. */
export function toFinding(item: DeliveryItem, s: FindingScope): AwsSecurityFinding {
  const a = item.alert;
  const k = alertKeys(a);
  const time = asffTime(a.time);
  const types = findingTypes(a);
  const severity = { Label: SEVERITY_LABEL[a.priority] ?? "MEDIUM", Original: a.priority };
  const resources: Resource[] = [];
  const resourceBase = { Partition: s.partition as Resource["Partition"], Region: s.region };
  if (k.containerId !== null || k.containerName !== null) {
    resources.push({
      ...resourceBase,
      Type: "Container",
      Id: plainText(k.containerId ?? k.containerName ?? "", 512),
      Details: {
        Container: {
          ...(k.containerName !== null ? { Name: plainText(k.containerName, 256) } : {}),
          ...(k.image !== null ? { ImageName: plainText(k.image, 512) } : {}),
        },
      },
    });
  }
  if (k.pod !== null) {
    const ns = k.namespace ?? "default";
    resources.push({
      ...resourceBase,
      Type: "Other",
      Id: plainText(`k8s:pod/${ns}/${k.pod}`, 512),
      Details: { Other: { namespace: plainText(ns, 256), pod: plainText(k.pod, 256) } },
    });
  }
  if (a.hostname !== "" || resources.length === 0) {
    resources.push({ ...resourceBase, Type: "Other", Id: plainText(`k8s:node/${a.hostname !== "" ? a.hostname : "unknown"}`, 512) });
  }
  const techniques = a.tags.filter((t) => TECHNIQUE_RE.test(t));
  const fields: Record<string, string> = {
    "vigil/priority": a.priority,
    "vigil/source": plainText(a.source, 128),
    "vigil/node": plainText(a.hostname, 256),
    "vigil/count": String(item.count),
  };
  if (a.tags.length > 0) fields["vigil/tags"] = plainText(a.tags.join(","), 2048);
  if (techniques.length > 0) fields["vigil/mitre_techniques"] = techniques.join(",").slice(0, 2048);
  if (k.namespace !== null) fields["vigil/namespace"] = plainText(k.namespace, 2048);
  if (a.blocked === true) fields["vigil/blocked"] = "true";
  const f = a.output_fields;
  const procName = typeof f["proc.name"] === "string" ? f["proc.name"] : undefined;
  const procPath = typeof f["proc.exepath"] === "string" ? f["proc.exepath"] : undefined;
  const pid = num(f["proc.pid"]);
  const ppid = num(f["proc.ppid"]);
  const process =
    procName !== undefined || pid !== undefined
      ? {
          ...(procName !== undefined ? { Name: plainText(procName, 256) } : {}),
          ...(procPath !== undefined ? { Path: plainText(procPath, 512) } : {}),
          ...(pid !== undefined ? { Pid: pid } : {}),
          ...(ppid !== undefined ? { ParentPid: ppid } : {}),
        }
      : undefined;
  const grouped = item.count > 1 ? `[×${item.count}] ` : "";
  return {
    SchemaVersion: "2018-10-08",
    Id: a.id,
    ProductArn: `arn:${s.partition}:securityhub:${s.region}:${s.account}:product/${s.account}/default`,
    ProductName: "Vigil",
    CompanyName: "Vigil",
    GeneratorId: plainText(a.rule, 512),
    AwsAccountId: s.account,
    Types: types,
    CreatedAt: time,
    UpdatedAt: time,
    FirstObservedAt: time,
    LastObservedAt: time,
    Severity: severity,
    Title: plainText(a.rule, 256),
    Description: plainText(`${grouped}${a.output}`, 1024),
    Resources: resources,
    FindingProviderFields: { Severity: severity, Types: types },
    ProductFields: fields,
    ...(process !== undefined ? { Process: process } : {}),
    RecordState: "ACTIVE",
  };
}

/** The Security Hub destination of a forwarder. */
export function createSecurityhubDestination(cfg: ForwarderOf<"securityhub">, ctx: { logger: Logger }): Destination {
  const log = ctx.logger.child({ forwarder: cfg.name, destination: "securityhub" });
  const client = new SecurityHubClient(awsClientOptions(cfg, log));
  let scope: FindingScope | undefined;

  const scopeOf = async (signal: AbortSignal): Promise<FindingScope> => {
    if (scope !== undefined) return scope;
    let region: string;
    try {
      region = await client.config.region();
    } catch (err) {
      throw new DeliveryError(`Security Hub: no region (set region: or AWS_REGION): ${(err as Error).message}`);
    }
    if (cfg.account_id !== undefined) {
      scope = { account: cfg.account_id, region, partition: partitionOf(region) };
      return scope;
    }
    let arn: string | undefined;
    try {
      arn = (await client.send(new DescribeHubCommand({}), { abortSignal: signal })).HubArn;
    } catch (err) {
      throw awsDeliveryError("Security Hub: DescribeHub (to learn the account; or set account_id)", err);
    }
    const m = ARN_RE.exec(arn ?? "");
    if (m === null) throw new DeliveryError(`Security Hub: DescribeHub answered an unexpected hub ARN ${JSON.stringify(arn ?? "")}; set account_id`);
    scope = { account: m[3] as string, region: m[2] as string, partition: m[1] as string };
    log.info({ account: scope.account, region: scope.region }, "importing Security Hub findings under the account's default product");
    return scope;
  };

  return {
    maxBatch: cfg.batch_size > 0 ? Math.min(cfg.batch_size, MAX_BATCH) : MAX_BATCH,
    async send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome> {
      const s = await scopeOf(signal);
      const findings = items.map((it) => toFinding(it, s));
      let out: BatchImportFindingsCommandOutput;
      try {
        out = await client.send(new BatchImportFindingsCommand({ Findings: findings }), { abortSignal: signal });
      } catch (err) {
        throw awsDeliveryError("Security Hub: BatchImportFindings", err);
      }
      const failed: ItemFailure[] = [];
      const byId = new Map(items.map((it, i) => [it.alert.id, i]));
      for (const f of out.FailedFindings ?? []) {
        const index = byId.get(f.Id ?? "");
        if (index === undefined) continue;
        const code = f.ErrorCode ?? "Error";
        const retryable = isThrottlingCode(code) || TRANSIENT_CODE_RE.test(code);
        failed.push({ index, permanent: !retryable, error: `Security Hub refused the finding: ${code}: ${plainText(f.ErrorMessage ?? "", 400)}` });
      }
      if (failed.length === 0 && (out.FailedCount ?? 0) > 0) throw new DeliveryError(`Security Hub: ${out.FailedCount} findings failed without saying which`);
      failed.sort((a, b) => a.index - b.index);
      return { failed };
    },
    close() {
      client.destroy();
    },
  };
}
