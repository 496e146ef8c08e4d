// SPDX-License-Identifier: Apache-2.0
/**
 * The gRPC ingest service (`vigil.collector.v1.Ingest/Push`): the token, the failed-auth limit
 * and the in-flight budget were checked on the metadata (grpc-guard.ts) and the size by grpc-js;
 * the token and size are checked again here (cheap, and the handler stands alone). It decodes
 * the PushRequest itself (malformed → INVALID_ARGUMENT), validates each alert (a bad one is
 * rejected by ID, the rest stored), hands the batch to its target and acknowledges every stored
 * ID, including those that were already stored. The target is the embedded store (one SQLite
 * transaction, then the live tail) or, on the fleet path, JetStream (acknowledged once every
 * message has its PubAck; the collectors' consumer stores it). Any throw is answered INTERNAL.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { AlertStore } from "./store.js";
import type { MaybePromise, StoredAlert } from "./store-api.js";
import { alertFromProto, validateAlert, vigilProto, type Alert, type ProtoAlert, type TokenCheck } from "../proto/index.js";

/** Counters of the ingest service (refusals are counted by the status interceptor). */
export interface IngestCounters {
  requests: number;
  alerts_stored: number;
  alerts_duplicate: number;
  alerts_invalid: number;
  captures_stored: number;
  captures_duplicate: number;
  captures_invalid: number;
  /** Captures refused because their alert is not stored (limits.orphan_captures "refuse"). */
  captures_orphan_refused: number;
  /** Captures stored although their alert is not (limits.orphan_captures "store"). */
  captures_orphan_stored: number;
  store_errors: number;
  /** Handler failures answered with INTERNAL. */
  internal_errors: number;
}

interface ProtoCapture {
  alert_id?: string;
  data?: Uint8Array;
  event_count?: number;
  container_id?: string;
}

/** Limits of one capture blob. */
const MAX_CAPTURE_BYTES = 16 * 1024 * 1024;

/** A capture of a push, checked for size and ID. */
export interface IngestCapture {
  alertId: string;
  data: Buffer;
  eventCount: number;
  containerId: string;
}

/** What a target did with one push. */
export interface IngestOutcome {
  /** Alerts newly stored (or, on the fleet path, newly accepted by JetStream). */
  stored: number;
  duplicates: number;
  /** Captures acknowledged (stored, or already stored). */
  ackedCaptures: string[];
  /** Captures refused, by alert ID. */
  rejected: { id: string; reason: string }[];
}

/** Where validated pushes go: a throw (or rejection) is a store failure, answered UNAVAILABLE. */
export interface IngestTarget {
  accept(alerts: Alert[], captures: IngestCapture[], agent: string, c: IngestCounters): MaybePromise<IngestOutcome>;
}

/** The embedded target: one SQLite transaction for the alerts, captures beside them, new alerts to the live tail. */
export function storeTarget(
  store: AlertStore,
  onStored: (inserted: StoredAlert[]) => void,
  /** A capture whose alert is neither stored nor in the same push: refused (default) or stored; both counted. */
  orphanCaptures: "refuse" | "store" = "refuse",
): IngestTarget {
  return {
    accept(alerts, captures, _agent, c) {
      const r = store.insert(alerts);
      const out: IngestOutcome = { stored: r.inserted.length, duplicates: r.duplicates, ackedCaptures: [], rejected: [] };
      for (const cap of captures) {
        // the push's own alerts were stored above, so "known" covers an alert and its capture sent together
        const orphan = !store.hasAlert(cap.alertId);
        if (orphan && orphanCaptures !== "store") {
          c.captures_orphan_refused++;
          out.rejected.push({ id: cap.alertId, reason: "unknown alert" });
          continue;
        }
        if (store.insertCapture(cap)) {
          c.captures_stored++;
          if (orphan) c.captures_orphan_stored++;
        } else c.captures_duplicate++;
        out.ackedCaptures.push(cap.alertId);
      }
      if (r.inserted.length > 0) onStored(r.inserted);
      return out;
    },
  };
}

