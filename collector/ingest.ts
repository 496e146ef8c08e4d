// SPDX-License-Identifier: Apache-2.0
/**
 * The gRPC ingest service (`vigil.collector.v1.Ingest/Push`): the token, the failed-auth limit
 * and the in-flight budget were checked on the metadata (grpc-guard.ts) and the size by grpc-js;
 * the token and size are checked again here (cheap, and the handler stands alone). It decodes
 * the PushRequest itself (malformed → INVALID_ARGUMENT), validates each alert (a bad one is
 * rejected by ID, the rest stored), stores the batch in one transaction and acknowledges every
 * stored ID, including those that were already stored. Any throw is answered INTERNAL.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { AlertStore, StoredAlert } from "./store.js";
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

/** Stores alerts from any producer and hands new ones to the live tail. */
export interface IngestTarget {
  store: AlertStore;
  /** Called with newly stored alerts (seq order). */
  onStored(inserted: StoredAlert[]): void;
}

/** Builds the Push handler. */
export function makeIngestHandler(opts: {
  target: IngestTarget;
  auth: TokenCheck;
  maxMessageBytes: number;
  counters: IngestCounters;
  logger: Logger;
  /** A capture whose alert is neither stored nor in the same push: refused (default) or stored; both counted. */
  orphanCaptures?: "refuse" | "store";
}) {
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
    let req: { alerts?: ProtoAlert[]; captures?: ProtoCapture[] };
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
    const ackedCaptures: string[] = [];
    try {
      const r = target.store.insert(good);
      c.alerts_stored += r.inserted.length;
      c.alerts_duplicate += r.duplicates;
      for (const cap of req.captures ?? []) {
        const id = cap.alert_id ?? "";
        const data = cap.data;
        if (id.length === 0 || id.length > 64 || data === undefined || data.length === 0 || data.length > MAX_CAPTURE_BYTES) {
          c.captures_invalid++;
          rejected.push({ id: id.slice(0, 64), reason: "bad capture" });
          continue;
        }
        // the push's own alerts were stored above, so "known" covers an alert and its capture sent together
        const orphan = !target.store.hasAlert(id);
        if (orphan && opts.orphanCaptures !== "store") {
          c.captures_orphan_refused++;
          rejected.push({ id, reason: "unknown alert" });
          continue;
        }
        const stored = target.store.insertCapture({
          alertId: id,
          data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          eventCount: cap.event_count ?? 0,
          containerId: (cap.container_id ?? "").slice(0, 128),
        });
        if (stored) {
          c.captures_stored++;
          if (orphan) c.captures_orphan_stored++;
        } else c.captures_duplicate++;
        ackedCaptures.push(id);
      }
      if (r.inserted.length > 0) target.onStored(r.inserted);
    } catch (err) {
      c.store_errors++;
      logger.error({ err }, "store failed");
      cb({ code: status.UNAVAILABLE, details: "store failed" });
      return;
    }
    const resp = PushResponse.encode({
      acked_ids: good.map((a) => a.id),
      acked_capture_ids: ackedCaptures,
      rejected,
    }).finish();
    cb(null, Buffer.from(resp.buffer, resp.byteOffset, resp.byteLength));
  }
}
