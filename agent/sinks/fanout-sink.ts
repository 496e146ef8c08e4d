// SPDX-License-Identifier: Apache-2.0
/**
 * Fans a batch out to several sinks; one sink's failure never reaches the others
 * (OpenTelemetry's MultiSpanProcessor).
 */
import type { ExportResult, Sink } from "./types.js";
import type { Alert } from "../../proto/index.js";

export class FanoutSink implements Sink {
  readonly name = "fanout";
  /** Failed exports per sink name. */
  readonly failures = new Map<string, number>();

  constructor(private readonly sinks: readonly Sink[]) {}

  async export(batch: readonly Alert[]): Promise<ExportResult> {
    const results = await Promise.all(
      this.sinks.map(async (s) => {
        try {
          return await s.export(batch);
        } catch (err) {
          return { ok: false as const, error: err instanceof Error ? err : new Error(String(err)) };
        }
      }),
    );
    let firstError: Error | undefined;
    results.forEach((r, i) => {
      if (!r.ok) {
        const n = this.sinks[i]!.name;
        this.failures.set(n, (this.failures.get(n) ?? 0) + 1);
        firstError ??= r.error;
      }
    });
    return firstError ? { ok: false, error: firstError } : { ok: true };
  }

  async forceFlush(): Promise<void> {
    await Promise.allSettled(this.sinks.map((s) => s.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled(this.sinks.map((s) => s.shutdown()));
  }
}
