// SPDX-License-Identifier: Apache-2.0
/**
 * The fleet path's messages (see fleet.ts for the format): building them for a JetStream publish
 * (agents, and collectors taking gRPC/HTTP ingest) and reading them back (the collectors'
 * consumer). One codec, so both ends cannot drift apart.
 */
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Alert } from "./alert.js";
import { isAlertId, validateAlert } from "./alert.js";
import { CAPTURE_CHUNK_BYTES, FLEET_HEADERS, MAX_CAPTURE_CHUNKS } from "./fleet.js";
import { vigilProto } from "./grpc.js";
import { alertFromProto, alertToProto, type ProtoAlert } from "./ingest-codec.js";

/** A capture to publish (gzip'd msgpack, as the gRPC path carries it). */
export interface FleetCapture {
  alertId: string;
  data: Uint8Array;
  eventCount: number;
  containerId: string;
}

/** One chunk of a capture as the consumer reads it. */
export interface FleetCaptureChunk {
  alertId: string;
  index: number;
  count: number;
  data: Buffer;
  eventCount: number;
  containerId: string;
}

/** One message ready to publish. */
export interface FleetMessage {
  subject: string;
  data: Uint8Array;
  msgId: string;
  headers: MsgHdrs;
}

/** The messages of one alert: protobuf Alert, Nats-Msg-Id = its ID. */
export function alertMessage(subject: string, a: Alert, agent: string): FleetMessage {
  const { Alert: AlertType } = vigilProto();
  const h = headers();
  if (agent !== "") h.set(FLEET_HEADERS.agent, agent.slice(0, 253));
  return { subject, data: AlertType.encode(alertToProto(a)).finish(), msgId: a.id, headers: h };
}

/** The chunk messages of one capture (at most MAX_CAPTURE_CHUNKS; a larger one throws). */
export function captureMessages(subject: string, c: FleetCapture): FleetMessage[] {
  const n = Math.max(1, Math.ceil(c.data.length / CAPTURE_CHUNK_BYTES));
  if (n > MAX_CAPTURE_CHUNKS) throw new Error(`capture of ${c.data.length} bytes exceeds ${MAX_CAPTURE_CHUNKS} chunks of ${CAPTURE_CHUNK_BYTES}`);
  const out: FleetMessage[] = [];
  for (let i = 0; i < n; i++) {
    const h = headers();
    h.set(FLEET_HEADERS.capture, c.alertId);
    h.set(FLEET_HEADERS.chunk, `${i}/${n}`);
    h.set(FLEET_HEADERS.eventCount, String(c.eventCount));
    h.set(FLEET_HEADERS.containerId, c.containerId.slice(0, 128));
    out.push({ subject, data: c.data.subarray(i * CAPTURE_CHUNK_BYTES, (i + 1) * CAPTURE_CHUNK_BYTES), msgId: `${c.alertId}/${i}`, headers: h });
  }
  return out;
}

/** What a batch publish got back. */
export interface FleetPublishResult {
  /** IDs of the alerts JetStream holds (new or duplicates). */
  acked: string[];
  /** Alerts JetStream already held (a resend inside the duplicate window). */
  duplicates: number;
  /** Captures whose every chunk JetStream holds. */
  ackedCaptures: string[];
}

/**
 * Publishes a batch. Alerts go one at a time, each after the previous one's PubAck: a failure
 * stops the batch there, and the retry of the whole batch (JetStream drops the resends of what it
 * already holds) appends the rest, so the stream holds each node's alerts in the order they were
 * raised (pipelining them would let a later alert land before an earlier one that failed). An
 * agent's rate is far below one round trip per alert; throughput comes from many agents at once.
 * Capture chunks, whose order does not matter, then go all in flight at once. Rejects with the
 * first failure.
 */
export async function publishBatch(
  js: JetStreamClient,
  alertSubject: string,
  captureSubject: string,
  alerts: readonly Alert[],
  captures: readonly FleetCapture[],
  agent: string,
  timeoutMs: number,
): Promise<FleetPublishResult> {
  let duplicates = 0;
  for (const a of alerts) {
    const m = alertMessage(alertSubject, a, agent);
    const ack = await js.publish(m.subject, m.data, { msgID: m.msgId, headers: m.headers, timeout: timeoutMs });
    if (ack.duplicate) duplicates++;
  }
  const chunks: FleetMessage[] = [];
  for (const c of captures) chunks.push(...captureMessages(captureSubject, c));
  const settled = await Promise.allSettled(chunks.map((m) => js.publish(m.subject, m.data, { msgID: m.msgId, headers: m.headers, timeout: timeoutMs })));
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return { acked: alerts.map((a) => a.id), duplicates, ackedCaptures: captures.map((c) => c.alertId) };
}

/** A stream message read back: an alert, a capture chunk, or why it is unusable. */
export type FleetDecoded = { kind: "alert"; alert: Alert } | { kind: "chunk"; chunk: FleetCaptureChunk } | { kind: "bad"; reason: string };

/** Reads an alert message's payload (a bad one: its reason; never throws). */
export function decodeAlertMessage(data: Uint8Array): FleetDecoded {
  let a: Alert;
  try {
    const { Alert: AlertType } = vigilProto();
    a = alertFromProto(AlertType.toObject(AlertType.decode(data), { defaults: false, arrays: true }) as ProtoAlert);
  } catch {
    return { kind: "bad", reason: "malformed alert protobuf" };
  }
  const why = validateAlert(a);
  return why === undefined ? { kind: "alert", alert: a } : { kind: "bad", reason: why };
}

const CHUNK_RE = /^(\d{1,3})\/(\d{1,3})$/;

/** Reads a capture chunk message (a bad one: its reason; never throws). */
export function decodeChunkMessage(h: MsgHdrs | undefined, data: Uint8Array): FleetDecoded {
  const alertId = h?.get(FLEET_HEADERS.capture) ?? "";
  if (!isAlertId(alertId)) return { kind: "bad", reason: "capture chunk without a valid alert ID" };
  const m = CHUNK_RE.exec(h?.get(FLEET_HEADERS.chunk) ?? "");
  const index = m ? Number(m[1]) : -1;
  const count = m ? Number(m[2]) : -1;
  if (!m || count < 1 || count > MAX_CAPTURE_CHUNKS || index >= count) return { kind: "bad", reason: "capture chunk with a bad Vigil-Chunk header" };
  if (data.length === 0 || data.length > CAPTURE_CHUNK_BYTES) return { kind: "bad", reason: "capture chunk of a bad size" };
  const events = Number(h?.get(FLEET_HEADERS.eventCount) ?? "0");
  return {
    kind: "chunk",
    chunk: {
      alertId,
      index,
      count,
      // a copy: the message's bytes may be a view of the connection's read buffer
      data: Buffer.from(data),
      eventCount: Number.isSafeInteger(events) && events >= 0 ? events : 0,
      containerId: (h?.get(FLEET_HEADERS.containerId) ?? "").slice(0, 128),
    },
  };
}
