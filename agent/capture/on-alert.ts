// SPDX-License-Identifier: Apache-2.0
/**
 * Glue for the agent: on an alert of a rule with `capture: true`, take the capture for the
 * alert's container and hand it to the sink that ships it with the alert.
 */
import type { Logger } from "pino";
import type { CaptureRecorder, CaptureResult } from "./recorder.js";
import type { Alert } from "../../proto/index.js";

/** Falco's default `capture_duration` when a rule sets none (falco.yaml `capture.default_duration`). */
export const DEFAULT_CAPTURE_DURATION_MS = 5000;

/** Builds the alert hook: `(alert, containerId?) => void` (container defaults to the alert's `container.id` field, else `host`). */
export function captureOnAlert(o: {
  recorder: CaptureRecorder;
  /** Where finished captures go (the collector sink's `exportCapture`). */
  ship: (c: CaptureResult) => unknown;
  /** The rule's capture settings by name (undefined: no such rule). */
  lookupRule: (name: string) => { capture: boolean; captureDuration: number } | undefined;
  logger: Logger;
}): (alert: Alert, containerId?: string) => void {
  return (alert, containerId) => {
    const rule = o.lookupRule(alert.rule);
    if (!rule?.capture) return;
    const field = alert.output_fields["container.id"];
    const cid = containerId ?? (typeof field === "string" ? field : "host");
    o.recorder
      .capture({
        alertId: alert.id,
        rule: alert.rule,
        containerId: cid,
        durationMs: rule.captureDuration > 0 ? rule.captureDuration : DEFAULT_CAPTURE_DURATION_MS,
      })
      .then((c) => {
        if (c) o.ship(c);
      })
      .catch((err: unknown) => o.logger.error({ err }, "capture failed"));
  };
}
