// SPDX-License-Identifier: Apache-2.0
/**
 * The alert record and the sink contract shared by every sink (stdout, spool, collector client,
 * Falco gRPC outputs). The alert itself is a contract: proto/alert.ts.
 */
import type { Alert } from "../../proto/index.js";

/** Result of one export call (OpenTelemetry's ExportResult shape). */
export type ExportResult = { ok: true } | { ok: false; error: Error };

/** Every sink implements this. A fan-out sink isolates one sink's failure from the others. */
export interface Sink {
  readonly name: string;
  export(batch: readonly Alert[]): Promise<ExportResult>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