/** Builds the Push handler. */
export function makeIngestHandler(opts: { target: IngestTarget; auth: TokenCheck; maxMessageBytes: number; counters: IngestCounters; logger: Logger }) {
  const { target, auth, maxMessageBytes, counters: c, logger } = opts;
  const { PushRequest, PushResponse } = vigilProto();
  let malformedLogged = false;
  let internalLogged = false;
  // total: whatever throws becomes INTERNAL, counted and logged once
  return (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>): void => {
    try {
      push(call, cb);
    } catch (err) {
      c.internal_errors++;
      if (!internalLogged) {
        internalLogged = true;
        logger.error({ err }, "push handler failed (logged once)");
      }
      cb({ code: status.INTERNAL, details: "internal error" });
    }
  };

  function push(call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>): void {
    c.requests++;
    const authz = call.metadata.get("authorization")[0];
    if (!auth.ok(typeof authz === "string" ? authz : undefined)) {
      cb({ code: status.UNAUTHENTICATED, details: "missing or bad bearer token" });
      return;
    }
    const buf = call.request;
    if (buf.length > maxMessageBytes) {
      cb({ code: status.RESOURCE_EXHAUSTED, details: `request of ${buf.length} bytes exceeds ${maxMessageBytes}` });
      return;
    }
    let req: { alerts?: ProtoAlert[]; captures?: ProtoCapture[]; agent?: string };
    try {
      req = PushRequest.toObject(PushRequest.decode(buf), { defaults: false, arrays: true }) as typeof req;
    } catch (err) {
      if (!malformedLogged) {
        malformedLogged = true;
        logger.warn({ err }, "malformed push request refused (logged once)");
      }
      cb({ code: status.INVALID_ARGUMENT, details: "malformed PushRequest" });
      return;
    }
    const good: Alert[] = [];
    const rejected: { id: string; reason: string }[] = [];
    for (const p of req.alerts ?? []) {
      const a = alertFromProto(p);
      const why = validateAlert(a);
      if (why !== undefined) {
        c.alerts_invalid++;
        rejected.push({ id: (p.id ?? "").slice(0, 64), reason: why });
      } else good.push(a);
    }
    const captures: IngestCapture[] = [];
    for (const cap of req.captures ?? []) {
      const id = cap.alert_id ?? "";
      const data = cap.data;
      if (id.length === 0 || id.length > 64 || data === undefined || data.length === 0 || data.length > MAX_CAPTURE_BYTES) {
        c.captures_invalid++;
        rejected.push({ id: id.slice(0, 64), reason: "bad capture" });
        continue;
      }
      captures.push({
        alertId: id,
        data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        eventCount: cap.event_count ?? 0,
        containerId: (cap.container_id ?? "").slice(0, 128),
      });
    }
    const failed = (err: unknown) => {
      c.store_errors++;
      logger.error({ err }, "store failed");
      cb({ code: status.UNAVAILABLE, details: "store failed" });
    };
    const done = (r: IngestOutcome) => {
      c.alerts_stored += r.stored;
      c.alerts_duplicate += r.duplicates;
      const resp = PushResponse.encode({
        acked_ids: good.map((a) => a.id),
        acked_capture_ids: r.ackedCaptures,
        rejected: [...rejected, ...r.rejected],
      }).finish();
      cb(null, Buffer.from(resp.buffer, resp.byteOffset, resp.byteLength));
    };
    let r: MaybePromise<IngestOutcome>;
    try {
      r = target.accept(good, captures, (req.agent ?? "").slice(0, 253), c);
    } catch (err) {
      failed(err);
      return;
    }
    if (r instanceof Promise)
      r.then(done, failed).catch((err: unknown) => {
        c.internal_errors++;
        logger.error({ err }, "push answer failed");
        cb({ code: status.INTERNAL, details: "internal error" });
      });
    else done(r);
  }
}
