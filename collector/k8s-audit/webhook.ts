// SPDX-License-Identifier: Apache-2.0
/**
 * `POST /k8s-audit`: the Kubernetes API server's audit webhook backend
 * (`--audit-webhook-config-file`, a kubeconfig whose `server` is `https://COLLECTOR/k8s-audit`).
 * The HTTP side (http-api.ts) authenticates first (bearer token, or a client certificate signed by
 * `--client-ca`) and bounds the body (Content-Length and the bytes read, the in-flight budget)
 * before a byte of it is parsed; this module checks the headers, parses the batch and answers.
 *
 * Answers (JSON): 200 `{events, bad, alerts, stored, duplicates}` once every alert of the batch is
 * stored; 400 for a body that is not an audit EventList/Event or a bad `cluster` parameter (the
 * API server does not retry a 4xx, and resending it would not help); 415 for a body encoding
 * other than identity or a non-JSON content type; 503 when the store failed (the API server
 * retries 5xx with backoff, and deterministic alert IDs make the retry store nothing twice).
 *
 * `?cluster=NAME` on the webhook URL names the cluster (the alerts' `hostname`), so several
 * clusters can share one collector; without it, `--cluster-name`, else the events' `cluster_name`
 * annotation, else "kubernetes" (intake.ts).
 */
import type { IncomingHttpHeaders } from "node:http";
import { AuditPayloadError } from "./errors.js";
import { CLUSTER_NAME_RE, type AuditIntake } from "./intake.js";
import { parseAuditPayload } from "./parse.js";

/** The path the webhook answers on. */
export const AUDIT_WEBHOOK_PATH = "/k8s-audit";

/**
 * Largest webhook body by default: the API server's `--audit-webhook-truncate-max-batch-size`
 * default (10 MiB) with room to spare (Falco's k8saudit plugin allows 12 MiB too).
 */
export const DEFAULT_AUDIT_MAX_BODY_BYTES = 12 * 1024 * 1024;

/** An answer: status and JSON body. */
export interface AuditAnswer {
  code: number;
  body: Record<string, unknown>;
}

/** The webhook endpoint. */
export interface AuditWebhook {
  /** Bodies over this are refused with 413 (by Content-Length before reading, else as they arrive). */
  readonly maxBodyBytes: number;
  /** An answer for headers this endpoint refuses before reading the body; undefined when they are fine. */
  precheck(headers: IncomingHttpHeaders, url: URL): AuditAnswer | undefined;
  /** Parses, evaluates and stores one batch. Never rejects. */
  handle(body: Buffer, url: URL): Promise<AuditAnswer>;
}

const fail = (code: number, message: string): AuditAnswer => ({ code, body: { error: message } });

/** The webhook of an intake. */
export function makeAuditWebhook(intake: AuditIntake, maxBodyBytes = DEFAULT_AUDIT_MAX_BODY_BYTES): AuditWebhook {
  /** The `cluster` parameter: undefined when absent, false when it is not a cluster name. */
  const clusterOf = (url: URL): string | undefined | false => {
    const c = url.searchParams.get("cluster");
    if (c === null || c === "") return undefined;
    return CLUSTER_NAME_RE.test(c) ? c : false;
  };
  return {
    maxBodyBytes,
    precheck(headers, url) {
      const enc = (headers["content-encoding"] ?? "identity").toLowerCase().trim();
      if (enc !== "identity" && enc !== "") {
        intake.refused(new AuditPayloadError("bad_encoding", `content-encoding ${enc.slice(0, 32)}`), "webhook");
        return fail(415, `unsupported content-encoding ${enc.slice(0, 32)}: send identity`);
      }
      const type = headers["content-type"];
      if (type !== undefined && !/json/i.test(type)) {
        intake.refused(new AuditPayloadError("bad_encoding", `content-type ${type.slice(0, 64)}`), "webhook");
        return fail(415, "content-type must be application/json");
      }
      if (clusterOf(url) === false) return fail(400, "bad cluster parameter: letters, digits and . _ : - (at most 253)");
      return undefined;
    },
    async handle(body, url) {
      const cluster = clusterOf(url) || undefined;
      let batch;
      try {
        batch = parseAuditPayload(body.toString("utf8"));
      } catch (err) {
        if (!(err instanceof AuditPayloadError)) throw err;
        intake.refused(err, "webhook");
        return fail(400, `bad audit payload: ${err.message}`);
      }
      try {
        const r = await intake.process(batch, cluster, "webhook");
        return { code: 200, body: { events: r.events, bad: r.bad, alerts: r.alerts, stored: r.stored, duplicates: r.duplicates } };
      } catch {
        return fail(503, "store failed: retry");
      }
    },
  };
}
