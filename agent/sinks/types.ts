// SPDX-License-Identifier: Apache-2.0
/**
 * The alert record and the sink contract shared by every sink (stdout, spool, collector client,
 * Falco gRPC outputs).
 */

/** Falco priority names as rendered in alerts. */
export type PriorityName = "Emergency" | "Alert" | "Critical" | "Error" | "Warning" | "Notice" | "Informational" | "Debug";

/** One alert, in Falco's JSON alert shape plus Vigil's own keys. */
export interface Alert {
  /** UUIDv7: unique and time-sortable, given when the alert is raised. */
  id: string;
  /** ISO 8601 with nanoseconds, UTC (`2026-11-28T12:00:00.123456789Z`). */
  time: string;
  rule: string;
  priority: PriorityName;
  source: string;
  hostname: string;
  /** The full text line: `<time>: <Priority> <message>`. */
  output: string;
  /** Field name → typed value (`null` when missing). */
  output_fields: Record<string, string | number | boolean | null>;
  tags: string[];
  /** Set when a drift/prevention rule stopped the action (the process was killed in the kernel). */
  blocked?: boolean;
}

/** Result of one export call (OpenTelemetry's ExportResult shape). */
export type ExportResult = { ok: true } | { ok: false; error: Error };

/** Every sink implements this. A fan-out sink isolates one sink's failure from the others. */
export interface Sink {
  readonly name: string;
  export(batch: readonly Alert[]): Promise<ExportResult>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
