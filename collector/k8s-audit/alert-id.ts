// SPDX-License-Identifier: Apache-2.0
/**
 * Deterministic alert IDs for audit alerts. The API server retries a webhook batch it got no 2xx
 * for, and the CloudWatch reader may read a window twice (after a restart, or its overlap for
 * late log events): the same event must make the same alert ID, so the store's idempotent insert
 * keeps one copy.
 *
 * The ID has the UUIDv7 layout (RFC 9562 §5.7) so it sorts by time like every other alert ID:
 * the first 48 bits are the event's time in milliseconds, then the version (7) and variant bits;
 * the 74 bits a UUIDv7 fills at random come from SHA-256 of (request key, stage, rule name).
 * The stage is part of it because one request yields an event per stage with one auditID, and a
 * rule may match more than one of them.
 */
import { createHash } from "node:crypto";

const MAX_MS = 2 ** 48 - 1;

/** The alert ID of `rule` matching the event of request `key` (auditID) at `stage`, timed `timeMs`. */
export function auditAlertId(key: string, stage: string, rule: string, timeMs: number): string {
  const h = createHash("sha256").update("vigil.k8s_audit\0").update(key).update("\0").update(stage).update("\0").update(rule).digest();
  const b = Buffer.alloc(16);
  b.writeUIntBE(Math.max(0, Math.min(Math.floor(timeMs), MAX_MS)), 0, 6);
  h.copy(b, 6, 0, 10);
  b[6] = 0x70 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const x = b.toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
